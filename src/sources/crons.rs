//! Cron jobs and their run history, read-only, for when the gateway is not there to ask:
//! `state/openclaw.sqlite` (2026.6+: `cron_jobs`, `task_runs` with runtime `cron`,
//! `cron_run_receipts`) and the file era's `cron/jobs.json` + `cron/runs/<jobId>.jsonl`.
//!
//! Also the one normal form both paths share ([`job`], [`run`]): the gateway's `cron.list` /
//! `cron.runs` answers and these stores hold the same objects, so the API shows one shape
//! whichever it came from. Decoding only; nothing here writes.

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Map, Value};
use std::path::Path;

/// Jobs and recent runs (newest first) as stored, before normalising; secrets redacted (the
/// API and the cron-failure alerts that the monitor sends out both read them from here).
#[derive(Debug, Default)]
pub struct Store {
    pub jobs: Vec<Value>,
    pub runs: Vec<Value>,
}

impl Store {
    fn redacted(mut self) -> Store {
        self.jobs.iter_mut().chain(self.runs.iter_mut()).for_each(crate::redact::value);
        self
    }
}

/// Reads `cron_jobs` and the cron runs of `task_runs` / `cron_run_receipts`, newest
/// `max_runs` runs. Tables missing in an older schema read as empty.
pub fn read_state_db(path: &Path, max_runs: usize) -> Result<Store, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_millis(500)).ok();
    let mut store = Store::default();
    if let Ok(mut stmt) =
        conn.prepare("SELECT job_json, state_json, enabled, updated_at FROM cron_jobs ORDER BY sort_order, name")
    {
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        for (job_json, state_json, enabled, updated) in rows.flatten() {
            let Ok(mut job) = serde_json::from_str::<Value>(&job_json) else { continue };
            let state = state_json.and_then(|s| serde_json::from_str::<Value>(&s).ok());
            merge_db_columns(&mut job, state, enabled, updated);
            store.jobs.push(job);
        }
    }
    let mut seen_receipts = Vec::new();
    if let Ok(mut stmt) = conn.prepare(
        "SELECT source_id, child_session_key, run_id, status, created_at, started_at, ended_at, error, \
         terminal_summary, label, detail_json FROM task_runs WHERE runtime = 'cron' \
         ORDER BY COALESCE(ended_at, started_at, created_at) DESC LIMIT ?1",
    ) {
        let rows = stmt
            .query_map([max_runs as i64], |r| {
                Ok(TaskRow {
                    job_id: r.get(0)?,
                    session_key: r.get(1)?,
                    run_id: r.get(2)?,
                    status: r.get(3)?,
                    created: r.get(4)?,
                    started: r.get(5)?,
                    ended: r.get(6)?,
                    error: r.get(7)?,
                    summary: r.get(8)?,
                    label: r.get(9)?,
                    detail: r.get(10)?,
                })
            })
            .map_err(|e| e.to_string())?;
        for t in rows.flatten() {
            if let Some(r) = &t.run_id {
                seen_receipts.push(r.clone());
            }
            store.runs.push(task_run_entry(t));
        }
    }
    // Receipts without a task row: runs still going, or interrupted before they started.
    if let Ok(mut stmt) = conn.prepare(
        "SELECT receipt_id, job_id, status, started_at_ms, finished_at_ms, error_text, request_run_id \
         FROM cron_run_receipts ORDER BY started_at_ms DESC LIMIT ?1",
    ) {
        let rows = stmt
            .query_map([max_runs as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(|e| e.to_string())?;
        for (receipt, job_id, status, started, finished, error, request) in rows.flatten() {
            if seen_receipts.iter().any(|r| r.contains(&receipt)) {
                continue;
            }
            store.runs.push(json!({
                "jobId": job_id, "status": status, "runAtMs": started, "ts": finished.unwrap_or(started),
                "durationMs": finished.map(|f| f - started), "error": error, "runId": request,
                "source": "receipt",
            }));
        }
    }
    store.runs.sort_by_key(|r| std::cmp::Reverse(r.get("ts").and_then(Value::as_i64).unwrap_or(0)));
    store.runs.truncate(max_runs);
    Ok(store.redacted())
}

struct TaskRow {
    job_id: Option<String>,
    session_key: Option<String>,
    run_id: Option<String>,
    status: String,
    created: i64,
    started: Option<i64>,
    ended: Option<i64>,
    error: Option<String>,
    summary: Option<String>,
    label: Option<String>,
    detail: Option<String>,
}

/// A `task_runs` row as a run-log entry; `detail_json` (kind `cron-run`) carries what the
/// gateway's `cron.runs` shows.
fn task_run_entry(t: TaskRow) -> Value {
    let mut e = t
        .detail
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let o = e.as_object_mut().expect("object");
    let mut put = |k: &str, v: Value| {
        if o.get(k).is_none_or(Value::is_null) && !v.is_null() {
            o.insert(k.to_string(), v);
        }
    };
    put("jobId", json!(t.job_id));
    put("sessionKey", json!(t.session_key));
    put("status", json!(task_status(&t.status)));
    put("runAtMs", json!(t.started.unwrap_or(t.created)));
    put("ts", json!(t.ended.or(t.started).unwrap_or(t.created)));
    put("durationMs", json!(t.ended.zip(t.started).map(|(e, s)| e - s)));
    put("error", json!(t.error));
    put("summary", json!(t.summary));
    put("jobName", json!(t.label));
    e
}

/// `task_runs.status` words to the run-log's ok/error/skipped/running.
fn task_status(s: &str) -> &str {
    match s {
        "succeeded" | "completed" | "ok" => "ok",
        "failed" | "error" | "timed_out" | "cancelled" | "lost" => "error",
        "queued" | "running" => "running",
        other => other,
    }
}

/// The runtime state lives in its own column (`state_json`); `job_json.state` is often `{}`.
fn merge_db_columns(job: &mut Value, state: Option<Value>, enabled: Option<i64>, updated: Option<i64>) {
    let Some(o) = job.as_object_mut() else { return };
    if let Some(Value::Object(s)) = state {
        let st = o.entry("state").or_insert_with(|| json!({}));
        if let Some(st) = st.as_object_mut() {
            for (k, v) in s {
                st.insert(k, v);
            }
        }
    }
    if let Some(e) = enabled {
        o.insert("enabled".into(), Value::Bool(e != 0));
    }
    if let Some(u) = updated {
        o.entry("updatedAtMs").or_insert(json!(u));
    }
}

/// `cron/jobs.json`: `{version, jobs: [...]}`.
pub fn parse_jobs_json(text: &str) -> Result<Vec<Value>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("jobs.json: {e}"))?;
    let jobs = match &v {
        Value::Array(a) => a.clone(),
        _ => v.get("jobs").and_then(Value::as_array).cloned().ok_or("jobs.json: no \"jobs\" array")?,
    };
    Ok(jobs.into_iter().filter(|j| j.get("id").and_then(Value::as_str).is_some()).collect())
}

