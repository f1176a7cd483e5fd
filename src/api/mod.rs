//! The API: what each request means. `handle` is what a handler thread of the HTTP server
//! (`crate::http`) does with one (auth, then routing); routing is in `routes.rs`; one file per
//! API area. Handlers return [`Answer`]: a response, or an [`ApiError`] (`error.rs`) that the
//! route table turns into its HTTP answer; the checks several areas share (auth, the gate of
//! every change) are in `auth.rs`.

pub mod activity;
pub mod alerts;
pub mod auth;
pub mod budget;
pub mod cache;
pub mod crons;
pub mod error;
pub mod events;
pub mod export;
pub mod flow;
pub mod gateway;
pub mod guard;
pub mod health;
pub mod history;
pub mod insight;
pub mod login_link;
pub mod logs;
pub mod memory;
pub mod metrics;
pub mod nodes;
pub mod otlp;
pub mod overview;
pub mod quotas;
pub mod routes;
pub mod search;
pub mod sessions;
pub mod static_files;
pub mod system_health;
pub mod transcript;
pub mod usage;

use crate::http::server::{self, limits};
pub use crate::http::{Req, Resp};
use crate::state::Index;
pub use error::{Answer, ApiError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the handlers reach: the index, and the handles of the threads they talk to. Built
/// before any thread starts, so no handler ever finds a handle missing.
pub struct Ctx {
    pub index: Arc<Index>,
    /// The gateway thread: connection state and RPC.
    pub gateway: crate::gateway::Handle,
    /// The monitor thread: health, budget, alerts, history.
    pub monitor: Arc<crate::monitor::Monitor>,
    /// What the OTLP receiver keeps (spans, metrics, logs); not part of the index.
    pub otlp: Mutex<crate::otlp::Buffers>,
    /// Fleet (central side): the key nodes must present, and the nodes.
    pub fleet_key: Option<String>,
    pub fleet: Mutex<crate::fleet::Nodes>,
    /// Dashboard auth: token settings, login sessions, failed-login counts.
    pub auth: auth::Auth,
    /// The full-text search index (its thread fills it).
    pub search: Arc<crate::search::Search>,
}

impl Ctx {
    pub fn new(
        index: Arc<Index>,
        gateway: crate::gateway::Handle,
        monitor: Arc<crate::monitor::Monitor>,
        search: Arc<crate::search::Search>,
        cfg: &crate::cli::Config,
    ) -> Arc<Ctx> {
        Arc::new(Ctx {
            index,
            gateway,
            monitor,
            otlp: Mutex::default(),
            fleet_key: cfg.fleet_key.clone(),
            fleet: Mutex::new(crate::fleet::Nodes::load(cfg.data_dir.as_deref())),
            auth: auth::Auth::from_cli(cfg),
            search,
        })
    }
}

/// A bounded number of places for answers that a connection thread writes for as long as they
/// last (event streams, exports): `take` gives one while fewer than `max` are held.
pub struct Places {
    held: std::sync::atomic::AtomicUsize,
    max: usize,
}

/// One place of a [`Places`], given back when dropped (also when the answer is never written).
pub struct Place(&'static Places);

impl Places {
    pub const fn new(max: usize) -> Places {
        Places { held: std::sync::atomic::AtomicUsize::new(0), max }
    }
    pub fn take(&'static self) -> Option<Place> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.held.fetch_add(1, SeqCst) >= self.max {
            self.held.fetch_sub(1, SeqCst);
            return None;
        }
        Some(Place(self))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Largest OTLP export accepted (`/v1/*`; after gzip inflation the limit is in `otlp.rs`).
pub const MAX_OTLP_BODY: usize = 16 << 20;

/// The zone of days and months at `now` (`tz.rs`), as `/api/health` and `/api/overview` show
/// it: `{name, offsetSeconds, abbreviation, source, problem}`.
pub fn tz_json(now: i64) -> serde_json::Value {
    let c = crate::tz::chosen();
    let mut v = c.zone.to_json(now);
    v["source"] = c.source.into();
    v["problem"] = c.problem.clone().into();
    v
}

/// Keeps the first `n` of `v` in `order`, sorted (only those are sorted: a partial selection
/// first, so that 100,000 rows to list 10 cost no full sort).
pub fn top_n<T>(v: &mut Vec<T>, n: usize, mut order: impl FnMut(&T, &T) -> std::cmp::Ordering) {
    if n == 0 {
        v.clear();
        return;
    }
    if v.len() > n {
        v.select_nth_unstable_by(n - 1, &mut order);
        v.truncate(n);
    }
    v.sort_by(order);
}

/// The body limit of a path.
pub fn body_limit(path: &str) -> usize {
    match path {
        _ if path.starts_with("/v1/") => MAX_OTLP_BODY,
        // Bodies anyone may send (no token needed yet) stay tiny, so that announcing big ones
        // cannot take the body budget from everybody else (issue 13).
        "/api/login" | "/api/logout" => 4 << 10,
        "/api/nodes/register" => 16 << 10,
        "/api/nodes/report" => 256 << 10,
        _ => MAX_BODY,
    }
}

/// Starts the HTTP server (listener, connection threads, `workers` handler threads) with this
/// API's handler, auth gate and body limits. Returns the bound port.
pub fn spawn(
    ctx: Arc<Ctx>,
    host: &str,
    port: u16,
    workers: usize,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<(u16, Vec<JoinHandle<()>>), String> {
    let listener = std::net::TcpListener::bind((host, port))
        .map_err(|e| format!("cannot listen on {host}:{port}: {e} (is another clawmetry running? try --port)"))?;
    let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let gate_ctx = ctx.clone();
    let handler: Arc<server::Handler> = Arc::new(move |req| handle(&ctx, req));
    let gate: Arc<server::Gate> = Arc::new(move |req| auth::check(req, &gate_ctx).err().map(Resp::from));
    let api = server::Api { handler, gate, body_limit };
    let handles = server::start(listener, limits::Limits::from_env(), workers, api, tls).map_err(|e| e.to_string())?;
    Ok((bound, handles))
}

/// What an empty request body means to `body_json`.
#[derive(Clone, Copy, PartialEq)]
pub enum Empty {
    /// `{}`: every field optional.
    IsObject,
    /// A 400: the endpoint needs fields.
    Refused,
}

/// The request body as a JSON object, or a 400 saying what is wrong with it. The one reader of
/// JSON bodies for every endpoint.
pub fn body_json(req: &Req, empty: Empty) -> Result<serde_json::Value, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return match empty {
            Empty::IsObject => Ok(serde_json::Value::Object(serde_json::Map::new())),
            Empty::Refused => Err(ApiError::bad_request("a JSON object is required as the request body")),
        };
    }
    let v: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    Ok(v)
}

/// One request on a handler thread.
pub fn handle(ctx: &Arc<Ctx>, req: Req) -> server::Reply {
    // The one auth gate (token, cross-origin writes), before routing and before the SSE stream.
    if let Err(e) = auth::check(&req, ctx) {
        return server::Reply::Resp(e.into());
    }
    if req.method == "GET" && req.path == "/api/events" {
        return events::open(ctx, &req);
    }
    if let ["api", "sessions", id, "export"] = req.segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        if req.method == "GET" || req.method == "HEAD" {
            return export::open(ctx, &req, id);
        }
    }
    server::Reply::Resp(routes::route(&req, ctx))
}
