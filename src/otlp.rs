//! OTLP ingestion: decodes OTLP/HTTP exports (protobuf or JSON, optionally gzip), turns GenAI
//! and OpenClaw model-usage telemetry into usage records of the one event model, and keeps the
//! rest in bounded ring buffers for the OTLP view.
//!
//! Usage is read from spans first: a span whose `gen_ai.operation.name` is a model call (or an
//! OpenClaw `openclaw.model.usage` span) with token attributes is one model call. Token metrics
//! (`gen_ai.client.token.usage`, `openclaw.tokens`) count only for services that send no such
//! spans and are not OpenClaw itself (whose transcripts are indexed already). A usage record
//! keyed by a session id that a transcript also has is dropped by the index (transcripts win).

use crate::model::Usage;
use foldhash::{HashMap, HashSet};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint,
};
use prost::Message;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;

/// Largest inflated export.
pub const MAX_INFLATED: u64 = 64 << 20;
const KEEP_SPANS: usize = 2000;
const KEEP_LOGS: usize = 1000;
const KEEP_METRICS: usize = 500;
const KEEP_SERIES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From a Content-Type header; None for types OTLP/HTTP does not define.
    pub fn from_content_type(ct: Option<&str>) -> Option<Encoding> {
        let ct = ct.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match ct.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }
}

/// Inflates a gzip body, refusing more than [`MAX_INFLATED`] bytes.
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e}"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(format!("inflated export larger than {MAX_INFLATED} bytes"));
    }
    Ok(out)
}

/// The number of an OTLP enum value written by name.
fn enum_number(field: &str, name: &str) -> Option<i64> {
    const KINDS: [&str; 6] = [
        "SPAN_KIND_UNSPECIFIED",
        "SPAN_KIND_INTERNAL",
        "SPAN_KIND_SERVER",
        "SPAN_KIND_CLIENT",
        "SPAN_KIND_PRODUCER",
        "SPAN_KIND_CONSUMER",
    ];
    const CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
    const TEMPORALITY: [&str; 3] =
        ["AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"];
    let table: &[&str] = match field {
        "kind" => &KINDS,
        "code" => &CODES,
        "aggregationTemporality" => &TEMPORALITY,
        "severityNumber" => {
            let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
            let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
            let digits = rest.trim_start_matches(char::is_alphabetic);
            let level = levels.iter().position(|l| rest.starts_with(l))? as i64;
            let n: i64 = if digits.is_empty() { 1 } else { digits.parse().ok()? };
            return Some(level * 4 + n);
        }
        _ => return None,
    };
    table.iter().position(|x| *x == name).map(|i| i as i64)
}

/// OTLP/JSON requires hex trace and span ids and enums as numbers, but proto3's generic JSON
/// mapping (what protobuf's own JSON printers emit) writes bytes as base64 and enums by
/// name: accept both.
fn normalize_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if let Value::String(name) = x {
                    if let Some(n) = enum_number(k, name) {
                        *x = Value::from(n);
                        continue;
                    }
                }
                if matches!(k.as_str(), "traceId" | "spanId" | "parentSpanId") {
                    if let Value::String(s) = x {
                        let hex = s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit());
                        if !s.is_empty() && !hex {
                            if let Some(bytes) = crate::codec::base64_decode_any(s) {
                                *s = crate::codec::hex(&bytes);
                            }
                        }
                    }
                } else {
                    normalize_ids(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_ids),
        _ => {}
    }
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(bytes: &[u8], enc: Encoding) -> Result<T, String> {
    match enc {
        Encoding::Protobuf => T::decode(bytes).map_err(|e| format!("not an OTLP protobuf message: {e}")),
        Encoding::Json => {
            let mut v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
            normalize_ids(&mut v);
            serde_json::from_value(v).map_err(|e| format!("not an OTLP JSON message: {e}"))
        }
    }
}

