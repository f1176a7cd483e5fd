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

use crate::state::Shared;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

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

/// Shared handle to the gateway thread; lives in `Ctx`. Cheap to clone.
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

/// Starts the gateway thread. The handle in `ctx` starts answering once it is connected.
pub fn spawn(ctx: Shared, settings: Settings) -> std::io::Result<JoinHandle<()>> {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
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

fn url_for(ctx: &Shared, s: &Settings) -> String {
    match &s.url {
        Some(u) => u.clone(),
        None => format!("ws://127.0.0.1:{}", ctx.read().install.gateway_port),
    }
}

fn token_for(ctx: &Shared, s: &Settings) -> Option<String> {
    s.token.clone().or_else(|| ctx.read().install.gateway_token.clone())
}

// ---------------------------------------------------------------------------------------------
// Device identity.

/// The Ed25519 key this dashboard signs the challenge with. The gateway pairs a device by its
/// public key; on loopback, without an `Origin` header, that happens silently.
pub struct Identity {
    key: ed25519_dalek::SigningKey,
    pub public: [u8; 32],
    /// Hex SHA-256 of the raw public key: what the gateway calls the device id.
    pub id: String,
}

pub const IDENTITY_FILE: &str = "gateway-device.json";

impl Identity {
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        use sha2::Digest;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        let id = crate::codec::hex(&sha2::Sha256::digest(public));
        Identity { key, public, id }
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(msg).to_bytes()
    }

    /// Reads `<dir>/gateway-device.json`, creating the dir and a new key (mode 0600) if needed.
    pub fn load_or_create(dir: &Path) -> Result<Identity, String> {
        let path = dir.join(IDENTITY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Identity::parse(&text).map_err(|e| {
                format!("{}: {e}; delete the file to make a new device key (it will be paired again)", path.display())
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let seed = crate::codec::random::<32>().map_err(|e| format!("the device key: {e}"))?;
                let id = Identity::from_seed(seed);
                id.save(&path)?;
                Ok(id)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn parse(text: &str) -> Result<Identity, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let seed = v.get("privateKeySeed").and_then(Value::as_str).ok_or("no privateKeySeed")?;
        let seed = b64url_decode(seed).ok_or("privateKeySeed is not base64url")?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| "privateKeySeed is not 32 bytes".to_string())?;
        Ok(Identity::from_seed(seed))
    }

    fn save(&self, path: &Path) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e} (pass --data-dir DIR)", dir.display()))?;
        let body = json!({
            "version": 1,
            "algorithm": "ed25519",
            "deviceId": self.id,
            "publicKey": b64url(&self.public),
            "privateKeySeed": b64url(&self.key.to_bytes()),
            "note": "clawmetry's device key for the OpenClaw gateway; keep it private",
        });
        let tmp = dir.join(format!(".{IDENTITY_FILE}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(serde_json::to_string_pretty(&body).unwrap_or_default().as_bytes())?;
            f.sync_all()?;
            // Never replace a key another process wrote meanwhile: hard-link, don't rename.
            std::fs::hard_link(&tmp, path)
        };
        let r = write();
        let _ = std::fs::remove_file(&tmp);
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(format!("cannot write {}: {e} (pass --data-dir DIR)", path.display())),
        }
    }
}

/// base64url without padding, as the gateway wants keys and signatures.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url as the gateway writes it; standard base64 and `=` padding are accepted too.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    crate::codec::base64_decode_any(s)
}

/// The exact string a device signs (protocol "v3"): it binds the key to this client, role,
/// scopes, token, the server's nonce and the platform.
pub fn signed_payload_v3(
    device_id: &str,
    scopes: &[&str],
    signed_at: i64,
    token: &str,
    nonce: &str,
    platform: &str,
) -> String {
    format!(
        "v3|{device_id}|{CLIENT_ID}|{CLIENT_MODE}|{ROLE}|{}|{signed_at}|{token}|{nonce}|{}|",
        scopes.join(","),
        platform.trim().to_lowercase()
    )
}

/// The `connect` request's params, answering a challenge `{nonce, ts}`.
pub fn connect_params(id: &Identity, token: Option<&str>, nonce: &str, ts: i64) -> Value {
    let platform = std::env::consts::OS;
    let payload = signed_payload_v3(&id.id, &SCOPES, ts, token.unwrap_or(""), nonce, platform);
    let mut p = json!({
        "minProtocol": MIN_PROTOCOL,
        "maxProtocol": MAX_PROTOCOL,
        "client": {
            "id": CLIENT_ID,
            "version": env!("CARGO_PKG_VERSION"),
            "platform": platform,
            "mode": CLIENT_MODE,
            "displayName": "clawmetry",
        },
        "role": ROLE,
        "scopes": SCOPES,
        "caps": [],
        "locale": "en-US",
        "userAgent": concat!("clawmetry/", env!("CARGO_PKG_VERSION")),
        "device": {
            "id": id.id,
            "publicKey": b64url(&id.public),
            "signature": b64url(&id.sign(payload.as_bytes())),
            "signedAt": ts,
            "nonce": nonce,
        },
    });
    if let Some(t) = token {
        p["auth"] = json!({ "token": t });
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Frames.

/// A decoded frame from the gateway.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Res {
        id: String,
        ok: bool,
        payload: Value,
        error: Value,
    },
    Event {
        event: String,
        payload: Value,
    },
    /// Valid JSON we have no use for (a `req` from the server, an unknown type).
    Other,
}

