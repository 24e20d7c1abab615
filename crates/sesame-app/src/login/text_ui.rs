//! [`TextLoginUi`]: a login shown as text on a stream (stderr for the command, Python's
//! `sys.stderr` for the Python package), with the browser opened under the rules of
//! [`browser_policy`](super::browser_policy).

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use super::{Facts, browser_policy};
use sesame::credential::{BrowserLaunch, DevicePrompt, LoginUi, Waiting};

/// Where a [`TextLoginUi`] writes. `write` gets whole pieces of text (lines end in `\n`; a
/// progress line ends without one and is later cleared with `\r\x1b[2K`); it must return
/// quickly and never fail.
pub trait TextOutput: Send + Sync + fmt::Debug {
    /// Writes `text` and flushes.
    fn write(&self, text: &str);

    /// Shows a device code richly (a notebook's HTML output: the link, the code and a QR
    /// code as an image) and returns `true`, or returns `false` (the default) for the
    /// text prompt. `text` is that prompt, for the output's plain-text alternative.
    fn show_device_code(&self, prompt: &DevicePrompt<'_>, text: &str) -> bool {
        let _ = (prompt, text);
        false
    }
}

/// The device-code prompt as an HTML fragment (for a notebook): the address as a link, the
/// code, and the QR code of the complete address as inline SVG. Every value from the
/// provider is HTML-escaped.
pub fn device_code_html(prompt: &DevicePrompt<'_>) -> String {
    let esc = sesame::oauth::landing::escape_html;
    // Only an http(s) address becomes a link: a spoofed provider's `javascript:` URI stays text.
    let link = |uri: &str| match Url::parse(uri) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => {
            format!(
                "<a href=\"{0}\" target=\"_blank\" rel=\"noopener noreferrer\">{0}</a>",
                esc(uri)
            )
        }
        _ => format!("<code>{}</code>", esc(uri)),
    };
    let mut html = format!(
        "<div class=\"sesame-device-login\"><p>First copy your one-time code: <code><b>{}</b></code></p>\
         <p>Then open {} and enter it.</p>",
        esc(prompt.user_code),
        link(prompt.verification_uri)
    );
    if let Some(complete) = prompt.verification_uri_complete {
        html.push_str(&format!(
            "<p>Or open {} (the code is filled in), or scan:</p>",
            link(complete)
        ));
        if let Some(svg) = render_qr_svg(complete) {
            html.push_str(&svg);
        }
    }
    html.push_str(&format!(
        "<p>The code expires in {}.</p></div>",
        human(prompt.expires_in)
    ));
    html
}

/// A QR code of `data` as an SVG image (dark modules on white, with the quiet zone);
/// `None` if the data does not fit.
pub fn render_qr_svg(data: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::L).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    // The renderer starts with an XML declaration, which has no place inside HTML.
    Some(match image.find("<svg") {
        Some(at) => image[at..].to_string(),
        None => image,
    })
}

/// The process's stderr.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stderr;

impl TextOutput for Stderr {
    fn write(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

/// How much a [`TextLoginUi`] says, and whether it may open a browser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UiSettings {
    /// Open no browser (`--no-browser`): print the URL (or code) and wait.
    pub no_browser: bool,
    /// Only what the person needs (the URL, the code, notices): no "opened" line, no progress.
    pub quiet: bool,
    /// The browser command's own stderr is shown (else discarded).
    pub verbose: bool,
}

/// A [`LoginUi`] that writes text to a [`TextOutput`]: the URL, the device code (with a QR
/// code when the output is a terminal), notices and a progress line (terminals only).
#[derive(Debug)]
pub struct TextLoginUi {
    facts: Facts,
    settings: UiSettings,
    out: Arc<dyn TextOutput>,
    /// A progress line is on screen (it ends without a newline).
    progress_shown: Mutex<bool>,
}

impl TextLoginUi {
    /// A UI on `out`; `facts.stderr_tty` tells whether `out` is a terminal.
    pub fn new(facts: Facts, settings: UiSettings, out: Arc<dyn TextOutput>) -> Self {
        TextLoginUi {
            facts,
            settings,
            out,
            progress_shown: Mutex::new(false),
        }
    }

    /// A UI on the process's stderr.
    pub fn stderr(facts: Facts, settings: UiSettings) -> Self {
        Self::new(facts, settings, Arc::new(Stderr))
    }

    /// Writes lines, first clearing a progress line.
    fn say(&self, text: &str) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        let clear = if *shown { "\r\x1b[2K" } else { "" };
        *shown = false;
        self.out.write(&format!("{clear}{text}\n"));
    }

