//! `GET /api/transcript/<id>` (a page of full events, filterable by kind) and
//! `GET /api/timeline?session=<id>` (every event condensed to one line). Transcripts are read
//! from disk on demand; the index keeps only aggregates.

use super::sessions::summary;
use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::sources::event_json::Renderer;
use crate::sources::lines::lines_at;
pub(super) use crate::sources::lines::{for_each_line, Location};
use crate::sources::transcript::{render, short, DecodeError, KindFilter};
use serde_json::{json, Value};
use std::io::Write;

pub(super) fn locate(ctx: &Ctx, id: &str) -> Option<(Location, Value)> {
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let s = st.session(id)?;
    Some((Location::of(s), summary(&st, s, now)))
}

pub fn page(req: &Req, ctx: &Ctx, id: &str) -> Answer {
    let filter = match KindFilter::parse(req.q("kind").unwrap_or("all")) {
        Some(f) => f,
        None => return Err(ApiError::bad_request("kind: use all, messages, tools, thinking or errors")),
    };
    let (limit, offset) = (req.q_num("limit", 100, 1, 1000)? as u64, req.q_num("offset", 0, 0, i64::MAX)? as u64);
    let Some((loc, session)) = locate(ctx, id) else {
        return Err(ApiError::not_found(&format!("session {id:?}")));
    };
    // The events are written straight into the answer (`sources/event_json.rs`): `events` is the
    // first of its keys in serde_json's order, and the others follow once they are known.
    let mut body = Vec::with_capacity(64 * 1024);
    body.extend_from_slice(b"{\"events\":[");
    let mut shown = 0;
    let mut r = Renderer::default();
    let (total, malformed) = if filter == KindFilter::All {
        // Every line is an event: the page starts at line `offset`, found by the line marks.
        window(&loc, offset, limit, |seq, line| put(&mut r, &mut body, &mut shown, line, seq, filter) == Ok(true))?
    } else {
        filtered(&loc, offset, limit, |seq, line, on_page| {
            if on_page {
                put(&mut r, &mut body, &mut shown, line, seq, filter)
            } else {
                r.passes(line, seq, filter)
            }
        })?
    };
    // The other keys in that order too; the session's summary is written as it is (through
    // `json!` it would be copied first).
    let kind = serde_json::to_string(req.q("kind").unwrap_or("all")).unwrap_or_default();
    let _ =
        write!(body, "],\"kind\":{kind},\"limit\":{limit},\"malformed\":{malformed},\"offset\":{offset},\"session\":");
    if serde_json::to_writer(&mut body, &session).is_err() {
        return Err(ApiError::unavailable("cannot write the answer"));
    }
    let _ = write!(body, ",\"total\":{total}}}");
    Ok(Resp::json_bytes(body))
}

/// Appends the event of `line` to the `shown` events of `body`, when it passes `filter`;
/// whether it did.
fn put(
    r: &mut Renderer,
    body: &mut Vec<u8>,
    shown: &mut u64,
    line: &[u8],
    seq: u64,
    filter: KindFilter,
) -> Result<bool, DecodeError> {
    let start = body.len();
    if *shown > 0 {
        body.push(b',');
    }
    let written = r.write(body, line, seq, filter);
    if written == Ok(true) {
        *shown += 1;
    } else {
        body.truncate(start);
    }
    written
}

/// The events `offset..offset + limit` of an unfiltered page: `take(seq, line)` renders one
/// line and says whether it was an event (a malformed line is not, and the page takes the next
/// one instead). Returns the page's `total` and `malformed`: every readable line counts as an
/// event but those found malformed on the page; malformed are those and the unreadable lines.
fn window(
    loc: &Location,
    offset: u64,
    limit: u64,
    mut take: impl FnMut(u64, &[u8]) -> bool,
) -> Result<(u64, u64), ApiError> {
    let (mut taken, mut bad) = (0u64, 0u64);
    let count = lines_at(loc, offset, |seq, line| {
        if take(seq, line) {
            taken += 1;
        } else {
            bad += 1;
        }
        taken < limit
    })
    .map_err(|e| ApiError::unavailable(format!("cannot read the transcript: {e}")))?;
    Ok((count.lines - bad, count.unreadable + bad))
}

/// A page of the events that pass the filter: every line is rendered to know whether it does.
/// `take(seq, line, on_page)` says whether the line's event passes, and writes it when it is
/// one of the page's (`offset..offset + limit` of those that pass).
fn filtered(
    loc: &Location,
    offset: u64,
    limit: u64,
    mut take: impl FnMut(u64, &[u8], bool) -> Result<bool, DecodeError>,
) -> Result<(u64, u64), ApiError> {
    let mut total = 0u64;
    let mut malformed = 0u64;
    let result = for_each_line(loc, |seq, line| {
        let Ok(line) = line else {
            malformed += 1;
            return;
        };
        match take(seq, line, total >= offset && total < offset + limit) {
            Ok(true) => total += 1,
            Ok(false) => {}
            Err(_) => malformed += 1,
        }
    });
    result.map_err(|e| ApiError::unavailable(format!("cannot read the transcript: {e}")))?;
    Ok((total, malformed))
}

/// One short line per event: what happened, when, tokens and cost.
pub fn timeline(req: &Req, ctx: &Ctx) -> Answer {
    let Some(id) = req.q("session") else {
        return Err(ApiError::bad_request("missing ?session=<id>"));
    };
    let (limit, offset) = (req.q_num("limit", 500, 1, 5000)? as u64, req.q_num("offset", 0, 0, i64::MAX)? as u64);
    let Some((loc, session)) = locate(ctx, id) else {
        return Err(ApiError::not_found(&format!("session {id:?}")));
    };
    let mut items = Vec::new();
    let (total, malformed) = window(&loc, offset, limit, |seq, line| match render(line, seq, KindFilter::All) {
        Ok(Some(mut ev)) => {
            crate::redact::value(&mut ev);
            items.push(condense(&ev));
            true
        }
        _ => false,
    })?;
    Ok(Resp::json(&json!({"session": session, "total": total, "offset": offset, "limit": limit,
        "malformed": malformed, "items": items})))
}

fn condense(ev: &Value) -> Value {
    let kind = ev["kind"].as_str().unwrap_or("");
    let blocks = ev["blocks"].as_array().cloned().unwrap_or_default();
    let text: String =
        blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join(" ");
    let tools: Vec<Value> = blocks.iter().filter(|b| b["type"] == "tool_call").map(|b| b["name"].clone()).collect();
    let summary = match kind {
        "model_change" => {
            format!("model → {}/{}", ev["provider"].as_str().unwrap_or(""), ev["modelId"].as_str().unwrap_or(""))
        }
        "tool_result" => format!("{} → {}", ev["toolName"].as_str().unwrap_or("tool"), short(&text, 160)),
        "custom" => ev["customType"].as_str().unwrap_or("custom").to_string(),
        _ => short(&text, 300),
    };
    let error = ev["stopReason"] == "error" || ev["isError"] == true;
    json!({
        "seq": ev["seq"], "ts": ev["ts"], "kind": kind, "summary": summary, "tools": tools,
        "model": ev["model"], "usage": ev.get("usage"), "error": error,
        "thinking": blocks.iter().any(|b| b["type"] == "thinking"),
    })
}
