"""igwn-auth-utils' wall (issue 15): ``raise_for_status`` and ``token_audience`` as session
keys, ``url=``, and ``sesame.igwn.Session`` with igwn's argument names and defaults —
against local servers, and side by side with the real ``igwn_auth_utils.Session`` over
mutual TLS (a test CA made here with ``cryptography``)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import sesame
import sesame.igwn

ROOT = Path(__file__).resolve().parents[3]
PKG = ROOT / "crates" / "sesame-py"
EXAMPLES = PKG / "examples"


@pytest.fixture(autouse=True)
def no_grid_credentials(tmp_path, monkeypatch):
    """Nothing discoverable unless a test puts it there (tokens, proxies, netrc)."""
    for k in ["BEARER_TOKEN", "BEARER_TOKEN_FILE", "SCITOKEN", "SCITOKEN_FILE", "_CONDOR_CREDS",
              "X509_USER_PROXY", "X509_USER_CERT", "X509_USER_KEY", "IGWN_AUTH_UTILS_FIND_X509",
              "IGWN_AUTH_UTILS_FIND_SCITOKEN"]:
        monkeypatch.delenv(k, raising=False)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if os.path.exists(f"/tmp/x509up_u{os.getuid()}"):
        pytest.skip("a grid proxy in /tmp would be discovered")


def jwt(**claims: Any) -> str:
    """An unsigned JWT (the client reads claims; servers here do not verify)."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    claims.setdefault("exp", int(time.time()) + 3600)
    return ".".join([b64(b'{"alg":"RS256","typ":"JWT"}'), b64(json.dumps(claims).encode()), b64(b"sig")])


# ---------------------------------------------------------------- raise_for_status


def test_raise_for_status_is_off_by_default_in_sesame(server):
    with sesame.Session(base_url=server.url("/")) as s:
        assert s.get("status/404").status_code == 404


def test_raise_for_status_session_key_raises_the_status_class_with_the_response(server):
    with sesame.Session(base_url=server.url("/"), raise_for_status=True) as s:
        assert s.get("echo").status_code == 200
        with pytest.raises(sesame.NotFound) as e:
            s.get("status/404")
        assert e.value.status == 404 and e.value.response.status_code == 404
        assert "server says 404" in str(e.value)
        with pytest.raises(sesame.ServerError):
            s.post("status/503", json={})


def test_raise_for_status_on_the_async_session(server):
    async def go() -> None:
        async with sesame.AsyncSession(base_url=server.url("/"), raise_for_status=True) as s:
            assert (await s.get("echo")).status_code == 200
            with pytest.raises(sesame.Forbidden):
                await s.get("status/403")

    from conftest import run_async

    run_async(go())


def test_igwn_session_raises_for_status_by_default_and_not_when_told(server):
    with sesame.igwn.Session() as s:
        with pytest.raises(sesame.HTTPError) as e:
            s.get(server.url("/status/500"))
        assert e.value.status == 500
    with sesame.igwn.Session(raise_for_status=False) as s:
        assert s.get(server.url("/status/500")).status_code == 500


