//! The guard on the monitor thread: drains the feed of new transcript lines (`crate::guard`),
//! runs the loop rules (`alerts::guard`) on the sessions those lines belong to, and acts on what
//! they find: the finding goes on the session (`State::guard`, shown in the session JSON and the
//! list), an `activity` row and an alert are recorded, and with `autoStop` on the run is aborted
//! through the gateway. Also the controls users call (`POST /api/guard/stop`, `/pause`,
//! `/resume`); every control action is written to the audit log.
//!
//! Cost: a tick looks only at the lines that arrived since the last one (a few calls per
//! session), never at every session; idle sessions are forgotten after [`IDLE`].

use super::*;
use crate::alerts::{Change, Finding};
use std::time::Instant;

/// How often the guard runs without new lines (to forget idle sessions, renew a manual pause).
pub(super) const TICK_EVERY: Duration = Duration::from_secs(15);
/// A session not fed for this long is forgotten (its run is over or stuck, not looping).
const IDLE: Duration = Duration::from_secs(3600);
/// The lease of a manual pause: the gateway's own (it resumes by itself if nobody renews it);
/// a manual pause is renewed by the monitor until resumed by hand.
const MANUAL_PAUSE_ID: &str = "clawmetry-manual";
/// How often a manual pause's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// What `GET /api/guard` shows of the guard's work.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    ticks: u64,
    lines: u64,
    dropped: u64,
    last_tick_ms: Option<i64>,
    last_tick_us: u64,
    max_tick_us: u64,
    watched: usize,
}

pub(super) fn tick(mon: &Monitor, started: Instant) {
    let t0 = Instant::now();
    let (items, dropped) = mon.index.guard.drain();
    let lines = items.len() as u64;
    let cfg = crate::sync::read(&mon.config).guard.clone();
    let now = mon.index.now_ms();
    let mono = started.elapsed().as_millis() as i64;
    let mut changed: Vec<(Change, Finding)> = Vec::new();
    let watched = {
        let baseline = |sid: &str| {
            let agent = mon.index.read().sessions.get(sid).map(|s| s.agent.clone())?;
            lock(&mon.guard_baseline).get(&*agent).copied()
        };
        let mut g = lock(&mon.guard);
        for o in items {
            for c in g.observe(o, &cfg, (now, mono), &baseline) {
                let id = match c {
                    Change::New(id) | Change::Grew(id) => id,
                };
                let Some(f) = g.finding_mut(id).map(|f| f.clone()) else { continue };
                // A finding made and extended in the same tick stays new, with its latest state.
                match changed.iter_mut().find(|(_, x)| x.id == id) {
                    Some(slot) => slot.1 = f,
                    None => changed.push((c, f)),
                }
            }
        }
        g.expire(mono, IDLE.as_millis() as i64);
        g.watched()
    };
    if !changed.is_empty() {
        publish(mon, &changed, now);
    }
    renew_manual_pause(mon);
    let news: Vec<&Finding> = changed.iter().filter(|(c, _)| matches!(c, Change::New(_))).map(|(_, f)| f).collect();
    for f in &news {
        alert(mon, f, now);
    }
    if cfg.auto_stop {
        for f in news {
            // One stop per run: a second rule firing later in the same run (this tick or an
            // earlier one) does not ask the gateway again.
            let done = lock(&mon.guard)
                .findings()
                .any(|x| x.session == f.session && x.run_seq == f.run_seq && x.stop.is_some());
            if done {
                continue;
            }
            let who = format!("clawmetry auto-stop (guard rule {}, finding {})", f.rule, f.id);
            let _ = mon.stop_session(&f.session, &who, Some(f.id));
        }
    }
    let us = t0.elapsed().as_micros() as u64;
    let mut s = lock(&mon.guard_stats);
    s.ticks += 1;
    s.lines += lines;
    s.dropped += dropped;
    s.last_tick_ms = Some(now);
    s.last_tick_us = us;
    s.max_tick_us = s.max_tick_us.max(us);
    s.watched = watched;
}

/// The session's key, agent and kind, for rows and alerts.
fn session_facts(mon: &Monitor, id: &str) -> (Option<String>, Option<String>, Option<&'static str>) {
    let st = mon.index.read();
    match st.sessions.get(id) {
        Some(s) => (s.meta.key.as_deref().map(str::to_string), Some(s.agent.to_string()), Some(s.kind())),
        None => (None, None, None),
    }
}

