//! The activity stream (issue 15): lines OpenClaw writes while clawmetry runs arrive as
//! `activity` events on `/api/events`, with their content; `/api/activity` back-fills the newest
//! rows across sessions and the last hour's density. Expected figures are read from the lines
//! themselves (real OpenClaw 2026.9.6 lines from the lab), not from clawmetry.

use crate::common::{install_fixture, start};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SID: &str = "acacacac-1111-4222-8333-444444444444";

/// A real turn from the lab (tests/fixtures/lab-2026.9, sub-agent session bb15634a, rows 4-6:
/// the task, an `exec` call, its result), as OpenClaw 2026.9.6 wrote it.
fn lab_turn() -> Vec<String> {
    let db = crate::common::fixtures().join("lab-2026.9/home/agents/main/agent/openclaw-agent.sqlite");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut q = c
        .prepare("SELECT event_json FROM transcript_events WHERE session_id = ?1 AND seq BETWEEN 4 AND 6 ORDER BY seq")
        .unwrap();
    let rows = q.query_map(["bb15634a-9820-48ac-af1a-2c596384781c"], |r| r.get::<_, String>(0)).unwrap();
    let lines: Vec<String> = rows.map(Result::unwrap).collect();
    assert_eq!(lines.len(), 3);
    lines
}

fn ms_of(line: &Value) -> i64 {
    // 2026-11-24T21:06:10.754Z: only the seconds and milliseconds differ between these lines.
    let secs: f64 = line["timestamp"].as_str().unwrap()[17..23].parse().unwrap();
    (secs * 1000.0).round() as i64
}

