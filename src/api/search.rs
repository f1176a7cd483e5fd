//! `GET /api/search?q=…`: full-text search across every transcript (messages, thinking, tool
//! arguments and results, errors, compaction summaries; live, reset, deleted and archived
//! sessions of both stores). Newest hits first, each with its session, time, the event's `seq`
//! (the session page's `?event=` link) and a snippet in parts (`{text, hit}`) so that the page
//! marks the words without reading any transcript text as HTML.
//!
//! Filters: `agent`, `session` (id), `kind` (user, assistant, tool_result, compaction, custom);
//! `limit` (1–200, default 50); `before` (the `next` cursor of the previous page). The answer
//! says how far the index is (`index.state` building/ready, sessions indexed): a search during
//! the first build finds what has been read so far. Query syntax: see
//! [`crate::search::text::parse_query`]; anything else is a 400 with a sentence, never a 500.

use super::{Answer, ApiError, Ctx, Req, Resp};
use crate::search::text::parse_query;
use crate::search::Filter;
use serde_json::{json, Value};

const KINDS: [&str; 5] = ["user", "assistant", "tool_result", "compaction", "custom"];

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let q = req.q("q").unwrap_or("");
    let query = parse_query(q).map_err(ApiError::bad_request)?;
    let limit = req.q_num("limit", 50, 1, 200)? as usize;
    let before = match req.q("before").filter(|s| !s.is_empty()) {
        Some(b) => {
            Some(b.parse::<i64>().map_err(|_| ApiError::bad_request("before: use the `next` of the last answer"))?)
        }
        None => None,
    };
    let kind = req.q("kind").filter(|k| !k.is_empty());
    if let Some(k) = kind {
        if !KINDS.contains(&k) {
            return Err(ApiError::bad_request(format!("kind: use one of {}", KINDS.join(", "))));
        }
    }
    let status = ctx.search.status();
    let (items, next) = match status.state {
        "off" => return Err(ApiError::unavailable("search is off (--no-search, or no data dir to keep its index in)")),
        // The first build has not begun: nothing to look in yet.
        "waiting" => (Vec::new(), None),
        _ => {
            let filter = Filter { agent: req.q("agent"), session: req.q("session"), kind, before, limit };
            let found = ctx.search.find(&query, &filter).map_err(ApiError::unavailable)?;
            (found.items, found.next)
        }
    };
    let now = ctx.index.now_ms();
    let st = ctx.index.read();
    let items: Vec<Value> = items
        .into_iter()
        .map(|h| {
            let mut v = json!({
                "sessionId": h.session, "seq": h.seq, "ts": h.ts, "kind": h.kind, "tool": h.tool,
                "snippet": h.snippet,
            });
            if let Some(s) = st.sessions.get(h.session.as_str()) {
                let task = s.tally.first_user_text.as_deref().map(crate::model::subagent_task);
                let title = s.meta.label.as_deref().or(task).map(str::to_string);
                v["agent"] = json!(s.agent);
                v["profile"] = json!(st.profile_of(&s.agent));
                v["key"] = json!(s.meta.key);
                v["sessionKind"] = json!(s.kind());
                v["title"] = json!(title.map(|t| crate::sources::transcript::short(&t, 80)));
                v["state"] = json!(s.fate().as_str());
                v["status"] = json!(s.status(now, None).status);
            }
            v
        })
        .collect();
    drop(st);
    Ok(Resp::json(&json!({
        "query": q, "words": query.words, "items": items,
        "next": next.map(|n| n.to_string()), "index": ctx.search.status_json(),
    })))
}
