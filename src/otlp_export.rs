//! The `otlp-export` thread (`--otlp-export URL`): pushes clawmetry's usage as OTLP metrics over
//! OTLP/HTTP protobuf to any collector (the OpenTelemetry Collector, Grafana Alloy, Datadog,
//! Honeycomb, or another clawmetry's `/v1/metrics`), every `--otlp-interval` seconds.
//!
//! What is sent, cumulative since the export began (one start time per run of clawmetry, so a
//! restart is a reset to receivers), per model and agent, for every session the index holds
//! (live, archived, deleted and purged alike: spend never goes down):
//! * `gen_ai.client.token.usage` (GenAI semantic conventions): a histogram per
//!   `gen_ai.token.type` (`input`, `output`, `cache_read`, `cache_write`): its `count` the model
//!   calls, its `sum` the tokens (one bucket: clawmetry keeps sums per hour, not each call);
//! * `clawmetry.cost.usd`: a monotonic sum, USD;
//! * `clawmetry.model_calls`: a monotonic sum.
//!
//! Attributes: `gen_ai.request.model`, `gen_ai.provider.name`, `gen_ai.agent.name`; resource
//! `service.name=clawmetry`, `host.name`, `clawmetry.node`. A failed export is tried again with
//! backoff; as every snapshot is cumulative, only the newest waits (a bounded queue of one: a
//! later snapshot holds everything an older one did).

use crate::state::Index;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The resource attribute that carries a node's fleet summary (JSON) over OTLP.
pub const FLEET_SUMMARY: &str = "clawmetry.fleet.summary";

/// Configuration of the exporter.
#[derive(Debug, Clone)]
pub struct Exporter {
    /// The collector's base URL; metrics go to `<url>/v1/metrics` (unless it already ends so).
    pub url: String,
    /// Extra request headers (e.g. an API key, `X-Clawmetry-Fleet-Key`).
    pub headers: Vec<(String, String)>,
    pub interval: Duration,
    /// This machine's name (`clawmetry.node`).
    pub node: String,
    /// This machine's fleet node id (`clawmetry.node.id`: a receiver keeps each node's series
    /// apart by it, whatever the names).
    pub node_id: Option<String>,
    /// Fleet over OTLP (`--fleet-wire otlp`): the fleet key, sent as `X-Clawmetry-Fleet-Key`,
    /// and this node's id; each export then also carries the node's fleet summary (the JSON
    /// report's fields, as the resource attribute `clawmetry.fleet.summary`) for the central's
    /// Fleet view. Never for `--otlp-export`: the key is not for third-party collectors.
    pub fleet: Option<FleetNode>,
}

#[derive(Debug, Clone)]
pub struct FleetNode {
    pub key: String,
}

/// `url` without user info and query (what `/api/health` and the log may show: a key in the
/// URL stays out of them).
pub fn public_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = if path.is_empty() { String::new() } else { format!("/{path}") };
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

impl Exporter {
    pub fn metrics_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/v1/metrics") {
            base.to_string()
        } else {
            format!("{base}/v1/metrics")
        }
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// Per (model, agent): tokens by kind, calls and cost, over every hourly cell of the index.
fn totals(index: &Index) -> BTreeMap<(String, String), crate::state::Cell> {
    let st = index.read();
    st.usage_by_model_agent()
        .into_iter()
        .map(|((m, a), c)| {
            ((st.models.name(m).to_string(), st.agents.get(a as usize).map_or_else(String::new, |n| n.to_string())), c)
        })
        .collect()
}

