"""Token lifecycle through the Python package: refresh, the cache shared with the
`sesame` command, and one refresh per expiry for 64 threads."""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time

import pytest

import sesame
from conftest import ALICE, PASSWORD_CLIENT, m2m_kwargs


def password_kwargs(idp, **over):
    kw = dict(
        base_url=idp.api,
        auth="password",
        issuer=idp.issuer,
        client_id=PASSWORD_CLIENT[0],
        client_secret={"env": "PWC_SECRET"},
        username=ALICE[0],
        password={"env": "ALICE_PASSWORD"},
        scopes="openid offline_access",
    )
    kw.update(over)
    return kw


def test_refresh_with_the_password_grant(idp, short_tokens, monkeypatch):
    monkeypatch.setenv("PWC_SECRET", PASSWORD_CLIENT[1])
    monkeypatch.setenv("ALICE_PASSWORD", ALICE[1])
    idp.reset_stats()
    with sesame.Session(**password_kwargs(idp, cache="memory")) as s:
        first = s.get("whoami").json()
        assert first["sub"] == "alice"
        assert s.status()["refresh_token"] is True
        time.sleep(short_tokens + 0.6)
        again = s.get("whoami").json()
        assert again["sub"] == "alice" and again["exp"] > first["exp"]
    stats = idp.stats()["token"]
    assert stats.get("password") == 1, stats
    assert stats.get("refresh_token") == 1, stats


def test_cache_is_shared_with_the_cli(idp, cli, clean_env, tmp_path, monkeypatch):
    """`sesame token` fills the cache; a Session of the same profile uses that token with
    no token request, and the command reads it back."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[profiles.alice]
base_url = "{idp.api}"
auth = "password"
issuer = "{idp.issuer}"
client_id = "{PASSWORD_CLIENT[0]}"
client_secret = {{ env = "PWC_SECRET" }}
username = "{ALICE[0]}"
password = {{ env = "ALICE_PASSWORD" }}
scopes = ["openid", "offline_access"]
"""
    )
    monkeypatch.setenv("SESAME_CONFIG", str(cfg))
    monkeypatch.setenv("PWC_SECRET", PASSWORD_CLIENT[1])
    monkeypatch.setenv("ALICE_PASSWORD", ALICE[1])

    def cli_token() -> str:
        out = subprocess.run(
            [cli, "--profile", "alice", "token"], capture_output=True, text=True, env=dict(os.environ), timeout=60
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    idp.reset_stats()
    token = cli_token()
    assert token.count(".") == 2
    assert idp.stats()["token"] == {"password": 1}
    assert list(clean_env.glob("*.json")), "the command wrote the file cache"
    idp.reset_stats()
    with sesame.Session("alice") as s:
        assert s.token() == token
        assert s.get("whoami").json()["sub"] == "alice"
        assert s.status()["credential"]["store"]
    assert idp.token_total() == 0
    # the same profile given as arguments instead of the file: the same cache key
    monkeypatch.delenv("SESAME_CONFIG")
    with sesame.Session(**password_kwargs(idp)) as s:
        assert s.token() == token
    monkeypatch.setenv("SESAME_CONFIG", str(cfg))
    assert cli_token() == token
    assert idp.token_total() == 0


def test_token_scope_down_scopes_caches_and_is_shared_with_the_cli(idp, cli, clean_env, tmp_path, monkeypatch):
    """`token(scope=…)` is `sesame token --scope`: a narrower token from the grant (a
    refresh with fewer scopes), cached under its own key — a second call and the command
    reuse it without a token request — and never wider than the grant."""
    import base64
    import json

    def scope_of(jwt: str) -> str:
        body = jwt.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["scope"]

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[profiles.alice]
base_url = "{idp.api}"
auth = "password"
issuer = "{idp.issuer}"
client_id = "{PASSWORD_CLIENT[0]}"
client_secret = {{ env = "PWC_SECRET" }}
username = "{ALICE[0]}"
password = {{ env = "ALICE_PASSWORD" }}
scopes = ["openid", "profile", "offline_access"]
"""
    )
    monkeypatch.setenv("SESAME_CONFIG", str(cfg))
    monkeypatch.setenv("PWC_SECRET", PASSWORD_CLIENT[1])
    monkeypatch.setenv("ALICE_PASSWORD", ALICE[1])
    idp.reset_stats()
    with sesame.Session("alice") as s:
        full = s.token()
        narrow = s.token(scope="openid")
        assert narrow != full and scope_of(narrow) == "openid", scope_of(narrow)
        assert set(scope_of(full).split()) >= {"openid", "profile"}
        assert idp.stats()["token"] == {"password": 1, "refresh_token": 1}
        # Cached under its own key: the same again with no token request, as a list too.
        assert s.token(scope=["openid"]) == narrow
        assert s.token() == full
        assert idp.token_total() == 2
        # Never wider than the grant.
        with pytest.raises(sesame.Error, match="email"):
            s.token(scope="email")
        with pytest.raises(TypeError):
            s.token(scope=7)  # type: ignore[arg-type]
    issued = idp.token_total()
    out = subprocess.run([cli, "--profile", "alice", "token", "--scope", "openid"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == narrow
    assert idp.token_total() == issued  # the command reads the narrowed token from the cache

    async def from_async() -> str:
        async with sesame.AsyncSession("alice") as a:
            return await a.token(scope="openid")

    from conftest import run_async

    assert run_async(from_async()) == narrow


def test_64_threads_share_one_refresh_per_expiry(idp, short_tokens):
    """64 threads × 50 GETs on one Session with 2-second tokens: every request succeeds
    and the provider sees about one token request per expiry, not one per thread."""
    idp.reset_stats()
    threads_n, per_thread = 64, 50
    failures = []
    statuses = []
    lock = threading.Lock()
    with sesame.Session(**m2m_kwargs(idp)) as s:
        start = threading.Barrier(threads_n)

        def worker():
            start.wait()
            local = []
            for _ in range(per_thread):
                try:
                    local.append(s.get("whoami").status_code)
                except Exception as e:  # noqa: BLE001 - recorded and asserted below
                    with lock:
                        failures.append(repr(e))
                time.sleep(0.06)
            with lock:
                statuses.extend(local)

        ts = [threading.Thread(target=worker) for _ in range(threads_n)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.monotonic() - t0
    assert not failures, failures[:5]
    assert len(statuses) == threads_n * per_thread
    assert set(statuses) == {200}, {c: statuses.count(c) for c in set(statuses)}
    stats = idp.stats()
    grants = stats["token"].get("client_credentials", 0)
    # Renewal starts at half the 2 s lifetime: about one grant per second of run time.
    expected = math.ceil(elapsed / 1.0) + 1
    print(f"\n64 threads: {len(statuses)} requests in {elapsed:.1f}s, {grants} token requests (≈{expected} expected)")
    assert grants >= 2, "the run outlived several tokens, so there were renewals"
    assert grants <= expected + 3, f"{grants} token requests for {elapsed:.1f}s of 2-second tokens"
    assert stats["token_total"] == grants
