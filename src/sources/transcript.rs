//! Decoder for transcript lines: the `type`-tagged JSON that OpenClaw writes one per line in
//! `sessions/<id>.jsonl` and one per row in `transcript_events`.
//!
//! Two entry points: [`summarize`] (fast, for the index: counts, usage, model, tools; text is
//! skipped, not copied) and [`render`] (the whole event as the API shows it, for transcript
//! pages). Both take bytes and do no I/O. Old spellings (`tool_use` blocks, `input_tokens`
//! usage, v1 headers without ids) are accepted.

use crate::model::{LineKind, LineSummary, Usage};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Why a line could not be decoded.
#[derive(Debug, PartialEq)]
pub enum DecodeError {
    NotUtf8,
    Malformed(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            DecodeError::NotUtf8 => write!(f, "line is not valid UTF-8"),
            DecodeError::Malformed(e) => write!(f, "malformed JSON: {e}"),
        }
    }
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    timestamp: Option<Stamp>,
    #[serde(borrow)]
    message: Option<RawMessage<'a>>,
    #[serde(borrow)]
    provider: Option<Cow<'a, str>>,
    #[serde(rename = "modelId", borrow)]
    model_id: Option<Cow<'a, str>>,
    /// A compaction's context size before it.
    #[serde(rename = "tokensBefore", default, deserialize_with = "lenient_u64")]
    tokens_before: u64,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    content: Option<Content>,
    #[serde(borrow)]
    provider: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(rename = "stopReason", alias = "stop_reason", borrow)]
    stop_reason: Option<Cow<'a, str>>,
    usage: Option<RawUsage>,
    #[serde(rename = "isError", alias = "is_error")]
    is_error: Option<bool>,
    /// A tool result's facts; only `exitCode` is read.
    details: Option<RawDetails>,
    timestamp: Option<Stamp>,
}

/// What a tool result's `details` say of how its command ended (`exec`: OpenClaw marks a
/// command that ran but exited non-zero `isError: false`, `details.exitCode: 3`).
#[derive(Deserialize)]
struct RawDetails {
    #[serde(rename = "exitCode")]
    exit_code: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct RawUsage {
    #[serde(alias = "input_tokens", alias = "prompt_tokens", default, deserialize_with = "lenient_u64")]
    input: u64,
    #[serde(alias = "output_tokens", alias = "completion_tokens", default, deserialize_with = "lenient_u64")]
    output: u64,
    #[serde(
        rename = "cacheRead",
        alias = "cache_read_input_tokens",
        alias = "cache_read",
        alias = "cache_read_tokens",
        default,
        deserialize_with = "lenient_u64"
    )]
    cache_read: u64,
    #[serde(
        rename = "cacheWrite",
        alias = "cache_creation_input_tokens",
        alias = "cache_write",
        alias = "cache_write_tokens",
        default,
        deserialize_with = "lenient_u64"
    )]
    cache_write: u64,
    #[serde(rename = "reasoningTokens", alias = "reasoning_tokens", default, deserialize_with = "lenient_u64")]
    reasoning: u64,
    cost: Option<RawCost>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCost {
    Object { total: Option<f64> },
    Number(f64),
    Other(IgnoredAny),
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a token count")
        }
        fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E>(self, v: i64) -> Result<u64, E> {
            Ok(v.max(0) as u64)
        }
        fn visit_f64<E>(self, v: f64) -> Result<u64, E> {
            Ok(if v.is_finite() && v > 0.0 { v.round() as u64 } else { 0 })
        }
        fn visit_unit<E>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_none<E>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_str<E>(self, v: &str) -> Result<u64, E> {
            Ok(v.trim().parse().unwrap_or(0))
        }
    }
    d.deserialize_any(V)
}

