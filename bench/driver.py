"""bench/run's driver: starts the provider and the bench server, runs every contender in
interleaved rounds, and writes the table (bench/results/latest.md, README between markers).

Run through `bash bench/run` (which installs the venv and builds the binaries first).

    python driver.py [default|soak|quick|entry|dpop|callgrind]

Environment knobs: BENCH_N (requests per run, 10000), BENCH_ROUNDS (5), BENCH_CONC (64),
BENCH_SPAWN_RUNS (30 per round), BENCH_SOAK_SECONDS (300), BENCH_SOAK_TTL (5),
BENCH_CONTENDERS (comma list to run only some), BENCH_SESAME_BIN, BENCH_BIN.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
BENCH_BIN = os.environ["BENCH_BIN"]
SESAME_BIN = os.environ["BENCH_SESAME_BIN"]
CLIENT_ID, CLIENT_SECRET = "m2m-basic", "m2m-basic-secret"
SCOPES = ["read:/", "api"]

RUST = ["raw", "raw-timeout", "sesame"]
PYTHON = ["requests", "igwn", "itkdb", "odsbox", "sesame-py"]
LABEL = {
    "raw": "raw reqwest, fixed header (floor)",
    "raw-timeout": "raw reqwest + 60 s client timeout (what a session has by default)",
    "sesame": "sesame `Session` (client-credentials, cached token)",
    "requests": "Python `requests.Session`, fixed header",
    "igwn": "`igwn_auth_utils.Session(token=…)`",
    "itkdb": "`itkdb.core.Session` + `UserBearer`",
    "odsbox": "odsbox m2m (`requests_oauthlib.OAuth2Session`)",
    "sesame-py": "Python `sesame.Session`",
}
PEERS = ["requests", "igwn", "itkdb", "odsbox"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return -1.0


class Proc:
    """A child that prints one JSON line when ready and lives while its stdin is open."""

    def __init__(self, argv, env, name, cwd=None):
        self.name = name
        self.err = open(WORK / f"{name}.stderr", "wb")
        self.p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err)
        line = self.p.stdout.readline()
        if not line:
            self.p.wait(timeout=10)
            raise SystemExit(f"{name} did not start; see {WORK / (name + '.stderr')}:\n"
                             + (WORK / f"{name}.stderr").read_text()[-2000:])
        self.info = json.loads(line)

    def stop(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.p.terminate()
            self.p.wait(timeout=10)
        self.err.close()


class Nginx:
    """nginx (one worker) on a free loopback port answering every GET with a small JSON
    body when it carries a bearer token: the second server of `bench/run entry`
    (`BENCH_ENTRY_SERVER=nginx`), as in the independent run that measured issue 19."""

    def __init__(self, name, pin=None):
        import socket
        d = WORK / name
        d.mkdir(parents=True, exist_ok=True)
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        (d / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/json;
      if ($http_authorization !~ "^Bearer .") {{ return 401 '{{"error":"unauthorized"}}'; }}
      return 200 '{{"items":[1,2,3],"ok":true}}';
    }}
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        argv = (pin or []) + [nginx, "-c", str(d / "nginx.conf"), "-p", str(d)]
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.info = {"port": port}
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.p.kill()
        raise SystemExit(f"nginx did not start: {self.p.stderr.read().decode(errors='replace')}")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def run_json(argv, env, timeout=900, what=None):
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, cwd=WORK)
    if r.returncode != 0:
        raise RuntimeError(f"{what or argv[:3]} failed ({r.returncode}): {r.stderr.decode()[-1500:]}")
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return json.loads(lines[-1])


def http_json(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:  # 127.0.0.1 only
        return json.loads(r.read() or b"null")


def base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESAME_", "BEARER_TOKEN", "SCITOKEN"))}
    env.update({
        "SESAME_CONFIG": str(WORK / "config.toml"),
        "SESAME_CACHE_DIR": str(WORK / "cache"),
        "XDG_CACHE_HOME": str(WORK / "xdg-cache"),       # scitokens' key cache
        "XDG_RUNTIME_DIR": str(WORK / "run"),
        "BEARER_TOKEN_FILE": str(WORK / "token"),
        "BENCH_CLIENT_SECRET": CLIENT_SECRET,
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def write_config(profiles):
    text = []
    for name, p in profiles.items():
        text.append(f"[profiles.{name}]")
        for k, v in p.items():
            text.append(f"{k} = {v}")
        text.append("")
    (WORK / "config.toml").write_text("\n".join(text))


def start_idp(env, ttl=None, name="idp"):
    e = dict(env)
    if ttl:
        e["SESAME_IDP_AT_TTL"] = str(ttl)
    idp = Proc(["node", str(ROOT / "testbed/idp/server.mjs")], e, name)
    log(f"{name}: {idp.info['issuer']}")
    return idp


def bench_profile_and_token(base, issuer, env, more=None):
    """Writes the `bench` profile and fetches its token once: the token every contender
    presents (sesame caches it; the fixed-header contenders and the token-file readers get
    the same string, in the returned file). `more`: {profile name: base URL} of further
    profiles, the same client against another server (the credential is only sent within
    a profile's base URL)."""
    scopes = "[" + ", ".join(f'"{s}"' for s in SCOPES) + "]"

    def profile(b):
        return {
            "base_url": f'"{b}"',
            "auth": '"client-credentials"',
            "issuer": f'"{issuer}"',
            "client_id": f'"{CLIENT_ID}"',
            "client_secret": '{ env = "BENCH_CLIENT_SECRET" }',
            "scopes": scopes,
        }
    write_config({"bench": profile(base), **{k: profile(b) for k, b in (more or {}).items()}})
    r = subprocess.run([SESAME_BIN, "token", "-p", "bench"], env=env, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"sesame token failed: {r.stderr.decode()}")
    token = r.stdout.decode().strip()
    tf = WORK / "token"
    tf.write_text(token + "\n")
    tf.chmod(0o600)
    return tf, token


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_int(v):
    return "–" if v is None else f"{v:,.0f}"


def fmt_ratio(v):
    if v is None:
        return "–"
    return f"{v:.3f}" if v < 2 else (f"{v:.1f}×" if v < 100 else f"{v:,.0f}×")


def fmt_us(v):
    if v is None:
        return "–"
    return f"{v:,.0f} µs" if v >= 100 else f"{v:.1f} µs"


def fmt_mib(kib):
    return "–" if not kib else f"{kib / 1024:.1f} MiB"


# ----------------------------------------------------------------------------- default

def default_mode(quick=False):
    n = int(os.environ.get("BENCH_N", "2000" if quick else "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "2" if quick else "5"))
    conc = int(os.environ.get("BENCH_CONC", "64"))
    spawn_runs = int(os.environ.get("BENCH_SPAWN_RUNS", "10" if quick else "30"))
    wanted = os.environ.get("BENCH_CONTENDERS")
    env = base_env()
    t_start = time.time()

    versions = run_json([PY, str(HERE / "peers.py"), "setup-check"], env, what="setup-check")
    log("python peers:", json.dumps(versions))
    contenders = list(RUST)
    for c in PYTHON:
        dist = {"igwn": "igwn-auth-utils", "sesame-py": "sesame"}.get(c, c)
        if c == "odsbox":
            ok = versions.get("odsbox") and versions.get("requests-oauthlib")
        else:
            ok = versions.get(dist)
        if ok:
            contenders.append(c)
        else:
            log(f"skipping {c}: {versions.get(dist + '_error', 'not installed')}")
    if wanted:
        contenders = [c for c in contenders if c in wanted.split(",")]

    # Tokens that outlive the whole run: the fixed-header contenders present one token
    # for ~15 minutes, and a refresh in the middle of a timed run is not what is measured.
    idp = start_idp(env, ttl=7200)
    issuer = idp.info["issuer"]
    server = Proc([BENCH_BIN, "server", "--introspect", issuer, "--max-seconds", "3600"], env, "server")
    base = f"http://127.0.0.1:{server.info['port']}/"
    url = base + "data"
    try:
        tf, token = bench_profile_and_token(base, issuer, env)
        log(f"token: {len(token)} bytes, cached in {WORK / 'cache'}")

        results = {"A": {c: [] for c in contenders}, "B": {c: [] for c in contenders}}
        ratio_rows = {"A": [], "B": []}

        def argv_for(c, concurrency):
            common = ["--url", url, "--n", str(n), "--concurrency", str(concurrency),
                      "--token-file", str(tf)]
            if c in RUST:
                extra = ["--profile", "bench"] if c == "sesame" else []
                return [BENCH_BIN, "load", "--contender", c] + common + extra
            return [PY, str(HERE / "peers.py"), "load", "--contender", c, "--issuer", issuer,
                    "--scope", " ".join(SCOPES), "--profile", "bench"] + common

        for rnd in range(rounds):
            order = contenders[rnd % len(contenders):] + contenders[:rnd % len(contenders)]
            for work, concurrency in (("A", 1), ("B", conc)):
                row = {}
                for c in order:
                    try:
                        res = run_json(argv_for(c, concurrency), env, what=f"{c} {work}")
                    except Exception as e:  # noqa: BLE001
                        log(f"round {rnd + 1} {work} {c}: FAILED: {e}")
                        continue
                    results[work][c].append(res)
                    row[c] = res["rps"]
                    log(f"round {rnd + 1}/{rounds} work {work} {c:>9}: {res['rps']:>9,.0f} req/s "
                        f"p50 {res['median_us']:>8.1f} µs  fail {res['failures']}  "
                        f"hwm {res['vmhwm_kib'] / 1024:.1f} MiB  load {load_avg():.2f}"
                        + (f"  first error: {res['first_error']}" if res.get("first_error") else ""))
                ratio_rows[work].append(row)

        # Work C: token from a warm cache, in process.
        work_c = {"sesame": [], "igwn": [], "sesame-py": []}
        for rnd in range(rounds):
            try:
                work_c["sesame"].append(run_json([BENCH_BIN, "token-loop", "--profile", "bench",
                                                  "--n", "200000"], env, what="token-loop"))
            except Exception as e:  # noqa: BLE001
                log(f"work C sesame: {e}")
            for c in ("igwn", "sesame-py"):
                if c not in contenders:
                    continue
                try:
                    work_c[c].append(run_json([PY, str(HERE / "peers.py"), "token-loop", "--contender", c,
                                               "--n", "400" if c == "igwn" else "200000",
                                               "--token-file", str(tf), "--insecure"], env,
                                              what=f"token-loop {c}"))
                except Exception as e:  # noqa: BLE001
                    log(f"work C {c}: {e}")

        # Work D/E: whole processes.
        igwn_py = ("from igwn_auth_utils.scitokens import load_token_file, default_bearer_token_file;"
                   "import time;"
                   "t = load_token_file(default_bearer_token_file(), insecure=True);"
                   "assert t['exp'] - time.time() > 60;"
                   "print(t._serialized_token)")
        procs = {
            "cat": ["cat", str(tf)],
            "sesame --version": [SESAME_BIN, "--version"],
            "sesame token": [SESAME_BIN, "token", "-p", "bench"],
            "python3 -c pass": [PY, "-c", "pass"],
            "python igwn token-file": [PY, "-c", igwn_py],
        }
        work_d = {k: [] for k in procs}
        for rnd in range(rounds):
            for name, argv in procs.items():
                runs = spawn_runs if "python" not in name else max(5, spawn_runs // 3)
                try:
                    work_d[name].append(run_json([BENCH_BIN, "spawn", "--n", str(runs), "--warmup", "2", "--"]
                                                 + argv, env, what=f"spawn {name}"))
                except Exception as e:  # noqa: BLE001
                    log(f"work D {name}: {e}")
        stats = http_json(issuer + "/test/stats")
        srv = http_json(base + "_bench/stats")
    finally:
        server.stop()
        idp.stop()

    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "n": n, "rounds": rounds, "conc": conc,
        "versions": versions,
        "load_end": load_avg(),
        "duration_s": round(time.time() - t_start),
        "token_requests": stats.get("token_total"),
        "server": srv,
        "cpu": cpu_model(),
    }
    raw = {"meta": meta, "results": results, "ratios": ratio_rows, "work_c": work_c, "work_d": work_d}
    name = "quick" if quick else "latest"
    (RESULTS / f"{name}.json").write_text(json.dumps(raw, indent=1))
    md = render(raw, contenders)
    print(md)
    (RESULTS / f"{name}.md").write_text(md)
    if not quick and not wanted:
        update_readme(md)  # only a full default run speaks for the README


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


def ratio_median(rows, a, b):
    """Median over rounds of (a's req/s ÷ b's req/s) in the same round."""
    vals = [r[a] / r[b] for r in rows if r.get(a) and r.get(b)]
    return statistics.median(vals) if vals else None


def render(raw, contenders):
    meta, results, ratios = raw["meta"], raw["results"], raw["ratios"]
    peers = [p for p in PEERS if p in contenders]
    out = []
    out.append(f"Measured {meta['date']} on {meta['cpu']} (shared), `bash bench/run`: "
               f"{meta['n']:,} GETs per run, {meta['rounds']} interleaved rounds, medians; ratios are "
               f"medians of per-round ratios. Work A sequential, Work B {meta['conc']} in flight "
               f"(Rust: {meta['conc']} tasks on one client/session, multi-thread runtime; Python: "
               f"{meta['conc']} threads). One local HTTP/1.1 keep-alive server (hyper, one thread) "
               f"checks `Authorization: Bearer`.")
    out.append("")
    has_py = bool(results["A"].get("sesame-py") or results["B"].get("sesame-py"))
    hdr = ["contender", "A req/s", "A p50", "A ÷ floor", "B req/s", "B p50", "B ÷ floor",
           "peak RSS (A / B)", "failures", "sesame ÷ this, A / B"]
    if has_py:
        hdr.append("Python sesame ÷ this, A / B")
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "---|" * len(hdr))
    for c in contenders:
        a, b = results["A"][c], results["B"][c]
        if not a and not b:
            continue
        fails = sum(r["failures"] for r in a + b)
        ra = ratio_median(ratios["A"], c, "raw")
        rb = ratio_median(ratios["B"], c, "raw")
        sa = ratio_median(ratios["A"], "sesame", c) if c != "sesame" else None
        sb = ratio_median(ratios["B"], "sesame", c) if c != "sesame" else None
        vs = "–" if c == "sesame" else f"{fmt_ratio(sa)} / {fmt_ratio(sb)}"
        extra = []
        if has_py:
            pa = ratio_median(ratios["A"], "sesame-py", c) if c != "sesame-py" else None
            pb = ratio_median(ratios["B"], "sesame-py", c) if c != "sesame-py" else None
            extra = ["–" if c == "sesame-py" else f"{fmt_ratio(pa)} / {fmt_ratio(pb)}"]
        out.append("| " + " | ".join([
            LABEL[c],
            fmt_int(med([r["rps"] for r in a])), fmt_us(med([r["median_us"] for r in a])), fmt_ratio(ra),
            fmt_int(med([r["rps"] for r in b])), fmt_us(med([r["median_us"] for r in b])), fmt_ratio(rb),
            f"{fmt_mib(med([r['vmhwm_kib'] for r in a]))} / {fmt_mib(med([r['vmhwm_kib'] for r in b]))}",
            str(fails), vs,
        ] + extra) + " |")
    out.append("")

    # Work C and D/E
    wc, wd = raw["work_c"], raw["work_d"]
    out.append("| Work C: a valid token, warm cache, in process | median per call |")
    out.append("|---|---|")
    c_labels = {
        "sesame": "sesame `credential.token(60 s, false)` (Rust)",
        "sesame-py": "Python `sesame.Session.token(60)`",
        "igwn": "igwn `scitokens.load_token_file(bearer token file)` + 60 s check",
    }
    for k, lbl in c_labels.items():
        v = med([r["median_ns"] for r in wc.get(k, [])])
        if v is not None:
            out.append(f"| {lbl} | {v / 1000:,.2f} µs |" if v >= 1000 else f"| {lbl} | {v:,.0f} ns |")
    out.append("")
    out.append("| Work D/E: whole process | median wall | peak RSS |")
    out.append("|---|---|---|")
    for k, runs in wd.items():
        if not runs:
            continue
        out.append(f"| `{k}` | {med([r['median_ms'] for r in runs]):.2f} ms | "
                   f"{fmt_mib(med([r['maxrss_kib_median'] for r in runs]))} |")
    out.append("")

    # Targets
    t = []
    ra = ratio_median(ratios["A"], "sesame", "raw")
    rb = ratio_median(ratios["B"], "sesame", "raw")
    if ra:
        t.append(f"sesame ÷ raw reqwest, Work A: {ra:.3f} (target ≥ 0.95): {'met' if ra >= 0.95 else 'MISSED'}")
    if rb:
        t.append(f"sesame ÷ raw reqwest, Work B: {rb:.3f} (target ≥ 0.95): {'met' if rb >= 0.95 else 'MISSED'}")
    ta = ratio_median(ratios["A"], "sesame", "raw-timeout")
    tb = ratio_median(ratios["B"], "sesame", "raw-timeout")
    if ta and tb:
        t.append(f"sesame ÷ raw reqwest with the same 60 s timeout: A {ta:.3f}, B {tb:.3f}")
    fa = ratio_median(ratios["A"], "raw", "igwn")
    if fa:
        t.append(f"(the floor itself ÷ igwn_auth_utils, Work A: {fa:.1f}×)")
    ia = ratio_median(ratios["A"], "sesame", "igwn")
    ib = ratio_median(ratios["B"], "sesame", "igwn")
    if ia:
        t.append(f"sesame ÷ igwn_auth_utils, Work A: {ia:.1f}× (target ≥ 10×): {'met' if ia >= 10 else 'MISSED'}")
    if ib:
        t.append(f"sesame ÷ igwn_auth_utils, Work B: {ib:.1f}× (target ≥ 30×): {'met' if ib >= 30 else 'MISSED'}")
    st = wd.get("sesame token") or []
    if st:
        m = med([r["median_ms"] for r in st])
        rss = med([r["maxrss_kib_median"] for r in st]) / 1024
        t.append(f"`sesame token` (cached), whole process: {m:.2f} ms (target ≤ 3 ms): {'met' if m <= 3 else 'MISSED'}")
        t.append(f"`sesame token` peak RSS: {rss:.1f} MiB (target ≤ 15 MB): {'met' if rss * 1.048576 <= 15 else 'MISSED'}")
        sv = wd.get("sesame --version") or []
        if sv:
            v = med([r["median_ms"] for r in sv])
            t.append(f"of which process start-up (`sesame --version`): {v:.2f} ms ({100 * v / m:.0f} %)")
    out.append("Targets (measured, not asserted): " + "; ".join(t) + ".")
    out.append("")
    v = meta["versions"]
    out.append(f"Python {v.get('python')}, requests {v.get('requests')}, igwn-auth-utils {v.get('igwn-auth-utils')}, "
               f"itkdb {v.get('itkdb')}, odsbox {v.get('odsbox')} (requests-oauthlib {v.get('requests-oauthlib')}); "
               f"load average {meta['load_end']:.2f} at the end; {meta['duration_s']} s in all; "
               f"server: {meta['server'].get('ok')} × 200, {meta['server'].get('unauthorized')} × 401, "
               f"{meta['server'].get('introspections')} token introspections.")
    return "\n".join(out) + "\n"


def update_readme(md, section="bench"):
    readme = ROOT / "README.md"
    if not readme.exists():
        log("README.md not found: results only in bench/results/")
        return
    text = readme.read_text()
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    if start not in text or end not in text or text.index(start) > text.index(end):
        log(f"README.md has no {section} markers: results only in bench/results/")
        return
    before = text[: text.index(start) + len(start)]
    after = text[text.index(end):]
    readme.write_text(before + "\n" + md + after)
    log("README.md performance section updated")


# ------------------------------------------------------------------------------- entry

# Issue 19's figures, each against its target: (key, label, kind, contender, shape or
# flavour, concurrency, pinned). `kind` is "py" (peers.py) or "rust" (sesame-bench load).
ENTRY = [
    ("py-req-A", "`requests.Session`, sequential", "py", "requests", "loop", 1, False),
    ("py-ses-A", "`sesame.Session`, sequential", "py", "sesame-py", "loop", 1, False),
    ("py-async-A", "`sesame.AsyncSession`, sequential awaits", "py", "sesame-py", "async", 1, False),
    ("py-req-X", "`requests.Session` (one per pool thread), `ThreadPoolExecutor(64)`, a future per request",
     "py", "requests", "executor", 64, False),
    ("py-ses-X", "`sesame.Session` (shared), `ThreadPoolExecutor(64)`, a future per request",
     "py", "sesame-py", "executor", 64, False),
    ("py-none-X", "no request: `ThreadPoolExecutor(64)`, futures that only release the GIL (`time.sleep(0)`)",
     "py", "none", "executor", 64, False),
    ("py-req-T", "`requests.Session` (one per thread), 64 threads looping", "py", "requests", "loop", 64, False),
    ("py-ses-T", "`sesame.Session` (shared), 64 threads looping", "py", "sesame-py", "loop", 64, False),
    ("py-async-T", "`sesame.AsyncSession`, 64 tasks looping", "py", "sesame-py", "async", 64, False),
    ("rs-raw-multi", "raw reqwest, 64 tasks, multi-thread runtime", "rust", "raw", "multi", 64, False),
    ("rs-ses-multi", "sesame `Session`, 64 tasks, multi-thread runtime", "rust", "sesame", "multi", 64, False),
    ("rs-raw-cur", "raw reqwest, 64 tasks, current-thread runtime", "rust", "raw", "current", 64, False),
    ("rs-ses-cur", "sesame `Session`, 64 tasks, current-thread runtime", "rust", "sesame", "current", 64, False),
    ("pin-raw-A", "raw reqwest, sequential", "rust", "raw", "multi", 1, True),
    ("pin-ses-A", "sesame `Session`, sequential", "rust", "sesame", "multi", 1, True),
    ("pin-req-A", "`requests.Session`, sequential", "py", "requests", "loop", 1, True),
    ("pin-py-A", "`sesame.Session`, sequential", "py", "sesame-py", "loop", 1, True),
    ("pin-async-A", "`sesame.AsyncSession`, sequential awaits", "py", "sesame-py", "async", 1, True),
]
# With BENCH_SESAME_PY_BEFORE (a directory holding another build of the package, e.g.
# `pip install --target DIR old.whl`), the Python sesame rows run with both builds.
BEFORE_OF = {"py-ses-A", "py-async-A", "py-ses-X", "py-ses-T", "py-async-T", "pin-py-A", "pin-async-A"}

# (label, numerator, denominator, target or None): ratios of per-round req/s.
ENTRY_TARGETS = [
    ("Python executor shape: `sesame.Session` ÷ `requests`", "py-ses-X", "py-req-X", 20.0),
    ("Python, 64 plain threads: `sesame.Session` ÷ `requests`", "py-ses-T", "py-req-T", None),
    ("Python executor shape ÷ 64 plain threads (sesame)", "py-ses-X", "py-ses-T", None),
    ("`AsyncSession` sequential ÷ `Session` sequential", "py-async-A", "py-ses-A", 0.8),
    ("`AsyncSession` 64 tasks ÷ `Session` executor shape", "py-async-T", "py-ses-X", 1.0),
    ("`AsyncSession` 64 tasks ÷ `Session` 64 threads", "py-async-T", "py-ses-T", None),
    ("Rust 64 in flight, multi-thread runtime: sesame ÷ raw reqwest", "rs-ses-multi", "rs-raw-multi", 0.95),
    ("Rust 64 in flight, current-thread runtime: sesame ÷ raw reqwest", "rs-ses-cur", "rs-raw-cur", 0.95),
    ("One CPU, sequential: sesame ÷ raw reqwest", "pin-ses-A", "pin-raw-A", 0.95),
    ("One CPU, sequential: `sesame.Session` ÷ `requests`", "pin-py-A", "pin-req-A", None),
    ("One CPU, sequential: `AsyncSession` ÷ `Session`", "pin-async-A", "pin-py-A", 0.8),
]


def entry_mode():
    n = int(os.environ.get("BENCH_N", "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    before = os.environ.get("BENCH_SESAME_PY_BEFORE")
    env = base_env()
    t_start = time.time()
    versions = run_json([PY, str(HERE / "peers.py"), "setup-check"], env, what="setup-check")
    if not versions.get("sesame"):
        raise SystemExit(f"the Python binding is not installed: {versions.get('sesame_error')}")
    rows = list(ENTRY)
    if before:
        rows += [(k + "-before", lbl + " (before)", kind, c + "-before", shape, conc, pin)
                 for (k, lbl, kind, c, shape, conc, pin) in ENTRY if k in BEFORE_OF]
    # BENCH_ENTRY_ROWS=py-req-X,py-ses-X,…: only those rows (and their before rows), for a
    # quick look at one shape; the README is then left alone.
    only = {k for k in os.environ.get("BENCH_ENTRY_ROWS", "").split(",") if k}
    if only:
        rows = [r for r in rows if r[0] in only or r[0].removesuffix("-before") in only]
    if not shutil.which("taskset"):
        log("taskset not found: skipping the one-CPU rows")
        rows = [r for r in rows if not r[6]]
    pin = ["taskset", "-c", "0"]
    idp = start_idp(env, ttl=7200)
    issuer = idp.info["issuer"]
    # BENCH_ENTRY_SERVER=nginx: nginx (one worker) instead of the bench's own hyper server.
    server_kind = os.environ.get("BENCH_ENTRY_SERVER", "hyper")
    if server_kind not in ("hyper", "nginx"):
        raise SystemExit(f"BENCH_ENTRY_SERVER={server_kind}: hyper or nginx")
    if server_kind == "nginx":
        servers = {False: Nginx("nginx")}
        if any(r[6] for r in rows):
            servers[True] = Nginx("nginx-pinned", pin)
    else:
        servers = {False: Proc([BENCH_BIN, "server", "--introspect", issuer, "--max-seconds", "3600"], env, "server")}
        if any(r[6] for r in rows):
            servers[True] = Proc(pin + [BENCH_BIN, "server", "--introspect", issuer, "--max-seconds", "3600"],
                                 env, "server-pinned")
    try:
        base = f"http://127.0.0.1:{servers[False].info['port']}/"
        # The pinned server is another origin: its own profile, or sesame sends no token.
        more = {"bench-pin": f"http://127.0.0.1:{servers[True].info['port']}/"} if True in servers else {}
        tf, _ = bench_profile_and_token(base, issuer, env, more)
        env_before = dict(env, PYTHONPATH=before) if before else env

        def argv_for(row):
            key, _, kind, c, shape, conc, pinned = row
            srv = servers[pinned]
            url = f"http://127.0.0.1:{srv.info['port']}/data"
            common = ["--url", url, "--n", str(n), "--concurrency", str(conc), "--token-file", str(tf)]
            prof = "bench-pin" if pinned else "bench"
            if kind == "rust":
                extra = ["--profile", prof] if c == "sesame" else []
                argv = [BENCH_BIN, "load", "--contender", c, "--flavour", shape] + common + extra
            else:
                argv = [PY, str(HERE / "peers.py"), "load", "--contender", c, "--shape", shape,
                        "--issuer", issuer, "--scope", " ".join(SCOPES), "--profile", prof] + common
            return (pin + argv) if pinned else argv

        results = {r[0]: [] for r in rows}
        per_round = []
        for rnd in range(rounds):
            k = (rnd * 5) % len(rows)
            order = rows[k:] + rows[:k]
            got = {}
            for row in order:
                key = row[0]
                try:
                    res = run_json(argv_for(row), env_before if row[3].endswith("-before") else env,
                                   what=key)
                except Exception as e:  # noqa: BLE001
                    log(f"round {rnd + 1} {key}: FAILED: {e}")
                    continue
                results[key].append(res)
                got[key] = res["rps"]
                log(f"round {rnd + 1}/{rounds} {key:>20}: {res['rps']:>9,.0f} req/s p50 {res['median_us']:>8.1f} µs "
                    f"fail {res['failures']}  load {load_avg():.2f}"
                    + (f"  first error: {res['first_error']}" if res.get("first_error") else ""))
            per_round.append(got)
        srv_stats = http_json(base + "_bench/stats") if server_kind == "hyper" else None
    finally:
        for srv in servers.values():
            srv.stop()
        idp.stop()
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "n": n, "rounds": rounds, "before": bool(before), "versions": versions,
        "load_end": load_avg(), "duration_s": round(time.time() - t_start),
        "server": srv_stats, "server_kind": server_kind, "cpu": cpu_model(), "ncpu": os.cpu_count(),
    }
    raw = {"meta": meta, "rows": [list(r) for r in rows], "results": results, "ratios": per_round}
    name = "entry" if server_kind == "hyper" else "entry-nginx"
    (RESULTS / f"{name}.json").write_text(json.dumps(raw, indent=1))
    md = render_entry(raw)
    print(md)
    (RESULTS / f"{name}.md").write_text(md)
    if not any(k in os.environ for k in ("BENCH_N", "BENCH_ROUNDS", "BENCH_ENTRY_ROWS")):
        update_readme(md, name)


def render_entry(raw):
    meta, results, ratios = raw["meta"], raw["results"], raw["ratios"]
    rows = [tuple(r) for r in raw["rows"]]
    out = [f"Measured {meta['date']} on {meta['cpu']} (shared), `bash bench/run entry`: {meta['n']:,} GETs "
           f"per run, {meta['rounds']} interleaved rounds, medians; ratios are medians of per-round ratios. "
           f"One local HTTP/1.1 keep-alive server ("
           + ("nginx, one worker" if meta.get("server_kind") == "nginx" else "hyper, one thread")
           + "); the one-CPU rows run the client and a second such server under `taskset -c 0`.", ""]
    out.append("| run | in flight | req/s | p50 | machine CPU per request | failures |")
    out.append("|---|---|---|---|---|---|")

    def cpu_of(key):
        v = [r["machine_cpu_us_per_req"] for r in results.get(key) or [] if r.get("machine_cpu_us_per_req")]
        return med(v) if v else None

    for key, lbl, kind, c, shape, conc, pinned in rows:
        rs = results.get(key) or []
        if not rs:
            continue
        where = " (one CPU)" if pinned else ""
        cpu = cpu_of(key)
        out.append(f"| {lbl}{where} | {conc} | {fmt_int(med([r['rps'] for r in rs]))} | "
                   f"{fmt_us(med([r['median_us'] for r in rs]))} | {fmt_us(cpu) if cpu else '–'} | "
                   f"{sum(r['failures'] for r in rs)} |")
    out.append("")
    out.append("| figure | measured | target |")
    out.append("|---|---|---|")
    keys = {r[0] for r in rows}
    targets = list(ENTRY_TARGETS)
    if meta.get("before"):
        targets += [(f"after ÷ before: {lbl}" + (" (one CPU)" if pinned else ""), k, k + "-before", None)
                    for (k, lbl, _kind, _c, _shape, _conc, pinned) in ENTRY if k in BEFORE_OF]
    for lbl, a, b, target in targets:
        if a not in keys or b not in keys:
            continue
        v = ratio_median(ratios, a, b)
        if v is None:
            continue
        verdict = "–" if target is None else (f"≥ {target:g}: " + ("met" if v >= target else "MISSED"))
        shown = f"{v:.1f}×" if v >= 2 else f"{v:.3f}"
        out.append(f"| {lbl} | {shown} | {verdict} |")
    out.append("")
    # The executor shape's ceiling on this machine: each of its requests costs at least what
    # the pool's own futures cost (py-none-X) plus what the request costs with no Python at
    # all (raw reqwest, 64 in flight, server included); the machine has ncpu CPUs to spend.
    none_cpu, raw_cpu = cpu_of("py-none-X"), cpu_of("rs-raw-multi")
    req_x = [r["rps"] for r in results.get("py-req-X") or []]
    ses_x = [r["rps"] for r in results.get("py-ses-X") or []]
    if none_cpu and raw_cpu and req_x and ses_x:
        ncpu = meta.get("ncpu") or 2
        ceiling = ncpu * 1e6 / (none_cpu + raw_cpu)
        target = 20 * med(req_x)
        out.append(f"Executor-shape ceiling on this machine: {ncpu} CPUs ÷ ({fmt_us(none_cpu)} per empty "
                   f"future + {fmt_us(raw_cpu)} per raw reqwest request, server included) = "
                   f"{fmt_int(ceiling)} req/s; the target, 20 × `requests`' {fmt_int(med(req_x))}, is "
                   f"{fmt_int(target)} req/s ({target / ceiling:.2f} × the ceiling); `sesame.Session` made "
                   f"{fmt_int(med(ses_x))} ({med(ses_x) / ceiling:.2f} × the ceiling).")
        out.append("")
    v = meta["versions"]
    out.append(f"Python {v.get('python')}, requests {v.get('requests')}; load average {meta['load_end']:.2f} at "
               f"the end; {meta['duration_s']} s in all.")
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------- dpop

def callgrind_per_request(argv, env, requests):
    """Instructions of the whole process under callgrind, divided by the requests it made."""
    if not shutil.which("valgrind"):
        return None
    # BENCH_CALLGRIND_KEEP=DIR keeps each run's profile there, for callgrind_annotate.
    keep = os.environ.get("BENCH_CALLGRIND_KEEP")
    out = "/dev/null"
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        out = str(Path(keep) / f"callgrind.{time.time_ns()}.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv,
                       env=env, capture_output=True, timeout=1800)
    for line in r.stderr.decode(errors="replace").splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].strip()) / requests
    log(f"callgrind gave no count: {r.stderr.decode(errors='replace')[-400:]}")
    return None


def dpop_mode():
    """Issue 18's figures: a DPoP-bound session (a fresh ES256 proof per request, RFC 9449)
    against the same session with a bearer token, Work A and B, interleaved; instructions
    per request under callgrind; the proof alone per algorithm."""
    n = int(os.environ.get("BENCH_N", "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "4"))
    conc = int(os.environ.get("BENCH_CONC", "64"))
    cg_n = int(os.environ.get("BENCH_CALLGRIND_N", "3000"))
    env = base_env()
    t_start = time.time()
    idp = start_idp(env, ttl=7200)
    issuer = idp.info["issuer"]
    server = Proc([BENCH_BIN, "server", "--introspect", issuer, "--max-seconds", "3600"], env, "server")
    base = f"http://127.0.0.1:{server.info['port']}/"
    url = base + "data"
    profiles = {"bearer": "bench", "dpop": "bench-dpop"}
    try:
        tf, _ = bench_profile_and_token(base, issuer, env)
        scopes = "[" + ", ".join(f'"{s}"' for s in SCOPES) + "]"
        common = {
            "base_url": f'"{base}"', "auth": '"client-credentials"', "issuer": f'"{issuer}"',
            "client_id": f'"{CLIENT_ID}"', "client_secret": '{ env = "BENCH_CLIENT_SECRET" }',
            "scopes": scopes,
        }
        write_config({"bench": common, "bench-dpop": dict(common, dpop="true")})

        def argv(kind, concurrency, requests, warmup=None):
            a = [BENCH_BIN, "load", "--contender", "sesame", "--url", url, "--n", str(requests),
                 "--concurrency", str(concurrency), "--token-file", str(tf), "--profile", profiles[kind]]
            return a + (["--warmup", str(warmup)] if warmup is not None else [])

        results = {w: {k: [] for k in profiles} for w in ("A", "B")}
        ratios = {"A": [], "B": []}
        for rnd in range(rounds):
            kinds = list(profiles) if rnd % 2 == 0 else list(reversed(profiles))
            for work, concurrency in (("A", 1), ("B", conc)):
                row = {}
                for kind in kinds:
                    try:
                        res = run_json(argv(kind, concurrency, n), env, what=f"{kind} {work}")
                    except Exception as e:  # noqa: BLE001
                        log(f"round {rnd + 1} {work} {kind}: FAILED: {e}")
                        continue
                    results[work][kind].append(res)
                    row[kind] = res["rps"]
                    log(f"round {rnd + 1}/{rounds} work {work} {kind:>6}: {res['rps']:>9,.0f} req/s "
                        f"p50 {res['median_us']:>8.1f} µs  fail {res['failures']}  load {load_avg():.2f}")
                ratios[work].append(row)
        instructions = {}
        for work, concurrency in (("A", 1), ("B", conc)):
            for kind in profiles:
                v = callgrind_per_request(argv(kind, concurrency, cg_n, warmup=100), env, cg_n + 100)
                instructions[f"{work}-{kind}"] = v
                log(f"callgrind work {work} {kind}: {v or 0:,.0f} instructions per request")
        proofs = {}
        for alg in ("ES256", "EdDSA", "RS256"):
            proofs[alg] = run_json([BENCH_BIN, "dpop-proof", "--alg", alg, "--n", "20000"], env,
                                   what=f"dpop-proof {alg}")
        srv = http_json(base + "_bench/stats")
    finally:
        server.stop()
        idp.stop()
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "n": n, "rounds": rounds,
            "conc": conc, "cpu": cpu_model(), "load_end": load_avg(), "duration_s": round(time.time() - t_start),
            "server": srv, "callgrind_n": cg_n}
    raw = {"meta": meta, "results": results, "ratios": ratios, "instructions": instructions, "proofs": proofs}
    (RESULTS / "dpop.json").write_text(json.dumps(raw, indent=1))
    md = render_dpop(raw)
    print(md)
    (RESULTS / "dpop.md").write_text(md)
    if "BENCH_N" not in os.environ and "BENCH_ROUNDS" not in os.environ:
        update_readme(md, "dpop")


def render_dpop(raw):
    meta, results, ratios, ins, proofs = (raw[k] for k in ("meta", "results", "ratios", "instructions", "proofs"))
    out = [f"Measured {meta['date']} on {meta['cpu']} (shared), `bash bench/run dpop`: a sesame `Session` on a "
           f"client-credentials profile with `dpop = true` (a DPoP-bound token; every request carries "
           f"`Authorization: DPoP …` and a fresh ES256 proof with `ath`) against the same profile without "
           f"DPoP; {meta['n']:,} GETs per run, {meta['rounds']} interleaved rounds, medians. The bench server "
           f"checks the token and that a proof is present, not the proof's signature (the tests do).", ""]
    out.append("| | Work A req/s (sequential) | Work B req/s (64 in flight) | instructions per request A / B |")
    out.append("|---|---|---|---|")
    for kind, label in (("bearer", "bearer token"), ("dpop", "DPoP, ES256 proof per request")):
        a = med([r["rps"] for r in results["A"][kind]])
        b = med([r["rps"] for r in results["B"][kind]])
        ia, ib = ins.get(f"A-{kind}"), ins.get(f"B-{kind}")
        shown = " / ".join(f"{v / 1000:.1f} k" if v else "–" for v in (ia, ib))
        out.append(f"| {label} | {fmt_int(a)} | {fmt_int(b)} | {shown} |")
    ra, rb = ratio_median(ratios["A"], "dpop", "bearer"), ratio_median(ratios["B"], "dpop", "bearer")
    extra = []
    for w in ("A", "B"):
        d, b = ins.get(f"{w}-dpop"), ins.get(f"{w}-bearer")
        if d and b:
            extra.append(f"{(d - b) / 1000:.1f} k instructions more per request in Work {w}")
    out.append("")
    out.append(f"DPoP ÷ bearer throughput: Work A {fmt_ratio(ra)}, Work B {fmt_ratio(rb)}"
               + (f"; {', '.join(extra)}" if extra else "") + ".")
    out.append("")
    out.append("The proof alone (`sesame-bench dpop-proof`, no network, one core): "
               + ", ".join(f"{alg} {p['median_ns_per_proof'] / 1000:.1f} µs ({fmt_int(p['proofs_per_s_one_core'])}/s)"
                           for alg, p in proofs.items())
               + f"; the bearer header value alone: {proofs['ES256']['median_ns_bearer_header']} ns.")
    out.append(f"Load average {meta['load_end']:.2f} at the end; {meta['duration_s']} s in all; "
               f"server: {meta['server'].get('dpop')} DPoP requests accepted, {meta['server'].get('unauthorized')} × 401.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- callgrind

def callgrind_mode():
    """Issue 14's figure: instructions per request of a sesame `Session` against raw reqwest
    (with and without the session's 60 s client timeout), Work A and B, under callgrind.
    Instruction counts do not move with the machine's load, so this is the figure to compare
    on shared cores. BENCH_BIN_BEFORE=path adds a `sesame-bench` built from another tree (a
    before row in the same run). BENCH_CALLGRIND_N timed GETs (3,000) plus 100 warm-up per run,
    BENCH_CALLGRIND_RUNS runs per cell (5), medians."""
    cg_n = int(os.environ.get("BENCH_CALLGRIND_N", "3000"))
    runs = int(os.environ.get("BENCH_CALLGRIND_RUNS", "5"))
    conc = int(os.environ.get("BENCH_CONC", "64"))
    before = os.environ.get("BENCH_BIN_BEFORE")
    env = base_env()
    t_start = time.time()
    idp = start_idp(env, ttl=7200)
    issuer = idp.info["issuer"]
    server = Proc([BENCH_BIN, "server", "--introspect", issuer, "--max-seconds", "3600"], env, "server")
    base = f"http://127.0.0.1:{server.info['port']}/"
    url = base + "data"
    rows = [("raw", BENCH_BIN, "raw"), ("raw-timeout", BENCH_BIN, "raw-timeout"), ("sesame", BENCH_BIN, "sesame")]
    if before:
        rows.insert(2, ("sesame-before", before, "sesame"))
    if os.environ.get("BENCH_CONTENDERS"):
        rows = [r for r in rows if r[0] in os.environ["BENCH_CONTENDERS"].split(",")]
    counts = {f"{w}-{k}": [] for w in ("A", "B") for k, _, _ in rows}
    try:
        tf, _ = bench_profile_and_token(base, issuer, env)
        for i in range(runs):
            for work, concurrency in (("A", 1), ("B", conc)):
                for key, binary, contender in rows:
                    argv = [binary, "load", "--contender", contender, "--url", url, "--n", str(cg_n),
                            "--concurrency", str(concurrency), "--token-file", str(tf), "--warmup", "100"]
                    if contender == "sesame":
                        argv += ["--profile", "bench"]
                    v = callgrind_per_request(argv, env, cg_n + 100)
                    if v:
                        counts[f"{work}-{key}"].append(v)
                    log(f"run {i + 1}/{runs} work {work} {key:>13}: {v or 0:,.0f} instructions per request  "
                        f"load {load_avg():.2f}")
        srv = http_json(base + "_bench/stats")
    finally:
        server.stop()
        idp.stop()
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "n": cg_n, "runs": runs,
            "conc": conc, "cpu": cpu_model(), "load_end": load_avg(), "duration_s": round(time.time() - t_start),
            "server": srv, "before": before}
    raw = {"meta": meta, "rows": [r[0] for r in rows], "counts": counts}
    (RESULTS / "callgrind.json").write_text(json.dumps(raw, indent=1))
    md = render_callgrind(raw)
    print(md)
    (RESULTS / "callgrind.md").write_text(md)


CALLGRIND_LABEL = {
    "raw": "raw reqwest, fixed header (the floor)",
    "raw-timeout": "raw reqwest + 60 s client timeout",
    "sesame-before": "sesame `Session`, before (BENCH_BIN_BEFORE)",
    "sesame": "sesame `Session`",
}


def render_callgrind(raw):
    meta, counts = raw["meta"], raw["counts"]
    out = [f"Measured {meta['date']} on {meta['cpu']} (shared), `bash bench/run callgrind`: "
           f"`valgrind --tool=callgrind` on the whole `sesame-bench load` process, {meta['n']:,} GETs plus "
           f"100 warm-up, total instructions ÷ requests, median of {meta['runs']} runs (Work A sequential, "
           f"Work B {meta['conc']} in flight).", ""]
    out.append("| instructions per request | Work A | Work B | ÷ floor, A / B |")
    out.append("|---|---|---|---|")
    floor = {w: med(counts.get(f"{w}-raw") or []) for w in ("A", "B")}
    for key in raw["rows"]:
        a, b = med(counts[f"A-{key}"]), med(counts[f"B-{key}"])
        ratio = " / ".join(f"{v / floor[w]:.3f}" if v and floor[w] else "–" for v, w in ((a, "A"), (b, "B")))
        out.append(f"| {CALLGRIND_LABEL[key]} | {a / 1000:.1f} k | {b / 1000:.1f} k | {ratio} |"
                   if a and b else f"| {CALLGRIND_LABEL[key]} | – | – | – |")
    spread = []
    for w in ("A", "B"):
        vs = counts.get(f"{w}-sesame") or []
        if vs:
            spread.append(f"Work {w} sesame runs {min(vs) / 1000:.1f}–{max(vs) / 1000:.1f} k")
    out.append("")
    out.append(f"{'; '.join(spread)}. Load average {meta['load_end']:.2f} at the end (does not move the counts); "
               f"{meta['duration_s']} s in all.")
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------- soak

def soak_mode():
    seconds = int(os.environ.get("BENCH_SOAK_SECONDS", "300"))
    ttl = int(os.environ.get("BENCH_SOAK_TTL", "5"))
    env = base_env()
    idp = start_idp(env, ttl=ttl, name="idp-soak")
    issuer = idp.info["issuer"]
    try:
        write_config({"soak": {
            "base_url": f'"{issuer}/api/"',
            "auth": '"client-credentials"',
            "issuer": f'"{issuer}"',
            "client_id": f'"{CLIENT_ID}"',
            "client_secret": '{ env = "BENCH_CLIENT_SECRET" }',
        }})
        http_json(issuer + "/test/stats/reset", method="POST")
        log(f"soak: one GET {issuer}/api/soak every 100 ms for {seconds} s, tokens live {ttl} s")
        res = run_json([BENCH_BIN, "soak", "--profile", "soak", "--url", f"{issuer}/api/soak",
                        "--interval-ms", "100", "--seconds", str(seconds)], env,
                       timeout=seconds + 120, what="soak")
        stats = http_json(issuer + "/test/stats")
    finally:
        idp.stop()
    grants = stats.get("token", {})
    md = (f"Soak ({datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}): {res['requests']} GETs to the "
          f"provider's protected API (`/api/soak`, JWT verified there), one every 100 ms for {seconds} s, "
          f"access tokens living {ttl} s, sesame `Session` (client-credentials, file cache).\n\n"
          f"| requests | failed | token requests at the provider | distinct tokens used | p50 | p99 | max |\n"
          f"|---|---|---|---|---|---|---|\n"
          f"| {res['requests']} | {res['failed']} | {stats.get('token_total')} ({json.dumps(grants)}) | "
          f"{res['distinct_tokens']} | {res['median_ms']:.1f} ms | {res['p99_ms']:.1f} ms | {res['max_ms']:.1f} ms |\n")
    if res["errors"]:
        md += "\nFirst errors:\n" + "\n".join(f"- {e}" for e in res["errors"]) + "\n"
    # sesame renews a short-lived token at half its lifetime (whole seconds: `ttl // 2`
    # before expiry), so one token serves `ttl - ttl // 2` seconds.
    every = max(1, ttl - ttl // 2)
    md += (f"\nTarget: 0 failed requests: {'met' if res['failed'] == 0 else 'MISSED'}. "
           f"Refreshes expected: one every {every} s (renewal at half of the {ttl} s lifetime), "
           f"≈ {seconds // every} in {seconds} s; counted by the provider: {stats.get('token_total')}.\n")
    print(md)
    (RESULTS / "soak.md").write_text(md)
    (RESULTS / "soak.json").write_text(json.dumps({"result": res, "provider_stats": stats}, indent=1))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "default"
    RESULTS = HERE / "results"
    RESULTS.mkdir(exist_ok=True)
    WORK = Path(tempfile.mkdtemp(prefix="sesame-bench-"))
    for d in ("cache", "xdg-cache", "run"):
        (WORK / d).mkdir(mode=0o700)
    try:
        if mode == "soak":
            soak_mode()
        elif mode in ("default", "quick"):
            default_mode(quick=mode == "quick")
        elif mode == "entry":
            entry_mode()
        elif mode == "dpop":
            dpop_mode()
        elif mode == "callgrind":
            callgrind_mode()
        else:
            raise SystemExit(f"unknown mode {mode}: default, quick, entry, dpop, callgrind or soak")
    finally:
        if os.environ.get("BENCH_KEEP_WORK"):
            log(f"work directory kept: {WORK}")
        else:
            shutil.rmtree(WORK, ignore_errors=True)
