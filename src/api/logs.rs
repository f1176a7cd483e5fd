//! `GET /api/logs?limit=N&level=L&q=TEXT`: the tail of the gateway's current log file.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::sources::logs;
use serde_json::{json, Value};

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let limit = req.q_num("limit", 200, 1, 5000)? as usize;
    let (configured, dirs) = {
        let st = ctx.index.read();
        (st.install.log_file.clone(), st.install.log_dirs.clone())
    };
    let Some(file) = logs::current_file(configured.as_deref(), &dirs) else {
        return Ok(Resp::json(&json!({"file": null, "lines": [],
            "hint": format!("no gateway log found in {} (set logging.file in openclaw.json, or --log-dir)",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))})));
    };
    let level = req.q("level").map(str::to_ascii_uppercase);
    let q = req.q("q").map(str::to_lowercase);
    let filtered = level.is_some() || q.is_some();
    // With a filter, look further back so that `limit` matching lines can be found.
    let raw = logs::tail_lines(&file, if filtered { limit * 20 } else { limit })
        .map_err(|e| ApiError::unavailable(format!("cannot read {}: {e}", file.display())))?;
    let mut lines: Vec<Value> = raw
        .iter()
        .map(|l| {
            let mut v = logs::decode_line(l);
            crate::redact::value(&mut v);
            v
        })
        .filter(|v| level.as_deref().is_none_or(|lv| v["level"].as_str() == Some(lv)))
        .filter(|v| q.as_deref().is_none_or(|q| v["message"].as_str().unwrap_or("").to_lowercase().contains(q)))
        .collect();
    let skip = lines.len().saturating_sub(limit);
    lines.drain(..skip);
    Ok(Resp::json(&json!({"file": file, "lines": lines})))
}