/// Puts the findings on their sessions (`State::guard`) and tells the UI: the sessions changed,
/// and each new finding is a row of the activity stream.
fn publish(mon: &Monitor, changed: &[(Change, Finding)], now: i64) {
    let mut ids: Vec<String> = Vec::new();
    {
        let mut st = mon.index.write();
        for (_, f) in changed {
            let list = st.guard.entry(f.session.clone()).or_default();
            let j = f.to_json();
            match list.iter_mut().find(|x| x["id"] == f.id) {
                Some(x) => *x = j,
                None => list.push(j),
            }
            // At most the 20 newest findings per session.
            let extra = list.len().saturating_sub(20);
            list.drain(..extra);
            ids.push(f.session.clone());
        }
    }
    ids.sort();
    ids.dedup();
    mon.index.hub.publish("sessions", json!({"ids": ids}));
    let rows: Vec<Value> = changed
        .iter()
        .filter(|(c, _)| matches!(c, Change::New(_)))
        .map(|(_, f)| {
            let (key, agent, kind) = session_facts(mon, &f.session);
            json!({"kind": "guard", "rule": f.rule, "findingId": f.id, "text": f.title, "message": f.message,
                "seq": f.seqs.last(), "ts": now, "sessionId": f.session, "key": key, "agent": agent,
                "sessionKind": kind, "isError": true})
        })
        .collect();
    if !rows.is_empty() {
        mon.index.hub.publish("activity", json!({"items": rows}));
    }
}

fn alert(mon: &Monitor, f: &Finding, now: i64) {
    let (key, agent, _) = session_facts(mon, &f.session);
    let mut data = f.to_json();
    data["sessionKey"] = json!(key);
    data["agent"] = json!(agent);
    let a = Alert {
        kind: format!("guard_{}", f.rule),
        severity: "warning",
        rule_id: None,
        dedupe: format!("guard:{}:{}:{}", f.session, f.run_seq.map(|s| s.to_string()).unwrap_or_default(), f.id),
        title: format!("{} (session {})", f.title, key.as_deref().unwrap_or(&f.session)),
        message: f.message.clone(),
        data,
    };
    mon.record(a, now);
}

impl Monitor {
    pub fn guard_settings(&self) -> GuardSettings {
        crate::sync::read(&self.config).guard.clone()
    }

    pub fn set_guard(&self, v: &Value, now_ms: i64) -> Result<GuardSettings, Error> {
        self.require_persistent()?;
        let g = GuardSettings::from_json(v).map_err(Error::Invalid)?;
        self.history.put_setting("guard", &g.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).guard = g.clone();
        Ok(g)
    }

    /// `GET /api/guard`: the findings (newest first, at most `limit`, of one session when
    /// `session` is given) and the guard's own figures.
    pub fn guard_json(&self, session: Option<&str>, limit: usize) -> Value {
        let findings: Vec<Value> = lock(&self.guard)
            .findings()
            .rev()
            .filter(|f| session.is_none_or(|s| f.session == s))
            .take(limit)
            .map(Finding::to_json)
            .collect();
        let s = lock(&self.guard_stats).clone();
        let baseline: serde_json::Map<String, Value> =
            lock(&self.guard_baseline).iter().map(|(a, r)| (a.clone(), json!((r * 10.0).round() / 10.0))).collect();
        json!({
            "findings": findings,
            "stats": {"ticks": s.ticks, "lines": s.lines, "droppedLines": s.dropped, "lastTickMs": s.last_tick_ms,
                "lastTickMicros": s.last_tick_us, "maxTickMicros": s.max_tick_us, "sessionsWatched": s.watched,
                "baselineTokensPerMinute": baseline},
        })
    }

