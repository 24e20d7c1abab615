//! `sesame request -o FILE` shows a progress bar on a terminal, and nothing otherwise.

mod support;

use support::{TestServer, sesame, sesame_on_a_terminal};

#[tokio::test]
async fn no_progress_when_stderr_is_not_a_terminal() {
    let api = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("body.json");
    let url = api.url("/download");
    let r = sesame(home.path(), &["request", &url, "-o", out.to_str().unwrap()], &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.stderr, "", "nothing extra on a redirected stderr");
    assert!(std::fs::read_to_string(&out).unwrap().contains("/download"));
}

#[tokio::test]
async fn a_terminal_shows_size_and_rate_and_q_silences_it() {
    let api = TestServer::http().await;
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("body.json");
    let url = api.url("/download");
    let path = out.to_str().unwrap().to_string();
    let (h, u, p) = (home.path().to_path_buf(), url.clone(), path.clone());
    let (code, screen) = tokio::task::spawn_blocking(move || sesame_on_a_terminal(&h, &["request", &u, "-o", &p], &[]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{screen}");
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(screen.contains(&format!("{size} B/{size} B")), "size shown: {screen:?}");
    assert!(screen.contains("/s"), "rate shown: {screen:?}");
    let (h, u, p) = (home.path().to_path_buf(), url, path);
    let (code, screen) =
        tokio::task::spawn_blocking(move || sesame_on_a_terminal(&h, &["-q", "request", &u, "-o", &p], &[]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains(" B/"), "-q: no bar: {screen:?}");
}
