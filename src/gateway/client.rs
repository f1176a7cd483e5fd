//! The thread: connect (handshake), serve (RPCs from handlers, pushed events, ticks),
//! reconnect with backoff; everything it learns goes to the handle's status and the index.

use super::identity::*;
use super::live::*;
use super::protocol::*;
use super::*;
use crate::state::LiveSet;
use foldhash::HashMap;
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

pub(super) type Ws = WebSocket<TcpStream>;

/// What an answer is for: an HTTP handler, or the thread's own bookkeeping.
pub(super) enum Waiter {
    Http(mpsc::Sender<Result<Value, RpcError>>),
    /// `sessions.subscribe` / `sessions.list` for the live set; `fallback` = already retried
    /// without `activeOnly`.
    LiveList {
        fallback: bool,
    },
}

pub(super) struct Pending {
    waiter: Waiter,
    deadline: Instant,
}

pub(super) fn run(ctx: Arc<Ctx>, settings: Settings, rx: Receiver<Call>) {
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
pub(super) struct Refused {
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
pub(super) fn connect(url: &str, id: &Identity, token: Option<&str>) -> Result<(Ws, Value), Refused> {
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
pub(super) fn read_frame(ws: &mut Ws, deadline: Instant) -> Result<Frame, Refused> {
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
pub(super) fn new_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("cm-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub(super) fn fail(ctx: &Ctx, state: &'static str, message: String, pairing: Option<Value>) {
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
        ctx.index.hub.publish("gateway", json!({"state": state, "error": message}));
    }
}

pub(super) fn connected(ctx: &Ctx, hello: &Value) {
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
    ctx.index.hub.publish("gateway", json!({"state": "connected", "server": server}));
}

pub(super) fn disconnected(ctx: &Ctx, why: String) {
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
pub(super) fn serve(ctx: &Ctx, ws: &mut Ws, rx: &Receiver<Call>) -> String {
    if let Err(e) = ws.get_mut().set_read_timeout(Some(POLL)) {
        return e.to_string();
    }
    let mut pending: HashMap<String, Pending> = HashMap::default();
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
pub(super) fn request_live(ws: &mut Ws, pending: &mut HashMap<String, Pending>, list_only: bool) -> Result<(), String> {
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

pub(super) fn handle_text(ctx: &Ctx, text: &str, pending: &mut HashMap<String, Pending>, live: &mut Live, ws: &mut Ws) {
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

pub(super) fn publish_live(ctx: &Ctx, live: &Live) {
    let snap = live.snapshot();
    if let Some(old) = set_live(ctx, Some(snap.clone())) {
        live_changed(ctx, old.as_ref(), &snap);
    }
}

/// Tells the UI and the answer cache that live flags moved: the sessions that were or are live.
pub(super) fn live_changed(ctx: &Ctx, old: Option<&LiveSet>, snap: &LiveSet) {
    let ids: Vec<String> = {
        let st = ctx.index.read();
        let sets = [Some(snap), old];
        let keys = sets.iter().flatten().flat_map(|l| l.keys.iter());
        let mut ids: Vec<String> = keys.filter_map(|k| st.by_key.get(k.as_str()).map(|i| i.to_string())).collect();
        ids.extend(sets.iter().flatten().flat_map(|l| l.ids.iter().cloned()));
        ids.sort();
        ids.dedup();
        ids
    };
    ctx.index.hub.publish("live", json!({"keys": snap.keys, "ids": ids}));
    ctx.index.hub.publish("sessions", json!({"ids": ids, "reason": "live"}));
}

/// Forwards the events a dashboard shows, condensed: the hub keeps a short ring, and token
/// deltas would flood it.
pub(super) fn forward(ctx: &Ctx, event: &str, p: &Value) {
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
                ctx.index.hub.publish(
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
                ctx.index.hub.publish(
                    "chat",
                    json!({"sessionKey": s("sessionKey"), "runId": s("runId"), "state": state,
                        "stopReason": s("stopReason"), "errorMessage": s("errorMessage")}),
                );
            }
        }
        "cron" => {
            ctx.index.hub.publish("cron", p.clone());
            // A run started or finished is also a row of the activity stream.
            if let Some(mut row) = crate::activity::cron_row(p, None) {
                if let Some(id) = row["sessionId"].as_str().map(str::to_string) {
                    if let Some(agent) = ctx.index.read().sessions.get(id.as_str()).map(|s| s.agent.to_string()) {
                        row["agent"] = json!(agent);
                    }
                }
                ctx.index.hub.publish("activity", json!({"items": [row]}));
            }
        }
        "health" => ctx
            .index
            .hub
            .publish("gateway.health", json!({"ok": s("ok"), "ts": s("ts"), "durationMs": s("durationMs")})),
        "shutdown" => ctx.index.hub.publish("gateway", json!({"state": "shutdown", "reason": s("reason")})),
        _ => {}
    }
}
