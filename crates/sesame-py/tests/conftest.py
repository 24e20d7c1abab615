"""Fixtures: the bundled identity provider (node), small local HTTP servers (stdlib), a
clean environment per test, and the `sesame` command. No mocks: every request goes over
loopback to a real server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[3]
IDP_DIR = ROOT / "testbed" / "idp"

# Test-only clients and account of testbed/idp (public on purpose, see its README).
M2M = ("m2m-basic", "m2m-basic-secret")
PASSWORD_CLIENT = ("password-client", "password-secret")
ALICE = ("alice", "wonderland")
# The access codes the local ITk imitation (`/…/grantToken`) accepts.
ITK_CODES = ("itk-code-one-4Qx", "itk-code-two-9Zr")


# ---------------------------------------------------------------- identity provider


class Idp:
    """The bundled OpenID provider, running as `node testbed/idp/server.mjs`."""

    def __init__(self) -> None:
        node = os.environ.get("SESAME_NODE") or shutil.which("node")
        if not node:
            pytest.fail(
                "node (>= 20.18) is needed for the bundled identity provider (testbed/idp): "
                "apt-get install nodejs npm",
                pytrace=False,
            )
        if not (IDP_DIR / "node_modules").is_dir():
            npm = os.environ.get("SESAME_NPM") or shutil.which("npm")
            if not npm:
                pytest.fail("npm is needed to install testbed/idp (npm ci): apt-get install npm", pytrace=False)
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=IDP_DIR, check=True)
        env = dict(os.environ, SESAME_IDP_PORT="0")
        self.proc = subprocess.Popen(
            [node, str(IDP_DIR / "server.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode(errors="replace")
            pytest.fail(f"the identity provider did not start:\n{err}", pytrace=False)
        self.issuer: str = json.loads(line)["issuer"]
        # Drain stderr so the provider never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    @property
    def api(self) -> str:
        return self.issuer + "/api/"

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.issuer + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stats(self) -> Dict[str, Any]:
        return self._call("GET", "/test/stats")

    def token_total(self) -> int:
        return int(self.stats()["token_total"])

    def reset_stats(self) -> None:
        self._call("POST", "/test/stats/reset", {})

    def set_access_token_ttl(self, seconds: int) -> None:
        self._call("POST", "/test/config", {"access_token_ttl": seconds})

    def stop(self) -> None:
        try:
            self.proc.stdin.close()  # the provider exits when its stdin closes
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


@pytest.fixture(scope="session")
def idp():
    p = Idp()
    yield p
    p.stop()


@pytest.fixture
def short_tokens(idp):
    """Access tokens that live 2 seconds (restored to 300 afterwards)."""
    idp.set_access_token_ttl(2)
    yield 2
    idp.set_access_token_ttl(300)


def m2m_kwargs(idp: Idp, **over: Any) -> Dict[str, Any]:
    kw: Dict[str, Any] = dict(
        base_url=idp.api,
        auth="client-credentials",
        issuer=idp.issuer,
        client_id=M2M[0],
        client_secret=M2M[1],
        cache="memory",
    )
    kw.update(over)
    return kw


# ---------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """No SESAME_* variables and no user configuration leak into a test; tokens are cached
    in a fresh folder."""
    for k in list(os.environ):
        if k.startswith("SESAME_") and k not in ("SESAME_CLI", "SESAME_NODE", "SESAME_NPM"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    cache = tmp_path / "cache"
    monkeypatch.setenv("SESAME_CACHE_DIR", str(cache))
    yield cache


@pytest.fixture(scope="session")
def cli() -> str:
    """The `sesame` command (`cargo build -p sesame-auth-cli`)."""
    explicit = os.environ.get("SESAME_CLI")
    target = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    for c in [explicit, os.path.join(target, "debug", "sesame"), str(ROOT / "target" / "debug" / "sesame")]:
        if c and os.access(c, os.X_OK):
            return c
    pytest.fail("the sesame command is not built: run `cargo build -p sesame-auth-cli` (or set SESAME_CLI)", pytrace=False)


# ---------------------------------------------------------------- local HTTP servers


class Recorded:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes, peer: int = 0) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        # The client's port: one value per connection.
        self.peer = peer


class LocalServer:
    """A small HTTP/1.1 server on 127.0.0.1 (stdlib, one thread per connection).

    - `/…/echo` → 200 JSON `{"method","path","query","headers","body"}`
    - `/…/status/CODE` → that status with a JSON (or `?html=1` HTML) message
    - `/…/redirect?to=URL[&code=302]` → a redirect
    - `/…/always-401` → 401 with `WWW-Authenticate: Bearer error="invalid_token"`
    - `/…/401-first-token` → 401 for the first Authorization value it sees, 200 after
    - `/…/echo-error` → 400, the request's headers echoed as text
    - `/…/basic-auth` → 200 `{"user": …}` when the request carries HTTP Basic credentials
      equal to `server.basic` (a `(username, password)` pair), else 401 with a Basic
      challenge
    - `/…/slow?ms=N` → 200 after N ms
    - `/…/stream?n=N&size=S` → N chunks of S bytes, chunked
    - `/…/grantToken[?expires_in=N][&ms=M]` → (after M ms) ITk's login: with `{"grant_type": "password",
      "accessCode1": ITK_CODES[0], "accessCode2": ITK_CODES[1]}` a new `{"id_token":
      "itk-token-<n>", "expires_in": N}` (default 3600), else 401
    - anything else → like echo
    """

    def __init__(self) -> None:
        self.requests: List[Recorded] = []
        self.lock = threading.Lock()
        self.first_token: Optional[str] = None
        self.basic: Optional[Tuple[str, str]] = None
        self.grants = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with server.lock:
                    server.requests.append(Recorded(self.command, self.path, headers, body, self.client_address[1]))
                leaf = parts.path.rstrip("/").rsplit("/", 1)[-1]
                parent = parts.path.rstrip("/").rsplit("/", 2)
                if len(parent) == 3 and parent[1] == "status":
                    code = int(parent[2])
                    if q.get("html"):
                        self._send(code, b"<html><body><h1>Oops</h1><p>server says no</p></body></html>", "text/html")
                    else:
                        msg = {"error": f"server says {code}", "detail": "try again later"}
                        self._send(code, json.dumps(msg).encode(), "application/json")
                elif leaf == "redirect":
                    self.send_response(int(q.get("code", "302")))
                    self.send_header("Location", q["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif leaf == "always-401":
                    self._send(
                        401,
                        b'{"error":"invalid_token"}',
                        "application/json",
                        {"WWW-Authenticate": 'Bearer realm="local", error="invalid_token"'},
                    )
                elif leaf == "401-first-token":
                    auth = headers.get("authorization")
                    with server.lock:
                        if server.first_token is None:
                            server.first_token = auth
                        first = auth == server.first_token
                    if first:
                        self._send(
                            401,
                            b'{"error":"invalid_token"}',
                            "application/json",
                            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                        )
                    else:
                        self._send(200, json.dumps({"ok": True}).encode(), "application/json")
                elif leaf == "basic-auth":
                    want = None
                    if server.basic is not None:
                        pair = f"{server.basic[0]}:{server.basic[1]}".encode()
                        want = "Basic " + base64.b64encode(pair).decode()
                    if want is not None and headers.get("authorization") == want:
                        self._send(200, json.dumps({"user": server.basic[0]}).encode(), "application/json")
                    else:
                        self._send(
                            401,
                            b'{"error":"bad credentials"}',
                            "application/json",
                            {"WWW-Authenticate": 'Basic realm="local"'},
                        )
                elif leaf == "grantToken":
                    time.sleep(int(q.get("ms", "0")) / 1000)
                    try:
                        sent = json.loads(body or b"{}")
                    except ValueError:
                        sent = {}
                    if sent == {"grant_type": "password", "accessCode1": ITK_CODES[0], "accessCode2": ITK_CODES[1]}:
                        with server.lock:
                            server.grants += 1
                            n = server.grants
                        reply = {"id_token": f"itk-token-{n}", "expires_in": int(q.get("expires_in", "3600"))}
                        self._send(200, json.dumps(reply).encode(), "application/json")
                    else:
                        self._send(401, b'{"message":"invalid access codes"}', "application/json")
                elif leaf == "echo-error":
                    # A debugging gateway: 400 with the request's headers echoed.
                    text = "".join(f"{k}: {v}\n" for k, v in headers.items())
                    self._send(400, text.encode(), "text/plain")
                elif leaf == "slow":
                    time.sleep(int(q.get("ms", "500")) / 1000)
                    self._send(200, b'{"slow":true}', "application/json")
                elif leaf == "stream":
                    n, size = int(q.get("n", "4")), int(q.get("size", "1000"))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(n):
                        chunk = bytes([65 + i % 26]) * size
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    out = {
                        "method": self.command,
                        "path": parts.path,
                        "query": parts.query,
                        "headers": headers,
                        "body": body.decode("latin-1"),
                    }
                    self._send(200, json.dumps(out).encode(), "application/json")

            def _send(self, code: int, body: bytes, ctype: str, extra: Optional[Dict[str, str]] = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def seen(self, prefix: str = "") -> List[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.first_token = None

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.stop()


@pytest.fixture
def other_server():
    """A second server: another port, so another origin."""
    s = LocalServer()
    yield s
    s.stop()


def run_async(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def python() -> str:
    return sys.executable