pub fn decode_traces(b: &[u8], e: Encoding) -> Result<ExportTraceServiceRequest, String> {
    decode(b, e)
}
pub fn decode_metrics(b: &[u8], e: Encoding) -> Result<ExportMetricsServiceRequest, String> {
    decode(b, e)
}
pub fn decode_logs(b: &[u8], e: Encoding) -> Result<ExportLogsServiceRequest, String> {
    decode(b, e)
}

/// Client text as kept: secrets redacted (see `redact.rs`). Everything the buffers and the
/// usage records hold that a client wrote goes through here (or [`any_json`]) once, on ingest.
fn kept(s: &str) -> String {
    crate::redact::text(s).into_owned()
}

/// An attribute value as JSON, as kept for display (strings redacted).
fn any_json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(kept(s)),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(any_json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values.iter().map(|k| (k.key.clone(), k.value.as_ref().map_or(Value::Null, any_json))).collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex(b)),
        _ => Value::Null,
    }
}

struct Attrs<'a>(Vec<&'a [KeyValue]>);

impl Attrs<'_> {
    fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0.iter().find_map(|list| list.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()))
    }
    fn str(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| match &self.get(k)?.value {
            Some(any_value::Value::StringValue(s)) if !s.is_empty() => Some(kept(s)),
            Some(any_value::Value::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
    }
    fn num(&self, keys: &[&str]) -> Option<f64> {
        keys.iter().find_map(|k| match &self.get(k)?.value {
            Some(any_value::Value::IntValue(i)) => Some(*i as f64),
            Some(any_value::Value::DoubleValue(d)) => Some(*d),
            Some(any_value::Value::StringValue(s)) => s.parse().ok(),
            _ => None,
        })
    }
}

fn attrs_json(list: &[KeyValue]) -> Value {
    Value::Object(list.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, any_json))).collect())
}

use crate::codec::hex;

