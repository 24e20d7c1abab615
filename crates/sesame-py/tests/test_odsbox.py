"""odsbox's `ConIFactory` shapes (issue 15): `m2m(url, token_endpoint, client_id,
client_secret, scope=[…])` and `oidc(…, authorization_endpoint=…, token_endpoint=…)` with
explicit endpoints and no issuer, `basic` as requests' `auth=(user, password)`, and the
ODS WebFinger with a path prefix. Against the bundled identity provider (its `/api/` stands
in for the ODS server) and real headless Chromium; the migration guide's example is run."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sesame
from conftest import M2M
from test_login import Browser, Stderr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = EXAMPLES / "odsbox_connect.py"


@pytest.fixture
def browser(tmp_path) -> Browser:
    return Browser(tmp_path / "browser")


@pytest.mark.parametrize("shape", [list, tuple], ids=["list", "tuple"])
def test_m2m_with_only_a_token_endpoint(idp, shape):
    # ConIFactory.m2m(url, token_endpoint, client_id, client_secret, scope=[…]): no issuer,
    # no discovery.
    idp.reset_stats()
    with sesame.Session(
        base_url=idp.api,
        auth="client-credentials",
        token_endpoint=idp.issuer + "/token",
        client_id=M2M[0],
        client_secret=M2M[1],
        scopes=shape(["api", "email"]),
        cache="memory",
    ) as s:
        who = s.post("ods").json()
        st = s.status()
    assert who["client_id"] == M2M[0] and sorted(who["scope"].split()) == ["api", "email"]
    assert st["auth"] == "client-credentials" and st["valid"] is True
    assert idp.stats().get("discovery", 0) == 0, "explicit endpoints need no discovery"


def oidc_kwargs(idp, **over):
    kw = dict(
        base_url=idp.api,
        auth="oidc",
        authorization_endpoint=idp.issuer + "/auth",
        token_endpoint=idp.issuer + "/token",
        client_id="sesame-cli",
        scopes=["openid", "profile"],
        par=False,
        login_timeout=60,
    )
    kw.update(over)
    return kw


def test_oidc_browser_login_with_only_explicit_endpoints(idp, browser, monkeypatch):
    # ConIFactory.oidc(url, client_id, redirect_uri, authorization_endpoint=…,
    # token_endpoint=…): the provider's ID token is accepted without an issuer or keys
    # configured (it comes straight from the token endpoint, OIDC Core 3.1.3.7 (6)).
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    idp.reset_stats()
    with sesame.Session(**oidc_kwargs(idp)) as s:
        s.login()
        assert s.post("ods").json()["sub"] == "alice"
        st = s.status()
        assert st["valid"] is True and st["auth"] == "oidc"
    assert browser.invocations() == 1, browser.log()
    assert idp.stats().get("discovery", 0) == 0
    assert "is not a URL" not in err.text()


@pytest.mark.parametrize(
    "bad",
    [
        {"token_endpoint": "not a url"},
        {"jwks_uri": "jwks please"},
        {"issuer": "my-ods-issuer"},
        {"authorization_endpoint": None},
    ],
    ids=["token_endpoint", "jwks_uri", "issuer", "no-authorization_endpoint"],
)
def test_oidc_configuration_is_checked_before_the_browser_opens(idp, browser, monkeypatch, bad):
    # Before this, a bad token endpoint or issuer surfaced only after the person had logged
    # in; now nobody is asked.
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(sesame.Error) as e:
        with sesame.Session(**oidc_kwargs(idp, **bad)) as s:
            s.login()
    key = next(iter(bad))
    assert key in str(e.value), str(e.value)
    assert browser.invocations() == 0, "no browser was started"
    assert "/auth?" not in err.text(), "no authorization URL was shown"


def test_basic_as_requests_auth_tuple(server, monkeypatch):
    # ConIFactory.basic(url, username, password) = ConI(url, auth=(username, password)).
    monkeypatch.setenv("ODS_PASSWORD", "ods-pw-71c")
    with sesame.Session(base_url=server.url("/api/"), auth=("otto", {"env": "ODS_PASSWORD"})) as s:
        sent = s.post("ods").json()["headers"]["authorization"]
    assert sent == "Basic " + base64.b64encode(b"otto:ods-pw-71c").decode()


def run_example(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_example_m2m_runs(idp):
    out = run_example(
        "m2m", idp.api, idp.issuer + "/token", env={"ODS_CLIENT_ID": M2M[0], "ODS_CLIENT_SECRET": M2M[1]}
    )
    assert out.returncode == 0, out.stderr
    assert "status: 200" in out.stdout and "auth: client-credentials valid: True" in out.stdout
    assert M2M[1] not in out.stdout + out.stderr


def test_example_basic_runs(server):
    out = run_example("basic", server.url("/ods-api/"), env={"ODS_USER": "otto", "ODS_PASSWORD": "ods-pw-71c"})
    assert out.returncode == 0, out.stderr
    assert "status: 200" in out.stdout and "auth: basic" in out.stdout
    sent = server.seen("/ods-api/ods")[0].headers["authorization"]
    assert sent == "Basic " + base64.b64encode(b"otto:ods-pw-71c").decode()
    assert "ods-pw-71c" not in out.stdout + out.stderr


@pytest.mark.parametrize("mode", ["oidc", "oidc-webfinger"])
def test_example_oidc_runs_through_the_browser(idp, browser, mode):
    # "oidc-webfinger": the ODS convention `{url}{prefix}/.well-known/webfinger` (the
    # provider answers at `/ods/.well-known/webfinger`).
    args = [idp.issuer + "/auth", idp.issuer + "/token"] if mode == "oidc" else ["/ods"]
    idp.reset_stats()
    out = run_example(mode, idp.api, *args, env=dict(browser.env(), ODS_CLIENT_ID="sesame-cli"))
    assert out.returncode == 0, f"{out.stderr}\n--- browser ---\n{browser.log()}"
    assert "status: 200" in out.stdout and "auth: oidc valid: True" in out.stdout
    assert browser.invocations() == 1
    assert (idp.stats().get("webfinger", 0) > 0) == (mode == "oidc-webfinger")
