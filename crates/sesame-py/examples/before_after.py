"""Before and after: calling a protected API with hand-made token plumbing (the way code
built on requests, igwn-auth-utils or itkdb does it), then with sesame.

    python examples/before_after.py [ISSUER]

Without ISSUER it starts the bundled test identity provider (testbed/idp, needs node) and
calls its protected API; the client `m2m-basic` and its secret are test-only and public.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def before(issuer: str) -> dict:
    """requests, with the token fetched, attached and (not) renewed by hand."""
    import requests

    # 1. fetch a token yourself (and hope nobody logs this dict)
    tok = requests.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=("m2m-basic", os.environ["M2M_SECRET"]),
        timeout=30,
    ).json()["access_token"]
    # 2. attach it to *every* request of the session, whichever host it goes to
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {tok}"
    # 3. no renewal, no 401 retry, no cache shared with other tools, no scoping
    r = s.get(f"{issuer}/api/whoami", timeout=30)
    r.raise_for_status()
    return r.json()


def after(issuer: str) -> dict:
    """sesame: the same call, with tokens cached, renewed, scoped and retried by the engine."""
    import sesame

    with sesame.Session(
        base_url=f"{issuer}/api/",  # credentials go only here
        auth="client-credentials",
        issuer=issuer,
        client_id="m2m-basic",
        client_secret={"env": "M2M_SECRET"},  # never written in code or config
    ) as s:
        r = s.get("whoami")  # relative URLs join base_url
        r.raise_for_status()
        return r.json()


def start_bundled_provider() -> "tuple[subprocess.Popen, str]":
    idp = Path(__file__).resolve().parents[3] / "testbed" / "idp"
    if not (idp / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=idp, check=True)
    proc = subprocess.Popen(
        ["node", str(idp / "server.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, SESAME_IDP_PORT="0"),
    )
    return proc, json.loads(proc.stdout.readline())["issuer"]


def main() -> int:
    os.environ.setdefault("M2M_SECRET", "m2m-basic-secret")  # test-only secret of the bundled provider
    os.environ.setdefault("SESAME_CACHE_DIR", str(Path.home() / ".cache" / "sesame-example"))
    proc = None
    if len(sys.argv) > 1:
        issuer = sys.argv[1].rstrip("/")
    else:
        proc, issuer = start_bundled_provider()
    try:
        b, a = before(issuer), after(issuer)
        print("before:", b["client_id"], b["aud"])
        print("after: ", a["client_id"], a["aud"])
        assert (b["client_id"], b["aud"]) == (a["client_id"], a["aud"])
    finally:
        if proc is not None:
            proc.stdin.close()  # the provider exits when its stdin closes
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
