//! The gateway thread: a blocking WebSocket client of the OpenClaw gateway
//! (`ws://127.0.0.1:<gateway.port>`, protocol 3-4).
//!
//! It performs the handshake the real clients do (wait for `connect.challenge`, answer with a
//! `connect` request carrying the token and an Ed25519 device identity that signs the nonce),
//! then keeps the connection: it answers pings, watches the gateway's `tick`s, reconnects with
//! exponential backoff and jitter, and publishes its state for `/api/gateway`.
//!
//! HTTP handlers reach the gateway through [`Handle::call`]: the request travels over a channel
//! to this thread, which owns the socket, sends it and matches the response by id. A handler
//! never waits longer than its timeout, and a disconnected gateway answers at once.
//!
//! Pushed events feed two things: the set of sessions that are running right now (see [`Live`],
//! kept in `State::live` and merged into the session JSON by `State::live_flag`) and the UI's
//! event stream (`Hub`), condensed: `gateway` (connection state), `live` and `sessions` (live set
//! changed), `agent` (run and tool start/end), `chat` (final/error/aborted), `cron`,
//! `gateway.health`.
//!
//! The only file clawmetry ever writes is the device key, `<data dir>/gateway-device.json`
//! (mode 0600). Nothing here writes under OpenClaw's dirs.

use crate::state::Index;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod client;
mod identity;
mod live;
mod protocol;

use client::run;

/// Protocol range we speak: 3 (file-era gateways, 2026.1-2026.8) and 4 (2026.9+).
pub const MIN_PROTOCOL: u64 = 3;
pub const MAX_PROTOCOL: u64 = 4;
/// `client.id` / `client.mode` must be from the gateway's closed lists; a read-mostly operator
/// tool is what the CLI is.
const CLIENT_ID: &str = "cli";
const CLIENT_MODE: &str = "cli";
const ROLE: &str = "operator";
/// read: sessions, cron list/runs; admin: cron add/update/remove/run (the gateway's method
/// policy puts every cron mutation under operator.admin); write: chat-side methods.
pub const SCOPES: [&str; 3] = ["operator.read", "operator.write", "operator.admin"];

/// How long the socket read blocks before the thread looks at its request channel. Bounds the
/// extra latency of an RPC; 20 wake-ups a second cost nothing measurable.
const POLL: Duration = Duration::from_millis(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Re-reads the set of running sessions now and then, in case an end event was missed.
const RECONCILE: Duration = Duration::from_secs(60);
/// Queued RPCs at most; more answer "busy" at once.
const QUEUE: usize = 64;

// ---------------------------------------------------------------------------------------------
// Public surface used by main.rs and the HTTP handlers.

/// What went wrong with an RPC.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    /// Not connected (or `--no-gateway`); the text says why.
    Unavailable(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The gateway answered `ok: false`.
    Gateway { code: String, message: String, details: Value },
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcError::Unavailable(why) => write!(f, "the OpenClaw gateway is not connected: {why}"),
            RpcError::Timeout(d) => write!(f, "the OpenClaw gateway did not answer within {} s", d.as_secs_f32()),
            RpcError::Gateway { code, message, .. } => write!(f, "the OpenClaw gateway refused: {message} ({code})"),
        }
    }
}

/// One RPC on its way to the gateway thread.
struct Call {
    method: String,
    params: Value,
    reply: mpsc::Sender<Result<Value, RpcError>>,
    deadline: Instant,
}

/// Connection state as `/api/gateway` shows it.
#[derive(Debug, Clone, Default)]
struct Status {
    enabled: bool,
    url: String,
    /// disabled, connecting, connected, disconnected, pairing-required, auth-failed
    state: &'static str,
    protocol: Option<u64>,
    server: Value,
    methods: Vec<String>,
    events: Vec<String>,
    scopes: Vec<String>,
    device_id: Option<String>,
    tick_interval_ms: u64,
    connected_since_ms: Option<i64>,
    last_frame_ms: Option<i64>,
    last_error: Option<String>,
    last_error_ms: Option<i64>,
    /// A pairing refusal: the request id and the command that approves it.
    pairing: Option<Value>,
    attempts: u64,
    connects: u64,
    next_retry_ms: Option<i64>,
    bad_frames: u64,
    events_seen: u64,
    /// The keys of `State::live`, for `/api/gateway` (the handle does not see the index).
    live_sessions: Option<Vec<String>>,
}

struct Inner {
    status: Mutex<Status>,
    tx: Mutex<Option<SyncSender<Call>>>,
}

