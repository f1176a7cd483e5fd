//! Alerts: `GET /api/alerts` (the alert log, newest first, with each channel's delivery),
//! `GET/POST /api/alerts/rules`, `PUT/DELETE /api/alerts/rules/<id>`, `GET/PUT
//! /api/alerts/channels` (secrets are never returned: `botTokenSet`, `secretSet`,
//! `passwordSet` say whether one is stored) and `POST /api/alerts/test` (sends a test message
//! now and reports each channel's outcome). Changes are allowed from this machine only.
//! The alert log is served redacted (`redact.rs`).

use super::auth::authorize_mutation;
use super::{body_json, Empty};
use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::alerts::{Delivery, RULE_KINDS};
use serde_json::{json, Value};

pub fn list(req: &Req, ctx: &Ctx) -> Answer {
    let mon = &ctx.monitor;
    let limit = req.q_num("limit", 100, 1, 1000)?;
    let offset = req.q_num("offset", 0, 0, i64::MAX / 2)?;
    let (total, rows) = mon
        .history
        .alerts(limit, offset, req.q("kind"), req.q("severity"))
        .map_err(|e| ApiError::new(500, format!("reading history.db: {e}")))?;
    let alerts: Vec<Value> = rows
        .into_iter()
        .map(|a| {
            let mut v = json!({"id": a.id, "ts": a.ts, "kind": a.kind, "severity": a.severity, "ruleId": a.rule_id,
                "title": a.title, "message": a.message, "data": a.data, "status": a.status, "deliveries": a.deliveries,
                "ackedMs": a.acked_ms, "resolvedMs": a.resolved_ms});
            // Alert texts quote labels, cron errors and channel replies.
            crate::redact::value(&mut v);
            v
        })
        .collect();
    let unread = mon.history.unread_alerts().map_err(|e| ApiError::new(500, format!("reading history.db: {e}")))?;
    Ok(Resp::json(&json!({"nowMs": ctx.index.now_ms(), "total": total, "unread": unread, "limit": limit,
        "offset": offset, "alerts": alerts, "channelsEnabled": mon.config().channels.enabled()})))
}

/// `POST /api/alerts/ack {"ids": [..]}` or `{"all": true}`: marks alerts read in the app (the
/// unread count on the Alerts tab); answers how many became read and how many are left.
pub fn ack(req: &Req, ctx: &Ctx) -> Answer {
    super::auth::authorize_mutation(req, ctx)?;
    let body = super::body_json(req, super::Empty::Refused)?;
    let ids: Option<Vec<i64>> = match (body.get("ids"), body.get("all")) {
        (Some(Value::Array(a)), _) if a.len() <= 1000 => Some(
            a.iter()
                .map(|v| v.as_i64().ok_or_else(|| ApiError::bad_request("ids: a list of alert ids (numbers)")))
                .collect::<Result<_, _>>()?,
        ),
        (None, Some(Value::Bool(true))) => None,
        _ => return Err(ApiError::bad_request("send {\"ids\": [alert ids]} (at most 1000) or {\"all\": true}")),
    };
    let h = &ctx.monitor.history;
    let n = h
        .ack_alerts(ids.as_deref(), ctx.index.now_ms())
        .map_err(|e| ApiError::new(500, format!("writing history.db: {e}")))?;
    let unread = h.unread_alerts().map_err(|e| ApiError::new(500, format!("reading history.db: {e}")))?;
    ctx.index.hub.publish("alerts-read", json!({"unread": unread}));
    Ok(Resp::json(&json!({"acked": n, "unread": unread})))
}

pub fn rules(_req: &Req, ctx: &Ctx) -> Answer {
    let rules: Vec<Value> = ctx.monitor.config().rules.iter().map(|r| r.to_json()).collect();
    Ok(Resp::json(&json!({"rules": rules, "kinds": RULE_KINDS})))
}

pub fn add_rule(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let r = ctx.monitor.add_rule(&body_json(req, Empty::Refused)?, ctx.index.now_ms())?;
    let mut resp = Resp::json(&r.to_json());
    resp.status = 201;
    Ok(resp)
}

fn rule_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::new(404, format!("alert rule {id:?} not found (ids are numbers)")))
}

pub fn update_rule(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    authorize_mutation(req, ctx)?;
    let r = ctx.monitor.update_rule(rule_id(id)?, &body_json(req, Empty::Refused)?, ctx.index.now_ms())?;
    Ok(Resp::json(&r.to_json()))
}

pub fn delete_rule(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    authorize_mutation(req, ctx)?;
    let id = rule_id(id)?;
    ctx.monitor.delete_rule(id)?;
    Ok(Resp::json(&json!({"deleted": id})))
}

pub fn channels(_req: &Req, ctx: &Ctx) -> Answer {
    let m = &ctx.monitor;
    Ok(Resp::json(
        &json!({"channels": m.config().channels.public_json(), "telegramApiBase": m.settings.send.telegram_api_base}),
    ))
}

pub fn put_channels(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let c = ctx.monitor.set_channels(&body_json(req, Empty::Refused)?, ctx.index.now_ms())?;
    Ok(Resp::json(&json!({"channels": c.public_json()})))
}

/// `POST /api/alerts/test[?channel=webhook]`: 200 when every channel took the message, 502
/// (with each channel's outcome) when one did not.
pub fn test(req: &Req, ctx: &Ctx) -> Answer {
    authorize_mutation(req, ctx)?;
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let only = req.q("channel").map(str::to_string).or_else(|| body["channel"].as_str().map(str::to_string));
    let results = ctx.monitor.send_test(only.as_deref(), ctx.index.now_ms())?;
    let failed: Vec<String> = results
        .iter()
        .filter(|d| !d.ok)
        .map(|d| format!("{}: {}", d.channel, d.error.as_deref().unwrap_or("failed")))
        .collect();
    let list: Vec<Value> = results.iter().map(Delivery::json).collect();
    let mut v = json!({"ok": failed.is_empty(), "results": list});
    if !failed.is_empty() {
        v["error"] = json!(format!("the test message did not go through: {}", failed.join("; ")));
    }
    // A channel's error can quote its request (a Telegram URL carries the bot token).
    crate::redact::value(&mut v);
    let mut r = Resp::json(&v);
    if !failed.is_empty() {
        r.status = 502;
    }
    Ok(r)
}
