//! `GET /api/memory`: the agents' workspace memory files (`?agent=A`; `?q=TEXT` keeps the files
//! whose name or text holds it, case-insensitive); `?agent=A&file=NAME` returns one file's text.
//! Only names the listing produced are opened, and only for reading.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::sources::memory;
use serde_json::json;

const MAX_TEXT: u64 = 2 * 1024 * 1024;

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let agents: Vec<(String, Option<std::path::PathBuf>)> = {
        let st = ctx.index.read();
        st.install.agents.iter().map(|a| (a.id.clone(), a.workspace.clone())).collect()
    };
    let mut files = Vec::new();
    for (id, ws) in &agents {
        if req.q("agent").is_some_and(|a| a != id) {
            continue;
        }
        if let Some(ws) = ws {
            files.extend(memory::list(id, ws));
        }
    }
    if let Some(name) = req.q("file") {
        let Some(f) = files.iter().find(|f| f.name == name) else {
            return Err(ApiError::not_found(&format!("memory file {name:?}")));
        };
        if f.size > MAX_TEXT {
            return Err(ApiError::new(413, format!("{name} is {} bytes; the limit is {MAX_TEXT}", f.size)));
        }
        let b = memory::read(f).map_err(|e| ApiError::unavailable(format!("cannot read {name}: {e}")))?;
        return Ok(Resp::json(&json!({"agent": f.agent, "name": f.name, "size": f.size,
            "modifiedMs": f.modified_ms, "text": crate::redact::text(&String::from_utf8_lossy(&b))})));
    }
    if let Some(q) = req.q("q").map(str::to_lowercase) {
        files.retain(|f| {
            f.name.to_lowercase().contains(&q)
                || (f.size <= MAX_TEXT
                    && memory::read(f).is_ok_and(|b| String::from_utf8_lossy(&b).to_lowercase().contains(&q)))
        });
    }
    let workspaces: Vec<_> = agents.iter().map(|(id, ws)| json!({"agent": id, "workspace": ws})).collect();
    Ok(Resp::json(&json!({"workspaces": workspaces, "files": files})))
}