pub fn parse_frame(text: &str) -> Result<Frame, String> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let ty = v.get("type").and_then(Value::as_str).ok_or("no \"type\"")?.to_string();
    let take = |v: &mut Value, k: &str| v.get_mut(k).map(Value::take).unwrap_or(Value::Null);
    match ty.as_str() {
        "res" => {
            let id = v.get("id").and_then(Value::as_str).ok_or("res without id")?.to_string();
            let ok = v.get("ok").and_then(Value::as_bool).ok_or("res without ok")?;
            Ok(Frame::Res { id, ok, payload: take(&mut v, "payload"), error: take(&mut v, "error") })
        }
        "event" => {
            let event = v.get("event").and_then(Value::as_str).ok_or("event without name")?.to_string();
            Ok(Frame::Event { event, payload: take(&mut v, "payload") })
        }
        _ => Ok(Frame::Other),
    }
}

fn rpc_error(error: &Value) -> RpcError {
    let s = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    RpcError::Gateway {
        code: Some(s("code")).filter(|c| !c.is_empty()).unwrap_or_else(|| "ERROR".into()),
        message: Some(s("message")).filter(|c| !c.is_empty()).unwrap_or_else(|| "no message".into()),
        details: error.get("details").cloned().unwrap_or(Value::Null),
    }
}

