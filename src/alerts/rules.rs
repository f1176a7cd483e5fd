//! Alert rules and their evaluation: [`evaluate`] turns a rule and the monitor's observations
//! into alerts; pure, so it is unit-tested.

use super::json::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// More than `tokens` tokens recorded within `minutes`.
    TokenSpike { tokens: u64, minutes: u64 },
    /// Errors (tool errors and failed model turns) above `percent` of tool results and
    /// assistant turns within `minutes`, once there are at least `min_events`.
    ErrorRate { percent: f64, minutes: u64, min_events: u64 },
    /// A session running for longer than `minutes`.
    LongSession { minutes: u64 },
    /// A cron run that ended in error within the last `minutes`.
    CronFailure { minutes: u64 },
    /// The OpenClaw or the data dir's file system fuller than `percent`.
    Disk { percent: f64 },
    /// The gateway's port refuses connections.
    GatewayDown,
    /// What a cron job's runs say beyond their status (`cron_health.rs`): failures in a row,
    /// silent failures, short or repeated output, slow, stuck or missed runs.
    CronHealth,
    /// The current or the last hour's cost or tokens above the same hour's rolling 7-day
    /// baseline (`crate::spend`: median + max(4 × 1.4826 × MAD, floor)).
    SpendAnomaly,
}

pub const RULE_KINDS: &[&str] = &[
    "token_spike",
    "error_rate",
    "long_session",
    "cron_failure",
    "disk",
    "gateway_down",
    "cron_health",
    "spend_anomaly",
];

/// A condition that stays true is reminded of once a day unless the rule says otherwise.
pub const DEFAULT_REPEAT_MINUTES: u64 = 1440;

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// After an incident's alert, a new incident of the same key stays quiet this long
    /// (`incident.rs`).
    pub cooldown_minutes: u64,
    /// While an incident stays open, a reminder after this long (0: never).
    pub repeat_minutes: u64,
    pub kind: RuleKind,
}

