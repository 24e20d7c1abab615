"""The Python contenders of bench/run: the same work as `sesame-bench load` and `token-loop`.

    python peers.py load --contender requests|igwn|itkdb|odsbox|sesame-py --url URL
                         --n N --concurrency C --token-file F [--issuer ISSUER] [--warmup W]
                         [--shape loop|executor|async]
    python peers.py token-loop --contender igwn|sesame-py --n N --token-file F
    python peers.py setup-check   # imports and versions, one JSON line

Shapes (how users drive a session): `loop` (default) is one loop (C = 1) or C threads each
looping; `executor` is `concurrent.futures.ThreadPoolExecutor(C)` with one future per request
(the thread-pool shape most code uses); `async` is `sesame.AsyncSession`, awaited in one loop
(C = 1) or from C asyncio tasks, each looping.

Each run prints one JSON line on stdout. Every loop is bounded by --n. The URL is the one
the driver gives (127.0.0.1 only).
"""

import argparse
import itertools
import json
import os
import sys
import threading
import time


def vm_kib():
    hwm = rss = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return hwm, rss


def read_token(path):
    with open(path) as f:
        return f.read().strip()


# -- session factories: how each library's users build an authenticated session ----------

def make_requests(a, token):
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def make_igwn(a, token):
    import igwn_auth_utils

    # Session(token=…): the serialised token is attached to every request; the session
    # still runs its per-request auth preparation (X.509 discovery included), as it does
    # for its users.
    return igwn_auth_utils.Session(token=token)


def make_itkdb(a, token):
    import itkdb.core

    base = a.url.rsplit("/", 1)[0] + "/"
    # UserBearer needs no ITk server (authenticate() is a no-op); the response cache
    # (a FileCache in ./.webcache by default) is off so that every GET goes to the server.
    return itkdb.core.Session(user=itkdb.core.UserBearer(bearer=token), prefix_url=base, cache=False)


def make_odsbox(a, token):
    # odsbox.ConIFactory.m2m builds exactly this (odsbox/con_i_factory.py) and then opens
    # an ASAM ODS connection with it; there is no ODS server here, so the session is built
    # the same way and used directly.
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the local provider is http
    client = BackendApplicationClient(client_id=a.client_id, scope=a.scope.split())
    oauth = OAuth2Session(client=client)
    oauth.verify = True
    oauth.fetch_token(
        token_url=a.issuer.rstrip("/") + "/token",
        client_id=a.client_id,
        client_secret=a.client_secret,
    )
    return oauth


class NoRequest:
    """Stands in for a session but makes no request: `get` only releases and retakes the GIL
    (`time.sleep(0)`, as a binding's blocking call does). Under the executor shape it
    measures what the pool's own hand-offs cost, the part no binding can take away."""

    status_code = 200
    content = b""

    def get(self, url):
        time.sleep(0)
        return self


def make_none(a, token):
    return NoRequest()


