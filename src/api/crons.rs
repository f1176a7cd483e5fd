//! The cron manager: `GET /api/crons` (jobs, schedule, state, recent runs), `GET
//! /api/crons/<id>/runs`, and the mutations `POST /api/crons` (create), `PUT /api/crons/<id>`
//! (edit), `DELETE /api/crons/<id>`, `POST /api/crons/<id>/run`, `POST /api/crons/<id>/toggle`.
//!
//! Everything goes through the gateway's cron methods when it is connected. When it is not,
//! jobs and history are read from OpenClaw's own store (read-only: `sources/crons.rs`) and
//! mutations answer 503: clawmetry never writes OpenClaw's files, and the gateway is the one
//! that schedules.
//!
//! Every answer goes through [`answer`], which redacts secrets (job names, prompts, run
//! summaries and errors come from OpenClaw). An edit that sends a redacted text back unchanged
//! keeps the job's secret ([`unredact`]).

use super::auth::authorize_mutation;
use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::gateway::RpcError;
use crate::redact;
use crate::sources::crons as store;
use serde_json::{json, Map, Value};
use std::time::Duration;

const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Runs kept per job in the list; the history endpoint pages further.
const HISTORY: usize = 10;
/// Runs read for the list (all jobs).
const RUNS: usize = 200;

/// A 200 answer, secrets redacted.
fn answer(mut v: Value) -> Resp {
    redact::value(&mut v);
    Resp::json(&v)
}

/// A failed gateway call as a refusal: `what` could not be done, and why (the gateway's own
/// error code rides along as `gatewayCode`).
fn gateway_error(e: &RpcError, what: &str) -> ApiError {
    let (status, msg) = match e {
        RpcError::Unavailable(_) => (503, format!("{what}: {e}. Cron jobs are read-only until it is back.")),
        RpcError::Timeout(_) => (504, format!("{what}: {e}")),
        RpcError::Gateway { code, message, details } => {
            let lower = message.to_lowercase();
            let status = match code.as_str() {
                _ if lower.contains("not found") || lower.contains("unknown cron job") => 404,
                "INVALID_REQUEST" | "INVALID_PARAMS" | "BAD_REQUEST" | "VALIDATION_FAILED" => 400,
                "NOT_FOUND" => 404,
                "FORBIDDEN" | "UNAUTHORIZED" => 403,
                "CONFLICT" => 409,
                "UNAVAILABLE" => 503,
                _ => 502,
            };
            let scope = details.get("missingScope").and_then(Value::as_str);
            let hint = match scope {
                Some(s) => format!(" (the gateway did not grant clawmetry the {s} scope)"),
                None => String::new(),
            };
            (status, format!("{what}: {message}{hint}"))
        }
    };
    let err = ApiError::new(status, redact::owned(msg));
    match e {
        RpcError::Gateway { code, .. } => err.with_field("gatewayCode", code.as_str()),
        _ => err,
    }
}

/// Neither the gateway (`e`) nor OpenClaw's store (`disk`) can be read.
fn unreadable(e: &RpcError, disk: &str) -> ApiError {
    ApiError::unavailable(format!("{e}; and the cron store could not be read: {disk}"))
}

