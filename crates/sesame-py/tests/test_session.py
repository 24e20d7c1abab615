"""sesame.Session against the bundled identity provider and local servers."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

import sesame
from conftest import M2M, m2m_kwargs


def test_client_credentials_calls_the_protected_api(idp):
    idp.reset_stats()
    with sesame.Session(**m2m_kwargs(idp)) as s:
        r = s.get("whoami")
        assert r.status_code == 200 and r.ok and bool(r)
        body = r.json()
        assert body["client_id"] == "m2m-basic"
        assert body["method"] == "GET"
        assert r.url == idp.issuer + "/api/whoami"
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["Content-Type"] == r.headers.get("CONTENT-TYPE")
        assert "content-type" in r.headers and "x-nope" not in r.headers
        assert dict(r.headers)["content-type"] == r.headers["content-type"]
        assert json.loads(r.text) == body and json.loads(r.content) == body
        # a second request reuses the token
        assert s.get("whoami").ok
        tok = s.token()
        assert tok.count(".") == 2
    assert idp.stats()["token"] == {"client_credentials": 1}


def test_profile_from_the_configuration_file_and_precedence(idp, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
default_profile = "api"
[profiles.api]
base_url = "{idp.api}"
auth = "client-credentials"
issuer = "{idp.issuer}"
client_id = "m2m-basic"
client_secret = {{ env = "M2M_SECRET" }}
cache = "memory"
timeout = 5
"""
    )
    monkeypatch.setenv("M2M_SECRET", M2M[1])
    monkeypatch.setenv("SESAME_CONFIG", str(cfg))
    with sesame.Session() as s:
        assert s.profile == "api" and s.auth == "client-credentials"
        assert s.get("whoami").json()["client_id"] == "m2m-basic"
    # argument > environment > file
    monkeypatch.setenv("SESAME_BASE_URL", idp.issuer + "/api/env/")
    with sesame.Session("api") as s:
        assert s.base_url == idp.issuer + "/api/env/"
    with sesame.Session("api", base_url=idp.issuer + "/api/arg/") as s:
        assert s.base_url == idp.issuer + "/api/arg/"


def test_missing_profile_is_a_config_error_naming_the_file(tmp_path):
    cfg = tmp_path / "my-config.toml"
    cfg.write_text('[profiles.real]\nbase_url = "https://example.invalid/"\n')
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session("missing", config=cfg)
    assert str(cfg) in str(e.value)
    assert "missing" in str(e.value) and "real" in str(e.value)
    assert e.value.kind == "config"
    # a file named explicitly must exist
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session(config=tmp_path / "nope.toml")
    assert "nope.toml" in str(e.value)
    # an invalid file names file, line and key
    bad = tmp_path / "bad.toml"
    bad.write_text('[profiles.a]\nbase_url = "https://x/"\nscops = ["openid"]\n')
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session("a", config=bad)
    assert "bad.toml" in str(e.value) and "line 3" in str(e.value) and "scopes" in str(e.value)


def test_unknown_and_invalid_arguments():
    with pytest.raises(TypeError, match="did you mean `scopes`"):
        sesame.Session(scops=["openid"])
    with pytest.raises(sesame.ConfigError, match="auth"):
        sesame.Session(auth="oauth")
    with pytest.raises(sesame.ConfigError, match="base URL"):
        sesame.Session(base_url="not a url", auth="bearer", token="t")


def test_wrong_client_secret_is_an_auth_error(idp):
    with sesame.Session(**m2m_kwargs(idp, client_secret="wrong-secret-value-123")) as s:
        with pytest.raises(sesame.AuthError) as e:
            s.get("whoami")
        assert e.value.error == "invalid_client"
        assert e.value.kind == "oauth"
        assert "wrong-secret-value-123" not in str(e.value) + repr(e.value)
        with pytest.raises(sesame.AuthError) as e2:
            s.token()
        assert e2.value.error == "invalid_client"
        assert isinstance(e2.value, sesame.Error)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 413, 415, 429, 500, 503])
def test_http_errors_carry_status_url_and_message(server, code):
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get(f"status/{code}")
        assert r.status_code == code and not r.ok
        with pytest.raises(sesame.HTTPError) as e:
            r.raise_for_status()
    err = e.value
    assert err.status == code == err.status_code
    assert err.url == server.url(f"/api/status/{code}")
    assert f"server says {code}" in err.message
    assert err.response is r
    assert str(code) in str(err) and f"server says {code}" in str(err)
    assert isinstance(err, sesame.Error) and err.kind == "http"


