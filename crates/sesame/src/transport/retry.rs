//! Retries with exponential backoff, full jitter and `Retry-After`.
//!
//! What is retried, and why:
//!
//! | outcome | idempotent method (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) | other methods (POST, PATCH, …) |
//! |---|---|---|
//! | connection refused, DNS or TLS-handshake failure (nothing was sent) | retried | retried |
//! | connection reset / closed before the response (the request may have arrived) | retried | only when opted in |
//! | 408, 429, 500, 502, 503, 504 | retried | only when opted in |
//! | a timeout | not retried: the timeout is the caller's budget for the whole call | not retried |
//! | a certificate error | not retried: it will not heal by itself | not retried |
//!
//! Opting in: [`RequestBuilder::idempotent`](super::RequestBuilder::idempotent) for one
//! request, [`SessionBuilder::retry_non_idempotent`](super::SessionBuilder::retry_non_idempotent)
//! for a session.
//!
//! The wait before retry *n* (0-based) is, with full jitter, a random duration in
//! `[0, min(max_backoff, base_delay × 2ⁿ)]` — unless the response carries `Retry-After`
//! (delta seconds or an HTTP date), which is honoured exactly. A `Retry-After` longer than
//! [`max_retry_after`](RetryPolicy::max_retry_after) (default 60 s) is not waited for: the
//! response goes back to the caller, who can decide (retrying earlier than the server asked
//! would only be refused again). No retry starts a wait that would end after the total
//! [`budget`](RetryPolicy::budget) (default 120 s) or the request's own deadline (its
//! timeout). Every retry is logged at debug level, without secrets.
//!
//! Waiting uses [`tokio::time::sleep`], so tests run in paused time and see exact delays.
//!
//! The OAuth layer ([`OAuthHttp`](crate::oauth::OAuthHttp)) uses the same policy with a
//! stricter rule for token-endpoint POSTs: see [`RetryPolicy::classify_token_post`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

/// Retries of an idempotent request when the profile does not say (`retries`).
pub const DEFAULT_RETRIES: u32 = 2;

/// How the backoff delay is randomized.
#[derive(Clone, Default)]
pub enum Jitter {
    /// A uniformly random delay in `[0, cap]` ("full jitter"): clients that failed together
    /// do not come back together.
    #[default]
    Full,
    /// Exactly the cap (deterministic; for tests).
    None,
    /// A function of the cap.
    Custom(Arc<dyn Fn(Duration) -> Duration + Send + Sync>),
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Jitter::Full => "Full",
            Jitter::None => "None",
            Jitter::Custom(_) => "Custom",
        })
    }
}

/// When and how often to retry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    budget: Duration,
    non_idempotent: bool,
    jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new(DEFAULT_RETRIES)
    }
}

/// What to do with one attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the outcome to the caller.
    Done,
    /// Try again (if retries and time remain).
    Retry {
        /// Why, for the log (no secrets).
        reason: Cow<'static, str>,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
}

impl Verdict {
    fn retry(reason: impl Into<Cow<'static, str>>, retry_after: Option<Duration>) -> Self {
        Verdict::Retry {
            reason: reason.into(),
            retry_after,
        }
    }
}

/// How a transport error relates to what the server saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection was made (refused, DNS, TLS handshake): nothing was sent.
    NotSent,
    /// The connection broke after the request may have been sent (reset, closed early).
    MaybeSent,
    /// Not worth retrying (timeout, certificate error, a body or decode error).
    Final,
}

