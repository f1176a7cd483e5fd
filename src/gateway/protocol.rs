//! The wire: frames (responses, events), refusals explained for the user, reconnect backoff.

use super::*;
use serde_json::{json, Value};
use std::time::Duration;

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

pub(super) fn rpc_error(error: &Value) -> RpcError {
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