/// Why a `connect` was refused, for the status: (state, message, pairing info).
pub fn explain_refusal(error: &Value, device_id: &str) -> (&'static str, String, Option<Value>) {
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    let dcode = error.pointer("/details/code").and_then(Value::as_str).unwrap_or("");
    let message = error.get("message").and_then(Value::as_str).unwrap_or("connect refused");
    if code == "NOT_PAIRED" || dcode == "PAIRING_REQUIRED" || dcode.starts_with("PAIRING") {
        let req = error.pointer("/details/requestId").and_then(Value::as_str);
        let command = match req {
            Some(r) => format!("openclaw devices approve {r}"),
            None => "openclaw devices approve --latest".to_string(),
        };
        let msg = format!(
            "{message}. This dashboard's device ({}) is waiting for approval: run `{command}` on the gateway host",
            &device_id[..device_id.len().min(12)]
        );
        let pairing = json!({ "requestId": req, "deviceId": device_id, "command": command,
            "reason": error.pointer("/details/reason") });
        return ("pairing-required", msg, Some(pairing));
    }
    if dcode.starts_with("AUTH") || code.contains("AUTH") || message.contains("token") {
        let hint = "check gateway.auth.token in openclaw.json or pass --gateway-token";
        return ("auth-failed", format!("{message} ({}; {hint})", if dcode.is_empty() { code } else { dcode }), None);
    }
    (
        "disconnected",
        format!("connect refused: {message} ({code}{}{dcode})", if dcode.is_empty() { "" } else { "/" }),
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// Backoff.

/// Exponential backoff with jitter: 0.5 s doubling to 30 s, each delay drawn from [d/2, d].
pub struct Backoff {
    next: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(seed: u64) -> Backoff {
        Backoff { next: BACKOFF_MIN, rng: seed | 1 }
    }
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
    pub fn next_delay(&mut self) -> Duration {
        // xorshift64: jitter needs no cryptographic randomness.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let d = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        let half = d.as_millis() as u64 / 2;
        Duration::from_millis(half + self.rng % (half + 1))
    }
}

// ---------------------------------------------------------------------------------------------
// Live sessions.

/// Which sessions run now, from the gateway's events. Keyed by session key.
#[derive(Debug, Default)]
pub struct Live {
    sessions: HashMap<String, LiveEntry>,
    /// run id -> session key: end events do not always repeat the key.
    runs: HashMap<String, String>,
}

#[derive(Debug, Default)]
struct LiveEntry {
    session_id: Option<String>,
    runs: HashSet<String>,
    /// The gateway's own row said it runs (`hasActiveRun` / `status: running`).
    row_running: bool,
}

/// A snapshot of the live set: session keys and their current session ids.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LiveSet {
    pub keys: Vec<String>,
    pub ids: Vec<String>,
}

fn row_running(row: &Value) -> bool {
    match row.get("hasActiveRun").and_then(Value::as_bool) {
        Some(b) => b,
        None => row.get("status").and_then(Value::as_str) == Some("running"),
    }
}

impl Live {
    /// Replaces everything with a `sessions.list` answer (rows of running sessions, or all rows).
    pub fn seed(&mut self, rows: &[Value]) {
        self.sessions.clear();
        self.runs.clear();
        for r in rows {
            let Some(key) = r.get("key").and_then(Value::as_str) else { continue };
            if row_running(r) {
                let e = self.sessions.entry(key.to_string()).or_default();
                e.row_running = true;
                e.session_id = r.get("sessionId").and_then(Value::as_str).map(str::to_string);
            }
        }
    }

    /// Applies one pushed event. Returns true when it may have changed the live set.
    pub fn apply(&mut self, event: &str, p: &Value) -> bool {
        let key = p.get("sessionKey").and_then(Value::as_str);
        match event {
            "agent" if p.get("stream").and_then(Value::as_str) == Some("lifecycle") => {
                let Some(run) = p.get("runId").and_then(Value::as_str) else { return false };
                let phase = p.pointer("/data/phase").and_then(Value::as_str).unwrap_or("");
                match phase {
                    "start" => {
                        let Some(key) = key else { return false };
                        self.runs.insert(run.to_string(), key.to_string());
                        let e = self.sessions.entry(key.to_string()).or_default();
                        if let Some(id) = p.get("sessionId").and_then(Value::as_str) {
                            e.session_id = Some(id.to_string());
                        }
                        e.runs.insert(run.to_string());
                        true
                    }
                    "end" | "error" => {
                        let key = self.runs.remove(run).or_else(|| key.map(str::to_string));
                        let Some(key) = key else { return false };
                        if let Some(e) = self.sessions.get_mut(&key) {
                            e.runs.remove(run);
                            // The run's end is authoritative over an older row snapshot.
                            e.row_running = false;
                            if e.runs.is_empty() {
                                self.sessions.remove(&key);
                            }
                        }
                        true
                    }
                    _ => false,
                }
            }
            "sessions.changed" => {
                let Some(key) = key else { return false };
                if p.get("reason").and_then(Value::as_str) == Some("delete") {
                    return self.sessions.remove(key).is_some();
                }
                let Some(row) = p.get("session").filter(|r| r.is_object()) else { return false };
                let running = row_running(row);
                let e = self.sessions.entry(key.to_string()).or_default();
                e.row_running = running;
                if let Some(id) = row.get("sessionId").and_then(Value::as_str) {
                    e.session_id = Some(id.to_string());
                }
                if !running && e.runs.is_empty() {
                    self.sessions.remove(key);
                }
                true
            }
            _ => false,
        }
    }

    pub fn snapshot(&self) -> LiveSet {
        let mut keys: Vec<String> = self.sessions.keys().cloned().collect();
        keys.sort();
        let mut ids: Vec<String> = self.sessions.values().filter_map(|e| e.session_id.clone()).collect();
        ids.sort();
        LiveSet { keys, ids }
    }
}

impl LiveSet {
    /// Whether the session with this key or id runs now.
    pub fn has(&self, key: Option<&str>, id: &str) -> bool {
        key.is_some_and(|k| self.keys.binary_search_by(|x| x.as_str().cmp(k)).is_ok())
            || self.ids.binary_search_by(|x| x.as_str().cmp(id)).is_ok()
    }
}

/// Replaces the live set in the index (`State::live`, None when the gateway is not connected)
/// and its copy for `/api/gateway`; returns the previous set when it changed. Only the gateway
/// thread writes it, so the check under the read lock stays true until the write.
fn set_live(ctx: &Shared, v: Option<LiveSet>) -> Option<Option<LiveSet>> {
    if ctx.read().live == v {
        return None;
    }
    let keys = v.as_ref().map(|l| l.keys.clone());
    // The write lock bumps the generation: cached answers carrying `live` are stale now.
    let old = std::mem::replace(&mut ctx.write().live, v);
    ctx.gateway.status().live_sessions = keys;
    Some(old)
}

// ---------------------------------------------------------------------------------------------
// The thread.

type Ws = WebSocket<TcpStream>;

/// What an answer is for: an HTTP handler, or the thread's own bookkeeping.
enum Waiter {
    Http(mpsc::Sender<Result<Value, RpcError>>),
    /// `sessions.subscribe` / `sessions.list` for the live set; `fallback` = already retried
    /// without `activeOnly`.
    LiveList {
        fallback: bool,
    },
}

struct Pending {
    waiter: Waiter,
    deadline: Instant,
}

fn run(ctx: Shared, settings: Settings, rx: Receiver<Call>) {
    let seed = crate::timefmt::now_ms() as u64 ^ (std::process::id() as u64) << 32;
    let mut backoff = Backoff::new(seed);
    let mut identity: Option<Identity> = None;
    loop {
        let url = url_for(&ctx, &settings);
        {
            let mut st = ctx.gateway.status();
            st.url = url.clone();
            st.attempts += 1;
            st.next_retry_ms = None;
            if st.state != "pairing-required" && st.state != "auth-failed" {
                st.state = "connecting";
            }
        }
        if identity.is_none() {
            identity = match settings.data_dir.as_deref() {
                Some(d) => match Identity::load_or_create(d) {
                    Ok(i) => Some(i),
                    Err(e) => {
                        fail(&ctx, "disconnected", e, None);
                        None
                    }
                },
                None => {
                    fail(&ctx, "disconnected", "no data dir for the device key: pass --data-dir DIR".into(), None);
                    None
                }
            };
            if let Some(i) = &identity {
                ctx.gateway.status().device_id = Some(i.id.clone());
            }
        }
        if let Some(id) = &identity {
            let token = token_for(&ctx, &settings);
            match connect(&url, id, token.as_deref()) {
                Ok((mut ws, hello)) => {
                    backoff.reset();
                    connected(&ctx, &hello);
                    let why = serve(&ctx, &mut ws, &rx);
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    disconnected(&ctx, why);
                }
                Err(Refused { state, message, pairing }) => fail(&ctx, state, message, pairing),
            }
        }
        let delay = backoff.next_delay();
        ctx.gateway.status().next_retry_ms = Some(crate::timefmt::now_ms() + delay.as_millis() as i64);
        // While waiting, answer queued calls at once rather than letting them time out.
        let until = Instant::now() + delay;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(c) => {
                    let _ = c.reply.send(Err(RpcError::Unavailable(ctx.gateway.unavailable_reason())));
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// A failed connection attempt.
struct Refused {
    state: &'static str,
    message: String,
    pairing: Option<Value>,
}

impl Refused {
    fn io(message: String) -> Refused {
        Refused { state: "disconnected", message, pairing: None }
    }
}

/// Splits `ws://host:port/path` into what TCP needs; `wss://` is refused with advice.
pub fn parse_ws_url(url: &str) -> Result<(String, u16), String> {
    let rest = if let Some(r) = url.strip_prefix("ws://") {
        r
    } else if url.starts_with("wss://") {
        return Err(format!("{url}: TLS (wss://) is not supported; reach the gateway over loopback or an SSH tunnel (ssh -L 18789:127.0.0.1:18789 host)"));
    } else {
        return Err(format!("{url}: the gateway URL must start with ws://"));
    };
    let hostport = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| format!("{url}: bad port {p:?}"))?)
        }
        _ => (hostport, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((host.to_string(), port))
}

/// TCP connect, WebSocket upgrade (no `Origin` header), challenge, signed `connect`.
fn connect(url: &str, id: &Identity, token: Option<&str>) -> Result<(Ws, Value), Refused> {
    let (host, port) = parse_ws_url(url).map_err(Refused::io)?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Refused::io(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = stream.ok_or_else(|| {
        let e = last.map(|e| e.to_string()).unwrap_or_else(|| "no address".into());
        Refused::io(format!("cannot connect to {host}:{port}: {e} (is the gateway running? `openclaw gateway status`)"))
    })?;
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).map_err(|e| Refused::io(e.to_string()))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(|e| Refused::io(e.to_string()))?;
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20)).max_frame_size(Some(32 << 20));
    let (mut ws, _resp) = tungstenite::client::client_with_config(url, stream, Some(config))
        .map_err(|e| Refused::io(format!("WebSocket upgrade to {url} failed: {e}")))?;
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    // 1. The server speaks first.
    let (nonce, ts) = loop {
        match read_frame(&mut ws, deadline)? {
            Frame::Event { event, payload } if event == "connect.challenge" => {
                let nonce = payload.get("nonce").and_then(Value::as_str).unwrap_or("").to_string();
                let ts = payload.get("ts").and_then(Value::as_i64);
                match ts {
                    Some(ts) if !nonce.is_empty() && ts >= 0 => break (nonce, ts),
                    _ => return Err(Refused::io(format!("malformed connect.challenge: {payload}"))),
                }
            }
            _ => continue,
        }
    };
    // 2. Our signed connect.
    let req_id = new_id();
    let frame =
        json!({"type": "req", "id": req_id, "method": "connect", "params": connect_params(id, token, &nonce, ts)});
    ws.send(Message::text(frame.to_string())).map_err(|e| Refused::io(format!("sending connect: {e}")))?;
    // 3. hello-ok, or a refusal.
    loop {
        match read_frame(&mut ws, deadline)? {
            Frame::Res { id: rid, ok, payload, error } if rid == req_id => {
                if ok {
                    return Ok((ws, payload));
                }
                let (state, message, pairing) = explain_refusal(&error, &id.id);
                let _ = ws.close(None);
                return Err(Refused { state, message, pairing });
            }
            _ => continue,
        }
    }
}

