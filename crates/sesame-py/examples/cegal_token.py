"""cegal-keystoneauth's `OidcClient.get_access_token()`, done by sesame: the token is
returned from the cache, renewed when it nears expiry, and — opt-in, `auto_login=True` —
a person is logged in through the browser when no usable token is left, under the rules of
`sesame token` on a terminal. The browser's last page is the program's own, written by a
page handler (docs/migrate/cegal.md).

    python examples/cegal_token.py ISSUER API_URL CLIENT_ID

The tests run it on a pseudo-terminal against the bundled identity provider, with a
headless Chromium as the person's browser.
"""

from __future__ import annotations

import html
import sys
from typing import Dict, Optional

import sesame


def page(kind: str, info: Dict[str, str]) -> Optional[str]:
    # cegal: OidcOptions(page_handler=…). `info` has issuer, error, error_description and
    # message; the provider's text must be escaped before it goes into HTML.
    if kind == "success":
        return "<!doctype html><title>My app: signed in</title><h1>You are signed in to My app</h1>"
    return (
        "<!doctype html><title>My app: sign-in failed</title>"
        f"<h1>Sign-in failed</h1><p>{html.escape(info['error_description'] or info['error'])}</p>"
    )


def main(issuer: str, api_url: str, client_id: str) -> None:
    # cegal: OidcOptions(client_id, provider_uri, extra_scopes=[…], audiences=[…]) and
    # OidcClient(options).
    with sesame.Session(
        base_url=api_url,
        auth="oidc",
        issuer=issuer,
        client_id=client_id,
        scopes=["openid", "profile", "offline_access"],
        auto_login=True,
        page_handler=page,
    ) as session:
        # cegal: client.get_access_token(), called each time a token is needed.
        token = session.token(login=True)
        print("got a token:", bool(token))
        # The same session attaches it to requests (and logs in there too, with auto_login).
        print("sub:", session.get("whoami").json()["sub"])
        print("again from the cache:", session.token(login=True) == token)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
