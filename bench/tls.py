"""bench/run tls: one whole `sesame request https://…` process against curl's, interleaved.

A short-lived process that speaks TLS pays every one-time cost of its crypto library on each
start (for aws-lc: the CPU jitter entropy source's first collection, ~30-50 ms). This mode
measures what a shell user waits for: fork + exec + TLS handshake + one authenticated GET +
exit, for curl and for sesame, with the server certificate verified against a CA made here
(exactly as strict as a public one: no `--insecure`, no `-k`).

    BENCH_SESAME_BIN=…/sesame python bench/tls.py
    BENCH_SESAME_BIN_BEFORE=…/sesame-old   # optional: the same runs for an older binary

Knobs: BENCH_TLS_RUNS (runs per contender per round, 40), BENCH_ROUNDS (5),
BENCH_TLS_CPU (pin every process, server included, to this one CPU, e.g. 0).
Prints a Markdown table (median wall-clock ms per process, ratio to curl) on stdout and writes
bench/results/tls-<time>.json.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOKEN = "bench-tls-token-0123456789"
RUNS = int(os.environ.get("BENCH_TLS_RUNS", "40"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CPU = os.environ.get("BENCH_TLS_CPU")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(d: Path):
    """A CA and a server certificate for 127.0.0.1 (SAN IP), both made now with openssl."""

    def run(*argv):
        subprocess.run(argv, check=True, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=sesame bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                               "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")


def start_nginx(d: Path, tls_port: int, http_port: int):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = d / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{tls_port} ssl;
    listen 127.0.0.1:{http_port};
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      default_type application/json;
      if ($http_authorization != "Bearer {TOKEN}") {{ return 401 '{{"error":"unauthorized"}}'; }}
      return 200 '{{"ok":true}}';
    }}
  }}
}}
""")
    argv = [nginx, "-c", str(conf), "-p", str(d)]
    if CPU is not None:
        argv = ["taskset", "-c", CPU] + argv
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit(f"nginx did not start: {p.stderr.read().decode(errors='replace')}")


def contenders(d: Path, tls_port: int, http_port: int):
    https = f"https://127.0.0.1:{tls_port}/items"
    http = f"http://127.0.0.1:{http_port}/items"
    curl = ["curl", "-sS", "-f", "-o", "/dev/null", "--cacert", str(d / "ca.pem"),
            "-H", f"Authorization: Bearer {TOKEN}"]
    out = {"curl https": curl + [https], "curl http": curl + [http]}

    def sesame(binary, url, base):
        return [binary, "-q", "--base-url", base, "--auth", "bearer", "--token-env", "BENCH_TLS_TOKEN",
                "--ca-bundle", str(d / "ca.pem"), "request", url, "-o", "/dev/null"]

    for label, env in (("sesame", "BENCH_SESAME_BIN"), ("sesame (before)", "BENCH_SESAME_BIN_BEFORE")):
        binary = os.environ.get(env)
        if binary:
            out[f"{label} https"] = sesame(binary, https, f"https://127.0.0.1:{tls_port}/")
            out[f"{label} http"] = sesame(binary, http, f"http://127.0.0.1:{http_port}/")
    return out


def time_one(argv, env):
    """Wall-clock seconds and CPU seconds (user + system, from wait4) of one whole process.
    CPU time is what a loaded machine disturbs least; wall-clock is what a person waits."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {err.decode(errors='replace')[:400]}")
    return dt, ru.ru_utime + ru.ru_stime


def main():
    with tempfile.TemporaryDirectory(prefix="sesame-bench-tls-") as tmp:
        d = Path(tmp)
        make_pki(d)
        tls_port, http_port = free_port(), free_port()
        server = start_nginx(d, tls_port, http_port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESAME_")}
        env.update(BENCH_TLS_TOKEN=TOKEN, XDG_CONFIG_HOME=str(d / "config"),
                   SESAME_CACHE_DIR=str(d / "cache"), HOME=str(d))
        try:
            cs = contenders(d, tls_port, http_port)
            if CPU is not None:
                cs = {k: ["taskset", "-c", CPU] + v for k, v in cs.items()}
            for argv in cs.values():  # warm the page cache, and check each one works
                time_one(argv, env)
            samples = {k: [] for k in cs}
            cpu = {k: [] for k in cs}
            for rnd in range(ROUNDS):
                for _ in range(RUNS):
                    for k, argv in cs.items():  # interleaved: every contender sees the same machine
                        wall, used = time_one(argv, env)
                        samples[k].append(wall)
                        cpu[k].append(used)
                log(f"tls: round {rnd + 1}/{ROUNDS} done")
        finally:
            server.terminate()
            server.wait(timeout=10)
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    p90 = {k: statistics.quantiles(v, n=10)[-1] * 1000 for k, v in samples.items()}
    cpu_ms = {k: statistics.median(v) * 1000 for k, v in cpu.items()}
    lines = [
        f"Whole process, one authenticated GET, {ROUNDS} interleaved rounds × {RUNS} runs"
        + (f", everything pinned to CPU {CPU}" if CPU is not None else "") + ":",
        "",
        "| contender | median ms | p90 ms | ÷ curl (same scheme) | CPU ms (user+sys) | CPU ÷ curl |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in cs:
        scheme = k.rsplit(" ", 1)[1]
        c = "curl " + scheme
        lines.append(f"| {k} | {med[k]:.2f} | {p90[k]:.2f} | {med[k] / med[c]:.2f} "
                     f"| {cpu_ms[k]:.2f} | {cpu_ms[k] / cpu_ms[c]:.2f} |")
    print("\n".join(lines))
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (res / f"tls-{stamp}.json").write_text(json.dumps({"median_ms": med, "p90_ms": p90, "cpu_ms": cpu_ms, "pinned_cpu": CPU,
                                                       "runs": RUNS, "rounds": ROUNDS}, indent=1))


if __name__ == "__main__":
    main()