impl Rule {
    /// Decodes a rule from the API (the `id` field, if any, is ignored: the path names it).
    pub fn from_json(v: &Value, id: i64) -> Result<Rule, String> {
        let o = obj(v, "rule")?;
        let kind_name = required(o, "kind", "rule", 40)
            .map_err(|_| format!("rule: kind is required, one of {}", RULE_KINDS.join(", ")))?;
        let common = ["id", "kind", "name", "enabled", "cooldownMinutes", "repeatMinutes"];
        let w = "rule";
        fn fields(common: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
            common.iter().chain(extra).copied().collect()
        }
        let kind = match kind_name.as_str() {
            "token_spike" => {
                no_unknown(o, &fields(&common, &["tokens", "minutes"]), w)?;
                RuleKind::TokenSpike {
                    tokens: int(o, "tokens", w, 1, u64::MAX / 4, None)?,
                    minutes: int(o, "minutes", w, 1, 1440, Some(10))?,
                }
            }
            "error_rate" => {
                no_unknown(o, &fields(&common, &["percent", "minutes", "minEvents"]), w)?;
                RuleKind::ErrorRate {
                    percent: opt_num(o, "percent", w, 0.1, 100.0)?.ok_or("rule: percent is required")?,
                    minutes: int(o, "minutes", w, 1, 1440, Some(15))?,
                    min_events: int(o, "minEvents", w, 1, 1_000_000, Some(10))?,
                }
            }
            "long_session" => {
                no_unknown(o, &fields(&common, &["minutes"]), w)?;
                RuleKind::LongSession { minutes: int(o, "minutes", w, 1, 100_000, None)? }
            }
            "cron_failure" => {
                no_unknown(o, &fields(&common, &["minutes"]), w)?;
                RuleKind::CronFailure { minutes: int(o, "minutes", w, 1, 100_000, Some(60))? }
            }
            "disk" => {
                no_unknown(o, &fields(&common, &["percent"]), w)?;
                RuleKind::Disk { percent: opt_num(o, "percent", w, 1.0, 100.0)?.ok_or("rule: percent is required")? }
            }
            "gateway_down" => {
                no_unknown(o, &fields(&common, &[]), w)?;
                RuleKind::GatewayDown
            }
            "cron_health" => {
                no_unknown(o, &fields(&common, &[]), w)?;
                RuleKind::CronHealth
            }
            "spend_anomaly" => {
                no_unknown(o, &fields(&common, &[]), w)?;
                RuleKind::SpendAnomaly
            }
            k => return Err(format!("rule: unknown kind {k:?}; use one of {}", RULE_KINDS.join(", "))),
        };
        let name = string(o, "name", w, 200)?.filter(|n| !n.is_empty()).unwrap_or_else(|| default_name(&kind));
        Ok(Rule {
            id,
            name,
            enabled: boolean(o, "enabled", w, true)?,
            cooldown_minutes: int(o, "cooldownMinutes", w, 0, 100_000, Some(30))?,
            repeat_minutes: int(o, "repeatMinutes", w, 0, 100_000, Some(DEFAULT_REPEAT_MINUTES))?,
            kind,
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            RuleKind::TokenSpike { .. } => "token_spike",
            RuleKind::ErrorRate { .. } => "error_rate",
            RuleKind::LongSession { .. } => "long_session",
            RuleKind::CronFailure { .. } => "cron_failure",
            RuleKind::Disk { .. } => "disk",
            RuleKind::GatewayDown => "gateway_down",
            RuleKind::CronHealth => "cron_health",
            RuleKind::SpendAnomaly => "spend_anomaly",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut j = json!({"id": self.id, "name": self.name, "kind": self.kind_name(), "enabled": self.enabled,
            "cooldownMinutes": self.cooldown_minutes, "repeatMinutes": self.repeat_minutes});
        match &self.kind {
            RuleKind::TokenSpike { tokens, minutes } => {
                j["tokens"] = json!(tokens);
                j["minutes"] = json!(minutes);
            }
            RuleKind::ErrorRate { percent, minutes, min_events } => {
                j["percent"] = json!(percent);
                j["minutes"] = json!(minutes);
                j["minEvents"] = json!(min_events);
            }
            RuleKind::LongSession { minutes } | RuleKind::CronFailure { minutes } => j["minutes"] = json!(minutes),
            RuleKind::Disk { percent } => j["percent"] = json!(percent),
            RuleKind::GatewayDown | RuleKind::CronHealth | RuleKind::SpendAnomaly => {}
        }
        j
    }
}

pub(super) fn default_name(k: &RuleKind) -> String {
    match k {
        RuleKind::TokenSpike { tokens, minutes } => format!("More than {tokens} tokens in {minutes} min"),
        RuleKind::ErrorRate { percent, minutes, .. } => format!("Error rate above {percent}% over {minutes} min"),
        RuleKind::LongSession { minutes } => format!("Session running longer than {minutes} min"),
        RuleKind::CronFailure { .. } => "Cron run failed".into(),
        RuleKind::Disk { percent } => format!("Disk fuller than {percent}%"),
        RuleKind::GatewayDown => "Gateway down".into(),
        RuleKind::CronHealth => "Cron job unhealthy".into(),
        RuleKind::SpendAnomaly => "Unusual hourly cost or tokens".into(),
    }
}

// ---- observations and evaluation -------------------------------------------------------------

/// Cumulative counters sampled by the monitor at each tick, on a monotonic clock (a fake
/// `--fake-now-ms` clock does not move, but the window arithmetic must).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub mono_ms: i64,
    pub tokens: u64,
    pub events: u64,
    pub errors: u64,
}

/// The last few hours of samples, for windowed rules.
#[derive(Debug, Default)]
pub struct Window {
    samples: std::collections::VecDeque<Sample>,
}

/// Growth of the counters over a window: (tokens, events, errors, minutes actually covered).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    pub tokens: u64,
    pub events: u64,
    pub errors: u64,
    pub covered_ms: i64,
}

impl Window {
    const KEEP_MS: i64 = 25 * 3_600_000;

    pub fn push(&mut self, s: Sample) {
        self.samples.push_back(s);
        while self.samples.front().is_some_and(|f| s.mono_ms - f.mono_ms > Self::KEEP_MS) {
            self.samples.pop_front();
        }
    }