    /// Aborts the running work of a session through the gateway (`sessions.abort` where the
    /// gateway offers it, else `chat.abort`) and writes the audit log. `finding`: the guard
    /// finding that asked for it, which records the outcome.
    pub fn stop_session(&self, id_or_key: &str, who: &str, finding: Option<u64>) -> Result<Value, Error> {
        let (id, key) = {
            let st = self.index.read();
            match st.session(id_or_key) {
                Some(s) => (s.id.clone(), s.meta.key.clone()),
                None => return Err(Error::NotFound(format!("session {id_or_key:?} not found"))),
            }
        };
        let now = self.index.now_ms();
        let outcome = match &key {
            None => Err(format!("session {id} has no session key, which the gateway's abort needs")),
            Some(key) => {
                let (method, params) = if self.gateway.offers("sessions.abort") {
                    ("sessions.abort", json!({"key": key}))
                } else if self.gateway.offers("chat.abort") {
                    ("chat.abort", json!({"sessionKey": key}))
                } else {
                    ("", Value::Null)
                };
                if method.is_empty() {
                    Err("the gateway offers neither sessions.abort nor chat.abort".to_string())
                } else {
                    self.gateway
                        .call(method, params.clone(), RPC_TIMEOUT)
                        .map(|answer| json!({"method": method, "params": params, "answer": answer}))
                        .map_err(|e| e.to_string())
                }
            }
        };
        let mut entry = json!({"action": "stop", "who": who, "sessionId": id, "sessionKey": key,
            "findingId": finding, "ok": outcome.is_ok()});
        match &outcome {
            Ok(v) => {
                entry["method"] = v["method"].clone();
                entry["gateway"] = v["answer"].clone();
            }
            Err(e) => entry["error"] = json!(e),
        }
        let written = self.audit.record(now, entry.clone());
        if let Some(fid) = finding {
            let f = lock(&self.guard).finding_mut(fid).map(|f| {
                f.stop = Some(entry.clone());
                f.clone()
            });
            if let Some(f) = f {
                publish(self, &[(Change::Grew(f.id), f)], now);
            }
        }
        let mut result = entry;
        if let Err(e) = written {
            result["auditError"] = json!(e);
        }
        match outcome {
            Ok(_) => Ok(result),
            Err(e) if key.is_none() => Err(Error::Invalid(e)),
            Err(e) => Err(Error::Unavailable(e)),
        }
    }

    /// Pauses the gateway by hand (`gateway.suspend.prepare`, the lease auto-pause uses), or
    /// resumes it (`gateway.suspend.resume`); written to the audit log.
    pub fn manual_pause(&self, pause: bool, who: &str) -> Result<Value, Error> {
        let now = self.index.now_ms();
        let (method, params) = if pause {
            ("gateway.suspend.prepare", json!({"requestId": MANUAL_PAUSE_ID}))
        } else {
            let id = lock(&self.manual_suspension).as_ref().map(|m| m.0.clone());
            match id {
                Some(id) => ("gateway.suspend.resume", json!({"suspensionId": id})),
                None => {
                    return Err(Error::Invalid("the gateway was not paused by hand from this dashboard".into()));
                }
            }
        };
        let outcome = self.gateway.call(method, params.clone(), RPC_TIMEOUT).map_err(|e| e.to_string());
        if let Ok(v) = &outcome {
            let mut m = lock(&self.manual_suspension);
            if pause && v["status"] == "ready" {
                *m = v["suspensionId"].as_str().map(|id| (id.to_string(), Instant::now()));
            } else if !pause {
                *m = None;
            }
        }
        let mut entry = json!({"action": if pause { "pause" } else { "resume" }, "who": who, "method": method,
            "ok": outcome.as_ref().is_ok_and(|v| !pause || v["status"] == "ready")});
        match &outcome {
            Ok(v) => entry["gateway"] = v.clone(),
            Err(e) => entry["error"] = json!(e),
        }
        let written = self.audit.record(now, entry.clone());
        if let Err(e) = written {
            entry["auditError"] = json!(e);
        }
        match outcome {
            Ok(v) if pause && v["status"] != "ready" => Err(Error::Unavailable(format!(
                "the gateway did not suspend ({}{}); nothing is paused, try again",
                v["status"].as_str().unwrap_or("no status"),
                v["activeCount"].as_u64().map(|n| format!(", {n} active task(s)")).unwrap_or_default()
            ))),
            Ok(_) => Ok(entry),
            Err(e) => Err(Error::Unavailable(e)),
        }
    }

    /// The suspension id of a manual pause, while it holds.
    pub fn manual_pause_json(&self) -> Value {
        let m = lock(&self.manual_suspension);
        json!({"active": m.is_some(), "suspensionId": m.as_ref().map(|x| x.0.clone()), "method": "gateway.suspend.prepare"})
    }
}

/// A manual pause holds while it is renewed: the suspension is a lease of about two minutes,
/// renewed here every [`RENEW_EVERY`] (a stopped clawmetry cannot leave the gateway suspended).
fn renew_manual_pause(mon: &Monitor) {
    let due = lock(&mon.manual_suspension).as_ref().is_some_and(|m| m.1.elapsed() >= RENEW_EVERY);
    if !due {
        return;
    }
    let r = mon.gateway.call("gateway.suspend.prepare", json!({"requestId": MANUAL_PAUSE_ID}), RPC_TIMEOUT);
    let mut m = lock(&mon.manual_suspension);
    match r {
        Ok(v) if v["status"] == "ready" => {
            *m = v["suspensionId"].as_str().map(|id| (id.to_string(), Instant::now()));
        }
        // Not renewed: it lapses by itself; the next tick tries again.
        _ => {}
    }
}
