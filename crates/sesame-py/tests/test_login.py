"""`Session.login()` runs the same browser and device logins as `sesame login`, against the
bundled identity provider, completed by a real headless Chromium (`testbed/browser`, the
`$BROWSER` of the CLI's login tests). The tokens land in the shared cache, where the
`sesame` command finds them. No mocks."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest

import sesame
from conftest import ROOT, run_async

BROWSER_DIR = ROOT / "testbed" / "browser"


# ---------------------------------------------------------------- helpers


class Stderr:
    """A `sys.stderr` that keeps what sesame writes, for a thread that waits for a line."""

    def __init__(self) -> None:
        self._parts: List[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> "re.Match[str]":
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} did not appear on stderr within {timeout} s:\n{self.text()}")


def chromium() -> str:
    for c in [os.environ.get("SESAME_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"]:
        if c and os.access(c, os.X_OK):
            return c
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.fail(
        "the login tests drive a real Chromium and none was found: apt-get install chromium "
        "(CI does this in .ci/run), or set SESAME_CHROMIUM. These tests do not skip.",
        pytrace=False,
    )


def ensure_browser_installed() -> None:
    """`npm ci` in testbed/browser once (under the lock the Rust tests take too)."""
    import fcntl

    with open(BROWSER_DIR / ".install.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = BROWSER_DIR / "node_modules" / ".package-lock.json"
        complete = (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file()
        if complete and marker.is_file() and marker.stat().st_mtime >= (BROWSER_DIR / "package-lock.json").stat().st_mtime:
            return
        npm = os.environ.get("SESAME_NPM") or shutil.which("npm")
        if not npm:
            pytest.fail("npm is needed for testbed/browser (npm ci): apt-get install npm", pytrace=False)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=BROWSER_DIR,
            env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1"),
            stdin=subprocess.DEVNULL,
            check=True,
        )


class Browser:
    """The `$BROWSER` of the login tests; its log and counters live in `dir`."""

    def __init__(self, dir: Path) -> None:
        self.chromium = chromium()
        ensure_browser_installed()
        self.dir = dir
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def command(self) -> str:
        return str(BROWSER_DIR / "sesame-test-browser")

    def env(self) -> Dict[str, str]:
        return {
            "BROWSER": self.command,
            "SESAME_BROWSER_CHROMIUM": self.chromium,
            "SESAME_BROWSER_LOG": str(self.dir / "browser.log"),
            "SESAME_BROWSER_INVOCATIONS": str(self.dir / "invocations"),
            "SESAME_BROWSER_TEXT": str(self.dir / "page.json"),
        }

    def invocations(self) -> int:
        try:
            return len((self.dir / "invocations").read_text().splitlines())
        except FileNotFoundError:
            return 0

    def log(self) -> str:
        try:
            return (self.dir / "browser.log").read_text()
        except FileNotFoundError:
            return ""

    def wait_done(self, timeout: float = 30.0) -> str:
        """Waits until every started browser has finished; returns the log."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            log = self.log()
            ended = log.count("done: ") + log.count("FAILED: ")
            if self.invocations() > 0 and ended >= self.invocations():
                return log
            time.sleep(0.1)
        raise AssertionError(f"the test browser did not finish within {timeout} s:\n{self.log()}")

    def page(self) -> Dict[str, object]:
        return json.loads((self.dir / "page.json").read_text())


@pytest.fixture
def browser(tmp_path) -> Browser:
    return Browser(tmp_path / "browser")


def write_profile(name: str, issuer: str, auth: str, extra: str = "") -> None:
    """A profile for the provider's public native client, in the test's configuration
    folder (where both this package and the `sesame` command look)."""
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "sesame"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(
        f'[profiles.{name}]\nbase_url = "{issuer}/api/"\nauth = "{auth}"\nissuer = "{issuer}"\n'
        f'client_id = "sesame-cli"\nscopes = ["openid", "profile"]\nlogin_timeout = 60\n{extra}'
    )