    fn clear_progress(&self) {
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            self.out.write("\r\x1b[2K");
            *shown = false;
        }
    }

    async fn run_browser_env(&self, value: &str, url: &Url) -> BrowserLaunch {
        let mut failures = Vec::new();
        for argv in browser_commands(value, url.as_str()) {
            let shown = argv[0].clone();
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(if self.settings.verbose {
                    std::process::Stdio::inherit()
                } else {
                    std::process::Stdio::null()
                })
                .kill_on_drop(false);
            #[cfg(unix)]
            cmd.process_group(0);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("`{shown}`: {e}"));
                    continue;
                }
            };
            // A launcher returns at once; a browser keeps running. Either is fine; an exit
            // with an error within a second is a failure.
            match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
                Err(_) => return BrowserLaunch::Opened,
                Ok(Ok(status)) if status.success() => return BrowserLaunch::Opened,
                Ok(Ok(status)) => failures.push(format!("`{shown}` exited with {status}")),
                Ok(Err(e)) => failures.push(format!("`{shown}`: {e}")),
            }
        }
        BrowserLaunch::Failed(format!(
            "could not open a browser with $BROWSER ({})",
            failures.join("; ")
        ))
    }
}

impl Drop for TextLoginUi {
    fn drop(&mut self) {
        // Ctrl-C drops the login: leave the terminal on a fresh line.
        self.clear_progress();
    }
}

#[async_trait]
impl LoginUi for TextLoginUi {
    fn show_issuer(&self, issuer: &str, found_on: &Url) {
        self.say(&format!(
            "issuer: {} (found by WebFinger on {})",
            issuer.chars().filter(|c| !c.is_control()).take(300).collect::<String>(),
            sesame::redact::redact_url(found_on)
        ));
    }

    fn show_authorization_url(&self, url: &Url) {
        self.say(&format!("To log in, open this URL in a browser:\n\n    {url}\n"));
    }

    async fn open_browser(&self, url: &Url) -> BrowserLaunch {
        if let Err(why) = browser_policy(&self.facts, self.settings.no_browser) {
            return why;
        }
        let launch = match &self.facts.browser {
            Some(b) => self.run_browser_env(b, url).await,
            None => {
                let target = url.to_string();
                let opened = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::task::spawn_blocking(move || {
                        webbrowser::open_browser_with_options(
                            webbrowser::Browser::Default,
                            &target,
                            webbrowser::BrowserOptions::new().with_suppress_output(true),
                        )
                    }),
                )
                .await;
                match opened {
                    Ok(Ok(Ok(()))) => BrowserLaunch::Opened,
                    Ok(Ok(Err(e))) => BrowserLaunch::Failed(format!("could not open a browser: {e}")),
                    Ok(Err(e)) => BrowserLaunch::Failed(format!("could not open a browser: {e}")),
                    Err(_) => {
                        BrowserLaunch::Failed("could not open a browser: the opener did not return within 10 s".into())
                    }
                }
            }
        };
        if launch == BrowserLaunch::Opened && !self.settings.quiet {
            self.say("Opened it in your browser; finish the login there.");
        }
        launch
    }

    fn show_device_code(&self, prompt: &DevicePrompt<'_>) {
        let mut text = format!(
            "! First copy your one-time code: {}\n  Then open {} and enter it",
            prompt.user_code, prompt.verification_uri
        );
        if let Some(complete) = prompt.verification_uri_complete {
            text.push_str(&format!("\n  (or open {complete} — the code is filled in)"));
            if self.facts.stderr_tty
                && let Some(qr) = render_qr(complete)
            {
                text.push_str("\n  or scan this QR code with a phone:\n\n");
                text.push_str(&qr);
                text.push('\n');
            }
        }
        text.push_str(&format!("\n  The code expires in {}.", human(prompt.expires_in)));
        if self.out.show_device_code(prompt, &text) {
            return;
        }
        self.say(&text);
    }

    fn progress(&self, waiting: Waiting, remaining: Duration) {
        if self.settings.quiet || !self.facts.stderr_tty {
            return;
        }
        let what = match waiting {
            Waiting::Browser => "Waiting for the login in the browser",
            Waiting::Device => "Waiting for the code to be approved",
            Waiting::BrowserOrDevice => "Waiting for the login (browser or device code)",
        };
        let mut shown = self.progress_shown.lock().unwrap_or_else(|e| e.into_inner());
        self.out.write(&format!(
            "\r\x1b[2K{what}… {} left (Ctrl-C to cancel)",
            clock(remaining)
        ));
        *shown = true;
    }

    fn notice(&self, message: &str) {
        self.say(&format!("sesame: {message}"));
    }

    fn finished(&self) {
        self.clear_progress();
    }
}