/// One export: every series, cumulative from `start_ns` to `now_ns`; with `fleet`, the node's
/// fleet summary as resource attributes.
pub fn request(
    index: &Index,
    node: &str,
    node_id: Option<&str>,
    fleet: Option<u64>,
    start_ns: u64,
    now_ns: u64,
) -> ExportMetricsServiceRequest {
    let by = totals(index);
    let attrs = |model: &str, agent: &str| {
        let (provider, id) = model.split_once('/').unwrap_or(("", model));
        let mut v = vec![kv("gen_ai.request.model", id), kv("gen_ai.agent.name", agent)];
        if !provider.is_empty() {
            v.push(kv("gen_ai.provider.name", provider));
        }
        v
    };
    let mut hist = Vec::new();
    let mut cost = Vec::new();
    let mut calls = Vec::new();
    for ((model, agent), c) in &by {
        for (kind, tokens) in [
            ("input", c.usage.input),
            ("output", c.usage.output),
            ("cache_read", c.usage.cache_read),
            ("cache_write", c.usage.cache_write),
        ] {
            let mut a = attrs(model, agent);
            a.push(kv("gen_ai.token.type", kind));
            hist.push(HistogramDataPoint {
                attributes: a,
                start_time_unix_nano: start_ns,
                time_unix_nano: now_ns,
                count: c.calls,
                sum: Some(tokens as f64),
                bucket_counts: vec![c.calls],
                explicit_bounds: Vec::new(),
                ..Default::default()
            });
        }
        let point = |v: number_data_point::Value| NumberDataPoint {
            attributes: attrs(model, agent),
            start_time_unix_nano: start_ns,
            time_unix_nano: now_ns,
            value: Some(v),
            ..Default::default()
        };
        cost.push(point(number_data_point::Value::AsDouble(c.usage.cost)));
        calls.push(point(number_data_point::Value::AsInt(c.calls.min(i64::MAX as u64) as i64)));
    }
    let cumulative = AggregationTemporality::Cumulative as i32;
    let sum = |name: &str, unit: &str, description: &str, data_points| Metric {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
        data: Some(metric::Data::Sum(Sum { data_points, aggregation_temporality: cumulative, is_monotonic: true })),
        ..Default::default()
    };
    let metrics = vec![
        Metric {
            name: "gen_ai.client.token.usage".into(),
            unit: "{token}".into(),
            description: "Tokens used by model calls (count: calls, sum: tokens), by token type.".into(),
            data: Some(metric::Data::Histogram(Histogram { data_points: hist, aggregation_temporality: cumulative })),
            ..Default::default()
        },
        sum("clawmetry.cost.usd", "USD", "Cost of model calls in USD.", cost),
        sum("clawmetry.model_calls", "{call}", "Model calls.", calls),
    ];
    let host = crate::system::host_name().unwrap_or_default();
    let mut attributes = vec![
        kv("service.name", "clawmetry"),
        kv("service.version", index.version),
        kv("host.name", &host),
        kv("clawmetry.node", node),
    ];
    if let Some(id) = node_id {
        attributes.push(kv("clawmetry.node.id", id));
        if let Some(interval) = fleet {
            let mut summary = crate::fleet::summary(index, node, id);
            summary["intervalSeconds"] = interval.into();
            attributes.push(kv(FLEET_SUMMARY, &summary.to_string()));
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "clawmetry".into(),
                    version: index.version.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// How the exports go, for `/api/health` (`otlpExport`): one exporter per process.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    url: String,
    exports: u64,
    failures: u64,
    last_ok_ms: Option<i64>,
    last_error: Option<String>,
}

/// Per role: `export` (`--otlp-export`) and `fleet` (`--fleet-wire otlp`).
static STATUS: std::sync::Mutex<BTreeMap<&'static str, Status>> = std::sync::Mutex::new(BTreeMap::new());

fn note(role: &'static str, result: Result<(), String>) {
    let mut all = crate::sync::lock(&STATUS);
    let s = all.entry(role).or_default();
    match result {
        Ok(()) => {
            s.exports += 1;
            s.last_ok_ms = Some(crate::timefmt::now_ms());
            s.last_error = None;
        }
        Err(e) => {
            s.failures += 1;
            s.last_error = Some(e);
        }
    }
}

/// An exporter's state (`null` when that role does not run).
pub fn status_json(role: &str) -> serde_json::Value {
    crate::sync::lock(&STATUS).get(role).map_or(serde_json::Value::Null, |s| serde_json::json!(s))
}

/// Starts the exporter thread.
pub fn spawn(index: Arc<Index>, cfg: Exporter) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("otlp-export".into()).spawn(move || run(index, cfg))
}

fn post(agent: &ureq::Agent, cfg: &Exporter, url: &str, body: Vec<u8>) -> Result<(), String> {
    let mut req = agent.post(url).header("Content-Type", "application/x-protobuf");
    for (k, v) in &cfg.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(f) = &cfg.fleet {
        req = req.header(crate::fleet::KEY_HEADER, f.key.as_str());
    }
    let shown = public_url(url);
    // The error's own text may quote the URL: only its public form is kept.
    let resp = req.send(body).map_err(|e| format!("{shown}: {}", e.to_string().replace(url, &shown)))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        let text = resp.into_body().read_to_string().unwrap_or_default();
        let text = crate::sources::transcript::short(&text, 200).to_string();
        Err(format!("{shown}: HTTP {status} {}", crate::redact::text(&text)))
    }
}

fn run(index: Arc<Index>, cfg: Exporter) {
    let agent = crate::fleet::outbound_agent(Duration::from_secs(20));
    let url = cfg.metrics_url();
    let role = if cfg.fleet.is_some() { "fleet" } else { "export" };
    crate::sync::lock(&STATUS).entry(role).or_default().url = public_url(&url);
    // Half-counted totals during the cold index would look like a reset to receivers.
    let t0 = std::time::Instant::now();
    while !index.read().health.ready && t0.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let now_ns = || crate::timefmt::now_ms().max(0) as u64 * 1_000_000;
    let start_ns = now_ns();
    let mut backoff = Duration::from_secs(1);
    let mut failing = false;
    loop {
        let fleet = cfg.fleet.as_ref().map(|_| cfg.interval.as_secs());
        let body = request(&index, &cfg.node, cfg.node_id.as_deref(), fleet, start_ns, now_ns().max(start_ns + 1))
            .encode_to_vec();
        match post(&agent, &cfg, &url, body) {
            Ok(()) => {
                if failing {
                    eprintln!("clawmetry: otlp export to {url} works again");
                }
                failing = false;
                backoff = Duration::from_secs(1);
                note(role, Ok(()));
                std::thread::sleep(cfg.interval);
            }
            Err(e) => {
                if !failing {
                    eprintln!("clawmetry: otlp export failed ({e}); trying again with backoff");
                }
                failing = true;
                note(role, Err(e));
                // The next attempt sends a fresh snapshot (it holds everything this one did).
                std::thread::sleep(backoff.min(cfg.interval));
                backoff = (backoff * 2).min(Duration::from_secs(300));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_url_is_the_base_plus_the_signal_path() {
        let e = |url: &str| Exporter {
            url: url.into(),
            headers: vec![],
            interval: Duration::from_secs(1),
            node: "n".into(),
            node_id: None,
            fleet: None,
        };
        assert_eq!(e("http://c:4318").metrics_url(), "http://c:4318/v1/metrics");
        assert_eq!(e("http://c:4318/").metrics_url(), "http://c:4318/v1/metrics");
        assert_eq!(e("http://c:4318/v1/metrics").metrics_url(), "http://c:4318/v1/metrics");
        assert_eq!(e("https://api.example/otlp").metrics_url(), "https://api.example/otlp/v1/metrics");
        assert_eq!(
            public_url("https://u:key@c.example:4318/v1/metrics?api_key=s#x"),
            "https://c.example:4318/v1/metrics"
        );
        assert_eq!(public_url("http://c:4318"), "http://c:4318");
    }
}
