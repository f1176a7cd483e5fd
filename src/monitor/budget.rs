//! Budget enforcement: spend against every limit, the 80 % / 100 % alerts, and the gateway
//! pause (`gateway.suspend.*`) with its lease, renewal and resume.

use super::cells::Cells;
use super::health::*;
use super::run::*;
use super::*;
use crate::alerts::{self, Alert, Budget, Level, Period};
use crate::state::round_cost;
use crate::sync::lock;
use foldhash::HashMap;
use serde_json::{json, Value};

/// Auto-pause bookkeeping, also stored in the history (a restart must know the suspension id).
#[derive(Debug, Clone, Default)]
pub(super) struct Pause {
    pub(super) active: bool,
    pub(super) suspension_id: Option<String>,
    pub(super) since_ms: Option<i64>,
    pub(super) expires_at_ms: Option<i64>,
    pub(super) reason: Option<String>,
    pub(super) last_attempt_ms: Option<i64>,
    pub(super) last_error: Option<String>,
    /// After a manual resume: no automatic pause before this time (the end of the period).
    pub(super) override_until_ms: Option<i64>,
}

impl Pause {
    pub(super) fn json(&self) -> Value {
        json!({"active": self.active, "suspensionId": self.suspension_id, "sinceMs": self.since_ms,
            "expiresAtMs": self.expires_at_ms, "reason": self.reason, "lastAttemptMs": self.last_attempt_ms,
            "lastError": self.last_error, "overrideUntilMs": self.override_until_ms})
    }
    pub(super) fn from_json(v: &Value) -> Pause {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_i64);
        Pause {
            active: v["active"] == true,
            suspension_id: s("suspensionId"),
            since_ms: n("sinceMs"),
            expires_at_ms: n("expiresAtMs"),
            reason: s("reason"),
            last_attempt_ms: n("lastAttemptMs"),
            last_error: s("lastError"),
            override_until_ms: n("overrideUntilMs"),
        }
    }
}

impl Monitor {
    /// Manual resume: ends a budget suspension now and keeps the gateway running until the end
    /// of the current budget periods.
    pub fn resume(&self) -> Result<Value, Error> {
        let now = self.index.now_ms();
        let budget = self.config().budget;
        let until = period_end(
            now,
            budget.overall.monthly_usd.is_some() || budget.agents.values().any(|l| l.monthly_usd.is_some()),
        );
        let _op = lock(&self.pause_op);
        let mut p = lock(&self.pause).clone();
        let mut result = json!({"resumed": false});
        if let Some(id) = p.suspension_id.clone() {
            match gateway_rpc(&self.gateway, "gateway.suspend.resume", json!({"suspensionId": id})) {
                Ok(v) => {
                    result = json!({"resumed": true, "gateway": v});
                    p.active = false;
                    p.suspension_id = None;
                    p.last_error = None;
                }
                Err(e) => {
                    p.last_error = Some(e.clone());
                    result = json!({"resumed": false, "error": e,
                        "note": "the suspension lease lapses by itself within about two minutes now that clawmetry stops renewing it"});
                    p.active = false;
                }
            }
        }
        p.override_until_ms = Some(until);
        self.history.put_setting("pause", &p.json(), now).map_err(db_err)?;
        *lock(&self.pause) = p;
        result["overrideUntilMs"] = json!(until);
        self.record(
            info_alert(
                "budget_resumed",
                "Gateway resumed by hand",
                format!("Budget auto-pause is off until {}.", crate::timefmt::iso(until)),
            ),
            now,
        );
        self.wake();
        Ok(result)
    }
}

/// End of the current local day, or month when `month` (the next local midnight: tz.rs).
pub(super) fn period_end(now: i64, month: bool) -> i64 {
    let z = crate::tz::zone();
    if month {
        z.next_month_start(now)
    } else {
        z.add_days(now, 1)
    }
}

/// Spend per (agent or all, period) from the history's cells.
pub(super) fn spend(known: &Cells, now: i64) -> HashMap<(Option<String>, Period), f64> {
    let z = crate::tz::zone();
    let (day, month) = (crate::insight::first_hour(z.day_start(now)), crate::insight::first_hour(z.month_start(now)));
    let mut out: HashMap<(Option<String>, Period), f64> = HashMap::default();
    for (hour, agent, r) in known.iter() {
        if hour >= month {
            *out.entry((None, Period::Month)).or_default() += r.cost;
            *out.entry((Some(agent.to_string()), Period::Month)).or_default() += r.cost;
            if hour >= day {
                *out.entry((None, Period::Day)).or_default() += r.cost;
                *out.entry((Some(agent.to_string()), Period::Day)).or_default() += r.cost;
            }
        }
    }
    out
}

