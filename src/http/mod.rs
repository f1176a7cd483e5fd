//! The HTTP server: a tiny_http listener and a fixed pool of handler threads, each taking
//! requests off the same listener. Routing is in `routes.rs`; one file per API area.

pub mod alerts;
pub mod auth;
pub mod budget;
pub mod cache;
pub mod crons;
pub mod events;
pub mod flow;
pub mod gateway;
pub mod gzip;
pub mod health;
pub mod history;
pub mod limits;
pub mod logs;
pub mod memory;
pub mod metrics;
pub mod nodes;
pub mod otlp;
pub mod overview;
pub mod routes;
pub mod sessions;
pub mod static_files;
pub mod system_health;
pub mod transcript;
pub mod usage;

use crate::state::Shared;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

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
    /// The request body of POST/PUT/DELETE/PATCH, at most the path's limit + 1 bytes (more is a 413).
    pub body: Vec<u8>,
    /// All request headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Largest OTLP export accepted (`/v1/*`; after gzip inflation the limit is in `otlp.rs`).
pub const MAX_OTLP_BODY: usize = 16 << 20;

/// The body limit of a path.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/v1/") {
        MAX_OTLP_BODY
    } else {
        MAX_BODY
    }
}

impl Req {
    /// A request header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A numeric query parameter with a default and bounds; a bad value is a 400.
    pub fn q_num(&self, k: &str, default: i64, min: i64, max: i64) -> Result<i64, Resp> {
        match self.q(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map(|n| n.clamp(min, max))
                .map_err(|_| Resp::error(400, &format!("query parameter {k}={v:?} is not a number"))),
        }
    }
}

/// A response before it is handed to tiny_http.
pub struct Resp {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub fn json(v: &Value) -> Resp {
        Resp {
            status: 200,
            content_type: "application/json",
            body: serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
            headers: vec![("Cache-Control", "no-store".into())],
        }
    }
    pub fn error(status: u16, msg: &str) -> Resp {
        let mut r = Resp::json(&json!({ "error": msg }));
        r.status = status;
        r
    }
    pub fn not_found(what: &str) -> Resp {
        Resp::error(404, &format!("{what} not found"))
    }
}

/// Starts the listener and `workers` handler threads. Returns the bound port.
/// Requests reach the pool through a bounded dispatcher (`limits.rs`): past `MAX_QUEUED` waiting
/// requests the answer is a 503 at once (a request body must also arrive within a deadline).
pub fn spawn(ctx: Shared, host: &str, port: u16, workers: usize) -> Result<(u16, Vec<JoinHandle<()>>), String> {
    let listen_err = |e: &dyn std::fmt::Display| {
        format!("cannot listen on {host}:{port}: {e} (is another clawmetry running? try --port)")
    };
    let limits = limits::Limits::from_env();
    let listener = std::net::TcpListener::bind((host, port)).map_err(|e| listen_err(&e))?;
    limits::no_delay(&listener);
    let server = tiny_http::Server::from_listener(listener, None).map_err(|e| listen_err(&e))?;
    let bound = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(port);
    let dispatch = Arc::new(limits::Dispatch::start(Arc::new(server), limits.max_queued).map_err(|e| e.to_string())?);
    let mut handles = Vec::new();
    for i in 0..workers {
        let dispatch = dispatch.clone();
        let ctx = ctx.clone();
        let h = std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || {
                while let Some(rq) = dispatch.next() {
                    handle(&ctx, rq, &limits);
                    limits::done();
                }
            })
            .map_err(|e| e.to_string())?;
        handles.push(h);
    }
    Ok((bound, handles))
}

fn handle(ctx: &Shared, mut rq: tiny_http::Request, limits: &limits::Limits) {
    let req = match parse_request(&mut rq, limits) {
        Ok(req) => req,
        Err(resp) => {
            respond(rq, resp);
            return;
        }
    };
    // The one auth gate (token, cross-origin writes), before routing and before the SSE stream.
    if let Err(resp) = auth::check(&req, ctx) {
        respond(rq, resp);
        return;
    }
    if req.method == "GET" && req.path == "/api/events" {
        events::serve(ctx.clone(), rq);
        return;
    }
    let limit = body_limit(&req.path);
    let resp = if req.body.len() > limit {
        Resp::error(413, &format!("request body over {limit} bytes"))
    } else {
        routes::route(&req, ctx)
    };
    respond(rq, resp);
}

fn respond(rq: tiny_http::Request, resp: Resp) {
    let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
    let mut headers = resp.headers;
    headers.push(("Content-Type", resp.content_type.to_string()));
    headers.push(("X-Content-Type-Options", "nosniff".into()));
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    // The client may have gone; nothing to do about it.
    let _ = rq.respond(out);
}

fn parse_request(rq: &mut tiny_http::Request, limits: &limits::Limits) -> Result<Req, Resp> {
    let url = rq.url();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let header =
        |name: &'static str| rq.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string());
    let mut req = Req {
        method: rq.method().as_str().to_ascii_uppercase(),
        path: path.to_string(),
        segments,
        query,
        if_none_match: header("If-None-Match"),
        accept_gzip: header("Accept-Encoding").is_some_and(|v| gzip::accepts_gzip(&v)),
        remote: rq.remote_addr().copied(),
        body: Vec::new(),
        headers: rq
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_string()))
            .collect(),
    };
    if matches!(req.method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH") {
        let limit = body_limit(&req.path) + 1;
        req.body = limits::read_body(rq.as_reader(), limit, limits.body_deadline)?;
    }
    Ok(req)
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
