"""Type stubs of the extension module ``sesame._sesame`` (the Rust engine's bindings).

Import the names from :mod:`sesame`, not from here.
"""

from __future__ import annotations

import os
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

__version__: str
USER_AGENT: str

def _cli_main(argv: List[str]) -> int:
    """Runs the ``sesame`` command (``argv[0]`` is the program name) with the GIL released;
    returns its exit code. Used by the ``sesame`` console script."""

_Params = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, bytes, None]
_Headers = Union[Mapping[str, Union[str, bytes, None]], Sequence[Tuple[str, Union[str, bytes]]], None]
_Data = Union[bytes, bytearray, memoryview, str, Mapping[str, Any], Sequence[Tuple[str, Any]], Any, None]
_Files = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]
_Timeout = Union[float, Tuple[Optional[float], Optional[float]], None]
_Secret = Union[str, Mapping[str, str]]
_PathLike = Union[str, "os.PathLike[str]"]
_Scopes = Union[str, Sequence[str]]
# requests' `auth=(username, password)`: HTTP Basic (the password a secret like `password=`).
_Auth = Union[str, Tuple[str, _Secret], None]
_Login = Optional[Literal["browser", "device", "no-browser"]]
# `page_handler(kind, info)`: the landing page's HTML, or None for the template / built-in one.
_PageHandler = Callable[[str, Dict[str, str]], Optional[str]]

class Headers(Mapping[str, str]):
    """Response headers: a read-only mapping with case-insensitive names.

    Several header lines with one name are joined with ``", "`` (as in requests);
    :meth:`get_all` returns them one by one. Names are given in lower case.
    """

    def __getitem__(self, name: str) -> str: ...
    def __contains__(self, name: object) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    @overload
    def get(self, name: str) -> Optional[str]:
        """The value of ``name`` (any case), or ``default``."""
    @overload
    def get(self, name: str, default: Any) -> Any: ...
    def get_all(self, name: str) -> List[str]:
        """Every value of ``name``, one per header line."""
    def get_list(self, name: str) -> List[str]:
        """:meth:`get_all` under httpx's name."""
    def keys(self) -> List[str]:  # type: ignore[override]
        """The header names (lower case)."""
    def values(self) -> List[str]:  # type: ignore[override]
        """The values, in the order of :meth:`keys`."""
    def items(self) -> List[Tuple[str, str]]:  # type: ignore[override]
        """``(name, value)`` pairs."""