/// Reads the next JSON frame during the handshake.
fn read_frame(ws: &mut Ws, deadline: Instant) -> Result<Frame, Refused> {
    loop {
        if Instant::now() > deadline {
            return Err(Refused::io("the gateway did not complete the handshake in time".into()));
        }
        match ws.read() {
            Ok(Message::Text(t)) => match parse_frame(t.as_str()) {
                Ok(f) => return Ok(f),
                Err(e) => return Err(Refused::io(format!("bad frame during the handshake: {e}"))),
            },
            Ok(Message::Close(c)) => {
                let why = c.map(|c| format!("{} {}", u16::from(c.code), c.reason)).unwrap_or_default();
                return Err(Refused::io(format!("the gateway closed the connection during the handshake {why}")));
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Refused::io("no connect.challenge from the gateway (is this an OpenClaw gateway?)".into()))
            }
            Err(e) => return Err(Refused::io(format!("handshake: {e}"))),
        }
    }
}

/// A request id: unique on the connection (a counter; correlation needs no randomness).
fn new_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("cm-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn fail(ctx: &Shared, state: &'static str, message: String, pairing: Option<Value>) {
    let changed;
    {
        let mut st = ctx.gateway.status();
        changed = st.state != state || st.last_error.as_deref() != Some(message.as_str());
        st.state = state;
        st.last_error = Some(message.clone());
        st.last_error_ms = Some(crate::timefmt::now_ms());
        st.pairing = pairing;
    }
    if changed {
        eprintln!("clawmetry: gateway: {message}");
        ctx.hub.publish("gateway", json!({"state": state, "error": message}));
    }
}

