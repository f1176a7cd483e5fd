//! `GET /api/usage` (per model, agent and session, and a time series by hour or day between
//! `from` and `to`) and `GET /api/usage.csv` (the same cells as CSV, for billing).

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::model::Usage;
use crate::state::{usage_json, Cell, State};
use crate::timefmt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Sessions listed in `bySession` (the most expensive first).
const SESSIONS_SHOWN: usize = 200;

struct Range {
    from: i64,
    to: i64,
    step_ms: i64,
    step: &'static str,
    agent: Option<String>,
    /// Only the agents of this OpenClaw profile.
    profile: Option<String>,
}

fn range(req: &Req, now: i64) -> Result<Range, ApiError> {
    let t = |k: &str, default: i64| match req.q(k) {
        None => Ok(default),
        Some(v) => timefmt::parse_user_time(v).ok_or_else(|| {
            ApiError::bad_request(format!("{k}={v:?}: use epoch ms, YYYY-MM-DD or an ISO time between 1970 and 9999"))
        }),
    };
    let to = t("to", now)?;
    let from = t("from", timefmt::day_start(now) - 29 * 86_400_000)?;
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let (step, step_ms) = match req.q("step").unwrap_or("day") {
        "hour" | "1h" => ("hour", 3_600_000),
        "day" | "1d" => ("day", 86_400_000),
        s => return Err(ApiError::bad_request(format!("step={s:?}: use hour or day"))),
    };
    if to.checked_sub(from).is_none_or(|span| span / step_ms > 20_000) {
        return Err(ApiError::bad_request("range too long for this step: at most 20000 buckets"));
    }
    Ok(Range {
        from,
        to,
        step_ms,
        step,
        agent: req.q("agent").map(str::to_string),
        profile: req.q("profile").map(str::to_string),
    })
}

/// Visits the hourly cells inside the range: (bucket start ms, model id, agent index, cell).
fn cells<'a>(st: &'a State, r: &'a Range) -> impl Iterator<Item = (i64, u32, u16, &'a Cell)> + 'a {
    let h0 = (r.from.max(0) / 3_600_000) as u32;
    let h1 = ((r.to.max(0) + 3_599_999) / 3_600_000) as u32;
    let agent_ix = r.agent.as_ref().map(|a| st.agents.iter().position(|x| x == a));
    let in_profile: Option<Vec<bool>> =
        r.profile.as_ref().map(|p| st.agents.iter().map(|a| st.profile_of(a) == p).collect());
    st.hourly.range((h0, 0, 0)..(h1, 0, 0)).filter_map(move |(&(h, m, a), c)| {
        if let Some(want) = agent_ix {
            if want != Some(a as usize) {
                return None;
            }
        }
        if let Some(ok) = &in_profile {
            if !ok.get(a as usize).copied().unwrap_or(false) {
                return None;
            }
        }
        let ms = h as i64 * 3_600_000;
        Some((ms.div_euclid(r.step_ms) * r.step_ms, m, a, c))
    })
}

