//! `GET /api/logs?limit=N&level=L&q=TEXT[&after=CURSOR]`: the gateway's current log file.
//!
//! Without `after`, the last `limit` lines (those matching `level` and `q`). With `after` (the
//! `cursor` of the previous answer), the lines written since, at most 1 MiB at a time (`more`
//! says to ask again at once); when the next day's file has begun, the old file's last lines
//! come first (with `more`), then the new file from its start (`restarted`), and a file
//! truncated (even if written again past the cursor since) is read again from its start
//! (`restarted`). The page polls with the cursor; no line is sent twice for the same file.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::sources::logs;
use serde_json::{json, Value};

/// The most one `after` read takes from the file.
const MAX_CHUNK: usize = 1024 * 1024;

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 5000)? as usize;
    let after = match req.q("after") {
        None => None,
        Some(c) => Some(logs::Cursor::parse(c).ok_or_else(|| {
            ApiError::bad_request(format!("after={c:?} is not a cursor from /api/logs; leave it out to start"))
        })?),
    };
    let (configured, dirs) = {
        let st = ctx.index.read();
        (st.install.log_file.clone(), st.install.log_dirs.clone())
    };
    let current = logs::current_file(configured.as_deref(), &dirs);
    // The cursor's file is no longer the current one (the next day's file began): its last lines
    // first, then the new file (`more` asks for it at once).
    let old = after.filter(|c| current.as_deref().is_none_or(|f| !same_file(f, c)));
    let old = old.and_then(|c| logs::finish_old(configured.as_deref(), &dirs, &c));
    let switching = old.is_some();
    let Some(file) = old.or(current) else {
        return Ok(Resp::json(&json!({"file": null, "name": null, "lines": [], "cursor": null,
            "hint": format!("no gateway log found in {} (set logging.file in openclaw.json, or --log-dir)",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))})));
    };
    let level = req.q("level").map(str::to_ascii_uppercase);
    let q = req.q("q").map(str::to_lowercase);
    let filtered = level.is_some() || q.is_some();
    // With a filter, look further back so that `limit` matching lines can be found.
    let chunk = logs::read(&file, after, if filtered { limit * 20 } else { limit }, MAX_CHUNK)
        .map_err(|e| ApiError::unavailable(format!("cannot read {}: {e}", file.display())))?;
    let mut lines: Vec<(Value, &String)> = chunk
        .lines
        .iter()
        .map(|l| (logs::decode_line(l), l))
        .filter(|(v, _)| level.as_deref().is_none_or(|lv| v["level"].as_str() == Some(lv)))
        .filter(|(v, _)| q.as_deref().is_none_or(|q| v["message"].as_str().unwrap_or("").to_lowercase().contains(q)))
        .collect();
    if after.is_none() {
        let skip = lines.len().saturating_sub(limit);
        lines.drain(..skip);
    }
    // Link a line to the first session it names that the index knows (ids and keys alike).
    let refs: Vec<Vec<String>> = lines.iter().map(|(_, l)| logs::session_refs(l)).collect();
    let lines: Vec<Value> = {
        let st = ctx.index.read();
        lines
            .into_iter()
            .zip(refs)
            .map(|((mut v, _), refs)| {
                if let Some(s) = refs.iter().find_map(|r| st.session(r)) {
                    v["session"] = json!(s.id);
                    v["sessionKey"] = json!(s.meta.key);
                }
                v
            })
            .collect()
    };
    let mut lines = Value::Array(lines);
    crate::redact::value(&mut lines);
    let name = file.file_name().map(|n| n.to_string_lossy().to_string());
    Ok(Resp::json(&json!({"file": file, "name": name, "lines": lines, "cursor": chunk.cursor.encode(),
        "restarted": chunk.restarted, "more": chunk.more || switching})))
}

/// Whether `path` is the file a cursor names (device and inode).
fn same_file(path: &std::path::Path, c: &logs::Cursor) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == c.dev && m.ino() == c.ino)
}