/// Shared handle to the gateway thread, made before it starts. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl Default for Handle {
    fn default() -> Self {
        Handle::disabled()
    }
}

impl Handle {
    /// A handle with no thread behind it (`--no-gateway`, tests): every call is `Unavailable`.
    pub fn disabled() -> Handle {
        let status = Status { state: "disabled", ..Default::default() };
        Handle { inner: Arc::new(Inner { status: Mutex::new(status), tx: Mutex::new(None) }) }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        crate::sync::lock(&self.inner.status)
    }

    pub fn connected(&self) -> bool {
        self.status().state == "connected"
    }

    /// Why the gateway cannot be used now, for error messages.
    pub fn unavailable_reason(&self) -> String {
        let st = self.status();
        match st.state {
            "disabled" => "clawmetry runs with --no-gateway".to_string(),
            "connected" => "connected".to_string(),
            s => match &st.last_error {
                Some(e) => format!("{s} ({e})"),
                None => format!("{s} to {}", st.url),
            },
        }
    }

    /// Whether the gateway offers `method` (unknown before the first hello: assume yes).
    pub fn offers(&self, method: &str) -> bool {
        let st = self.status();
        st.methods.is_empty() || st.methods.iter().any(|m| m == method)
    }

    /// Sends one RPC and waits for its answer, at most `timeout`.
    pub fn call(&self, method: &str, params: Value, timeout: Duration) -> Result<Value, RpcError> {
        if !self.connected() {
            return Err(RpcError::Unavailable(self.unavailable_reason()));
        }
        let tx = crate::sync::lock(&self.inner.tx).clone();
        let Some(tx) = tx else { return Err(RpcError::Unavailable(self.unavailable_reason())) };
        let (reply, rx) = mpsc::channel();
        let call = Call { method: method.to_string(), params, reply, deadline: Instant::now() + timeout };
        match tx.try_send(call) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(RpcError::Unavailable("too many requests queued for the gateway".into()))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(RpcError::Unavailable("the gateway thread stopped".into()))
            }
        }
        // A little slack: the thread itself answers Timeout at the deadline.
        match rx.recv_timeout(timeout + POLL * 2) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(RpcError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(RpcError::Unavailable("the connection dropped".into())),
        }
    }

    /// `/api/gateway`.
    pub fn status_json(&self) -> Value {
        let st = self.status().clone();
        json!({
            "enabled": st.enabled,
            "url": st.url,
            "state": st.state,
            "connected": st.state == "connected",
            "protocol": st.protocol,
            "server": st.server,
            "serverVersion": st.server.get("version"),
            "connectedSinceMs": st.connected_since_ms,
            "lastFrameMs": st.last_frame_ms,
            "lastError": st.last_error,
            "lastErrorMs": st.last_error_ms,
            "pairing": st.pairing,
            "attempts": st.attempts,
            "connects": st.connects,
            "nextRetryMs": st.next_retry_ms,
            "tickIntervalMs": st.tick_interval_ms,
            "badFrames": st.bad_frames,
            "eventsSeen": st.events_seen,
            "deviceId": st.device_id,
            "scopes": st.scopes,
            "methods": st.methods,
            "events": st.events,
            "liveSessions": st.live_sessions,
        })
    }
}

/// Where to connect and with what, fixed at start from the flags; the config's port and token
/// are re-read from the installation before every attempt (they can change).
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: Option<String>,
    pub token: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// What the gateway thread works with: the index it updates and publishes to, and its handle.
struct Ctx {
    index: Arc<Index>,
    gateway: Handle,
}

/// Starts the gateway thread behind `handle`, which starts answering once it is connected.
pub fn spawn(index: Arc<Index>, handle: Handle, settings: Settings) -> std::io::Result<JoinHandle<()>> {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let ctx = Arc::new(Ctx { index, gateway: handle });
    {
        let h = &ctx.gateway;
        *crate::sync::lock(&h.inner.tx) = Some(tx);
        let mut st = h.status();
        st.enabled = true;
        st.state = "connecting";
        st.url = url_for(&ctx, &settings);
    }
    std::thread::Builder::new().name("gateway".into()).spawn(move || run(ctx, settings, rx))
}

fn url_for(ctx: &Ctx, s: &Settings) -> String {
    match &s.url {
        Some(u) => u.clone(),
        None => format!("ws://127.0.0.1:{}", ctx.index.read().install.gateway_port),
    }
}

fn token_for(ctx: &Ctx, s: &Settings) -> Option<String> {
    s.token.clone().or_else(|| ctx.index.read().install.gateway_token.clone())
}

#[cfg(test)]
mod tests;
