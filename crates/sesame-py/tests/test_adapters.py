"""sesame.RequestsAuth on requests.Session, sesame.HttpxAuth on httpx.Client and
httpx.AsyncClient: scoping, redirects, the single 401 retry."""

from __future__ import annotations

import httpx
import pytest
import requests

import sesame
from conftest import m2m_kwargs, run_async


@pytest.fixture
def kw(idp, server):
    return m2m_kwargs(idp, base_url=server.url("/api/"))


def auth_of(resp_json):
    return resp_json["headers"].get("authorization")


# ---------------------------------------------------------------- requests


def test_requests_auth_is_an_authbase_and_scoped(kw, server, other_server):
    auth = sesame.RequestsAuth(**kw)
    assert isinstance(auth, requests.auth.AuthBase)
    with requests.Session() as s:
        s.auth = auth
        inside = auth_of(s.get(server.url("/api/echo")).json())
        assert inside and inside.startswith("Bearer ")
        assert auth_of(s.get(other_server.url("/api/echo")).json()) is None
        assert auth_of(s.get(server.url("/other/echo")).json()) is None
        # redirect to another origin: nothing there
        r = s.get(server.url("/api/redirect"), params={"to": other_server.url("/api/echo")})
        assert r.url == other_server.url("/api/echo") and auth_of(r.json()) is None
        # redirect out of the path prefix on the same origin: nothing there either
        r = s.get(server.url("/api/redirect"), params={"to": server.url("/other/echo")})
        assert auth_of(r.json()) is None
        # redirect within the scope keeps it
        r = s.get(server.url("/api/redirect"), params={"to": server.url("/api/echo")})
        assert auth_of(r.json()) == inside
    # also as a per-request auth
    assert auth_of(requests.get(server.url("/api/echo"), auth=auth).json()) == inside


def test_requests_auth_401_renews_once_and_resends_once(idp, kw, server):
    auth = sesame.RequestsAuth(**kw)
    idp.reset_stats()
    with requests.Session() as s:
        s.auth = auth
        r = s.post(server.url("/api/401-first-token"), data=b"payload")
        assert r.status_code == 200
        seen = server.seen("/api/401-first-token")
        assert len(seen) == 2 and seen[1].body == b"payload"
        assert seen[0].headers["authorization"] != seen[1].headers["authorization"]
        assert [h.status_code for h in r.history] == [401]
        assert idp.token_total() == 2
        server.clear()
        idp.reset_stats()
        r = s.get(server.url("/api/always-401"))
        assert r.status_code == 401
        assert len(server.seen("/api/always-401")) == 2
        assert idp.token_total() == 1


def test_requests_auth_does_not_retry_unauthenticated_requests(kw, other_server):
    auth = sesame.RequestsAuth(**kw)
    r = requests.get(other_server.url("/api/always-401"), auth=auth)
    assert r.status_code == 401 and len(other_server.seen()) == 1


# ---------------------------------------------------------------- httpx


def test_httpx_auth_sync(idp, kw, server, other_server):
    auth = sesame.HttpxAuth(**kw)
    assert isinstance(auth, httpx.Auth)
    with httpx.Client(auth=auth, follow_redirects=True) as c:
        inside = auth_of(c.get(server.url("/api/echo")).json())
        assert inside and inside.startswith("Bearer ")
        assert auth_of(c.get(other_server.url("/api/echo")).json()) is None
        assert auth_of(c.get(server.url("/other/echo")).json()) is None
        r = c.get(server.url("/api/redirect"), params={"to": other_server.url("/api/echo")})
        assert str(r.url) == other_server.url("/api/echo") and auth_of(r.json()) is None
        r = c.get(server.url("/api/redirect"), params={"to": server.url("/api/echo")})
        assert auth_of(r.json()) == inside
        idp.reset_stats()
        server.clear()
        r = c.put(server.url("/api/401-first-token"), content=b"body")
        assert r.status_code == 200
        seen = server.seen("/api/401-first-token")
        assert len(seen) == 2 and seen[1].body == b"body"
        assert idp.token_total() == 1
        server.clear()
        r = c.get(server.url("/api/always-401"))
        assert r.status_code == 401 and len(server.seen("/api/always-401")) == 2


def test_httpx_guard_hook_strips_out_of_path_redirects(kw, server):
    auth = sesame.HttpxAuth(**kw)
    with httpx.Client(auth=auth, follow_redirects=True, event_hooks={"request": [auth.strip_out_of_scope]}) as c:
        r = c.get(server.url("/api/redirect"), params={"to": server.url("/other/echo")})
        assert auth_of(r.json()) is None
        r = c.get(server.url("/api/redirect"), params={"to": server.url("/api/echo")})
        assert auth_of(r.json())


def test_httpx_auth_async(idp, kw, server, other_server):
    auth = sesame.HttpxAuth(**kw)

    async def main():
        async with httpx.AsyncClient(
            auth=auth, follow_redirects=True, event_hooks={"request": [auth.astrip_out_of_scope]}
        ) as c:
            inside = auth_of((await c.get(server.url("/api/echo"))).json())
            assert inside and inside.startswith("Bearer ")
            assert auth_of((await c.get(other_server.url("/api/echo"))).json()) is None
            r = await c.get(server.url("/api/redirect"), params={"to": other_server.url("/api/echo")})
            assert auth_of(r.json()) is None
            r = await c.get(server.url("/api/redirect"), params={"to": server.url("/other/echo")})
            assert auth_of(r.json()) is None
            server.clear()
            idp.reset_stats()
            r = await c.get(server.url("/api/401-first-token"))
            assert r.status_code == 200 and len(server.seen("/api/401-first-token")) == 2
            assert idp.token_total() == 1
            server.clear()
            r = await c.get(server.url("/api/always-401"))
            assert r.status_code == 401 and len(server.seen("/api/always-401")) == 2

    run_async(main())


def test_adapter_reprs_hold_no_secret(kw):
    kw = dict(kw, client_secret="adapter-secret-value-42")
    for a in (sesame.RequestsAuth(**kw), sesame.HttpxAuth(**kw)):
        assert "adapter-secret-value-42" not in repr(a)
        assert "sesame." in repr(a)
