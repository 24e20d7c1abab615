"""oxd-python's job, done by sesame: a server-side web application's login
(docs/migrate/oxd.md). `/login` redirects to the provider, `/callback` finishes the login
and calls an API as the person who logged in, `/logout` forgets them and sends the browser
to the provider's end-session page. Standard library only (`http.server`); in Flask or
Django the three handlers are three routes.

    python examples/oxd_web_app.py ISSUER CLIENT_ID API_URL [PORT]

The client secret comes from `$CLIENT_SECRET`. The redirect URI registered for the client
must be `http://127.0.0.1:PORT/callback`. The tests run it against the bundled provider
with real Chromium signing in as two different people.
"""

from __future__ import annotations

import html
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional, Type

import sesame

# The application's server-side session store (a real application: its framework's
# server-side sessions, Redis, a database). The pending login holds the PKCE verifier:
# it must never be put in a cookie the browser can read.
SESSIONS: Dict[str, Dict[str, str]] = {}


def make_handler(oidc: sesame.Session, origin: str) -> Type[BaseHTTPRequestHandler]:
    class App(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def session(self) -> Dict[str, str]:
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == "sid" and value in SESSIONS:
                    return SESSIONS[value]
            return {}

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/login":
                    # oxd: get_authorization_url()
                    url, pending = oidc.authorization_url(origin + "/callback")
                    sid = secrets.token_urlsafe(24)
                    SESSIONS[sid] = {"pending": pending}
                    self.send(302, "", {"Location": url, "Set-Cookie": f"sid={sid}; HttpOnly; SameSite=Lax; Path=/"})
                elif path == "/callback":
                    # oxd: get_tokens_by_code(code, state) — state, iss, nonce and PKCE are
                    # checked by sesame; the tokens are stored under the user's subject.
                    s = self.session()
                    done = oidc.exchange_code(s.pop("pending", ""), self.path)
                    s["sub"] = done["subject"]
                    # oxd: get_user_info(access_token) — here an API call as that user.
                    who = oidc.for_user(done["subject"]).get("whoami").json()
                    name = html.escape(str(done["claims"].get("name", done["subject"])))
                    self.send(200, f"<h1>Hello {name}</h1><p>The API sees <b id=sub>{html.escape(who['sub'])}</b>.</p>")
                elif path == "/logout":
                    # oxd: get_logout_uri()
                    sub = self.session().get("sub")
                    if sub:
                        oidc.forget_user(sub)
                    end = oidc.end_session_url() or origin + "/"
                    self.send(302, "", {"Location": end})
                else:
                    self.send(404, "not found")
            except sesame.LoginRequired:
                self.send(302, "", {"Location": origin + "/login"})
            except sesame.Error as e:
                self.send(400, f"<h1>Login failed</h1><p>{html.escape(type(e).__name__)}</p>")

        def send(self, code: int, body: str, headers: Optional[Dict[str, str]] = None) -> None:
            data = body.encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return App


def main(issuer: str, client_id: str, api_url: str, port: int = 0) -> None:
    # oxd: the client registered in oxd-server (oxd_id), its client_id/secret and scopes.
    oidc = sesame.Session(
        base_url=api_url,
        auth="oidc",
        issuer=issuer,
        client_id=client_id,
        client_secret={"env": "CLIENT_SECRET"},
        scopes=["openid", "profile", "email", "offline_access"],
        cache="file",  # one 0600 file per user: every worker process of the app sees them
    )
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = make_handler(oidc, origin)
    print(f"listening on {origin}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