/// One model call learnt from telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// OpenClaw's session id or `gen_ai.conversation.id`; else `otlp:<service>:<trace>`.
    pub session_id: String,
    pub agent: String,
    pub service: String,
    pub model: String,
    pub ts_ms: i64,
    pub usage: Usage,
    /// Whether `usage.cost` came with the telemetry (else the price table prices it).
    pub has_cost: bool,
    /// `span` or `metric`.
    pub source: &'static str,
    /// Model calls it stands for: 1, but for a clawmetry export (its calls are a metric of
    /// their own, `clawmetry.model_calls`).
    pub calls: u64,
    /// The session's totals for this model so far (a clawmetry export), not an increment.
    pub absolute: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanRec {
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub start_ms: f64,
    pub end_ms: f64,
    pub status: i32,
    pub status_message: String,
    pub attributes: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRec {
    pub service: String,
    pub time_ms: f64,
    pub severity: String,
    pub body: Value,
    pub attributes: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricRec {
    pub service: String,
    pub kind: &'static str,
    pub unit: String,
    pub description: String,
    /// Latest value per attribute set (sum for histograms), at most 20 series shown.
    pub series: Vec<(Value, f64)>,
    pub points: u64,
    pub last_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRec {
    pub spans: u64,
    pub metric_points: u64,
    pub logs: u64,
    pub usage_records: u64,
    pub last_seen_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub requests: u64,
    pub bad_requests: u64,
    pub spans: u64,
    pub metric_points: u64,
    pub logs: u64,
    pub rejected: u64,
    pub usage_records: u64,
    pub usage_from_metrics_skipped: u64,
}

/// What the OTLP receiver keeps: bounded, newest last.
#[derive(Default)]
pub struct Buffers {
    pub spans: VecDeque<SpanRec>,
    pub logs: VecDeque<LogRec>,
    pub metrics: BTreeMap<String, MetricRec>,
    pub services: BTreeMap<String, ServiceRec>,
    pub counters: Counters,
    /// Services that report model usage as spans (their token metrics would double-count).
    span_usage_services: HashSet<String>,
    /// Last cumulative value per metric series, to turn running totals into deltas.
    cumulative: HashMap<String, (u64, f64)>,
}

/// The fleet summaries (`clawmetry.fleet.summary`, JSON) the resources of an export carry.
pub fn fleet_summaries(req: &ExportMetricsServiceRequest) -> Vec<Value> {
    req.resource_metrics
        .iter()
        .filter_map(|rm| rm.resource.as_ref())
        .filter_map(|r| Attrs(vec![&r.attributes]).str(&[crate::otlp_export::FLEET_SUMMARY]))
        .filter_map(|s| serde_json::from_str::<Value>(&s).ok().filter(Value::is_object))
        .collect()
}

fn service_of(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(kept(s)),
            _ => None,
        })
        .unwrap_or_else(|| "unknown_service".into())
}

/// Model-call operations (GenAI semantic conventions); agent and tool spans are not.
fn is_model_call(op: Option<&str>) -> bool {
    matches!(op, None | Some("chat") | Some("text_completion") | Some("generate_content") | Some("completion"))
}

fn model_name(a: &Attrs) -> Option<String> {
    let model = a.str(&["gen_ai.response.model", "gen_ai.request.model", "openclaw.model"])?;
    let provider = a.str(&["gen_ai.provider.name", "gen_ai.system", "openclaw.provider"]);
    Some(match provider {
        Some(p) if !model.contains('/') => format!("{p}/{model}"),
        _ => model,
    })
}

/// The outcome of one export: accepted and rejected items and the usage found.
#[derive(Debug, Default)]
pub struct Ingested {
    pub rejected: i64,
    pub message: String,
    pub usage: Vec<UsageRecord>,
}

impl Buffers {
    fn service(&mut self, name: &str, now_ms: f64) -> &mut ServiceRec {
        let s = self.services.entry(name.to_string()).or_default();
        s.last_seen_ms = now_ms;
        s
    }

    pub fn ingest_traces(&mut self, req: &ExportTraceServiceRequest, now_ms: f64) -> Ingested {
        let mut out = Ingested::default();
        self.counters.requests += 1;
        for rs in &req.resource_spans {
            let service = service_of(rs.resource.as_ref());
            let res_attrs: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    if span.trace_id.len() != 16 || span.span_id.len() != 8 {
                        out.rejected += 1;
                        continue;
                    }
                    self.counters.spans += 1;
                    self.service(&service, now_ms).spans += 1;
                    let a = Attrs(vec![&span.attributes, res_attrs]);
                    if let Some(u) = span_usage(&a, span, &service) {
                        self.span_usage_services.insert(service.clone());
                        self.service(&service, now_ms).usage_records += 1;
                        self.counters.usage_records += 1;
                        out.usage.push(u);
                    }
                    self.spans.push_back(SpanRec {
                        service: service.clone(),
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        name: kept(&span.name),
                        kind: span.kind,
                        start_ms: span.start_time_unix_nano as f64 / 1e6,
                        end_ms: span.end_time_unix_nano as f64 / 1e6,
                        status: span.status.as_ref().map_or(0, |s| s.code),
                        status_message: span.status.as_ref().map_or(String::new(), |s| kept(&s.message)),
                        attributes: attrs_json(&span.attributes),
                    });
                    while self.spans.len() > KEEP_SPANS {
                        self.spans.pop_front();
                    }
                }
            }
        }
        if out.rejected > 0 {
            self.counters.rejected += out.rejected as u64;
            out.message = "spans need a 16-byte trace id and an 8-byte span id".into();
        }
        out
    }

    pub fn ingest_metrics(
        &mut self,
        req: &ExportMetricsServiceRequest,
        now_ms: f64,
        openclaw_indexed: bool,
    ) -> Ingested {
        let mut out = Ingested::default();
        self.counters.requests += 1;
        for rm in &req.resource_metrics {
            let mut service = service_of(rm.resource.as_ref());
            let res_attrs: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            // Another clawmetry's export (`otlp_export.rs`): its tokens, cost and calls come
            // as three metrics and make one record per model and agent, cost as sent. Each
            // exporting node is a service of its own (`clawmetry/<node>`): the same model and
            // agent on two nodes are two series, never one running total.
            let exporter =
                rm.scope_metrics.iter().any(|sm| sm.metrics.iter().any(|m| m.name == "clawmetry.model_calls"));
            if exporter {
                let a = Attrs(vec![res_attrs]);
                let name = a.str(&["clawmetry.node"]).filter(|n| !n.is_empty());
                // Keyed by the node's id when it sends one: two nodes may share a name.
                let id = a.str(&["clawmetry.node.id"]).filter(|n| !n.is_empty());
                service = match (name, id) {
                    (Some(n), Some(id)) => kept(&format!("{service}/{n}@{}", id.chars().take(12).collect::<String>())),
                    (Some(n), None) => kept(&format!("{service}/{n}")),
                    (None, Some(id)) => kept(&format!("{service}/{id}")),
                    (None, None) => service,
                };
            }
            let mut grouped: BTreeMap<(String, String), (Usage, u64, u64)> = BTreeMap::new();
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let (kind, points) = match &m.data {
                        Some(metric::Data::Gauge(g)) => ("gauge", points(&g.data_points, 0)),
                        Some(metric::Data::Sum(s)) => ("sum", points(&s.data_points, s.aggregation_temporality)),
                        Some(metric::Data::Histogram(h)) => {
                            ("histogram", points(&h.data_points, h.aggregation_temporality))
                        }
                        Some(metric::Data::ExponentialHistogram(h)) => {
                            ("exponential_histogram", points(&h.data_points, h.aggregation_temporality))
                        }
                        _ => ("summary", Vec::new()),
                    };
                    let name = kept(&m.name);
                    let token_metric = matches!(m.name.as_str(), "gen_ai.client.token.usage" | "openclaw.tokens");
                    let openclaw_own = service == "openclaw" || m.name.starts_with("openclaw.");
                    for &Point { attrs, value, start, time, cumulative } in &points {
                        self.counters.metric_points += 1;
                        self.service(&service, now_ms).metric_points += 1;
                        let aj = attrs_json(attrs);
                        let series_key = format!("{service}\u{1}{name}\u{1}{aj}");
                        // Running totals become increments; a new start time is a reset.
                        let delta = if cumulative {
                            let prev = self.cumulative.insert(series_key.clone(), (start, value));
                            match prev {
                                Some((s, v)) if s == start && value >= v => value - v,
                                _ => value,
                            }
                        } else {
                            value
                        };
                        if self.cumulative.len() > KEEP_SERIES {
                            self.cumulative.clear();
                        }
                        let rec = self.metrics.entry(name.clone()).or_insert_with(|| MetricRec {
                            service: service.clone(),
                            kind,
                            unit: m.unit.clone(),
                            description: kept(&m.description),
                            series: Vec::new(),
                            points: 0,
                            last_ms: 0.0,
                        });
                        rec.points += 1;
                        rec.last_ms = time as f64 / 1e6;
                        match rec.series.iter().position(|(k, _)| *k == aj) {
                            Some(i) => rec.series[i].1 = value,
                            None if rec.series.len() < 20 => rec.series.push((aj, value)),
                            None => {}
                        }
                        let exported = matches!(
                            m.name.as_str(),
                            "gen_ai.client.token.usage" | "clawmetry.cost.usd" | "clawmetry.model_calls"
                        );
                        // A clawmetry export's running totals are taken as totals: what the
                        // index already holds of them is subtracted when they are applied
                        // (`api/otlp.rs`), so a node's or this instance's restart, a second
                        // road from the same node, or a lost export never counts twice.
                        if exporter && exported {
                            let delta = value;
                            if delta > 0.0 {
                                let a = Attrs(vec![attrs, res_attrs]);
                                let agent =
                                    a.str(&["gen_ai.agent.name", "openclaw.agent"]).unwrap_or_else(|| service.clone());
                                let model = model_name(&a).unwrap_or_else(|| "unknown".into());
                                let g = grouped.entry((agent, model)).or_insert((Usage::default(), 0, time));
                                g.2 = g.2.max(time);
                                let n = delta.round() as u64;
                                match (m.name.as_str(), a.str(&["gen_ai.token.type"]).as_deref()) {
                                    ("clawmetry.cost.usd", _) => g.0.cost += delta,
                                    ("clawmetry.model_calls", _) => g.1 += n,
                                    (_, Some("input")) => g.0.input += n,
                                    (_, Some("output")) => g.0.output += n,
                                    (_, Some("cache_read")) => g.0.cache_read += n,
                                    (_, Some("cache_write")) => g.0.cache_write += n,
                                    _ => {}
                                }
                            }
                            continue;
                        }
                        if !token_metric || delta <= 0.0 {
                            continue;
                        }
                        if self.span_usage_services.contains(&service) || (openclaw_own && openclaw_indexed) {
                            self.counters.usage_from_metrics_skipped += 1;
                            continue;
                        }
                        let a = Attrs(vec![attrs, res_attrs]);
                        let kind_attr = a.str(&["gen_ai.token.type", "openclaw.token"]).unwrap_or_default();
                        let tokens = delta.round() as u64;
                        let mut u = Usage::default();
                        match kind_attr.as_str() {
                            "input" | "prompt" => u.input = tokens,
                            "output" | "completion" => u.output = tokens,
                            "cache_read" => u.cache_read = tokens,
                            "cache_write" => u.cache_write = tokens,
                            _ => continue, // totals would count twice
                        }
                        let agent = a.str(&["gen_ai.agent.name", "openclaw.agent"]).unwrap_or_else(|| service.clone());
                        out.usage.push(UsageRecord {
                            session_id: format!("otlp:{service}:metrics"),
                            agent,
                            service: service.clone(),
                            model: model_name(&a).unwrap_or_else(|| "unknown".into()),
                            ts_ms: (time / 1_000_000) as i64,
                            usage: u,
                            has_cost: false,
                            source: "metric",
                            calls: 1,
                            absolute: false,
                        });
                        self.counters.usage_records += 1;
                    }
                    if self.metrics.len() > KEEP_METRICS {
                        if let Some(oldest) = self
                            .metrics
                            .iter()
                            .min_by(|a, b| a.1.last_ms.total_cmp(&b.1.last_ms))
                            .map(|(k, _)| k.clone())
                        {
                            self.metrics.remove(&oldest);
                        }
                    }
                }
            }
            for ((agent, model), (usage, calls, time)) in grouped {
                out.usage.push(UsageRecord {
                    // One session per node and agent (a session has one agent).
                    session_id: format!("otlp:{service}:{agent}"),
                    agent,
                    service: service.clone(),
                    model,
                    ts_ms: (time / 1_000_000) as i64,
                    usage,
                    has_cost: true,
                    source: "metric",
                    calls,
                    absolute: true,
                });
                self.counters.usage_records += 1;
            }
        }
        out
    }

    pub fn ingest_logs(&mut self, req: &ExportLogsServiceRequest, now_ms: f64) -> Ingested {
        self.counters.requests += 1;
        for rl in &req.resource_logs {
            let service = service_of(rl.resource.as_ref());
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    self.counters.logs += 1;
                    self.service(&service, now_ms).logs += 1;
                    let t = if r.time_unix_nano > 0 { r.time_unix_nano } else { r.observed_time_unix_nano };
                    self.logs.push_back(LogRec {
                        service: service.clone(),
                        time_ms: t as f64 / 1e6,
                        severity: if r.severity_text.is_empty() {
                            r.severity_number.to_string()
                        } else {
                            kept(&r.severity_text)
                        },
                        body: r.body.as_ref().map_or(Value::Null, any_json),
                        attributes: attrs_json(&r.attributes),
                    });
                    while self.logs.len() > KEEP_LOGS {
                        self.logs.pop_front();
                    }
                }
            }
        }
        Ingested::default()
    }
}

