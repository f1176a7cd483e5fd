//! `GET /api/history?metric=cost&range=7d&step=1h`: a dense series from `history.db`.
//!
//! Usage metrics (`cost`, `tokens`, `input`, `output`, `cacheRead`, `cacheWrite`, `reasoning`,
//! `calls`) are sums per bucket, from hourly rows (steps of whole hours) or daily rollups (steps
//! of whole days); `by=model|agent` splits them into one series per model or agent, `agent=`
//! and `model=` filter. Snapshot metrics (`sessions`, `running`, `failed`, `disk`, `dataDisk`,
//! `memory`, `load`, `cpu`, `cpuTemp`, `gpu`, `rss`, `gatewayUp`, `tokensTotal`, `costTotal`,
//! `costToday`) are the average (with min and max) of the 5-minute snapshots in each bucket, or
//! of the daily rollups for steps of whole days; a bucket without a snapshot is `null`.
//! `range` and `step` are `<n>m`, `<n>h` or `<n>d`; `from`/`to` (epoch ms, `YYYY-MM-DD`, ISO)
//! may replace `range`. Buckets under a day are aligned to multiples of the step (UTC epoch);
//! buckets of whole days are local days of the user's zone (`tz.rs`): they start at local
//! midnight, and a DST day is 23 or 25 hours long.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::history::{SeriesQuery, SNAPSHOT_METRICS, USAGE_METRICS};
use crate::state::round_cost;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const MAX_POINTS: i64 = 5000;

