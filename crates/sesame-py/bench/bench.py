"""Micro benchmark: sesame.Session vs requests.Session (not a test).

10,000 GETs, sequentially and from 64 threads, against a local keep-alive HTTP server that
answers 200 only with the right `Authorization: Bearer` header. Prints requests per second
(median of interleaved rounds) and the ratios.

    python bench/bench.py [--requests 10000] [--threads 64] [--rounds 3] [--url URL]

The server is nginx when it is installed (`apt-get install nginx-light`: the yardstick of
shared/PEERS.md, one worker), else a small asyncio server in a child process (then the
server, not the clients, is the bottleneck: the figures say little). Build sesame with
`SESAME_PY_PROFILE=release scripts/test-python` (or `maturin build --release`) first: a
debug build measures the debug build. requests must be installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, List, Optional

TOKEN = "bench-token-0123456789abcdef"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            if ($http_authorization != "Bearer {token}") {{ return 401; }}
            default_type text/plain;
            return 200 "ok\\n";
        }}
    }}
}}
"""

ASYNCIO_SERVER = r"""
import asyncio, sys
TOKEN = sys.argv[2].encode()
class P(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, d):
        self.buf += d
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            ok = b"\r\nauthorization: bearer " + TOKEN.lower() in head.lower()
            body = b"ok\n" if ok else b"no\n"
            status = b"200 OK" if ok else b"401 Unauthorized"
            self.t.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\n" + body)
async def main():
    srv = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the bench server did not listen on port {port}")


class Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sesame-bench-")
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if nginx:
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=self.port, token=TOKEN))
            self.kind = "nginx (1 worker)"
            self.proc = subprocess.Popen([nginx, "-p", self.dir, "-c", conf], stderr=subprocess.DEVNULL)
        else:
            self.kind = "asyncio fallback (install nginx for meaningful figures)"
            self.proc = subprocess.Popen([sys.executable, "-c", ASYNCIO_SERVER, str(self.port), TOKEN])
        wait_for(self.port)
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_sequential(get: Callable[[], int], n: int) -> float:
    failures = 0
    t0 = time.perf_counter()
    for _ in range(n):
        if get() != 200:
            failures += 1
    dt = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{failures} of {n} requests failed")
    return n / dt


def run_threads(make_get: Callable[[], Callable[[], int]], n: int, threads: int) -> float:
    per = n // threads
    failures: List[int] = []
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        get = make_get()
        barrier.wait()
        bad = 0
        for _ in range(per):
            if get() != 200:
                bad += 1
        failures.append(bad)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    if sum(failures):
        raise RuntimeError(f"{sum(failures)} of {per * threads} requests failed")
    return per * threads / dt


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--url", help="an existing server that wants `Authorization: Bearer " + TOKEN + "`")
    args = ap.parse_args(argv)

    import requests

    import sesame

    server = None if args.url else Server()
    url = args.url or server.url
    try:
        print(f"server: {server.kind if server else url}")
        print(f"sesame {sesame.__version__} ({sesame.__file__}), requests {requests.__version__}, Python {sys.version.split()[0]}")
        print(f"{args.requests} GETs per run, {args.threads} threads, median of {args.rounds} interleaved rounds")

        shared = sesame.Session(base_url=url, auth="bearer", token=TOKEN)

        def sesame_get() -> int:
            return shared.get(url).status_code

        def requests_session() -> Callable[[], int]:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {TOKEN}"
            return lambda: s.get(url).status_code

        # warm up both (connections, code paths)
        run_sequential(sesame_get, 200)
        run_sequential(requests_session(), 200)

        results = {k: [] for k in ("requests seq", "sesame seq", "requests threads", "sesame threads")}
        for r in range(args.rounds):
            results["requests seq"].append(run_sequential(requests_session(), args.requests))
            results["sesame seq"].append(run_sequential(sesame_get, args.requests))
            # requests.Session is not thread-safe: one per thread (as in PEERS.md)
            results["requests threads"].append(run_threads(requests_session, args.requests, args.threads))
            # sesame: one Session shared by every thread
            results["sesame threads"].append(run_threads(lambda: sesame_get, args.requests, args.threads))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in results.items()))
        med = {k: statistics.median(v) for k, v in results.items()}
        print()
        print(f"{'client':<34}{'sequential req/s':>18}{f'{args.threads} threads req/s':>20}")
        print(f"{'requests.Session':<34}{med['requests seq']:>18,.0f}{med['requests threads']:>20,.0f}")
        print(f"{'sesame.Session (one, shared)':<34}{med['sesame seq']:>18,.0f}{med['sesame threads']:>20,.0f}")
        print(
            f"{'ratio sesame / requests':<34}{med['sesame seq'] / med['requests seq']:>17.1f}x"
            f"{med['sesame threads'] / med['requests threads']:>19.1f}x"
        )
        shared.close()
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
