//! The pages sesame's loopback listener shows in the browser at the end of a login: a
//! success page and a failure page that tell the person to return to the terminal.
//!
//! The built-in pages are the HTML files in `oauth/pages/` (self-contained: inline CSS, no
//! script, nothing loaded from the network). A profile may replace either with its own
//! template file (`success_page`, `failure_page`). Templates have placeholders, each
//! replaced by its value **HTML-escaped**, in one pass (a value that itself looks like a
//! placeholder stays text):
//!
//! | placeholder | value |
//! |---|---|
//! | `{{title}}` | `Login complete` / `Login failed` |
//! | `{{message}}` | one sentence for the person |
//! | `{{error}}` | the provider's `error` code (failure page; empty on success) |
//! | `{{error_description}}` | the provider's `error_description` (may be empty) |
//! | `{{issuer}}` | the provider's issuer URL |
//!
//! Unknown placeholders are left as they are. The provider's text is never trusted: it is
//! escaped, control characters are removed and its length is capped.

use std::path::Path;
use std::sync::Arc;

use crate::{Error, Result};

const SUCCESS_TEMPLATE: &str = include_str!("pages/success.html");
const FAILURE_TEMPLATE: &str = include_str!("pages/failure.html");

/// Largest template file read.
const MAX_TEMPLATE: u64 = 256 * 1024;

/// The success and failure pages of a login (built-in, from template files, or written by
/// a [`PageHandler`]).
#[derive(Clone, Debug, Default)]
pub struct LandingPages {
    success: Option<Arc<str>>,
    failure: Option<Arc<str>>,
    handler: Option<PageHandler>,
}

/// Which page a [`PageHandler`] is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// The login completed.
    Success,
    /// The login failed (the provider's error, a mix-up, a refused code).
    Failure,
}

impl PageKind {
    /// `"success"` or `"failure"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Success => "success",
            PageKind::Failure => "failure",
        }
    }
}

/// A code hook that writes a landing page (cegal-keystoneauth's page handler): called with
/// the page's kind and facts (the provider's text already cleaned of control characters and
/// capped), it returns the whole HTML, or `None` to show the template or built-in page.
/// The HTML is the program's own and is sent as it is: a handler that puts the provider's
/// `error_description` into it must escape it ([`escape_html`]).
#[derive(Clone)]
pub struct PageHandler(Arc<PageFn>);

/// The function a [`PageHandler`] calls.
type PageFn = dyn Fn(PageKind, &PageInfo<'_>) -> Option<String> + Send + Sync;

impl PageHandler {
    /// A handler calling `f`.
    pub fn new(f: impl Fn(PageKind, &PageInfo<'_>) -> Option<String> + Send + Sync + 'static) -> Self {
        PageHandler(Arc::new(f))
    }
}

impl std::fmt::Debug for PageHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageHandler")
    }
}

/// What a page is about.
#[derive(Clone, Debug, Default)]
pub struct PageInfo<'a> {
    /// The provider's issuer.
    pub issuer: &'a str,
    /// The provider's `error` code (failure page).
    pub error: &'a str,
    /// The provider's `error_description` (failure page).
    pub error_description: &'a str,
    /// One sentence for the person; a default is used when empty.
    pub message: &'a str,
}

impl LandingPages {
    /// The built-in pages.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The built-in pages, each replaced by a template file when given (the profile's
    /// `success_page` and `failure_page`). A file that cannot be read is a configuration
    /// error naming it.
    pub fn from_files(success: Option<&Path>, failure: Option<&Path>) -> Result<Self> {
        Ok(LandingPages {
            success: success.map(|p| read_template(p, "success_page")).transpose()?,
            failure: failure.map(|p| read_template(p, "failure_page")).transpose()?,
            handler: None,
        })
    }

    /// Lets `handler` write the pages; where it returns `None`, the template or built-in
    /// page is shown.
    pub fn with_handler(mut self, handler: PageHandler) -> Self {
        self.handler = Some(handler);
        self
    }

    /// Uses `template` for the success page.
    pub fn with_success_template(mut self, template: impl Into<String>) -> Self {
        self.success = Some(Arc::from(template.into()));
        self
    }

    /// Uses `template` for the failure page.
    pub fn with_failure_template(mut self, template: impl Into<String>) -> Self {
        self.failure = Some(Arc::from(template.into()));
        self
    }

