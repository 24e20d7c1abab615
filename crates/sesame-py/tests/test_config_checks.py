"""Profile checks shared with the command line: `insecure` warns on every use, and a key
the auth kind does not use is a ConfigError (docs/credential-kinds.md)."""

from __future__ import annotations

import logging
import warnings

import pytest

import sesame

BEARER = dict(base_url="https://127.0.0.1:9/api/", auth="bearer", token="py-insecure-tok-77")


def test_insecure_session_issues_an_insecure_warning(clean_env):
    assert issubclass(sesame.InsecureWarning, UserWarning)
    # The sesame logger turned all the way down (the package's quiet setting) hides nothing.
    logging.getLogger("sesame").setLevel(logging.CRITICAL)
    try:
        for cls in (sesame.Session, sesame.AsyncSession):
            with pytest.warns(sesame.InsecureWarning, match="TLS certificate verification is DISABLED"):
                cls(insecure=True, **BEARER)
        # On every use: a second session warns again.
        with pytest.warns(sesame.InsecureWarning):
            sesame.Session(insecure=True, **BEARER).close()
    finally:
        logging.getLogger("sesame").setLevel(logging.NOTSET)


def test_insecure_from_the_environment_warns_and_secure_sessions_do_not(clean_env, monkeypatch):
    monkeypatch.setenv("SESAME_INSECURE", "true")
    with pytest.warns(sesame.InsecureWarning):
        sesame.Session(**BEARER).close()
    # insecure=False overrides the environment: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", sesame.InsecureWarning)
        sesame.Session(insecure=False, **BEARER).close()
    monkeypatch.delenv("SESAME_INSECURE")
    with warnings.catch_warnings():
        warnings.simplefilter("error", sesame.InsecureWarning)
        sesame.Session(**BEARER).close()


def test_the_insecure_warning_can_be_an_error(clean_env):
    with warnings.catch_warnings():
        warnings.simplefilter("error", sesame.InsecureWarning)
        with pytest.raises(sesame.InsecureWarning):
            sesame.Session(insecure=True, **BEARER)


def test_a_key_the_auth_kind_does_not_use_is_a_config_error(clean_env):
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session(base_url="https://api.example/", auth="basic", username="u", password="p", client_secret="s")
    assert "`client_secret`" in str(e.value) and 'auth = "basic"' in str(e.value)
    with pytest.raises(sesame.ConfigError) as e:
        sesame.Session(username="alice", **BEARER)
    assert "`username`" in str(e.value) and 'auth = "bearer"' in str(e.value)


def test_a_key_from_the_environment_that_does_not_apply_only_logs(clean_env, monkeypatch, caplog):
    monkeypatch.setenv("SESAME_CLIENT_ID", "some-other-tool")
    with caplog.at_level(logging.WARNING, logger="sesame"):
        sesame.Session(**BEARER).close()
    assert any("SESAME_CLIENT_ID" in r.getMessage() for r in caplog.records), caplog.records