fn connected(ctx: &Shared, hello: &Value) {
    let strings = |p: &str| -> Vec<String> {
        hello
            .pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let server = hello.get("server").cloned().unwrap_or(Value::Null);
    {
        let mut st = ctx.gateway.status();
        st.state = "connected";
        st.protocol = hello.get("protocol").and_then(Value::as_u64);
        st.server = server.clone();
        st.methods = strings("/features/methods");
        st.events = strings("/features/events");
        st.scopes = strings("/auth/scopes");
        st.tick_interval_ms = hello.pointer("/policy/tickIntervalMs").and_then(Value::as_u64).unwrap_or(30_000);
        st.connected_since_ms = Some(crate::timefmt::now_ms());
        st.last_frame_ms = st.connected_since_ms;
        st.pairing = None;
        st.connects += 1;
    }
    eprintln!(
        "clawmetry: gateway: connected to OpenClaw {} (protocol {})",
        server.get("version").and_then(Value::as_str).unwrap_or("?"),
        hello.get("protocol").and_then(Value::as_u64).unwrap_or(0)
    );
    ctx.hub.publish("gateway", json!({"state": "connected", "server": server}));
}

fn disconnected(ctx: &Shared, why: String) {
    if let Some(old) = set_live(ctx, None) {
        live_changed(ctx, old.as_ref(), &LiveSet::default());
    }
    {
        let mut st = ctx.gateway.status();
        st.connected_since_ms = None;
    }
    fail(ctx, "disconnected", why, None);
}

/// The connected loop: returns why it ended.
fn serve(ctx: &Shared, ws: &mut Ws, rx: &Receiver<Call>) -> String {
    if let Err(e) = ws.get_mut().set_read_timeout(Some(POLL)) {
        return e.to_string();
    }
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut live = Live::default();
    let tick = Duration::from_millis(ctx.gateway.status().tick_interval_ms.max(1000));
    let mut last_in = Instant::now();
    let mut last_reconcile = Instant::now();
    let end = |pending: &mut HashMap<String, Pending>, why: String| {
        for (_, p) in pending.drain() {
            if let Waiter::Http(tx) = p.waiter {
                let _ = tx.send(Err(RpcError::Unavailable(why.clone())));
            }
        }
        why
    };
    // Subscribe to session changes and learn which sessions run now, in one request.
    if let Err(e) = request_live(ws, &mut pending, false) {
        return end(&mut pending, e);
    }
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                last_in = Instant::now();
                handle_text(ctx, t.as_str(), &mut pending, &mut live, ws);
            }
            Ok(Message::Close(c)) => {
                let why = c.map(|c| format!(": {} {}", u16::from(c.code), c.reason)).unwrap_or_default();
                return end(&mut pending, format!("the gateway closed the connection{why}"));
            }
            Ok(_) => last_in = Instant::now(),
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return end(&mut pending, format!("connection lost: {e}")),
        }
        // Requests from HTTP handlers.
        loop {
            match rx.try_recv() {
                Ok(c) => {
                    if Instant::now() >= c.deadline {
                        let _ = c.reply.send(Err(RpcError::Timeout(Duration::ZERO)));
                        continue;
                    }
                    let id = new_id();
                    let frame = json!({"type": "req", "id": id, "method": c.method, "params": c.params});
                    if let Err(e) = ws.write(Message::text(frame.to_string())) {
                        let _ = c.reply.send(Err(RpcError::Unavailable(format!("send failed: {e}"))));
                        return end(&mut pending, format!("send failed: {e}"));
                    }
                    pending.insert(id, Pending { waiter: Waiter::Http(c.reply), deadline: c.deadline });
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return end(&mut pending, "shutting down".into()),
            }
        }
        // Writes queued requests and pongs.
        match ws.flush() {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return end(&mut pending, format!("connection lost: {e}")),
        }
        let now = Instant::now();
        pending.retain(|_, p| {
            if now < p.deadline {
                return true;
            }
            if let Waiter::Http(tx) = &p.waiter {
                let _ = tx.send(Err(RpcError::Timeout(Duration::ZERO)));
            }
            false
        });
        // The gateway ticks (and pings); silence for two intervals means a dead connection.
        if now.duration_since(last_in) > tick * 2 {
            return end(
                &mut pending,
                format!("no tick from the gateway for {} s", now.duration_since(last_in).as_secs()),
            );
        }
        if now.duration_since(last_reconcile) > RECONCILE {
            last_reconcile = now;
            if let Err(e) = request_live(ws, &mut pending, true) {
                return end(&mut pending, e);
            }
        }
        let mut st = ctx.gateway.status();
        if now.duration_since(last_in) < POLL * 2 {
            st.last_frame_ms = Some(crate::timefmt::now_ms());
        }
    }
}