def test_raise_for_status_from_the_configuration_file(server, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[profiles.api]\nbase_url = "{server.url("/")}"\nraise_for_status = true\n')
    with sesame.Session("api", config=cfg) as s:
        with pytest.raises(sesame.NotFound):
            s.get("status/404")
    # An argument beats the file.
    with sesame.Session("api", config=cfg, raise_for_status=False) as s:
        assert s.get("status/404").status_code == 404


# ---------------------------------------------------------------- url=, token, audience


def test_url_is_the_base_url(server):
    with sesame.Session(url=server.url("/api/")) as s:
        assert s.base_url == server.url("/api/")
        s.get("items")
    assert server.seen("/api/items")
    with pytest.raises(TypeError, match="url= and base_url="):
        sesame.Session(url=server.url("/"), base_url=server.url("/"))


def test_igwn_url_sets_the_origin_and_the_default_audience(server, monkeypatch):
    for_here = jwt(aud=f"http://127.0.0.1")
    monkeypatch.setenv("BEARER_TOKEN", for_here)
    with sesame.igwn.Session(url=server.url("/api/v1/thing")) as s:
        assert s.base_url == server.url("/")
        s.get(server.url("/other/path"))
    assert server.seen("/other/path")[-1].headers["authorization"] == f"Bearer {for_here}"


def test_explicit_token_beats_discovery(server, monkeypatch):
    monkeypatch.setenv("BEARER_TOKEN", "discovered-6d1f")
    with sesame.igwn.Session(token="explicit-93ab", url=server.url("/")) as s:
        s.get(server.url("/a"))
    assert server.seen("/a")[-1].headers["authorization"] == "Bearer explicit-93ab"
    with sesame.Session(auth="discover", token="explicit-93ab", base_url=server.url("/")) as s:
        s.get("b")
    assert server.seen("/b")[-1].headers["authorization"] == "Bearer explicit-93ab"
    # Without it, discovery finds BEARER_TOKEN.
    with sesame.igwn.Session(url=server.url("/")) as s:
        s.get(server.url("/c"))
    assert server.seen("/c")[-1].headers["authorization"] == "Bearer discovered-6d1f"


def test_token_audience_selects_the_discovered_token(server, monkeypatch):
    for_gracedb = jwt(aud="https://gracedb.example")
    monkeypatch.setenv("BEARER_TOKEN", for_gracedb)
    # The default audience is the URL's scheme://host: not this token's.
    with sesame.igwn.Session(url=server.url("/")) as s:
        s.get(server.url("/default"))
    assert "authorization" not in server.seen("/default")[-1].headers
    with sesame.igwn.Session(url=server.url("/"), token_audience="https://gracedb.example") as s:
        s.get(server.url("/named"))
    assert server.seen("/named")[-1].headers["authorization"] == f"Bearer {for_gracedb}"
    # A list: any one will do.
    with sesame.Session(auth="discover", base_url=server.url("/"), token_audience=["https://x.example", "https://gracedb.example"]) as s:
        s.get("listed")
    assert server.seen("/listed")[-1].headers["authorization"] == f"Bearer {for_gracedb}"


def test_audience_mismatch_is_refused(server, monkeypatch):
    monkeypatch.setenv("BEARER_TOKEN", jwt(aud="https://gracedb.example"))
    with pytest.raises(sesame.Error) as e:
        with sesame.igwn.Session(url=server.url("/"), token_audience="https://segments.example", fail_if_noauth=True) as s:
            s.get(server.url("/refused"))
    assert "token_audience" in str(e.value)
    assert not server.seen("/refused")
    # A static bearer token for another audience: refused before anything is sent.
    with pytest.raises(sesame.CredentialError, match="not for this service"):
        sesame.Session(base_url=server.url("/"), auth="bearer", token=jwt(aud="https://gracedb.example"),
                       token_audience="https://segments.example")
    assert not server.seen("/")


def test_token_scope_and_issuer_select_tokens(server, monkeypatch):
    monkeypatch.setenv("BEARER_TOKEN", jwt(aud="ANY", scope="gracedb.read read:/frames", iss="https://issuer.a"))
    base = server.url("/")
    with sesame.igwn.Session(url=base, token_scope="gracedb.read", token_issuer="https://issuer.a") as s:
        s.get(server.url("/ok"))
    assert server.seen("/ok")[-1].headers["authorization"].startswith("Bearer ")
    for kw in [{"token_scope": "gracedb.write"}, {"token_scope": "read:/frames write:/frames"}, {"token_issuer": "https://issuer.b"}]:
        with pytest.raises(sesame.Error):
            with sesame.igwn.Session(url=base, fail_if_noauth=True, **kw) as s:
                s.get(server.url("/no"))
    assert not server.seen("/no")


def test_force_noauth_and_fail_if_noauth(server, monkeypatch):
    monkeypatch.setenv("BEARER_TOKEN", "discovered-6d1f")
    with sesame.igwn.Session(force_noauth=True, token="explicit-1") as s:
        s.get(server.url("/anon"))
    assert "authorization" not in server.seen("/anon")[-1].headers
    with pytest.raises(ValueError, match="both force_noauth and fail_if_noauth"):
        sesame.igwn.Session(force_noauth=True, fail_if_noauth=True)
    monkeypatch.delenv("BEARER_TOKEN")
    with pytest.raises(sesame.Error):
        with sesame.igwn.Session(fail_if_noauth=True, url=server.url("/")) as s:
            s.get(server.url("/none"))
    assert not server.seen("/none")


def test_auth_tuple_and_sesame_keywords_pass_through(server):
    server.basic = ("albert", "pw-e=mc2")
    with sesame.igwn.Session(auth=("albert", "pw-e=mc2"), url=server.url("/"), timeout=10) as s:
        assert s.get(server.url("/basic-auth")).json() == {"user": "albert"}
    with pytest.raises(TypeError, match="given twice"):
        sesame.igwn.Session(url=server.url("/"), base_url=server.url("/"))


def test_token_true_requires_and_token_false_disables_token_discovery(server, monkeypatch):
    base = server.url("/")
    # token=True: nothing found is an error before anything is sent.
    with pytest.raises(sesame.Error, match="(?i)token"):
        with sesame.igwn.Session(token=True, url=base) as s:
            s.get(server.url("/required-none"))
    assert not server.seen("/required-none")
    monkeypatch.setenv("BEARER_TOKEN", "discovered-7a1c")
    with sesame.igwn.Session(token=True, url=base) as s:
        s.get(server.url("/required"))
    assert server.seen("/required")[-1].headers["authorization"] == "Bearer discovered-7a1c"
    # token=False: a token in the environment is not used.
    with sesame.igwn.Session(token=False, url=base) as s:
        s.get(server.url("/disabled"))
    assert "authorization" not in server.seen("/disabled")[-1].headers
    # Unset, igwn-auth-utils' variable decides, as it does there.
    monkeypatch.setenv("IGWN_AUTH_UTILS_FIND_SCITOKEN", "0")
    with sesame.igwn.Session(url=base) as s:
        s.get(server.url("/igwn-env-off"))
    assert "authorization" not in server.seen("/igwn-env-off")[-1].headers
    # The same as sesame's own profile key.
    monkeypatch.delenv("IGWN_AUTH_UTILS_FIND_SCITOKEN")
    with sesame.Session(auth="discover", base_url=base, token_discovery="off") as s:
        s.get("key-off")
    assert "authorization" not in server.seen("/key-off")[-1].headers
    with pytest.raises(sesame.ConfigError, match="required.*optional.*off"):
        sesame.Session(auth="discover", base_url=base, token_discovery="maybe")


def test_cert_true_requires_an_x509_credential_and_cert_false_ignores_one(server, monkeypatch, tmp_path):
    base = server.url("/")
    with pytest.raises(sesame.Error, match="(?i)x\\.?509|certificate|proxy"):
        with sesame.igwn.Session(cert=True, token=False, url=base) as s:
            s.get(server.url("/cert-none"))
    assert not server.seen("/cert-none")
    # cert=False: a proxy the environment names is not even read (this one is unreadable).
    bad = tmp_path / "x509up_broken"
    bad.write_text("not a certificate")
    bad.chmod(0o600)
    monkeypatch.setenv("X509_USER_PROXY", str(bad))
    with sesame.igwn.Session(cert=False, url=base) as s:
        s.get(server.url("/cert-off"))
    assert server.seen("/cert-off")


def test_per_request_auth_arguments_override_the_sessions(server, monkeypatch):
    base = server.url("/")
    monkeypatch.setenv("BEARER_TOKEN", "discovered-2b9e")
    with sesame.igwn.Session(url=base) as s:
        s.get(server.url("/a"))
        s.get(server.url("/b"), token="per-request-1")
        s.get("c", force_noauth=True)
        s.get(server.url("/d"))
        s.get(server.url("/e"), token="per-request-1")
        assert len(s._overridden) == 2  # one session per distinct set, reused
        with pytest.raises(sesame.Error):
            s.get(server.url("/f"), token=False, fail_if_noauth=True)
    auth = {p: server.seen(p)[-1].headers.get("authorization") for p in ["/a", "/b", "/c", "/d", "/e"]}
    assert auth == {"/a": "Bearer discovered-2b9e", "/b": "Bearer per-request-1", "/c": None,
                    "/d": "Bearer discovered-2b9e", "/e": "Bearer per-request-1"}
    assert not server.seen("/f")


def test_token_property_is_the_scitoken_in_use(server, pki):
    scitokens = pytest.importorskip("scitokens")
    tok = scitokens.SciToken(key=pki["token_key"], key_id="igwn-test-key")
    tok["iss"] = "https://issuer.example"
    with sesame.igwn.Session(token=tok, url=server.url("/")) as s:
        assert s.token is tok
    with sesame.igwn.Session(token=False, url=server.url("/")) as s:
        assert s.token is None
    with sesame.igwn.Session(force_noauth=True) as s:
        assert s.token is None


def test_igwn_session_is_sesame_sessions_per_origin(server, other_server):
    with sesame.igwn.Session(url=server.url("/")) as s:
        assert isinstance(s.session, sesame.Session)
        assert s.session.auth == "discover" and s.status()["auth"] == "discover"
        s.get(other_server.url("/x"))
        assert other_server.seen("/x")
        s.get("relative")  # joins url='s origin
        assert server.seen("/relative")
    with sesame.igwn.Session() as s:
        with pytest.raises(sesame.ConfigError):
            s.get("relative")


# ---------------------------------------------------------------- mutual TLS, side by side


def _pki(d: Path) -> Dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: Any, path: Path) -> None:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("igwn test CA")).issuer_name(name("igwn test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, server: bool) -> Tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
             .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                             x509.DNSName("localhost")]), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        c, k = d / f"{cn.replace(' ', '_')}.pem", d / f"{cn.replace(' ', '_')}.key"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, k)
        return c, k

    ca_file = d / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_cert, server_key = leaf("localhost", True)
    client_cert, client_key = leaf("Albert Einstein", False)
    token_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"ca": ca_file, "server": (server_cert, server_key), "client": (client_cert, client_key),
            "token_key": token_key}


