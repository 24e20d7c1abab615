"""sesame.AsyncSession, and secrets kept out of repr, exception text and logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

import sesame
from conftest import m2m_kwargs, run_async


def test_async_session(idp, server):
    async def main():
        async with sesame.AsyncSession(**m2m_kwargs(idp)) as s:
            r = await s.get("whoami")
            assert r.status_code == 200 and r.json()["client_id"] == "m2m-basic"
            # many at once on one session
            rs = await asyncio.gather(*(s.get("whoami") for _ in range(50)))
            assert {x.status_code for x in rs} == {200}
            tok = await s.token()
            assert tok.count(".") == 2
            st = await s.status()
            assert st["valid"] is True
            assert "AsyncSession" in repr(s)
        async with sesame.AsyncSession(base_url=server.url("/api/")) as s:
            r = await s.post("echo", json={"a": 1})
            assert r.json()["body"] == '{"a": 1}'
            r = await s.get("stream", params={"n": 3, "size": 100}, stream=True)
            chunks = [c async for c in r.aiter_content(150)]
            assert [len(c) for c in chunks] == [150, 150]
            r = await s.get("stream", params={"n": 2, "size": 5}, stream=True)
            assert await r.aread() == b"AAAAABBBBB" == r.content
            with pytest.raises(sesame.HTTPError):
                (await s.get("status/404")).raise_for_status()
        with pytest.raises(sesame.Error, match="closed"):
            await s.get("echo")

    run_async(main())


def test_async_errors(idp):
    async def main():
        s = sesame.AsyncSession(**m2m_kwargs(idp, client_secret="nope"))
        with pytest.raises(sesame.AuthError) as e:
            await s.get("whoami")
        assert e.value.error == "invalid_client"
        await s.close()

    run_async(main())


SECRETS = ["tok-SECRET-0123456789abcdef", "cs-SECRET-0123456789", "pw-SECRET-0123456789", "q-SECRET-0123456789"]


def no_secret(text: str) -> None:
    for s in SECRETS:
        assert s not in text, f"secret {s!r} leaked into {text!r}"


def test_no_secret_in_reprs_exceptions_or_logs(idp, server, caplog):
    caplog.set_level(logging.DEBUG, logger="sesame")
    bearer = sesame.Session(base_url=server.url("/api/"), auth="bearer", token=SECRETS[0])
    no_secret(repr(bearer))
    no_secret(repr(bearer.status()))
    r = bearer.get("echo", params={"access_token": SECRETS[3]})
    assert r.json()["headers"]["authorization"] == f"Bearer {SECRETS[0]}"
    no_secret(repr(r))
    no_secret(repr(r.headers))
    r404 = bearer.get("status/404", params={"access_token": SECRETS[3]})
    with pytest.raises(sesame.HTTPError) as e:
        r404.raise_for_status()
    no_secret(str(e.value) + repr(e.value) + e.value.url + e.value.message)
    with pytest.raises(sesame.TransportError) as e:
        bearer.get("http://127.0.0.1:9/x", params={"token": SECRETS[3]})
    no_secret(str(e.value) + repr(e.value))

    pw = sesame.Session(
        base_url=idp.api,
        auth="password",
        issuer=idp.issuer,
        client_id="password-client",
        client_secret=SECRETS[1],
        username="alice",
        password=SECRETS[2],
        cache="memory",
    )
    no_secret(repr(pw))
    with pytest.raises(sesame.AuthError) as e:
        pw.get("whoami")
    assert e.value.error in ("invalid_client", "invalid_grant")
    no_secret(str(e.value) + repr(e.value) + repr(e.value.error_description))

    cc = sesame.Session(**m2m_kwargs(idp))
    tok = cc.token()
    no_secret(repr(cc))
    assert tok not in repr(cc) and tok not in repr(cc.status())

    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session(auth="bearer", token=SECRETS[0])  # no base URL
    no_secret(str(e.value) + repr(e.value))

    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    assert caplog.records, "the library's events reach the `sesame` logger"
    no_secret(logs)
    assert tok not in logs


def test_raise_for_status_masks_a_credential_the_server_echoed(server):
    """Issue 13 item 10: an API that echoes the request in its error body does not get the
    bearer token into HTTPError's text or message."""
    s = sesame.Session(base_url=server.url("/api/"), auth="bearer", token=SECRETS[0])
    r = s.get("echo-error")
    assert r.status_code == 400 and SECRETS[0] in r.text, "the body itself is the server's"
    with pytest.raises(sesame.HTTPError) as e:
        r.raise_for_status()
    assert "authorization: [redacted]" in e.value.message, e.value.message
    no_secret(str(e.value) + repr(e.value) + e.value.message)
    s.close()
