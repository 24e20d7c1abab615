//! Server messages for errors (docs/session-rules.md#typed-http-errors): a readable summary of an error response body.
//!
//! JSON is pretty-printed, HTML reduced to its text, plain text kept, and anything else
//! (protobuf, images, octet streams, invalid UTF-8) summarized by content type and size.
//! Summaries are capped so that a 10 MiB error page cannot flood a terminal or a log.

/// Longest summary kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// Summarizes an error body for humans.
pub fn summarize(content_type: Option<&str>, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let is_json = mime == "application/json" || mime.ends_with("+json");
    let is_html = mime == "text/html" || mime == "application/xhtml+xml";
    let is_text = mime.starts_with("text/") || mime == "application/xml" || mime.ends_with("+xml");

    if (is_json || (mime.is_empty() && looks_like_json(body)))
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
    {
        let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        return cap(pretty);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return binary(&mime, body.len());
    };
    if is_html || (mime.is_empty() && looks_like_html(text)) {
        // Bounded input: html2text is linear, but we never hand it more than 256 KiB.
        let slice = &body[..body.len().min(256 * 1024)];
        let rendered = html2text::from_read(slice, 100).unwrap_or_default();
        let collapsed: Vec<&str> = rendered
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect();
        return cap(collapsed.join("\n"));
    }
    if is_text || mime.is_empty() || is_json {
        if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return binary(&mime, body.len());
        }
        return cap(text.trim().to_string());
    }
    binary(&mime, body.len())
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{') | Some(b'['))
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

fn binary(mime: &str, len: usize) -> String {
    let kind = if mime.is_empty() { "binary data" } else { mime };
    format!("[{len} bytes of {kind}]")
}

fn cap(mut s: String) -> String {
    if s.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = s.chars().take(MAX_MESSAGE_CHARS).collect();
        s = format!("{cut}… [truncated]");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_printed() {
        let s = summarize(Some("application/problem+json"), br#"{"error":"nope","detail":1}"#);
        assert!(s.contains("\"error\": \"nope\""), "{s}");
        assert!(s.contains('\n'));
    }

    #[test]
    fn html_is_reduced_to_text() {
        let s = summarize(
            Some("text/html; charset=utf-8"),
            b"<html><head><title>x</title><style>p{}</style></head><body><h1>Not found</h1><p>No such <b>thing</b></p></body></html>",
        );
        assert!(s.contains("Not found"), "{s}");
        assert!(!s.contains("<h1>"), "{s}");
    }

    #[test]
    fn binary_is_summarized() {
        let s = summarize(Some("application/x-protobuf"), &[0x08, 0x96, 0x01, 0xff, 0x00]);
        assert_eq!(s, "[5 bytes of application/x-protobuf]");
        let s = summarize(None, &[0xff, 0xfe, 0x00]);
        assert_eq!(s, "[3 bytes of binary data]");
    }

    #[test]
    fn long_text_is_capped() {
        let body = "a".repeat(100_000);
        let s = summarize(Some("text/plain"), body.as_bytes());
        assert!(s.len() < 5000);
        assert!(s.ends_with("[truncated]"));
    }

    #[test]
    fn malformed_json_falls_back_to_text() {
        let s = summarize(Some("application/json"), b"{\"truncated");
        assert_eq!(s, "{\"truncated");
    }
}
