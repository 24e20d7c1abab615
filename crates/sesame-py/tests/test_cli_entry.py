"""The wheel's `sesame` console script: the Rust command compiled into the extension module
(`sesame._cli:main`), run from the venv's bin against real local servers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import sesame
from sesame import _sesame

from conftest import M2M

BIN = Path(sys.executable).parent / "sesame"


def run(args, **env):
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_wheel_puts_sesame_on_path():
    assert BIN.is_file(), f"{BIN}: the wheel's console script is missing"
    out = run(["--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sesame {sesame.__version__}"


def test_python_m_sesame_runs_the_same_command():
    out = subprocess.run([sys.executable, "-m", "sesame", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"sesame {sesame.__version__}"


def test_the_console_script_gets_a_token_from_the_bundled_provider(idp):
    out = run(
        ["--auth", "client-credentials", "--issuer", idp.issuer, "--client-id", M2M[0],
         "--client-secret-env", "M2M_SECRET", "--cache", "memory", "token", "--json"],
        M2M_SECRET=M2M[1],
    )
    assert out.returncode == 0, out.stderr
    tok = json.loads(out.stdout)
    assert tok["access_token"] and tok["issuer"] == idp.issuer


def test_status_json_on_a_config_and_usage_errors_exit_2(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[profiles.api]\nbase_url = "https://api.example/"\nauth = "bearer"\ntoken = { env = "TOK" }\n')
    out = run(["--config", str(cfg), "status", "--json"], TOK="t0ken-value-123456")
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    assert st["profile"] == "api" and st["auth"] == "bearer" and "t0ken-value-123456" not in out.stdout
    bad = run(["--no-such-flag"])
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr and bad.stdout == ""


def test_in_process_the_gil_is_released_and_logs_stay_apart(server, capfd, caplog, monkeypatch):
    """The local server answers from a Python thread of this process: the command can only
    get its answer if it runs with the GIL released. The command's warnings go to stderr,
    not to the `sesame` logger, which keeps working for sessions afterwards."""
    monkeypatch.setenv("SESAME_CLIENT_ID", "some-other-tool")  # does not apply to bearer: a warning
    monkeypatch.setenv("TOK", "in-process-token")
    caplog.set_level(logging.DEBUG, logger="sesame")
    code = _sesame._cli_main(
        ["sesame", "--auth", "bearer", "--token-env", "TOK", "--base-url", server.url("/api/"), "request", "echo"]
    )
    out, err = capfd.readouterr()
    assert code == 0, err
    assert json.loads(out)["headers"]["authorization"] == "Bearer in-process-token"
    assert "SESAME_CLIENT_ID" in err
    assert not [r for r in caplog.records if "SESAME_CLIENT_ID" in r.getMessage()], "CLI lines reached the logger"
    sesame.Session(base_url=server.url("/api/"), auth="bearer", token="x").close()
    assert any("SESAME_CLIENT_ID" in r.getMessage() for r in caplog.records), "the logging bridge is gone"


def test_help_config_prints_the_key_table():
    out = run(["help", "config"])
    assert out.returncode == 0, out.stderr
    assert "| `base_url` |" in out.stdout and "SESAME_BASE_URL" in out.stdout
