//! The request head: request line and headers, checked against the limits (`MAX_HEAD`,
//! `MAX_HEADERS`, `MAX_TARGET`), and the small grammar pieces (tokens, lengths).

use super::connection::{fail, Fail};
use super::{MAX_HEADERS, MAX_TARGET};

/// A parsed request head.
pub(super) struct Head {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) http10: bool,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub(super) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
    pub(super) fn keep_alive(&self) -> bool {
        if self.http10 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }
}

/// Digits only (no sign, no spaces inside), at most 19 of them.
pub(super) fn parse_length(v: &str) -> Option<u64> {
    (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok()).flatten()
}

/// The end of the head (just past its empty line) if it is in `buf`; `from` = bytes already
/// searched.
pub(super) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn parse_head(raw: &[u8]) -> Result<Head, Fail> {
    let mut lines = raw.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    if first.len() > MAX_TARGET + 32 {
        return Err(fail(414, &format!("request target over {MAX_TARGET} bytes")));
    }
    let first = std::str::from_utf8(first).map_err(|_| fail(400, "request line is not ASCII"))?;
    let parts: Vec<&str> = first.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(fail(400, "malformed request line"));
    };
    if !is_token(method) {
        return Err(fail(400, "malformed method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(fail(505, &format!("{v} is not supported; use HTTP/1.1"))),
        _ => return Err(fail(400, "malformed request line")),
    };
    if target.len() > MAX_TARGET {
        return Err(fail(414, &format!("request target over {MAX_TARGET} bytes")));
    }
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(fail(400, "request target with characters that need percent-encoding"));
    }
    // Absolute form (sent to proxies) is accepted by taking its path.
    let target = match target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None if target.starts_with('/') => target,
        None if target == "*" && method == "OPTIONS" => target,
        None => return Err(fail(400, "request target must be a path")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(fail(431, &format!("more than {MAX_HEADERS} header lines")));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(fail(400, "folded header lines are not accepted"));
        }
        let colon = line.iter().position(|&b| b == b':').ok_or_else(|| fail(400, "header line without a colon"))?;
        let name = std::str::from_utf8(&line[..colon]).unwrap_or("");
        if !is_token(name) {
            return Err(fail(400, "malformed header name"));
        }
        let value = &line[colon + 1..];
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(fail(400, "control character in a header value"));
        }
        let value = String::from_utf8_lossy(value);
        headers.push((name.to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()));
    }
    // Methods are case-sensitive (RFC 9110 9.1): `get` is not GET, and gets a 405.
    Ok(Head { method: method.to_string(), target: target.to_string(), http10, headers })
}
