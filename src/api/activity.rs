//! `GET /api/activity`: the activity stream's back-fill. The newest rows (`activity.rs`) across
//! all sessions, newest first, read from the transcripts of the sessions that moved last (the
//! index keeps aggregates, not lines), and a density strip: rows and cost per minute over the
//! last hour. What happens next arrives as `activity` events on `/api/events`.
//!
//! Cron runs OpenClaw recorded are rows too (`kind` cron), and so are sub-agents spawned and
//! finished (`kind` subagent, from its run records). Filters: `agent`, `profile`,
//! `sessionKind` (main, chat, cron, subagent) and `kind` (row kinds, comma-separated: user,
//! assistant, tool_result, error, compaction, cron, subagent).

use super::transcript::{for_each_line, Location};
use super::{Answer, Ctx, Req, Resp};
use crate::activity::{self, PendingCalls};
use crate::model::Tally;
use crate::sources::crons;
use crate::sources::transcript::summarize;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// Sessions read at most: the ones that moved last (every one that moved in the density
/// window counts first).
const SESSIONS_READ: usize = 40;
/// The density strip: one bucket per minute over this many minutes.
const DENSITY_MINUTES: i64 = 60;

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 500)? as usize;
    let kinds: Option<Vec<&str>> = req.q("kind").map(|k| k.split(',').map(str::trim).collect());
    let now = ctx.index.now_ms();
    let window_start = (now / 60_000 - (DENSITY_MINUTES - 1)) * 60_000;
    // Copied out of the state: no lock is held while transcripts are read.
    let (targets, prices) = {
        let st = ctx.index.read();
        let mut v: Vec<_> = st
            .sessions
            .values()
            .filter(|s| req.q("agent").is_none_or(|a| a == &*s.agent))
            .filter(|s| req.q("profile").is_none_or(|p| p == st.profile_of(&s.agent)))
            .filter(|s| req.q("sessionKind").is_none_or(|k| k == s.kind()))
            .filter_map(|s| s.last_ms().map(|t| (t, s)))
            .collect();
        v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        let targets: Vec<(Location, Value)> = v
            .into_iter()
            .take(SESSIONS_READ)
            .map(|(_, s)| {
                let about = json!({"sessionId": s.id, "agent": s.agent, "profile": st.profile_of(&s.agent),
                    "key": s.meta.key, "sessionKind": s.kind()});
                (Location::of(s), about)
            })
            .collect();
        (targets, st.prices.clone())
    };
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let mut rows: Vec<Value> = Vec::new();
    let mut density = vec![(0u64, 0f64); DENSITY_MINUTES as usize];
    let mut unreadable = Vec::new();
    for (loc, about) in targets {
        let mut pending = PendingCalls::default();
        let mut newest: VecDeque<Value> = VecDeque::new();
        let read = for_each_line(&loc, |seq, line| {
            let Ok(line) = line else { return };
            // The cost the index counted for this line (its own, or priced).
            let mut t = Tally::default();
            if let Ok(s) = summarize(line) {
                t.add_line(&s, &cost_of);
            }
            let Some(mut r) = activity::row(line, seq, t.usage.cost, &mut pending) else { return };
            if let Some(ts) = r["ts"].as_i64().filter(|ts| *ts >= window_start && *ts < now + 60_000) {
                let b = &mut density[((ts - window_start) / 60_000).min(DENSITY_MINUTES - 1) as usize];
                b.0 += 1;
                b.1 += t.usage.cost;
            }
            if kinds.as_ref().is_some_and(|k| !k.contains(&r["kind"].as_str().unwrap_or(""))) {
                return;
            }
            for (k, v) in about.as_object().into_iter().flatten() {
                r[k] = v.clone();
            }
            if newest.len() == limit {
                newest.pop_front();
            }
            newest.push_back(r);
        });
        if let Err(e) = read {
            unreadable.push(json!({"sessionId": about["sessionId"], "error": e}));
        }
        rows.extend(newest);
    }
    // Newest first; rows without a time last; within one time, the later line first.
    if kinds.as_ref().is_none_or(|k| k.contains(&"cron")) && req.q("sessionKind").is_none_or(|k| k == "cron") {
        rows.extend(cron_rows(ctx, req, limit));
    }
    if kinds.as_ref().is_none_or(|k| k.contains(&"subagent")) && req.q("sessionKind").is_none_or(|k| k == "subagent") {
        rows.extend(subagent_rows(ctx, req, limit));
    }
    rows.sort_by(|a, b| {
        let key = |r: &Value| (r["ts"].as_i64().unwrap_or(i64::MIN), r["seq"].as_u64().unwrap_or(0));
        key(b).cmp(&key(a))
    });
    rows.truncate(limit);
    let density: Vec<Value> = density
        .iter()
        .enumerate()
        .map(|(i, (n, c))| {
            json!({"startMs": window_start + i as i64 * 60_000, "events": n, "cost": crate::state::round_cost(*c)})
        })
        .collect();
    Ok(Resp::json(&json!({"nowMs": now, "items": rows, "density": density, "unreadable": unreadable})))
}

/// Sub-agents spawned and finished (OpenClaw's run records), newest `limit`, with the child's
/// session, agent and profile.
fn subagent_rows(ctx: &Ctx, req: &Req, limit: usize) -> Vec<Value> {
    let st = ctx.index.read();
    let mut rows: Vec<Value> = st
        .subagent_runs
        .values()
        .flat_map(|r| ["spawned", "finished"].into_iter().filter_map(move |a| activity::subagent_row(r, a)))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r["ts"].as_i64()));
    rows.truncate(limit);
    for row in &mut rows {
        let session = row["key"].as_str().and_then(|k| st.by_key.get(k)).and_then(|id| st.sessions.get(&**id));
        if let Some(s) = session {
            row["sessionId"] = json!(s.id);
            row["agent"] = json!(s.agent);
        }
        if let Some(a) = row["agent"].as_str() {
            row["profile"] = json!(st.profile_of(a));
        }
    }
    rows.retain(|r| {
        req.q("agent").is_none_or(|a| r["agent"] == a) && req.q("profile").is_none_or(|p| r["profile"] == p)
    });
    rows
}

/// The newest cron runs OpenClaw recorded (its state database, or the file era's run logs) as
/// activity rows, with their job's name; a run's session gives its agent and profile.
fn cron_rows(ctx: &Ctx, req: &Req, limit: usize) -> Vec<Value> {
    let install = ctx.index.read().install.clone();
    let Some(Ok(store)) = crons::read_installed(&install, limit) else { return Vec::new() };
    let name_of = |id: &str| {
        store.jobs.iter().find(|j| j["id"] == id).and_then(|j| j["name"].as_str().or(j["displayName"].as_str()))
    };
    let st = ctx.index.read();
    store
        .runs
        .iter()
        .filter_map(|r| activity::cron_row(r, r["jobId"].as_str().and_then(name_of)))
        .map(|mut row| {
            let session = row["sessionId"].as_str().and_then(|id| st.sessions.get(id));
            if let Some(s) = session {
                row["agent"] = json!(s.agent);
                row["profile"] = json!(st.profile_of(&s.agent));
            }
            row
        })
        .filter(|r| req.q("agent").is_none_or(|a| r["agent"] == a))
        .filter(|r| req.q("profile").is_none_or(|p| r["profile"] == p))
        .collect()
}