fn gateway_summary(ctx: &Ctx) -> Value {
    let g = ctx.gateway.status_json();
    json!({"state": g["state"], "connected": g["connected"], "lastError": g["lastError"], "url": g["url"]})
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// Jobs and recent runs from the gateway: every page of `cron.list`, `cron.status`, `cron.runs`.
fn from_gateway(ctx: &Ctx) -> Result<(Vec<Value>, Vec<Value>, Value), RpcError> {
    let gw = &ctx.gateway;
    let mut jobs = Vec::new();
    let mut offset = 0;
    for _ in 0..25 {
        let page =
            gw.call("cron.list", json!({"includeDisabled": true, "limit": 200, "offset": offset}), READ_TIMEOUT)?;
        let got = page.get("jobs").and_then(Value::as_array).cloned().unwrap_or_default();
        offset += got.len();
        jobs.extend(got);
        let more = page.get("hasMore").and_then(Value::as_bool).unwrap_or(false);
        if !more || offset == 0 {
            break;
        }
    }
    let status = gw.call("cron.status", json!({}), READ_TIMEOUT).unwrap_or(Value::Null);
    let runs = match gw.call("cron.runs", json!({"scope": "all", "limit": RUNS, "sortDir": "desc"}), READ_TIMEOUT) {
        Ok(r) => r.get("entries").and_then(Value::as_array).cloned().unwrap_or_default(),
        Err(RpcError::Gateway { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok((jobs, runs, status))
}

/// Jobs and runs from OpenClaw's store, read-only: (source, store) or why not.
fn from_disk(ctx: &Ctx, max_runs: usize) -> (&'static str, Result<store::Store, String>) {
    let (db, legacy) = {
        let st = ctx.index.read();
        (st.install.state_db.clone(), st.install.cron_jobs_file.clone())
    };
    let mut db_err = None;
    if let Some(db) = &db {
        match store::read_state_db(db, max_runs) {
            Ok(s) if !s.jobs.is_empty() || legacy.is_none() => return ("state-db", Ok(s)),
            Ok(_) => {}
            Err(e) => db_err = Some(e),
        }
    }
    if let Some(f) = &legacy {
        return ("files", store::read_legacy(f, max_runs));
    }
    match db_err {
        Some(e) => ("state-db", Err(e)),
        None => ("none", Ok(store::Store::default())),
    }
}

/// Each job's `health` (`cron_health.rs`): its runs' figures and what they say beyond their
/// status, with each run's session cost and failed tool calls from the index.
pub fn add_health(ctx: &Ctx, jobs: &mut [Value], now: i64) {
    let gateway_up = ctx.gateway.connected();
    let st = ctx.index.read();
    let facts = |r: &Value| st.cron_run_facts(r);
    for j in jobs.iter_mut() {
        j["health"] = crate::cron_health::assess(j, now, gateway_up, &facts);
    }
}

pub fn list(_req: &Req, ctx: &Ctx) -> Answer {
    let now = ctx.index.now_ms();
    let mut out = json!({"nowMs": now, "gateway": gateway_summary(ctx)});
    let (source, jobs, runs, status, gw_err) = match from_gateway(ctx) {
        Ok((jobs, runs, status)) => ("gateway", jobs, runs, status, None),
        Err(e) => {
            let (source, read) = from_disk(ctx, RUNS);
            let s = read.map_err(|disk| unreadable(&e, &disk))?;
            (source, s.jobs, s.runs, Value::Null, Some(e))
        }
    };
    let mut jobs: Vec<Value> = jobs.iter().map(|j| store::job(j, &runs, HISTORY)).collect();
    add_health(ctx, &mut jobs, now);
    out["source"] = source.into();
    out["readOnly"] = (source != "gateway").into();
    if let Some(e) = gw_err {
        out["gatewayError"] = e.to_string().into();
    }
    out["scheduler"] = status;
    out["total"] = jobs.len().into();
    out["jobs"] = jobs.into();
    out["runs"] = runs.iter().take(50).map(store::run).collect::<Vec<_>>().into();
    Ok(answer(out))
}

pub fn runs(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    let limit = req.q_num("limit", 50, 1, 200)? as usize;
    let offset = req.q_num("offset", 0, 0, 100_000)? as usize;
    let params = json!({"id": id, "scope": "job", "limit": limit, "offset": offset, "sortDir": "desc"});
    match ctx.gateway.call("cron.runs", params, READ_TIMEOUT) {
        Ok(p) => {
            let entries = p.get("entries").and_then(Value::as_array).cloned().unwrap_or_default();
            Ok(answer(json!({
                "jobId": id, "source": "gateway", "runs": entries.iter().map(store::run).collect::<Vec<_>>(),
                "total": p.get("total"), "hasMore": p.get("hasMore"), "nowMs": ctx.index.now_ms(),
            })))
        }
        Err(e @ RpcError::Gateway { .. }) => Err(gateway_error(&e, "cannot read the run history")),
        Err(e) => {
            let (source, read) = from_disk(ctx, 10_000);
            let s = read.map_err(|disk| unreadable(&e, &disk))?;
            let all: Vec<&Value> =
                s.runs.iter().filter(|r| r.get("jobId").and_then(Value::as_str) == Some(id)).collect();
            let page: Vec<Value> = all.iter().skip(offset).take(limit).map(|r| store::run(r)).collect();
            Ok(answer(json!({
                "jobId": id, "source": source, "runs": page, "total": all.len(),
                "hasMore": offset + limit < all.len(), "gatewayError": e.to_string(), "nowMs": ctx.index.now_ms(),
            })))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Authorised, and the gateway is there to carry it out.
fn mutation_guard(req: &Req, ctx: &Ctx) -> Result<(), ApiError> {
    authorize_mutation(req, ctx)?;
    if !ctx.gateway.connected() {
        return Err(ApiError::unavailable(format!(
            "cron changes go through the OpenClaw gateway, which is not connected ({}); jobs are read-only until it is",
            ctx.gateway.unavailable_reason()
        ))
        .with_header("Retry-After", "5"));
    }
    Ok(())
}

fn job_answer(ctx: &Ctx, payload: &Value) -> Value {
    // cron.add answers the job itself, or {created, job} for declarative adds.
    let j = payload.get("job").filter(|j| j.is_object()).unwrap_or(payload);
    ctx.index.hub.publish("cron", json!({"action": "changed", "jobId": j.get("id")}));
    json!({"ok": true, "job": store::job(j, &[], 0)})
}

pub fn run_now(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    mutation_guard(req, ctx)?;
    let p = ctx
        .gateway
        .call("cron.run", json!({"id": id, "mode": "force"}), WRITE_TIMEOUT)
        .map_err(|e| gateway_error(&e, "cannot run the job"))?;
    ctx.index.hub.publish("cron", json!({"action": "run-requested", "jobId": id, "runId": p.get("runId")}));
    Ok(answer(json!({"ok": true, "jobId": id, "enqueued": p.get("enqueued"), "runId": p.get("runId"), "result": p})))
}

pub fn toggle(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    mutation_guard(req, ctx)?;
    let body = super::body_json(req, super::Empty::IsObject)?;
    let enabled = match body.get("enabled") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("\"enabled\" must be true or false")),
        None => !current(ctx, id)?.get("enabled").and_then(Value::as_bool).unwrap_or(true),
    };
    let what = if enabled { "cannot enable the job" } else { "cannot disable the job" };
    let p = ctx
        .gateway
        .call("cron.update", json!({"id": id, "patch": {"enabled": enabled}}), WRITE_TIMEOUT)
        .map_err(|e| gateway_error(&e, what))?;
    Ok(answer(job_answer(ctx, &p)))
}

/// The job as the gateway has it now.
fn current(ctx: &Ctx, id: &str) -> Result<Value, ApiError> {
    if ctx.gateway.offers("cron.get") {
        match ctx.gateway.call("cron.get", json!({"id": id}), READ_TIMEOUT) {
            Ok(p) => return Ok(p.get("job").filter(|j| j.is_object()).cloned().unwrap_or(p)),
            Err(e @ RpcError::Gateway { .. }) if !e.to_string().contains("unknown method") => {
                return Err(gateway_error(&e, "cannot read the job"))
            }
            Err(RpcError::Gateway { .. }) => {}
            Err(e) => return Err(gateway_error(&e, "cannot read the job")),
        }
    }
    let (jobs, _, _) = from_gateway(ctx).map_err(|e| gateway_error(&e, "cannot read the job"))?;
    jobs.into_iter()
        .find(|j| j.get("id").and_then(Value::as_str) == Some(id))
        .ok_or_else(|| ApiError::not_found(&format!("cron job {id}")))
}

pub fn create(req: &Req, ctx: &Ctx) -> Answer {
    mutation_guard(req, ctx)?;
    let body = super::body_json(req, super::Empty::IsObject)?;
    let params = validate(&body, true).map_err(ApiError::bad_request)?;
    let p =
        ctx.gateway.call("cron.add", params, WRITE_TIMEOUT).map_err(|e| gateway_error(&e, "cannot create the job"))?;
    let mut r = answer(job_answer(ctx, &p));
    r.status = 201;
    Ok(r)
}

pub fn edit(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    mutation_guard(req, ctx)?;
    let body = super::body_json(req, super::Empty::IsObject)?;
    let mut patch = validate(&body, false).map_err(ApiError::bad_request)?;
    if SHOWN_REDACTED.iter().any(|f| patch.pointer(f).and_then(Value::as_str).is_some_and(|s| s.contains(redact::MARK)))
    {
        let job = current(ctx, id)?;
        unredact(&mut patch, &job).map_err(ApiError::bad_request)?;
    }
    let p = ctx
        .gateway
        .call("cron.update", json!({"id": id, "patch": patch}), WRITE_TIMEOUT)
        .map_err(|e| gateway_error(&e, "cannot change the job"))?;
    Ok(answer(job_answer(ctx, &p)))
}

pub fn remove(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    mutation_guard(req, ctx)?;
    let p = ctx
        .gateway
        .call("cron.remove", json!({"id": id}), WRITE_TIMEOUT)
        .map_err(|e| gateway_error(&e, "cannot delete the job"))?;
    ctx.index.hub.publish("cron", json!({"action": "removed", "jobId": id}));
    Ok(answer(json!({"ok": true, "jobId": id, "result": p})))
}

/// The texts of a job that the edit form shows (redacted) and sends back.
const SHOWN_REDACTED: [&str; 4] = ["/name", "/description", "/payload/message", "/payload/text"];

/// The edit form sends back what the list showed, its secrets replaced by the redaction mark.
/// A text that is still exactly the redacted form of the job's current text keeps the current
/// text (with its secret); one that was changed around a mark standing for a secret is refused,
/// since saving it would replace the secret with the mark.
fn unredact(patch: &mut Value, job: &Value) -> Result<(), String> {
    for field in SHOWN_REDACTED {
        let (Some(sent), Some(now)) =
            (patch.pointer(field).and_then(Value::as_str), job.pointer(field).and_then(Value::as_str))
        else {
            continue;
        };
        if !sent.contains(redact::MARK) || !redact::has_secret(now) {
            continue;
        }
        if redact::text(now).trim() != sent {
            let name = field.trim_start_matches('/').replace('/', " ");
            return Err(format!(
                "{name}: {} stands for a secret the dashboard does not show; write the secret again or remove the mark",
                redact::MARK
            ));
        }
        let now = now.to_string();
        if let Some(v) = patch.pointer_mut(field) {
            *v = now.into();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation: clear 400s here rather than a schema path from the gateway.

const FIELDS: [&str; 10] = [
    "name",
    "description",
    "agentId",
    "enabled",
    "schedule",
    "sessionTarget",
    "wakeMode",
    "payload",
    "delivery",
    "deleteAfterRun",
];

/// Checks a job (`create`) or a patch, and returns the params for `cron.add` / the `patch` for
/// `cron.update`, with strings trimmed and defaults filled in for a new job.
pub fn validate(b: &Value, create: bool) -> Result<Value, String> {
    let o = b.as_object().ok_or("the job must be a JSON object")?;
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field {k:?}; a job has {}", FIELDS.join(", ")));
    }
    if !create && o.is_empty() {
        return Err("nothing to change: send the fields to edit".into());
    }
    let mut out = Map::new();
    let text = |k: &str, max: usize, required: bool| -> Result<Option<String>, String> {
        match o.get(k) {
            None | Some(Value::Null) if required => Err(format!("{k} is required")),
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                if required && t.is_empty() {
                    Err(format!("{k} must not be empty"))
                } else if t.chars().count() > max {
                    Err(format!("{k} is longer than {max} characters"))
                } else {
                    Ok(Some(t.to_string()))
                }
            }
            Some(_) => Err(format!("{k} must be a string")),
        }
    };
    if let Some(n) = text("name", 200, create || o.contains_key("name"))? {
        out.insert("name".into(), n.into());
    }
    if let Some(d) = text("description", 2000, false)? {
        out.insert("description".into(), d.into());
    }
    if let Some(a) = text("agentId", 64, false)? {
        if !a.is_empty() {
            if !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("agentId {a:?}: letters, digits, - and _ only"));
            }
            out.insert("agentId".into(), a.into());
        }
    }
    for k in ["enabled", "deleteAfterRun"] {
        match o.get(k) {
            None => {}
            Some(Value::Bool(v)) => {
                out.insert(k.into(), (*v).into());
            }
            Some(_) => return Err(format!("{k} must be true or false")),
        }
    }
    match o.get("schedule") {
        None if create => return Err("schedule is required".into()),
        None => {}
        Some(s) => {
            out.insert("schedule".into(), schedule(s)?);
        }
    }
    let target = match text("sessionTarget", 200, false)? {
        Some(t) => {
            if !(["main", "isolated", "current"].contains(&t.as_str()) || t.starts_with("session:") && t.len() > 8) {
                return Err(format!("sessionTarget {t:?}: use main, isolated, current or session:<id>"));
            }
            Some(t)
        }
        None if create => Some("isolated".to_string()),
        None => None,
    };
    if let Some(t) = &target {
        out.insert("sessionTarget".into(), t.clone().into());
    }
    match text("wakeMode", 20, false)? {
        Some(w) if w == "now" || w == "next-heartbeat" => {
            out.insert("wakeMode".into(), w.into());
        }
        Some(w) => return Err(format!("wakeMode {w:?}: use now or next-heartbeat")),
        None if create => {
            out.insert("wakeMode".into(), "now".into());
        }
        None => {}
    }
    match o.get("payload") {
        None if create => {
            return Err("payload is required: {kind: \"agentTurn\", message} or {kind: \"systemEvent\", text}".into())
        }
        None => {}
        Some(p) => {
            let p = payload(p, create)?;
            // A main-session job injects a system event; every other target runs a turn.
            if let Some(t) = &target {
                let kind = p["kind"].as_str().unwrap_or("");
                if t == "main" && kind != "systemEvent" {
                    return Err("a main-session job needs a systemEvent payload (text); use an isolated session for an agent turn".into());
                }
                if t != "main" && kind == "systemEvent" {
                    return Err(format!("a systemEvent payload runs in the main session; sessionTarget {t:?} needs an agentTurn (message)"));
                }
            }
            out.insert("payload".into(), p);
        }
    }
    match o.get("delivery") {
        None | Some(Value::Null) => {}
        Some(d) => {
            let mode =
                d.get("mode").and_then(Value::as_str).ok_or("delivery needs a mode: none, announce or webhook")?;
            if !["none", "announce", "webhook"].contains(&mode) {
                return Err(format!("delivery mode {mode:?}: use none, announce or webhook"));
            }
            out.insert("delivery".into(), d.clone());
        }
    }
    Ok(Value::Object(out))
}

fn schedule(s: &Value) -> Result<Value, String> {
    let kind = s.get("kind").and_then(Value::as_str).ok_or("schedule needs a kind: every, cron or at")?;
    match kind {
        "every" => {
            let ms =
                s.get("everyMs").and_then(Value::as_u64).ok_or("an every schedule needs everyMs (milliseconds)")?;
            if !(1000..=366 * 86_400_000).contains(&ms) {
                return Err("everyMs must be between 1 s (1000) and a year".into());
            }
            let mut v = json!({"kind": "every", "everyMs": ms});
            if let Some(a) = s.get("anchorMs").and_then(Value::as_u64) {
                v["anchorMs"] = a.into();
            }
            Ok(v)
        }
        "cron" => {
            let expr = s.get("expr").and_then(Value::as_str).map(str::trim).unwrap_or("");
            let fields: Vec<&str> = expr.split_whitespace().collect();
            if !(5..=6).contains(&fields.len()) {
                return Err(format!(
                    "cron expression {expr:?}: needs 5 fields (minute hour day month weekday), or 6 with seconds"
                ));
            }
            let ok = |f: &&str| f.chars().all(|c| c.is_ascii_alphanumeric() || "*/,-?#".contains(c));
            if let Some(bad) = fields.iter().find(|f| !ok(f)) {
                return Err(format!("cron expression {expr:?}: field {bad:?} has characters cron does not use"));
            }
            let mut v = json!({"kind": "cron", "expr": fields.join(" ")});
            match s.get("tz").and_then(Value::as_str).map(str::trim) {
                Some(tz) if !tz.is_empty() => {
                    if tz.len() > 64 || !tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)) {
                        return Err(format!("time zone {tz:?}: use an IANA name such as Europe/Berlin or UTC"));
                    }
                    v["tz"] = tz.into();
                }
                _ => {}
            }
            Ok(v)
        }
        "at" => {
            let at = s.get("at").and_then(Value::as_str).map(str::trim).unwrap_or("");
            if at.is_empty() {
                return Err("an at schedule needs at: an ISO time such as 2026-12-24T18:00:00Z".into());
            }
            Ok(json!({"kind": "at", "at": at}))
        }
        k => Err(format!("schedule kind {k:?}: use every, cron or at")),
    }
}

fn payload(p: &Value, create: bool) -> Result<Value, String> {
    let kind = p.get("kind").and_then(Value::as_str).ok_or("payload needs a kind: agentTurn or systemEvent")?;
    let nonempty = |k: &str, max: usize| -> Result<Option<String>, String> {
        match p.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(format!("payload {k} must not be empty")),
            Some(Value::String(s)) if s.len() > max => Err(format!("payload {k} is longer than {max} bytes")),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("payload {k} must be a string")),
        }
    };
    match kind {
        "agentTurn" => {
            let mut v = json!({"kind": "agentTurn"});
            match nonempty("message", 100_000)? {
                Some(m) => v["message"] = m.into(),
                None if create => return Err("an agentTurn payload needs a message".into()),
                None => {}
            }
            if let Some(m) = nonempty("model", 200)? {
                v["model"] = m.into();
            }
            match p.get("timeoutSeconds") {
                None | Some(Value::Null) => {}
                Some(t) => match t.as_f64() {
                    Some(x) if (0.0..=86_400.0).contains(&x) => v["timeoutSeconds"] = t.clone(),
                    _ => return Err("payload timeoutSeconds must be a number of seconds up to a day".into()),
                },
            }
            Ok(v)
        }
        "systemEvent" => {
            let mut v = json!({"kind": "systemEvent"});
            match nonempty("text", 100_000)? {
                Some(t) => v["text"] = t.into(),
                None if create => return Err("a systemEvent payload needs text".into()),
                None => {}
            }
            Ok(v)
        }
        k => Err(format!("payload kind {k:?}: the dashboard creates agentTurn and systemEvent jobs")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_job_gets_defaults_and_clean_strings() {
        let p = validate(
            &json!({"name": "  daily ", "schedule": {"kind": "cron", "expr": "0  7 * * 1-5", "tz": "Europe/Berlin"},
                "payload": {"kind": "agentTurn", "message": "Summarise the inbox"}}),
            true,
        )
        .unwrap();
        assert_eq!(p["name"], "daily");
        assert_eq!(p["schedule"], json!({"kind": "cron", "expr": "0 7 * * 1-5", "tz": "Europe/Berlin"}));
        assert_eq!(p["sessionTarget"], "isolated");
        assert_eq!(p["wakeMode"], "now");
    }

    #[test]
    fn bad_jobs_say_what_is_wrong() {
        let cases = [
            (json!({}), "name is required"),
            (json!({"name": "x", "payload": {"kind": "agentTurn", "message": "m"}}), "schedule is required"),
            (
                json!({"name": "x", "schedule": {"kind": "every", "everyMs": 10}, "payload": {"kind": "agentTurn", "message": "m"}}),
                "between 1 s",
            ),
            (
                json!({"name": "x", "schedule": {"kind": "cron", "expr": "* * *"}, "payload": {"kind": "agentTurn", "message": "m"}}),
                "5 fields",
            ),
            (
                json!({"name": "x", "schedule": {"kind": "cron", "expr": "* * * * ;"}, "payload": {"kind": "agentTurn", "message": "m"}}),
                "characters",
            ),
            (
                json!({"name": "x", "schedule": {"kind": "hourly"}, "payload": {"kind": "agentTurn", "message": "m"}}),
                "use every, cron or at",
            ),
            (json!({"name": "x", "schedule": {"kind": "every", "everyMs": 60000}}), "payload is required"),
            (
                json!({"name": "x", "schedule": {"kind": "every", "everyMs": 60000}, "payload": {"kind": "agentTurn"}}),
                "needs a message",
            ),
            (
                json!({"name": "x", "schedule": {"kind": "every", "everyMs": 60000}, "sessionTarget": "main", "payload": {"kind": "agentTurn", "message": "m"}}),
                "systemEvent",
            ),
            (
                json!({"name": "x", "schedule": {"kind": "every", "everyMs": 60000}, "payload": {"kind": "systemEvent", "text": "t"}}),
                "main session",
            ),
            (json!({"name": "x", "bogus": 1}), "unknown field"),
            (json!({"name": "", "schedule": {"kind": "at", "at": "2030-01-01T00:00:00Z"}}), "must not be empty"),
            (
                json!({"name": "x", "agentId": "a b", "schedule": {"kind": "at", "at": "x"}, "payload": {"kind": "agentTurn", "message": "m"}}),
                "agentId",
            ),
        ];
        for (body, want) in cases {
            let e = validate(&body, true).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn an_unchanged_redacted_text_keeps_the_secret() {
        let key = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_1234567890";
        let job = json!({"name": "nightly", "payload": {"kind": "agentTurn", "message": format!("call the API with {key}\n")}});
        // The form sent the list's text back, with other fields changed.
        let mut patch = validate(
            &json!({"name": "nightly 2", "payload": {"kind": "agentTurn", "message": "call the API with [REDACTED]"}}),
            false,
        )
        .unwrap();
        unredact(&mut patch, &job).unwrap();
        assert_eq!(patch["payload"]["message"], format!("call the API with {key}\n"));
        assert_eq!(patch["name"], "nightly 2");
        // Changed around the mark: the secret would be lost.
        let mut patch = json!({"payload": {"kind": "agentTurn", "message": "call another API with [REDACTED]"}});
        let e = unredact(&mut patch, &job).unwrap_err();
        assert!(e.contains("payload message") && e.contains("write the secret again"), "{e}");
        // A mark typed where the job has no secret is just text.
        let mut patch = json!({"name": "[REDACTED] report"});
        unredact(&mut patch, &job).unwrap();
        assert_eq!(patch["name"], "[REDACTED] report");
    }

    #[test]
    fn a_patch_carries_only_what_changes() {
        assert_eq!(validate(&json!({"enabled": false}), false).unwrap(), json!({"enabled": false}));
        let p = validate(&json!({"payload": {"kind": "agentTurn", "message": "new"}}), false).unwrap();
        assert_eq!(p, json!({"payload": {"kind": "agentTurn", "message": "new"}}));
        assert!(validate(&json!({}), false).unwrap_err().contains("nothing to change"));
        assert!(validate(&json!({"enabled": "yes"}), false).unwrap_err().contains("true or false"));
    }
}