/// The commands of a `$BROWSER` value: `:`-separated; each split like a shell would
/// (quotes, backslashes) unless it names an existing file as a whole; `%s` is replaced by
/// the URL (`%%` is a literal `%`), else the URL is appended.
pub fn browser_commands(value: &str, url: &str) -> Vec<Vec<String>> {
    value
        .split(':')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter_map(|c| {
            let words = if std::path::Path::new(c).is_file() {
                vec![c.to_string()]
            } else {
                split_words(c)?
            };
            if words.is_empty() {
                return None;
            }
            let mut substituted = false;
            let mut argv: Vec<String> = words
                .into_iter()
                .map(|w| {
                    if w.contains("%s") {
                        substituted = true;
                    }
                    w.replace("%s", "\u{0}").replace("%%", "%").replace('\u{0}', url)
                })
                .collect();
            if !substituted {
                argv.push(url.to_string());
            }
            Some(argv)
        })
        .collect()
}

/// Splits a command line into words: whitespace separates, '…' and "…" quote, `\` escapes.
/// `None` for an unterminated quote.
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// A QR code of `data` in Unicode half blocks, light modules drawn (for dark terminals),
/// with the quiet zone; `None` if the data does not fit.
pub fn render_qr(data: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::L).ok()?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Some(image.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"))
}

/// `4:05`, `1:02:03`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `10 minutes`, `90 seconds`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 && s.is_multiple_of(60) {
        format!("{} minutes", s / 60)
    } else if s >= 120 {
        format!("about {} minutes", s.div_ceil(60))
    } else {
        format!("{s} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the UI writes.
    #[derive(Debug, Default)]
    struct Collect(Mutex<String>);
    impl TextOutput for Collect {
        fn write(&self, text: &str) {
            self.0.lock().unwrap().push_str(text);
        }
    }

    #[tokio::test]
    async fn text_goes_to_the_output_and_no_browser_declines() {
        let out = Arc::new(Collect::default());
        let facts = Facts {
            stderr_tty: true,
            display: true,
            ..Default::default()
        };
        let settings = UiSettings {
            no_browser: true,
            ..Default::default()
        };
        let ui = TextLoginUi::new(facts, settings, out.clone());
        let url = Url::parse("http://127.0.0.1:1/auth?x=1").unwrap();
        ui.show_authorization_url(&url);
        assert_eq!(ui.open_browser(&url).await, BrowserLaunch::Declined);
        ui.progress(Waiting::Browser, Duration::from_secs(61));
        ui.notice("hello");
        drop(ui);
        let text = out.0.lock().unwrap().clone();
        assert!(
            text.starts_with("To log in, open this URL in a browser:\n\n    http://127.0.0.1:1/auth?x=1\n"),
            "{text:?}"
        );
        assert!(
            text.contains("Waiting for the login in the browser… 1:01 left"),
            "{text:?}"
        );
        assert!(
            text.ends_with("\r\x1b[2Ksesame: hello\n"),
            "the progress line is cleared first: {text:?}"
        );
    }

    #[test]
    fn browser_variable_forms() {
        let u = "http://127.0.0.1:1/auth?a=1&b=2";
        assert_eq!(
            browser_commands("firefox", u),
            vec![vec!["firefox".to_string(), u.into()]]
        );
        assert_eq!(
            browser_commands("w3m -o x=1 %s:lynx", u),
            vec![
                vec!["w3m".to_string(), "-o".into(), "x=1".into(), u.into()],
                vec!["lynx".to_string(), u.into()]
            ]
        );
        assert_eq!(
            browser_commands("'/opt/my browser/run' --url=%s 100%%", u),
            vec![vec![
                "/opt/my browser/run".to_string(),
                format!("--url={u}"),
                "100%".into()
            ]]
        );
        assert!(browser_commands("'unterminated", u).is_empty());
        assert!(browser_commands(" : ", u).is_empty());
    }

    #[test]
    fn device_code_html_escapes_and_links_only_http() {
        let prompt = DevicePrompt {
            user_code: "<b>WDJB</b>",
            verification_uri: "javascript:alert(1)",
            verification_uri_complete: Some("https://idp.example/device?user_code=WDJB&x=\"y"),
            expires_in: Duration::from_secs(600),
        };
        let html = device_code_html(&prompt);
        assert!(
            html.contains("&lt;b&gt;WDJB&lt;/b&gt;") && !html.contains("<b><b>"),
            "{html}"
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(
            html.contains("href=\"https://idp.example/device?user_code=WDJB&amp;x=&quot;y\""),
            "{html}"
        );
        assert!(html.contains("<svg") && !html.contains("<?xml"), "{html}");
    }

    #[test]
    fn qr_and_times() {
        let qr = render_qr("http://127.0.0.1:39999/device?user_code=WDJB-MJHT").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        assert!(lines.len() > 10 && lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
        assert!(qr.contains('█') || qr.contains('▀') || qr.contains('▄'));
        assert_eq!(clock(Duration::from_secs(245)), "4:05");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
    }
}