class MtlsApi:
    """An https API on 127.0.0.1 that requires a client certificate of the test CA and records
    each request's Authorization header and the client certificate's subject CN."""

    def __init__(self, pki: Dict[str, Any]) -> None:
        self.seen: List[Dict[str, Optional[str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                peer = self.connection.getpeercert() or {}
                cn = next((v for rdn in peer.get("subject", ()) for (k, v) in rdn if k == "commonName"), None)
                api.seen.append({"path": self.path, "authorization": self.headers.get("Authorization"), "client": cn})
                body = json.dumps({"ok": True, "client": cn}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*map(str, pki["server"]))
        ctx.load_verify_locations(str(pki["ca"]))
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pki(tmp_path):
    pytest.importorskip("cryptography")
    d = tmp_path / "pki"
    d.mkdir()
    return _pki(d)


@pytest.fixture
def mtls_api(pki):
    api = MtlsApi(pki)
    yield api
    api.stop()


def scitoken(pki: Dict[str, Any], aud: str) -> Any:
    scitokens = pytest.importorskip("scitokens")
    tok = scitokens.SciToken(key=pki["token_key"], key_id="igwn-test-key")
    tok["aud"] = aud
    tok["iss"] = "https://issuer.example"
    tok["scope"] = "read:/frames gracedb.read"
    return tok


def test_token_and_certificate_together_as_igwn_auth_utils_sends_them(pki, mtls_api):
    igwn_requests = pytest.importorskip("igwn_auth_utils.requests")
    tok = scitoken(pki, mtls_api.origin)
    serialised = tok.serialize(issuer="https://issuer.example", lifetime=600).decode()
    cert, key = map(str, pki["client"])
    url = mtls_api.origin + "/api/data"
    with igwn_requests.Session(token=serialised, cert=(cert, key)) as theirs:
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's `verify`.
        assert theirs.get(url, verify=str(pki["ca"])).json()["client"] == "Albert Einstein"
    with sesame.igwn.Session(token=serialised, cert=(cert, key), ca_bundle=pki["ca"]) as ours:
        assert ours.get(url).json()["client"] == "Albert Einstein"
    igwn_sent, sesame_sent = mtls_api.seen[-2], mtls_api.seen[-1]
    assert igwn_sent == sesame_sent
    assert sesame_sent["authorization"] == f"Bearer {serialised}"


def test_a_scitoken_object_is_sent_serialised(pki, mtls_api):
    scitokens = pytest.importorskip("scitokens")
    tok = scitoken(pki, mtls_api.origin)
    cert, key = map(str, pki["client"])
    with sesame.igwn.Session(token=tok, cert=(cert, key), ca_bundle=pki["ca"], url=mtls_api.origin) as s:
        s.get(mtls_api.origin + "/api/obj")
    sent = mtls_api.seen[-1]
    assert sent["client"] == "Albert Einstein"
    header = sent["authorization"] or ""
    assert header.startswith("Bearer ")
    # The header holds the signed token: it verifies with the public key.
    from cryptography.hazmat.primitives import serialization

    pem = pki["token_key"].public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    got = scitokens.SciToken.deserialize(header[len("Bearer "):], public_key=pem, audience=mtls_api.origin)
    assert got["scope"] == "read:/frames gracedb.read"


def test_a_token_without_the_certificate_is_refused_by_the_mtls_api(pki, mtls_api):
    with pytest.raises(sesame.TransportError):
        with sesame.igwn.Session(token="t-1", ca_bundle=pki["ca"]) as s:
            s.get(mtls_api.origin + "/api/none")


class Issuer:
    """An https token issuer on 127.0.0.1 (server certificate of the test CA): its OpenID
    metadata and the JWKS of the test token key, for scitokens and sesame to verify with."""

    def __init__(self, pki: Dict[str, Any]) -> None:
        issuer = self
        nums = pki["token_key"].public_key().public_numbers()

        def b64int(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

        jwks = {"keys": [{"kty": "RSA", "kid": "igwn-test-key", "alg": "RS256", "use": "sig",
                          "n": b64int(nums.n), "e": b64int(nums.e)}]}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration") or self.path.endswith(
                        "/.well-known/oauth-authorization-server"):
                    o = issuer.origin
                    doc: Any = {"issuer": o, "jwks_uri": o + "/jwks", "token_endpoint": o + "/token",
                                "authorization_endpoint": o + "/authorize", "response_types_supported": ["code"],
                                "subject_types_supported": ["public"],
                                "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/jwks":
                    doc = jwks
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*map(str, pki["server"]))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_scitokens_validates_the_discovered_token_sesame_sends(pki, mtls_api, monkeypatch):
    scitokens = pytest.importorskip("scitokens")
    from cryptography.hazmat.primitives.asymmetric import rsa

    iss = Issuer(pki)
    try:
        # scitokens fetches the issuer's keys with urllib: trust the test CA there.
        monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
        tok = scitokens.SciToken(key=pki["token_key"], key_id="igwn-test-key")
        tok["aud"] = mtls_api.origin
        tok["scope"] = "read:/frames"
        good = tok.serialize(issuer=iss.origin, lifetime=600).decode()
        forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = scitokens.SciToken(key=forged_key, key_id="igwn-test-key")
        forged["aud"] = mtls_api.origin
        forged["scope"] = "read:/frames"
        bad = forged.serialize(issuer=iss.origin, lifetime=600).decode()
        cert, key = map(str, pki["client"])
        common = dict(url=mtls_api.origin, cert=(cert, key), ca_bundle=pki["ca"], token_issuer=iss.origin,
                      token_scope="read:/frames", verify_signature=True)

        monkeypatch.setenv("BEARER_TOKEN", good)
        with sesame.igwn.Session(**common) as s:
            s.get(mtls_api.origin + "/frames/run1")
            sent = mtls_api.seen[-1]
            assert sent["client"] == "Albert Einstein" and sent["authorization"] == f"Bearer {good}"
            # igwn's Session.token: the SciToken in use, verified by scitokens.
            assert s.token is not None and s.token["scope"] == "read:/frames"
            assert s.token["iss"] == iss.origin
        # The real scitokens validates what sesame sent: signature (keys over https from the
        # issuer), audience and scope.
        got = scitokens.SciToken.deserialize(sent["authorization"][len("Bearer "):], audience=mtls_api.origin)
        assert scitokens.Enforcer(iss.origin, audience=mtls_api.origin).test(got, "read", "/frames/run1")

        # A token with a forged signature is passed over by sesame, as scitokens refuses it.
        with pytest.raises(Exception):
            scitokens.SciToken.deserialize(bad, audience=mtls_api.origin)
        # (The certificate still goes: it satisfies fail_if_noauth, as in igwn-auth-utils.)
        monkeypatch.setenv("BEARER_TOKEN", bad)
        with sesame.igwn.Session(fail_if_noauth=True, **common) as s:
            s.get(mtls_api.origin + "/frames/forged")
        sent = mtls_api.seen[-1]
        assert sent["path"] == "/frames/forged" and sent["client"] == "Albert Einstein"
        assert sent["authorization"] is None
    finally:
        iss.stop()


# ---------------------------------------------------------------- examples and types


def test_igwn_example_runs(server, monkeypatch, tmp_path):
    discovered = jwt(aud="ANY")
    env = dict(os.environ, BEARER_TOKEN=discovered)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "igwn_session.py"), server.url("/api/"), "explicit-7c2e"],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "default discovery: 200",
        "explicit token: 200",
        "fail_if_noauth: 200",
        "force_noauth: 200",
        "raise_for_status: 404",
    ], out.stdout
    sent = [r.headers.get("authorization") for r in server.seen("/api/important/data")]
    assert sent == [f"Bearer {discovered}", "Bearer explicit-7c2e", f"Bearer {discovered}", None]
    # With nothing to discover, fail_if_noauth raises and says so.
    env.pop("BEARER_TOKEN")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "igwn_session.py"), server.url("/api/")],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert "fail_if_noauth: no credential:" in out.stdout


def test_mypy_strict_accepts_the_igwn_module_and_examples(tmp_path):
    pytest.importorskip("mypy")
    examples = sorted(str(p) for p in EXAMPLES.glob("igwn_*.py"))
    assert examples
    # `-m`: the installed package (its stubs and py.typed), as a user's mypy sees it; then
    # the examples against it.
    for target in [["-m", "sesame.igwn"], examples]:
        out = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "mypy"),
             *target],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
        assert out.returncode == 0, out.stdout + out.stderr