def assert_cached_for_the_shell(idp, cli: str, profile: str, token: str, cache: Path) -> None:
    """The token is in the file cache, and `sesame token -p PROFILE` prints it without a new
    login or a new token from the provider."""
    assert list(cache.glob("*.json")), "the token is in the file cache"
    issued = idp.token_total()
    r = subprocess.run(
        [cli, "token", "-p", profile],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == token
    assert idp.token_total() == issued


# ---------------------------------------------------------------- (a) device flow


def test_device_login_in_a_notebook_is_cell_output_with_link_code_and_qr(idp, browser, cli, clean_env, tmp_path):
    """In a real Jupyter kernel (ipykernel, driven by jupyter_client as a notebook front end
    drives it), `login(mode="device")` shows the code as the cell's HTML output — the link,
    the code and a QR code — and waits until a person approves it elsewhere."""
    from jupyter_client.manager import start_new_kernel

    write_profile("pynotebook", idp.issuer, "device")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"), JUPYTER_PLATFORM_DIRS="1")
    env.pop("BROWSER", None)
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        msg_id = kc.execute(
            "import sesame\n"
            "s = sesame.Session('pynotebook')\n"
            "s.login(mode='device')\n"
            "print('logged in as', s.get('whoami').json()['sub'])\n"
        )
        shown: List[Dict[str, str]] = []
        stdout, stderr = [], []
        approved = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            msg = kc.get_iopub_msg(timeout=deadline - time.monotonic())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data":
                shown.append(content["data"])
                # The person: reads the code off the cell's output, approves in a browser.
                text = content["data"]["text/plain"]
                code = re.search(r"First copy your one-time code: (\S+)", text).group(1)
                uri = re.search(r"Then open (\S+) and enter it", text).group(1)
                benv = dict(os.environ, **browser.env())
                benv.pop("BROWSER")
                approved = subprocess.run([browser.command, f"{uri}?user_code={code}"], env=benv,
                                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
            elif kind == "stream":
                (stdout if content["name"] == "stdout" else stderr).append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert approved is not None and approved.returncode == 0, (approved, stderr)
    assert len(shown) == 1, shown
    html = shown[0]["text/html"]
    assert re.search(r"one-time code: <code><b>[A-Z0-9-]+</b></code>", html), html
    assert f'href="{idp.issuer}' in html and "<svg" in html, html
    # The HTML is the prompt; stderr does not repeat it. The login's summary still goes there.
    assert "one-time code" not in "".join(stderr)
    assert "logged in as alice" in "".join(stdout), (stdout, stderr)




def test_device_login_shows_the_code_then_the_cli_uses_the_cached_token(idp, browser, cli, monkeypatch, clean_env):
    write_profile("pydevice", idp.issuer, "device")
    # No terminal and no $BROWSER: an explicit device login still runs (the person
    # approves on another device), so only the code on stderr can complete the login.
    monkeypatch.delenv("BROWSER", raising=False)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    outcome: Dict[str, object] = {}

    def person() -> None:
        """Reads the code and the address from stderr and enters it in a browser."""
        try:
            code = err.wait_for(r"First copy your one-time code: (\S+)").group(1)
            uri = err.wait_for(r"Then open (\S+) and enter it").group(1)
            env = dict(os.environ, **browser.env())
            env.pop("BROWSER")
            outcome["browser"] = subprocess.run(
                [browser.command, f"{uri}?user_code={code}"],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=90,
            )
            outcome["code"] = code
        except BaseException as e:  # reported by the main thread
            outcome["error"] = e

    helper = threading.Thread(target=person, daemon=True)
    helper.start()
    t0 = time.monotonic()
    with sesame.Session("pydevice") as s:
        try:
            s.login("device")
        except BaseException:
            helper.join(timeout=5)
            raise AssertionError(f"login failed; person: {outcome!r}\n--- sesame ---\n{err.text()}")
        assert s.get("whoami").json()["sub"] == "alice"
        token = s.token()
        assert s.status()["valid"] and s.status()["subject"] == "alice"
    helper.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    run = outcome["browser"]
    assert run.returncode == 0, f"{run.stderr}\n--- sesame ---\n{err.text()}"
    assert "device confirm page" in browser.log(), browser.log()
    assert time.monotonic() - t0 < 60
    text = err.text()
    code_at = text.index("First copy your one-time code: ")
    assert code_at < text.index("Then open http://127.0.0.1"), text
    done = [l for l in text.splitlines() if l.startswith("sesame: logged in to ")]
    assert len(done) == 1 and " as alice" in done[0] and "pydevice" in done[0], text
    assert token not in text, "the token never reaches stderr"
    assert_cached_for_the_shell(idp, cli, "pydevice", token, clean_env)
    # And so does a new session in this process.
    with sesame.Session(profile="pydevice") as again:
        assert again.token() == token


# ---------------------------------------------------------------- (b) browser flow


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_browser_login_through_browser_completes_the_loopback_redirect(
    idp, browser, cli, monkeypatch, clean_env, flavour
):
    # The classic front-channel URL (its parameters are checked below).
    write_profile("pyoidc", idp.issuer, "oidc", "par = false\n")
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)

    if flavour == "sync":
        with sesame.Session("pyoidc") as s:
            s.login()
            who = s.get("whoami").json()
            token = s.token()
    else:

        async def main():
            async with sesame.AsyncSession("pyoidc") as s:
                await s.login()
                who = (await s.get("whoami")).json()
                return who, await s.token()

        who, token = run_async(main())
    assert who["sub"] == "alice"
    log = browser.wait_done()
    assert browser.invocations() == 1, log
    page = browser.page()
    assert page["url"].startswith("http://127.0.0.1:") and page["status"] == 200, page
    text = err.text()
    # The URL first, then the browser.
    assert text.index("To log in, open this URL in a browser:") < text.index("Opened it in your browser"), text
    assert "code_challenge_method=S256" in text and "nonce=" in text, text
    assert " as alice" in text and token not in text
    assert_cached_for_the_shell(idp, cli, "pyoidc", token, clean_env)
    assert browser.invocations() == 1, "no second login"


# ---------------------------------------------------------------- (c) nobody to ask


def test_login_without_a_person_is_login_required_at_once(idp, browser, monkeypatch):
    write_profile("pynobody", idp.issuer, "oidc")
    monkeypatch.delenv("BROWSER", raising=False)
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    # No terminal (pytest's stdin and our stderr are not) and no $BROWSER.
    with sesame.Session("pynobody") as s:
        # (An explicit "device" login needs nobody here: see the device test above.)
        for mode in [None, "browser"]:
            t0 = time.monotonic()
            with pytest.raises(sesame.LoginRequired, match="no(t both)? terminals") as e:
                s.login(mode)
            assert "Session.login()" in (e.value.hint or ""), e.value.hint
            assert "sesame login" not in str(e.value), str(e.value)
            assert time.monotonic() - t0 < 5
        assert s.status()["valid"] is False

    async def main():
        async with sesame.AsyncSession("pynobody") as a:
            with pytest.raises(sesame.LoginRequired):
                await a.login()

    run_async(main())
    # "no-browser" with a $BROWSER: nobody would open the URL.
    for k, v in browser.env().items():
        monkeypatch.setenv(k, v)
    with sesame.Session("pynobody") as s:
        with pytest.raises(sesame.LoginRequired):
            s.login("no-browser")
        with pytest.raises(ValueError):
            s.login("carrier-pigeon")
    assert browser.invocations() == 0, "no browser was started"
    assert "http://" not in err.text(), "no URL was shown"


# ---------------------------------------------------------------- Ctrl-C


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_stops_a_waiting_login_and_closes_the_listener(idp, monkeypatch):
    # The port is read from the front-channel URL.
    write_profile("pyctrlc", idp.issuer, "oidc", "par = false\n")
    monkeypatch.setenv("BROWSER", "true")  # "opens" the URL, nobody logs in
    err = Stderr()
    monkeypatch.setattr(sys, "stderr", err)
    port: Dict[str, int] = {}

    def interrupt() -> None:
        m = err.wait_for(r"redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A(\d+)")
        err.wait_for("Opened it in your browser")
        port["n"] = int(m.group(1))
        with socket.create_connection(("127.0.0.1", port["n"]), timeout=5):
            port["listening"] = 1
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt, daemon=True)
    with sesame.Session("pyctrlc") as s:
        helper.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            s.login()
        assert time.monotonic() - t0 < 20
    helper.join(timeout=5)
    assert port.get("listening") == 1, err.text()
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port["n"]), timeout=1).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "the loopback listener is still open after Ctrl-C"
        time.sleep(0.1)
