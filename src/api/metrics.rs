//! `GET /metrics`: the index in the Prometheus text exposition format (version 0.0.4).

use super::{Answer, Ctx};
use super::{Req, Resp};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes a label value: backslash, double quote and newline.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", esc(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// Label values shown per breakdown; the rest are summed as `other`.
const LABELS_SHOWN: usize = 8;

/// Models and agents named in the usage families; the rest are `other`.
const SERIES_SHOWN: usize = 10;

/// The `SERIES_SHOWN` names with the largest summed values.
fn shown(pairs: impl Iterator<Item = (String, f64)>) -> Vec<String> {
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in pairs {
        *sum.entry(k).or_default() += v;
    }
    top_and_other(sum.into_iter().collect(), SERIES_SHOWN).into_iter().map(|(k, _)| k).collect()
}

/// `name` when it is one of `shown`, else `other`.
fn bounded(shown: &[String], name: &str) -> String {
    if shown.iter().any(|s| s == name) {
        name.to_string()
    } else {
        "other".to_string()
    }
}

/// What an operator alerts on beyond usage: the gateway, budgets, cron jobs, the host, alerts.
fn operations(o: &mut Out, ctx: &Ctx, now: i64) {
    o.family("clawmetry_gateway_connected", "gauge", "1 while clawmetry's gateway client is connected.");
    o.sample("clawmetry_gateway_connected", &[], if ctx.gateway.connected() { 1.0 } else { 0.0 });
    let mon = &ctx.monitor;
    let health = mon.health();
    if let Some(open) = health.as_ref().and_then(|h| h["gateway"]["listening"].as_bool()) {
        o.family(
            "clawmetry_gateway_up",
            "gauge",
            "1 when something answers on the OpenClaw gateway port (last health check).",
        );
        o.sample("clawmetry_gateway_up", &[], if open { 1.0 } else { 0.0 });
    }
    // Budgets: every limit set, as the monitor's last check saw it.
    let b = mon.budget_status();
    let limits = b["limits"].as_array().cloned().unwrap_or_default();
    o.family("clawmetry_budget_limit_usd", "gauge", "Each budget limit set, by period and agent (all: every agent).");
    o.family("clawmetry_budget_spent_usd", "gauge", "Spend in each budget's current period, by period and agent.");
    o.family("clawmetry_budget_used_ratio", "gauge", "Spend over the limit of each budget (1 = the limit reached).");
    for l in limits.iter().take(64) {
        let labels = [("period", l["period"].as_str().unwrap_or("")), ("agent", l["agent"].as_str().unwrap_or("all"))];
        let (limit, spent) = (l["limitUsd"].as_f64().unwrap_or(0.0), l["spentUsd"].as_f64().unwrap_or(0.0));
        o.sample("clawmetry_budget_limit_usd", &labels, limit);
        o.sample("clawmetry_budget_spent_usd", &labels, spent);
        if limit > 0.0 {
            o.sample("clawmetry_budget_used_ratio", &labels, spent / limit);
        }
    }
    // Cron jobs: failures in a row and health findings (`cron_health.rs`), from OpenClaw's store.
    let jobs = cron_health(ctx, now);
    o.family(
        "clawmetry_cron_failures_in_row",
        "gauge",
        "Failed runs in a row of each cron job (at most 50 jobs: the most failing).",
    );
    o.family(
        "clawmetry_cron_findings",
        "gauge",
        "Health findings of each cron job (silent, short, same, slow, stuck, missed, failing).",
    );
    for (name, failures, findings) in jobs.iter().take(CRON_JOBS_SHOWN) {
        o.sample("clawmetry_cron_failures_in_row", &[("cron_job", name)], *failures as f64);
        o.sample("clawmetry_cron_findings", &[("cron_job", name)], *findings as f64);
    }
    // The host, from the monitor's last health check.
    if let Some(h) = health {
        o.family(
            "clawmetry_host_disk_used_percent",
            "gauge",
            "Used space of the file systems holding OpenClaw and clawmetry's data.",
        );
        for d in h["disks"].as_array().into_iter().flatten().take(8) {
            if let Some(p) = d["usedPercent"].as_f64() {
                o.sample("clawmetry_host_disk_used_percent", &[("path", d["path"].as_str().unwrap_or(""))], p);
            }
        }
        let host = [
            (
                "clawmetry_host_memory_used_percent",
                "Memory in use (total less available), percent.",
                h["memory"]["usedPercent"].as_f64(),
            ),
            ("clawmetry_host_load1", "Load average over one minute.", h["load"]["one"].as_f64()),
            (
                "clawmetry_host_cpu_percent",
                "CPU busy between the last two health checks, percent.",
                h["cpu"]["percent"].as_f64(),
            ),
            (
                "clawmetry_host_cpu_temperature_celsius",
                "CPU temperature, when the board reports it.",
                h["temperature"]["cpuC"].as_f64(),
            ),
        ];
        for (name, help, v) in host {
            if let Some(v) = v {
                o.family(name, "gauge", help);
                o.sample(name, &[], v);
            }
        }
    }
    o.family("clawmetry_alerts_unread", "gauge", "Alerts not marked read in the app.");
    o.sample("clawmetry_alerts_unread", &[], mon.history.unread_alerts().unwrap_or(0) as f64);
    let m = mon.monitor_json();
    o.family("clawmetry_alert_incidents_open", "gauge", "Alert rule incidents still firing after the last check.");
    o.sample("clawmetry_alert_incidents_open", &[], m["openIncidents"].as_f64().unwrap_or(0.0));
}

