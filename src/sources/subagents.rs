//! Sub-agent run records: `subagent_runs` in `state/openclaw.sqlite` (2026.6+) and
//! `subagents/runs.json` (file era). Both hold the same payload object.

use crate::model::SubagentRun;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::path::Path;

/// Decodes one run payload object.
pub fn decode_run(v: &Value) -> Option<SubagentRun> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let outcome = match v.get("outcome") {
        Some(Value::Object(o)) => o.get("status").and_then(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => v.pointer("/execution/outcome/status").and_then(Value::as_str).map(str::to_string),
    };
    Some(SubagentRun {
        run_id: s("runId").unwrap_or_default(),
        child_key: s("childSessionKey")?,
        requester_key: s("requesterSessionKey").or_else(|| s("controllerSessionKey")),
        // Shown in the sub-agent views: redacted once, here.
        task: s("task").map(crate::redact::owned),
        label: s("label").map(crate::redact::owned),
        model: s("model"),
        outcome,
        ended_reason: s("endedReason"),
        created_ms: v.get("createdAt").and_then(Value::as_i64),
        ended_ms: v.get("endedAt").or_else(|| v.pointer("/execution/endedAt")).and_then(Value::as_i64),
    })
}

/// Reads `subagents/runs.json`: `{version, runs: {<runId>: record}}`.
pub fn parse_runs_json(text: &str) -> Result<Vec<SubagentRun>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("runs.json: {e}"))?;
    let runs = v.get("runs").and_then(Value::as_object).ok_or("runs.json: no \"runs\" object")?;
    Ok(runs.values().filter_map(decode_run).collect())
}

/// Reads every row of `subagent_runs` from the state database, read-only.
pub fn read_state_db(path: &Path) -> Result<Vec<SubagentRun>, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_millis(200)).ok();
    let mut stmt = match conn.prepare("SELECT payload_json FROM subagent_runs") {
        Ok(s) => s,
        // An older state schema without the table: nothing to read.
        Err(_) => return Ok(Vec::new()),
    };
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?;
    Ok(rows.flatten().filter_map(|t| serde_json::from_str::<Value>(&t).ok()).filter_map(|v| decode_run(&v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_payload_shapes() {
        let v = serde_json::json!({"runId": "r", "childSessionKey": "agent:main:subagent:x",
            "requesterSessionKey": "agent:main:main", "task": "do it", "label": "l",
            "execution": {"endedAt": 5, "outcome": {"status": "ok"}}});
        let r = decode_run(&v).unwrap();
        assert_eq!(r.outcome.as_deref(), Some("ok"));
        assert_eq!(r.ended_ms, Some(5));
        let v = serde_json::json!({"runId": "r", "childSessionKey": "k", "outcome": {"status": "error"}, "endedReason": "subagent-error"});
        assert_eq!(decode_run(&v).unwrap().outcome.as_deref(), Some("error"));
        assert!(decode_run(&serde_json::json!({"runId": "x"})).is_none());
    }
}
