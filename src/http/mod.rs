//! A generic HTTP/1.1 server that knows nothing of clawmetry: `server/` accepts connections
//! (plain or TLS), reads requests off them under its limits and runs them on a fixed pool of
//! handler threads; `gzip.rs` compresses answers; this file has the request and response types.
//! What a request *means* is `crate::api`'s: it hands the server a handler, an auth gate and a
//! body limit per path.

pub mod gzip;

pub mod server;

use foldhash::HashMap;
use serde_json::{json, Value};

/// A request as handlers see it: method, decoded path segments, query parameters.
pub struct Req {
    pub method: String,
    pub path: String,
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub if_none_match: Option<String>,
    /// The client's `Accept-Encoding` allows gzip.
    pub accept_gzip: bool,
    /// The peer's address (loopback peers may need no token, see `auth.rs`).
    pub remote: Option<std::net::SocketAddr>,
    /// The request body (at most the path's body limit, `server::Api::body_limit`; more is a 413
    /// before routing).
    pub body: Vec<u8>,
    /// All request headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// It came over TLS (`--tls-cert`): cookies get the `Secure` attribute.
    pub secure: bool,
}

impl Req {
    /// A request from its parts: `target` is the path with its query, `headers` have lower-case
    /// names.
    pub fn new(
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        remote: Option<std::net::SocketAddr>,
    ) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        Req {
            method: method.to_string(),
            path: path.to_string(),
            segments: path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect(),
            query: query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
            if_none_match: header("if-none-match").map(str::to_string),
            accept_gzip: header("accept-encoding").is_some_and(gzip::accepts_gzip),
            remote,
            body,
            headers,
            secure: false,
        }
    }

    /// A request header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A numeric query parameter with a default and bounds; a value that is not a number is a
    /// [`BadQuery`].
    pub fn q_num(&self, k: &str, default: i64, min: i64, max: i64) -> Result<i64, BadQuery> {
        match self.q(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map(|n| n.clamp(min, max))
                .map_err(|_| BadQuery(format!("query parameter {k}={v:?} is not a number"))),
        }
    }
}

/// A query parameter that cannot be read; the message names it and says why. (The API answers
/// it with a 400.)
#[derive(Debug, Clone, PartialEq)]
pub struct BadQuery(pub String);

impl std::fmt::Display for BadQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A response before `server.rs` writes it.
pub struct Resp {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub fn json(v: &Value) -> Resp {
        Resp::json_sized(v, 128)
    }
    /// [`Resp::json`] written into a buffer of `capacity` bytes from the start (a big answer of
    /// known size is not copied again and again as it grows).
    pub fn json_sized(v: &Value, capacity: usize) -> Resp {
        let mut body = Vec::with_capacity(capacity);
        if serde_json::to_writer(&mut body, v).is_err() {
            body = b"{}".to_vec();
        }
        Resp::json_bytes(body)
    }
    /// An answer whose JSON the caller wrote itself.
    pub fn json_bytes(body: Vec<u8>) -> Resp {
        Resp {
            status: 200,
            content_type: "application/json",
            body,
            headers: vec![("Cache-Control", "no-store".into())],
        }
    }
    pub fn error(status: u16, msg: &str) -> Resp {
        let mut r = Resp::json(&json!({ "error": msg }));
        r.status = status;
        r
    }
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("agent%3Amain%3Amain"), "agent:main:main");
        assert_eq!(percent_decode("a+b%20c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