/// Cron jobs shown in the cron families.
const CRON_JOBS_SHOWN: usize = 50;

/// Each cron job's (name, failures in a row, findings), the most failing first; read from
/// OpenClaw's store at most every 15 s (a scrape every few seconds must not re-read it).
fn cron_health(ctx: &Ctx, now: i64) -> std::sync::Arc<Vec<(String, u64, u64)>> {
    type Cached = Option<(std::time::Instant, std::sync::Arc<Vec<(String, u64, u64)>>)>;
    static CACHE: std::sync::Mutex<Cached> = std::sync::Mutex::new(None);
    if let Some((at, v)) = crate::sync::lock(&CACHE).as_ref() {
        if at.elapsed() < std::time::Duration::from_secs(15) {
            return v.clone();
        }
    }
    let mut out: Vec<(String, u64, u64)> = crate::cron_health::of_installed(&ctx.index, now, ctx.gateway.connected())
        .into_iter()
        .map(|(job, h)| {
            let name = job["name"].as_str().or(job["id"].as_str()).unwrap_or("?").to_string();
            let findings = h["findings"].as_array().map_or(0, Vec::len) as u64;
            (name, h["failuresInRow"].as_u64().unwrap_or(0), findings)
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then_with(|| a.0.cmp(&b.0)));
    let v = std::sync::Arc::new(out);
    *crate::sync::lock(&CACHE) = Some((std::time::Instant::now(), v.clone()));
    v
}

/// The `n` largest (name, value) pairs, and the rest summed as `other` (when there is a rest).
fn top_and_other(mut v: Vec<(String, f64)>, n: usize) -> Vec<(String, f64)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if v.len() > n {
        let rest = v.drain(n..).map(|x| x.1).sum();
        v.push(("other".into(), rest));
    }
    v
}

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let now = ctx.index.now_ms();
    let mut o = Out(String::with_capacity(16 * 1024));
    let jobs = super::usage::cron_jobs(ctx);
    {
        let st = ctx.index.read();
        // Tokens and cost by model, agent and kind, summed over the hourly cells; the
        // `SERIES_SHOWN` models and agents that cost the most keep their names, the rest are
        // summed as `other` (label sets stay bounded however many models and agents come).
        let per = st.usage_by_model_agent();
        let model_names = shown(per.iter().map(|((m, _), c)| (st.models.name(*m).to_string(), c.usage.cost)));
        let agent_names =
            shown(per.iter().map(|((_, a), c)| {
                (st.agents.get(*a as usize).map_or_else(String::new, |n| n.to_string()), c.usage.cost)
            }));
        let mut by: BTreeMap<(String, String), crate::state::Cell> = BTreeMap::new();
        for ((m, a), c) in &per {
            let key = (
                bounded(&model_names, st.models.name(*m)),
                bounded(&agent_names, st.agents.get(*a as usize).map_or("", |n| &**n)),
            );
            let e = by.entry(key).or_default();
            e.usage.add(&c.usage);
            e.calls += c.calls;
        }
        o.family("clawmetry_tokens_total", "counter", "Tokens used by model calls, by model, agent and kind.");
        for ((model, agent), c) in &by {
            for (kind, v) in [
                ("input", c.usage.input),
                ("output", c.usage.output),
                ("cache_read", c.usage.cache_read),
                ("cache_write", c.usage.cache_write),
                ("reasoning", c.usage.reasoning),
            ] {
                o.sample("clawmetry_tokens_total", &[("model", model), ("agent", agent), ("kind", kind)], v as f64);
            }
        }
        o.family("clawmetry_cost_usd_total", "counter", "Cost of model calls in USD, by model and agent.");
        for ((model, agent), c) in &by {
            o.sample(
                "clawmetry_cost_usd_total",
                &[("model", model), ("agent", agent)],
                crate::state::round_cost(c.usage.cost),
            );
        }
        o.family("clawmetry_model_calls_total", "counter", "Model calls, by model and agent.");
        for ((model, agent), c) in &by {
            o.sample("clawmetry_model_calls_total", &[("model", model), ("agent", agent)], c.calls as f64);
        }
        let mut sessions: BTreeMap<(String, &'static str, &'static str), u64> = BTreeMap::new();
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for s in st.sessions.values() {
            let status = s.status(now, s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k))).status;
            let agent = bounded(&agent_names, &s.agent);
            *errors.entry(agent.clone()).or_default() += s.tally.errors();
            if let Some(l) = s.last_ms() {
                let e = last.entry(agent.clone()).or_insert(l);
                *e = (*e).max(l);
            }
            *sessions.entry((agent, s.kind(), status)).or_default() += 1;
        }
        o.family("clawmetry_sessions", "gauge", "Sessions in the index, by agent, kind and status.");
        for ((agent, kind, status), n) in &sessions {
            o.sample("clawmetry_sessions", &[("agent", agent), ("kind", kind), ("status", status)], *n as f64);
        }
        o.family("clawmetry_errors_total", "counter", "Tool errors and failed model calls in transcripts, by agent.");
        for (agent, n) in &errors {
            o.sample("clawmetry_errors_total", &[("agent", agent)], *n as f64);
        }
        o.family(
            "clawmetry_last_activity_timestamp_seconds",
            "gauge",
            "Unix time of the newest transcript event, by agent (idle agents keep their last).",
        );
        for (agent, ms) in &last {
            o.sample("clawmetry_last_activity_timestamp_seconds", &[("agent", agent)], *ms as f64 / 1000.0);
        }
        // Spend rate, projection and prompt cache (methods in `crate::insight`); no per-model
        // labels, so the series stay few.
        let g = super::insight::month_gauges(&st, now);
        o.family("clawmetry_burn_rate_usd_per_hour", "gauge", "Spend per hour over the last whole hours, by window.");
        o.sample("clawmetry_burn_rate_usd_per_hour", &[("window", "1h")], crate::state::round_cost(g.burn_1h));
        o.sample("clawmetry_burn_rate_usd_per_hour", &[("window", "24h")], crate::state::round_cost(g.burn_24h));
        o.family(
            "clawmetry_month_projected_cost_usd",
            "gauge",
            "Month-end projection: this month so far + the 7-day daily mean x the days left (UTC).",
        );
        o.sample("clawmetry_month_projected_cost_usd", &[], crate::state::round_cost(g.projected));
        o.family(
            "clawmetry_cache_hit_ratio",
            "gauge",
            "Cache-read tokens over all prompt tokens (input + cache read + cache write), this month.",
        );
        o.sample("clawmetry_cache_hit_ratio", &[], g.cache.hit_rate().unwrap_or(0.0));
        o.family(
            "clawmetry_cache_saved_usd",
            "gauge",
            "USD saved by cache reads against the input price this month (models with a known price).",
        );
        o.sample("clawmetry_cache_saved_usd", &[], crate::state::round_cost(g.cache.saved.unwrap_or(0.0)));
        // Where the money goes this month, and the hour against its baseline
        // (`crate::spend`); labels bounded: the top few, the rest as `other`.
        let month = crate::tz::zone().month_start(now);
        let r = super::usage::Range::between(month, now.max(month + 1));
        let sel = super::usage::select(&st, &r, &jobs, None);
        let mut providers: BTreeMap<&str, f64> = BTreeMap::new();
        super::usage::each_cell(&st, &r, &sel, |_, m, _, u, _| {
            *providers.entry(crate::spend::provider(st.models.name(m))).or_default() += u.cost;
        });
        let triggers = super::usage::by_trigger(&sel).into_iter().map(|(k, p)| (k.to_string(), p.cost)).collect();
        let providers = providers.into_iter().map(|(k, c)| (k.to_string(), c)).collect();
        for (name, label, what, rows) in [
            ("clawmetry_month_cost_by_trigger_usd", "trigger", "trigger", triggers),
            ("clawmetry_month_cost_by_provider_usd", "provider", "model provider", providers),
        ] {
            o.family(name, "gauge", &format!("Cost this month by {what} (top 8, the rest as other)."));
            for (k, c) in top_and_other(rows, LABELS_SHOWN) {
                o.sample(name, &[(label, &k)], crate::state::round_cost(c));
            }
        }
        if let Some(c) = st.hour_checks(now, 1, &|_| true).last() {
            o.family("clawmetry_hour_cost_usd", "gauge", "Cost in the current hour so far.");
            o.sample("clawmetry_hour_cost_usd", &[], crate::state::round_cost(c.cost.value));
            o.family("clawmetry_hour_cost_threshold_usd", "gauge", "Anomaly threshold of the current hour's cost: median of the same hour on the 7 days before + max(4 x 1.4826 x MAD, USD 1); absent without 3 days of history.");
            if let Some(b) = c.cost.baseline {
                o.sample("clawmetry_hour_cost_threshold_usd", &[], crate::state::round_cost(b.threshold));
            }
            o.family(
                "clawmetry_hour_anomaly",
                "gauge",
                "1 when the current hour's cost or tokens exceed their threshold.",
            );
            o.sample("clawmetry_hour_anomaly", &[("metric", "cost")], if c.cost.anomalous { 1.0 } else { 0.0 });
            o.sample("clawmetry_hour_anomaly", &[("metric", "tokens")], if c.tokens.anomalous { 1.0 } else { 0.0 });
        }
        let h = &st.health;
        o.family("clawmetry_index_ready", "gauge", "1 once the cold index is complete.");
        o.sample("clawmetry_index_ready", &[], if h.ready { 1.0 } else { 0.0 });
        o.family("clawmetry_openclaw_found", "gauge", "1 when an OpenClaw installation was found.");
        o.sample("clawmetry_openclaw_found", &[], if st.install.found { 1.0 } else { 0.0 });
        o.family("clawmetry_index_lines_total", "counter", "Transcript lines and rows read.");
        o.sample("clawmetry_index_lines_total", &[], h.lines as f64);
        o.family("clawmetry_index_bytes_total", "counter", "Transcript bytes read.");
        o.sample("clawmetry_index_bytes_total", &[], h.bytes_read as f64);
        o.family("clawmetry_index_bad_input_total", "counter", "Input skipped, by reason.");
        for (reason, v) in [
            ("malformed_line", h.malformed_lines),
            ("non_utf8_line", h.non_utf8_lines),
            ("huge_line", h.huge_lines),
            ("bad_row", h.bad_rows),
            ("source_error", h.source_errors),
        ] {
            o.sample("clawmetry_index_bad_input_total", &[("reason", reason)], v as f64);
        }
    }
    {
        let b = crate::sync::lock(&ctx.otlp);
        o.family("clawmetry_otlp_received_total", "counter", "OTLP items received, by signal.");
        for (signal, v) in
            [("spans", b.counters.spans), ("metric_points", b.counters.metric_points), ("logs", b.counters.logs)]
        {
            o.sample("clawmetry_otlp_received_total", &[("signal", signal)], v as f64);
        }
        o.family("clawmetry_otlp_rejected_total", "counter", "OTLP items rejected as invalid.");
        o.sample("clawmetry_otlp_rejected_total", &[], b.counters.rejected as f64);
    }
    // Provider quota windows, when the gateway reports them (a handful of providers × windows).
    let q = super::quotas::quotas(ctx);
    if q["available"] == true {
        o.family(
            "clawmetry_provider_quota_used_percent",
            "gauge",
            "Share of a provider's quota window used (usage.status).",
        );
        for p in q["providers"].as_array().into_iter().flatten() {
            for w in p["windows"].as_array().into_iter().flatten() {
                let labels =
                    [("provider", p["provider"].as_str().unwrap_or("")), ("window", w["label"].as_str().unwrap_or(""))];
                o.sample("clawmetry_provider_quota_used_percent", &labels, w["usedPercent"].as_f64().unwrap_or(0.0));
            }
        }
    }
    operations(&mut o, ctx, now);
    o.family("clawmetry_uptime_seconds", "gauge", "Seconds since clawmetry started.");
    o.sample("clawmetry_uptime_seconds", &[], (ctx.index.uptime_seconds()) as f64);
    o.family("clawmetry_build_info", "gauge", "Always 1; the version is a label.");
    o.sample("clawmetry_build_info", &[("version", ctx.index.version)], 1.0);
    Ok(Resp {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: o.0.into_bytes(),
        headers: vec![("Cache-Control", "no-store".into())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping() {
        assert_eq!(esc(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(esc("x\ny"), "x\\ny");
        let mut o = Out(String::new());
        o.sample("m", &[("model", "q\"")], 1.5);
        assert_eq!(o.0, "m{model=\"q\\\"\"} 1.5\n");
    }
}