/// A timestamp: ISO string or epoch number (ms, or seconds when small).
struct Stamp(Option<i64>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp")
            }
            fn visit_str<E>(self, v: &str) -> Result<Stamp, E> {
                Ok(Stamp(crate::timefmt::parse_iso_ms(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Stamp, E> {
                Ok(Stamp(Some(epoch_to_ms(v as f64))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp(Some(epoch_to_ms(v as f64))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Stamp, E> {
                Ok(Stamp(if v.is_finite() { Some(epoch_to_ms(v)) } else { None }))
            }
            fn visit_unit<E>(self) -> Result<Stamp, E> {
                Ok(Stamp(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Stamp, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Stamp(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Stamp, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Stamp(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Stamp, E> {
                Ok(Stamp(None))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn epoch_to_ms(v: f64) -> i64 {
    if v < 1e11 {
        (v * 1000.0) as i64
    } else {
        v as i64
    }
}

/// Message content: a plain string, or blocks of which only type, tool name and a little
/// text are kept.
#[derive(Default)]
struct Content {
    text: Option<String>,
    tools: Vec<String>,
    spawn_task: Option<String>,
}

const USER_TEXT_KEEP: usize = 2000;

#[derive(Deserialize)]
struct RawBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    /// Raw: only the first text block is unescaped (tool results and replies run to many KB).
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(alias = "input", borrow)]
    arguments: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Content;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("message content")
            }
            fn visit_str<E>(self, v: &str) -> Result<Content, E> {
                Ok(Content { text: Some(truncate(v, USER_TEXT_KEEP).to_string()), ..Default::default() })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Content, A::Error> {
                let mut c = Content::default();
                while let Some(b) = s.next_element::<RawBlock<'de>>()? {
                    match b.kind.as_deref() {
                        Some("toolCall") | Some("tool_use") | Some("toolUse") | Some("function_call") => {
                            let name = b.name.as_deref().unwrap_or("?").to_string();
                            if let Some(task) = spawn_task(&name, b.arguments) {
                                c.spawn_task = Some(task);
                            }
                            c.tools.push(name);
                        }
                        Some("text") | Some("input_text") if c.text.is_none() => {
                            c.text = b
                                .text
                                .and_then(|t| serde_json::from_str::<Cow<str>>(t.get()).ok())
                                .map(|t| truncate(&t, USER_TEXT_KEEP).to_string());
                        }
                        _ => {}
                    }
                }
                Ok(c)
            }
            fn visit_unit<E>(self) -> Result<Content, E> {
                Ok(Content::default())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Content, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Content::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The task of a sub-agent spawn: `sessions_spawn {task}` directly, or wrapped by OpenClaw's
/// tool search as `tool_call {id: "sessions_spawn", args: {task}}`.
fn spawn_task(name: &str, args: Option<&RawValue>) -> Option<String> {
    if name != "sessions_spawn" && name != "tool_call" {
        return None;
    }
    let v: Value = serde_json::from_str(args?.get()).ok()?;
    let v = if let Value::String(s) = &v { serde_json::from_str(s).ok()? } else { v };
    let inner = if name == "tool_call" {
        if v.get("id").and_then(Value::as_str) != Some("sessions_spawn")
            && v.get("name").and_then(Value::as_str) != Some("sessions_spawn")
        {
            return None;
        }
        v.get("args").or_else(|| v.get("arguments"))?
    } else {
        &v
    };
    inner.get("task").and_then(Value::as_str).map(|t| truncate(t, USER_TEXT_KEEP).to_string())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// True for OpenClaw's own injected assistant lines, which are not model calls.
pub fn is_injected(provider: Option<&str>, model: Option<&str>, stop: Option<&str>) -> bool {
    provider == Some("openclaw")
        || matches!(model, Some("delivery-mirror") | Some("gateway-injected"))
        || stop == Some("injected")
}

/// The line as text: borrowed when it is valid UTF-8 (checked by `str::from_utf8`, whose ASCII
/// fast path is several times quicker than `String::from_utf8_lossy`'s chunk walk: the walk
/// alone was 14 % of a cold index), else with U+FFFD for each bad sequence.
pub(super) fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Decodes one line for the index.
pub fn summarize(bytes: &[u8]) -> Result<LineSummary, DecodeError> {
    // Text lossily, numbers strictly: a bad byte in a message costs its character, not the
    // line's usage (counted as a non-UTF-8 line all the same).
    let text = utf8_lossy(bytes);
    let lossy = matches!(text, Cow::Owned(_));
    // A line that is neither UTF-8 nor JSON is counted as the former.
    let mut out = summarize_text(&text).map_err(|e| if lossy { DecodeError::NotUtf8 } else { e })?;
    out.lossy = lossy;
    Ok(out)
}

fn summarize_text(text: &str) -> Result<LineSummary, DecodeError> {
    let raw: RawLine = serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let line_ts = raw.timestamp.and_then(|s| s.0);
    let kind = raw.kind.as_deref().unwrap_or("");
    let mut out = match kind {
        "session" => LineSummary::new(LineKind::Session { id: raw.id.map(|c| c.into_owned()).unwrap_or_default() }),
        "model_change" => {
            let model = match (raw.provider.as_deref(), raw.model_id.as_deref()) {
                (Some(p), Some(m)) => format!("{p}/{m}"),
                (None, Some(m)) => m.to_string(),
                _ => String::new(),
            };
            if model.is_empty() {
                LineSummary::new(LineKind::Meta)
            } else {
                LineSummary::new(LineKind::ModelChange { model })
            }
        }
        "message" => return Ok(summarize_message(raw.message, line_ts)),
        "compaction" => {
            let mut l = LineSummary::new(LineKind::Meta);
            l.compaction_before = Some(raw.tokens_before.min(crate::model::MAX_EVENT_TOKENS));
            l
        }
        "custom"
        | "custom_message"
        | "thinking_level_change"
        | "branch_summary"
        | "label"
        | "session_info"
        | "bashExecution" => LineSummary::new(LineKind::Meta),
        _ => LineSummary::new(LineKind::Unknown),
    };
    out.ts_ms = line_ts;
    Ok(out)
}

fn summarize_message(msg: Option<RawMessage>, line_ts: Option<i64>) -> LineSummary {
    let Some(m) = msg else {
        let mut l = LineSummary::new(LineKind::Unknown);
        l.ts_ms = line_ts;
        return l;
    };
    let kind = match m.role.as_deref() {
        Some("user") => LineKind::User,
        Some("assistant") => LineKind::Assistant,
        Some("toolResult") | Some("tool") | Some("tool_result") => LineKind::ToolResult,
        Some(_) => LineKind::Meta,
        None => LineKind::Unknown,
    };
    let mut l = LineSummary::new(kind);
    l.ts_ms = line_ts.or_else(|| m.timestamp.and_then(|s| s.0));
    let content = m.content.unwrap_or_default();
    match l.kind {
        LineKind::User => l.user_text = content.text,
        LineKind::Assistant => {
            l.tool_calls = content.tools;
            l.spawn_task = content.spawn_task;
            l.injected = is_injected(m.provider.as_deref(), m.model.as_deref(), m.stop_reason.as_deref());
            l.stop_reason = m.stop_reason.map(Cow::into_owned);
            let model = match (m.provider.as_deref(), m.model.as_deref()) {
                (Some(p), Some(md)) => Some(format!("{p}/{md}")),
                (None, Some(md)) => Some(md.to_string()),
                _ => None,
            };
            if let Some(u) = m.usage {
                let (cost, has_cost) = match u.cost {
                    Some(RawCost::Object { total: Some(t) }) => (t, true),
                    Some(RawCost::Number(t)) => (t, true),
                    _ => (0.0, false),
                };
                let usage = Usage {
                    input: u.input,
                    output: u.output,
                    cache_read: u.cache_read,
                    cache_write: u.cache_write,
                    reasoning: u.reasoning,
                    cost,
                };
                l.usage = Some((usage, has_cost));
                l.model = Some(model.unwrap_or_else(|| "unknown".into()));
            } else {
                l.model = model;
            }
        }
        LineKind::ToolResult => {
            l.is_error = m.is_error.unwrap_or(false);
            l.exit_failed = m
                .details
                .as_ref()
                .and_then(|d| d.exit_code.as_ref())
                .and_then(serde_json::Value::as_i64)
                .is_some_and(|c| c != 0);
        }
        _ => {}
    }
    l
}

/// What the transcript filter asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KindFilter {
    All,
    Messages,
    Tools,
    Thinking,
    Errors,
}

impl KindFilter {
    pub fn parse(s: &str) -> Option<KindFilter> {
        Some(match s {
            "" | "all" => KindFilter::All,
            "messages" | "message" => KindFilter::Messages,
            "tools" | "tool" | "tool_calls" => KindFilter::Tools,
            "thinking" => KindFilter::Thinking,
            "errors" | "error" => KindFilter::Errors,
            _ => return None,
        })
    }
}

/// Decodes one line into the event the API shows: `{seq, id, parentId, ts, kind, ...}` with
/// `kind` one of `session, user, assistant, tool_result, model_change, thinking_level, custom,
/// compaction, unknown`. Assistant content becomes `blocks` of `text`, `thinking`, `tool_call`.
/// Returns None when the event does not pass the filter.
pub fn render(bytes: &[u8], seq: u64, filter: KindFilter) -> Result<Option<Value>, DecodeError> {
    let text = utf8_lossy(bytes);
    let v: Value = serde_json::from_str(&text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    // The line's fields are moved into the event, not copied (a page is mostly long texts).
    let mut v = match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut out = Map::new();
    out.insert("seq".into(), json!(seq));
    for k in ["id", "parentId"] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    let ts = match v.get("timestamp") {
        Some(Value::String(s)) => crate::timefmt::parse_iso_ms(s),
        Some(Value::Number(n)) => n.as_f64().map(epoch_to_ms),
        _ => None,
    };
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let (kind, pass) = match ty.as_str() {
        "session" => {
            take(&mut v, &mut out, &["version", "cwd"]);
            out.insert("sessionId".into(), v.remove("id").unwrap_or(Value::Null));
            ("session", filter == KindFilter::All)
        }
        "model_change" => {
            take(&mut v, &mut out, &["provider", "modelId"]);
            ("model_change", filter == KindFilter::All)
        }
        "thinking_level_change" => {
            take(&mut v, &mut out, &["thinkingLevel"]);
            ("thinking_level", filter == KindFilter::All)
        }
        "compaction" => {
            take(&mut v, &mut out, &["summary", "tokensBefore", "firstKeptEntryId"]);
            ("compaction", filter == KindFilter::All)
        }
        "custom" | "custom_message" => {
            take(&mut v, &mut out, &["customType", "data", "content"]);
            ("custom", filter == KindFilter::All)
        }
        "message" => {
            let msg = match v.remove("message") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            render_message(msg, &mut out, filter)
        }
        _ => {
            out.insert("type".into(), json!(ty));
            ("unknown", filter == KindFilter::All)
        }
    };
    if !pass {
        return Ok(None);
    }
    out.insert("kind".into(), json!(kind));
    out.insert("ts".into(), ts.map_or(Value::Null, |t| json!(t)));
    Ok(Some(Value::Object(out)))
}

/// Moves `keys` of `v` (those it has) into `out`.
fn take(v: &mut Map<String, Value>, out: &mut Map<String, Value>, keys: &[&str]) {
    for k in keys {
        if let Some(x) = v.remove(*k) {
            out.insert((*k).into(), x);
        }
    }
}

fn render_message(mut m: Map<String, Value>, out: &mut Map<String, Value>, filter: KindFilter) -> (&'static str, bool) {
    let role = m.get("role").and_then(Value::as_str).unwrap_or("").to_string();
    let blocks = render_blocks(m.remove("content"));
    let has = |t: &str| blocks.iter().any(|b| b["type"] == t);
    match role.as_str() {
        "user" => {
            take(&mut m, out, &["provenance"]);
            out.insert("blocks".into(), Value::Array(blocks));
            ("user", matches!(filter, KindFilter::All | KindFilter::Messages))
        }
        "assistant" => {
            let provider = m.get("provider").and_then(Value::as_str);
            let model = m.get("model").and_then(Value::as_str);
            let stop = m.get("stopReason").and_then(Value::as_str);
            let injected = is_injected(provider, model, stop);
            let error = stop == Some("error");
            take(&mut m, out, &["provider", "model", "stopReason", "errorMessage", "api"]);
            if injected {
                out.insert("injected".into(), json!(true));
            }
            if let Some(u) = m.get("usage") {
                out.insert("usage".into(), normalize_usage(u));
            }
            let pass = match filter {
                KindFilter::All => true,
                KindFilter::Messages => has("text"),
                KindFilter::Tools => has("tool_call"),
                KindFilter::Thinking => has("thinking"),
                KindFilter::Errors => error,
            };
            out.insert("blocks".into(), Value::Array(blocks));
            ("assistant", pass)
        }
        "toolResult" | "tool" | "tool_result" => {
            let error = m.get("isError").and_then(Value::as_bool).unwrap_or(false);
            take(&mut m, out, &["toolCallId", "toolName", "isError", "details"]);
            out.insert("blocks".into(), Value::Array(blocks));
            (
                "tool_result",
                matches!(filter, KindFilter::All | KindFilter::Tools) || (filter == KindFilter::Errors && error),
            )
        }
        _ => {
            take(&mut m, out, &["customType", "display", "details"]);
            out.insert("role".into(), json!(role));
            out.insert("blocks".into(), Value::Array(blocks));
            ("custom", filter == KindFilter::All)
        }
    }
}

fn normalize_usage(u: &Value) -> Value {
    let n = |keys: &[&str]| keys.iter().find_map(|k| u.get(*k).and_then(Value::as_f64)).unwrap_or(0.0);
    let cost = match u.get("cost") {
        Some(Value::Object(c)) => c.get("total").cloned().unwrap_or(Value::Null),
        Some(Value::Number(x)) => Value::Number(x.clone()),
        _ => Value::Null,
    };
    json!({
        "input": n(&["input", "input_tokens"]) as u64,
        "output": n(&["output", "output_tokens"]) as u64,
        "cacheRead": n(&["cacheRead", "cache_read_input_tokens"]) as u64,
        "cacheWrite": n(&["cacheWrite", "cache_creation_input_tokens"]) as u64,
        "reasoning": n(&["reasoningTokens", "reasoning_tokens"]) as u64,
        "cost": cost,
    })
}

/// A block's field, moved out (`Null` when it has none).
fn field(b: &mut Value, k: &str) -> Value {
    b.as_object_mut().and_then(|o| o.remove(k)).unwrap_or(Value::Null)
}

/// The first of `keys` the block has, moved out.
fn first_field(b: &mut Value, keys: &[&str]) -> Value {
    keys.iter().find(|k| b.get(**k).is_some()).map_or(Value::Null, |k| field(b, k))
}

fn render_blocks(content: Option<Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|mut b| {
                let t = b.get("type").and_then(Value::as_str).unwrap_or("").to_string();
                match t.as_str() {
                    "text" | "input_text" | "output_text" => json!({"type": "text", "text": field(&mut b, "text")}),
                    "thinking" | "reasoning" => {
                        json!({"type": "thinking", "text": first_field(&mut b, &["thinking", "text"])})
                    }
                    "toolCall" | "tool_use" | "toolUse" | "function_call" => json!({"type": "tool_call",
                        "id": field(&mut b, "id"),
                        "name": field(&mut b, "name"),
                        "arguments": first_field(&mut b, &["arguments", "input"])}),
                    "image" => json!({"type": "image", "mimeType": field(&mut b, "mimeType")}),
                    _ => json!({"type": t, "raw": b}),
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Real lines from OpenClaw 2026.9.6 (tests/fixtures/lab-2026.9, sub-agent session bb15634a).
    pub(crate) const ASSISTANT_TOOL: &str = r#"{"type": "message", "id": "3abba9d6", "parentId": "01974049", "timestamp": "2026-11-24T21:06:10.754Z", "message": {"role": "assistant", "content": [{"type": "toolCall", "id": "call_2d90bf22c498410096fa", "name": "exec", "arguments": {"command": "echo sub-agent-exec-ok; hostname"}}], "api": "openai-completions", "provider": "fakellm", "model": "fake-model", "usage": {"input": 4211, "output": 18, "cacheRead": 12544, "cacheWrite": 0, "reasoningTokens": 0, "totalTokens": 16773, "cost": {"input": 0.012633, "output": 0.00027, "cacheRead": 0.0037632, "cacheWrite": 0, "total": 0.0166662}}, "stopReason": "toolUse", "timestamp": 1795554370746}}"#;
    pub(crate) const TOOL_RESULT: &str = r#"{"type": "message", "id": "5aabf78a", "parentId": "3abba9d6", "timestamp": "2026-11-24T21:06:10.798Z", "message": {"role": "toolResult", "toolCallId": "call_2d90bf22c498410096fa", "toolName": "exec", "content": [{"type": "text", "text": "sub-agent-exec-ok\nvm"}], "details": {"status": "completed", "exitCode": 0}, "isError": false, "timestamp": 1795554370798}}"#;

    #[test]
    fn assistant_usage_model_and_tools() {
        let l = summarize(ASSISTANT_TOOL.as_bytes()).unwrap();
        assert_eq!(l.kind, LineKind::Assistant);
        assert_eq!(l.model.as_deref(), Some("fakellm/fake-model"));
        let (u, has_cost) = l.usage.unwrap();
        assert!(has_cost);
        assert_eq!((u.input, u.output, u.cache_read), (4211, 18, 12544));
        assert!((u.cost - 0.0166662).abs() < 1e-12);
        assert_eq!(l.tool_calls, vec!["exec"]);
        assert_eq!(l.ts_ms, Some(1_795_554_370_754));
        assert_eq!(l.stop_reason.as_deref(), Some("toolUse"));
    }

    #[test]
    fn tool_result_and_render() {
        let l = summarize(TOOL_RESULT.as_bytes()).unwrap();
        assert_eq!(l.kind, LineKind::ToolResult);
        assert!(!l.is_error && !l.exit_failed);
        // OpenClaw 2026.9.6's exec of a command that exits 3 (the lab's TOOL_FAIL): not an
        // error to OpenClaw, a failed command to us; a non-number exit code is no failure.
        let failed = TOOL_RESULT.replace("\"exitCode\": 0", "\"exitCode\": 3");
        let l = summarize(failed.as_bytes()).unwrap();
        assert!(!l.is_error && l.exit_failed);
        let odd = TOOL_RESULT.replace("\"exitCode\": 0", "\"exitCode\": \"3\"");
        assert!(!summarize(odd.as_bytes()).unwrap().exit_failed);
        let ev = render(TOOL_RESULT.as_bytes(), 7, KindFilter::Tools).unwrap().unwrap();
        assert_eq!(ev["kind"], "tool_result");
        assert_eq!(ev["toolName"], "exec");
        assert_eq!(ev["blocks"][0]["text"], "sub-agent-exec-ok\nvm");
        assert!(render(TOOL_RESULT.as_bytes(), 7, KindFilter::Thinking).unwrap().is_none());
        let ev = render(ASSISTANT_TOOL.as_bytes(), 6, KindFilter::Tools).unwrap().unwrap();
        assert_eq!(ev["blocks"][0]["type"], "tool_call");
        assert_eq!(ev["usage"]["cacheRead"], 12544);
    }

    #[test]
    fn spawn_task_through_tool_search_wrapper() {
        let line = r#"{"type":"message","timestamp":"2026-11-24T21:06:10Z","message":{"role":"assistant","content":[{"type":"toolCall","id":"c1","name":"tool_call","arguments":{"id":"sessions_spawn","args":{"task":"Sub-agent job: check the host","label":"fake-sub"}}}],"provider":"fakellm","model":"fake-model","usage":{"input":1,"output":2}}}"#;
        let l = summarize(line.as_bytes()).unwrap();
        assert_eq!(l.spawn_task.as_deref(), Some("Sub-agent job: check the host"));
        let (_, has_cost) = l.usage.unwrap();
        assert!(!has_cost);
    }

    #[test]
    fn legacy_spellings_and_injected() {
        let line = r#"{"type":"message","timestamp":"2026-01-27T10:00:00Z","message":{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"read","input":{}}],"provider":"anthropic","model":"claude-x","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3,"cache_creation_input_tokens":2}}}"#;
        let l = summarize(line.as_bytes()).unwrap();
        let (u, _) = l.usage.unwrap();
        assert_eq!((u.input, u.output, u.cache_read, u.cache_write), (10, 5, 3, 2));
        assert_eq!(l.tool_calls, vec!["read"]);
        let inj = r#"{"type":"message","message":{"role":"assistant","content":[{"type":"text","text":"hi"}],"provider":"openclaw","model":"delivery-mirror","usage":{"input":0,"output":0}}}"#;
        assert!(summarize(inj.as_bytes()).unwrap().injected);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(summarize(b"\xff\xfe{").unwrap_err(), DecodeError::NotUtf8);
        // A bad byte inside a message's text: the line is read lossily and its usage kept.
        let mut line =
            br#"{"type":"message","message":{"role":"assistant","content":[{"type":"text","text":"caf"#.to_vec();
        line.extend_from_slice(b"\xe9");
        line.extend_from_slice(
            br#""}],"provider":"p","model":"m","usage":{"input":7,"output":3,"cost":{"total":0.5}}}}"#,
        );
        let l = summarize(&line).unwrap();
        assert!(l.lossy);
        assert_eq!(l.usage.map(|u| (u.0.input, u.0.output)), Some((7, 3)));
        assert!(render(&line, 0, KindFilter::All).unwrap().is_some());
        // Absurd figures are cut to what one model call can claim.
        let huge = br#"{"type":"message","message":{"role":"assistant","content":"x","provider":"p","model":"m","usage":{"input":18446744073709551615,"output":1,"cost":{"total":1e308}}}}"#;
        let mut t = crate::model::Tally::default();
        t.add_line(&summarize(huge).unwrap(), &|_, _| 0.0);
        assert_eq!(t.usage.input, crate::model::MAX_EVENT_TOKENS);
        assert_eq!(t.usage.cost, crate::model::MAX_EVENT_COST);
        assert!(matches!(summarize(b"{\"type\":\"message\""), Err(DecodeError::Malformed(_))));
        assert!(matches!(summarize(b"[1,2]"), Err(DecodeError::Malformed(_))));
        let deep = "[".repeat(100_000);
        assert!(summarize(deep.as_bytes()).is_err());
        let l = summarize(br#"{"type":"brand_new_kind","x":1}"#).unwrap();
        assert_eq!(l.kind, LineKind::Unknown);
        let l = summarize(br#"{"type":"message","message":{"role":"assistant","usage":"weird","content":42}}"#);
        assert!(l.is_err() || l.unwrap().kind == LineKind::Assistant);
    }
}