/// Asks for the running sessions: `sessions.subscribe` (which also subscribes this connection
/// to `sessions.changed`) with `activeOnly`; `list_only` re-reads with `sessions.list`.
fn request_live(ws: &mut Ws, pending: &mut HashMap<String, Pending>, list_only: bool) -> Result<(), String> {
    let id = new_id();
    let method = if list_only { "sessions.list" } else { "sessions.subscribe" };
    let frame = json!({"type": "req", "id": id, "method": method, "params": {"activeOnly": true, "limit": 200}});
    ws.write(Message::text(frame.to_string())).map_err(|e| format!("send failed: {e}"))?;
    pending.insert(
        id,
        Pending { waiter: Waiter::LiveList { fallback: false }, deadline: Instant::now() + Duration::from_secs(30) },
    );
    Ok(())
}

fn handle_text(ctx: &Shared, text: &str, pending: &mut HashMap<String, Pending>, live: &mut Live, ws: &mut Ws) {
    let frame = match parse_frame(text) {
        Ok(f) => f,
        Err(e) => {
            let mut st = ctx.gateway.status();
            st.bad_frames += 1;
            st.last_error = Some(format!("ignored a bad frame from the gateway: {e}"));
            st.last_error_ms = Some(crate::timefmt::now_ms());
            return;
        }
    };
    match frame {
        Frame::Res { id, ok, payload, error } => {
            let Some(p) = pending.remove(&id) else { return };
            match p.waiter {
                Waiter::Http(tx) => {
                    let _ = tx.send(if ok { Ok(payload) } else { Err(rpc_error(&error)) });
                }
                Waiter::LiveList { fallback } => {
                    if ok {
                        let rows = payload
                            .pointer("/list/sessions")
                            .or_else(|| payload.get("sessions"))
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        live.seed(&rows);
                        publish_live(ctx, live);
                    } else if !fallback {
                        // An older gateway without activeOnly / list-in-subscribe: subscribe
                        // plainly, then list everything and pick the running rows.
                        for (method, params) in
                            [("sessions.subscribe", json!({})), ("sessions.list", json!({"limit": 500}))]
                        {
                            let id = new_id();
                            let frame = json!({"type": "req", "id": id, "method": method, "params": params});
                            if ws.write(Message::text(frame.to_string())).is_ok() && method == "sessions.list" {
                                pending.insert(
                                    id,
                                    Pending {
                                        waiter: Waiter::LiveList { fallback: true },
                                        deadline: Instant::now() + Duration::from_secs(30),
                                    },
                                );
                            }
                        }
                    } else {
                        // No session list at all: live flags stay unknown rather than wrong.
                        if let Some(old) = set_live(ctx, None) {
                            live_changed(ctx, old.as_ref(), &LiveSet::default());
                        }
                    }
                }
            }
        }
        Frame::Event { event, payload } => {
            ctx.gateway.status().events_seen += 1;
            if live.apply(&event, &payload) {
                publish_live(ctx, live);
            }
            forward(ctx, &event, &payload);
        }
        Frame::Other => {}
    }
}

fn publish_live(ctx: &Shared, live: &Live) {
    let snap = live.snapshot();
    if let Some(old) = set_live(ctx, Some(snap.clone())) {
        live_changed(ctx, old.as_ref(), &snap);
    }
}

/// Tells the UI and the answer cache that live flags moved: the sessions that were or are live.
fn live_changed(ctx: &Shared, old: Option<&LiveSet>, snap: &LiveSet) {
    let ids: Vec<String> = {
        let st = ctx.read();
        let sets = [Some(snap), old];
        let keys = sets.iter().flatten().flat_map(|l| l.keys.iter());
        let mut ids: Vec<String> = keys.filter_map(|k| st.by_key.get(k).cloned()).collect();
        ids.extend(sets.iter().flatten().flat_map(|l| l.ids.iter().cloned()));
        ids.sort();
        ids.dedup();
        ids
    };
    ctx.hub.publish("live", json!({"keys": snap.keys, "ids": ids}));
    ctx.hub.publish("sessions", json!({"ids": ids, "reason": "live"}));
}