fn add(map_cell: &mut Cell, c: &Cell) {
    map_cell.usage.add(&c.usage);
    map_cell.calls += c.calls;
}

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let r = range(req, ctx.index.now_ms())?;
    let st = ctx.index.read();
    let mut total = Cell::default();
    let mut by_model: HashMap<u32, Cell> = HashMap::new();
    let mut by_agent: HashMap<u16, Cell> = HashMap::new();
    let mut series: BTreeMap<i64, Cell> = BTreeMap::new();
    let mut series_model: BTreeMap<(u32, i64), f64> = BTreeMap::new();
    for (t, m, a, c) in cells(&st, &r) {
        add(&mut total, c);
        add(by_model.entry(m).or_default(), c);
        add(by_agent.entry(a).or_default(), c);
        add(series.entry(t).or_default(), c);
        *series_model.entry((m, t)).or_default() += c.usage.cost;
    }
    // Per session: the sessions' own hourly cells inside the range.
    let h0 = (r.from.max(0) / 3_600_000) as u32;
    let h1 = ((r.to.max(0) + 3_599_999) / 3_600_000) as u32;
    // Figures for every session with usage in the range, JSON only for the 200 shown (100k
    // sessions as JSON values were 200 MB at once).
    let mut by_session: Vec<(&crate::state::Session, Usage, u64)> = Vec::new();
    for s in st.sessions.values() {
        if r.agent.as_deref().is_some_and(|a| a != s.agent)
            || r.profile.as_deref().is_some_and(|p| p != st.profile_of(&s.agent))
        {
            continue;
        }
        let mut u = Usage::default();
        let mut calls = 0u64;
        for h in s.tally.hourly.iter().filter(|h| h.hour >= h0 && h.hour < h1) {
            u.add(&h.usage);
            calls += h.calls as u64;
        }
        if calls > 0 {
            by_session.push((&**s, u, calls));
        }
    }
    let order = |a: &(&crate::state::Session, Usage, u64), b: &(&crate::state::Session, Usage, u64)| {
        b.1.cost.total_cmp(&a.1.cost).then_with(|| a.0.id.cmp(&b.0.id))
    };
    let sessions_total = by_session.len();
    if by_session.len() > SESSIONS_SHOWN {
        by_session.select_nth_unstable_by(SESSIONS_SHOWN - 1, order);
        by_session.truncate(SESSIONS_SHOWN);
    }
    by_session.sort_by(order);
    let model_rows = |v: HashMap<u32, Cell>| {
        let mut rows: Vec<Value> = v
            .into_iter()
            .map(|(m, c)| {
                let mut j = usage_json(&c.usage, c.calls);
                j["model"] = json!(st.models.name(m));
                j
            })
            .collect();
        rows.sort_by(|a, b| b["cost"].as_f64().unwrap_or(0.0).total_cmp(&a["cost"].as_f64().unwrap_or(0.0)));
        rows
    };
    let mut agent_rows: Vec<Value> = by_agent
        .into_iter()
        .map(|(a, c)| {
            let mut j = usage_json(&c.usage, c.calls);
            j["agent"] = json!(st.agents.get(a as usize));
            j
        })
        .collect();
    agent_rows.sort_by(|a, b| b["cost"].as_f64().unwrap_or(0.0).total_cmp(&a["cost"].as_f64().unwrap_or(0.0)));
    // A dense series: one point per bucket, zeros included, so charts need no gap filling.
    let first = r.from.div_euclid(r.step_ms) * r.step_ms;
    let mut points = Vec::new();
    let mut t = first;
    while t < r.to {
        let c = series.get(&t).copied().unwrap_or_default();
        let mut j = usage_json(&c.usage, c.calls);
        j["t"] = json!(t);
        points.push(j);
        t += r.step_ms;
    }
    let mut per_model: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (&(m, t), &cost) in &series_model {
        let idx = ((t - first) / r.step_ms) as usize;
        let row = per_model.entry(st.models.name(m).to_string()).or_insert_with(|| vec![0.0; points.len()]);
        if let Some(x) = row.get_mut(idx) {
            *x += cost;
        }
    }
    let v = json!({
        "from": r.from, "to": r.to, "step": r.step, "agent": r.agent, "profile": r.profile,
        "totals": usage_json(&total.usage, total.calls),
        "byModel": model_rows(by_model),
        "byAgent": agent_rows,
        "bySession": by_session
            .iter()
            .map(|(s, u, calls)| {
                let mut j = usage_json(u, *calls);
                j["id"] = json!(s.id);
                j["agent"] = json!(s.agent);
                j["profile"] = json!(st.profile_of(&s.agent));
                j["label"] = json!(s.meta.label.clone().or_else(|| s.meta.key.clone()));
                j
            })
            .collect::<Vec<_>>(),
        "sessionsWithUsage": sessions_total,
        "series": points,
        "costByModel": per_model,
    });
    drop(st);
    Ok(Resp::json(&v))
}

/// One row per (bucket, model, agent) with usage in the range.
pub fn csv(req: &Req, ctx: &Ctx) -> Answer {
    let r = range(req, ctx.index.now_ms())?;
    let st = ctx.index.read();
    let mut rows: BTreeMap<(i64, String, String), Cell> = BTreeMap::new();
    for (t, m, a, c) in cells(&st, &r) {
        let agent = st.agents.get(a as usize).cloned().unwrap_or_default();
        add(rows.entry((t, st.models.name(m).to_string(), agent)).or_default(), c);
    }
    drop(st);
    let mut out = String::from("period_start,model,agent,calls,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,total_tokens,cost_usd\n");
    for ((t, model, agent), c) in rows {
        let u = &c.usage;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{:.9}\n",
            timefmt::iso(t),
            csv_field(&model),
            csv_field(&agent),
            c.calls,
            u.input,
            u.output,
            u.cache_read,
            u.cache_write,
            u.reasoning,
            u.total_tokens(),
            u.cost
        ));
    }
    let name = format!("clawmetry-usage-{}-{}.csv", timefmt::date(r.from), timefmt::date(r.to));
    Ok(Resp {
        status: 200,
        content_type: "text/csv; charset=utf-8",
        body: out.into_bytes(),
        headers: vec![
            ("Content-Disposition", format!("attachment; filename=\"{name}\"")),
            ("Cache-Control", "no-store".into()),
        ],
    })
}

/// Quotes a CSV field when needed; a leading formula character is neutralised so that a
/// spreadsheet never evaluates a model name.
pub(super) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a/b"), "a/b");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd"), "'=cmd");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
    }
}
