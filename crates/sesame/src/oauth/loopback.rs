//! The loopback redirect listener of the browser login ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
//!
//! - It listens on a loopback address only: `127.0.0.1` (for a redirect URI with host
//!   `127.0.0.1` or `localhost`) or `::1` (for `[::1]`); any other host is refused. The
//!   redirect URI sent to the provider keeps the configured host string, with the port
//!   actually bound (`http://127.0.0.1:0/callback` → `http://127.0.0.1:49152/callback`).
//! - Port 0 means any free port; a list of ports (`redirect_ports`) is tried in order, for
//!   providers that register fixed ports.
//! - Callback rules, for `GET` on the redirect path:
//!   - no query (a favicon, a reload of the bare path) → `404`, keep waiting;
//!   - a `state` that is missing, repeated or wrong → `400`, keep waiting (a forged or stale
//!     callback cannot end the login);
//!   - the right `state` with `error` → the failure page, and the provider's error;
//!   - the right `state` with `code` → the success page, and the code;
//!   - an `iss` ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)) that is not the
//!     provider's issuer → the failure page and an error (mix-up defence); when the
//!     provider's metadata says `authorization_response_iss_parameter_supported`, a
//!     callback **without** `iss` is refused the same way (RFC 9207 §2.4: the client must
//!     then require it, or an attacker's response without it slips through).
//!
//!   Other paths → `404`, other methods → `405`. Only one callback with the right `state`
//!   is accepted; later ones get `409`.
//! - The listener lives inside the future returned by [`LoopbackListener::wait`]: when that
//!   future completes, fails, times out or is dropped (Ctrl-C), the socket is closed and
//!   every connection task is aborted.
//!
//! A minimal HTTP/1.1 server: one request per connection (`Connection: close`), request
//! head capped at 16 KiB and 10 s. Nothing of the query (code, state) is logged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use url::Url;

use super::OAuthError;
use super::landing::{LandingPages, PageInfo};
use crate::{Error, ErrorKind, Result};

/// The redirect URI used when the profile sets none.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:0/callback";

const MAX_HEAD: usize = 16 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound loopback listener and the redirect URI that points at it.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
    path: String,
    port: u16,
}

/// What the listener needs to judge a callback.
#[derive(Clone)]
pub struct CallbackCheck {
    /// The `state` sent on the authorization request.
    pub state: SecretString,
    /// The provider's issuer, compared with an `iss` parameter when one is present.
    pub issuer: String,
    /// Refuse a callback without `iss` (the provider advertises RFC 9207 support).
    pub require_iss: bool,
    /// The pages to show.
    pub pages: LandingPages,
}

impl std::fmt::Debug for CallbackCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackCheck")
            .field("state", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("require_iss", &self.require_iss)
            .finish()
    }
}

/// The authorization code delivered to the listener.
pub struct AuthorizationCode(SecretString);