impl RetryPolicy {
    /// `max_retries` retries (so at most `max_retries + 1` attempts), 250 ms base delay,
    /// 10 s backoff cap, `Retry-After` honoured up to 60 s, 120 s budget, full jitter.
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            budget: Duration::from_secs(120),
            non_idempotent: false,
            jitter: Jitter::Full,
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy::new(0)
    }

    /// The number of retries.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Sets the number of retries.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first backoff cap (doubled for each further retry).
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// The largest backoff cap.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `Retry-After` waited for; a longer one ends the retries.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Total time from the first attempt after which no retry is started.
    pub fn budget(mut self, d: Duration) -> Self {
        self.budget = d;
        self
    }

    /// Retry non-idempotent methods (POST, PATCH) on statuses and broken connections too.
    pub fn retry_non_idempotent(mut self, on: bool) -> Self {
        self.non_idempotent = on;
        self
    }

    /// Whether non-idempotent methods are retried.
    pub fn retries_non_idempotent(&self) -> bool {
        self.non_idempotent
    }

    /// The jitter.
    pub fn jitter(mut self, j: Jitter) -> Self {
        self.jitter = j;
        self
    }

    /// The backoff cap before retry `n` (0-based), before jitter: `min(max_backoff, base × 2ⁿ)`.
    pub fn backoff_cap(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(31));
        self.base_delay.saturating_mul(factor).min(self.max_backoff)
    }

    fn backoff(&self, n: u32) -> Duration {
        let cap = self.backoff_cap(n);
        match &self.jitter {
            Jitter::None => cap,
            Jitter::Full => {
                let nanos = cap.as_nanos().min(u64::MAX as u128) as u64;
                Duration::from_nanos(rand::random_range(0..=nanos))
            }
            Jitter::Custom(f) => f(cap).min(cap),
        }
    }

    /// Whether `method` is idempotent (RFC 9110 §9.2.2).
    pub fn is_idempotent(method: &Method) -> bool {
        matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
        )
    }

    /// Whether the status is one that is retried (408, 429, 500, 502, 503, 504).
    pub fn is_retryable_status(status: StatusCode) -> bool {
        matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
    }

    /// The verdict on a response to a request with `method`; `opt_in` marks a
    /// non-idempotent request as safe to repeat.
    pub fn classify_status(&self, method: &Method, opt_in: bool, status: StatusCode, headers: &HeaderMap) -> Verdict {
        let may = Self::is_idempotent(method) || opt_in || self.non_idempotent;
        if may && Self::is_retryable_status(status) {
            Verdict::retry(format!("HTTP {}", status.as_u16()), retry_after(headers))
        } else {
            Verdict::Done
        }
    }

    /// The verdict on a transport error.
    pub fn classify_error(&self, method: &Method, opt_in: bool, e: &reqwest::Error) -> Verdict {
        match transport_failure(e) {
            TransportFailure::NotSent => Verdict::retry("connection failed", None),
            TransportFailure::MaybeSent if Self::is_idempotent(method) || opt_in || self.non_idempotent => {
                Verdict::retry("connection broken", None)
            }
            _ => Verdict::Done,
        }
    }

    /// The verdict on one attempt of a request sent through reqwest.
    pub fn classify(
        &self,
        method: &Method,
        opt_in: bool,
        outcome: &Result<reqwest::Response, reqwest::Error>,
    ) -> Verdict {
        match outcome {
            Ok(r) => self.classify_status(method, opt_in, r.status(), r.headers()),
            Err(e) => self.classify_error(method, opt_in, e),
        }
    }

    /// The verdict for a POST to a token (or other authorization server) endpoint. Such a
    /// request may not be repeatable: an authorization code is single use, and a refresh
    /// token that the provider rotates is burnt by the first attempt — replaying it can
    /// revoke the whole grant. So it is retried only when the server cannot have acted on
    /// it: the connection was never made, or the reply is 503 or 429 *with* `Retry-After`
    /// (the server refusing work and saying when to come back). A reset after sending, a
    /// 500, 502, 504 or 408, or a 503 without `Retry-After` is returned as it is.
    pub fn classify_token_post(&self, outcome: &Result<reqwest::Response, reqwest::Error>) -> Verdict {
        match outcome {
            Ok(r) if matches!(r.status().as_u16(), 429 | 503) => match retry_after(r.headers()) {
                Some(d) => Verdict::retry(format!("HTTP {} with Retry-After", r.status().as_u16()), Some(d)),
                None => Verdict::Done,
            },
            Ok(_) => Verdict::Done,
            Err(e) if transport_failure(e) == TransportFailure::NotSent => Verdict::retry("connection failed", None),
            Err(_) => Verdict::Done,
        }
    }

    /// Runs `attempt` (given the 0-based retry number) until `classify` says done, the
    /// retries are used up, or the next wait would pass the budget or `deadline`. `what`
    /// names the request in the log (method and redacted URL).
    pub async fn run<R, E, F, Fut, C, W>(
        &self,
        what: W,
        deadline: Option<Instant>,
        mut attempt: F,
        mut classify: C,
    ) -> Result<R, E>
    where
        W: std::fmt::Display,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<R, E>>,
        C: FnMut(&Result<R, E>) -> Verdict,
    {
        let start = Instant::now();
        let budget_end = start.checked_add(self.budget);
        let end = match (deadline, budget_end) {
            (Some(d), Some(b)) => Some(d.min(b)),
            (d, b) => d.or(b),
        };
        let mut n = 0u32;
        loop {
            let outcome = attempt(n).await;
            let Verdict::Retry { reason, retry_after } = classify(&outcome) else {
                return outcome;
            };
            if n >= self.max_retries {
                if self.max_retries > 0 {
                    tracing::debug!(request = %what, reason = %reason, retries = n, "giving up: no retries left");
                }
                return outcome;
            }
            let delay = match retry_after {
                Some(d) if d > self.max_retry_after => {
                    tracing::debug!(
                        request = %what,
                        reason = %reason,
                        retry_after_s = d.as_secs(),
                        cap_s = self.max_retry_after.as_secs(),
                        "not retrying: Retry-After is longer than the cap"
                    );
                    return outcome;
                }
                Some(d) => d,
                None => self.backoff(n),
            };
            let wake = Instant::now().checked_add(delay);
            if wake.is_none() || end.is_some_and(|e| wake.is_some_and(|w| w > e)) {
                tracing::debug!(request = %what, reason = %reason, delay_ms = delay.as_millis() as u64, "not retrying: the time budget would be exceeded");
                return outcome;
            }
            n += 1;
            tracing::debug!(
                request = %what,
                reason = %reason,
                retry = n,
                of = self.max_retries,
                delay_ms = delay.as_millis() as u64,
                retry_after = retry_after.is_some(),
                "retrying"
            );
            // Release the failed response (and its connection) before waiting.
            drop(outcome);
            tokio::time::sleep(delay).await;
        }
    }
}

