"""Python shapes of arguments and errors (issue 15): lists and tuples for every list-valued
profile key, requests' ``auth=(username, password)``, one ``HTTPError`` subclass per common
status, and ``expires_after`` as seconds, a ``timedelta`` or a dict.

Most cases fail before these shapes were supported. A few are regression guards for shapes
that already worked and must keep working next to the new ones: a str for ``scopes`` and
``audience``, lists and tuples for ``audience``, ``credential_headers``, ``required_scope``
and ``trusted_issuers``, an int ``expires_after``, the other ``auth=`` forms, statuses
without a subclass, and the check that the keys tested are the engine's list keys."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re
import time

import pytest

import sesame
from conftest import ROOT, m2m_kwargs


def engine_list_keys():
    """The keys the engine's `profile!` table marks `=> List`."""
    text = (ROOT / "crates" / "sesame-app" / "src" / "config" / "profile.rs").read_text()
    return sorted(re.findall(r"^\s*(\w+)\s*:\s*[^=\n]+=>\s*List\s*,", text, re.M))


LIST_KEYS = [
    "audience",
    "credential_headers",
    "openbao_addr",
    "required_scope",
    "scopes",
    "token_audience",
    "trusted_issuers",
]


def test_the_list_keys_tested_here_are_the_engines():
    # A new `=> List` key must get its shapes tested below.
    assert engine_list_keys() == LIST_KEYS


# ---------------------------------------------------------------- list-valued keys


@pytest.mark.parametrize("shape", [list, tuple, " ".join], ids=["list", "tuple", "str"])
def test_openbao_addr_in_every_shape_reaches_the_cluster_settings(idp, shape):
    # Each node address is checked when the credential is built: the second one is the bad
    # one, so the error proves the whole list arrived.
    kw = m2m_kwargs(idp, cache="openbao", openbao_addr=shape(["http://127.0.0.1:1", "ftp://bao.example"]))
    with pytest.raises(sesame.ConfigError, match="ftp://bao.example"):
        sesame.Session(**kw)


@pytest.mark.parametrize("shape", [list, tuple, " ".join, ",".join], ids=["list", "tuple", "str", "str-commas"])
def test_scopes_in_every_shape_reach_the_token_request(idp, shape):
    # Without `scopes` the provider grants none to this client; the ones asked for come back
    # in the token (the protected API echoes its `scope` claim).
    with sesame.Session(**m2m_kwargs(idp)) as s:
        assert not (s.get("whoami").json()["scope"] or "").split()
    with sesame.Session(**m2m_kwargs(idp, scopes=shape(["api", "email"]))) as s:
        granted = s.get("whoami").json()["scope"]
    assert sorted(granted.split()) == ["api", "email"]


@pytest.mark.parametrize("shape", [list, tuple, lambda v: v[0]], ids=["list", "tuple", "str"])
def test_audience_in_every_shape_reaches_the_token_request(idp, shape):
    api = idp.issuer + "/api"
    with sesame.Session(**m2m_kwargs(idp, audience=shape([api]))) as s:
        assert s.get("whoami").json()["aud"] in (api, [api])
    # The value is really used: an audience the API does not accept gets a token it refuses.
    with sesame.Session(**m2m_kwargs(idp, audience=shape(["urn:not-this-api"]))) as s:
        assert s.get("whoami").status_code == 401


@pytest.mark.parametrize("shape", [list, tuple, lambda v: v[0]], ids=["list", "tuple", "str"])
def test_credential_headers_in_every_shape_are_dropped_off_origin(server, other_server, shape):
    with sesame.Session(base_url=server.url("/api/"), redirects="all", credential_headers=shape(["X-Auth"])) as s:
        r = s.get(
            "redirect",
            params={"to": other_server.url("/elsewhere/echo")},
            headers={"X-Auth": "hand-set-credential", "X-Plain": "kept"},
        )
    assert r.status_code == 200
    got = r.json()["headers"]
    assert got.get("x-plain") == "kept"
    assert "x-auth" not in got, "a credential header left the origin"


