"""The ways users drive many requests at once, checked for correctness (each caller gets
its own response, every request carries the credential), not for speed: bench/run entry is
the long, timed version."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
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


# ---------------------------------------------------------------- the main thread's own pool
# Blocking requests on the main thread go through a copy of the session with a connection
# pool of its own, driven on the main thread (docs/design/python-performance.md). It must
# still behave as one session with the other threads.


def test_main_thread_copy_is_still_one_session(server):
    assert threading.current_thread() is threading.main_thread()
    s = bearer(sesame.Session, server)
    for i in range(20):
        check(i, s.get("echo", params={"i": i}))
    peers = {r.peer for r in server.seen("/api/echo")}
    assert len(peers) == 1, f"sequential requests on the main thread used {len(peers)} connections"
    with ThreadPoolExecutor(8) as pool:
        futures = {i: pool.submit(s.get, "echo", params={"i": i}) for i in range(100, 164)}
        for i, f in futures.items():
            check(i, f.result(timeout=60))
    # A streamed body is read later, here in another thread: it goes through the shared pool.
    r = s.get("stream", params={"n": 3, "size": 10}, stream=True)
    with ThreadPoolExecutor(1) as pool:
        body = pool.submit(lambda: b"".join(r.iter_content(10))).result(timeout=30)
    assert body == b"A" * 10 + b"B" * 10 + b"C" * 10
    # Closed from another thread: the main thread's copy is closed too.
    t = threading.Thread(target=s.close)
    t.start()
    t.join()
    before = len(server.seen("/api/echo"))
    with pytest.raises(sesame.Error, match="closed"):
        s.get("echo")
    assert len(server.seen("/api/echo")) == before


def itk_session(server, monkeypatch, query):
    from conftest import ITK_CODES

    monkeypatch.setenv("ITKDB_ACCESS_CODE1", ITK_CODES[0])
    monkeypatch.setenv("ITKDB_ACCESS_CODE2", ITK_CODES[1])
    return sesame.Session(
        base_url=server.url("/api/"),
        auth="json-grant",
        grant_endpoint=server.url("/itk/grantToken?" + query),
        grant_body={
            "grant_type": "password",
            "accessCode1": {"env": "ITKDB_ACCESS_CODE1"},
            "accessCode2": {"env": "ITKDB_ACCESS_CODE2"},
        },
        cache="memory",
    )


def test_renewal_from_a_pool_thread_while_the_main_thread_idles(server, monkeypatch):
    """The main thread's request gets the token, and leaves the connection to the grant
    endpoint open in the credential's pool. A pool thread then renews while the main
    thread sits in Python: that connection must be driven by the shared runtime, not by
    the main thread's (which runs only while the main thread waits for a request)."""
    s = itk_session(server, monkeypatch, "expires_in=1")
    assert s.get("echo").json()["headers"]["authorization"] == "Bearer itk-token-1"
    grant_peers = {r.peer for r in server.seen("/itk/")}
    time.sleep(1.2)  # the token has expired
    with ThreadPoolExecutor(1) as pool:
        r = pool.submit(s.get, "echo").result(timeout=30)
    assert r.json()["headers"]["authorization"] == "Bearer itk-token-2"
    assert server.grants == 2
    assert {r.peer for r in server.seen("/itk/")} == grant_peers, "the grant's connection was reused"


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_renewal_started_on_the_main_thread_outlives_its_ctrl_c(server, monkeypatch):
    """The main thread's request starts the token request (slow); pool threads wait for
    it; Ctrl-C drops the main thread's request, and with it that token request. One of the
    waiting threads then asks again and the others get its token: nobody hangs."""
    s = itk_session(server, monkeypatch, "ms=3000")
    with ThreadPoolExecutor(6) as pool:

        def later():
            time.sleep(0.3)  # the main thread's request has started the grant by now
            futures = [pool.submit(s.get, "echo", params={"i": i}) for i in range(4)]
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
            return futures

        starter = pool.submit(later)
        # Raises only if Ctrl-C came before the grant's answer (3 s): no timing assertion.
        with pytest.raises(KeyboardInterrupt):
            s.get("echo", params={"i": "main"})
        for i, f in enumerate(starter.result(timeout=10)):
            r = f.result(timeout=30)
            assert r.status_code == 200
            assert r.json()["headers"]["authorization"] == "Bearer itk-token-2"
    assert server.grants == 2, "the dropped request's grant, then one for all the waiting threads"
    assert s.get("echo").json()["headers"]["authorization"] == "Bearer itk-token-2"
