"""``sesame.HttpxAuth``: sesame's credentials on an ``httpx`` client, sync and async.

Imported on first use of ``sesame.HttpxAuth``; httpx is not a dependency of sesame.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, Generator, List, Optional, Set, Tuple

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("sesame.HttpxAuth needs the httpx package: pip install httpx") from exc

from ._sesame import Session

__all__ = ["HttpxAuth"]


class HttpxAuth(httpx.Auth):
    """Authenticates ``httpx.Client`` and ``httpx.AsyncClient`` with a sesame profile.

    Takes the same arguments as :class:`sesame.Session`::

        auth = sesame.HttpxAuth("ods")
        httpx.get("https://ods.example.com/api/users/me", auth=auth)
        async with httpx.AsyncClient(auth=auth) as c:
            await c.get("https://ods.example.com/api/users/me")

    The credential goes only to the profile's ``base_url`` origin and path prefix (the
    engine decides, request by request). On a 401 to a request that carried it, the engine
    renews the credential once and the request is resent once. The async flow awaits the
    engine on asyncio without blocking the event loop.

    Redirects: httpx follows them (when ``follow_redirects=True``) without consulting the
    auth, and drops ``Authorization`` when a redirect leaves the origin. Credentials sent in
    another header (``auth = "api-key"``) or redirects that leave the path prefix are also
    handled if you add the guard hook::

        httpx.Client(auth=auth, follow_redirects=True,
                     event_hooks={"request": [auth.strip_out_of_scope]})
        httpx.AsyncClient(auth=auth, event_hooks={"request": [auth.astrip_out_of_scope]})

    X.509 client certificates cannot be attached through httpx's auth flow.
    """

    requires_request_body = True

    def __init__(self, profile: Optional[str] = None, **kwargs: Any) -> None:
        self._engine = Session(profile, **kwargs)
        self._names: Set[str] = set()

    @property
    def session(self) -> Session:
        """The :class:`sesame.Session` that holds the credential."""
        return self._engine

    def __repr__(self) -> str:
        return repr(self._engine).replace("<sesame.Session", "<sesame.HttpxAuth", 1)

    def _apply(self, request: httpx.Request, headers: Optional[List[Tuple[str, str]]]) -> None:
        for name, value in headers or ():
            self._names.add(name.lower())
            request.headers[name] = value

    def _strip(self, request: httpx.Request) -> None:
        for name in list(request.headers.keys()):
            if name.lower() in self._names:
                del request.headers[name]

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # One auth exchange per request (the engine's: scope, the single 401 resend, UMA).
        method, url = request.method, str(request.url)
        exchange = self._engine._exchange()
        self._apply(request, exchange.attach(method, url))
        response = yield request
        if response.status_code == 401 and exchange.attached:
            response.read()
            challenge = response.headers.get("www-authenticate")
            if exchange.on_response(method, url, response.status_code, challenge) != "done":
                self._strip(request)
                self._apply(request, exchange.attach(method, url))
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        method, url = request.method, str(request.url)
        exchange = self._engine._exchange()
        self._apply(request, await exchange.attach_async(method, url))
        response = yield request
        if response.status_code == 401 and exchange.attached:
            await response.aread()
            challenge = response.headers.get("www-authenticate")
            if await exchange.on_response_async(method, url, response.status_code, challenge) != "done":
                self._strip(request)
                self._apply(request, await exchange.attach_async(method, url))
                yield request

    def strip_out_of_scope(self, request: httpx.Request) -> None:
        """An httpx ``request`` event hook: removes this auth's credential headers from a
        request (a redirect hop) that is out of scope."""
        if not self._engine.in_scope(str(request.url)):
            self._strip(request)

    async def astrip_out_of_scope(self, request: httpx.Request) -> None:
        """:meth:`strip_out_of_scope` for ``httpx.AsyncClient``."""
        self.strip_out_of_scope(request)