class Response:
    """The response to a request. The names are those of ``requests.Response``.

    Without ``stream=True`` the whole body was read when the request returned. ``bool(r)``
    is ``r.ok``. ``repr`` shows the status only.
    """

    @property
    def status_code(self) -> int:
        """The HTTP status code."""
    @property
    def ok(self) -> bool:
        """``True`` when the status is below 400."""
    @property
    def reason(self) -> str:
        """The reason phrase of the status (``"Not Found"``)."""
    @property
    def url(self) -> str:
        """The final URL, after redirects."""
    @property
    def method(self) -> str:
        """The request method."""
    @property
    def http_version(self) -> str:
        """``"HTTP/1.1"``, ``"HTTP/2"``, …"""
    @property
    def headers(self) -> Headers:
        """The response headers (case-insensitive)."""
    @property
    def content(self) -> bytes:
        """The body. For a streamed response, reads the rest of it first; raises
        ``RuntimeError`` if :meth:`iter_content` already consumed it."""
    @property
    def encoding(self) -> Optional[str]:
        """The encoding :attr:`text` uses: as set, else the ``charset`` of
        ``Content-Type``, else ``None`` (UTF-8)."""
    @encoding.setter
    def encoding(self, value: Optional[str]) -> None: ...
    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding` (else UTF-8); bad bytes are replaced."""
    def json(self, **kwargs: Any) -> Any:
        """The body parsed with ``json.loads(content, **kwargs)``; raises
        ``json.JSONDecodeError`` (a ``ValueError``) when it is not JSON."""
    def raise_for_status(self) -> None:
        """Raises :class:`sesame.HTTPError` (status, URL, the server's message, this
        response) when the status is 400 or more: the subclass for the status when there is
        one (:class:`sesame.BadRequest` 400, :class:`sesame.Unauthorized` 401,
        :class:`sesame.Forbidden` 403, :class:`sesame.NotFound` 404, :class:`sesame.Conflict`
        409, :class:`sesame.PayloadTooLarge` 413, :class:`sesame.UnsupportedMediaType` 415,
        :class:`sesame.TooManyRequests` 429, :class:`sesame.ServerError` 5xx)."""
    def iter_content(self, chunk_size: Optional[int] = 1, decode_unicode: bool = False) -> Iterator[Any]:
        """The body in chunks of ``chunk_size`` bytes (``None``: as they arrive). With
        ``stream=True`` it is read from the network as you iterate (and is then consumed);
        else it is sliced from :attr:`content`. ``decode_unicode=True`` yields ``str``."""
    def aiter_content(self, chunk_size: Optional[int] = None) -> AsyncIterator[bytes]:
        """``async for chunk in r.aiter_content()``: like :meth:`iter_content`, for
        :class:`AsyncSession` responses, without blocking the event loop."""
    def aread(self) -> Awaitable[bytes]:
        """``await r.aread()``: reads the rest of a streamed body; returns :attr:`content`."""
    def close(self) -> None:
        """Releases the connection of a streamed response that will not be read further."""
    def __enter__(self) -> Response: ...
    def __exit__(self, *args: Any) -> bool: ...
    def __bool__(self) -> bool: ...

class Session:
    """An authenticated HTTP session from a sesame profile.

    ``profile`` names a profile of the configuration file (``$SESAME_CONFIG``, else
    ``~/.config/sesame/config.toml``, or ``config=``); keyword arguments are profile keys
    and override ``SESAME_<KEY>`` environment variables, which override the file. Secrets
    (``token``, ``client_secret``, ``password``) may be strings or ``{"env": "VAR"}`` /
    ``{"file": "path"}``. ``timeout`` may be ``(connect, read)``. ``insecure=None`` keeps
    the profile's setting; with TLS verification off, creating the session issues
    :class:`sesame.InsecureWarning` every time.

    As in requests, ``auth=("user", "password")`` means HTTP Basic: ``auth="basic"`` with
    that ``username`` and ``password`` (the password is a secret like ``password=``: a
    string or ``{"env": …}`` / ``{"file": …}``; do not also pass ``username=`` or
    ``password=``). Any other ``auth`` is a kind name (``"bearer"``, ``"oidc"``, …).

    The list-valued keys (``scopes``, ``audience``, ``credential_headers``,
    ``required_scope``, ``trusted_issuers``) take a list or a tuple of strings, or one
    string (for ``scopes``, OAuth's space-separated list: ``"openid profile"``).
    ``expires_after`` (with ``http_cache=True``) takes seconds (``int`` or ``float``), a
    ``datetime.timedelta`` or a dict of its arguments (``{"days": 1, "hours": 2}``);
    fractions of a second round up.

    ``auth="json-grant"`` (itkdb's login) POSTs ``grant_body`` (a dict whose values are
    strings, numbers, booleans or secret sources ``{"env": …}`` / ``{"file": …}``) to
    ``grant_endpoint`` and reads the token at ``token_field`` (default ``"id_token"``)
    and its lifetime at ``expires_field`` (default ``"expires_in"``); the token is cached
    and renewed like an OAuth token.

    Two session options are not profile keys (cegal-keystoneauth's shapes):
    ``auto_login=True`` lets a request or :meth:`token` of an ``oidc``/``device`` profile log
    the person in when no usable token is cached — under the rules of ``sesame token``:
    only when ``sys.stdin`` and ``sys.stderr`` are terminals, else
    :class:`sesame.LoginRequired` as without it. ``page_handler=callable`` writes the
    browser's last page of a login: ``callable(kind, info)`` with ``kind`` ``"success"`` or
    ``"failure"`` and ``info`` a dict of ``issuer``, ``error``, ``error_description`` and
    ``message`` (the provider's text cleaned, not HTML-escaped) returns the HTML, or
    ``None`` for the profile's ``success_page``/``failure_page`` template or the built-in
    page (also shown when the handler raises).

    igwn-auth-utils' keys: ``raise_for_status=True`` makes every request raise
    :class:`sesame.HTTPError` (its subclass for the status, the response in ``.response``)
    for a status of 400 or more, as :meth:`Response.raise_for_status` does (default off);
    ``token_audience`` (str or list) is the ``aud`` a token must name instead of the base
    URL's ``scheme://host`` (``auth="discover"``: other tokens are passed over;
    ``auth="bearer"``: a JWT for another audience is refused); ``url=`` is another name for
    ``base_url``. :class:`sesame.igwn.Session` takes igwn-auth-utils' arguments as they are.

    Relative URLs join ``base_url``; the credential goes only to its origin and path
    prefix, redirects included. Tokens are cached (shared with the ``sesame`` command),
    renewed ahead of expiry with a single refresh however many threads need one, and a
    401 renews once and resends once.

    Thread-safe: share one session between threads. The GIL is released while requests,
    token work and logins run; Ctrl-C interrupts a blocking call. ``repr`` never shows a
    secret.
    """

    def __init__(
        self,
        profile: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        auth: _Auth = None,
        issuer: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[_Secret] = None,
        scopes: Optional[_Scopes] = None,
        audience: Optional[_Scopes] = None,
        token: Optional[_Secret] = None,
        cert: Optional[_PathLike] = None,
        key: Optional[_PathLike] = None,
        ca_bundle: Optional[_PathLike] = None,
        insecure: Optional[bool] = None,
        timeout: _Timeout = None,
        retries: Optional[int] = None,
        config: Optional[_PathLike] = None,
        auto_login: bool = False,
        page_handler: Optional[_PageHandler] = None,
        raise_for_status: Optional[bool] = None,
        token_audience: Optional[_Scopes] = None,
        url: Optional[str] = None,
        **more: Any,
    ) -> None: ...
    def request(
        self,
        method: str,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """Sends a request and returns the :class:`Response` (any status: call
        :meth:`Response.raise_for_status` to turn 4xx/5xx into :class:`sesame.HTTPError`).
        The arguments mean what they mean in requests; ``timeout=None`` keeps the session's."""
    def get(
        self,
        url: str,
        params: _Params = None,
        *,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A GET request."""
    def options(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """An OPTIONS request."""
    def head(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A HEAD request."""
    def post(
        self,
        url: str,
        data: _Data = None,
        json: Any = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A POST request."""
    def put(
        self,
        url: str,
        data: _Data = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A PUT request."""
    def patch(
        self,
        url: str,
        data: _Data = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A PATCH request."""
    def delete(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A DELETE request."""
    def token(
        self,
        min_valid: int = 60,
        *,
        force_refresh: bool = False,
        login: bool = False,
        scope: Optional[_Scopes] = None,
        audience: Optional[_Scopes] = None,
    ) -> str:
        """A valid access token with at least ``min_valid`` seconds left: from the cache
        when it can, else renewed (``force_refresh=True`` renews regardless). Raises
        :class:`sesame.ConfigError` for credentials that are not tokens.

        ``login=True`` (cegal's ``get_access_token()``): when the token cannot be had
        without a person, log in first — under the rules of ``sesame token`` (only on a
        terminal; else :class:`sesame.LoginRequired`).

        ``scope=`` / ``audience=`` (a str, space-separated, or a list) down-scope, as
        ``sesame token --scope/--audience``: a token for fewer scopes of the grant (RFC 6749
        §6) or for one resource (RFC 8707), cached under its own key while valid and shared
        with the command; never wider than the grant (the provider refuses)."""
    def login(self, mode: _Login = None) -> None:
        """Logs in now and stores the tokens in the profile's cache — the one ``sesame login``
        and ``sesame token`` use, so the shell and later sessions use them too.

        - ``auth="oidc"``: the browser flow (authorization code + PKCE, redirect to a
          loopback listener on 127.0.0.1). The URL is written to ``sys.stderr`` first, then
          a browser is opened (``$BROWSER``, else the platform's opener) unless
          ``mode="no-browser"``, ``$SSH_CONNECTION`` is set or there is no display; when
          none can be opened and the provider supports it, the device flow runs as well.
        - ``auth="device"``: the device flow (RFC 8628): the code and where to enter it
          are written to ``sys.stderr``; in a notebook (a Jupyter/IPython kernel) they are
          the cell's output instead — the link, the code and a QR code to scan — and the
          call waits for the approval.
        - ``mode="browser"`` / ``"device"`` pick the flow whatever the profile says (like
          ``sesame login --browser`` / ``--device``); ``"no-browser"`` opens nothing.
        - Unattended kinds (client-credentials, password) get a new token; static
          credentials need nothing.

        Raises :class:`sesame.LoginRequired` at once when nobody can take part (stdin and
        stderr are not both terminals and ``$BROWSER`` is not set, or ``"no-browser"``
        without terminals; an explicit ``mode="device"`` needs no terminal: the person
        approves on another device while this call polls), :class:`sesame.Timeout` after the profile's ``login_timeout``,
        :class:`sesame.AuthError` when the provider refuses. The GIL is released while it
        waits; Ctrl-C (``KeyboardInterrupt``) stops it and closes the loopback listener."""
    def logout(self, revoke: bool = False) -> Optional[str]:
        """Deletes the profile's cached tokens (revoking them at the provider first with
        ``revoke=True``). Returns the URL that ends the person's browser session at the provider (oidc/device logins, where the provider has an end-session endpoint; it names the client, never the ID token), else None."""
    def status(self) -> Dict[str, Any]:
        """The profile and its credential, tokens masked, no network — the same keys and
        types as ``sesame status --json``: ``profile``, ``config``, ``base_url``, ``issuer``
        (configured, else the one discovered when the cached token was obtained; ``None``
        when not known), ``auth``, ``credential`` (a dict of str), ``valid``; for a token
        credential ``token`` (masked; ``None`` when none is cached) and, with a cached token,
        ``subject`` (str or ``None``), ``scopes`` (list of str), ``audience`` (list of str,
        when the token names one), ``seconds_left`` (``None``: it does not expire) and
        ``refresh_token`` (bool). For a ``cache = "openbao"`` profile also ``cluster`` (a
        dict, the one network read: the shared record of the cluster token store):
        ``cluster_store`` (str: nodes, mount and path), ``record_version`` (int; ``None``
        when the cluster has no record yet), ``refreshed_by`` (``"<host>:<pid>"`` or
        ``None``), ``refreshed_at`` (Unix seconds or ``None``), while a host holds the
        refresh claim ``refreshing_by`` and ``claim_until``; or ``cluster_error`` (str)
        when the cluster could not be read."""
    def in_scope(self, url: str) -> bool:
        """Whether the credential would be sent to ``url`` (the base URL's origin and path
        prefix)."""
    @property
    def profile(self) -> str:
        """The profile name."""
    @property
    def auth(self) -> str:
        """The auth kind (``client-credentials``, ``bearer``, …)."""
    @property
    def base_url(self) -> Optional[str]:
        """The base URL relative URLs join."""
    def close(self) -> None:
        """Releases the connections; later calls raise :class:`sesame.Error`."""
    def __enter__(self) -> Session: ...
    def __exit__(self, *args: Any) -> bool: ...
    # ---- web-app login (oxd-python's job)
    def authorization_url(
        self, redirect_uri: str, state: Optional[str] = None, nonce: Optional[str] = None
    ) -> Tuple[str, str]:
        """Starts a server-side web-app login for an end user: the authorization code flow
        with PKCE (S256), ``state`` and ``nonce`` (random unless given, at least 16
        characters), pushed to the provider first when it offers pushed authorization
        requests (RFC 9126). ``redirect_uri`` is the application's own callback route, as
        registered for the client.

        Returns ``(url, pending)``: redirect the user's browser to ``url``; keep
        ``pending`` (a JSON str holding the PKCE verifier) in the application's
        **server-side** session until the callback, never in a cookie the browser can
        read. It is good for the profile's ``login_timeout`` (default 300 s)."""
    def exchange_code(self, pending: str, callback: Union[str, Mapping[str, Union[str, Sequence[str]]]]) -> Dict[str, Any]:
        """Finishes a web-app login on the application's callback route. ``callback`` is the
        URL the provider redirected to (absolute, or the path with its query, or the query
        alone) or a mapping of its query parameters (``parse_qs``' lists are fine).

        Checks, before the code is used: ``state`` (constant time), RFC 9207 ``iss``
        (required when the provider advertises it), the provider's ``error``, no repeated
        parameter, the pending login's age. Then exchanges the code with the PKCE
        verifier, verifies the ID token and its ``nonce`` and stores the tokens under the
        end user's ``sub`` in the profile's ``cache`` (``"memory"``: this session's own
        store; ``"file"``: one 0600 file per subject in the cache folder, shared by every
        worker process). Needs the ``openid`` scope.

        Returns ``{"subject", "claims" (the verified ID token's), "access_token",
        "expires_at" (Unix seconds or None), "scopes", "refresh_token" (whether one is
        stored)}``. Raises :class:`sesame.AuthError` for a refused callback or a provider
        error, :class:`sesame.LoginRequired` for an expired pending login,
        :class:`sesame.ConfigError` for a ``pending`` that is not one."""
    def for_user(self, subject: str) -> Session:
        """A :class:`Session` acting for the end user ``subject`` (after
        :meth:`exchange_code`): the profile's base URL and TLS, the user's token, renewed
        with their refresh token. Raises :class:`sesame.LoginRequired` (on a request or
        :meth:`token`) when the user must log in again."""
    def forget_user(self, subject: str) -> None:
        """Deletes the stored tokens of the end user ``subject`` (the application's
        logout)."""
    # ---- the provider's other endpoints
    def userinfo(self) -> Dict[str, Any]:
        """The claims of the userinfo endpoint (OpenID Connect Core §5.3) for the session's
        access token (renewed first if needed). Needs the ``openid`` scope."""
    def introspect(self, token: Optional[str] = None) -> Dict[str, Any]:
        """RFC 7662 introspection of ``token`` (default: the session's access token), the
        profile's client authenticating: ``{"active": bool, …}``."""
    def revoke(self) -> bool:
        """Revokes the session's cached refresh and access tokens at the provider (RFC
        7009) and deletes them from the cache. Returns whether there were any. Unlike
        :meth:`logout`, it returns no end-session URL."""
    def end_session_url(self, post_logout_redirect_uri: Optional[str] = None) -> Optional[str]:
        """The provider's end-session URL (OpenID Connect RP-Initiated Logout), naming the
        client (``client_id``), never the ID token, with ``post_logout_redirect_uri`` when
        given (it must be registered for the client). The cached tokens are kept. ``None``
        when the provider has no end-session endpoint."""
    def discover(self, url: str, webfinger_prefix: Optional[str] = None) -> Dict[str, Any]:
        """The provider an API names: WebFinger (RFC 7033) on ``url`` (under
        ``webfinger_prefix``, as ODS servers publish it), then the issuer's discovered
        metadata (``issuer``, ``token_endpoint``, …)."""
    def register(
        self,
        *,
        redirect_uris: Optional[List[str]] = None,
        client_name: Optional[str] = None,
        grant_types: Optional[List[str]] = None,
        response_types: Optional[List[str]] = None,
        token_endpoint_auth_method: Optional[str] = None,
        application_type: Optional[str] = None,
        scope: Optional[str] = None,
        initial_access_token: Optional[str] = None,
        save_profile: Optional[str] = None,
    ) -> Dict[str, Any]:
        """RFC 7591 dynamic client registration at the profile's provider (its ``issuer``,
        no ``client_id`` needed). Returns the provider's whole response, secrets included:
        ``client_id``, ``client_secret``, ``registration_access_token`` and
        ``registration_client_uri`` (for :meth:`read_registration`,
        :meth:`update_registration`, :meth:`delete_registration`), …

        ``save_profile="NAME"`` also writes the new client into the configuration file as
        profile ``NAME`` (as ``sesame register --save-profile NAME``): the auth kind from
        the grant types, this profile's issuer, base URL and scopes; the secret in a 0600
        file beside the configuration, referenced as ``{ file = … }``, never in the file
        itself. The answer then has ``saved_profile``: ``name``, ``config``,
        ``secret_file``."""
    def read_registration(self, registration_client_uri: str, registration_access_token: str) -> Dict[str, Any]:
        """RFC 7592 §2.1: the registration's current metadata."""
    def update_registration(
        self, registration_client_uri: str, registration_access_token: str, metadata: Mapping[str, Any]
    ) -> Dict[str, Any]:
        """RFC 7592 §2.2: replaces the registration's metadata with ``metadata`` (the whole
        client metadata; ``client_id`` is required by the RFC). Returns the new
        registration."""
    def delete_registration(self, registration_client_uri: str, registration_access_token: str) -> None:
        """RFC 7592 §2.3: deletes the registration; its client can no longer get tokens."""
    def _exchange(self) -> _AuthExchange:
        """For adapters: the engine's auth exchange for one request (attach within scope,
        then on a 401: done, or attach again and resend once)."""

class _AuthExchange:
    """One request's auth exchange, driven by the ``requests`` and ``httpx`` adapters."""

    def attach(self, method: str, url: str) -> Optional[List[Tuple[str, str]]]:
        """The credential headers for ``method url``, or ``None`` out of scope."""
    def attach_async(self, method: str, url: str) -> Awaitable[Optional[List[Tuple[str, str]]]]:
        """:meth:`attach` as an awaitable."""
    def on_response(self, method: str, url: str, status: int, challenge: Optional[str] = None) -> str:
        """The step after a response to the last request attached: ``"done"``, or
        ``"renew-and-resend"`` / ``"uma-ticket"`` (attach again and resend, once)."""
    def on_response_async(
        self, method: str, url: str, status: int, challenge: Optional[str] = None
    ) -> Awaitable[str]:
        """:meth:`on_response` as an awaitable."""
    @property
    def attached(self) -> bool:
        """Whether the credential went with the last request attached."""

class AsyncSession:
    """The asynchronous :class:`Session`: the same arguments (``auth=("user", "password")``
    for HTTP Basic, lists or tuples for the list-valued keys, ``expires_after`` as seconds,
    a ``timedelta`` or a dict) and methods, every call awaitable on asyncio
    (``async with sesame.AsyncSession("ods") as s: await s.get(…)``). Requests run on
    sesame's runtime; the event loop is never blocked."""

    def __init__(
        self,
        profile: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        auth: _Auth = None,
        issuer: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[_Secret] = None,
        scopes: Optional[_Scopes] = None,
        audience: Optional[_Scopes] = None,
        token: Optional[_Secret] = None,
        cert: Optional[_PathLike] = None,
        key: Optional[_PathLike] = None,
        ca_bundle: Optional[_PathLike] = None,
        insecure: Optional[bool] = None,
        timeout: _Timeout = None,
        retries: Optional[int] = None,
        config: Optional[_PathLike] = None,
        auto_login: bool = False,
        page_handler: Optional[_PageHandler] = None,
        raise_for_status: Optional[bool] = None,
        token_audience: Optional[_Scopes] = None,
        url: Optional[str] = None,
        **more: Any,
    ) -> None: ...
    async def request(
        self,
        method: str,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """Sends a request (see :meth:`Session.request`)."""
    async def get(
        self,
        url: str,
        params: _Params = None,
        *,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A GET request."""
    async def options(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """An OPTIONS request."""
    async def head(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A HEAD request."""
    async def post(
        self,
        url: str,
        data: _Data = None,
        json: Any = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A POST request."""
    async def put(
        self,
        url: str,
        data: _Data = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A PUT request."""
    async def patch(
        self,
        url: str,
        data: _Data = None,
        *,
        params: _Params = None,
        headers: _Headers = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A PATCH request."""
    async def delete(
        self,
        url: str,
        *,
        params: _Params = None,
        headers: _Headers = None,
        data: _Data = None,
        json: Any = None,
        files: _Files = None,
        timeout: _Timeout = None,
        stream: bool = False,
    ) -> Response:
        """A DELETE request."""
    async def token(
        self,
        min_valid: int = 60,
        *,
        force_refresh: bool = False,
        login: bool = False,
        scope: Optional[_Scopes] = None,
        audience: Optional[_Scopes] = None,
    ) -> str:
        """See :meth:`Session.token`."""
    async def login(self, mode: _Login = None) -> None:
        """See :meth:`Session.login`."""
    async def logout(self, revoke: bool = False) -> Optional[str]:
        """See :meth:`Session.logout`."""
    async def status(self) -> Dict[str, Any]:
        """See :meth:`Session.status`."""
    def in_scope(self, url: str) -> bool:
        """See :meth:`Session.in_scope` (not awaitable: no I/O)."""
    @property
    def profile(self) -> str:
        """The profile name."""
    @property
    def auth(self) -> str:
        """The auth kind."""
    @property
    def base_url(self) -> Optional[str]:
        """The base URL relative URLs join."""
    async def close(self) -> None:
        """Releases the connections; later calls raise :class:`sesame.Error`."""
    async def aclose(self) -> None:
        """:meth:`close` under httpx's name."""
    async def authorization_url(
        self, redirect_uri: str, state: Optional[str] = None, nonce: Optional[str] = None
    ) -> Tuple[str, str]:
        """See :meth:`Session.authorization_url` (for async web frameworks)."""
    async def exchange_code(
        self, pending: str, callback: Union[str, Mapping[str, Union[str, Sequence[str]]]]
    ) -> Dict[str, Any]:
        """See :meth:`Session.exchange_code`."""
    def for_user(self, subject: str) -> AsyncSession:
        """See :meth:`Session.for_user` (an :class:`AsyncSession`; not awaitable: no I/O)."""
    def forget_user(self, subject: str) -> None:
        """See :meth:`Session.forget_user` (not awaitable)."""
    async def userinfo(self) -> Dict[str, Any]:
        """See :meth:`Session.userinfo`."""
    async def introspect(self, token: Optional[str] = None) -> Dict[str, Any]:
        """See :meth:`Session.introspect`."""
    async def revoke(self) -> bool:
        """See :meth:`Session.revoke`."""
    async def end_session_url(self, post_logout_redirect_uri: Optional[str] = None) -> Optional[str]:
        """See :meth:`Session.end_session_url`."""
    async def discover(self, url: str, webfinger_prefix: Optional[str] = None) -> Dict[str, Any]:
        """See :meth:`Session.discover`."""
    async def register(
        self,
        *,
        redirect_uris: Optional[List[str]] = None,
        client_name: Optional[str] = None,
        grant_types: Optional[List[str]] = None,
        response_types: Optional[List[str]] = None,
        token_endpoint_auth_method: Optional[str] = None,
        application_type: Optional[str] = None,
        scope: Optional[str] = None,
        initial_access_token: Optional[str] = None,
        save_profile: Optional[str] = None,
    ) -> Dict[str, Any]:
        """See :meth:`Session.register`."""
    async def __aenter__(self) -> AsyncSession: ...
    async def __aexit__(self, *args: Any) -> bool: ...
