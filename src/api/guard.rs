//! `/api/guard`: loop and runaway detection (issue 17) and the controls that act on a run.
//! `GET /api/guard` lists the findings (`session`, `limit`) with the settings and the guard's
//! own figures; `PUT /api/guard` sets the rules' thresholds and auto-stop; `POST
//! /api/guard/stop {"session"}` aborts a session's run through the gateway; `POST
//! /api/guard/pause` and `/resume` suspend and resume the gateway by hand; `GET
//! /api/guard/audit` is the audit log every one of these actions is written to. Changes need
//! the dashboard's token and are refused cross-origin, like every change.

use super::auth::{authorize_mutation, who};
use super::{Answer, ApiError, Ctx, Req, Resp};
use serde_json::{json, Value};

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 500)? as usize;
    let session = req.q("session").filter(|s| !s.is_empty());
    // A key names the session too.
    let id = session.map(|s| ctx.index.read().session(s).map(|x| x.id.to_string()).unwrap_or_else(|| s.to_string()));
    let mon = &ctx.monitor;
    let mut v = mon.guard_json(id.as_deref(), limit);
    v["nowMs"] = json!(ctx.index.now_ms());
    v["settings"] = mon.guard_settings().to_json();
    v["pause"] = mon.manual_pause_json();
    v["abortMethod"] = json!(abort_method(ctx));
    // The evidence quotes tool arguments (redacted when their activity row was made) and the
    // gateway's answers: redacted once more as a whole, like every answer that quotes them.
    crate::redact::value(&mut v);
    Ok(Resp::json(&v))
}

/// The gateway method a stop would use, as its `hello-ok` lists them.
fn abort_method(ctx: &Ctx) -> Option<&'static str> {
    let methods = ctx.gateway.status_json()["methods"].clone();
    let has = |m: &str| methods.as_array().is_some_and(|a| a.iter().any(|x| x == m));
    if has("sessions.abort") {
        Some("sessions.abort")
    } else if has("chat.abort") {
        Some("chat.abort")
    } else {
        None
    }
}

pub fn put(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let v = super::body_json(req, super::Empty::Refused)?;
    let g = ctx.monitor.set_guard(&v, ctx.index.now_ms())?;
    Ok(Resp::json(&json!({"settings": g.to_json()})))
}

pub fn stop(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let v = super::body_json(req, super::Empty::Refused)?;
    let Some(session) = v.get("session").and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Err(ApiError::bad_request("session (a session id or key) is required"));
    };
    let finding = match v.get("findingId") {
        None | Some(Value::Null) => None,
        Some(f) => Some(f.as_u64().ok_or_else(|| ApiError::bad_request("findingId must be a whole number"))?),
    };
    let r = ctx.monitor.stop_session(session, &who(req, ctx), finding)?;
    Ok(Resp::json(&r))
}

pub fn pause(req: &Req, ctx: &Ctx, pause: bool) -> Answer {
    authorize_mutation(req, ctx)?;
    let r = ctx.monitor.manual_pause(pause, &who(req, ctx))?;
    Ok(Resp::json(&r))
}

pub fn audit(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 100, 1, 500)? as usize;
    let mut v = ctx.monitor.audit.json(limit);
    crate::redact::value(&mut v);
    Ok(Resp::json(&v))
}
