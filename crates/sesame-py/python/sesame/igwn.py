"""igwn-auth-utils' ``Session`` shape over :class:`sesame.Session` (docs/migrate/igwn.md).

``sesame.igwn.Session`` takes the arguments of ``igwn_auth_utils.Session`` with their
names and defaults, and maps them onto a sesame profile with ``auth="discover"`` (WLCG
bearer-token discovery, X.509 discovery, netrc), so that a program written for
igwn-auth-utils moves by changing its import::

    from sesame.igwn import Session   # was: from igwn_auth_utils import Session

    with Session(token_audience="https://gracedb.example", token_scope="gracedb.read") as s:
        s.get("https://gracedb.example/api/superevents")

Underneath is one :class:`sesame.Session` per origin the program talks to (``.session``
is the first). Differences from igwn-auth-utils, by design:

- Each credential is scoped to one origin: a request to another host goes through a session
  of its own (the token's audience is checked against that host, unless
  ``token_audience=``). ``url=`` makes the session of its origin at once.
- ``token=True`` / ``token=False`` and ``cert=True`` / ``cert=False`` (require or disable one
  discovery) are the profile keys ``token_discovery`` / ``x509_discovery`` (``"required"`` /
  ``"off"``); unset, ``IGWN_AUTH_UTILS_FIND_SCITOKEN`` / ``IGWN_AUTH_UTILS_FIND_X509`` are
  read as igwn-auth-utils reads them, then ``SESAME_FIND_TOKEN`` / ``SESAME_FIND_X509``.
- Per-request ``token=``, ``cert=``, ``token_audience=``, ``token_scope=``,
  ``token_issuer=``, ``auth=``, ``force_noauth=`` and ``fail_if_noauth=`` override the
  session's for that request, as in igwn-auth-utils (each distinct set of them gets a
  :class:`sesame.Session` of its own, kept for the next request with the same set).
- ``auth=`` takes requests' ``(username, password)`` tuple only.
- Errors are sesame's: ``raise_for_status=True`` raises :class:`sesame.HTTPError` (a
  subclass per status, the response in ``.response``); "no credential" with
  ``fail_if_noauth=True`` is :class:`sesame.CredentialError` or :class:`sesame.ConfigError`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from . import _sesame
from ._errors import ConfigError

__all__ = ["Session"]

_PathLike = Union[str, "os.PathLike[str]"]


def _origin(url: str) -> str:
    """``scheme://host[:port]/`` of ``url`` (a bare host name means https, as in igwn)."""
    if "//" not in url:
        url = "//" + url
    parts = urlsplit(url, scheme="https")
    if not parts.netloc:
        raise ConfigError(f"url={url!r} names no host", kind="config")
    return f"{parts.scheme}://{parts.netloc}/"


def _token_text(token: Any) -> str:
    """A serialised token from a str, bytes or a ``scitokens.SciToken``."""
    if isinstance(token, bytes):
        return token.decode("ascii")
    if isinstance(token, str):
        return token
    serialize = getattr(token, "serialize", None)
    if callable(serialize):
        # scitokens.SciToken.serialize() signs the token and returns bytes.
        out = serialize()
        return out.decode("ascii") if isinstance(out, bytes) else str(out)
    raise TypeError(f"token must be a str, bytes or scitokens.SciToken, not {type(token).__name__}")


def _bool_env(name: str) -> Optional[bool]:
    """igwn-auth-utils' reading of its ``IGWN_AUTH_UTILS_FIND_*`` variables (unset: ``None``)."""
    value = os.environ.get(name)
    if value is None:
        return None
    return value.strip().lower() in ("1", "y", "yes", "true")


def _discovery(value: Optional[bool]) -> Optional[str]:
    """``True``/``False`` (require/disable one discovery) as a ``*_discovery`` key's word."""
    if value is None:
        return None
    return "required" if value else "off"


# The arguments igwn-auth-utils takes both for the session and for one request.
_AUTH_ARGS = (
    "token",
    "token_audience",
    "token_scope",
    "token_issuer",
    "cert",
    "auth",
    "force_noauth",
    "fail_if_noauth",
)


