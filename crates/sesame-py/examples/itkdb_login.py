"""itkdb's login, done by sesame: the ITk production database's `POST …/grantToken` with
two access codes, the token cached and renewed before it expires (docs/migrate/itkdb.md).

    ITKDB_ACCESS_CODE1=… ITKDB_ACCESS_CODE2=… python examples/itkdb_login.py AUTH_URL API_URL

AUTH_URL is the service that answers `grantToken` (for ITk, its auth site), API_URL the
database API. The tests run it against a local imitation of both.
"""

from __future__ import annotations

import sys

import sesame


def main(auth_url: str, api_url: str) -> None:
    # itkdb: itkdb.Client(access_code1=…, access_code2=…) with ITKDB_ACCESS_CODE1/2 in the
    # environment; sesame reads the codes from the environment only when a token is needed.
    with sesame.Session(
        base_url=api_url,
        auth="json-grant",
        grant_endpoint=auth_url.rstrip("/") + "/grantToken",
        grant_body={
            "grant_type": "password",
            "accessCode1": {"env": "ITKDB_ACCESS_CODE1"},
            "accessCode2": {"env": "ITKDB_ACCESS_CODE2"},
        },
        token_field="id_token",
        expires_field="expires_in",
    ) as session:
        # itkdb: client.get("listInstitutions") raises on an error status.
        r = session.get("listInstitutions")
        r.raise_for_status()
        print("status:", r.status_code)
        st = session.status()
        print("auth:", st["auth"], "valid:", st["valid"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