/// Reads the event stream until `want` activity rows arrived (or 10 s passed).
fn activity_rows(sse: &mut std::net::TcpStream, seen: &mut String, want: usize) -> Vec<Value> {
    let mut buf = [0u8; 8192];
    loop {
        let rows: Vec<Value> = seen
            .split("\n\n")
            .filter(|m| m.starts_with("event: activity\n"))
            .filter_map(|m| m.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .flat_map(|v| v["items"].as_array().cloned().unwrap_or_default())
            .collect();
        if rows.len() >= want {
            return rows;
        }
        let n = sse.read(&mut buf).unwrap_or_else(|e| panic!("event stream: {e}; so far {seen}"));
        assert!(n > 0, "event stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

#[test]
fn lines_written_while_running_stream_as_activity_and_back_fill() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let (mut sse, mut seen) = crate::common::open_events(server.port);
    // Nothing was written since the start: the fixture's history is not activity.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!seen.contains("event: activity"), "{seen}");

    // A turn, one line at a time as OpenClaw appends it.
    let file = home.join(format!("agents/main/sessions/{SID}.jsonl"));
    let header =
        format!(r#"{{"type":"session","version":3,"id":"{SID}","timestamp":"2026-11-24T21:06:09.000Z","cwd":"/w"}}"#);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file).unwrap();
    let turn = lab_turn();
    let [user, call, result] = [0, 1, 2].map(|i| serde_json::from_str::<Value>(&turn[i]).unwrap());
    for line in std::iter::once(&header).chain(&turn) {
        writeln!(f, "{line}").unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let rows = activity_rows(&mut sse, &mut seen, 3);
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user", "assistant", "tool_result"], "in the order written: {rows:#?}");
    for (r, seq) in rows.iter().zip([1, 2, 3]) {
        assert_eq!(r["sessionId"], SID);
        assert_eq!(r["agent"], "main");
        assert_eq!(r["seq"], seq, "the line's place in the transcript: {r}");
    }
    let task = user["message"]["content"].as_str().unwrap();
    let shown = rows[0]["text"].as_str().unwrap();
    assert!(shown.ends_with('…') && shown.chars().count() == 241, "{shown}");
    let flat: String = task.split_whitespace().collect::<Vec<_>>().join(" ");
    let kept: String = shown.trim_end_matches('…').split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.starts_with(&kept), "{shown} / {task}");
    let u = &call["message"]["usage"];
    assert_eq!(rows[1]["model"], "fakellm/fake-model");
    assert_eq!(
        rows[1]["tokens"].as_u64().unwrap(),
        ["input", "output", "cacheRead", "cacheWrite"].iter().map(|k| u[k].as_u64().unwrap()).sum::<u64>()
    );
    assert!((rows[1]["cost"].as_f64().unwrap() - u["cost"]["total"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(rows[1]["tools"][0]["name"], "exec");
    assert_eq!(rows[1]["tools"][0]["args"], call["message"]["content"][0]["arguments"].to_string());
    assert_eq!(rows[2]["tool"], "exec");
    assert_eq!(rows[2]["isError"], false);
    assert_eq!(rows[2]["isError"], result["message"]["isError"]);
    assert_eq!(rows[2]["durationMs"], ms_of(&result) - ms_of(&call));

    // The back-fill: the same rows, newest first (the fixture's own sessions are older).
    let back = server.get("/api/activity?limit=3");
    let items = back["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["tool_result", "assistant", "user"], "{back:#}");
    assert_eq!(items[1]["cost"], rows[1]["cost"]);
    assert_eq!(items[2]["text"], rows[0]["text"]);
    let only = server.get("/api/activity?kind=tool_result&limit=50");
    assert!(only["items"].as_array().unwrap().iter().all(|r| r["kind"] == "tool_result"), "{only:#}");
    assert!(server.get("/api/activity?agent=nobody")["items"].as_array().unwrap().is_empty());

    // Density: a message written two and a half minutes ago counts in its minute.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let ts = now - 150_000;
    writeln!(f, r#"{{"type":"message","id":"d1","timestamp":{ts},"message":{{"role":"user","content":"later"}}}}"#)
        .unwrap();
    f.flush().unwrap();
    let (density, _) = server.wait_for(Duration::from_secs(5), |s| {
        let d = s.get("/api/activity")["density"].clone();
        (d.as_array().unwrap().iter().map(|b| b["events"].as_u64().unwrap()).sum::<u64>() == 1).then_some(d)
    });
    let b = density.as_array().unwrap().iter().find(|b| b["events"] == 1).unwrap();
    let start = b["startMs"].as_i64().unwrap();
    assert!(start <= ts && ts < start + 60_000, "{b} for {ts}");
    assert_eq!(density.as_array().unwrap().len(), 60);
}

#[test]
fn recorded_cron_runs_are_rows_with_their_job() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    // What OpenClaw 2026.3 logged: every finished run, and the jobs' names.
    let jobs: Value = serde_json::from_str(&std::fs::read_to_string(home.join("cron/jobs.json")).unwrap()).unwrap();
    let mut runs: Vec<Value> = Vec::new();
    for e in std::fs::read_dir(home.join("cron/runs")).unwrap().flatten() {
        for l in std::fs::read_to_string(e.path()).unwrap().lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            if v["action"] == "finished" {
                runs.push(v);
            }
        }
    }
    assert!(!runs.is_empty());
    let got = server.get("/api/activity?kind=cron&limit=500");
    let rows = got["items"].as_array().unwrap();
    assert_eq!(rows.len(), runs.len(), "{got:#}");
    for run in &runs {
        let row = rows.iter().find(|r| r["ts"] == run["ts"] && r["jobId"] == run["jobId"]).expect("a row per run");
        let name = jobs["jobs"].as_array().unwrap().iter().find(|j| j["id"] == run["jobId"]).map(|j| j["name"].clone());
        assert_eq!(row["job"], name.unwrap_or(Value::Null));
        assert_eq!(row["status"], run["status"]);
        assert_eq!(row["durationMs"], run["durationMs"]);
        assert_eq!(row["sessionId"], run["sessionId"]);
        assert_eq!(row["isError"], run["status"] != "ok", "{row}");
    }
    // Rows of another kind only: no cron rows.
    let users = server.get("/api/activity?kind=user&limit=500");
    assert!(users["items"].as_array().unwrap().iter().all(|r| r["kind"] == "user"));
}

#[test]
fn sub_agents_spawned_and_finished_are_rows() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    // What OpenClaw 2026.3 recorded of its sub-agent runs.
    let file = home.join("subagents/runs.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let runs: Vec<Value> = doc["runs"].as_object().unwrap().values().cloned().collect();
    let got = server.get("/api/activity?kind=subagent&limit=500");
    let rows = got["items"].as_array().unwrap();
    let ended = runs.iter().filter(|r| r["endedAt"].is_i64()).count();
    assert_eq!(rows.len(), runs.len() + ended, "{got:#}");
    for run in &runs {
        let key = &run["childSessionKey"];
        let spawned = rows.iter().find(|r| r["key"] == *key && r["action"] == "spawned").expect("spawned row");
        assert_eq!(spawned["ts"], run["createdAt"]);
        assert_eq!(spawned["sessionKind"], "subagent");
        if let Some(end) = run["endedAt"].as_i64() {
            let f = rows.iter().find(|r| r["key"] == *key && r["action"] == "finished").expect("finished row");
            assert_eq!(f["ts"], end);
            assert_eq!(f["durationMs"], end - run["createdAt"].as_i64().unwrap());
            assert_eq!(f["status"], run["outcome"]["status"]);
            assert_eq!(f["isError"], run["outcome"]["status"] != "ok", "{f}");
        }
    }
    // Newest first.
    let ts: Vec<i64> = rows.iter().map(|r| r["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "{ts:?}");

    // Live: a run that appears is a sub-agent spawned; its end, a sub-agent finished.
    let (mut sse, mut seen) = crate::common::open_events(server.port);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut fresh = runs[0].clone();
    fresh["runId"] = "feedfeed-0000-4000-8000-000000000001".into();
    fresh["childSessionKey"] = "agent:main:subagent:feedfeed-0000-4000-8000-000000000002".into();
    fresh["label"] = "live helper".into();
    fresh["createdAt"] = now.into();
    for k in ["endedAt", "outcome", "endedReason"] {
        fresh.as_object_mut().unwrap().remove(k);
    }
    doc["runs"]["feedfeed-0000-4000-8000-000000000001"] = fresh.clone();
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let live = activity_rows(&mut sse, &mut seen, 1);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["kind"], "subagent");
    assert_eq!(live[0]["action"], "spawned");
    assert_eq!(live[0]["text"], "live helper");
    assert_eq!(live[0]["agent"], "main");
    fresh["endedAt"] = (now + 4_000).into();
    fresh["outcome"] = serde_json::json!({"status": "ok"});
    doc["runs"]["feedfeed-0000-4000-8000-000000000001"] = fresh;
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let live = activity_rows(&mut sse, &mut seen, 2);
    assert_eq!(live.len(), 2, "{live:?}");
    assert_eq!(live[1]["action"], "finished");
    assert_eq!(live[1]["status"], "ok");
    assert_eq!(live[1]["durationMs"], 4_000);
    assert_eq!(live[1]["isError"], false);
}