/// Compares spend with every limit, raises the 80% / 100% alerts (once per period and limit)
/// and pauses or resumes the gateway. Returns the status `GET /api/budget` shows.
pub(super) fn budget_check(mon: &Monitor, l: &Loop, b: &Budget, now: i64) -> Value {
    let empty = Cells::default();
    let spent = spend(l.known.as_ref().unwrap_or(&empty), now);
    let mut rows = Vec::new();
    let mut over: Vec<String> = Vec::new();
    for (scope, period, limit) in b.limits() {
        let s = spent.get(&(scope.map(str::to_string), period)).copied().unwrap_or(0.0);
        let lv = alerts::level(s, limit, b.warn_percent);
        let pct = (s / limit * 1000.0).round() / 10.0;
        let who = scope.map(|a| format!("agent {a}")).unwrap_or_else(|| "all agents".into());
        let start = period.start(now);
        let key = format!("budget:{}:{}:{start}:{limit}", scope.unwrap_or("*"), period.name());
        let data = json!({"agent": scope, "period": period.name(), "periodStartMs": start, "limitUsd": limit,
            "spentUsd": round_cost(s), "percent": pct});
        match lv {
            Level::Warning => {
                let a = Alert {
                    kind: "budget_warning".into(),
                    severity: "warning",
                    rule_id: None,
                    dedupe: format!("{key}:warning"),
                    title: format!("{}% of the {} budget used ({who})", pct.floor(), period.name()),
                    message: format!(
                        "${s:.2} of ${limit:.2} spent {} ({who}); the warning threshold is {}%.",
                        if period == Period::Day { "today" } else { "this month" },
                        b.warn_percent
                    ),
                    data: data.clone(),
                };
                mon.fire(a, -1, now);
            }
            Level::Over => {
                over.push(format!("{} budget of ${limit:.2} ({who})", period.name()));
                let a = Alert {
                    kind: "budget_exceeded".into(),
                    severity: "critical",
                    rule_id: None,
                    dedupe: format!("{key}:over"),
                    title: format!("Over the {} budget ({who}): ${s:.2} of ${limit:.2}", period.name()),
                    message: format!(
                        "${s:.2} spent {} ({who}), {pct}% of the ${limit:.2} limit.{}",
                        if period == Period::Day { "today" } else { "this month" },
                        if b.auto_pause { " Auto-pause is on: clawmetry suspends the gateway." } else { "" }
                    ),
                    data: data.clone(),
                };
                mon.fire(a, -1, now);
            }
            Level::Ok => {}
        }
        let mut row = data;
        row["level"] = json!(match lv {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Over => "over",
        });
        rows.push(row);
    }
    pause_check(mon, b, &over, now);
    let by_agent: serde_json::Map<String, Value> = spent
        .iter()
        .filter_map(|((a, p), v)| a.as_ref().map(|a| (format!("{a}:{}", p.name()), json!(round_cost(*v)))))
        .collect();
    json!({
        "checkedMs": now,
        "todayUsd": round_cost(spent.get(&(None, Period::Day)).copied().unwrap_or(0.0)),
        "monthUsd": round_cost(spent.get(&(None, Period::Month)).copied().unwrap_or(0.0)),
        "byAgent": by_agent,
        "limits": rows,
        "over": over,
    })
}

pub(super) fn pause_check(mon: &Monitor, b: &Budget, over: &[String], now: i64) {
    let _op = lock(&mon.pause_op);
    let mut p = lock(&mon.pause).clone();
    let before = p.json();
    if p.override_until_ms.is_some_and(|u| now >= u) {
        p.override_until_ms = None;
    }
    let want = b.auto_pause && !over.is_empty() && p.override_until_ms.is_none();
    if want {
        p.last_attempt_ms = Some(now);
        p.reason = Some(format!("over the {}", over.join(" and the ")));
        match gateway_rpc(&mon.gateway, "gateway.suspend.prepare", json!({"requestId": PAUSE_REQUEST_ID})) {
            Ok(v) if v["status"] == "ready" => {
                if !p.active {
                    p.since_ms = Some(now);
                    let a = Alert {
                        kind: "budget_paused".into(),
                        severity: "critical",
                        rule_id: None,
                        dedupe: format!("budget_paused:{}", crate::tz::zone().day_start(now)),
                        title: "Gateway paused: over budget".into(),
                        message: format!(
                            "clawmetry suspended the OpenClaw gateway: {}.",
                            p.reason.as_deref().unwrap_or("")
                        ),
                        data: json!({"suspensionId": v["suspensionId"]}),
                    };
                    mon.fire(a, -1, now);
                }
                p.active = true;
                p.suspension_id = v["suspensionId"].as_str().map(str::to_string);
                p.expires_at_ms = v["expiresAtMs"].as_i64();
                p.last_error = None;
            }
            Ok(v) => {
                let status = v["status"].as_str().unwrap_or("unknown");
                p.last_error = Some(format!(
                    "the gateway did not suspend ({status}{}); trying again at the next check",
                    v["activeCount"].as_u64().map(|n| format!(", {n} active task(s)")).unwrap_or_default()
                ));
            }
            Err(e) => {
                if !p.active {
                    let a = Alert {
                        kind: "budget_pause_failed".into(),
                        severity: "critical",
                        rule_id: None,
                        dedupe: format!("budget_pause_failed:{}", crate::tz::zone().day_start(now)),
                        title: "Over budget, and the gateway could not be paused".into(),
                        message: format!("Auto-pause is on but failed: {e}."),
                        data: json!({"error": e}),
                    };
                    mon.fire(a, -1, now);
                }
                p.last_error = Some(e);
            }
        }
    } else if p.active {
        if let Some(id) = p.suspension_id.clone() {
            match gateway_rpc(&mon.gateway, "gateway.suspend.resume", json!({"suspensionId": id})) {
                Ok(_) => {
                    p.active = false;
                    p.suspension_id = None;
                    p.last_error = None;
                    mon.record(
                        info_alert(
                            "budget_resumed",
                            "Gateway resumed",
                            "Spend is under every budget limit again (or auto-pause was turned off).".into(),
                        ),
                        now,
                    );
                }
                Err(e) => {
                    // The lease lapses by itself once it is no longer renewed.
                    p.last_error = Some(format!("resume: {e}; the suspension lapses within about two minutes"));
                    p.active = false;
                    p.suspension_id = None;
                }
            }
        } else {
            p.active = false;
        }
    }
    if p.json() != before {
        let _ = mon.history.put_setting("pause", &p.json(), now);
    }
    *lock(&mon.pause) = p;
}
