"""The ways users drive many requests at once, checked for correctness (each caller gets
its own response, every request carries the credential), not for speed: bench/run entry is
the long, timed version."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import sesame

TOKEN = "shape-token-0123456789"
N = 400


def bearer(cls, server):
    return cls(base_url=server.url("/api/"), auth="bearer", token=TOKEN)


def check(i, r):
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == f"i={i}", "a response went to the wrong caller"
    assert body["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert r.headers["content-type"] == "application/json"


def test_thread_pool_one_future_per_request(server):
    with bearer(sesame.Session, server) as s, ThreadPoolExecutor(32) as pool:
        futures = {i: pool.submit(s.get, "echo", params={"i": i}) for i in range(N)}
        for i, f in futures.items():
            check(i, f.result(timeout=60))
    assert len(server.seen("/api/echo")) == N


def test_async_session_many_tasks(server):
    async def main():
        async with bearer(sesame.AsyncSession, server) as s:
            todo = iter(range(N))
            got = {}

            async def worker():
                for i in todo:
                    got[i] = await s.get("echo", params={"i": i})

            await asyncio.gather(*(worker() for _ in range(64)))
            for i in range(N):
                check(i, got[i])

    asyncio.run(main())
    assert len(server.seen("/api/echo")) == N


def test_async_session_on_several_loops(server):
    """One session, loops one after another and at the same time in other threads: each
    loop gets its own completions."""
    s = bearer(sesame.AsyncSession, server)

    async def some(tag):
        rs = await asyncio.gather(*(s.get("echo", params={"i": f"{tag}-{k}"}) for k in range(20)))
        for k, r in enumerate(rs):
            check(f"{tag}-{k}", r)

    asyncio.run(some("first"))
    asyncio.run(some("second"))
    errors = []

    def in_thread(tag):
        try:
            asyncio.run(some(tag))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=in_thread, args=(f"t{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


def test_async_cancel_and_errors(server):
    async def main():
        async with bearer(sesame.AsyncSession, server) as s:
            # A cancelled request (wait_for's timeout) leaves the session working.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(s.get("slow", params={"ms": 3000}), 0.2)
            check(1, await s.get("echo", params={"i": 1}))
            # Errors arrive as exceptions of the awaited call, next to successes.
            rs = await asyncio.gather(
                s.get("echo", params={"i": 2}),
                s.get("http://127.0.0.1:9/nothing-listens"),
                return_exceptions=True,
            )
            check(2, rs[0])
            assert isinstance(rs[1], sesame.TransportError)

    asyncio.run(main())


def test_pool_thread_error_masks_the_credential(server):
    """A request made on a pool thread (which waits without the main thread's signal
    slices) and raised there masks the token the server echoed: the mask is made when the
    error is, from the credential headers the response keeps."""
    with bearer(sesame.Session, server) as s, ThreadPoolExecutor(4) as pool:

        def call():
            r = s.get("echo-error")
            assert r.status_code == 400 and TOKEN in r.text
            with pytest.raises(sesame.HTTPError) as e:
                r.raise_for_status()
            return e.value

        errs = [f.result(timeout=60) for f in [pool.submit(call) for _ in range(8)]]
    for err in errs:
        assert "authorization: [redacted]" in err.message, err.message
        assert TOKEN not in str(err) + repr(err) + err.message
