//! `GET /api/overview`: what is running, what it costs today and this month, what went wrong.

use super::sessions::summary;
use super::{Answer, Ctx};
use super::{Req, Resp};
use crate::state::{round_cost, usage_json, Cell, State, StatusCounts};
use foldhash::HashMap;
use serde_json::{json, Value};

/// A running session with no activity for this long is reported as stuck.
const STUCK_MS: i64 = 30 * 60 * 1000;
/// Sessions active this recently are listed as active.
const ACTIVE_MS: i64 = 24 * 3600 * 1000;

fn top_models(st: &State, by_model: HashMap<u32, Cell>, n: usize) -> Vec<Value> {
    let mut v: Vec<(u32, Cell)> = by_model.into_iter().collect();
    v.sort_by(|a, b| {
        b.1.usage.cost.total_cmp(&a.1.usage.cost).then(b.1.usage.total_tokens().cmp(&a.1.usage.total_tokens()))
    });
    v.into_iter()
        .take(n)
        .map(|(m, c)| {
            let mut j = usage_json(&c.usage, c.calls);
            j["model"] = json!(st.models.name(m));
            j
        })
        .collect()
}

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let z = crate::tz::zone();
    let today = z.day_start(now);
    let month = z.month_start(now);
    let end = i64::MAX / 2;
    let (t_today, _) = st.sum_range(today, end);
    let (t_month, m_month) = st.sum_range(month, end);
    let (t_all, m_all) = st.sum_range(0, end);

    let mut counts = StatusCounts::default();
    let mut kinds: HashMap<&str, u64> = HashMap::default();
    let mut active: Vec<(i64, &str)> = Vec::new();
    let mut by_cost: Vec<(f64, &str)> = Vec::new();
    let mut warnings: Vec<Value> = Vec::new();
    for s in st.sessions.values() {
        let status = st.status_of(s, now);
        counts.add(status.status);
        *kinds.entry(s.kind()).or_default() += 1;
        let last = s.last_ms().unwrap_or(0);
        if status.status == "running" || now - last < ACTIVE_MS {
            active.push((if status.status == "running" { i64::MAX } else { last }, &s.id));
        }
        if s.tally.usage.cost > 0.0 {
            by_cost.push((s.tally.usage.cost, &s.id));
        }
        if status.status == "running" && now - last > STUCK_MS {
            warnings.push(json!({"kind": "stuck", "sessionId": s.id, "label": s.meta.label,
                "message": format!("running but idle for {} min", (now - last) / 60_000)}));
        }
        if s.tally.errors() > 0 && now - last < ACTIVE_MS {
            warnings.push(json!({"kind": "errors", "sessionId": s.id, "label": s.meta.label,
                "count": s.tally.errors(), "message": format!("{} errors in the last 24 h", s.tally.errors())}));
        }
        if status.status == "failed" && now - last < ACTIVE_MS {
            warnings.push(json!({"kind": "failed", "sessionId": s.id, "label": s.meta.label,
            "message": if status.detail == "failed" {
                format!("failed (according to the {})", status.source)
            } else {
                format!("failed: {}", status.detail)
            }}));
        }
    }
    active.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let active_rows: Vec<Value> =
        active.iter().take(20).filter_map(|(_, id)| st.sessions.get(*id)).map(|s| summary(&st, s, now)).collect();
    by_cost.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let top_sessions: Vec<Value> = by_cost
        .iter()
        .take(10)
        .filter_map(|(_, id)| st.sessions.get(*id))
        .map(|s| {
            json!({"id": s.id, "agent": s.agent, "label": s.meta.label, "key": s.meta.key,
            "cost": round_cost(s.tally.usage.cost), "tokens": s.tally.usage.total_tokens()})
        })
        .collect();
    // The guard's findings on sessions, newest first.
    let mut guard: Vec<Value> = st
        .guard
        .iter()
        .flat_map(|(id, fs)| {
            let s = st.sessions.get(id.as_str());
            fs.iter().map(move |f| {
                let mut f = f.clone();
                f["key"] = json!(s.and_then(|s| s.meta.key.clone()));
                f["label"] = json!(s.and_then(|s| s.meta.label.clone()));
                f["agent"] = json!(s.map(|s| s.agent.clone()));
                f
            })
        })
        .collect();
    guard.sort_by_key(|f| std::cmp::Reverse((f["detectedMs"].as_i64(), f["id"].as_u64())));
    guard.truncate(10);
    warnings.truncate(50);
    let v = json!({
        "nowMs": now,
        "tz": super::tz_json(now),
        "install": {"found": st.install.found, "stateDir": st.install.state_dir, "agents": st.agents.len().max(st.install.agents.len())},
        "index": {"ready": st.health.ready, "malformedLines": st.health.malformed_lines},
        "sessions": {
            "total": st.sessions.len(),
            "running": counts.running,
            "done": counts.done,
            "failed": counts.failed,
            "byKind": kinds,
        },
        "usage": {
            "today": usage_json(&t_today.usage, t_today.calls),
            "month": usage_json(&t_month.usage, t_month.calls),
            "total": usage_json(&t_all.usage, t_all.calls),
            "todayStartMs": today,
            "monthStartMs": month,
        },
        "topModels": {"month": top_models(&st, m_month, 5), "total": top_models(&st, m_all, 5)},
        "topSessions": top_sessions,
        "active": active_rows,
        "warnings": warnings,
        "guard": guard,
    });
    drop(st);
    Ok(Resp::json(&v))
}