def fake_jwt(**claims):
    def part(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    claims.setdefault("exp", int(time.time()) + 3600)
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize("shape", [list, tuple, lambda v: v[0]], ids=["list", "tuple", "str"])
def test_required_scope_and_trusted_issuers_in_every_shape_select_the_discovered_token(
    server, monkeypatch, shape
):
    token = fake_jwt(iss="https://issuer.example", sub="u", scope="storage.read:/data")
    monkeypatch.setenv("BEARER_TOKEN", token)

    def sent(**kw):
        with sesame.Session(base_url=server.url("/api/"), auth="discover", **kw) as s:
            return s.get("echo").json()["headers"].get("authorization")

    assert sent() == f"Bearer {token}"
    assert sent(required_scope=shape(["storage.read:/data"])) == f"Bearer {token}"
    assert sent(required_scope=shape(["storage.write:/data"])) is None
    assert sent(trusted_issuers=shape(["https://issuer.example"])) == f"Bearer {token}"
    assert sent(trusted_issuers=shape(["https://other.example"])) is None


@pytest.mark.parametrize("shape", [list, tuple, lambda v: v[0]], ids=["list", "tuple", "str"])
def test_token_audience_in_every_shape_selects_the_discovered_token(server, monkeypatch, shape):
    token = fake_jwt(aud="https://gracedb.example", sub="u")
    monkeypatch.setenv("BEARER_TOKEN", token)

    def sent(**kw):
        with sesame.Session(base_url=server.url("/api/"), auth="discover", **kw) as s:
            return s.get("echo").json()["headers"].get("authorization")

    assert sent() is None, "the aud is not the base URL's origin"
    assert sent(token_audience=shape(["https://gracedb.example"])) == f"Bearer {token}"
    assert sent(token_audience=shape(["https://other.example"])) is None


@pytest.mark.parametrize("key", LIST_KEYS)
def test_list_keys_refuse_items_that_are_not_strings(key):
    with pytest.raises(TypeError, match=f"`{key}`: every item must be a str, not int"):
        sesame.Session(auth="discover", **{key: ["ok", 3]})
    with pytest.raises(TypeError, match=f"`{key}` must be a str or a list or tuple of str, not set"):
        sesame.Session(auth="discover", **{key: {"a"}})


# ---------------------------------------------------------------- auth=(username, password)

PASSWORD = "tuple-pw-9f3c1e"


def test_auth_tuple_is_http_basic(server):
    server.basic = ("alice", PASSWORD)
    with sesame.Session(base_url=server.url("/api/"), auth=("alice", PASSWORD)) as s:
        assert s.auth == "basic"
        assert s.status()["credential"]["username"] == "alice"
        r = s.get("basic-auth")
        assert r.status_code == 200 and r.json() == {"user": "alice"}
        assert PASSWORD not in repr(s) and PASSWORD not in repr(s.status())
    # The password may come from the environment, like password={"env": …}.
    with pytest.MonkeyPatch.context() as m:
        m.setenv("TUPLE_PW", PASSWORD)
        with sesame.Session(base_url=server.url("/api/"), auth=("alice", {"env": "TUPLE_PW"})) as s:
            assert s.get("basic-auth").status_code == 200


def test_async_session_takes_the_auth_tuple(server):
    import asyncio

    server.basic = ("alice", PASSWORD)

    async def main():
        async with sesame.AsyncSession(base_url=server.url("/api/"), auth=("alice", PASSWORD)) as s:
            return (await s.get("basic-auth")).status_code

    assert asyncio.run(main()) == 200


def test_auth_tuple_keeps_the_password_secret(server, caplog):
    caplog.set_level(logging.DEBUG, logger="sesame")
    wrong = "wrong-" + PASSWORD
    server.basic = ("alice", PASSWORD)
    s = sesame.Session(base_url=server.url("/api/"), auth=("alice", wrong))
    encoded = base64.b64encode(f"alice:{wrong}".encode()).decode()
    assert wrong not in repr(s) and wrong not in repr(s.status())
    r = s.get("basic-auth")
    assert r.status_code == 401
    with pytest.raises(sesame.Unauthorized) as e:
        r.raise_for_status()
    text = str(e.value) + repr(e.value) + e.value.message
    assert wrong not in text and encoded not in text
    # A server that echoes the request does not get it into the error either.
    r = s.get("echo-error")
    assert r.status_code == 400 and encoded in r.text
    with pytest.raises(sesame.BadRequest) as e:
        r.raise_for_status()
    text = str(e.value) + repr(e.value) + e.value.message
    assert wrong not in text and encoded not in text, text
    s.close()
    # Wrong shapes fail without showing the values.
    for bad, match in [
        (("alice",), "takes two items, not 1"),
        (("alice", wrong, "x"), "takes two items, not 3"),
        ((7, wrong), "the username must be a str, not int"),
        (("alice", 7), "the password must be a str or a dict"),
    ]:
        with pytest.raises(TypeError, match=match) as e:
            sesame.Session(base_url=server.url("/api/"), auth=bad)
        assert wrong not in str(e.value)
    with pytest.raises(sesame.ConfigError, match="`password=` both") as e:
        sesame.Session(base_url=server.url("/api/"), auth=("alice", wrong), password=wrong)
    assert wrong not in str(e.value)
    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    assert caplog.records and wrong not in logs and encoded not in logs


def test_other_auth_forms_still_work(server):
    with sesame.Session(base_url=server.url("/api/"), auth="bearer", token="tok-123") as s:
        assert s.get("echo").json()["headers"]["authorization"] == "Bearer tok-123"
    server.basic = ("bob", PASSWORD)
    with sesame.Session(base_url=server.url("/api/"), auth="basic", username="bob", password=PASSWORD) as s:
        assert s.get("basic-auth").status_code == 200
    with pytest.raises(sesame.ConfigError, match="argument `auth`"):
        sesame.Session(base_url=server.url("/api/"), auth=["bob", PASSWORD])


# ---------------------------------------------------------------- status-specific errors

CLASSES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "ServerError",
    502: "ServerError",
    503: "ServerError",
    504: "ServerError",
    599: "ServerError",
}


