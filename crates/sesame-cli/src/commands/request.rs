//! `sesame request [METHOD] URL`: an authenticated request, body to stdout.

use std::io::{IsTerminal, Read, Write};

use sesame::Error;

use crate::cli::RequestArgs;
use crate::context::Context;
use crate::exit;

pub async fn run(ctx: &Context, args: RequestArgs) -> Result<i32, Error> {
    let (method, url) = match args.args.as_slice() {
        [url] => (None, url.clone()),
        [m, url] => (Some(m.to_ascii_uppercase()), url.clone()),
        _ => return Err(Error::config("usage: sesame request [METHOD] URL")),
    };
    let body = match (&args.data, &args.json) {
        (Some(d), _) => Some(read_body(d)?),
        (_, Some(j)) => {
            let b = read_body(j)?;
            serde_json::from_slice::<serde_json::Value>(&b)
                .map_err(|e| Error::config(format!("--json body is not valid JSON: {e}")))?;
            Some(b)
        }
        _ => None,
    };
    let method = method.unwrap_or_else(|| if body.is_some() { "POST".into() } else { "GET".into() });
    let method = reqwest_method(&method)?;
    let session = ctx.session_interactive()?;
    let mut req = session.request(method, &url).error_for_status(false);
    if args.json.is_some() {
        req = req
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
    } else if args.data.is_some() {
        req = req.header("Content-Type", "application/x-www-form-urlencoded");
    }
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Error::config(format!("header `{h}` must look like 'Name: value'")))?;
        req = req.header(k.trim(), v.trim());
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let mut resp = req.send().await?;
    let status = resp.status();
    // `--fail`, or the profile's `raise_for_status` (the same rule from the file).
    let fail = args.fail || ctx.resolved.profile.raise_for_status == Some(true);
    if status.as_u16() >= 400 && fail {
        let err = resp.error_for_status().await.expect_err("status >= 400 gives an error");
        eprintln!("sesame: error: {err}");
        return Ok(exit::HTTP);
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let write_err = |e: std::io::Error| Error::io("cannot write the response", e);
    if args.include {
        writeln!(
            out,
            "{:?} {} {}",
            resp.version(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .map_err(write_err)?;
        for (k, v) in resp.headers() {
            writeln!(out, "{}: {}", k, String::from_utf8_lossy(v.as_bytes())).map_err(write_err)?;
        }
        writeln!(out).map_err(write_err)?;
    }
    let progress = (args.output.is_some() && !ctx.global.quiet && std::io::stderr().is_terminal()).then(|| {
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        progress_bar(len)
    });
    while let Some(chunk) = resp.chunk().await? {
        if let Some(bar) = &progress {
            bar.inc(chunk.len() as u64);
        }
        if let Err(e) = out.write_all(&chunk) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(exit::OK);
            }
            return Err(write_err(e));
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(write_err(e)),
        _ => {}
    }
    if let Some(bar) = progress {
        bar.finish();
    }
    if status.as_u16() >= 400 {
        eprintln!(
            "sesame: {} → {} {}",
            resp.url().as_str().split('?').next().unwrap_or_default(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        return Ok(exit::HTTP);
    }
    Ok(exit::OK)
}

fn reqwest_method(m: &str) -> Result<sesame::session::Method, Error> {
    sesame::session::Method::from_bytes(m.as_bytes()).map_err(|_| Error::config(format!("`{m}` is not an HTTP method")))
}

fn read_body(spec: &str) -> Result<Vec<u8>, Error> {
    match spec.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("cannot read the body from stdin", e))?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path).map_err(|e| Error::config(format!("cannot read body file {path}: {e}"))),
        None => Ok(spec.as_bytes().to_vec()),
    }
}

/// The download's progress on stderr (size, rate, ETA when the length is known); only
/// when stderr is a terminal: redirected or piped, nothing is written.
fn progress_bar(len: Option<u64>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr_with_hz(4)).with_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4)).with_style(
            ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    }
}
