"""The provider's other endpoints as `Session` methods (oxd-python's protocol calls), against
the bundled identity provider: userinfo, introspection, revocation, the end-session URL,
WebFinger discovery, and dynamic registration with RFC 7592 read/update/delete. No mocks."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

import sesame
from conftest import ALICE, PASSWORD_CLIENT, m2m_kwargs


def alice_session(idp) -> sesame.Session:
    return sesame.Session(
        base_url=idp.api,
        auth="password",
        issuer=idp.issuer,
        client_id=PASSWORD_CLIENT[0],
        client_secret=PASSWORD_CLIENT[1],
        username=ALICE[0],
        password=ALICE[1],
        scopes=["openid", "profile", "email", "offline_access"],
        cache="memory",
    )


def test_userinfo_and_introspect(idp):
    with alice_session(idp) as s:
        info = s.userinfo()
        assert info["sub"] == "alice" and info["email"] == "alice@example.com", info
        own = s.introspect()
        assert own["active"] is True and own["sub"] == "alice" and own["client_id"] == PASSWORD_CLIENT[0], own
        assert s.introspect("not-a-token") == {"active": False}
    with sesame.Session(**m2m_kwargs(idp)) as m2m:
        # A client-credentials token has no person: the userinfo endpoint refuses it.
        with pytest.raises(sesame.Error):
            m2m.userinfo()
        assert m2m.introspect()["active"] is True
    with sesame.Session(base_url=idp.api) as none:
        with pytest.raises(sesame.ConfigError):
            none.introspect()


def test_revoke_drops_the_tokens_at_the_provider_and_here(idp):
    with alice_session(idp) as s:
        token = s.token()
        assert s.get("whoami").json()["sub"] == "alice"
        assert s.revoke() is True
        # The revoked token is dead at the provider…
        with sesame.Session(**m2m_kwargs(idp, client_id="rs-client", client_secret="rs-secret")) as rs:
            assert rs.introspect(token)["active"] is False
        # …and gone from the cache: the next request gets a new one.
        assert s.revoke() is False
        assert s.token() != token


def test_end_session_url_keeps_the_tokens(idp):
    with sesame.Session(
        base_url=idp.api, auth="oidc", issuer=idp.issuer, client_id="sesame-cli", cache="memory"
    ) as s:
        url = s.end_session_url("http://127.0.0.1/logout")
        assert url is not None and url.startswith(idp.issuer + "/session/end?"), url
        q = parse_qs(urlsplit(url).query)
        assert q == {"client_id": ["sesame-cli"], "post_logout_redirect_uri": ["http://127.0.0.1/logout"]}, q
    with alice_session(idp) as s:
        token = s.token()
        assert s.end_session_url() is not None
        assert s.token() == token, "end_session_url() deletes nothing"
        assert s.status()["valid"]


def test_discover_by_webfinger_with_a_prefix(idp):
    with sesame.Session() as s:
        meta = s.discover(idp.issuer + "/ods/api", webfinger_prefix="ods")
        assert meta["issuer"] == idp.issuer
        assert meta["token_endpoint"] == idp.issuer + "/token"
        meta = s.discover(idp.api)
        assert meta["issuer"] == idp.issuer


def test_register_save_profile_writes_a_usable_client_with_its_secret_in_a_0600_file(idp, tmp_path):
    import os
    import stat

    config = tmp_path / "conf" / "config.toml"
    config.parent.mkdir(mode=0o700)
    config.write_text('# my profiles\n[profiles.provider]\nauth = "oidc"\n'
                      f'issuer = "{idp.issuer}"\nbase_url = "{idp.api}"\nclient_id = "sesame-cli"\n')
    with sesame.Session("provider", config=str(config)) as s:
        reg = s.register(grant_types=["client_credentials"], response_types=[], token_endpoint_auth_method="client_secret_basic",
                         client_name="saved by python", save_profile="saved-m2m")
        saved = reg["saved_profile"]
        assert saved["name"] == "saved-m2m" and saved["config"] == str(config), saved
        secret_file = saved["secret_file"]
        assert secret_file and stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
        assert open(secret_file).read().strip() == reg["client_secret"]
        text = config.read_text()
        # The file keeps what was there; the secret is a reference, never its value.
        assert text.startswith("# my profiles") and "[profiles.saved-m2m]" in text, text
        assert reg["client_secret"] not in text and "client_secret = { file = " in text, text
        # The same name again is refused before anything is registered, with a hint
        # worded for Python.
        with pytest.raises(sesame.ConfigError, match="already exists") as e:
            s.register(grant_types=["client_credentials"], response_types=[], save_profile="saved-m2m")
        assert "save_profile" in str(e.value) and "--force" not in str(e.value)
        with pytest.raises(sesame.ConfigError, match="profile name"):
            s.register(grant_types=["client_credentials"], response_types=[], save_profile="bad name!")
    with sesame.Session("saved-m2m", config=str(config)) as c:
        assert c.auth == "client-credentials"
        assert c.get("whoami").json()["client_id"] == reg["client_id"]


def test_register_then_read_update_delete(idp):
    with sesame.Session(base_url=idp.api, auth="oidc", issuer=idp.issuer, client_id="sesame-cli", cache="memory") as s:
        reg = s.register(
            redirect_uris=["http://127.0.0.1/callback"],
            client_name="oxd-style app",
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            response_types=["code"],
            application_type="native",
            token_endpoint_auth_method="client_secret_basic",
        )
        cid, secret = reg["client_id"], reg["client_secret"]
        uri, rat = reg["registration_client_uri"], reg["registration_access_token"]
        assert cid and secret and rat and uri.startswith(idp.issuer), reg
        assert reg["client_name"] == "oxd-style app"
        # The new client works.
        with sesame.Session(**m2m_kwargs(idp, client_id=cid, client_secret=secret)) as c:
            assert c.get("whoami").json()["client_id"] == cid
        read = s.read_registration(uri, rat)
        assert read["client_id"] == cid and read["client_name"] == "oxd-style app"
        meta = {k: v for k, v in read.items() if k not in ("registration_access_token",)}
        meta["client_name"] = "renamed app"
        updated = s.update_registration(uri, rat, meta)
        assert updated["client_name"] == "renamed app"
        # RFC 7592 §2.2: the provider may rotate the registration access token on update.
        rat = updated.get("registration_access_token", rat)
        assert s.read_registration(uri, rat)["client_name"] == "renamed app"
        s.delete_registration(uri, rat)
        with pytest.raises(sesame.Error):
            s.read_registration(uri, rat)
        # The deleted client gets no more tokens.
        with sesame.Session(**m2m_kwargs(idp, client_id=cid, client_secret=secret)) as c:
            with pytest.raises(sesame.AuthError):
                c.token()


def test_the_async_session_has_the_same_provider_methods(idp):
    """`AsyncSession`'s userinfo, introspect, end_session_url, discover, register and revoke
    answer as `Session`'s do (an async web framework awaits them)."""
    from conftest import run_async

    async def go() -> None:
        kw = dict(base_url=idp.api, auth="password", issuer=idp.issuer, client_id=PASSWORD_CLIENT[0],
                  client_secret=PASSWORD_CLIENT[1], username=ALICE[0], password=ALICE[1],
                  scopes=["openid", "profile", "email", "offline_access"], cache="memory")
        async with sesame.AsyncSession(**kw) as a:
            assert (await a.userinfo())["sub"] == "alice"
            assert (await a.introspect())["active"] is True
            assert await a.introspect("not-a-token") == {"active": False}
            url = await a.end_session_url("http://127.0.0.1/logout")
            assert url is not None and url.startswith(idp.issuer + "/session/end?"), url
            meta = await a.discover(idp.issuer + "/ods/api", webfinger_prefix="ods")
            assert meta["issuer"] == idp.issuer
            reg = await a.register(grant_types=["client_credentials"], response_types=[],
                                   token_endpoint_auth_method="client_secret_basic")
            assert reg["client_id"] and reg["client_secret"], reg
            token = await a.token()
            assert await a.revoke() is True
            assert await a.revoke() is False
            assert await a.token() != token
        with sesame.Session(**m2m_kwargs(idp, client_id=reg["client_id"], client_secret=reg["client_secret"])) as c:
            assert c.get("whoami").json()["client_id"] == reg["client_id"]

    run_async(go())
