//! `POST /v1/traces`, `POST /v1/metrics`, `POST /v1/logs` (OTLP/HTTP, protobuf or JSON, gzip
//! allowed) and `GET /api/otlp` (what was received, for the OTLP view).
//!
//! Status codes follow the OTLP/HTTP specification: 200 with an `Export*ServiceResponse` (and
//! `partial_success` when items were rejected), 400 with a `google.rpc.Status` for data that
//! cannot be decoded, 415 for other media types, 413 above the body limit; responses use the
//! request's encoding.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::model::{LineKind, LineSummary, SessionMeta, Tally};
use crate::otlp::{self, Encoding, Ingested, UsageRecord};
use crate::state::Store;
use foldhash::HashMap;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use serde_json::{json, Value};

/// `google.rpc.Status`, the body of OTLP error responses.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn reply(enc: Encoding, status: u16, proto: Vec<u8>, json: Value) -> Resp {
    match enc {
        Encoding::Protobuf => Resp { status, content_type: "application/x-protobuf", body: proto, headers: Vec::new() },
        Encoding::Json => {
            let mut r = Resp::json(&json);
            r.status = status;
            r
        }
    }
}

fn bad_request(enc: Encoding, msg: &str) -> Resp {
    // gRPC code 3: INVALID_ARGUMENT.
    reply(
        enc,
        400,
        RpcStatus { code: 3, message: msg.to_string() }.encode_to_vec(),
        json!({"code": 3, "message": msg, "error": msg}),
    )
}

pub fn post(req: &Req, ctx: &Ctx, signal: &str) -> Answer {
    let Some(enc) = Encoding::from_content_type(req.header("content-type")) else {
        return Err(ApiError::new(415, "OTLP/HTTP takes Content-Type application/x-protobuf or application/json")
            .with_header("Accept-Post", "application/x-protobuf, application/json"));
    };
    // Data that cannot be decoded is answered in OTLP's own form (a `google.rpc.Status` in the
    // request's encoding), not as an API error.
    let (ingested, proto, json) = match ingest(req, ctx, signal, enc) {
        Ok(done) => done,
        Err(why) => return Ok(bad_request(enc, &why)),
    };
    apply_usage(ctx, ingested);
    ctx.index.hub.publish("otlp", json!({"signal": signal}));
    Ok(reply(enc, 200, proto, json))
}

/// Decodes one export and keeps what it carries: what was taken, and the export response
/// (protobuf and JSON); or why the data cannot be decoded.
fn ingest(req: &Req, ctx: &Ctx, signal: &str, enc: Encoding) -> Result<(Ingested, Vec<u8>, Value), String> {
    let body = match req.header("content-encoding").map(|s| s.trim().to_ascii_lowercase()) {
        None => std::borrow::Cow::Borrowed(&req.body[..]),
        Some(e) if e == "identity" => std::borrow::Cow::Borrowed(&req.body[..]),
        Some(e) if e == "gzip" => std::borrow::Cow::Owned(otlp::gunzip(&req.body)?),
        Some(e) => return Err(format!("Content-Encoding {e:?} is not supported (use gzip)")),
    };
    let now = ctx.index.now_ms() as f64;
    let openclaw_indexed = ctx.index.read().install.found;
    Ok(match signal {
        "traces" => {
            let r = otlp::decode_traces(&body, enc)?;
            let got = lock(ctx).ingest_traces(&r, now);
            let resp = ExportTraceServiceResponse {
                partial_success: (got.rejected > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: got.rejected,
                    error_message: got.message.clone(),
                }),
            };
            let j = serde_json::to_value(&resp).unwrap_or(Value::Null);
            (got, resp.encode_to_vec(), j)
        }
        "metrics" => {
            let r = otlp::decode_metrics(&body, enc)?;
            if super::nodes::has_fleet_key(req, ctx) {
                for summary in otlp::fleet_summaries(&r) {
                    if let Err(e) = super::nodes::accept_otlp(ctx, summary) {
                        eprintln!("clawmetry: fleet report over OTLP refused: {}", e.message);
                    }
                }
            }
            let got = lock(ctx).ingest_metrics(&r, now, openclaw_indexed);
            let resp = ExportMetricsServiceResponse {
                partial_success: (got.rejected > 0).then(|| ExportMetricsPartialSuccess {
                    rejected_data_points: got.rejected,
                    error_message: got.message.clone(),
                }),
            };
            let j = serde_json::to_value(&resp).unwrap_or(Value::Null);
            (got, resp.encode_to_vec(), j)
        }
        _ => {
            let r = otlp::decode_logs(&body, enc)?;
            let got = lock(ctx).ingest_logs(&r, now);
            let resp = ExportLogsServiceResponse {
                partial_success: (got.rejected > 0).then(|| ExportLogsPartialSuccess {
                    rejected_log_records: got.rejected,
                    error_message: got.message.clone(),
                }),
            };
            let j = serde_json::to_value(&resp).unwrap_or(Value::Null);
            (got, resp.encode_to_vec(), j)
        }
    })
}