/// One `cron/runs/<jobId>.jsonl` file: finished-run lines; others are skipped.
pub fn parse_run_log(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(|v| {
            v.get("jobId").is_some() && v.get("action").and_then(Value::as_str).unwrap_or("finished") == "finished"
        })
        .collect()
}

/// Reads the file era's store: `jobs_file` and the `runs/` dir beside it.
pub fn read_legacy(jobs_file: &Path, max_runs: usize) -> Result<Store, String> {
    let text = super::read_text(jobs_file).map_err(|e| format!("{}: {e}", jobs_file.display()))?;
    let jobs = parse_jobs_json(&text)?;
    let mut runs = Vec::new();
    if let Ok(dir) = std::fs::read_dir(jobs_file.with_file_name("runs")) {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "jsonl") {
                if let Ok(t) = super::read_text(&e.path()) {
                    runs.extend(parse_run_log(&t));
                }
            }
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.get("ts").and_then(Value::as_i64).unwrap_or(0)));
    runs.truncate(max_runs);
    Ok(Store { jobs, runs }.redacted())
}

// ---------------------------------------------------------------------------------------------
// The normal form.

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A schedule for people: "every 30 min", "cron 0 3 * * * (UTC)", "once at …".
pub fn schedule_text(sched: &Value) -> String {
    match s(sched, "kind") {
        Some("every") => match sched.get("everyMs").and_then(Value::as_u64) {
            Some(ms) => format!("every {}", every_text(ms)),
            None => "every ?".into(),
        },
        Some("cron") => {
            let expr = s(sched, "expr").unwrap_or("?");
            match s(sched, "tz") {
                Some(tz) if !tz.is_empty() => format!("cron {expr} ({tz})"),
                _ => format!("cron {expr}"),
            }
        }
        Some("at") => format!("once at {}", s(sched, "at").unwrap_or("?")),
        Some("on-exit") => format!("when `{}` exits", s(sched, "command").unwrap_or("?")),
        Some("stream") => "on command output".into(),
        Some(k) => k.to_string(),
        None => "unknown".into(),
    }
}

