"""odsbox's `ConIFactory` connections, done by sesame: an ASAM ODS server reached with HTTP
Basic, OAuth client credentials at an explicit token endpoint (`m2m`), or an interactive
login at explicit endpoints or found by the ODS WebFinger (`oidc`) (docs/migrate/odsbox.md).

    python examples/odsbox_connect.py basic ODS_URL                     # ODS_USER, ODS_PASSWORD
    python examples/odsbox_connect.py m2m ODS_URL TOKEN_ENDPOINT        # ODS_CLIENT_ID, ODS_CLIENT_SECRET
    python examples/odsbox_connect.py oidc ODS_URL AUTH_ENDPOINT TOKEN_ENDPOINT   # ODS_CLIENT_ID
    python examples/odsbox_connect.py oidc-webfinger ODS_URL PREFIX     # ODS_CLIENT_ID

No issuer is named anywhere: explicit endpoints suffice, as in odsbox. The tests run it
against the bundled identity provider, whose `/api/` imitates the ODS server's API.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict

import sesame


def connect(mode: str, url: str, *rest: str) -> sesame.Session:
    kw: Dict[str, Any] = {"base_url": url}
    if mode == "basic":
        # odsbox: ConIFactory.basic(url, username, password) → requests' auth tuple.
        kw["auth"] = (os.environ["ODS_USER"], {"env": "ODS_PASSWORD"})
    elif mode == "m2m":
        # odsbox: ConIFactory.m2m(url, token_endpoint, client_id, client_secret, scope=[…]).
        (token_endpoint,) = rest
        kw.update(
            auth="client-credentials",
            token_endpoint=token_endpoint,
            client_id=os.environ["ODS_CLIENT_ID"],
            client_secret={"env": "ODS_CLIENT_SECRET"},  # read only when a token is needed
            scopes=["api"],  # odsbox's default is ["machine2machine"]
        )
    elif mode == "oidc":
        # odsbox: ConIFactory.oidc(url, client_id, redirect_uri,
        #                          authorization_endpoint=…, token_endpoint=…).
        authorization_endpoint, token_endpoint = rest
        kw.update(
            auth="oidc",
            authorization_endpoint=authorization_endpoint,
            token_endpoint=token_endpoint,
            client_id=os.environ["ODS_CLIENT_ID"],
            scopes=["openid", "profile"],
            login_timeout=60,  # odsbox: login_timeout
        )
    elif mode == "oidc-webfinger":
        # odsbox: ConIFactory.oidc(url, client_id, redirect_uri, webfinger_path_prefix="/ods").
        (prefix,) = rest
        kw.update(
            auth="oidc",
            webfinger_prefix=prefix,
            client_id=os.environ["ODS_CLIENT_ID"],
            scopes=["openid", "profile"],
        )
    else:
        raise SystemExit(f"unknown mode {mode!r}: basic, m2m, oidc or oidc-webfinger")
    return sesame.Session(**kw)


def main(mode: str, url: str, *rest: str) -> None:
    with connect(mode, url, *rest) as session:
        if mode.startswith("oidc"):
            # odsbox opens the browser inside oidc(); sesame logs in here, or finds the
            # token a previous login (`sesame login`, another script) left in the cache.
            session.login()
        # odsbox's ConI then talks to `{url}/ods…`; every request carries the token.
        r = session.post("ods", data=b"", headers={"Content-Type": "application/x-asamods+protobuf"})
        r.raise_for_status()
        print("status:", r.status_code)
        st = session.status()
        print("auth:", st["auth"], "valid:", st["valid"])


if __name__ == "__main__":
    main(*sys.argv[1:])
