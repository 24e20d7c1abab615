//! `multipart/form-data` bodies for `files=` (RFC 7578), as requests writes them.

/// One part: a form field (no filename) or a file.
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
}

impl Part {
    /// A plain form field.
    pub fn field(name: String, data: Vec<u8>) -> Part {
        Part {
            name,
            filename: None,
            content_type: None,
            headers: Vec::new(),
            data,
        }
    }
}

/// The body and its `Content-Type` (with the boundary).
pub fn encode(parts: &[Part]) -> (Vec<u8>, String) {
    let boundary = format!("{:032x}", rand::random::<u128>());
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", quote(&p.name));
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename=\"{}\"", quote(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        for (k, v) in &p.headers {
            body.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// Escapes a name for a quoted header parameter (WHATWG form encoding: `"` → `%22`,
/// CR/LF → `%0D`/`%0A`).
fn quote(s: &str) -> String {
    s.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}
