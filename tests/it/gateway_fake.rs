//! The gateway client against a fake OpenClaw gateway (a std `TcpListener` + tungstenite
//! server in a thread): the handshake (challenge, signed connect checked against the public key
//! sent, over the exact v3 string), RPC round trips, live sessions, reconnects, timeouts, bad
//! frames, pairing refusals, and the read-only fallback when no gateway is there.

use crate::common::{install_fixture, start, start_with_gateway, Server};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};
use sha2::Digest;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, WebSocket};

const TOKEN: &str = "fake-gateway-token-123";

// ---- the fake gateway ------------------------------------------------------------------------

/// What the fake saw, for the test to check.
#[derive(Default)]
struct Seen {
    connects: Vec<Value>,
    origins: Vec<Option<String>>,
    requests: Vec<(String, Value)>,
    verified: Vec<Result<(), String>>,
}

fn b64url_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {s}"),
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Checks a connect's device block the way the gateway does: id = sha256(public key), and the
/// signature verifies with that key over the v3 string built here from the request itself.
fn verify_device(p: &Value, nonce: &str, ts: i64, token: &str) -> Result<(), String> {
    let d = &p["device"];
    let pk = b64url_decode(d["publicKey"].as_str().ok_or("no publicKey")?);
    let pk: [u8; 32] = pk.try_into().map_err(|_| "public key is not 32 bytes")?;
    let id: String = sha2::Sha256::digest(pk).iter().map(|b| format!("{b:02x}")).collect();
    if d["id"] != id.as_str() {
        return Err(format!("device.id {} is not sha256(publicKey) {id}", d["id"]));
    }
    if d["nonce"] != nonce || d["signedAt"] != ts {
        return Err("nonce/signedAt do not echo the challenge".into());
    }
    let scopes: Vec<&str> = p["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    let c = &p["client"];
    let v3 = format!(
        "v3|{id}|{}|{}|{}|{}|{ts}|{token}|{nonce}|{}|",
        c["id"].as_str().unwrap(),
        c["mode"].as_str().unwrap(),
        p["role"].as_str().unwrap(),
        scopes.join(","),
        c["platform"].as_str().unwrap().to_lowercase()
    );
    let sig: [u8; 64] =
        b64url_decode(d["signature"].as_str().ok_or("no signature")?).try_into().map_err(|_| "bad signature length")?;
    VerifyingKey::from_bytes(&pk)
        .map_err(|e| e.to_string())?
        .verify(v3.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|e| format!("signature does not verify over {v3:?}: {e}"))
}

/// How one connection of the fake behaves after the handshake.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers every request, sends ticks.
    Normal,
    /// Refuses the connect: pairing required.
    Pairing,
    /// Answers, then drops the TCP connection after this many ms.
    DropAfter(u64),
    /// hello-ok with a 400 ms tick interval, then total silence.
    Silent,
    /// Swallows requests (never answers), drops after this many ms.
    Swallow(u64),
    /// Sends garbage text frames and a binary frame, then behaves normally.
    Garbage,
    /// After hello, writes a broken WebSocket frame (reserved opcode) on the raw socket.
    BrokenFrame,
}

struct Fake {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

/// Starts the fake; connection i uses `modes[i]` (the last one repeats).
fn fake(modes: Vec<Mode>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mode = *modes.get(i).unwrap_or(modes.last().unwrap());
            let seen = s2.clone();
            std::thread::spawn(move || serve_conn(stream, mode, seen));
        }
    });
    Fake { port, seen }
}

fn send(ws: &mut WebSocket<TcpStream>, v: Value) -> bool {
    ws.send(Message::text(v.to_string())).is_ok()
}

