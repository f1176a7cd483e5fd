//! Activity: one transcript line as a row of the activity stream (`/api/activity` and the
//! `activity` event of `/api/events`). A row says what happened in a few words and carries its
//! content shortened and redacted, so the page never fetches per row: a user message, an
//! assistant reply (model, tokens, cost, the tools it called with their arguments in one line),
//! a tool result (tool, error or not, how long it took), an error, a compaction.
//!
//! Lines that are not activity (session headers, model and thinking changes, OpenClaw's injected
//! delivery mirrors) give no row.

use crate::sources::transcript::{render, short, KindFilter};
use foldhash::HashMap;
use serde_json::{json, Value};

/// Characters of message text kept in a row.
pub const TEXT_MAX: usize = 240;
/// Characters of a tool call's arguments (as one line of JSON) kept in a row.
pub const ARGS_MAX: usize = 160;
/// Tool calls remembered per session while their result is awaited (for the duration).
const PENDING_MAX: usize = 256;

/// When each tool call was made, by call id, so that its result's row can say how long it took.
#[derive(Default)]
pub struct PendingCalls {
    at: HashMap<String, i64>,
}

impl PendingCalls {
    fn note(&mut self, id: &str, ts: i64) {
        if self.at.len() >= PENDING_MAX {
            // A call never answered must not pin memory: forget the oldest half.
            let mut v: Vec<(String, i64)> = self.at.drain().collect();
            v.sort_by_key(|(_, t)| *t);
            self.at = v.split_off(v.len() / 2).into_iter().collect();
        }
        self.at.insert(id.to_string(), ts);
    }
    fn take(&mut self, id: &str) -> Option<i64> {
        self.at.remove(id)
    }
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

/// The activity row of one transcript line (`seq`: its place in the session, as the transcript
/// page numbers it; `cost`: what the index counted for it), or None when the line is not
/// activity or cannot be read.
pub fn row(line: &[u8], seq: u64, cost: f64, pending: &mut PendingCalls) -> Option<Value> {
    let ev = render(line, seq, KindFilter::All).ok()??;
    let ts = ev["ts"].as_i64();
    let blocks = ev["blocks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let text = || {
        let t: Vec<&str> = blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
        shorten(&t.join(" "), TEXT_MAX)
    };
    let mut row = match ev["kind"].as_str()? {
        "user" => json!({"kind": "user", "text": text()}),
        "assistant" => {
            if ev["injected"] == true {
                return None;
            }
            let tools: Vec<Value> = blocks
                .iter()
                .filter(|b| b["type"] == "tool_call")
                .map(|b| {
                    if let (Some(id), Some(t)) = (b["id"].as_str(), ts) {
                        pending.note(id, t);
                    }
                    json!({"id": b["id"], "name": b["name"], "args": shorten(&one_line(&b["arguments"]), ARGS_MAX),
                        "fp": fingerprint(b["name"].as_str().unwrap_or(""), &b["arguments"])})
                })
                .collect();
            let u = &ev["usage"];
            let tokens =
                ["input", "output", "cacheRead", "cacheWrite"].iter().filter_map(|k| u[k].as_u64()).sum::<u64>();
            let error = ev["stopReason"] == "error";
            let mut r = json!({
                "kind": if error { "error" } else { "assistant" },
                "text": if error { shorten(ev["errorMessage"].as_str().unwrap_or("model error"), TEXT_MAX) } else { text() },
                "model": match (ev["provider"].as_str(), ev["model"].as_str()) {
                    (Some(p), Some(m)) => json!(format!("{p}/{m}")),
                    (None, Some(m)) => json!(m),
                    _ => Value::Null,
                },
                "tokens": tokens,
                "cost": crate::state::round_cost(cost),
            });
            if !tools.is_empty() {
                r["spawn"] = json!(tools.iter().any(|t| t["name"] == "sessions_spawn"));
                r["tools"] = Value::Array(tools);
            }
            r
        }
        "tool_result" => {
            let started = ev["toolCallId"].as_str().and_then(|id| pending.take(id));
            json!({
                "kind": "tool_result",
                "tool": ev["toolName"],
                "toolCallId": ev["toolCallId"],
                "isError": ev["isError"] == true,
                "text": text(),
                "durationMs": match (started, ts) { (Some(a), Some(b)) if b >= a => json!(b - a), _ => Value::Null },
            })
        }
        "compaction" => json!({"kind": "compaction", "tokensBefore": ev["tokensBefore"],
            "text": shorten(ev["summary"].as_str().unwrap_or(""), TEXT_MAX)}),
        _ => return None,
    };
    row["seq"] = json!(seq);
    row["ts"] = ts.map_or(Value::Null, |t| json!(t));
    crate::redact::value(&mut row);
    Some(row)
}

/// The row of a cron run: a stored run (`sources::crons`, `action` finished) or a `cron` event
/// of the gateway (`action` started or finished); other actions (job added, edited) give none.
/// `job_name` is the job's name when the caller knows it.
pub fn cron_row(run: &Value, job_name: Option<&str>) -> Option<Value> {
    let action = run["action"].as_str().unwrap_or("finished");
    if action != "started" && action != "finished" {
        return None;
    }
    let started = run["runAtMs"].as_i64();
    let duration = run["durationMs"].as_i64();
    let ts = match action {
        "started" => started.or(run["ts"].as_i64()),
        _ => run["ts"].as_i64().or_else(|| Some(started? + duration.unwrap_or(0))),
    };
    let status = run["status"].as_str();
    let failed = matches!(status, Some("error" | "failed" | "timeout" | "timed_out" | "interrupted"));
    let text = run["error"].as_str().filter(|_| failed).or(run["summary"].as_str()).unwrap_or("");
    let mut row = json!({
        "kind": "cron",
        "action": action,
        "jobId": run["jobId"],
        "job": job_name.or(run["jobName"].as_str()),
        "status": status,
        "isError": failed,
        "durationMs": duration,
        "text": shorten(text, TEXT_MAX),
        "ts": ts,
    });
    if let Some(id) = run["sessionId"].as_str() {
        row["sessionId"] = json!(id);
        row["key"] = run["sessionKey"].clone();
        row["sessionKind"] = json!("cron");
    }
    crate::redact::value(&mut row);
    Some(row)
}

/// The row of a sub-agent run (`sources::subagents`): `spawned` at its start, `finished` (with
/// its outcome and duration) at its end; None when the run has no time for that action.
pub fn subagent_row(run: &crate::model::SubagentRun, action: &str) -> Option<Value> {
    let ts = match action {
        "spawned" => run.created_ms?,
        _ => run.ended_ms?,
    };
    let outcome = run.outcome.as_deref();
    let failed = action == "finished"
        && (matches!(outcome, Some("error" | "failed" | "timeout" | "timed_out" | "killed" | "aborted"))
            || run.ended_reason.as_deref().is_some_and(|r| r.contains("error")));
    let duration = match (action, run.created_ms, run.ended_ms) {
        ("finished", Some(c), Some(e)) => Some((e - c).max(0)),
        _ => None,
    };
    let text = run.label.as_deref().or(run.task.as_deref()).unwrap_or("");
    let mut row = json!({
        "kind": "subagent",
        "action": action,
        "key": run.child_key,
        "parentKey": run.requester_key,
        "runId": run.run_id,
        "status": if action == "finished" { outcome.or(run.ended_reason.as_deref()) } else { None },
        "isError": failed,
        "durationMs": duration,
        "model": run.model,
        "text": shorten(text, TEXT_MAX),
        "ts": ts,
        "sessionKind": "subagent",
        "agent": run.child_key.strip_prefix("agent:").and_then(|k| k.split(':').next()),
    });
    crate::redact::value(&mut row);
    Some(row)
}

/// A tool call's fingerprint: the same tool with the same arguments (all of them, not the
/// shortened text a row shows) gives the same 16 hex digits; the guard counts repeats by it. Only
/// compared within one run of clawmetry (std's SipHash with fixed keys).
pub fn fingerprint(name: &str, args: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    args.to_string().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// A JSON value as one line of text (strings without their quotes).
fn one_line(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// At most `max` characters, with an ellipsis when cut; newlines become spaces.
pub fn shorten(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect();
    short(flat.trim(), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real lines from OpenClaw 2026.9.6 (the lab): an `exec` call and its result.
    use crate::sources::transcript::tests::{ASSISTANT_TOOL as CALL, TOOL_RESULT as RESULT};

    #[test]
    fn a_tool_call_and_its_result() {
        let mut p = PendingCalls::default();
        let call = row(CALL.as_bytes(), 4, 0.0166662, &mut p).unwrap();
        assert_eq!(call["kind"], "assistant");
        assert_eq!(call["model"], "fakellm/fake-model");
        assert_eq!(call["tokens"], 4211 + 18 + 12544);
        assert_eq!(call["tools"][0]["name"], "exec");
        assert_eq!(call["tools"][0]["args"], r#"{"command":"echo sub-agent-exec-ok; hostname"}"#);
        assert_eq!(call["spawn"], false);
        let fp = call["tools"][0]["fp"].as_str().unwrap();
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, fingerprint("exec", &json!({"command": "echo sub-agent-exec-ok; hostname"})));
        assert_ne!(fp, fingerprint("exec", &json!({"command": "echo sub-agent-exec-ok; hostname "})));
        assert_ne!(fp, fingerprint("bash", &json!({"command": "echo sub-agent-exec-ok; hostname"})));
        assert_eq!((call["seq"].as_u64(), call["ts"].as_i64()), (Some(4), Some(1_795_554_370_754)));
        let res = row(RESULT.as_bytes(), 5, 0.0, &mut p).unwrap();
        assert_eq!(res["kind"], "tool_result");
        assert_eq!(res["tool"], "exec");
        assert_eq!(res["isError"], false);
        assert_eq!(res["text"], "sub-agent-exec-ok vm");
        assert_eq!(res["durationMs"], 798 - 754);
        // Answered: forgotten.
        assert!(p.at.is_empty());
    }

    #[test]
    fn user_text_is_shortened_and_redacted_headers_give_no_row() {
        let mut p = PendingCalls::default();
        let long = format!(
            r#"{{"type":"message","timestamp":"2026-11-24T21:06:10Z","message":{{"role":"user","content":"key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789 {}"}}}}"#,
            "x".repeat(1000)
        );
        let r = row(long.as_bytes(), 0, 0.0, &mut p).unwrap();
        let t = r["text"].as_str().unwrap();
        assert!(t.contains("[REDACTED]") && !t.contains("sk-ant-api03"), "{t}");
        assert!(t.chars().count() <= TEXT_MAX + 1 && t.ends_with('…'), "{t}");
        assert!(row(br#"{"type":"session","id":"x","timestamp":"2026-11-24T21:06:10Z"}"#, 0, 0.0, &mut p).is_none());
        assert!(row(b"not json", 0, 0.0, &mut p).is_none());
    }

    #[test]
    fn cron_runs_and_events() {
        // A run as OpenClaw 2026.3 logged it (tests/fixtures/legacy-2026.3, cron/runs/).
        let run = json!({"ts": 1774994415589i64, "jobId": "3e37dfb1", "action": "finished", "status": "ok",
            "summary": "message sent", "sessionId": "e7a09774", "sessionKey": "agent:main:cron:3e37dfb1:run:e7a09774",
            "runAtMs": 1774994400066i64, "durationMs": 15515});
        let r = cron_row(&run, Some("reminder")).unwrap();
        assert_eq!(
            (r["kind"].as_str(), r["job"].as_str(), r["status"].as_str()),
            (Some("cron"), Some("reminder"), Some("ok"))
        );
        assert_eq!((r["ts"].as_i64(), r["durationMs"].as_i64()), (Some(1774994415589), Some(15515)));
        assert_eq!((r["isError"].as_bool(), r["text"].as_str()), (Some(false), Some("message sent")));
        assert_eq!(r["sessionId"], "e7a09774");
        // A failed run shows its error; an event without `ts` ends at start + duration.
        let failed = json!({"jobId": "j", "action": "finished", "status": "error", "error": "exit 3",
            "summary": "s", "runAtMs": 1000, "durationMs": 250});
        let r = cron_row(&failed, None).unwrap();
        assert_eq!(
            (r["isError"].as_bool(), r["text"].as_str(), r["ts"].as_i64()),
            (Some(true), Some("exit 3"), Some(1250))
        );
        let started = json!({"jobId": "j", "action": "started", "runAtMs": 1000});
        assert_eq!(cron_row(&started, None).unwrap()["ts"], 1000);
        assert!(cron_row(&json!({"jobId": "j", "action": "added"}), None).is_none());
    }

    #[test]
    fn unanswered_calls_do_not_pile_up() {
        let mut p = PendingCalls::default();
        for i in 0..10 * PENDING_MAX {
            p.note(&format!("c{i}"), i as i64);
        }
        assert!(p.at.len() <= PENDING_MAX);
        assert!(p.take(&format!("c{}", 10 * PENDING_MAX - 1)).is_some(), "the newest is kept");
    }
}
