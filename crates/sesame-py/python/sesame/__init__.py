"""sesame: an authenticated HTTP session to a REST API, on sesame's Rust engine.

>>> import sesame
>>> with sesame.Session("ods") as s:            # a profile of ~/.config/sesame/config.toml
...     s.get("users/me").json()

The same profiles, keys and precedence as the ``sesame`` command (arguments over
``SESAME_<KEY>`` variables over the file), the same token cache, the same rules: credentials
go only to the base URL's origin and path prefix, tokens are renewed before they expire with
one refresh however many threads need them, a 401 renews once and resends once.

- :class:`Session` / :class:`AsyncSession` — requests-like sessions (``get``, ``post``, …).
- :class:`Response` — ``status_code``, ``ok``, ``headers``, ``content``, ``text``, ``json()``.
- :class:`RequestsAuth` / :class:`HttpxAuth` — for code that keeps its own HTTP library
  (loaded on first use; neither library is a dependency).
- :class:`Error` and its subclasses (:class:`HTTPError` has one per common status:
  :class:`NotFound`, :class:`ServerError`, …); :class:`InsecureWarning` when TLS
  verification is off.
"""

from __future__ import annotations

import collections.abc as _abc
from typing import TYPE_CHECKING, Any

from . import _sesame
from ._errors import (
    AuthError,
    BadRequest,
    ConfigError,
    Conflict,
    CredentialError,
    DecodeError,
    Error,
    Forbidden,
    HTTPError,
    InsecureWarning,
    LoginRequired,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Timeout,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnsupportedMediaType,
)
from ._sesame import AsyncSession, Headers, Response, Session

if TYPE_CHECKING:
    from ._httpx import HttpxAuth
    from ._requests import RequestsAuth

__version__: str = _sesame.__version__

_abc.Mapping.register(Headers)

# Show the public names as `sesame.X` in tracebacks and reprs.
for _cls in (
    Error,
    ConfigError,
    CredentialError,
    LoginRequired,
    AuthError,
    HTTPError,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    ServerError,
    TransportError,
    Timeout,
    DecodeError,
    InsecureWarning,
):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "Session",
    "AsyncSession",
    "Response",
    "Headers",
    "RequestsAuth",
    "HttpxAuth",
    "Error",
    "ConfigError",
    "CredentialError",
    "LoginRequired",
    "AuthError",
    "HTTPError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
    "ServerError",
    "TransportError",
    "Timeout",
    "DecodeError",
    "InsecureWarning",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The adapters import requests / httpx, which sesame does not depend on: load them
    # only when asked for.
    if name == "RequestsAuth":
        from ._requests import RequestsAuth

        return RequestsAuth
    if name == "HttpxAuth":
        from ._httpx import HttpxAuth

        return HttpxAuth
    raise AttributeError(f"module 'sesame' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"RequestsAuth", "HttpxAuth"})