/// One metric data point as the buffers use it: its attributes, its value (the sum of a
/// histogram), start and time, and whether the value is a running total.
struct Point<'a> {
    attrs: &'a [KeyValue],
    value: f64,
    start: u64,
    time: u64,
    cumulative: bool,
}

/// The data points of the metric kinds that carry a value and a temporality alike.
trait DataPoint {
    fn point(&self, cumulative: bool) -> Point<'_>;
}

macro_rules! data_point {
    ($t:ty, |$p:ident| $value:expr) => {
        impl DataPoint for $t {
            fn point(&self, cumulative: bool) -> Point<'_> {
                let $p = self;
                Point {
                    attrs: &$p.attributes,
                    value: $value,
                    start: $p.start_time_unix_nano,
                    time: $p.time_unix_nano,
                    cumulative,
                }
            }
        }
    };
}

data_point!(NumberDataPoint, |p| num(&p.value));
data_point!(HistogramDataPoint, |p| p.sum.unwrap_or(0.0));
data_point!(ExponentialHistogramDataPoint, |p| p.sum.unwrap_or(0.0));

/// `AGGREGATION_TEMPORALITY_CUMULATIVE`: the values are running totals.
const CUMULATIVE: i32 = 2;

fn points<P: DataPoint>(ps: &[P], temporality: i32) -> Vec<Point<'_>> {
    ps.iter().map(|p| p.point(temporality == CUMULATIVE)).collect()
}

