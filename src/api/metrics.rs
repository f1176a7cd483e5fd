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

pub fn get(_req: &Req, ctx: &Ctx) -> Answer {
    let now = ctx.index.now_ms();
    let mut o = Out(String::with_capacity(16 * 1024));
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