def test_html_error_bodies_are_reduced_to_text(server):
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get("status/500", params={"html": 1})
    with pytest.raises(sesame.HTTPError) as e:
        r.raise_for_status()
    assert "server says no" in e.value.message and "<p>" not in e.value.message


def test_transport_error_and_timeout(server):
    with sesame.Session() as s:
        with pytest.raises(sesame.TransportError):
            s.get("http://127.0.0.1:9/nothing-listens-here")
        with pytest.raises(sesame.Timeout):
            s.get(server.url("/api/slow"), params={"ms": 1500}, timeout=0.3)


def test_requests_arguments_round_trip(server):
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get("echo", params={"a": "1", "b": ["x", "y"], "skip": None}, headers={"X-Thing": "yes"})
        e = r.json()
        assert e["query"] == "a=1&b=x&b=y"
        assert e["headers"]["x-thing"] == "yes"
        assert e["headers"]["user-agent"].startswith("sesame/")

        e = s.post("echo", json={"k": [1, 2]}).json()
        assert e["method"] == "POST" and json.loads(e["body"]) == {"k": [1, 2]}
        assert e["headers"]["content-type"] == "application/json"

        e = s.post("echo", data={"name": "alice", "n": 3}).json()
        assert e["body"] == "name=alice&n=3"
        assert e["headers"]["content-type"] == "application/x-www-form-urlencoded"

        e = s.put("echo", data=b"\x00raw").json()
        assert e["method"] == "PUT" and e["body"] == "\x00raw"

        e = s.patch("echo", data="text", headers={"Content-Type": "text/plain"}).json()
        assert e["method"] == "PATCH" and e["body"] == "text" and e["headers"]["content-type"] == "text/plain"

        e = s.post("echo", data={"field": "v"}, files={"f": ("a.txt", b"hello", "text/plain")}).json()
        assert e["headers"]["content-type"].startswith("multipart/form-data; boundary=")
        assert 'name="field"' in e["body"] and 'filename="a.txt"' in e["body"] and "hello" in e["body"]

        assert s.delete("echo").json()["method"] == "DELETE"
        assert s.options("echo").json()["method"] == "OPTIONS"
        h = s.head("echo")
        assert h.status_code == 200 and h.content == b""
        assert s.request("get", "echo?x=1", params="y=2").json()["query"] == "x=1&y=2"


def test_streaming_iter_content(server):
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get("stream", params={"n": 5, "size": 1000}, stream=True)
        assert r.status_code == 200
        chunks = list(r.iter_content(chunk_size=1024))
        assert [len(c) for c in chunks] == [1024, 1024, 1024, 1024, 904]
        assert b"".join(chunks) == b"".join(bytes([65 + i]) * 1000 for i in range(5))
        with pytest.raises(RuntimeError):
            r.content
        r = s.get("stream", params={"n": 3, "size": 10}, stream=True)
        assert r.content == b"A" * 10 + b"B" * 10 + b"C" * 10
        assert list(r.iter_content(chunk_size=None)) == [r.content]
        r = s.get("echo")
        assert b"".join(r.iter_content(7)) == r.content
        assert "".join(r.iter_content(5, decode_unicode=True)) == r.text
        with s.get("stream", params={"n": 2}, stream=True) as r:
            assert r.ok


def test_credentials_stay_in_scope(idp, server, other_server):
    kw = m2m_kwargs(idp, base_url=server.url("/api/"))
    with sesame.Session(**kw) as s:
        assert s.in_scope(server.url("/api/x")) and not s.in_scope(other_server.url("/api/x"))
        assert not s.in_scope(server.url("/other/x"))
        inside = s.get("echo").json()["headers"]
        assert inside["authorization"].startswith("Bearer ")
        # another port: another origin
        assert "authorization" not in s.get(other_server.url("/api/echo")).json()["headers"]
        # same origin, outside the path prefix
        assert "authorization" not in s.get(server.url("/other/echo")).json()["headers"]
        # a redirect to another origin is not followed by default (redirects = "same-origin")
        other_server.clear()
        r = s.get("redirect", params={"to": other_server.url("/api/echo")})
        assert r.status_code == 302 and not other_server.seen()
        # a redirect within the scope keeps it
        r = s.get("redirect", params={"to": server.url("/api/echo")})
        assert r.json()["headers"]["authorization"] == inside["authorization"]
    # redirects = "all": followed, and the credential stays behind
    with sesame.Session(**kw, redirects="all") as s:
        r = s.get("redirect", params={"to": other_server.url("/api/echo")})
        assert r.url == other_server.url("/api/echo")
        assert "authorization" not in r.json()["headers"]
        # a hand-set Authorization header is not carried to another origin either
        r = s.get(
            "redirect",
            params={"to": other_server.url("/api/echo"), "code": 307},
            headers={"Authorization": "Bearer hand-set"},
        )
        assert "authorization" not in r.json()["headers"]