impl AuthorizationCode {
    /// The code. Call only to send it to the token endpoint.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

impl LoopbackListener {
    /// Binds a listener for `redirect_uri` (`http://127.0.0.1:PORT/path`, `localhost` or
    /// `[::1]`; port 0 or no port = any free port), trying `ports` in order instead of the
    /// URI's port when given.
    pub async fn bind(redirect_uri: &str, ports: &[u16]) -> Result<Self> {
        let uri = Url::parse(redirect_uri)
            .map_err(|e| Error::config(format!("redirect_uri `{redirect_uri}` is not a URL: {e}")))?;
        if uri.scheme() != "http" {
            return Err(Error::config(format!(
                "redirect_uri `{redirect_uri}` must use http:// on a loopback address (RFC 8252 §7.3), e.g. {DEFAULT_REDIRECT_URI}"
            )));
        }
        if uri.query().is_some() || uri.fragment().is_some() || !uri.username().is_empty() || uri.password().is_some() {
            return Err(Error::config(format!(
                "redirect_uri `{redirect_uri}` must not have a query, fragment or user info"
            )));
        }
        let host = uri.host_str().unwrap_or_default().to_string();
        let ip: IpAddr = match host.as_str() {
            "127.0.0.1" | "localhost" => Ipv4Addr::LOCALHOST.into(),
            "[::1]" => Ipv6Addr::LOCALHOST.into(),
            _ => {
                return Err(Error::config(format!(
                    "redirect_uri `{redirect_uri}` must point at this machine's loopback address (127.0.0.1, localhost or [::1]); sesame never listens on other addresses"
                )));
            }
        };
        let candidates: Vec<u16> = if ports.is_empty() {
            vec![uri.port().unwrap_or(0)]
        } else {
            ports.to_vec()
        };
        let mut last_err = None;
        for port in &candidates {
            match TcpListener::bind(SocketAddr::new(ip, *port)).await {
                Ok(listener) => {
                    let port = listener
                        .local_addr()
                        .map_err(|e| Error::io("cannot read the loopback listener's address", e))?
                        .port();
                    let path = uri.path().to_string();
                    let redirect_uri = format!("http://{host}:{port}{path}");
                    tracing::debug!(%redirect_uri, "loopback listener bound");
                    return Ok(LoopbackListener {
                        listener,
                        redirect_uri,
                        path,
                        port,
                    });
                }
                Err(e) => {
                    tracing::debug!(port, error = %e, "loopback port not available");
                    last_err = Some(e);
                }
            }
        }
        let list = candidates.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot listen for the login redirect on {ip} port {list}: {}; free the port, or list more in `redirect_ports` (0 = any free port)",
                last_err.map(|e| e.to_string()).unwrap_or_default()
            ),
        ))
    }

    /// The redirect URI to send to the provider (with the bound port).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until a callback with the right `state` arrives, then returns its code (or
    /// the provider's error). Wrong callbacks are answered and ignored. Put a timeout
    /// around it: it waits for ever otherwise. The listener closes when this returns or
    /// the future is dropped.
    pub async fn wait(self, check: CallbackCheck) -> Result<AuthorizationCode> {
        let shared = Arc::new(Shared {
            check,
            path: self.path,
            claimed: AtomicBool::new(false),
        });
        let (tx, mut rx) = mpsc::channel::<Result<AuthorizationCode>>(1);
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                outcome = rx.recv() => {
                    // The sender lives in `shared` copies held by tasks; `None` cannot happen
                    // while we hold `tx`, but be safe.
                    return outcome.unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "the loopback listener stopped")));
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if !peer.ip().is_loopback() {
                            continue; // cannot happen on a loopback socket
                        }
                        conns.spawn(handle(stream, shared.clone(), tx.clone()));
                    }
                    Err(e) => {
                        // EMFILE and friends: back off briefly rather than spin.
                        tracing::debug!(error = %e, "loopback accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        // `conns` and the listener are dropped here or when the future is dropped: every
        // connection task is aborted and the port is closed.
    }
}

struct Shared {
    check: CallbackCheck,
    path: String,
    claimed: AtomicBool,
}

struct Reply {
    status: u16,
    reason: &'static str,
    html: bool,
    body: String,
}

impl Reply {
    fn text(status: u16, reason: &'static str, body: &str) -> Self {
        Reply {
            status,
            reason,
            html: false,
            body: format!("{body}\n"),
        }
    }
}

async fn handle(mut stream: TcpStream, shared: Arc<Shared>, tx: mpsc::Sender<Result<AuthorizationCode>>) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(h)) => h,
        _ => {
            let _ = write_reply(&mut stream, Reply::text(400, "Bad Request", "bad request")).await;
            return;
        }
    };
    let (reply, outcome) = judge(&head, &shared);
    let _ = write_reply(&mut stream, reply).await;
    if let Some(o) = outcome {
        let _ = tx.send(o).await;
    }
}

/// Reads the request head (up to the blank line); `None` if it is too long or malformed.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf) {
            buf.truncate(end);
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"))
}

