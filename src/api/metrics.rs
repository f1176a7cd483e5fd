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
        // Tokens and cost by model, agent and kind, summed over the hourly cells.
        let mut by: BTreeMap<(u32, u16), crate::state::Cell> = BTreeMap::new();
        for (&(_, m, a), c) in &st.hourly {
            let e = by.entry((m, a)).or_default();
            e.usage.add(&c.usage);
            e.calls += c.calls;
        }
        o.family("clawmetry_tokens_total", "counter", "Tokens used by model calls, by model, agent and kind.");
        for ((m, a), c) in &by {
            let (model, agent) = (st.models.name(*m), st.agents.get(*a as usize).map_or("", String::as_str));
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
        for ((m, a), c) in &by {
            let (model, agent) = (st.models.name(*m), st.agents.get(*a as usize).map_or("", String::as_str));
            o.sample(
                "clawmetry_cost_usd_total",
                &[("model", model), ("agent", agent)],
                crate::state::round_cost(c.usage.cost),
            );
        }
        o.family("clawmetry_model_calls_total", "counter", "Model calls, by model and agent.");
        for ((m, a), c) in &by {
            let (model, agent) = (st.models.name(*m), st.agents.get(*a as usize).map_or("", String::as_str));
            o.sample("clawmetry_model_calls_total", &[("model", model), ("agent", agent)], c.calls as f64);
        }
        let mut sessions: BTreeMap<(&str, &'static str, &'static str), u64> = BTreeMap::new();
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for s in st.sessions.values() {
            let status = s.status(now, s.meta.key.as_deref().and_then(|k| st.subagent_runs.get(k))).status;
            *sessions.entry((s.agent.as_str(), s.kind(), status)).or_default() += 1;
            *errors.entry(s.agent.as_str()).or_default() += s.tally.errors();
        }
        o.family("clawmetry_sessions", "gauge", "Sessions in the index, by agent, kind and status.");
        for ((agent, kind, status), n) in &sessions {
            o.sample("clawmetry_sessions", &[("agent", agent), ("kind", kind), ("status", status)], *n as f64);
        }
        o.family("clawmetry_errors_total", "counter", "Tool errors and failed model calls in transcripts, by agent.");
        for (agent, n) in &errors {
            o.sample("clawmetry_errors_total", &[("agent", agent)], *n as f64);
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
