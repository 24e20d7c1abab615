"""DPoP (RFC 9449) from Python: ``Session(..., dpop=True)`` gets a bound token, and the
adapters' per-request headers carry a fresh proof for each (method, URL). The proofs are
verified end to end by the Rust tests (crates/sesame/tests/dpop.rs)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

import sesame
from conftest import m2m_kwargs


def claims(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_session_with_dpop_attaches_a_fresh_proof_per_request(idp):
    with sesame.Session(**m2m_kwargs(idp, dpop=True)) as s:
        # A bound token is not handed out as a bearer token.
        with pytest.raises(sesame.Error) as e:
            s.token()
        assert "DPoP-bound" in str(e.value)
        seen = set()
        for method, url in [("GET", idp.api + "items?x=1"), ("POST", idp.api + "things")]:
            headers = s._exchange().attach(method, url)
            h = {k.lower(): v for k, v in headers}
            assert h["authorization"].startswith("DPoP ")
            token = h["authorization"][5:]
            proof = claims(h["dpop"])
            assert proof["htm"] == method
            assert proof["htu"] == url.split("?")[0]
            ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
            assert proof["ath"] == ath
            assert claims(token)["cnf"]["jkt"], "the token is bound"
            seen.add(proof["jti"])
        assert len(seen) == 2, "one proof per request"
        assert "pkcs8" not in repr(s)