/// Decides the reply to one request and, for the one accepted callback, the outcome.
fn judge(head: &str, shared: &Shared) -> (Reply, Option<Result<AuthorizationCode>>) {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if path != shared.path {
        tracing::debug!("loopback: a request for another path (404)");
        return (Reply::text(404, "Not Found", "Not found."), None);
    }
    if method != "GET" {
        return (
            Reply::text(405, "Method Not Allowed", "Only GET is accepted here."),
            None,
        );
    }
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        tracing::debug!("loopback: callback path without a query (404)");
        return (
            Reply::text(
                404,
                "Not Found",
                "Not found: this address only accepts the login redirect.",
            ),
            None,
        );
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let one = |name: &str| -> std::result::Result<Option<&str>, ()> {
        let mut it = params.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() { Err(()) } else { Ok(first) }
    };
    let state_ok = matches!(one("state"), Ok(Some(s)) if constant_time_eq(s.as_bytes(), shared.check.state.expose_secret().as_bytes()));
    if !state_ok {
        tracing::debug!("loopback: callback with a missing or wrong state (400); still waiting");
        return (
            Reply::text(
                400,
                "Bad Request",
                "This callback does not belong to the login in progress (wrong or missing state). sesame is still waiting for the right one.",
            ),
            None,
        );
    }
    if shared.claimed.swap(true, Ordering::SeqCst) {
        return (
            Reply::text(
                409,
                "Conflict",
                "This login has already completed. Return to the terminal.",
            ),
            None,
        );
    }
    let issuer = shared.check.issuer.as_str();
    let pages = &shared.check.pages;
    let (Ok(code), Ok(error), Ok(description), Ok(uri), Ok(iss)) = (
        one("code"),
        one("error"),
        one("error_description"),
        one("error_uri"),
        one("iss"),
    ) else {
        return failure(pages, issuer, "invalid_request", "The redirect repeats a parameter.");
    };
    if iss.is_none() && shared.check.require_iss {
        // RFC 9207 §2.4: the provider always sends `iss`; a response without it did not
        // come from it (or was stripped on the way).
        let page = pages.failure(&PageInfo {
            issuer,
            error: "invalid_issuer",
            error_description: "The authorization response does not say which issuer sent it, although this provider always does.",
            message: "",
        });
        let err = OAuthError::Malformed {
            endpoint: "authorization response".into(),
            message: format!(
                "it has no `iss`, but the provider `{issuer}` advertises authorization_response_iss_parameter_supported (RFC 9207): refusing the code"
            ),
        };
        return (html(200, "OK", page), Some(Err(err.into())));
    }
    if let Some(iss) = iss
        && !issuer.is_empty()
        && iss != issuer
    {
        // RFC 9207 §2.4: a response from another issuer is a mix-up attack or a
        // misconfiguration; never use its code.
        let page = pages.failure(&PageInfo {
            issuer,
            error: "invalid_issuer",
            error_description: "The authorization response came from a different issuer than the one sesame asked.",
            message: "",
        });
        let err = OAuthError::Malformed {
            endpoint: "authorization response".into(),
            message: format!(
                "its `iss` `{}` is not the provider's issuer `{issuer}` (RFC 9207): refusing the code",
                super::error::clean(iss, 200)
            ),
        };
        return (html(200, "OK", page), Some(Err(err.into())));
    }
    if let Some(error) = error {
        let page = pages.failure(&PageInfo {
            issuer,
            error,
            error_description: description.unwrap_or_default(),
            message: "",
        });
        let err = OAuthError::provider("authorization endpoint", None, error, description, uri);
        tracing::debug!(error = %super::error::clean(error, 100), "loopback: the provider returned an error");
        return (html(200, "OK", page), Some(Err(err.into())));
    }
    match code.filter(|c| !c.is_empty()) {
        Some(code) => {
            tracing::debug!("loopback: authorization code received");
            let page = pages.success(&PageInfo {
                issuer,
                ..Default::default()
            });
            (
                html(200, "OK", page),
                Some(Ok(AuthorizationCode(SecretString::from(code.to_string())))),
            )
        }
        None => failure(
            pages,
            issuer,
            "invalid_request",
            "The redirect carries neither a code nor an error.",
        ),
    }
}

fn failure(
    pages: &LandingPages,
    issuer: &str,
    error: &str,
    description: &str,
) -> (Reply, Option<Result<AuthorizationCode>>) {
    let page = pages.failure(&PageInfo {
        issuer,
        error,
        error_description: description,
        message: "",
    });
    let err = OAuthError::Malformed {
        endpoint: "authorization response".into(),
        message: description.to_string(),
    };
    (html(200, "OK", page), Some(Err(err.into())))
}

fn html(status: u16, reason: &'static str, body: String) -> Reply {
    Reply {
        status,
        reason,
        html: true,
        body,
    }
}

async fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    let content_type = if reply.html {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nPragma: no-cache\r\n\
         X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'\r\n\
         Connection: close\r\n\r\n",
        reply.status,
        reply.reason,
        reply.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(reply.body.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(state: &str) -> CallbackCheck {
        CallbackCheck {
            state: SecretString::from(state.to_string()),
            issuer: "http://127.0.0.1:9/".into(),
            require_iss: false,
            pages: LandingPages::builtin(),
        }
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    async fn get(url: &str) -> (u16, String) {
        let r = http().get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    #[tokio::test]
    async fn wrong_state_and_favicon_keep_it_waiting_then_the_code_wins() {
        let l = LoopbackListener::bind(DEFAULT_REDIRECT_URI, &[]).await.unwrap();
        let base = format!("http://127.0.0.1:{}", l.port());
        assert_eq!(l.redirect_uri(), format!("{base}/callback"));
        let waiter = tokio::spawn(l.wait(check("s-123")));

        assert_eq!(get(&format!("{base}/favicon.ico")).await.0, 404);
        assert_eq!(get(&format!("{base}/callback")).await.0, 404, "no query");
        let (status, body) = get(&format!("{base}/callback?code=forged&state=wrong")).await;
        assert_eq!(status, 400);
        assert!(body.contains("still waiting"), "{body}");
        assert_eq!(
            get(&format!("{base}/callback?code=forged")).await.0,
            400,
            "missing state"
        );
        assert_eq!(
            get(&format!("{base}/callback?code=x&state=s-123&state=s-123")).await.0,
            400,
            "repeated state"
        );
        let r = http()
            .post(format!("{base}/callback?code=x&state=s-123"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
        assert!(!waiter.is_finished(), "still waiting after wrong callbacks");

        let r = http()
            .get(format!(
                "{base}/callback?code=the-code&state=s-123&iss=http%3A%2F%2F127.0.0.1%3A9%2F"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Login complete") && page.contains("return to the terminal"),
            "{page}"
        );
        let code = waiter.await.unwrap().unwrap();
        assert_eq!(code.expose(), "the-code");
        assert!(!format!("{code:?}").contains("the-code"));
        // The listener is gone once `wait` returned.
        assert!(
            http()
                .get(format!("{base}/callback?code=x&state=s-123"))
                .send()
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn provider_error_gives_the_failure_page_and_a_typed_error() {
        let l = LoopbackListener::bind("http://localhost:0/cb", &[]).await.unwrap();
        assert!(
            l.redirect_uri().starts_with("http://localhost:"),
            "same host string: {}",
            l.redirect_uri()
        );
        let base = format!("http://127.0.0.1:{}", l.port());
        let waiter = tokio::spawn(l.wait(check("st")));
        let (status, page) = get(&format!(
            "{base}/cb?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%20denied&state=st"
        ))
        .await;
        assert_eq!(status, 200);
        assert!(
            page.contains("Login failed") && page.contains("access_denied"),
            "{page}"
        );
        assert!(!page.contains("<script>alert"), "escaped: {page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; denied"), "{page}");
        let err = waiter.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OAuth);
        assert_eq!(err.oauth_error_code(), Some("access_denied"));
        assert!(
            err.to_string().contains("<script>alert(1)</script> denied"),
            "the terminal gets the text: {err}"
        );
    }

    #[tokio::test]
    async fn foreign_issuer_is_refused() {
        let l = LoopbackListener::bind(DEFAULT_REDIRECT_URI, &[]).await.unwrap();
        let base = format!("http://127.0.0.1:{}", l.port());
        let waiter = tokio::spawn(l.wait(check("st")));
        let (_, page) = get(&format!(
            "{base}/callback?code=c&state=st&iss=https%3A%2F%2Fevil.example"
        ))
        .await;
        assert!(page.contains("invalid_issuer"), "{page}");
        let err = waiter.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("RFC 9207"), "{err}");
    }

    #[tokio::test]
    async fn one_successful_callback_only() {
        let l = LoopbackListener::bind(DEFAULT_REDIRECT_URI, &[]).await.unwrap();
        let port = l.port();
        let shared = Shared {
            check: check("st"),
            path: "/callback".into(),
            claimed: AtomicBool::new(false),
        };
        drop(l);
        let head = "GET /callback?code=a&state=st HTTP/1.1\r\nHost: x\r\n\r\n";
        let (r1, o1) = judge(head, &shared);
        let (r2, o2) = judge(head, &shared);
        assert_eq!((r1.status, r2.status), (200, 409));
        assert!(o1.unwrap().is_ok() && o2.is_none());
        let _ = port;
    }

    #[tokio::test]
    async fn ports_are_tried_in_order_and_other_hosts_refused() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let l = LoopbackListener::bind("http://127.0.0.1/callback", &[busy_port, 0])
            .await
            .unwrap();
        assert_ne!(l.port(), busy_port);
        let err = LoopbackListener::bind("http://127.0.0.1/callback", &[busy_port])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("redirect_ports"), "{err}");
        for bad in [
            "http://0.0.0.0:0/cb",
            "http://example.com/cb",
            "https://127.0.0.1/cb",
            "http://127.0.0.1/cb?x=1",
        ] {
            let err = LoopbackListener::bind(bad, &[]).await.unwrap_err();
            assert!(err.is_config(), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn dropping_the_wait_closes_the_port() {
        let l = LoopbackListener::bind(DEFAULT_REDIRECT_URI, &[]).await.unwrap();
        let port = l.port();
        let r = tokio::time::timeout(Duration::from_millis(100), l.wait(check("st"))).await;
        assert!(r.is_err(), "timed out");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "closed after the timeout"
        );
    }
}
