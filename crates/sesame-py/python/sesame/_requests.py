"""``sesame.RequestsAuth``: sesame's credentials on a ``requests`` session.

Imported on first use of ``sesame.RequestsAuth``; requests is not a dependency of sesame.
"""

from __future__ import annotations

from typing import Any, Optional, Set
from urllib.parse import urljoin

try:
    from requests.auth import AuthBase
    from requests.cookies import extract_cookies_to_jar
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("sesame.RequestsAuth needs the requests package: pip install requests") from exc

from ._sesame import Session

__all__ = ["RequestsAuth"]


class RequestsAuth(AuthBase):
    """Authenticates ``requests`` with a sesame profile.

    Takes the same arguments as :class:`sesame.Session`::

        s = requests.Session()
        s.auth = sesame.RequestsAuth("ods")            # or RequestsAuth(base_url=…, auth=…, …)
        s.get("https://ods.example.com/api/users/me")

    The credential goes only to the profile's ``base_url`` origin and path prefix (the
    engine's scope check decides, request by request); a redirect that leaves the scope
    carries none of its headers. On a 401 to a request that carried it, the engine renews
    the credential once and the request is resent once; a second 401 is returned as is.
    Tokens come from the engine: cached, shared with the ``sesame`` command, renewed ahead
    of expiry with one refresh however many threads ask. Thread-safe.

    X.509 client certificates cannot be attached through ``requests``' auth hook; use
    :class:`sesame.Session` for those.
    """

    def __init__(self, profile: Optional[str] = None, **kwargs: Any) -> None:
        self._engine = Session(profile, **kwargs)
        self._names: Set[str] = set()

    @property
    def session(self) -> Session:
        """The :class:`sesame.Session` that holds the credential."""
        return self._engine

    def __repr__(self) -> str:
        return repr(self._engine).replace("<sesame.Session", "<sesame.RequestsAuth", 1)

    def __call__(self, r: Any) -> Any:
        # One auth exchange per request (the engine's: scope, the single 401 resend, UMA).
        r._sesame_exchange = self._engine._exchange()
        self._attach(r)
        body: Any = getattr(r, "body", None)
        if hasattr(body, "tell"):
            try:
                r._sesame_pos = body.tell()
            except OSError:
                r._sesame_pos = None
        r.register_hook("response", self._on_response)
        return r

    def _attach(self, r: Any) -> None:
        for name, value in r._sesame_exchange.attach(r.method or "GET", r.url) or ():
            self._names.add(name.lower())
            r.headers[name] = value

    def _strip(self, r: Any) -> None:
        for name in list(r.headers.keys()):
            if name.lower() in self._names:
                del r.headers[name]

    def _on_response(self, resp: Any, **kwargs: Any) -> Any:
        req = resp.request
        if resp.is_redirect:
            # requests copies this request for the next hop: take the credential off it
            # when the hop leaves the scope (another origin, or outside the path prefix).
            target = urljoin(resp.url, resp.headers.get("location", ""))
            if not self._engine.in_scope(target):
                self._strip(req)
            return resp
        exchange = getattr(req, "_sesame_exchange", None)
        if resp.status_code != 401 or exchange is None:
            return resp
        challenge = resp.headers.get("www-authenticate")
        if exchange.on_response(req.method or "GET", req.url, resp.status_code, challenge) == "done":
            return resp
        pos = getattr(req, "_sesame_pos", None)
        if pos is not None:
            req.body.seek(pos)
        # Release the connection, then resend once with the renewed credential.
        _ = resp.content
        resp.close()
        prep = req.copy()
        extract_cookies_to_jar(prep._cookies, req, resp.raw)
        prep.prepare_cookies(prep._cookies)
        self._strip(prep)
        prep._sesame_exchange = exchange
        self._attach(prep)
        retried = resp.connection.send(prep, **kwargs)
        retried.history.append(resp)
        retried.request = prep
        return retried