def _hashable(value: Any) -> Any:
    """A per-request argument as part of a dict key: lists become tuples; other objects (a
    ``SciToken``, a path) stand for themselves (a SciToken is signed anew each time it is
    serialised, so its text would not find the session again)."""
    if isinstance(value, list):
        return tuple(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _arguments(
    token: Any,
    token_audience: Union[str, Sequence[str], None],
    token_scope: Union[str, Sequence[str], None],
    token_issuer: Optional[str],
    cert: Union[_PathLike, Tuple[_PathLike, _PathLike], bool, None],
    auth: Optional[Tuple[str, str]],
    url: Optional[str],
    force_noauth: bool,
    fail_if_noauth: bool,
    raise_for_status: bool,
) -> dict[str, Any]:
    """The :class:`sesame.Session` keyword arguments for igwn-auth-utils' ones."""
    if force_noauth and fail_if_noauth:
        # igwn-auth-utils raises ValueError for this pair too.
        raise ValueError("cannot select both force_noauth and fail_if_noauth")
    kw: dict[str, Any] = {"auth": "discover", "raise_for_status": raise_for_status}
    if token is None:
        token = _bool_env("IGWN_AUTH_UTILS_FIND_SCITOKEN")
    if cert is None:
        cert = _bool_env("IGWN_AUTH_UTILS_FIND_X509")
    if isinstance(token, bool):
        kw["token_discovery"] = _discovery(token)
    elif token is not None:
        kw["token"] = _token_text(token)
    if isinstance(cert, bool):
        kw["x509_discovery"] = _discovery(cert)
    elif isinstance(cert, tuple):
        kw["cert"], kw["key"] = os.fspath(cert[0]), os.fspath(cert[1])
    elif cert is not None:
        kw["cert"] = os.fspath(cert)
    if auth is not None:
        if not (isinstance(auth, tuple) and len(auth) == 2):
            raise TypeError("auth must be a (username, password) tuple")
        kw["auth"] = auth
    if url is not None:
        kw["base_url"] = _origin(url)
    if token_audience is not None:
        kw["token_audience"] = token_audience
    if token_scope is not None:
        # igwn-auth-utils takes one space-separated string (as a token's `scope` claim).
        scopes = token_scope.split() if isinstance(token_scope, str) else list(token_scope)
        kw["required_scope"] = scopes
    if token_issuer is not None:
        kw["trusted_issuers"] = [token_issuer]
    if force_noauth:
        kw["force_noauth"] = True
    if fail_if_noauth:
        kw["fail_if_noauth"] = True
    return kw


class Session:
    """``igwn_auth_utils.Session`` with sesame underneath.

    Arguments (igwn-auth-utils' names and defaults):

    - ``token``: a token to send (``str``, ``bytes`` or ``scitokens.SciToken``) instead of
      discovering one; ``None`` (default) discovers one (WLCG Bearer Token Discovery).
    - ``token_audience``: the ``aud`` a discovered token must name (str or list; default
      the ``scheme://host`` of each request).
    - ``token_scope``: scopes a discovered token must grant (``"read:/data"``; several
      separated by spaces).
    - ``token_issuer``: use only tokens from this issuer (``iss``).
    - ``cert``: a certificate (or proxy) file, or a ``(cert, key)`` tuple; ``None``
      (default) discovers one (``X509_USER_PROXY``, ``/tmp/x509up_u<uid>``, …). Token and
      certificate are attached together.
    - ``auth``: a ``(username, password)`` tuple (HTTP Basic).
    - ``url``: the service this session talks to: its origin becomes the base URL (relative
      URLs join it) and the default audience.
    - ``force_noauth``: send no credential at all.
    - ``fail_if_noauth``: raise before sending when no credential is found.
    - ``raise_for_status``: raise :class:`sesame.HTTPError` for any status of 400 or more
      (default ``True``, as igwn-auth-utils).

    Any other keyword is a :class:`sesame.Session` argument (``ca_bundle=``, ``timeout=``,
    ``min_valid=``, ``verify_signature=``, ``profile=``, …).

    sesame scopes a credential to one origin: requests go through one
    :class:`sesame.Session` per origin (``scheme://host:port``), made on first use with these
    arguments (with ``url=``, the one for that origin is made at once, so that
    ``fail_if_noauth`` fails here as in igwn-auth-utils). :attr:`session` is that first one.
    """

    def __init__(
        self,
        token: Any = None,
        token_audience: Union[str, Sequence[str], None] = None,
        token_scope: Union[str, Sequence[str], None] = None,
        token_issuer: Optional[str] = None,
        cert: Union[_PathLike, Tuple[_PathLike, _PathLike], bool, None] = None,
        auth: Optional[Tuple[str, str]] = None,
        url: Optional[str] = None,
        force_noauth: bool = False,
        fail_if_noauth: bool = False,
        raise_for_status: bool = True,
        **kwargs: Any,
    ) -> None:
        kw = _arguments(
            token,
            token_audience,
            token_scope,
            token_issuer,
            cert,
            auth,
            None,
            force_noauth,
            fail_if_noauth,
            raise_for_status,
        )
        # igwn-auth-utils' own arguments, which one request may override.
        self._igwn: Dict[str, Any] = {
            "token": token,
            "token_audience": token_audience,
            "token_scope": token_scope,
            "token_issuer": token_issuer,
            "cert": cert,
            "auth": auth,
            "force_noauth": force_noauth,
            "fail_if_noauth": fail_if_noauth,
        }
        self._raise = raise_for_status
        self._given_token = token
        self._profile: Optional[str] = kwargs.pop("profile", None)
        clash = sorted((set(kw) | {"base_url"}) & set(kwargs))
        if clash:
            raise TypeError(f"{', '.join(clash)}: given twice (an igwn argument and a sesame one)")
        self._extra = kwargs
        kw.update(kwargs)
        self._kw = kw
        self._sessions: Dict[str, _sesame.Session] = {}
        # Sessions for requests that override the auth arguments, by origin and overrides.
        self._overridden: Dict[Tuple[str, Tuple[Tuple[str, Any], ...]], _sesame.Session] = {}
        self._first: Optional[str] = None
        if url is not None:
            self._for(_origin(url))

    def _for(self, origin: str) -> _sesame.Session:
        s = self._sessions.get(origin)
        if s is None:
            s = _sesame.Session(self._profile, base_url=origin, **self._kw)
            self._sessions[origin] = s
            if self._first is None:
                self._first = origin
        return s

    def _for_request(self, origin: str, overrides: Dict[str, Any]) -> _sesame.Session:
        """The session for a request that sets some of the auth arguments itself."""
        if not overrides:
            return self._for(origin)
        key = (origin, tuple(sorted((k, _hashable(v)) for k, v in overrides.items())))
        s = self._overridden.get(key)
        if s is None:
            merged = dict(self._igwn)
            # As in igwn-auth-utils: a request's force_noauth/fail_if_noauth replace the
            # session's (they are not merged); its token/cert/… win where given.
            merged["force_noauth"] = overrides.get("force_noauth", False)
            merged["fail_if_noauth"] = overrides.get("fail_if_noauth", False)
            merged.update({k: v for k, v in overrides.items() if k not in ("force_noauth", "fail_if_noauth")})
            kw = _arguments(
                merged["token"],
                merged["token_audience"],
                merged["token_scope"],
                merged["token_issuer"],
                merged["cert"],
                merged["auth"],
                None,
                merged["force_noauth"],
                merged["fail_if_noauth"],
                self._raise,
            )
            kw.update(self._extra)
            s = _sesame.Session(self._profile, base_url=origin, **kw)
            self._overridden[key] = s
        return s

    @property
    def session(self) -> _sesame.Session:
        """The :class:`sesame.Session` of ``url=`` (else of the first request's origin)."""
        if self._first is None:
            raise ConfigError("no request has been made and no url= was given", kind="config")
        return self._sessions[self._first]

    @property
    def base_url(self) -> Optional[str]:
        """The origin of ``url=`` (else of the first request), ``None`` before either."""
        return self._first

    @property
    def token(self) -> Any:
        """The token requests carry, as a ``scitokens.SciToken`` (igwn-auth-utils'
        ``Session.token``): the one given as ``token=``, else the one sesame found for
        :attr:`session`'s origin, deserialised by ``scitokens`` as igwn-auth-utils' discovery
        does (its signature checked against the issuer's keys, its audience against the
        origin or ``token_audience``). ``None`` when no token is used, ``scitokens`` refuses
        it (an opaque or unverifiable token), or ``scitokens`` is not installed."""
        try:
            import scitokens  # type: ignore[import-untyped]
        except ImportError:
            return None
        if isinstance(self._given_token, scitokens.SciToken):
            return self._given_token
        if self._first is None or self._igwn["force_noauth"] or self._given_token is False:
            return None
        try:
            text = self.session.token()
        except Exception:
            return None
        audience = self._igwn["token_audience"] or self._first.rstrip("/")
        try:
            return scitokens.SciToken.deserialize(text, audience=audience)
        except Exception:
            return None

    def request(self, method: str, url: str, **kwargs: Any) -> _sesame.Response:
        """Sends a request to a full URL (or, with ``url=``, one relative to its origin).

        igwn-auth-utils' per-request ``token=``, ``cert=``, ``token_audience=``,
        ``token_scope=``, ``token_issuer=``, ``auth=``, ``force_noauth=`` and
        ``fail_if_noauth=`` apply to this request only."""
        overrides = {k: kwargs.pop(k) for k in _AUTH_ARGS if k in kwargs}
        overrides = {
            k: v for k, v in overrides.items() if v is not None and not (k in ("force_noauth", "fail_if_noauth") and v is False)
        }
        if "//" in url:
            return self._for_request(_origin(url), overrides).request(method, url, **kwargs)
        if self._first is None:
            raise ConfigError("a relative URL needs url= (the service's origin)", kind="config")
        return self._for_request(self._first, overrides).request(method, url, **kwargs)

    def get(self, url: str, params: Any = None, **kwargs: Any) -> _sesame.Response:
        return self.request("GET", url, params=params, **kwargs)

    def options(self, url: str, **kwargs: Any) -> _sesame.Response:
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> _sesame.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> _sesame.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> _sesame.Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> _sesame.Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> _sesame.Response:
        return self.request("DELETE", url, **kwargs)

    def status(self) -> Dict[str, Any]:
        """:meth:`sesame.Session.status` of :attr:`session`."""
        return self.session.status()

    def close(self) -> None:
        for s in list(self._sessions.values()) + list(self._overridden.values()):
            s.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<sesame.igwn.Session origins={sorted(self._sessions)!r}>"