    /// The success page.
    pub fn success(&self, info: &PageInfo<'_>) -> String {
        let message = if info.message.is_empty() {
            "You are logged in. sesame has received the authorization and is finishing the login in the terminal."
        } else {
            info.message
        };
        if let Some(html) = self.handled(
            PageKind::Success,
            &PageInfo {
                message,
                ..info.clone()
            },
        ) {
            return html;
        }
        render(
            self.success.as_deref().unwrap_or(SUCCESS_TEMPLATE),
            &[
                ("title", "Login complete"),
                ("message", message),
                ("error", ""),
                ("error_description", ""),
                ("issuer", info.issuer),
            ],
        )
    }

    /// The failure page, with the provider's error code and description.
    pub fn failure(&self, info: &PageInfo<'_>) -> String {
        let message = if info.message.is_empty() {
            "The login did not complete."
        } else {
            info.message
        };
        let error = super::error::clean(info.error, 100);
        let description = super::error::clean(info.error_description, 1000);
        let cleaned = PageInfo {
            issuer: info.issuer,
            error: &error,
            error_description: &description,
            message,
        };
        if let Some(html) = self.handled(PageKind::Failure, &cleaned) {
            return html;
        }
        render(
            self.failure.as_deref().unwrap_or(FAILURE_TEMPLATE),
            &[
                ("title", "Login failed"),
                ("message", message),
                ("error", &error),
                ("error_description", &description),
                ("issuer", info.issuer),
            ],
        )
    }
}

impl LandingPages {
    fn handled(&self, kind: PageKind, info: &PageInfo<'_>) -> Option<String> {
        let h = self.handler.as_ref()?;
        (h.0)(kind, info)
    }
}

/// Reads a template; the caller has expanded `~` (the engine knows no home-relative paths).
fn read_template(path: &Path, key: &str) -> Result<Arc<str>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::config(format!("cannot read the `{key}` template {}: {e}", path.display())))?;
    if meta.len() > MAX_TEMPLATE {
        return Err(Error::config(format!(
            "the `{key}` template {} is larger than {} KiB",
            path.display(),
            MAX_TEMPLATE / 1024
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read the `{key}` template {}: {e}", path.display())))?;
    Ok(Arc::from(text))
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{name}}` in `template` by its value, HTML-escaped, in one pass.
#[doc(hidden)]
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(&escape_html(v)),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_is_escaped() {
        let page = LandingPages::builtin().failure(&PageInfo {
            error: "access_denied",
            error_description: "<script>alert('x')</script> & more",
            ..Default::default()
        });
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"),
            "{page}"
        );
        assert!(page.contains("access_denied"));
        assert!(page.contains("return to the terminal") || page.contains("Return to the terminal"));
    }

    #[test]
    fn one_pass_and_unknown_placeholders_stay() {
        let out = render(
            "<p>{{ title }}|{{message}}|{{nope}}|{{open",
            &[("title", "{{message}}"), ("message", "m")],
        );
        assert_eq!(out, "<p>{{message}}|m|{{nope}}|{{open");
    }

    #[test]
    fn builtin_pages_say_what_to_do() {
        let ok = LandingPages::builtin().success(&PageInfo::default());
        assert!(ok.contains("Login complete") && ok.contains("return to the terminal"));
        assert!(!ok.contains("{{"), "all placeholders filled");
        let bad = LandingPages::builtin().failure(&PageInfo {
            error: "e",
            ..Default::default()
        });
        assert!(bad.contains("Login failed") && !bad.contains("{{"));
    }

    #[test]
    fn custom_templates_and_control_characters() {
        let pages = LandingPages::builtin()
            .with_success_template("<h1>{{title}} at {{issuer}}</h1>")
            .with_failure_template("<b>{{error}}</b>: {{error_description}}");
        assert_eq!(
            pages.success(&PageInfo {
                issuer: "https://idp/?a=1&b=2",
                ..Default::default()
            }),
            "<h1>Login complete at https://idp/?a=1&amp;b=2</h1>"
        );
        assert_eq!(
            pages.failure(&PageInfo {
                error: "bad\u{1b}[31m",
                error_description: "x\ny",
                ..Default::default()
            }),
            "<b>bad[31m</b>: xy"
        );
    }

    #[test]
    fn template_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ok.html");
        std::fs::write(&f, "OK {{title}}").unwrap();
        let pages = LandingPages::from_files(Some(&f), None).unwrap();
        assert_eq!(pages.success(&PageInfo::default()), "OK Login complete");
        let err = LandingPages::from_files(None, Some(&dir.path().join("missing.html"))).unwrap_err();
        assert!(err.is_config() && err.to_string().contains("failure_page"), "{err}");
    }
}
