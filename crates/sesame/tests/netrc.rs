//! netrc credentials: host match, `default`, and the ssh-style permission rule.

mod support;

use sesame::Session;
use sesame::credential::Netrc;
use support::*;

#[tokio::test]
async fn netrc_0600_is_used_per_host() {
    let s = TestServer::http().await;
    let dir = tempdir();
    let path = dir.path().join("netrc");
    write_private(
        &path,
        b"machine 127.0.0.1 login alice password wonder-land\ndefault login anon password x\n",
    );
    let session = Session::builder()
        .base_url(&s.url("/"))
        .unwrap()
        .credential(Netrc::load(&path).unwrap())
        .build()
        .unwrap();
    session.get("n").send().await.unwrap();
    // base64("alice:wonder-land")
    assert_eq!(
        s.last("/n").unwrap().header("authorization"),
        Some("Basic YWxpY2U6d29uZGVyLWxhbmQ=")
    );
}

#[cfg(unix)]
#[test]
fn netrc_readable_by_others_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let path = dir.path().join("netrc");
    std::fs::write(&path, "machine h login u password p\n").unwrap();
    for mode in [0o644, 0o620, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = Netrc::load(&path).unwrap_err();
        let msg = e.to_string();
        assert!(e.is_credential(), "{e:?}");
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("chmod 600"),
            "{msg}"
        );
        assert!(!msg.contains("password p"), "{msg}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Netrc::load(&path).is_ok());
}