/// Forwards the events a dashboard shows, condensed: the hub keeps a short ring, and token
/// deltas would flood it.
fn forward(ctx: &Shared, event: &str, p: &Value) {
    let s = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    match event {
        "agent" => {
            let stream = p.get("stream").and_then(Value::as_str).unwrap_or("");
            let phase = p.pointer("/data/phase").and_then(Value::as_str).unwrap_or("");
            let keep = match stream {
                "lifecycle" => matches!(phase, "start" | "end" | "error"),
                "tool" => matches!(phase, "start" | "result"),
                _ => false,
            };
            if keep {
                ctx.hub.publish(
                    "agent",
                    json!({"sessionKey": s("sessionKey"), "sessionId": s("sessionId"), "agentId": s("agentId"),
                        "runId": s("runId"), "stream": stream, "phase": phase, "ts": s("ts"),
                        "tool": p.pointer("/data/name").cloned().unwrap_or(Value::Null),
                        "stopReason": p.pointer("/data/stopReason").cloned().unwrap_or(Value::Null),
                        "error": p.pointer("/data/error").cloned().unwrap_or(Value::Null)}),
                );
            }
        }
        "chat" => {
            let state = p.get("state").and_then(Value::as_str).unwrap_or("");
            if matches!(state, "final" | "error" | "aborted") {
                ctx.hub.publish(
                    "chat",
                    json!({"sessionKey": s("sessionKey"), "runId": s("runId"), "state": state,
                        "stopReason": s("stopReason"), "errorMessage": s("errorMessage")}),
                );
            }
        }
        "cron" => ctx.hub.publish("cron", p.clone()),
        "health" => {
            ctx.hub.publish("gateway.health", json!({"ok": s("ok"), "ts": s("ts"), "durationMs": s("durationMs")}))
        }
        "shutdown" => ctx.hub.publish("gateway", json!({"state": "shutdown", "reason": s("reason")})),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trip_and_known_values() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        for n in 0..70u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            assert_eq!(b64url_decode(&b64url(&v)).unwrap(), v);
        }
        assert!(b64url_decode("a*b").is_none());
    }

    /// The probe's recorded connect (fixtures ws-frames.jsonl line 2): its device id is the
    /// SHA-256 of its public key, as ours is.
    #[test]
    fn device_id_is_sha256_of_public_key_like_the_recorded_frame() {
        use sha2::Digest;
        let pk = b64url_decode("nvst-mpIDC-GrYdqU6EmBPLrkiJaRd8UNe152qjAoxY").unwrap();
        let id = crate::codec::hex(&sha2::Sha256::digest(&pk));
        assert_eq!(id, "db6da95a346877fb69b1813236730f16d83dc673307c8dc731784feb1b9268eb");
        let ours = Identity::from_seed([7; 32]);
        let id = crate::codec::hex(&sha2::Sha256::digest(ours.public));
        assert_eq!(ours.id, id);
    }

    #[test]
    fn connect_params_sign_the_v3_string() {
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        let id = Identity::from_seed([1; 32]);
        let p = connect_params(&id, Some("tok"), "n-1", 1234);
        assert_eq!(p["minProtocol"], 3);
        assert_eq!(p["maxProtocol"], 4);
        assert_eq!(p["auth"]["token"], "tok");
        assert_eq!(p["device"]["signedAt"], 1234);
        let expect = format!(
            "v3|{}|cli|cli|operator|operator.read,operator.write,operator.admin|1234|tok|n-1|{}|",
            id.id,
            std::env::consts::OS
        );
        let pk: [u8; 32] = b64url_decode(p["device"]["publicKey"].as_str().unwrap()).unwrap().try_into().unwrap();
        let sig: [u8; 64] = b64url_decode(p["device"]["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
        VerifyingKey::from_bytes(&pk).unwrap().verify(expect.as_bytes(), &Signature::from_bytes(&sig)).unwrap();
        // Without a token: no auth block, empty token field in the signed string.
        let p = connect_params(&id, None, "n", 1);
        assert!(p.get("auth").is_none());
    }

    #[test]
    fn identity_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("clawmetry-gw-id-{}-{}", std::process::id(), new_id()));
        let a = Identity::load_or_create(&dir.join("sub")).unwrap();
        let f = dir.join("sub").join(IDENTITY_FILE);
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
        let b = Identity::load_or_create(&dir.join("sub")).unwrap();
        assert_eq!(a.id, b.id);
        std::fs::write(&f, "{}").unwrap();
        let e = Identity::load_or_create(&dir.join("sub")).err().unwrap();
        assert!(e.contains("delete the file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn frames_parse_and_bad_ones_are_errors() {
        let f = parse_frame(r#"{"type":"res","id":"a","ok":false,"error":{"code":"X","message":"m"}}"#).unwrap();
        assert!(matches!(f, Frame::Res { ref id, ok: false, .. } if id == "a"));
        let f = parse_frame(r#"{"type":"event","event":"tick","payload":{"ts":1},"seq":3}"#).unwrap();
        assert_eq!(f, Frame::Event { event: "tick".into(), payload: json!({"ts": 1}) });
        assert_eq!(parse_frame(r#"{"type":"req","id":"x","method":"m"}"#).unwrap(), Frame::Other);
        assert!(parse_frame("nope").is_err());
        assert!(parse_frame(r#"{"id":"x"}"#).is_err());
        assert!(parse_frame(r#"{"type":"res","ok":true}"#).is_err());
    }

    #[test]
    fn pairing_refusal_names_the_approve_command() {
        let err = json!({"code":"NOT_PAIRED","message":"pairing required: device is not approved yet",
            "details":{"code":"PAIRING_REQUIRED","reason":"not-paired","requestId":"req-9"}});
        let (state, msg, pairing) = explain_refusal(&err, "abcdef0123456789");
        assert_eq!(state, "pairing-required");
        assert!(msg.contains("openclaw devices approve req-9"), "{msg}");
        assert_eq!(pairing.unwrap()["command"], "openclaw devices approve req-9");
        let err = json!({"code":"INVALID_REQUEST","message":"unauthorized: gateway token mismatch",
            "details":{"code":"AUTH_TOKEN_MISMATCH"}});
        let (state, msg, _) = explain_refusal(&err, "x");
        assert_eq!(state, "auth-failed");
        assert!(msg.contains("--gateway-token"), "{msg}");
    }

    #[test]
    fn backoff_grows_with_jitter_and_resets() {
        let mut b = Backoff::new(42);
        let d: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(250) && d[0] <= Duration::from_millis(500), "{d:?}");
        assert!(d[9] >= Duration::from_secs(15) && d[9] <= Duration::from_secs(30), "{d:?}");
        let mut b2 = Backoff::new(1_000_003);
        let d2: Vec<Duration> = (0..10).map(|_| b2.next_delay()).collect();
        assert_ne!(d, d2, "jitter differs between clients");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }

    #[test]
    fn ws_urls() {
        assert_eq!(parse_ws_url("ws://127.0.0.1:18789").unwrap(), ("127.0.0.1".into(), 18789));
        assert_eq!(parse_ws_url("ws://localhost:9/x?y").unwrap(), ("localhost".into(), 9));
        assert_eq!(parse_ws_url("ws://[::1]:7").unwrap(), ("::1".into(), 7));
        assert_eq!(parse_ws_url("ws://h").unwrap(), ("h".into(), 80));
        assert!(parse_ws_url("wss://h:1").unwrap_err().contains("SSH tunnel"));
        assert!(parse_ws_url("http://h:1").is_err());
        assert!(parse_ws_url("ws://h:x").is_err());
    }

    /// Events as recorded from the real gateway (ws-frames.jsonl, lines 55, 98, 105, 129).
    #[test]
    fn live_set_follows_lifecycle_and_session_rows() {
        let mut l = Live::default();
        l.seed(&[
            json!({"key": "agent:ops:main", "status": "done", "sessionId": "o"}),
            json!({"key": "agent:main:x", "hasActiveRun": true, "sessionId": "x1"}),
        ]);
        assert_eq!(l.snapshot().keys, vec!["agent:main:x"]);
        let start = json!({"runId": "r1", "sessionKey": "agent:main:main", "sessionId": "s1", "stream": "lifecycle",
            "data": {"phase": "start", "startedAt": 1}});
        assert!(l.apply("agent", &start));
        assert_eq!(
            l.snapshot(),
            LiveSet {
                keys: vec!["agent:main:main".into(), "agent:main:x".into()],
                ids: vec!["s1".into(), "x1".into()]
            }
        );
        let child = json!({"runId": "r2", "sessionKey": "agent:main:subagent:c", "sessionId": "c1", "stream": "lifecycle", "data": {"phase": "start"}});
        l.apply("agent", &child);
        // The child's end event carries no sessionKey: found by run id.
        let child_end = json!({"runId": "r2", "stream": "lifecycle", "data": {"phase": "end"}});
        assert!(l.apply("agent", &child_end));
        assert!(!l.snapshot().keys.contains(&"agent:main:subagent:c".to_string()));
        // Other streams do not matter.
        assert!(!l.apply("agent", &json!({"runId": "r1", "stream": "assistant", "data": {"delta": "x"}})));
        let end =
            json!({"runId": "r1", "sessionKey": "agent:main:main", "stream": "lifecycle", "data": {"phase": "end"}});
        l.apply("agent", &end);
        let changed = json!({"sessionKey": "agent:main:x", "reason": "agent.run.finished",
            "session": {"key": "agent:main:x", "status": "done", "sessionId": "x1"}});
        assert!(l.apply("sessions.changed", &changed));
        assert_eq!(l.snapshot(), LiveSet::default());
    }

    #[test]
    fn live_set_is_per_ctx_and_null_until_known() {
        let cfg = crate::cli::Config { openclaw_dir: Some("/nonexistent".into()), ..Default::default() };
        let (a, b) = (
            crate::state::Ctx::new(crate::detect::detect(&cfg), &cfg),
            crate::state::Ctx::new(crate::detect::detect(&cfg), &cfg),
        );
        assert_eq!(a.read().live_flag(Some("k"), "i"), Value::Null);
        let g0 = a.generation.load(std::sync::atomic::Ordering::SeqCst);
        let set = LiveSet { keys: vec!["a".into(), "k".into()], ids: vec!["z".into()] };
        assert_eq!(set_live(&a, Some(set.clone())), Some(None));
        assert!(a.generation.load(std::sync::atomic::Ordering::SeqCst) > g0, "cached answers must go stale");
        assert_eq!(set_live(&a, Some(set)), None, "no change, no write");
        assert_eq!(a.read().live_flag(Some("k"), "i"), Value::Bool(true));
        assert_eq!(a.read().live_flag(None, "z"), Value::Bool(true));
        assert_eq!(a.read().live_flag(Some("b"), "i"), Value::Bool(false));
        assert_eq!(a.gateway.status_json()["liveSessions"], json!(["a", "k"]));
        // Another Ctx (another server in the same process) knows nothing of it.
        assert_eq!(b.read().live_flag(Some("k"), "i"), Value::Null);
        assert_eq!(b.gateway.status_json()["liveSessions"], Value::Null);
        assert!(set_live(&a, None).is_some());
        assert_eq!(a.read().live_flag(Some("k"), "i"), Value::Null);
    }
}
