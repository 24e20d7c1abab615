"""The exceptions of sesame.

Every failure is a :class:`sesame.Error`; its subclass says what to do about it. Messages
come from the Rust engine and never contain a secret (tokens, passwords, client secrets,
codes): URLs have their query values redacted and server bodies are summarized.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
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
]


class Error(Exception):
    """Base class of every sesame error.

    ``kind`` names the engine's error class (``config``, ``oauth``, ``http``, …) and
    ``hint`` is a suggestion of what to do next, when sesame knows one.
    """

    kind: str
    hint: Optional[str]

    def __init__(self, message: str = "", *, kind: str = "other", hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.hint = hint

    def __str__(self) -> str:
        message = str(self.args[0]) if self.args else ""
        # The hint is shown with the message, so a traceback says what to do next.
        return f"{message}\nhint: {self.hint}" if self.hint else message

    def __repr__(self) -> str:
        message = str(self.args[0]) if self.args else ""
        return f"{type(self).__name__}({message!r})"


class ConfigError(Error):
    """The configuration file, a profile key or an argument is invalid or missing.

    The message names the file, line and key where it can.
    """


class CredentialError(ConfigError):
    """A credential could not be loaded or used: an unreadable or unsafe file, an expired
    certificate, a missing secret."""


class LoginRequired(Error):
    """No valid credential, and getting one needs a person (``sesame login``)."""


class AuthError(Error):
    """The identity provider said no (or misbehaved).

    ``error`` is the OAuth error code (``invalid_client``, ``invalid_grant``, …) and
    ``error_description`` the provider's text, when the provider sent them.
    """

    error: Optional[str]
    error_description: Optional[str]

    def __init__(
        self,
        message: str = "",
        *,
        error: Optional[str] = None,
        error_description: Optional[str] = None,
        kind: str = "oauth",
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message, kind=kind, hint=hint)
        self.error = error
        self.error_description = error_description


class HTTPError(Error):
    """The server answered with a status of 400 or more.

    ``status`` is the status code, ``url`` the URL (query values redacted), ``message`` the
    server's message (JSON pretty-printed, HTML reduced to text, binary summarized) and
    ``response`` the :class:`sesame.Response`, when there is one.

    The common statuses raise a subclass, so ``except sesame.NotFound:`` picks one status
    while ``except sesame.HTTPError:`` still catches them all: :class:`BadRequest` (400),
    :class:`Unauthorized` (401), :class:`Forbidden` (403), :class:`NotFound` (404),
    :class:`Conflict` (409), :class:`PayloadTooLarge` (413), :class:`UnsupportedMediaType`
    (415), :class:`TooManyRequests` (429) and :class:`ServerError` (every 5xx). Any other
    status raises ``HTTPError`` itself.
    """

    status: int
    url: str
    method: Optional[str]
    message: str
    response: Any

    def __init__(
        self,
        text: str = "",
        *,
        status: int = 0,
        url: str = "",
        method: Optional[str] = None,
        message: str = "",
        response: Any = None,
        kind: str = "http",
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(text, kind=kind, hint=hint)
        self.status = status
        self.url = url
        self.method = method
        self.message = message
        self.response = response

    @property
    def status_code(self) -> int:
        """``status`` under requests' name."""
        return self.status


class BadRequest(HTTPError):
    """400 Bad Request: the server refused the request as malformed or invalid."""


class Unauthorized(HTTPError):
    """401 Unauthorized: the credential was missing or refused, after sesame renewed it
    once and resent the request once."""


class Forbidden(HTTPError):
    """403 Forbidden: the credential is valid but not allowed to do this."""


class NotFound(HTTPError):
    """404 Not Found."""


class Conflict(HTTPError):
    """409 Conflict: the request conflicts with the resource's current state."""


class PayloadTooLarge(HTTPError):
    """413 Content Too Large (Payload Too Large): the request body is too big."""


class UnsupportedMediaType(HTTPError):
    """415 Unsupported Media Type: the server does not take the body's ``Content-Type``."""


class TooManyRequests(HTTPError):
    """429 Too Many Requests: rate limited; the server's ``Retry-After`` header, when it
    sent one, is in ``response.headers``."""


class ServerError(HTTPError):
    """A 5xx status: the server failed (500, 502, 503, 504, …); ``status`` says which."""


class TransportError(Error):
    """The request could not be sent or the response not read (DNS, connection, TLS)."""


class Timeout(Error):
    """A connect, request or login timeout elapsed."""


class DecodeError(Error):
    """A response body could not be decoded."""


class InsecureWarning(UserWarning):
    """Issued whenever a session (``Session``, ``AsyncSession``, ``RequestsAuth``,
    ``HttpxAuth``) is created with TLS certificate verification disabled (``insecure=True``,
    the profile's ``insecure = true`` or ``SESAME_INSECURE``).

    The level of the ``sesame`` logger does not hide it; silence it deliberately with
    ``warnings.filterwarnings("ignore", category=sesame.InsecureWarning)``.
    """
