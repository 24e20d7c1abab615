"""`auth="json-grant"` as itkdb users log in: ITk's `grantToken` imitated by the local
server; the access codes read from the environment, never logged."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sesame
from conftest import ITK_CODES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def body():
    return {
        "grant_type": "password",
        "accessCode1": {"env": "ITKDB_ACCESS_CODE1"},
        "accessCode2": {"env": "ITKDB_ACCESS_CODE2"},
    }


@pytest.fixture
def codes(monkeypatch):
    monkeypatch.setenv("ITKDB_ACCESS_CODE1", ITK_CODES[0])
    monkeypatch.setenv("ITKDB_ACCESS_CODE2", ITK_CODES[1])


def test_grant_token_attached_cached_and_codes_never_logged(server, codes, caplog):
    caplog.set_level(logging.DEBUG, logger="sesame")
    s = sesame.Session(
        base_url=server.url("/api/"),
        auth="json-grant",
        grant_endpoint=server.url("/itk/grantToken"),
        grant_body=body(),
        cache="memory",
    )
    r = s.get("echo")
    assert r.status_code == 200
    assert r.json()["headers"]["authorization"] == "Bearer itk-token-1"
    s.get("echo")
    assert server.grants == 1, "the token is reused"
    st = s.status()
    assert st["auth"] == "json-grant" and st["valid"] is True
    assert "itk-token-1" not in repr(st)
    text = caplog.text + repr(s)
    for code in ITK_CODES:
        assert code not in text


def test_renewed_near_expiry(server, codes):
    s = sesame.Session(
        base_url=server.url("/api/"),
        auth="json-grant",
        grant_endpoint=server.url("/itk/grantToken?expires_in=2"),
        grant_body=body(),
        cache="memory",
    )
    first = s.token(min_valid=1)
    time.sleep(2.2)
    second = s.token(min_valid=1)
    assert first != second and server.grants == 2


def test_wrong_codes_are_a_clear_error_without_the_codes(server, monkeypatch):
    monkeypatch.setenv("ITKDB_ACCESS_CODE1", "wrong-code-Zq1")
    monkeypatch.setenv("ITKDB_ACCESS_CODE2", ITK_CODES[1])
    s = sesame.Session(
        base_url=server.url("/api/"),
        auth="json-grant",
        grant_endpoint=server.url("/itk/grantToken"),
        grant_body=body(),
        cache="memory",
    )
    with pytest.raises(sesame.Error) as e:
        s.token()
    assert "401" in str(e.value)
    assert "wrong-code-Zq1" not in str(e.value) and ITK_CODES[1] not in str(e.value)


def test_missing_body_is_refused_before_sending(server):
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session(auth="json-grant", grant_endpoint=server.url("/itk/grantToken"))
    assert "grant_body" in str(e.value)
    assert server.grants == 0


def test_itkdb_example_runs(server):
    env = dict(os.environ, ITKDB_ACCESS_CODE1=ITK_CODES[0], ITKDB_ACCESS_CODE2=ITK_CODES[1])
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "itkdb_login.py"), server.url("/itk"), server.url("/api/")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "status: 200" in out.stdout and "auth: json-grant valid: True" in out.stdout
    assert server.seen("/api/listInstitutions")[0].headers["authorization"].startswith("Bearer itk-token-")
    for code in ITK_CODES:
        assert code not in out.stdout + out.stderr