def machine_busy_jiffies():
    """CPU time the whole machine has spent busy (USER_HZ ticks, /proc/stat): every process,
    the server's and a runtime's threads included."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7] if len(v) >= 8 else None


# The machine's busy ticks at the start and end of the measured window.
BUSY = [None, None]


def make_sesame_py(a, token):
    import sesame

    return sesame.Session(profile=a.profile)


def make_sesame_async(a, token):
    import sesame

    return sesame.AsyncSession(profile=a.profile)


FACTORIES = {
    "requests": make_requests,
    "igwn": make_igwn,
    "itkdb": make_itkdb,
    "odsbox": make_odsbox,
    "sesame-py": make_sesame_py,
    "none": make_none,
    # The same package from another build (the driver points PYTHONPATH at it): a before/after
    # comparison within one run.
    "sesame-py-before": make_sesame_py,
}

# Sessions that are documented as safe to share between threads; the others get one
# session per thread (requests.Session is not thread-safe, and its pool holds 10 connections).
SHARED = {"sesame-py", "sesame-py-before", "none"}


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    i = round((len(sorted_values) - 1) * p)
    return sorted_values[min(i, len(sorted_values) - 1)]


def cmd_load(a):
    token = read_token(a.token_file)
    factory = FACTORIES[a.contender]
    url = a.url
    n = a.n
    conc = max(1, a.concurrency)
    failures = [0]
    first_error = [None]
    lock = threading.Lock()

    def one(session):
        try:
            r = session.get(url)
            ok = r.status_code == 200
            err = None if ok else f"status {r.status_code}"
            _ = r.content
        except Exception as e:  # noqa: BLE001 - a failed request, whatever the library raised
            ok, err = False, f"{type(e).__name__}: {e}"
        if not ok:
            with lock:
                failures[0] += 1
                if first_error[0] is None:
                    first_error[0] = err[:300]
        return ok

    clock = time.perf_counter_ns
    if a.shape == "async":
        lat, elapsed = run_async(a, token, n, conc, failures, first_error)
    elif a.shape == "executor":
        lat, elapsed = run_executor(a, token, factory, one, n, conc, failures, first_error)
    elif conc == 1:
        s = factory(a, token)
        for _ in range(a.warmup):
            one(s)
        failures[0] = 0
        lat = []
        push = lat.append
        BUSY[0] = machine_busy_jiffies()
        t0 = clock()
        for _ in range(n):
            t = clock()
            one(s)
            push(clock() - t)
        elapsed = (clock() - t0) / 1e9
        BUSY[1] = machine_busy_jiffies()
    else:
        shared = factory(a, token) if a.contender in SHARED else None
        barrier = threading.Barrier(conc + 1)
        counter = itertools.count()
        per_thread = []
        per_warm = max(1, -(-a.warmup // conc))
        errors = []

        def worker():
            try:
                s = shared if shared is not None else factory(a, token)
                for _ in range(per_warm):
                    one(s)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")
                s = None
            mine = []
            per_thread.append(mine)
            barrier.wait()
            if s is None:
                return
            push = mine.append
            while next(counter) < n:
                t = clock()
                one(s)
                push(clock() - t)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(conc)]
        for t in threads:
            t.start()
        barrier.wait(timeout=600)
        failures[0] = 0
        BUSY[0] = machine_busy_jiffies()
        t0 = clock()
        for t in threads:
            t.join(timeout=900)
        elapsed = (clock() - t0) / 1e9
        BUSY[1] = machine_busy_jiffies()
        lat = [x for m in per_thread for x in m]
        if errors:
            first_error[0] = first_error[0] or errors[0]
            failures[0] += n - len(lat)
    lat.sort()
    hwm, rss = vm_kib()
    print(json.dumps({
        "contender": a.contender,
        "shape": a.shape,
        # USER_HZ is 100 on every Linux: a tick is 10,000 µs.
        "machine_cpu_us_per_req": (BUSY[1] - BUSY[0]) * 10_000 / n if None not in BUSY else None,
        "n": n,
        "concurrency": conc,
        "elapsed_s": elapsed,
        "rps": n / elapsed if elapsed > 0 else 0,
        "median_us": percentile(lat, 0.5) / 1000,
        "p90_us": percentile(lat, 0.9) / 1000,
        "p99_us": percentile(lat, 0.99) / 1000,
        "failures": failures[0],
        "first_error": first_error[0],
        "vmhwm_kib": hwm,
        "vmrss_kib": rss,
    }))


def run_executor(a, token, factory, one, n, conc, failures, first_error):
    """One future per request on a ThreadPoolExecutor(conc), results taken in order: the
    pool's hand-offs (queue, future, result) are part of what is measured. Sessions that
    are not thread-safe get one per pool thread."""
    from concurrent.futures import ThreadPoolExecutor

    clock = time.perf_counter_ns
    if a.contender in SHARED:
        shared = factory(a, token)

        def get_session():
            return shared
    else:
        local = threading.local()

        def get_session():
            s = getattr(local, "s", None)
            if s is None:
                s = local.s = factory(a, token)
            return s

    def task():
        t = clock()
        one(get_session())
        return clock() - t

    with ThreadPoolExecutor(conc) as ex:
        # Warm-up: every pool thread started, connections open.
        for f in [ex.submit(task) for _ in range(max(a.warmup, 2 * conc))]:
            f.result()
        failures[0] = 0
        first_error[0] = None
        BUSY[0] = machine_busy_jiffies()
        t0 = clock()
        futures = [ex.submit(task) for _ in range(n)]
        lat = [f.result() for f in futures]
        elapsed = (clock() - t0) / 1e9
        BUSY[1] = machine_busy_jiffies()
    return lat, elapsed


def run_async(a, token, n, conc, failures, first_error):
    """sesame.AsyncSession: sequential awaits (conc = 1) or conc tasks, each looping."""
    import asyncio

    if not a.contender.startswith("sesame-py"):
        raise SystemExit(f"no async shape for {a.contender}")
    clock = time.perf_counter_ns

    async def one(s):
        try:
            r = await s.get(a.url)
            ok = r.status_code == 200
            err = None if ok else f"status {r.status_code}"
            _ = r.content
        except Exception as e:  # noqa: BLE001
            ok, err = False, f"{type(e).__name__}: {e}"
        if not ok:
            failures[0] += 1
            if first_error[0] is None:
                first_error[0] = err[:300]

    async def main():
        s = make_sesame_async(a, token)
        counter = itertools.count()

        async def worker(lat):
            while next(counter) < n:
                t = clock()
                await one(s)
                lat.append(clock() - t)

        for _ in range(max(1, -(-a.warmup // conc))):
            await asyncio.gather(*(one(s) for _ in range(conc)))
        failures[0] = 0
        first_error[0] = None
        lats = [[] for _ in range(conc)]
        BUSY[0] = machine_busy_jiffies()
        t0 = clock()
        await asyncio.gather(*(worker(l) for l in lats))
        elapsed = (clock() - t0) / 1e9
        BUSY[1] = machine_busy_jiffies()
        return [x for l in lats for x in l], elapsed

    return asyncio.run(main())


def cmd_token_loop(a):
    """Work C: a valid token from a warm cache, in process, timed in batches."""
    n = a.n
    batches = 20
    per = max(1, n // batches)
    if a.contender == "igwn":
        # igwn_auth_utils' bearer-token-file reader: the WLCG discovery location
        # (BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u<uid>), read and deserialised with
        # its signature checked (scitokens' key cache, warm after the first call), then the
        # 60 s time-left check. (find_scitoken itself refuses the provider's RFC 9068
        # tokens: scitokens' enforcer has no validator for the `client_id` claim.)
        from igwn_auth_utils.scitokens import default_bearer_token_file, load_token_file

        path = default_bearer_token_file()

        def call():
            t = load_token_file(path, insecure=a.insecure)
            if t["exp"] - time.time() <= 60:
                raise SystemExit("token has less than 60 s left")
            return t
    elif a.contender == "sesame-py":
        import sesame

        s = sesame.Session(profile=a.profile)

        def call():
            return s.token(60)
    else:
        raise SystemExit(f"no token-loop for {a.contender}")
    call()  # warm
    per_call = []
    t0 = time.perf_counter_ns()
    for _ in range(batches):
        t = time.perf_counter_ns()
        for _ in range(per):
            call()
        per_call.append((time.perf_counter_ns() - t) / per)
    total = time.perf_counter_ns() - t0
    per_call.sort()
    print(json.dumps({
        "contender": a.contender,
        "calls": per * batches,
        "median_ns": percentile(per_call, 0.5),
        "mean_ns": total / (per * batches),
        "vmhwm_kib": vm_kib()[0],
    }))


def cmd_setup_check(a):
    out = {"python": sys.version.split()[0]}
    for mod, dist in (("requests", "requests"), ("igwn_auth_utils", "igwn-auth-utils"),
                      ("itkdb", "itkdb"), ("odsbox", "odsbox"),
                      ("requests_oauthlib", "requests-oauthlib"), ("sesame", "sesame")):
        try:
            __import__(mod)
            from importlib.metadata import version
            try:
                out[dist] = version(dist)
            except Exception:  # noqa: BLE001
                out[dist] = "installed"
        except Exception as e:  # noqa: BLE001
            out[dist] = None
            out[dist + "_error"] = f"{type(e).__name__}: {e}"[:300]
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["load", "token-loop", "setup-check"])
    p.add_argument("--contender", default="requests")
    p.add_argument("--url", default="")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--token-file", default="")
    p.add_argument("--issuer", default="")
    p.add_argument("--client-id", default="m2m-basic")
    p.add_argument("--client-secret", default=os.environ.get("BENCH_CLIENT_SECRET", ""))
    p.add_argument("--scope", default="api")
    p.add_argument("--profile", default="bench")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--shape", choices=["loop", "executor", "async"], default="loop")
    a = p.parse_args()
    {"load": cmd_load, "token-loop": cmd_token_loop, "setup-check": cmd_setup_check}[a.cmd](a)


if __name__ == "__main__":
    main()