    /// Growth over the last `minutes`: from the oldest sample inside the window (or just
    /// before it) to the newest. Decreases (a session re-read from scratch) count as zero.
    pub fn delta(&self, minutes: u64) -> Option<Delta> {
        let last = *self.samples.back()?;
        let start = last.mono_ms - minutes as i64 * 60_000;
        let base = self.samples.iter().rev().find(|s| s.mono_ms <= start).or_else(|| self.samples.front())?;
        if base.mono_ms == last.mono_ms {
            return None;
        }
        let mut d = Delta { tokens: 0, events: 0, errors: 0, covered_ms: last.mono_ms - base.mono_ms };
        let mut prev = *base;
        for s in self.samples.iter().filter(|s| s.mono_ms > base.mono_ms) {
            d.tokens += s.tokens.saturating_sub(prev.tokens);
            d.events += s.events.saturating_sub(prev.events);
            d.errors += s.errors.saturating_sub(prev.errors);
            prev = *s;
        }
        Some(d)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunningSession {
    pub id: String,
    pub agent: String,
    pub label: Option<String>,
    pub started_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CronFailure {
    pub run_id: String,
    pub job_id: String,
    pub job_name: Option<String>,
    pub finished_ms: i64,
    pub status: String,
    pub error: Option<String>,
}

/// What the monitor saw this tick.
#[derive(Debug, Default)]
pub struct Observations {
    pub now_ms: i64,
    pub window: Window,
    pub running: Vec<RunningSession>,
    pub cron_failures: Vec<CronFailure>,
    /// Cron health findings: (job id, job name, finding as `cron_health::assess` gives it).
    pub cron_health: Vec<(String, String, Value)>,
    /// (name, path, used percent)
    pub disks: Vec<(String, String, f64)>,
    /// (port, open), when the gateway port was checked.
    pub gateway: Option<(u16, bool)>,
    /// The last whole hour and the current one against their baselines (only when a
    /// `spend_anomaly` rule is on).
    pub hours: Vec<crate::spend::HourCheck>,
}

/// An alert before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: String,
    pub severity: &'static str,
    pub rule_id: Option<i64>,
    /// Alerts with the same key share a cooldown.
    pub dedupe: String,
    pub title: String,
    pub message: String,
    pub data: Value,
}

pub(super) fn mins(ms: i64) -> i64 {
    ms / 60_000
}

/// The alerts `rule` raises on `obs` (before cooldowns).
pub fn evaluate(rule: &Rule, obs: &Observations) -> Vec<Alert> {
    if !rule.enabled {
        return Vec::new();
    }
    let base = |suffix: &str, severity: &'static str, title: String, message: String, data: Value| Alert {
        kind: rule.kind_name().to_string(),
        severity,
        rule_id: Some(rule.id),
        dedupe: format!("rule:{}{suffix}", rule.id),
        title,
        message,
        data,
    };
    match &rule.kind {
        RuleKind::TokenSpike { tokens, minutes } => match obs.window.delta(*minutes) {
            Some(d) if d.tokens > *tokens => vec![base(
                "",
                "warning",
                format!("Token spike: {} tokens in {} min", d.tokens, mins(d.covered_ms).max(1)),
                format!(
                    "{} tokens were used in the last {} min (rule: more than {tokens} in {minutes} min).",
                    d.tokens,
                    mins(d.covered_ms).max(1)
                ),
                json!({"tokens": d.tokens, "threshold": tokens, "minutes": minutes, "coveredMs": d.covered_ms}),
            )],
            _ => Vec::new(),
        },
        RuleKind::ErrorRate { percent, minutes, min_events } => match obs.window.delta(*minutes) {
            Some(d) if d.events >= *min_events && d.errors as f64 * 100.0 > percent * d.events as f64 => {
                let rate = (d.errors as f64 * 1000.0 / d.events as f64).round() / 10.0;
                vec![base(
                    "",
                    "warning",
                    format!("Error rate {rate}% over {} min", mins(d.covered_ms).max(1)),
                    format!(
                        "{} of {} tool results and model turns failed in the last {} min (rule: above {percent}%).",
                        d.errors,
                        d.events,
                        mins(d.covered_ms).max(1)
                    ),
                    json!({"errors": d.errors, "events": d.events, "ratePercent": rate, "threshold": percent}),
                )]
            }
            _ => Vec::new(),
        },
        RuleKind::LongSession { minutes } => obs
            .running
            .iter()
            .filter(|s| obs.now_ms - s.started_ms > *minutes as i64 * 60_000)
            .map(|s| {
                let name = s.label.clone().unwrap_or_else(|| s.id.chars().take(8).collect());
                base(
                    &format!(":session:{}", s.id),
                    "warning",
                    format!("Session {name} running for {} min", mins(obs.now_ms - s.started_ms)),
                    format!(
                        "Session {} of agent {} has been running for {} min (rule: longer than {minutes} min).",
                        s.id,
                        s.agent,
                        mins(obs.now_ms - s.started_ms)
                    ),
                    json!({"sessionId": s.id, "agent": s.agent, "label": s.label, "startedMs": s.started_ms}),
                )
            })
            .collect(),
        RuleKind::CronFailure { minutes } => {
            let mut by_job: BTreeMap<&str, Vec<&CronFailure>> = BTreeMap::new();
            for f in obs.cron_failures.iter().filter(|f| obs.now_ms - f.finished_ms <= *minutes as i64 * 60_000) {
                by_job.entry(&f.job_id).or_default().push(f);
            }
            by_job
                .into_iter()
                .map(|(job, fs)| {
                    let last = fs.iter().max_by_key(|f| f.finished_ms).expect("non-empty");
                    let name = last.job_name.clone().unwrap_or_else(|| job.to_string());
                    base(
                        &format!(":cron:{job}"),
                        "critical",
                        format!("Cron job {name} failed"),
                        format!(
                            "{} failed run(s) of cron job {name} in the last {minutes} min; last: {}{}.",
                            fs.len(),
                            last.status,
                            last.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                        json!({"jobId": job, "jobName": last.job_name, "failures": fs.len(), "lastRunId": last.run_id,
                            "lastFinishedMs": last.finished_ms, "error": last.error}),
                    )
                })
                .collect()
        }
        RuleKind::Disk { percent } => obs
            .disks
            .iter()
            .filter(|(_, _, used)| used >= percent)
            .map(|(name, path, used)| {
                base(
                    &format!(":disk:{path}"),
                    if *used >= 95.0 { "critical" } else { "warning" },
                    format!("Disk {used}% full ({name})"),
                    format!("The file system holding {path} is {used}% full (rule: {percent}%)."),
                    json!({"name": name, "path": path, "usedPercent": used, "threshold": percent}),
                )
            })
            .collect(),
        RuleKind::CronHealth => obs
            .cron_health
            .iter()
            .map(|(job, name, f)| {
                let kind = f["kind"].as_str().unwrap_or("");
                base(
                    &format!(":cron_health:{job}:{kind}"),
                    if f["severity"] == "critical" { "critical" } else { "warning" },
                    format!("Cron job {name}: {}", kind.replace('_', " ")),
                    format!("Cron job {name}: {}.", f["message"].as_str().unwrap_or("")),
                    json!({"jobId": job, "jobName": name, "finding": f}),
                )
            })
            .collect(),
        RuleKind::GatewayDown => match obs.gateway {
            Some((port, false)) => vec![base(
                "",
                "critical",
                format!("Gateway down: port {port} refuses connections"),
                format!("Nothing answers on the OpenClaw gateway port {port} on this machine."),
                json!({"port": port}),
            )],
            _ => Vec::new(),
        },
        RuleKind::SpendAnomaly => obs
            .hours
            .iter()
            .flat_map(|h| [("cost", &h.cost, h), ("tokens", &h.tokens, h)])
            .filter(|(_, c, _)| c.anomalous)
            .map(|(metric, c, h)| {
                let b = c.baseline.expect("an anomaly has a baseline");
                let (v, m, t) = if metric == "cost" {
                    (format!("USD {:.2}", c.value), format!("USD {:.2}", b.median), format!("USD {:.2}", b.threshold))
                } else {
                    (format!("{:.0} tokens", c.value), format!("{:.0}", b.median), format!("{:.0}", b.threshold))
                };
                let at = crate::timefmt::iso(h.hour as i64 * 3_600_000);
                base(
                    &format!(":{metric}:{}", h.hour),
                    "warning",
                    format!("Unusual hour: {v} since {at}"),
                    format!(
                        "The hour from {at}{} used {v}; the same hour on the previous days: median {m}, threshold {t}.",
                        if h.partial { " (not over yet)" } else { "" }
                    ),
                    json!({"metric": metric, "hourMs": h.hour as i64 * 3_600_000, "partial": h.partial, "value": c.value,
                        "median": b.median, "mad": b.mad, "threshold": b.threshold}),
                )
            })
            .collect(),
    }
}
