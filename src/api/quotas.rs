//! `GET /api/quotas`: the provider plans and quota windows OpenClaw reports through its
//! `usage.status` RPC (Anthropic, Codex, Copilot, Gemini CLI… when signed in with a plan): per
//! provider its plan and windows (`label`, `usedPercent`, `resetAtMs`, `resetInMs`), asked at
//! most once a minute. When the gateway is not connected, does not offer the method, or no
//! provider reports a window, the answer is `{"available": false, "providers": []}` with the
//! reason, never an error: the overview then shows nothing.

use super::{Answer, Ctx, Req, Resp};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer of the gateway is reused.
const FRESH: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(5);

/// The last answer of the gateway and when it came.
static LAST: Mutex<Option<(Instant, Value)>> = Mutex::new(None);

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    Ok(Resp::json(&quotas(ctx)))
}

/// The quotas as `/api/quotas` answers them (also read by `/metrics`).
pub fn quotas(ctx: &Ctx) -> Value {
    let now = ctx.index.now_ms();
    let none = |reason: String| json!({"available": false, "reason": reason, "providers": [], "nowMs": now});
    if !ctx.gateway.connected() {
        return none(ctx.gateway.unavailable_reason());
    }
    if !ctx.gateway.offers("usage.status") {
        return none("this OpenClaw gateway does not offer usage.status".into());
    }
    let cached = crate::sync::lock(&LAST).as_ref().filter(|(t, _)| t.elapsed() < FRESH).map(|(_, v)| v.clone());
    let status = match cached {
        Some(v) => v,
        None => match ctx.gateway.call("usage.status", json!({}), TIMEOUT) {
            Ok(v) => {
                *crate::sync::lock(&LAST) = Some((Instant::now(), v.clone()));
                v
            }
            Err(e) => return none(e.to_string()),
        },
    };
    let mut v = shape(&status, now);
    crate::redact::value(&mut v);
    v
}

/// The gateway's `{updatedAt, providers[{provider, displayName, plan?, windows[{label,
/// usedPercent, resetAt?}], error?}]}` as the page shows it: providers with at least one window
/// or a plan, each window's time to its reset from `now` (epoch ms; `resetAt` may be seconds,
/// milliseconds or an ISO time).
pub fn shape(status: &Value, now: i64) -> Value {
    let providers: Vec<Value> = status["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let windows: Vec<Value> = p["windows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|w| {
                    let used = w["usedPercent"].as_f64()?;
                    let reset = epoch_ms(&w["resetAt"]);
                    Some(json!({
                        "label": w["label"].as_str().unwrap_or("window"),
                        "usedPercent": used.clamp(0.0, 100.0),
                        "resetAtMs": reset,
                        "resetInMs": reset.map(|r| (r - now).max(0)),
                    }))
                })
                .collect();
            let plan = p["plan"].as_str().filter(|s| !s.is_empty());
            if windows.is_empty() && plan.is_none() {
                return None;
            }
            let name = p["displayName"].as_str().or(p["provider"].as_str()).unwrap_or("provider");
            Some(json!({
                "provider": p["provider"], "displayName": name, "plan": plan, "windows": windows,
                "error": p["error"].as_str(),
            }))
        })
        .collect();
    json!({
        "available": !providers.is_empty(),
        "reason": if providers.is_empty() { Some("no provider reports a plan or quota window") } else { None },
        "updatedAtMs": epoch_ms(&status["updatedAt"]),
        "providers": providers,
        "nowMs": now,
    })
}

/// A time as epoch milliseconds: a number under 1e11 is seconds, else milliseconds; a string
/// is an ISO time.
fn epoch_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            n.as_f64().filter(|x| x.is_finite() && *x > 0.0).map(
                |x| {
                    if x < 1e11 {
                        (x * 1000.0) as i64
                    } else {
                        x as i64
                    }
                },
            )
        }
        Value::String(s) => crate::timefmt::parse_iso_ms(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_with_their_reset_and_providers_without_any_left_out() {
        let now = 1_800_000_000_000;
        let status = json!({"updatedAt": now - 5_000, "providers": [
            {"provider": "anthropic", "displayName": "Claude", "plan": "Max 5x", "windows": [
                {"label": "5h", "usedPercent": 42.5, "resetAt": now + 3_600_000},
                {"label": "Week", "usedPercent": 130, "resetAt": (now + 86_400_000) / 1000},
                {"label": "no figure"}]},
            {"provider": "openai-codex", "windows": [{"label": "Day", "usedPercent": 5, "resetAt": "2027-01-15T07:00:00Z"}]},
            {"provider": "custom", "windows": []},
            {"provider": "gemini", "error": "not signed in"}]});
        let v = shape(&status, now);
        assert_eq!(v["available"], true);
        let p = v["providers"].as_array().unwrap();
        assert_eq!(p.len(), 2, "{v}");
        assert_eq!(p[0]["displayName"], "Claude");
        assert_eq!(p[0]["plan"], "Max 5x");
        assert_eq!(
            p[0]["windows"][0],
            json!({"label": "5h", "usedPercent": 42.5, "resetAtMs": now + 3_600_000, "resetInMs": 3_600_000})
        );
        assert_eq!(p[0]["windows"][1]["usedPercent"], 100.0);
        assert_eq!(p[0]["windows"][1]["resetInMs"], 86_400_000);
        assert_eq!(p[0]["windows"].as_array().unwrap().len(), 2);
        assert_eq!(p[1]["displayName"], "openai-codex");
        // 2027-01-15T08:00:00Z is 1,800,000,000 s: an hour before `now`.
        assert_eq!(p[1]["windows"][0]["resetAtMs"], now - 3_600_000);
        assert_eq!(p[1]["windows"][0]["resetInMs"], 0, "already past: 0, not negative");
        assert_eq!(v["updatedAtMs"], now - 5_000);
        let empty = shape(&json!({"updatedAt": now, "providers": []}), now);
        assert_eq!(empty["available"], false);
        assert!(empty["reason"].as_str().unwrap().contains("no provider"));
    }
}
