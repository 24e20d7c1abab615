//! The blocking API sends every method it offers, with the session's credential, to a
//! real local server (a thread answering with the method and the header it saw).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// Answers each connection with `METHOD Authorization-value` as the body (empty for HEAD).
fn method_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let method = line.split_whitespace().next().unwrap_or_default().to_string();
            let mut auth = String::new();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    auth = h[14..].trim().to_string();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let text = format!("{method} {auth}");
            let shown = if method == "HEAD" { "" } else { text.as_str() };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Method: {method}\r\nConnection: close\r\n\r\n{shown}",
                text.len()
            );
        }
    });
    format!("http://{addr}/api/")
}

#[test]
fn every_method_of_the_blocking_session_is_sent_with_the_credential() {
    let base = method_echo();
    let session = sesame::blocking::Session::new(
        sesame::Session::builder()
            .base_url(base.as_str())
            .unwrap()
            .credential(sesame::credential::Bearer::new("t0ken"))
            .build()
            .unwrap(),
    );
    let cases = [
        ("GET", session.get("x")),
        ("POST", session.post("x")),
        ("PUT", session.put("x")),
        ("PATCH", session.patch("x")),
        ("DELETE", session.delete("x")),
        ("HEAD", session.head("x")),
    ];
    for (method, request) in cases {
        let r = request.send().unwrap();
        assert_eq!(r.status(), 200, "{method}");
        assert_eq!(r.headers()["x-method"], method);
        if method != "HEAD" {
            assert_eq!(r.text(), format!("{method} Bearer t0ken"));
        }
    }
}
