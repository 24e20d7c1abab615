//! A session's two HTTP clients, and the recipe they were made from, kept so that the
//! session can make another pair with its own connection pool
//! ([`Session::with_own_connections`](super::Session::with_own_connections)).

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::tls::LoadedTls;
use crate::{Error, Result};

/// Everything that goes into a session's clients. Holds the TLS client identity (a private
/// key), so it has no `Debug`.
pub(crate) struct ClientRecipe {
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) pool_idle_timeout: Option<Duration>,
    pub(crate) default_headers: HeaderMap,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tls: LoadedTls,
    pub(crate) identity: Option<reqwest::Identity>,
}

/// The client used within the credential's scope, and the one used outside it.
pub(crate) struct Clients {
    /// Presents the TLS client identity, if any.
    pub(crate) scoped: reqwest::Client,
    /// Never presents a client certificate.
    pub(crate) plain: reqwest::Client,
}

impl ClientRecipe {
    pub(crate) fn build(&self) -> Result<Clients> {
        let scoped = self.client(self.identity.clone())?;
        // A client certificate identifies the user as surely as a token: only servers in
        // scope may ask for it. Out-of-scope requests go through a client without one.
        let plain = if self.identity.is_some() {
            self.client(None)?
        } else {
            scoped.clone()
        };
        Ok(Clients { scoped, plain })
    }

    fn client(&self, identity: Option<reqwest::Identity>) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .default_headers(self.default_headers.clone());
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        b = self.tls.apply(b);
        if let Some(id) = identity {
            b = b.identity(id);
        }
        b.build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {}", describe(&e))))
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Runs `fut` with `runtime` (when there is one) as the current runtime during each poll:
/// tasks it spawns, sockets it opens and timers it sets belong to that runtime and are
/// driven by its threads, whichever thread polls `fut`.
pub(crate) async fn in_runtime<F: std::future::Future>(runtime: Option<&tokio::runtime::Handle>, fut: F) -> F::Output {
    let Some(rt) = runtime else {
        return fut.await;
    };
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _entered = rt.enter();
        fut.as_mut().poll(cx)
    })
    .await
}
