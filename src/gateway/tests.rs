use super::client::*;
use super::identity::*;
use super::live::*;
use super::protocol::*;
use super::*;
use crate::state::LiveSet;

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
        LiveSet { keys: vec!["agent:main:main".into(), "agent:main:x".into()], ids: vec!["s1".into(), "x1".into()] }
    );
    let child = json!({"runId": "r2", "sessionKey": "agent:main:subagent:c", "sessionId": "c1", "stream": "lifecycle", "data": {"phase": "start"}});
    l.apply("agent", &child);
    // The child's end event carries no sessionKey: found by run id.
    let child_end = json!({"runId": "r2", "stream": "lifecycle", "data": {"phase": "end"}});
    assert!(l.apply("agent", &child_end));
    assert!(!l.snapshot().keys.contains(&"agent:main:subagent:c".to_string()));
    // Other streams do not matter.
    assert!(!l.apply("agent", &json!({"runId": "r1", "stream": "assistant", "data": {"delta": "x"}})));
    let end = json!({"runId": "r1", "sessionKey": "agent:main:main", "stream": "lifecycle", "data": {"phase": "end"}});
    l.apply("agent", &end);
    let changed = json!({"sessionKey": "agent:main:x", "reason": "agent.run.finished",
            "session": {"key": "agent:main:x", "status": "done", "sessionId": "x1"}});
    assert!(l.apply("sessions.changed", &changed));
    assert_eq!(l.snapshot(), LiveSet::default());
}

#[test]
fn live_set_is_per_ctx_and_null_until_known() {
    let cfg = crate::cli::Config { openclaw_dir: Some("/nonexistent".into()), ..Default::default() };
    let ctx = || Ctx { index: Index::new(crate::sources::detect::detect(&cfg), None), gateway: Handle::disabled() };
    let (a, b) = (ctx(), ctx());
    assert_eq!(a.index.read().live_flag(Some("k"), "i"), Value::Null);
    let g0 = a.index.generation();
    let set = LiveSet { keys: vec!["a".into(), "k".into()], ids: vec!["z".into()] };
    assert_eq!(set_live(&a, Some(set.clone())), Some(None));
    assert!(a.index.generation() > g0, "cached answers must go stale");
    assert_eq!(set_live(&a, Some(set)), None, "no change, no write");
    assert_eq!(a.index.read().live_flag(Some("k"), "i"), Value::Bool(true));
    assert_eq!(a.index.read().live_flag(None, "z"), Value::Bool(true));
    assert_eq!(a.index.read().live_flag(Some("b"), "i"), Value::Bool(false));
    assert_eq!(a.gateway.status_json()["liveSessions"], json!(["a", "k"]));
    // Another index (another server in the same process) knows nothing of it.
    assert_eq!(b.index.read().live_flag(Some("k"), "i"), Value::Null);
    assert_eq!(b.gateway.status_json()["liveSessions"], Value::Null);
    assert!(set_live(&a, None).is_some());
    assert_eq!(a.index.read().live_flag(Some("k"), "i"), Value::Null);
}