/// `90m`, `24h`, `7d` in ms.
pub fn parse_span(s: &str) -> Option<i64> {
    // By characters: a query value may end in any UTF-8 character (a lossily decoded byte).
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    let ms = match unit {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    // At most a century: a span is added to and subtracted from times (timefmt::USER_TIME_MAX).
    n.checked_mul(ms).filter(|v| *v <= 100 * 366 * 86_400_000)
}

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let mon = &ctx.monitor;
    let names: Vec<&str> = USAGE_METRICS.iter().chain(SNAPSHOT_METRICS).map(|m| m.1).collect();
    let Some(metric) = req.q("metric") else {
        return Err(ApiError::bad_request(format!("metric is required, one of {}", names.join(", "))));
    };
    let usage = USAGE_METRICS.iter().find(|m| m.1 == metric);
    let snap = SNAPSHOT_METRICS.iter().find(|m| m.1 == metric);
    let Some(unit) = usage.or(snap).map(|m| m.2) else {
        return Err(ApiError::bad_request(format!("metric={metric:?}: use one of {}", names.join(", "))));
    };
    let step = req.q("step").unwrap_or(if usage.is_some() { "1h" } else { "5m" });
    let Some(step_ms) = parse_span(step) else {
        return Err(ApiError::bad_request(format!("step={step:?}: use a number and m, h or d, like 5m, 1h or 1d")));
    };
    if step_ms < 60_000 {
        return Err(ApiError::bad_request("step must be at least 1m"));
    }
    if usage.is_some() && step_ms % 3_600_000 != 0 {
        return Err(ApiError::bad_request(format!(
            "usage is stored per hour: step={step} must be a whole number of hours (1h, 6h, 1d)"
        )));
    }
    let now = ctx.index.now_ms();
    let time = |k: &str| -> Result<Option<i64>, ApiError> {
        match req.q(k) {
            None => Ok(None),
            Some(v) => crate::timefmt::parse_user_time(v).map(Some).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{k}={v:?}: use epoch ms, YYYY-MM-DD or an ISO time between 1970 and 9999"
                ))
            }),
        }
    };
    let (from, to) = (time("from")?, time("to")?);
    let z = crate::tz::zone();
    let daily = step_ms % 86_400_000 == 0;
    // An explicit `to` is exclusive; by default the bucket holding "now" is the last one.
    let to = match to {
        Some(t) if daily && z.day_start(t) == t => t,
        Some(t) if daily => z.add_days(t, 1),
        None if daily => z.add_days(now, 1),
        Some(t) => t.div_euclid(step_ms) * step_ms + if t.rem_euclid(step_ms) == 0 { 0 } else { step_ms },
        None => now.div_euclid(step_ms) * step_ms + step_ms,
    };
    let from = match from {
        Some(f) if daily => z.day_start(f),
        Some(f) => f.div_euclid(step_ms) * step_ms,
        None => {
            let range = req.q("range").unwrap_or("7d");
            let Some(r) = parse_span(range) else {
                return Err(ApiError::bad_request(format!(
                    "range={range:?}: use a number and m, h or d, like 24h, 7d or 90d"
                )));
            };
            let buckets = (r + step_ms - 1) / step_ms;
            if daily {
                z.day_start_of(z.day_number(to) - buckets * (step_ms / 86_400_000))
            } else {
                to - buckets * step_ms
            }
        }
    };
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    // The buckets' starts: local days for whole-day steps, else multiples of the step.
    let starts: Vec<i64> = if daily {
        z.day_buckets(from, to, step_ms / 86_400_000, MAX_POINTS as usize + 1).unwrap_or_default()
    } else {
        (0..((to - from) / step_ms).min(MAX_POINTS + 1)).map(|i| from + i * step_ms).collect()
    };
    let n = if daily && starts.is_empty() { MAX_POINTS + 1 } else { starts.len() as i64 };
    if n > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "{n} points: at most {MAX_POINTS}; use a larger step or a shorter range"
        )));
    }
    let by = req.q("by").map(str::to_string);
    if let Some(b) = &by {
        if usage.is_none() || !["model", "agent"].contains(&b.as_str()) {
            return Err(ApiError::bad_request(format!("by={b:?}: usage metrics can be split by model or agent")));
        }
    }
    let q = SeriesQuery {
        metric: metric.to_string(),
        from,
        to,
        step_ms,
        days: if daily { starts.clone() } else { Vec::new() },
        by: by.clone(),
        agent: req.q("agent").map(str::to_string),
        model: req.q("model").map(str::to_string),
    };
    let h = &mon.history;
    let idx = |t: i64| crate::tz::bucket_of(&starts, t).unwrap_or(usize::MAX);
    let mut v = json!({
        "nowMs": now, "metric": metric, "unit": unit, "kind": if usage.is_some() { "usage" } else { "snapshot" },
        "from": from, "to": to, "step": step, "stepMs": step_ms, "tz": super::tz_json(now), "by": by, "agent": q.agent, "model": q.model,
        "retentionDays": h.retention_days, "persistent": h.persistent(),
        "source": match (usage.is_some(), daily) {
            (true, true) => "daily usage rollups",
            (true, false) => "hourly usage",
            (false, true) => "daily snapshot rollups",
            (false, false) => "5-minute snapshots",
        },
    });
    let (u0, s0) = h.coverage();
    v["coverage"] = json!({"usageFromMs": u0, "snapshotsFromMs": s0});
    if usage.is_some() {
        let rows = h.usage_series(&q).map_err(unreadable)?;
        // Cost in USD to 1e-9; tokens and calls as whole numbers.
        let round = |x: f64| if metric == "cost" { json!(round_cost(x)) } else { json!(x.round() as i64) };
        let mut totals = vec![0.0; n as usize];
        let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (t, key, val) in &rows {
            let i = idx(*t);
            if i < totals.len() {
                totals[i] += val;
                if by.is_some() {
                    series.entry(key.clone()).or_insert_with(|| vec![0.0; n as usize])[i] += val;
                }
            }
        }
        let points: Vec<Value> = totals.iter().zip(&starts).map(|(x, t)| json!({"t": t, "v": round(*x)})).collect();
        v["total"] = json!(round(totals.iter().sum()));
        v["points"] = json!(points);
        if by.is_some() {
            let m: Map<String, Value> = series
                .into_iter()
                .map(|(k, vals)| (k, json!(vals.into_iter().map(round).collect::<Vec<_>>())))
                .collect();
            v["series"] = Value::Object(m);
        }
    } else {
        let rows = h.snapshot_series(&q).map_err(unreadable)?;
        let mut points: Vec<Value> = starts.iter().map(|t| json!({"t": t, "v": null})).collect();
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        for (t, avg, min, max) in rows {
            if let Some(p) = points.get_mut(idx(t)) {
                *p = json!({"t": t, "v": r3(avg), "min": r3(min), "max": r3(max)});
            }
        }
        v["points"] = json!(points);
    }
    Ok(Resp::json(&v))
}

/// history.db could not be read: a 500.
fn unreadable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(500, format!("reading history.db: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_span;

    #[test]
    fn spans() {
        assert_eq!(parse_span("5m"), Some(300_000));
        assert_eq!(parse_span("24h"), Some(86_400_000));
        assert_eq!(parse_span("7d"), Some(604_800_000));
        for bad in ["", "d", "0h", "-1h", "1w", "1.5h", "h1"] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
    }
}
