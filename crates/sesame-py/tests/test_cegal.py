"""cegal-keystoneauth's shapes (issue 15): `get_access_token()` logs in when needed — in
sesame opt-in, `Session(auto_login=True)` and `token(login=True)`, under the rules of
`sesame token` (a person only on a terminal) — and a page handler, a Python callable that
writes the browser's last page. Against the bundled identity provider and real headless
Chromium; the migration guide's example runs on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sesame
from conftest import ROOT
from test_login import Browser, Stderr

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cegal_token.py"
PTY_RUN = ROOT / "crates" / "sesame-cli" / "tests" / "support" / "pty_run.py"


@pytest.fixture
def browser(tmp_path) -> Browser:
    return Browser(tmp_path / "browser")


def kwargs(idp, **over):
    kw = dict(
        base_url=idp.api,
        auth="oidc",
        issuer=idp.issuer,
        client_id="sesame-cli",
        scopes=["openid", "profile"],
        par=False,
        login_timeout=60,
    )
    kw.update(over)
    return kw


def test_example_logs_in_on_a_terminal_once_and_shows_the_programs_page(idp, browser):
    env = dict(os.environ, **browser.env())
    out = subprocess.run(
        [sys.executable, str(PTY_RUN), "[]", sys.executable, str(EXAMPLE), idp.issuer, idp.api, "sesame-cli"],
        capture_output=True,
        text=True,
        env=env,
        timeout=150,
    )
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["code"] == 0, f"{run['output']}\n--- browser ---\n{browser.log()}"
    text = run["output"]
    assert "got a token: True" in text and "sub: alice" in text, text
    assert "again from the cache: True" in text, text
    assert browser.invocations() == 1, "one login for token(), the request and token() again"
    browser.wait_done()
    assert browser.page()["title"] == "My app: signed in", browser.page()


def test_without_a_terminal_auto_login_is_login_required_at_once(idp, browser, monkeypatch):
    # The rules of `sesame token`: an implicit login needs a terminal, even with a $BROWSER.
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    with sesame.Session(**kwargs(idp, auto_login=True)) as s:
        t0 = time.monotonic()
        with pytest.raises(sesame.LoginRequired) as e:
            s.token(login=True)
        assert "terminal" in str(e.value), str(e.value)
        with pytest.raises(sesame.LoginRequired):
            s.get("whoami")
        assert time.monotonic() - t0 < 10
    assert browser.invocations() == 0, "nobody was asked"
    assert "http://" not in err.text()


def test_token_login_is_opt_in(idp, browser, monkeypatch):
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    with sesame.Session(**kwargs(idp)) as s:
        with pytest.raises(sesame.LoginRequired):
            s.token()
    assert browser.invocations() == 0


def test_page_handler_writes_the_landing_page_of_an_explicit_login(idp, browser, monkeypatch):
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stderr", Stderr())
    calls = []

    def page(kind, info):
        calls.append((kind, sorted(info)))
        return f"<!doctype html><title>Handled {kind}</title><p>{info['issuer']}</p>"

    with sesame.Session(**kwargs(idp, page_handler=page)) as s:
        s.login()
        assert s.get("whoami").json()["sub"] == "alice"
        # A cached token: login=True asks nobody.
        assert s.token(login=True)
    browser.wait_done()
    assert browser.page()["title"] == "Handled success", browser.page()
    assert calls == [("success", ["error", "error_description", "issuer", "message"])]
    assert browser.invocations() == 1


def test_a_failing_page_handler_falls_back_to_the_built_in_page(idp, browser, monkeypatch):
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stderr", Stderr())

    def page(kind, info):
        raise RuntimeError("template missing")

    with sesame.Session(**kwargs(idp, page_handler=page)) as s:
        s.login()
    browser.wait_done()
    assert browser.page()["title"] == "Login complete · sesame", browser.page()


def test_page_handler_must_be_callable():
    with pytest.raises(TypeError, match="page_handler must be a callable"):
        sesame.Session(auth="discover", page_handler="<html>")