fn num(v: &Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => 0.0,
    }
}

/// The usage a span reports, if it is a model call with token counts.
fn span_usage(a: &Attrs, span: &opentelemetry_proto::tonic::trace::v1::Span, service: &str) -> Option<UsageRecord> {
    let openclaw_usage = span.name == "openclaw.model.usage";
    if !openclaw_usage && !is_model_call(a.str(&["gen_ai.operation.name"]).as_deref()) {
        return None;
    }
    let n = |keys: &[&str]| a.num(keys).map(|x| x.max(0.0).round() as u64);
    let input = n(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "openclaw.tokens.input"]);
    let output = n(&["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "openclaw.tokens.output"]);
    if input.is_none() && output.is_none() {
        return None;
    }
    let cache_read = n(&[
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "openclaw.tokens.cache_read",
    ]);
    let cache_write = n(&[
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "openclaw.tokens.cache_write",
    ]);
    let cost = a.num(&["gen_ai.usage.cost", "openclaw.cost.usd"]);
    let usage = Usage {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
        cache_read: cache_read.unwrap_or(0),
        cache_write: cache_write.unwrap_or(0),
        reasoning: n(&["gen_ai.usage.reasoning_tokens"]).unwrap_or(0),
        cost: cost.unwrap_or(0.0),
    };
    let session_id = a
        .str(&["openclaw.sessionId", "gen_ai.conversation.id", "session.id"])
        .unwrap_or_else(|| format!("otlp:{service}:{}", hex(&span.trace_id)));
    Some(UsageRecord {
        session_id,
        agent: a.str(&["gen_ai.agent.name", "openclaw.agent"]).unwrap_or_else(|| service.to_string()),
        service: service.to_string(),
        model: model_name(a).unwrap_or_else(|| "unknown".into()),
        ts_ms: (span.end_time_unix_nano.max(span.start_time_unix_nano) / 1_000_000) as i64,
        usage,
        has_cost: cost.is_some(),
        source: "span",
        calls: 1,
        absolute: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    fn export(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", any_value::Value::StringValue("bot".into()))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    fn chat_span(op: &str, input: i64) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: format!("{op} gpt-4o"),
            start_time_unix_nano: 1_795_554_370_000_000_000,
            end_time_unix_nano: 1_795_554_371_000_000_000,
            attributes: vec![
                kv("gen_ai.operation.name", any_value::Value::StringValue(op.into())),
                kv("gen_ai.request.model", any_value::Value::StringValue("gpt-4o".into())),
                kv("gen_ai.provider.name", any_value::Value::StringValue("openai".into())),
                kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(input)),
                kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(7)),
                kv("gen_ai.conversation.id", any_value::Value::StringValue("conv-1".into())),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn chat_spans_are_usage_agent_spans_are_not() {
        let mut b = Buffers::default();
        let got = b.ingest_traces(&export(vec![chat_span("chat", 100), chat_span("invoke_agent", 999)]), 0.0);
        assert_eq!(got.usage.len(), 1);
        let u = &got.usage[0];
        assert_eq!((u.usage.input, u.usage.output), (100, 7));
        assert_eq!(u.model, "openai/gpt-4o");
        assert_eq!(u.session_id, "conv-1");
        assert_eq!(u.ts_ms, 1_795_554_371_000);
        assert_eq!(b.spans.len(), 2);
    }

    #[test]
    fn protobuf_and_json_round_trip_with_base64_ids() {
        let req = export(vec![chat_span("chat", 5)]);
        let bytes = req.encode_to_vec();
        assert_eq!(decode_traces(&bytes, Encoding::Protobuf).unwrap(), req);
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("01010101010101010101010101010101"), "OTLP JSON uses hex ids: {json}");
        assert_eq!(decode_traces(json.as_bytes(), Encoding::Json).unwrap(), req);
        let b64 = json
            .replace("01010101010101010101010101010101", "AQEBAQEBAQEBAQEBAQEBAQ==")
            .replace("0202020202020202", "AgICAgICAgI=");
        assert_eq!(decode_traces(b64.as_bytes(), Encoding::Json).unwrap(), req);
        assert!(decode_traces(b"\xff\xff\xff", Encoding::Protobuf).is_err());
        assert!(decode_traces(b"{\"resourceSpans\": 7}", Encoding::Json).is_err());
    }

    #[test]
    fn bad_ids_are_rejected_as_partial_success() {
        let mut span = chat_span("chat", 5);
        span.trace_id = vec![1; 3];
        let mut b = Buffers::default();
        let got = b.ingest_traces(&export(vec![span, chat_span("chat", 1)]), 0.0);
        assert_eq!(got.rejected, 1);
        assert_eq!(got.usage.len(), 1);
    }

    #[test]
    fn client_text_is_kept_redacted() {
        let key = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA-0123456789";
        let mut span = chat_span("chat", 5);
        span.name = format!("call with {key}");
        span.attributes.push(kv("note", any_value::Value::StringValue(format!("key {key} used"))));
        span.attributes[5] = kv("gen_ai.conversation.id", any_value::Value::StringValue(format!("c/{key}")));
        let mut b = Buffers::default();
        let got = b.ingest_traces(&export(vec![span]), 0.0);
        assert_eq!(got.usage[0].session_id, "c/[REDACTED]");
        assert_eq!(b.spans[0].name, "call with [REDACTED]");
        assert_eq!(b.spans[0].attributes["note"], "key [REDACTED] used");
        assert_eq!(b.spans[0].attributes["gen_ai.request.model"], "gpt-4o");
        let logs: ExportLogsServiceRequest = serde_json::from_value(serde_json::json!({"resourceLogs": [{
            "scopeLogs": [{"logRecords": [{"body": {"kvlistValue": {"values": [
                {"key": "msg", "value": {"stringValue": format!("Bearer {key}")}}]}}}]}]}]}))
        .unwrap();
        b.ingest_logs(&logs, 0.0);
        assert_eq!(b.logs[0].body, serde_json::json!({"msg": "Bearer [REDACTED]"}));
    }

    #[test]
    fn every_metric_kind_gives_its_points_and_running_totals_become_increments() {
        // Two exports of the same cumulative series (start time 1): 400 then 650 input tokens.
        let export = |sum: f64, count: u64| -> ExportMetricsServiceRequest {
            let attrs = serde_json::json!([
                {"key": "gen_ai.token.type", "value": {"stringValue": "input"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]);
            let point = serde_json::json!({"attributes": attrs, "startTimeUnixNano": "1",
                "timeUnixNano": "2000000", "count": count.to_string(), "sum": sum});
            serde_json::from_value(serde_json::json!({"resourceMetrics": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
                "scopeMetrics": [{"metrics": [
                    {"name": "gen_ai.client.token.usage", "histogram": {"aggregationTemporality": 2, "dataPoints": [point]}},
                    {"name": "q.depth", "gauge": {"dataPoints": [{"asInt": "7", "timeUnixNano": "2000000"}]}},
                    {"name": "req.count", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                        "dataPoints": [{"asDouble": sum / 10.0, "startTimeUnixNano": "1", "timeUnixNano": "2000000"}]}},
                    {"name": "latency", "exponentialHistogram": {"aggregationTemporality": 1,
                        "dataPoints": [{"sum": 1.5, "count": "3", "timeUnixNano": "2000000"}]}},
                    {"name": "old.summary", "summary": {"dataPoints": [{"sum": 9.0, "count": "1"}]}}
                ]}]}]}))
            .unwrap()
        };
        let mut b = Buffers::default();
        let first = b.ingest_metrics(&export(400.0, 1), 0.0, false);
        let second = b.ingest_metrics(&export(650.0, 2), 0.0, false);
        let input = |g: &Ingested| g.usage.iter().map(|u| u.usage.input).sum::<u64>();
        assert_eq!((input(&first), input(&second)), (400, 250));
        assert_eq!(second.usage[0].model, "gpt-4o");
        let kind = |n: &str| b.metrics[n].kind;
        assert_eq!(
            [kind("gen_ai.client.token.usage"), kind("q.depth"), kind("req.count"), kind("latency")],
            ["histogram", "gauge", "sum", "exponential_histogram"]
        );
        // Summaries carry no single value: not kept.
        assert!(!b.metrics.contains_key("old.summary"));
        let last = |n: &str| b.metrics[n].series.first().map(|s| s.1);
        assert_eq!(last("gen_ai.client.token.usage"), Some(650.0));
        assert_eq!(last("q.depth"), Some(7.0));
        assert_eq!(last("req.count"), Some(65.0));
        assert_eq!(last("latency"), Some(1.5));
        assert_eq!(b.counters.metric_points, 8);
    }

    #[test]
    fn enum_names_become_numbers() {
        assert_eq!(enum_number("kind", "SPAN_KIND_CLIENT"), Some(3));
        assert_eq!(enum_number("code", "STATUS_CODE_ERROR"), Some(2));
        assert_eq!(enum_number("aggregationTemporality", "AGGREGATION_TEMPORALITY_CUMULATIVE"), Some(2));
        assert_eq!(enum_number("severityNumber", "SEVERITY_NUMBER_WARN"), Some(13));
        assert_eq!(enum_number("severityNumber", "SEVERITY_NUMBER_ERROR3"), Some(19));
        assert_eq!(enum_number("name", "SPAN_KIND_CLIENT"), None);
    }

    #[test]
    fn gzip_limits() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello").unwrap();
        assert_eq!(gunzip(&enc.finish().unwrap()).unwrap(), b"hello");
        assert!(gunzip(b"not gzip").is_err());
    }
}
