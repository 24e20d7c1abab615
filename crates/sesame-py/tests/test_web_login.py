"""The server-side web-app login (oxd-python's job): a tiny stdlib `http.server` web
application uses `Session.authorization_url` on its login route and
`Session.exchange_code` on its callback route; real headless Chromium (`testbed/browser`)
signs in at the bundled provider as two different people. Each end user's tokens are
kept under their subject (in memory, or one file each in the cache folder) and the
application calls the provider's protected API as that user. No mocks."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

import pytest

import sesame
from test_login import Browser, browser  # noqa: F401  (the fixture)

WEB_CLIENT = ("sesame-web", "sesame-web-secret")
DINAH = ("dinah", "cheshire")


class WebApp:
    """A web application in the shape oxd-python's examples have: `/login` redirects to
    the provider, `/callback` finishes the login and shows who logged in (and what the
    API says about them), `/me` calls the API again for the logged-in user."""

    def __init__(self, session: sesame.Session) -> None:
        self.sesame = session
        self.sessions: Dict[str, Dict[str, Any]] = {}  # the app's server-side session store
        self.logins: List[Dict[str, Any]] = []
        self.errors: List[str] = []
        self.authorization_urls: List[str] = []
        self.callbacks: List[str] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                try:
                    if path == "/login":
                        self.login()
                    elif path == "/callback":
                        self.callback()
                    elif path == "/me":
                        self.me()
                    else:
                        self.reply(404, "not found")
                except sesame.Error as e:
                    app.errors.append(f"{type(e).__name__}: {e}")
                    self.reply(400, f"login failed: {type(e).__name__}")

            def sid(self) -> Optional[str]:
                for part in (self.headers.get("Cookie") or "").split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "sid":
                        return v
                return None

            def login(self) -> None:
                sid = secrets.token_urlsafe(16)
                url, pending = app.sesame.authorization_url(f"{app.origin}/callback")
                app.authorization_urls.append(url)
                app.sessions[sid] = {"pending": pending}
                self.send_response(302)
                self.send_header("Location", url)
                self.send_header("Set-Cookie", f"sid={sid}; HttpOnly; Path=/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def callback(self) -> None:
                app.callbacks.append(self.path)
                state = app.sessions.get(self.sid() or "", {})
                pending = state.pop("pending", None)
                if pending is None:
                    self.reply(400, "no login in progress")
                    return
                done = app.sesame.exchange_code(pending, self.path)
                state["sub"] = done["subject"]
                app.logins.append(done)
                who = app.sesame.for_user(done["subject"]).get("whoami").json()
                self.reply(200, f"<h1>Hello {done['claims'].get('name')}</h1><p id=sub>{who['sub']}</p>")

            def me(self) -> None:
                sub = app.sessions.get(self.sid() or "", {}).get("sub")
                if not sub:
                    self.reply(401, "log in first")
                    return
                who = app.sesame.for_user(sub).get("whoami").json()
                self.reply(200, json.dumps(who), "application/json")

            def reply(self, code: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # The provider's `sesame-web` client is registered with loopback redirect URIs on
        # path /callback, any port.
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def web_session(idp, cache: str) -> sesame.Session:
    return sesame.Session(
        base_url=idp.api,
        auth="oidc",
        issuer=idp.issuer,
        client_id=WEB_CLIENT[0],
        client_secret=WEB_CLIENT[1],
        scopes=["openid", "profile", "offline_access"],
        cache=cache,
    )


def person_logs_in(browser: Browser, origin: str, user: str, password: str, errors: Any = ()) -> Dict[str, Any]:
    """Chromium opens the application's /login and signs in at the provider as `user`."""
    env = dict(os.environ, **browser.env())
    env.pop("BROWSER")
    env.update(
        SESAME_BROWSER_USER=user,
        SESAME_BROWSER_PASSWORD=password,
        SESAME_BROWSER_FINAL=f"{origin}/callback",
    )
    run = subprocess.run(
        [browser.command, f"{origin}/login"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, f"{run.stderr}\napp errors: {list(errors)}"
    return browser.page()


@pytest.mark.parametrize("store", ["memory", "file"])
def test_two_people_log_in_to_a_web_app_and_get_their_own_tokens(idp, browser, clean_env, store):
    s = web_session(idp, store)
    app = WebApp(s)
    try:
        page = person_logs_in(browser, app.origin, "alice", "wonderland", app.errors)
        assert page["status"] == 200, (page, app.errors)
        assert "Hello Alice Liddell" in page["text"] and "alice" in page["text"], page
        page = person_logs_in(browser, app.origin, *DINAH, app.errors)
        assert page["status"] == 200, (page, app.errors)
        assert "Hello Dinah Liddell" in page["text"], page
    finally:
        app.stop()
    assert not app.errors, app.errors
    alice, dinah = app.logins
    assert (alice["subject"], dinah["subject"]) == ("alice", "dinah")
    assert alice["claims"]["name"] == "Alice Liddell" and alice["refresh_token"] is True
    assert alice["access_token"] != dinah["access_token"]
    # The provider offers pushed authorization requests (RFC 9126): the browser saw only
    # the client id and the request URI, never the PKCE challenge or the redirect URI.
    for url in app.authorization_urls:
        q = parse_qs(urlsplit(url).query)
        assert set(q) == {"client_id", "request_uri"}, url
    # Each user's session carries that user's token.
    assert s.for_user("alice").get("whoami").json()["sub"] == "alice"
    assert s.for_user("dinah").get("whoami").json()["sub"] == "dinah"
    assert s.for_user("alice").token() == alice["access_token"]
    assert s.for_user("dinah").token() == dinah["access_token"]
    # Someone who never logged in must: LoginRequired, worded for a web application.
    with pytest.raises(sesame.LoginRequired) as e:
        s.for_user("mallory").get("whoami")
    assert "authorization_url" in str(e.value), e.value
    if store == "file":
        # One file per subject in the cache folder, 0600, no token in plain sight of
        # another subject's file; a new session (another worker process) finds them.
        files = sorted(clean_env.glob("*.json"))
        assert len(files) == 2, files
        for f in files:
            assert f.stat().st_mode & 0o077 == 0
        again = web_session(idp, "file")
        issued = idp.token_total()
        assert again.for_user("dinah").token() == dinah["access_token"]
        assert idp.token_total() == issued
    # The application's logout forgets one user, not the other.
    s.forget_user("alice")
    with pytest.raises(sesame.LoginRequired):
        s.for_user("alice").token()
    assert s.for_user("dinah").get("whoami").json()["sub"] == "dinah"
    # A second session with a memory store knows nobody.
    if store == "memory":
        with pytest.raises(sesame.LoginRequired):
            web_session(idp, "memory").for_user("dinah").token()


class AwaitedInEachHandler:
    """The web app's calls made on an `AsyncSession`, each awaited in the request handler's
    own event loop, as an async web framework's handlers await them."""

    def __init__(self, a: sesame.AsyncSession) -> None:
        self.a = a

    @staticmethod
    def awaited(call: Any) -> Any:
        async def handler() -> Any:
            return await call()

        return asyncio.run(handler())

    def authorization_url(self, redirect_uri: str) -> Any:
        return self.awaited(lambda: self.a.authorization_url(redirect_uri))

    def exchange_code(self, pending: str, callback: str) -> Any:
        return self.awaited(lambda: self.a.exchange_code(pending, callback))

    def for_user(self, subject: str) -> Any:
        user = self.a.for_user(subject)
        awaited = self.awaited

        class User:
            def get(self, path: str) -> Any:
                return awaited(lambda: user.get(path))

        return User()


def test_an_async_web_app_logs_a_person_in(idp, browser, clean_env):
    a = sesame.AsyncSession(base_url=idp.api, auth="oidc", issuer=idp.issuer, client_id=WEB_CLIENT[0],
                            client_secret=WEB_CLIENT[1], scopes=["openid", "profile", "offline_access"],
                            cache="memory")
    app = WebApp(AwaitedInEachHandler(a))  # type: ignore[arg-type]
    try:
        page = person_logs_in(browser, app.origin, "alice", "wonderland", app.errors)
    finally:
        app.stop()
    assert page["status"] == 200 and "Hello Alice Liddell" in page["text"], (page, app.errors)
    assert not app.errors, app.errors
    (alice,) = app.logins
    assert alice["subject"] == "alice" and alice["refresh_token"] is True
    assert isinstance(a.for_user("alice"), sesame.AsyncSession)

    async def after() -> None:
        assert await a.for_user("alice").token() == alice["access_token"]
        a.forget_user("alice")
        with pytest.raises(sesame.LoginRequired):
            await a.for_user("alice").token()

    asyncio.run(after())


def test_the_callback_is_checked_before_the_code_is_exchanged(idp, browser, clean_env):
    """A callback whose `state`, `iss` or `error` is wrong never reaches the token
    endpoint; a code is good once."""
    s = web_session(idp, "memory")
    app = WebApp(s)
    try:
        person_logs_in(browser, app.origin, "alice", "wonderland", app.errors)
    finally:
        app.stop()
    assert not app.errors, app.errors
    callback = app.callbacks[0]
    q = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert q["iss"] == idp.issuer and q["code"] and q["state"]
    url, pending = s.authorization_url("http://127.0.0.1:9/callback", state="s" * 32)
    issued = idp.token_total()
    forged = [
        ({**q, "state": "t" * 32}, "state"),
        ({**q, "state": "s" * 32, "iss": "https://evil.example"}, "RFC 9207"),
        ({"state": "s" * 32, "iss": idp.issuer}, "neither"),
        ({"state": ["s" * 32, "s" * 32], "iss": idp.issuer, "code": q["code"]}, "repeated"),
    ]
    for params, want in forged:
        with pytest.raises(sesame.AuthError) as e:
            s.exchange_code(pending, params)
        assert want in str(e.value), (params, e.value)
    err = {"state": "s" * 32, "iss": idp.issuer, "error": "access_denied", "error_description": "no"}
    with pytest.raises(sesame.AuthError) as e:
        s.exchange_code(pending, err)
    assert "access_denied" in str(e.value)
    assert idp.token_total() == issued, "no code reached the token endpoint"
    # The real callback's code, used again (with its own pending login gone from the app,
    # a new pending login's verifier and state do not fit it): refused by the provider.
    url2, pending2 = s.authorization_url(f"{app.origin}/callback", state=q["state"])
    with pytest.raises(sesame.AuthError):
        s.exchange_code(pending2, callback)
    # Not a pending login at all.
    with pytest.raises(sesame.ConfigError):
        s.exchange_code("{}", callback)
    # The pending login never shows its verifier in the URL, and it is JSON for a session store.
    p = json.loads(pending)
    assert p["verifier"] not in url and p["state"] == "s" * 32


def test_the_oxd_example_app_logs_two_people_in(idp, browser, clean_env, tmp_path):
    """examples/oxd_web_app.py (the code of docs/migrate/oxd.md), run as its own process."""
    import sys
    import time
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "oxd_web_app.py"
    env = dict(os.environ, CLIENT_SECRET=WEB_CLIENT[1])
    proc = subprocess.Popen(
        [sys.executable, str(example), idp.issuer, WEB_CLIENT[0], idp.api],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        origin = line.split()[-1]
        for user, password, name in [("alice", "wonderland", "Alice Liddell"), (*DINAH, "Dinah Liddell")]:
            page = person_logs_in(browser, origin, user, password)
            assert page["status"] == 200, page
            assert f"Hello {name}" in page["text"] and f"The API sees {user}." in page["text"], page
        # One file per person in the cache folder.
        assert len(list(clean_env.glob("*.json"))) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert WEB_CLIENT[1] not in (proc.stderr.read() or "")