def test_401_renews_once_and_resends_once(idp, server):
    idp.reset_stats()
    with sesame.Session(**m2m_kwargs(idp, base_url=server.url("/api/"))) as s:
        r = s.get("401-first-token")
        assert r.status_code == 200
        seen = server.seen("/api/401-first-token")
        assert len(seen) == 2
        assert seen[0].headers["authorization"] != seen[1].headers["authorization"]
        assert idp.token_total() == 2
        server.clear()
        idp.reset_stats()
        r = s.get("always-401")
        assert r.status_code == 401  # never a loop
        assert len(server.seen("/api/always-401")) == 2
        assert idp.token_total() == 1


def test_requests_release_the_gil(server):
    """Eight threads each waiting 600 ms on a slow server finish together."""
    with sesame.Session(base_url=server.url("/api/")) as s:
        results = []

        def call():
            results.append(s.get("slow", params={"ms": 600}).status_code)

        threads = [threading.Thread(target=call) for _ in range(8)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    assert results == [200] * 8
    assert elapsed < 3.0, f"threads were serialized: {elapsed:.1f}s"


def test_close_and_context_manager(server):
    s = sesame.Session(base_url=server.url("/api/"))
    with s as same:
        assert same is s
        assert s.get("echo").ok
    with pytest.raises(sesame.Error, match="closed"):
        s.get("echo")
    assert "closed" in repr(s)


def test_token_login_logout_status(idp, clean_env):
    kw = m2m_kwargs(idp, cache="file")
    with sesame.Session(**kw) as s:
        st = s.status()
        assert st["auth"] == "client-credentials" and st["token"] is None
        s.login()
        st = s.status()
        assert st["valid"] and st["seconds_left"] > 200
        tok = s.token()
        assert tok not in json.dumps(st) and st["token"].endswith("****")
        assert list(clean_env.glob("*.json")), "the token is in the file cache"
        end_session = s.logout(revoke=True)
        # Client credentials never had a browser session at the provider: nothing to end.
        assert end_session is None
        assert not list(clean_env.glob("*.json"))
        assert s.status()["token"] is None
    with sesame.Session(base_url="https://example.invalid/", auth="bearer", token="static-token-abc") as s:
        assert s.token() == "static-token-abc"
        s.login()  # nothing to do for a static credential
    with sesame.Session(base_url="https://example.invalid/", auth="basic", username="u", password="p") as s:
        with pytest.raises(sesame.ConfigError, match="not a token credential"):
            s.token()


def test_interactive_login_is_login_required(idp, monkeypatch):
    monkeypatch.delenv("BROWSER", raising=False)  # and no terminal: nobody to log in
    with sesame.Session(base_url=idp.api, auth="oidc", issuer=idp.issuer, client_id="sesame-cli", cache="memory") as s:
        with pytest.raises(sesame.LoginRequired) as e:
            s.get("whoami")
        # The hint is worded for Python (the engine chooses it, the package words it).
        assert e.value.hint and "Session.login()" in e.value.hint, e.value.hint
        assert "Session.login()" in str(e.value)
        assert "sesame login" not in str(e.value) and "--" not in str(e.value), str(e.value)
        with pytest.raises(sesame.LoginRequired):
            s.login()
        with pytest.raises(ValueError):
            s.login("carrier-pigeon")
        assert s.status()["valid"] is False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_session_is_not_used_across_fork(server):
    s = sesame.Session(base_url=server.url("/api/"))
    assert s.get("echo").ok
    pid = os.fork()
    if pid == 0:  # the child: the runtime's threads are not here
        code = 3
        try:
            s.get("echo")
            code = 1
        except sesame.Error as e:
            code = 0 if "fork" in str(e) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.get("echo").ok


def test_ctrl_c_interrupts_a_request(server):
    """The GIL is released while a request runs, and a signal still gets through."""
    import signal

    with sesame.Session(base_url=server.url("/api/")) as s:
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        t0 = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            s.get("slow", params={"ms": 5000})
        assert time.monotonic() - t0 < 2.0
        timer.join()
        assert s.get("echo").ok
