//! `GET /api/transcript/<id>` (a page of full events, filterable by kind) and
//! `GET /api/timeline?session=<id>` (every event condensed to one line). Transcripts are read
//! from disk on demand; the index keeps only aggregates.

use super::sessions::summary;
use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::sources::archives::{self, Archive};
use crate::sources::jsonl_store::LineReader;
use crate::sources::sqlite_store;
use crate::sources::transcript::{render, short, KindFilter};
use crate::state::Store;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;

/// Where a session's lines are, copied out of the state so no lock is held during I/O.
pub(super) struct Location {
    store: Store,
    files: Vec<PathBuf>,
    db: Option<std::sync::Arc<std::path::Path>>,
    archive: Option<std::sync::Arc<Archive>>,
    id: String,
}

/// What receives a transcript's lines: (seq, the raw line or why it could not be read).
type LineSink<'a> = dyn FnMut(u64, Result<&[u8], String>) + 'a;

/// Calls `f(seq, line)` for every line of an archived transcript, streamed (one buffer).
fn for_each_archive_line(a: &Archive, f: &mut LineSink) -> Result<(), String> {
    let mut r = archives::open(a)?;
    let mut reader = LineReader::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut seq = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{}: {e}", a.name)),
        };
        reader.feed(&buf[..n], |line| {
            f(seq, Ok(line));
            seq += 1;
        });
    }
    Ok(())
}

/// Calls `f(seq, line)` for every raw line of a session, in order: from its live source, else
/// (deleted, reset, archived) from the archive OpenClaw keeps.
pub(super) fn for_each_line(loc: &Location, mut f: impl FnMut(u64, Result<&[u8], String>)) -> Result<(), String> {
    let lines = std::cell::Cell::new(0u64);
    let mut count = |seq: u64, line: Result<&[u8], String>| {
        lines.set(lines.get() + 1);
        f(seq, line)
    };
    let live = match loc.store {
        Store::Sqlite | Store::Jsonl => for_each_live_line(loc, &mut count),
        _ => Ok(()),
    };
    if lines.get() == 0 {
        if let Some(a) = &loc.archive {
            return for_each_archive_line(a, &mut count);
        }
    }
    live
}

fn for_each_live_line(loc: &Location, f: &mut LineSink) -> Result<(), String> {
    let mut seq = 0u64;
    match loc.store {
        Store::Sqlite => {
            let db = loc.db.as_ref().ok_or("session has no database")?;
            let conn = sqlite_store::open(db)?;
            sqlite_store::session_events(&conn, &loc.id, |s, ev| {
                let s = s.max(0) as u64;
                match ev {
                    Ok(b) => f(s, Ok(&b)),
                    Err(e) => f(s, Err(e)),
                }
            })?;
        }
        Store::Jsonl => {
            let mut files = loc.files.clone();
            // Older generations (reset/deleted) first, by modification time.
            files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            for p in files {
                let mut file = match crate::sources::open_file(&p) {
                    Ok(f) => f,
                    // Renamed or removed since it was indexed: its lines are elsewhere or gone.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    // Unreadable (permissions, I/O): say so instead of an empty transcript.
                    Err(e) => return Err(format!("{}: {e}", p.display())),
                };
                let mut reader = LineReader::default();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    reader.feed(&buf[..n], |line| {
                        f(seq, Ok(line));
                        seq += 1;
                    });
                }
            }
        }
        // Telemetry has no transcript: its model calls are in the index only; an archive is
        // read by the caller; a purged session's transcript is gone.
        Store::None | Store::Otlp | Store::Archive | Store::Ledger => {}
    }
    Ok(())
}

impl Location {
    pub(super) fn of(s: &crate::state::Session) -> Location {
        Location {
            store: s.store.clone(),
            files: s.files.clone(),
            db: s.db.clone(),
            archive: s.archive.clone(),
            id: s.id.clone(),
        }
    }
}

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
    let mut events = Vec::new();
    let mut total = 0u64;
    let mut malformed = 0u64;
    let result = for_each_line(&loc, |seq, line| {
        let line = match line {
            Ok(l) => l,
            Err(_) => {
                malformed += 1;
                return;
            }
        };
        // Unfiltered pages need no parsing outside the window.
        if filter == KindFilter::All && (total < offset || total >= offset + limit) {
            total += 1;
            return;
        }
        match render(line, seq, filter) {
            Ok(Some(mut ev)) => {
                if total >= offset && total < offset + limit {
                    crate::redact::value(&mut ev);
                    events.push(ev);
                }
                total += 1;
            }
            Ok(None) => {}
            Err(_) => malformed += 1,
        }
    });
    if let Err(e) = result {
        return Err(ApiError::unavailable(format!("cannot read the transcript: {e}")));
    }
    Ok(Resp::json(&json!({"session": session, "kind": req.q("kind").unwrap_or("all"), "total": total,
        "offset": offset, "limit": limit, "malformed": malformed, "events": events})))
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
    let mut total = 0u64;
    let mut malformed = 0u64;
    let result = for_each_line(&loc, |seq, line| {
        let Ok(line) = line else {
            malformed += 1;
            return;
        };
        if total < offset || total >= offset + limit {
            total += 1;
            return;
        }
        match render(line, seq, KindFilter::All) {
            Ok(Some(mut ev)) => {
                crate::redact::value(&mut ev);
                items.push(condense(&ev));
                total += 1;
            }
            Ok(None) => {}
            Err(_) => malformed += 1,
        }
    });
    if let Err(e) = result {
        return Err(ApiError::unavailable(format!("cannot read the transcript: {e}")));
    }
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