@pytest.mark.parametrize("code", sorted(CLASSES))
def test_each_status_raises_its_httperror_subclass(server, code):
    cls = getattr(sesame, CLASSES[code])
    assert issubclass(cls, sesame.HTTPError) and CLASSES[code] in sesame.__all__
    assert cls.__module__ == "sesame"
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get(f"status/{code}")
    with pytest.raises(cls) as e:
        r.raise_for_status()
    assert type(e.value) is cls
    assert e.value.status == code == e.value.status_code and e.value.response is r
    assert f"server says {code}" in e.value.message
    # `except sesame.HTTPError` still catches it.
    try:
        r.raise_for_status()
    except sesame.HTTPError as caught:
        assert caught.status == code
    # No other status class matches.
    for other in set(CLASSES.values()) - {CLASSES[code]}:
        assert not isinstance(e.value, getattr(sesame, other))


@pytest.mark.parametrize("code", [402, 405, 410, 418, 422])
def test_other_statuses_raise_httperror_itself(server, code):
    with sesame.Session(base_url=server.url("/api/")) as s:
        r = s.get(f"status/{code}")
    with pytest.raises(sesame.HTTPError) as e:
        r.raise_for_status()
    assert type(e.value) is sesame.HTTPError and e.value.status == code


def test_async_responses_raise_the_subclass_too(server):
    import asyncio

    async def main():
        async with sesame.AsyncSession(base_url=server.url("/api/")) as s:
            (await s.get("status/404")).raise_for_status()

    with pytest.raises(sesame.NotFound):
        asyncio.run(main())


# ---------------------------------------------------------------- expires_after


@pytest.mark.parametrize(
    "value",
    [300, 299.5, datetime.timedelta(minutes=5), {"minutes": 5}, {"days": 1, "hours": 2}],
    ids=["int", "float", "timedelta", "dict", "dict-days-hours"],
)
def test_expires_after_shapes_keep_responses_fresh(server, value):
    # The echo route sends no caching headers: without expires_after every GET goes out.
    with sesame.Session(base_url=server.url("/api/"), http_cache=True) as s:
        s.get("echo?control=1")
        s.get("echo?control=1")
    assert len(server.seen("/api/echo?control=1")) == 2
    with sesame.Session(base_url=server.url("/api/"), http_cache=True, expires_after=value) as s:
        first = s.get("echo?shape=1").json()
        assert s.get("echo?shape=1").json() == first
    assert len(server.seen("/api/echo?shape=1")) == 1, "the second GET was served from the cache"


def test_expires_after_refuses_what_is_not_a_duration():
    with pytest.raises(TypeError, match="keyword arguments of datetime.timedelta"):
        sesame.Session(http_cache=True, expires_after={"fortnights": 1})
    with pytest.raises(TypeError, match="`expires_after` must be"):
        sesame.Session(http_cache=True, expires_after="1h")
    with pytest.raises(TypeError, match="not bool"):
        sesame.Session(http_cache=True, expires_after=True)
    for negative in (-1.5, datetime.timedelta(seconds=-3), {"hours": -1}):
        with pytest.raises(sesame.ConfigError, match="argument `expires_after`"):
            sesame.Session(http_cache=True, expires_after=negative)