fn lock(ctx: &Ctx) -> std::sync::MutexGuard<'_, otlp::Buffers> {
    crate::sync::lock(&ctx.otlp)
}

/// Adds telemetry usage to the index as sessions of store `otlp`; a session a transcript
/// already has keeps the transcript's figures.
fn apply_usage(ctx: &Ctx, got: Ingested) {
    if got.usage.is_empty() {
        return;
    }
    let prices = ctx.index.read().prices.clone();
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let mut per_session: HashMap<String, (UsageRecord, Tally)> = HashMap::default();
    for mut u in got.usage {
        if u.absolute && !minus_known(ctx, &mut u) {
            continue;
        }
        let mut line = LineSummary::new(LineKind::Assistant);
        line.ts_ms = Some(u.ts_ms);
        line.model = Some(u.model.clone());
        line.usage = Some((u.usage, u.has_cost));
        line.stop_reason = Some("stop".into());
        let e = per_session.entry(u.session_id.clone()).or_insert_with(|| (u.clone(), Tally::default()));
        e.1.add_line(&line, &cost_of);
        if u.calls != 1 {
            e.1.adjust_calls(u.ts_ms, &u.model, u.calls as i64 - 1);
        }
    }
    let mut dropped = 0;
    let ids: Vec<String> = per_session.keys().cloned().collect();
    {
        let mut st = ctx.index.write();
        for (id, (first, tally)) in per_session {
            let known = st.sessions.get(id.as_str()).is_some_and(|s| s.store != Store::None && s.store != Store::Otlp);
            if known {
                dropped += 1;
                continue;
            }
            st.apply_meta(
                &first.agent,
                vec![SessionMeta {
                    id: id.clone(),
                    label: Some(format!("{} ({})", first.service, first.source).into()),
                    model: Some(crate::model::name(&first.model)),
                    ..Default::default()
                }],
            );
            st.apply_tally(&first.agent, &id, Store::Otlp, tally);
        }
        st.health.duplicate_source_lines += dropped;
    }
    ctx.index.hub.publish("sessions", json!({"ids": ids}));
}

/// Turns a record of totals into the increment over what the index holds of its session and
/// model (tokens, cost, calls); false when nothing is new. Totals below what is held (a node
/// that forgot purged sessions) add nothing: money counted stays counted.
fn minus_known(ctx: &Ctx, u: &mut UsageRecord) -> bool {
    let st = ctx.index.read();
    if let Some(s) = st.sessions.get(u.session_id.as_str()) {
        let t = &s.tally;
        if let Some(m) = t.models.iter().position(|x| **x == *u.model) {
            let mut held = crate::model::Usage::default();
            let mut calls = 0u64;
            for h in t.hourly.iter().filter(|h| h.model == m as u32) {
                held.add(&h.usage);
                calls += h.calls as u64;
            }
            u.usage.input = u.usage.input.saturating_sub(held.input);
            u.usage.output = u.usage.output.saturating_sub(held.output);
            u.usage.cache_read = u.usage.cache_read.saturating_sub(held.cache_read);
            u.usage.cache_write = u.usage.cache_write.saturating_sub(held.cache_write);
            u.usage.reasoning = u.usage.reasoning.saturating_sub(held.reasoning);
            u.usage.cost = (u.usage.cost - held.cost).max(0.0);
            u.calls = u.calls.saturating_sub(calls);
        }
    }
    u.usage.total_tokens() > 0 || u.usage.cost > 1e-12 || u.calls > 0
}

/// `GET /api/otlp?service=S&trace=T&limit=N`: services, recent spans, metrics and logs.
pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 2000)? as usize;
    let service = req.q("service");
    let trace = req.q("trace");
    let b = lock(ctx);
    let spans: Vec<&otlp::SpanRec> = b
        .spans
        .iter()
        .rev()
        .filter(|s| service.is_none_or(|x| s.service == x) && trace.is_none_or(|t| s.trace_id == t))
        .take(limit)
        .collect();
    let logs: Vec<&otlp::LogRec> =
        b.logs.iter().rev().filter(|l| service.is_none_or(|x| l.service == x)).take(limit).collect();
    let metrics: Vec<Value> = b
        .metrics
        .iter()
        .filter(|(_, m)| service.is_none_or(|x| m.service == x))
        .map(|(name, m)| {
            let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
            v["name"] = json!(name);
            v
        })
        .collect();
    let v = json!({
        "counters": b.counters,
        "services": b.services,
        "spans": spans,
        "metrics": metrics,
        "logs": logs,
    });
    drop(b);
    Ok(Resp::json(&v))
}