fn every_text(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "min"), (1000, "s")];
    if let Some((u, name)) = UNITS.iter().find(|(u, _)| ms >= *u && ms % u == 0) {
        return format!("{} {name}", ms / u);
    }
    match UNITS.iter().find(|(u, _)| ms >= *u) {
        Some((u, name)) => format!("{:.1} {name}", ms as f64 / *u as f64),
        None => format!("{ms} ms"),
    }
}

/// The cron store of an installation, read-only: its state database (2026.6+), else the file
/// era's `cron/jobs.json` + `cron/runs/`; None when it has neither. At most `max_runs` runs.
pub fn read_installed(install: &super::detect::Install, max_runs: usize) -> Option<Result<Store, String>> {
    match (&install.state_db, &install.cron_jobs_file) {
        (Some(db), _) => Some(read_state_db(db, max_runs)),
        (None, Some(f)) => Some(read_legacy(f, max_runs)),
        _ => None,
    }
}

/// One job in the API's shape. `runs` (newest first, any job) supplies its recent history.
pub fn job(j: &Value, runs: &[Value], history: usize) -> Value {
    let state = j.get("state").cloned().unwrap_or_else(|| json!({}));
    let pick = |k: &str| -> Value {
        j.get(k)
            .filter(|v| !v.is_null())
            .or_else(|| state.get(k).filter(|v| !v.is_null()))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let id = s(j, "id").unwrap_or("");
    let schedule = j.get("schedule").cloned().unwrap_or(Value::Null);
    let last_status = {
        let v = pick("lastRunStatus");
        if v.is_null() {
            pick("lastStatus")
        } else {
            v
        }
    };
    let last_error = {
        let v = pick("lastRunError");
        if v.is_null() {
            pick("lastError")
        } else {
            v
        }
    };
    let recent: Vec<Value> = runs.iter().filter(|r| s(r, "jobId") == Some(id)).take(history).map(run).collect();
    let running = state.get("runningAtMs").is_some_and(|v| !v.is_null())
        || recent.first().is_some_and(|r| r["status"] == "running");
    let enabled = j.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let status = if running {
        "running".to_string()
    } else if !enabled {
        "disabled".to_string()
    } else {
        s(j, "status")
            .map(str::to_string)
            .or_else(|| last_status.as_str().map(str::to_string))
            .unwrap_or_else(|| "idle".into())
    };
    let payload = j.get("payload").cloned().unwrap_or(Value::Null);
    json!({
        "id": id,
        "name": s(j, "name").unwrap_or(id),
        "displayName": j.get("displayName"),
        "description": j.get("description"),
        "agentId": j.get("agentId").filter(|v| !v.is_null()).or_else(|| j.get("effectiveAgentId")),
        "enabled": enabled,
        "status": status,
        "schedule": schedule,
        "scheduleText": schedule_text(&schedule),
        "sessionTarget": j.get("sessionTarget"),
        "wakeMode": j.get("wakeMode"),
        "payload": payload,
        "payloadKind": payload.get("kind"),
        "delivery": j.get("delivery"),
        "declarationKey": j.get("declarationKey"),
        // Jobs a plugin or the heartbeat declares are recreated by their owner: editing them
        // from here would not stick.
        "managed": j.get("declarationKey").is_some_and(|v| !v.is_null()),
        "nextRunMs": pick("nextRunAtMs"),
        "lastRunMs": pick("lastRunAtMs"),
        "lastStatus": last_status,
        "lastError": last_error,
        "lastDurationMs": pick("lastDurationMs"),
        "lastDeliveryStatus": pick("lastDeliveryStatus"),
        "consecutiveErrors": state.get("consecutiveErrors").cloned().unwrap_or(json!(0)),
        "createdMs": j.get("createdAtMs"),
        "updatedMs": j.get("updatedAtMs"),
        "configRevision": j.get("configRevision"),
        "runs": recent,
    })
}

/// One run in the API's shape; the file era's snake_case usage is renamed.
pub fn run(r: &Value) -> Value {
    let u = r.get("usage").cloned().unwrap_or(Value::Null);
    let n = |a: &str, b: &str| u.get(a).or_else(|| u.get(b)).and_then(Value::as_u64);
    let usage = if u.is_object() {
        json!({
            "input": n("input_tokens", "input"),
            "output": n("output_tokens", "output"),
            "cacheRead": n("cache_read_tokens", "cacheRead"),
            "cacheWrite": n("cache_write_tokens", "cacheWrite"),
            "total": n("total_tokens", "total"),
        })
    } else {
        Value::Null
    };
    let mut out = Map::new();
    for k in [
        "jobId",
        "jobName",
        "status",
        "error",
        "summary",
        "runId",
        "runAtMs",
        "durationMs",
        "nextRunAtMs",
        "sessionId",
        "sessionKey",
        "model",
        "provider",
        "deliveryStatus",
        "delivered",
    ] {
        out.insert(k.to_string(), r.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert("ts".into(), r.get("ts").cloned().unwrap_or(Value::Null));
    out.insert("usage".into(), usage);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    #[test]
    fn schedules_read_like_people_write_them() {
        assert_eq!(schedule_text(&json!({"kind": "every", "everyMs": 1_800_000})), "every 30 min");
        assert_eq!(schedule_text(&json!({"kind": "every", "everyMs": 604_800_000})), "every 7 d");
        assert_eq!(schedule_text(&json!({"kind": "every", "everyMs": 90_000})), "every 90 s");
        assert_eq!(schedule_text(&json!({"kind": "every", "everyMs": 5400})), "every 5.4 s");
        assert_eq!(schedule_text(&json!({"kind": "every", "everyMs": 250})), "every 250 ms");
        assert_eq!(schedule_text(&json!({"kind": "cron", "expr": "0 3 * * *", "tz": "UTC"})), "cron 0 3 * * * (UTC)");
        assert_eq!(schedule_text(&json!({"kind": "at", "at": "2026-12-01T09:00:00Z"})), "once at 2026-12-01T09:00:00Z");
        assert_eq!(schedule_text(&Value::Null), "unknown");
    }

    /// The lab snapshot (OpenClaw 2026.9.6): 5 jobs, lab-cron ran once and succeeded.
    #[test]
    fn reads_the_lab_state_db() {
        let st = read_state_db(&fixtures().join("lab-2026.9/home/state/openclaw.sqlite"), 50).unwrap();
        assert_eq!(st.jobs.len(), 5);
        let lab = st.jobs.iter().find(|j| j["name"] == "lab-cron").unwrap();
        let lab_id = lab["id"].as_str().unwrap();
        assert_eq!(st.runs.iter().filter(|r| r["jobId"] == lab_id).count(), 1, "{:?}", st.runs);
        let j = job(lab, &st.runs, 10);
        assert_eq!(j["scheduleText"], "every 1 h");
        assert_eq!(j["lastStatus"], "ok");
        assert_eq!(j["status"], "ok");
        assert_eq!(j["nextRunMs"], 1795557980389i64);
        assert_eq!(j["managed"], false);
        let r = &j["runs"][0];
        assert_eq!(r["status"], "ok");
        assert_eq!(r["durationMs"], 593);
        assert_eq!(r["model"], "fake-model");
        assert_eq!(r["usage"]["cacheRead"], 30656);
        assert_eq!(r["summary"], "Done. The tool returned: fake-exec-ok Linux 2026");
        let hb = st.jobs.iter().find(|j| j["name"] == "heartbeat-main").unwrap();
        let hb = job(hb, &st.runs, 10);
        assert_eq!(hb["managed"], true);
        assert_eq!(hb["status"], "idle");
        assert_eq!(hb["nextRunMs"], 1795554718849i64);
    }

    /// The 2026.3 file-era install: one job whose last run failed, five run logs.
    #[test]
    fn reads_the_legacy_files() {
        let st = read_legacy(&fixtures().join("legacy-2026.3/home/cron/jobs.json"), 100).unwrap();
        assert_eq!(st.jobs.len(), 1);
        assert_eq!(st.runs.len(), 7);
        let j = job(&st.jobs[0], &st.runs, 10);
        assert_eq!(j["name"], "auto-dream");
        assert_eq!(j["status"], "error");
        assert_eq!(j["consecutiveErrors"], 1);
        assert!(j["lastError"].as_str().unwrap().contains("not authorized"));
        assert_eq!(j["scheduleText"], "cron 0 3 * * * (UTC)");
        let runs = j["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs[0]["ts"].as_i64() > runs[1]["ts"].as_i64());
        assert!(runs[0]["usage"]["output"].as_u64().is_some());
    }

    /// Job names, prompts, errors and summaries are read redacted: the cron-failure alerts that
    /// the monitor sends out quote them.
    #[test]
    fn the_stores_are_read_redacted() {
        let key = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd";
        let dir = std::env::temp_dir().join(format!("clawmetry-cron-redact-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("runs")).unwrap();
        std::fs::write(
            dir.join("jobs.json"),
            json!({"version": 1, "jobs": [{"id": "j1", "name": "nightly", "payload": {"kind": "agentTurn",
                "message": format!("use {key}")}, "state": {"lastError": format!("401 for key {key}")}}]})
            .to_string(),
        )
        .unwrap();
        let run = json!({"ts": 5, "jobId": "j1", "action": "finished", "status": "error",
            "error": format!("Bearer {key} rejected"), "summary": format!("tried {key}")});
        std::fs::write(dir.join("runs/j1.jsonl"), format!("{run}\n")).unwrap();
        let st = read_legacy(&dir.join("jobs.json"), 10);
        std::fs::remove_dir_all(&dir).unwrap();
        let st = st.unwrap();
        assert_eq!(st.jobs[0]["payload"]["message"], "use [REDACTED]");
        assert_eq!(st.jobs[0]["state"]["lastError"], "401 for key [REDACTED]");
        assert_eq!(st.runs[0]["error"], "Bearer [REDACTED] rejected");
        assert_eq!(st.runs[0]["summary"], "tried [REDACTED]");
    }

    #[test]
    fn bad_input_is_an_error_or_skipped() {
        assert!(parse_jobs_json("{").is_err());
        assert!(parse_jobs_json("{\"x\":1}").is_err());
        assert_eq!(parse_jobs_json("{\"jobs\":[{\"name\":\"no id\"},{\"id\":\"a\"}]}").unwrap().len(), 1);
        let log =
            "{\"jobId\":\"a\",\"action\":\"finished\",\"ts\":1}\nnot json\n{\"jobId\":\"a\",\"action\":\"started\"}\n";
        assert_eq!(parse_run_log(log).len(), 1);
    }
}