// tungstenite's header callback returns an http::Response as its error type.
#[allow(clippy::result_large_err)]
fn serve_conn(stream: TcpStream, mode: Mode, seen: Arc<Mutex<Seen>>) {
    let origin = Arc::new(Mutex::new(None));
    let o2 = origin.clone();
    let cb = move |req: &Request, resp: Response| {
        *o2.lock().unwrap() = req.headers().get("origin").map(|v| v.to_str().unwrap_or("?").to_string());
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, cb) else { return };
    seen.lock().unwrap().origins.push(origin.lock().unwrap().clone());
    let nonce = format!("nonce-{}", std::process::id());
    let ts = 1_795_554_383_730i64;
    send(&mut ws, json!({"type":"event","event":"connect.challenge","payload":{"nonce": nonce, "ts": ts}}));
    let connect: Value = loop {
        match ws.read() {
            Ok(Message::Text(t)) => break serde_json::from_str(t.as_str()).unwrap(),
            Ok(_) => continue,
            Err(_) => return,
        }
    };
    let params = connect["params"].clone();
    let verified = verify_device(&params, &nonce, ts, params["auth"]["token"].as_str().unwrap_or(""));
    {
        let mut s = seen.lock().unwrap();
        s.connects.push(connect.clone());
        s.verified.push(verified.clone());
    }
    let id = connect["id"].clone();
    if mode == Mode::Pairing || verified.is_err() {
        send(
            &mut ws,
            json!({"type":"res","id":id,"ok":false,"error":{"code":"NOT_PAIRED",
            "message":"pairing required: device is not approved yet",
            "details":{"code":"PAIRING_REQUIRED","reason":"not-paired","requestId":"req-42"}}}),
        );
        let _ = ws.close(None);
        let _ = ws.flush();
        return;
    }
    let tick = if mode == Mode::Silent { 400 } else { 30_000 };
    send(
        &mut ws,
        json!({"type":"res","id":id,"ok":true,"payload":{"type":"hello-ok","protocol":4,
        "server":{"version":"9.9.9-fake","connId":"c1"},
        "features":{"methods":["health","cron.list","cron.status","cron.runs","cron.run","cron.update","cron.add","cron.remove","cron.get","sessions.list","sessions.subscribe","usage.status"],
                    "events":["agent","cron","tick"]},
        "snapshot":{}, "auth":{"role":"operator","scopes":params["scopes"]},
        "policy":{"tickIntervalMs": tick}}}),
    );
    if mode == Mode::Silent {
        // Reads (so TCP stays open) but never writes again.
        let _ = ws.get_mut().set_read_timeout(Some(Duration::from_secs(20)));
        while ws.read().is_ok() {}
        return;
    }
    if mode == Mode::BrokenFrame {
        std::thread::sleep(Duration::from_millis(300));
        // FIN + reserved opcode 0x3: a protocol error for any WebSocket reader.
        let _ = ws.get_mut().write_all(&[0x83, 0x00]);
        std::thread::sleep(Duration::from_millis(500));
        return;
    }
    if mode == Mode::Garbage {
        send(&mut ws, json!({"no": "type"}));
        let _ = ws.send(Message::text("this is not json"));
        let _ = ws.send(Message::binary(vec![1u8, 2, 3]));
    }
    let started = Instant::now();
    let _ = ws.get_mut().set_read_timeout(Some(Duration::from_millis(50)));
    loop {
        match mode {
            Mode::DropAfter(ms) | Mode::Swallow(ms) if started.elapsed() > Duration::from_millis(ms) => {
                let _ = ws.get_mut().shutdown(std::net::Shutdown::Both);
                return;
            }
            _ => {}
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                let req: Value = serde_json::from_str(t.as_str()).unwrap();
                let method = req["method"].as_str().unwrap_or("").to_string();
                seen.lock().unwrap().requests.push((method.clone(), req["params"].clone()));
                if matches!(mode, Mode::Swallow(_)) {
                    continue;
                }
                let payload = answer(&method, &req["params"]);
                send(&mut ws, json!({"type":"res","id":req["id"],"ok":true,"payload":payload}));
                if method == "cron.run" {
                    send(
                        &mut ws,
                        json!({"type":"event","event":"cron","payload":{"jobId":"job-1","action":"started"},"seq":7}),
                    );
                }
            }
            Ok(Message::Close(_)) => return,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn answer(method: &str, params: &Value) -> Value {
    let job = json!({"id":"job-1","name":"nightly","enabled":true,"agentId":"main",
        "schedule":{"kind":"cron","expr":"0 3 * * *","tz":"UTC"},"sessionTarget":"isolated","wakeMode":"now",
        "payload":{"kind":"agentTurn","message":"report"},
        "state":{"nextRunAtMs": 1_900_000_000_000i64, "lastRunAtMs": 1_800_000_000_000i64, "lastRunStatus":"error",
                 "lastError":"model quota exceeded","consecutiveErrors":2}});
    match method {
        "sessions.subscribe" => json!({"subscribed": true, "list": {"sessions": [
            {"key":"agent:main:main","sessionId":"bdfa3cc5-508a-4896-9c98-ae502491d01e","hasActiveRun":true},
            {"key":"agent:ops:main","status":"done"}]}}),
        "cron.list" => json!({"jobs":[job],"total":1,"hasMore":false}),
        // Two quota windows of one provider, as OpenClaw's usage.status gives them; a provider
        // without windows (an API key, no plan) is listed too and must not show.
        "usage.status" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
            json!({"updatedAt": now, "providers": [
                {"provider": "anthropic", "displayName": "Claude", "plan": "Max", "windows": [
                    {"label": "5h", "usedPercent": 37.5, "resetAt": now + 2 * 3_600_000},
                    {"label": "Week", "usedPercent": 91, "resetAt": now + 3 * 86_400_000}]},
                {"provider": "openrouter", "displayName": "OpenRouter", "windows": []}]})
        }
        "cron.status" => json!({"enabled":true,"storage":"sqlite","jobs":1}),
        "cron.runs" => {
            json!({"entries":[{"ts":1_800_000_100_000i64,"jobId":"job-1","action":"finished","status":"error",
            "error":"model quota exceeded","runAtMs":1_800_000_000_000i64,"durationMs":100_000,
            "usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}],"total":1,"hasMore":false})
        }
        "cron.run" => {
            json!({"ok":true,"enqueued":true,"runId":format!("manual:{}:1", params["id"].as_str().unwrap_or(""))})
        }
        "cron.get" => job,
        "cron.update" => {
            let mut j = job;
            if let Some(e) = params.pointer("/patch/enabled") {
                j["enabled"] = e.clone();
            }
            j
        }
        "cron.add" => {
            let mut j = params.clone();
            j["id"] = "job-2".into();
            j
        }
        "cron.remove" => json!({"ok":true,"removed":true}),
        _ => json!({}),
    }
}

// ---- clawmetry -------------------------------------------------------------------------------

/// Any method, optional raw body: (status, JSON body, elapsed).
fn request(s: &Server, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value, Duration) {
    let t0 = Instant::now();
    let (status, v) = s.call_bytes(method, path, body);
    (status, v, t0.elapsed())
}

fn gateway_args(port: u16, data: &std::path::Path, state: &std::path::Path) -> Vec<String> {
    vec![
        "--gateway-url".into(),
        format!("ws://127.0.0.1:{port}"),
        "--gateway-token".into(),
        TOKEN.into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--openclaw-dir".into(),
        state.display().to_string(),
    ]
}

fn wait_state(s: &Server, want: &str, within: Duration) -> Value {
    s.wait_for(within, |s| {
        let g = s.get("/api/gateway");
        (g["state"] == want).then_some(g)
    })
    .0
}

// ---- tests -----------------------------------------------------------------------------------

#[test]
fn handshake_rpc_live_sessions_and_cron_round_trips() {
    let fk = fake(vec![Mode::Normal]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let data = tmp.path().join("data");
    let args = gateway_args(fk.port, &data, &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let g = wait_state(&s, "connected", Duration::from_secs(10));

    // The handshake the fake checked.
    {
        let seen = fk.seen.lock().unwrap();
        assert_eq!(seen.connects.len(), 1);
        seen.verified[0].as_ref().expect("device signature verifies");
        assert_eq!(seen.origins[0], None, "no Origin header: loopback pairing stays silent");
        let p = &seen.connects[0]["params"];
        assert_eq!(seen.connects[0]["method"], "connect");
        assert_eq!((p["minProtocol"].as_u64(), p["maxProtocol"].as_u64()), (Some(3), Some(4)));
        assert_eq!(p["role"], "operator");
        assert_eq!(p["auth"]["token"], TOKEN);
        assert!(p["scopes"].as_array().unwrap().contains(&json!("operator.admin")));
        assert_eq!(g["deviceId"], p["device"]["id"]);
    }
    assert_eq!(g["protocol"], 4);
    assert_eq!(g["serverVersion"], "9.9.9-fake");
    assert!(g["methods"].as_array().unwrap().contains(&json!("cron.run")));
    // The device key: in the data dir, private.
    use std::os::unix::fs::PermissionsExt;
    let key = data.join("gateway-device.json");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&key).unwrap().contains(g["deviceId"].as_str().unwrap()));

    // Live sessions: the gateway says agent:main:main runs; the index knows that session.
    let (live, _) = s.wait_for(Duration::from_secs(5), |s| {
        let v = s.get("/api/sessions?limit=100");
        let main = v["sessions"].as_array()?.iter().find(|x| x["key"] == "agent:main:main")?.clone();
        (main["live"] == true).then_some(v)
    });
    let ops = live["sessions"].as_array().unwrap().iter().find(|x| x["key"] == "agent:ops:main").unwrap();
    assert_eq!(ops["live"], false);

    // Crons through the gateway.
    let c = s.get("/api/crons");
    assert_eq!(c["source"], "gateway");
    assert_eq!(c["readOnly"], false);
    let j = &c["jobs"][0];
    assert_eq!(j["name"], "nightly");
    assert_eq!(j["status"], "error");
    assert_eq!(j["consecutiveErrors"], 2);
    assert_eq!(j["scheduleText"], "cron 0 3 * * * (UTC)");
    assert_eq!(j["runs"][0]["usage"]["total"], 12);

    let (st, v, took) = request(&s, "POST", "/api/crons/job-1/run", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["runId"], "manual:job-1:1");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let (st, v, _) = request(&s, "POST", "/api/crons/job-1/toggle", None);
    assert_eq!((st, &v["job"]["enabled"]), (200, &json!(false)), "toggle flips the current state: {v}");
    let (st, v, _) = request(&s, "POST", "/api/crons", Some(br#"{"name":"n2","schedule":{"kind":"every","everyMs":3600000},"payload":{"kind":"agentTurn","message":"hi"}}"#));
    assert_eq!((st, &v["job"]["id"]), (201, &json!("job-2")), "{v}");
    let (st, v, _) =
        request(&s, "POST", "/api/crons", Some(br#"{"name":"n2","schedule":{"kind":"every","everyMs":5}}"#));
    assert_eq!(st, 400, "{v}");
    let (st, _, _) = request(&s, "PUT", "/api/crons/job-1", Some(br#"{"name":"renamed"}"#));
    assert_eq!(st, 200);
    let (st, _, _) = request(&s, "DELETE", "/api/crons/job-1", None);
    assert_eq!(st, 200);
    let (st, v, _) = request(&s, "POST", "/api/crons", Some(b"{not json"));
    assert_eq!(st, 400, "{v}");

    let seen = fk.seen.lock().unwrap();
    let methods: Vec<&str> = seen.requests.iter().map(|(m, _)| m.as_str()).collect();
    for m in [
        "sessions.subscribe",
        "cron.list",
        "cron.runs",
        "cron.run",
        "cron.get",
        "cron.update",
        "cron.add",
        "cron.remove",
    ] {
        assert!(methods.contains(&m), "{m} not sent: {methods:?}");
    }
    let run = seen.requests.iter().find(|(m, _)| m == "cron.run").unwrap();
    assert_eq!(run.1, json!({"id": "job-1", "mode": "force"}));
    let upd = seen.requests.iter().find(|(m, p)| m == "cron.update" && p["patch"].get("enabled").is_some()).unwrap();
    assert_eq!(upd.1["patch"]["enabled"], false);
    // The rejected create never reached the gateway.
    assert_eq!(seen.requests.iter().filter(|(m, _)| m == "cron.add").count(), 1);
}

#[test]
fn reconnects_after_a_drop_and_fails_pending_calls_at_once() {
    // 1st connection: swallows requests and drops after 1.5 s; 2nd: drops after 300 ms; then normal.
    let fk = fake(vec![Mode::Swallow(3000), Mode::DropAfter(300), Mode::Normal]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_state(&s, "connected", Duration::from_secs(10));
    // A call the gateway never answers ends when the connection does, not after its 30 s timeout.
    let (st, v, took) = request(&s, "POST", "/api/crons/job-1/run", None);
    assert_eq!(st, 503, "{v}");
    // It was sent and pending (not refused up front), then failed with the connection.
    let err = v["error"].as_str().unwrap();
    assert!(err.starts_with("cannot run the job") && err.contains("connection lost"), "{err}");
    assert!(fk.seen.lock().unwrap().requests.iter().any(|(m, _)| m == "cron.run"));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let (g, _) = s.wait_for(Duration::from_secs(20), |s| {
        let g = s.get("/api/gateway");
        (g["connects"].as_u64() >= Some(3) && g["state"] == "connected").then_some(g)
    });
    assert!(g["attempts"].as_u64().unwrap() >= 3);
    assert_eq!(
        fk.seen.lock().unwrap().verified.iter().filter(|v| v.is_ok()).count() as u64,
        g["connects"].as_u64().unwrap()
    );
    // Same device key on every connection.
    let seen = fk.seen.lock().unwrap();
    let ids: Vec<&Value> = seen.connects.iter().map(|c| &c["params"]["device"]["id"]).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[test]
fn silent_gateway_is_dropped_after_two_tick_intervals() {
    let fk = fake(vec![Mode::Silent, Mode::Normal]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (g, _) = s.wait_for(Duration::from_secs(15), |s| {
        let g = s.get("/api/gateway");
        (g["connects"].as_u64() >= Some(2)).then_some(g)
    });
    let err = g["lastError"].as_str().unwrap_or("");
    assert!(err.contains("no tick"), "{g}");
}

#[test]
fn unanswered_reads_time_out_and_fall_back_to_disk() {
    let fk = fake(vec![Mode::Swallow(60_000)]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_state(&s, "connected", Duration::from_secs(10));
    let (st, v, took) = request(&s, "GET", "/api/crons", None);
    assert_eq!(st, 200, "{v}");
    assert!(took >= Duration::from_secs(9) && took < Duration::from_secs(25), "{took:?}");
    assert_eq!(v["source"], "state-db");
    assert_eq!(v["readOnly"], true);
    assert!(v["gatewayError"].as_str().unwrap().contains("did not answer"), "{v}");
    assert_eq!(v["total"], 5);
}

#[test]
fn bad_frames_are_counted_and_broken_framing_reconnects() {
    let fk = fake(vec![Mode::Garbage, Mode::BrokenFrame, Mode::Normal]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let g = wait_state(&s, "connected", Duration::from_secs(10));
    // Still connected despite the garbage, and RPC still works.
    let (g2, _) = s.wait_for(Duration::from_secs(5), |s| {
        let g = s.get("/api/gateway");
        (g["badFrames"].as_u64() >= Some(2)).then_some(g)
    });
    assert_eq!(g2["connects"], g["connects"]);
    assert_eq!(s.get("/api/crons")["source"], "gateway");
    // The fake's next connection is the broken frame: a fresh clawmetry gets it first.
    drop(s);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (g, _) = s.wait_for(Duration::from_secs(15), |s| {
        let g = s.get("/api/gateway");
        (g["connects"].as_u64() >= Some(2) && g["state"] == "connected").then_some(g)
    });
    assert!(g["connects"].as_u64().unwrap() >= 2);
    assert!(s.stderr().contains("connection lost"), "{}", s.stderr());
}

#[test]
fn a_pairing_refusal_shows_the_approve_command() {
    let fk = fake(vec![Mode::Pairing]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let g = wait_state(&s, "pairing-required", Duration::from_secs(10));
    assert_eq!(g["pairing"]["command"], "openclaw devices approve req-42");
    assert!(g["lastError"].as_str().unwrap().contains("openclaw devices approve req-42"), "{g}");
    let (st, v, _) = request(&s, "POST", "/api/crons/x/run", None);
    assert_eq!(st, 503);
    assert!(v["error"].as_str().unwrap().contains("pairing"), "{v}");
    // The fake verified the signature before refusing: the refusal is about pairing only.
    assert!(fk.seen.lock().unwrap().verified[0].is_ok());
}

#[test]
fn without_a_gateway_crons_are_read_only_and_mutations_answer_503_fast() {
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let g = wait_state(&s, "disconnected", Duration::from_secs(10));
    assert!(g["lastError"].as_str().unwrap().contains("cannot connect"), "{g}");
    let c = s.get("/api/crons");
    assert_eq!(c["source"], "state-db");
    assert_eq!(c["readOnly"], true);
    assert_eq!(c["total"], 5);
    let lab = c["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "lab-cron").unwrap();
    assert_eq!(lab["lastStatus"], "ok");
    assert_eq!(lab["runs"].as_array().unwrap().len(), 1);
    let id = lab["id"].as_str().unwrap();
    let h = s.get(&format!("/api/crons/{id}/runs"));
    assert_eq!((h["source"].as_str(), h["total"].as_u64()), (Some("state-db"), Some(1)));
    for (m, path, body) in [
        ("POST", format!("/api/crons/{id}/run"), None),
        ("POST", format!("/api/crons/{id}/toggle"), None),
        ("PUT", format!("/api/crons/{id}"), Some(&br#"{"name":"x"}"#[..])),
        ("DELETE", format!("/api/crons/{id}"), None),
        ("POST", "/api/crons".to_string(), Some(&br#"{"name":"x"}"#[..])),
    ] {
        let (st, v, took) = request(&s, m, &path, body);
        assert_eq!(st, 503, "{m} {path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("not connected"), "{v}");
        assert!(took < Duration::from_secs(2), "{m} {path} took {took:?}");
    }
    // Sessions say "unknown" rather than "not live".
    let v = s.get("/api/sessions?limit=5");
    assert!(v["sessions"].as_array().unwrap().iter().all(|x| x["live"].is_null()));
    // Oversized bodies are refused.
    let big = vec![b' '; (1 << 20) + 10];
    let (st, _, _) = request(&s, "POST", "/api/crons", Some(&big));
    assert_eq!(st, 413);
}

#[test]
fn legacy_cron_files_are_read_when_there_is_no_state_db() {
    let (_tmp, state) = install_fixture("legacy-2026.3");
    let s = start(&["--openclaw-dir", state.to_str().unwrap()]);
    let c = s.get("/api/crons");
    assert_eq!(c["source"], "files");
    assert_eq!(c["gateway"]["state"], "disabled");
    assert_eq!(c["jobs"][0]["name"], "auto-dream");
    assert_eq!(c["jobs"][0]["runs"].as_array().unwrap().len(), 3);
    assert_eq!(s.get("/api/gateway")["enabled"], false);
    let (st, v, _) = request(&s, "POST", "/api/crons/b9110520-e052-4b6e-a8cf-3112bb46e172/run", None);
    assert_eq!(st, 503);
    assert!(v["error"].as_str().unwrap().contains("--no-gateway"), "{v}");
}

#[test]
fn provider_quotas_from_usage_status_and_none_without_a_gateway() {
    let fk = fake(vec![Mode::Normal]);
    let (tmp, state) = install_fixture("lab-2026.9");
    let args = gateway_args(fk.port, &tmp.path().join("data"), &state);
    let s = start_with_gateway(&args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_state(&s, "connected", Duration::from_secs(10));
    let q = s.get("/api/quotas");
    assert_eq!(q["available"], true, "{q}");
    let p = q["providers"].as_array().unwrap();
    assert_eq!(p.len(), 1, "the provider without windows is left out: {q}");
    assert_eq!((p[0]["displayName"].as_str(), p[0]["plan"].as_str()), (Some("Claude"), Some("Max")));
    let w = p[0]["windows"].as_array().unwrap();
    assert_eq!((w[0]["label"].as_str(), w[0]["usedPercent"].as_f64()), (Some("5h"), Some(37.5)));
    let reset = w[0]["resetInMs"].as_i64().unwrap();
    assert!((2 * 3_600_000 - 60_000..=2 * 3_600_000 + 60_000).contains(&reset), "{reset}");
    assert_eq!(w[1]["usedPercent"], 91.0);
    // Asked once: the second look is the cached answer.
    s.get("/api/quotas");
    let asked = fk.seen.lock().unwrap().requests.iter().filter(|(m, _)| m == "usage.status").count();
    assert_eq!(asked, 1);
    let (_, _, metrics) = s.get_raw("/metrics").unwrap();
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("clawmetry_provider_quota_used_percent{provider=\"anthropic\",window=\"Week\"} 91"),
        "{metrics}"
    );

    // The overview's cards.
    let chrome = crate::browser::Chrome::launch();
    let page = chrome.page();
    page.goto(&s.url("/#/"));
    page.wait_rendered(0, "overview");
    assert_eq!(page.count("#quotas .quota"), 1);
    assert_eq!(page.count("#quotas .quota-w"), 2);
    let text = page.text("#quotas");
    assert!(
        text.contains("Claude") && text.contains("Max") && text.contains("38 %") && text.contains("91 %"),
        "{text}"
    );
    assert!(text.contains("resets in 1 h") || text.contains("resets in 2 h"), "{text}");
    assert_eq!(page.count("#quotas .quota-bar > span.bad"), 1, "91 % is drawn as nearly used up");
    page.assert_no_errors("quota cards");
    drop(s);

    // No gateway: nothing to show, and no error.
    let s = start(&["--openclaw-dir", state.to_str().unwrap()]);
    let q = s.get("/api/quotas");
    assert_eq!(q["available"], false);
    assert!(q["reason"].as_str().is_some(), "{q}");
    assert_eq!(q["providers"], json!([]));
    page.goto(&s.url("/#/"));
    page.wait_rendered(0, "overview");
    assert_eq!(page.count("#quotas"), 0);
    page.assert_no_errors("overview without a gateway");
}