/// The `Retry-After` of a response, as a duration from now.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, SystemTime::now())
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delta seconds, or an HTTP date (a date in the
/// past means now). Anything else is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 seconds is "forever": cap it so arithmetic stays safe.
        return Some(Duration::from_secs(
            v.parse::<u64>().unwrap_or(u64::MAX / 4).min(u64::MAX / 4),
        ));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Where a reqwest error leaves the request (see [`TransportFailure`]).
pub fn transport_failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        return TransportFailure::Final;
    }
    let chain = error_chain(e);
    if chain.contains("certificate") || chain.contains("UnknownIssuer") || chain.contains("InvalidCertificate") {
        return TransportFailure::Final;
    }
    if e.is_connect() {
        return TransportFailure::NotSent;
    }
    if e.is_request() || e.is_body() {
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = src {
            if let Some(io) = s.downcast_ref::<std::io::Error>()
                && matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::UnexpectedEof
                )
            {
                return TransportFailure::MaybeSent;
            }
            src = s.source();
        }
        // hyper's own words for a connection that closed before the response.
        let lower = chain.to_ascii_lowercase();
        if e.is_request()
            && (lower.contains("connection closed before message completed")
                || lower.contains("connection reset")
                || lower.contains("incomplete message"))
        {
            return TransportFailure::MaybeSent;
        }
    }
    TransportFailure::Final
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(c) = src {
        s.push_str(&c.to_string());
        s.push_str(" | ");
        s.push_str(&format!("{c:?}"));
        s.push('\n');
        src = c.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn resp(status: u16, retry_after: Option<&str>) -> reqwest::Response {
        let mut b = http::Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header("retry-after", r);
        }
        reqwest::Response::from(b.body(Vec::<u8>::new()).unwrap())
    }

    /// Runs the policy over scripted statuses in paused time and returns the instants (ms
    /// after the start) at which each attempt was made.
    async fn script(policy: &RetryPolicy, method: Method, statuses: &[(u16, Option<&str>)]) -> (Vec<u128>, u16) {
        let start = Instant::now();
        let times = Mutex::new(Vec::new());
        let out = policy
            .run(
                "GET test",
                None,
                |n| {
                    times.lock().unwrap().push(start.elapsed().as_millis());
                    let (s, ra) = statuses[(n as usize).min(statuses.len() - 1)];
                    async move { Ok::<_, reqwest::Error>(resp(s, ra)) }
                },
                |o| policy.classify(&method, false, o),
            )
            .await
            .unwrap();
        (times.into_inner().unwrap(), out.status().as_u16())
    }

    #[tokio::test(start_paused = true)]
    async fn exponential_backoff_in_paused_time() {
        let p = RetryPolicy::new(3).jitter(Jitter::None);
        let (t, status) = script(&p, Method::GET, &[(503, None), (502, None), (500, None), (200, None)]).await;
        assert_eq!(t, vec![0, 250, 750, 1750], "250 ms, then 500, then 1000");
        assert_eq!(status, 200);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_counted_and_the_last_answer_returned() {
        let p = RetryPolicy::new(2).jitter(Jitter::None);
        let (t, status) = script(&p, Method::GET, &[(503, None)]).await;
        assert_eq!(t.len(), 3, "one attempt and two retries");
        assert_eq!(status, 503);
    }

    #[tokio::test(start_paused = true)]
    async fn full_jitter_stays_under_the_cap() {
        let p = RetryPolicy::new(4).base_delay(Duration::from_secs(1));
        let (t, _) = script(&p, Method::GET, &[(503, None)]).await;
        let gaps: Vec<u128> = t.windows(2).map(|w| w[1] - w[0]).collect();
        for (i, g) in gaps.iter().enumerate() {
            assert!(*g <= 1000 << i, "gap {i} = {g} ms");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_seconds_and_dates_are_honoured() {
        let p = RetryPolicy::new(2).jitter(Jitter::None);
        let (t, _) = script(&p, Method::GET, &[(503, Some("3")), (429, Some("7")), (200, None)]).await;
        assert_eq!(t, vec![0, 3000, 10000]);
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        let (t, _) = script(&p, Method::GET, &[(503, Some(&date)), (200, None)]).await;
        assert!((4000..=5000).contains(&t[1]), "{t:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_beyond_the_cap_ends_the_retries() {
        let p = RetryPolicy::new(2).jitter(Jitter::None);
        let (t, status) = script(&p, Method::GET, &[(503, Some("3600"))]).await;
        assert_eq!(t, vec![0]);
        assert_eq!(status, 503);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_bounds_the_total() {
        let p = RetryPolicy::new(10).jitter(Jitter::None).budget(Duration::from_secs(5));
        let (t, _) = script(&p, Method::GET, &[(503, Some("2"))]).await;
        assert_eq!(t, vec![0, 2000, 4000], "a third wait would end at 6 s > 5 s");
    }

    #[tokio::test(start_paused = true)]
    async fn non_idempotent_methods_are_not_retried_unless_opted_in() {
        let p = RetryPolicy::new(2).jitter(Jitter::None);
        let (t, status) = script(&p, Method::POST, &[(503, None)]).await;
        assert_eq!((t.len(), status), (1, 503));
        let (t, _) = script(&p, Method::PATCH, &[(500, None)]).await;
        assert_eq!(t.len(), 1);
        let p = p.retry_non_idempotent(true);
        let (t, _) = script(&p, Method::POST, &[(503, None)]).await;
        assert_eq!(t.len(), 3);
        for m in [
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            assert!(RetryPolicy::is_idempotent(&m));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn token_posts_retry_only_on_503_or_429_with_retry_after() {
        let p = RetryPolicy::new(2).jitter(Jitter::None);
        for (s, ra, want) in [
            (503, Some("1"), true),
            (429, Some("1"), true),
            (503, None, false),
            (500, Some("1"), false),
            (502, None, false),
            (400, None, false),
        ] {
            let v = p.classify_token_post(&Ok(resp(s, ra)));
            assert_eq!(matches!(v, Verdict::Retry { .. }), want, "{s} {ra:?}");
        }
    }

    #[test]
    fn retry_after_parsing() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let d = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&d, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Wed, 99 Foo 2020",
            "99999999999999999999999999",
        ] {
            let r = parse_retry_after(bad, now);
            assert!(r.is_none() || bad.starts_with('9'), "{bad}: {r:?}");
        }
    }

    #[test]
    fn backoff_caps() {
        let p = RetryPolicy::new(20);
        assert_eq!(p.backoff_cap(0), Duration::from_millis(250));
        assert_eq!(p.backoff_cap(3), Duration::from_secs(2));
        assert_eq!(p.backoff_cap(30), Duration::from_secs(10));
    }
}
