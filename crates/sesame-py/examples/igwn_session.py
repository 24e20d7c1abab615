"""igwn-auth-utils' documented ``Session`` examples, with sesame underneath
(docs/migrate/igwn.md). Each block is the one in ``igwn_auth_utils.Session``'s docstring
with its import changed from ``igwn_auth_utils`` to ``sesame.igwn``.

    python examples/igwn_session.py API_URL [TOKEN]

API_URL stands for igwn's ``https://science.example.com/api/``; TOKEN (optional) is a
serialised SciToken for the "explicit token" example (default: ``$IGWN_EXAMPLE_TOKEN``). A
token for the default discovery comes from the environment as for igwn-auth-utils
(``BEARER_TOKEN``, ``BEARER_TOKEN_FILE``, ``$XDG_RUNTIME_DIR/bt_u<uid>``, …). The tests run
it against a small local API.
"""

from __future__ import annotations

import os
import sys

import sesame
from sesame.igwn import Session


def main(api: str, mytoken: str) -> None:
    data = api.rstrip("/") + "/important/data"

    # To use the default authorisation discovery:
    with Session() as sess:
        r = sess.get(data)
        print("default discovery:", r.status_code)

    # To explicitly pass a specific token as the token:
    if mytoken:
        with Session(token=mytoken) as sess:
            r = sess.get(data)
            print("explicit token:", r.status_code)

    # To use default authorisation discovery, but fail if no credentials are discovered:
    try:
        with Session(fail_if_noauth=True) as sess:
            r = sess.get(data)
            print("fail_if_noauth:", r.status_code)
    except sesame.Error as e:
        print("fail_if_noauth: no credential:", type(e).__name__)

    # To disable all authorisation discovery:
    with Session(force_noauth=True) as sess:
        r = sess.get(data)
        print("force_noauth:", r.status_code)

    # raise_for_status=True is the default, as in igwn-auth-utils.
    with Session(url=api) as sess:
        try:
            sess.get(api.rstrip("/") + "/status/404")
        except sesame.HTTPError as e:
            print("raise_for_status:", e.status)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.environ.get("IGWN_EXAMPLE_TOKEN", ""))
