//! The guard (issue 17): loop detection on lines written while clawmetry runs. The loop is a
//! real one: `tests/fixtures/lines/tool-loop.lab-2026.9.6.jsonl`, the transcript of the lab's
//! `TOOL_LOOP` turn (25 identical `exec` calls) as OpenClaw 2026.9.6 wrote it. The ordinary
//! turns are every transcript of the lab fixture (tests/fixtures/lab-2026.9). Both are written
//! into a file-era installation line by line, as OpenClaw appends them. Expected figures are
//! read from the lines themselves, never from clawmetry.

use crate::common::{fixtures, install_fixture, open_events, start, start_with_gateway, Server};
use crate::monitor_pause::{count, fake_gateway};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

fn loop_lines() -> Vec<String> {
    let p = fixtures().join("lines/tool-loop.lab-2026.9.6.jsonl");
    std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect()
}

/// The line numbers (0-based, the transcript's `seq`) of the assistant lines that call a tool,
/// with the call's (name, arguments).
fn calls_of(lines: &[String]) -> Vec<(u64, String, Value)> {
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["message"]["role"] != "assistant" {
            continue;
        }
        for b in v["message"]["content"].as_array().into_iter().flatten() {
            if b["type"] == "toolCall" {
                out.push((i as u64, b["name"].as_str().unwrap().to_string(), b["arguments"].clone()));
            }
        }
    }
    out
}

fn findings(server: &Server) -> Vec<Value> {
    server.get("/api/guard")["findings"].as_array().unwrap().clone()
}

fn append(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap();
    writeln!(f, "{line}").unwrap();
}

#[test]
fn a_tool_loop_is_found_within_ten_calls_and_ordinary_turns_are_not() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    // The token-rate rule compares with the agent's usual rate, which these fixtures' sessions
    // set; its arithmetic is the unit tests' (alerts/guard.rs). Here: the call and turn rules.
    server.send("PUT", "/api/guard", &json!({"tokenRate": {"enabled": false}}), 200);
    let sessions = home.join("agents/main/sessions");

    // Every ordinary lab transcript (4 + 1 sessions, 89 rows), each as a session file of its own.
    let rows = crate::export::lab_rows(&fixtures().join("lab-2026.9/home"));
    assert_eq!(rows.len(), 89);
    let mut ids: Vec<String> = rows.iter().map(|(s, _)| s.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    for (i, (sid, line)) in rows.iter().enumerate() {
        append(&sessions.join(format!("{sid}.jsonl")), &line.to_string());
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
    }
    // They reach the guard (every user message is one of its lines at least), and none makes a
    // finding.
    let users = rows.iter().filter(|(_, v)| v["type"] == "message" && v["message"]["role"] == "user").count() as u64;
    assert!(users >= 5, "{users}");
    server.wait_for(Duration::from_secs(10), |s| {
        (s.get("/api/guard")["stats"]["lines"].as_u64().unwrap() >= users).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(findings(&server), Vec::<Value>::new(), "ordinary lab turns are no loop");

    // The loop, one line at a time at about the lab's pace (25 calls of 3 lines in ~8 s).
    let (mut sse, mut seen) = open_events(server.port);
    let lines = loop_lines();
    let calls = calls_of(&lines);
    assert_eq!(calls.len(), 25);
    assert!(calls.iter().all(|c| c.1 == "exec" && c.2 == calls[0].2), "25 times the same call");
    let sid = serde_json::from_str::<Value>(&lines[0]).unwrap()["id"].as_str().unwrap().to_string();
    let user_seq = lines.iter().position(|l| l.contains(r#""role":"user""#)).unwrap() as u64;
    let file = sessions.join(format!("{sid}.jsonl"));
    let mut found_after: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        append(&file, line);
        std::thread::sleep(Duration::from_millis(100));
        if found_after.is_none() && !findings(&server).is_empty() {
            found_after = Some(calls.iter().filter(|c| c.0 <= i as u64).count());
        }
    }
    let found_after = found_after.expect("a finding while the loop was written");
    eprintln!("[guard] found after {found_after} of 25 calls were written");
    assert!(found_after <= 10, "found after {found_after} calls were written");

    // The repeat rule fired at the 5th identical call and took in the 20 after it.
    let (f, _) = server.wait_for(Duration::from_secs(5), |s| {
        findings(s).into_iter().find(|f| f["rule"] == "repeat" && f["count"] == 25)
    });
    assert_eq!(f["sessionId"], sid.as_str());
    assert_eq!(f["callsInRun"], 5);
    assert_eq!(f["runSeq"], user_seq);
    let seqs: Vec<u64> = calls.iter().map(|c| c.0).collect();
    assert_eq!(f["seqs"], json!(seqs), "the repeated calls' lines");
    assert_eq!(f["evidence"]["tool"], "exec");
    assert_eq!(f["evidence"]["args"], calls[0].2.to_string());

    // No text for 10 model turns with at least 50,000 tokens: the no-progress rule, at call 10.
    let quiet: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"]["role"] == "assistant")
        .take_while(|v| {
            !v["message"]["content"].as_array().unwrap().iter().any(|b| b["type"] == "text" && b["text"] != "")
        })
        .collect();
    assert_eq!(quiet.len(), 25);
    let tokens = |v: &Value| {
        let u = &v["message"]["usage"];
        ["input", "output", "cacheRead", "cacheWrite"].iter().map(|k| u[k].as_u64().unwrap_or(0)).sum::<u64>()
    };
    let first10: u64 = quiet[..10].iter().map(tokens).sum();
    assert!(first10 >= 50_000, "{first10}");
    let np = findings(&server).into_iter().find(|f| f["rule"] == "noProgress").expect("no-progress finding");
    assert_eq!(np["callsInRun"], 10);
    assert_eq!(np["evidence"]["turns"], 25);
    assert_eq!(np["evidence"]["tokens"], quiet.iter().map(tokens).sum::<u64>());

    // On the session, in its list row, on the overview, as alerts and in the activity stream.
    let s = server.get(&format!("/api/sessions/{sid}"));
    let on_session: Vec<&str> = s["guard"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(on_session, ["repeat", "noProgress"]);
    let list = server.get("/api/sessions?limit=500");
    let row = list["sessions"].as_array().unwrap().iter().find(|r| r["id"] == sid.as_str()).unwrap().clone();
    assert_eq!(row["guard"][0]["count"], 25);
    let ov = server.get("/api/overview");
    assert_eq!(ov["guard"].as_array().unwrap().len(), 2);
    assert_eq!(server.get(&format!("/api/guard?session={sid}"))["findings"].as_array().unwrap().len(), 2);
    let alerts = server.get("/api/alerts");
    let kinds: Vec<&str> = alerts["alerts"].as_array().unwrap().iter().filter_map(|a| a["kind"].as_str()).collect();
    assert!(kinds.contains(&"guard_repeat") && kinds.contains(&"guard_noProgress"), "{kinds:?}");
    let mut buf = [0u8; 8192];
    while !seen.contains(r#""kind":"guard""#) {
        let n = sse.read(&mut buf).unwrap_or_else(|e| panic!("event stream: {e}; so far {seen}"));
        assert!(n > 0, "event stream closed");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // Auto-stop is off by default, and stopping needs a gateway: nothing was stopped.
    assert_eq!(server.get("/api/guard")["settings"]["autoStop"], false);
    assert_eq!(f["stop"], Value::Null);
}

#[test]
fn settings_and_controls_refuse_bad_input() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let d = server.get("/api/guard");
    assert_eq!(d["settings"]["repeat"], json!({"enabled": true, "calls": 5, "window": 20}));
    let v = server.send("PUT", "/api/guard", &json!({"repeat": {"calls": 7}, "autoStop": true}), 200);
    assert_eq!((v["settings"]["repeat"]["calls"].as_u64(), v["settings"]["autoStop"].as_bool()), (Some(7), Some(true)));
    assert_eq!(server.get("/api/guard")["settings"]["repeat"]["window"], 20);
    for bad in [json!({"repeat": {"calls": 0}}), json!({"nope": 1}), json!({"alternate": {"cycles": "4"}})] {
        let e = server.send("PUT", "/api/guard", &bad, 400);
        assert!(e["error"].as_str().unwrap().starts_with("guard"), "{e}");
    }
    let e = server.send("POST", "/api/guard/stop", &json!({}), 400);
    assert!(e["error"].as_str().unwrap().contains("session"), "{e}");
    let e = server.send("POST", "/api/guard/stop", &json!({"session": "no-such-session"}), 404);
    assert!(e["error"].as_str().unwrap().contains("not found"), "{e}");
    let e = server.send("POST", "/api/guard/stop", &json!({"session": "x", "findingId": "one"}), 400);
    assert!(e["error"].as_str().unwrap().contains("findingId"), "{e}");
    // Without a gateway (--no-gateway) a stop of a known session is refused with the reason, and
    // still recorded in the audit log.
    let list = server.get("/api/sessions?limit=50");
    let keyed = list["sessions"].as_array().unwrap().iter().find(|s| s["key"].is_string()).unwrap().clone();
    let sid = keyed["id"].as_str().unwrap().to_string();
    let e = server.send("POST", "/api/guard/stop", &json!({"session": keyed["key"]}), 503);
    assert!(e["error"].as_str().unwrap().contains("gateway"), "{e}");
    let audit = server.get("/api/guard/audit");
    assert_eq!(audit["entries"][0]["action"], "stop");
    assert_eq!(audit["entries"][0]["ok"], false);
    assert_eq!(audit["entries"][0]["sessionId"], sid.as_str());
    assert!(audit["entries"][0]["who"].as_str().unwrap().contains("this machine"), "{audit}");
    let path = audit["path"].as_str().unwrap();
    let line = std::fs::read_to_string(path).unwrap();
    assert_eq!(line.lines().count(), 1);
    assert!(line.contains(&sid));
    // Resuming a pause that was never made is refused.
    server.send("POST", "/api/guard/resume", &json!({}), 400);
    let e = server.get_error("/api/guard?limit=ten", 400);
    assert!(e.contains("limit"), "{e}");
}

#[test]
fn auto_stop_aborts_a_looping_run_once_and_every_control_is_in_the_audit_log() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let (port, calls) = fake_gateway();
    let url = format!("ws://127.0.0.1:{port}");
    let s =
        start_with_gateway(&["--openclaw-dir", home.to_str().unwrap(), "--gateway-url", &url, "--gateway-token", "t"]);
    s.wait_for(Duration::from_secs(15), |s| (s.get("/api/gateway")["state"] == "connected").then_some(()));
    assert_eq!(s.get("/api/guard")["abortMethod"], "sessions.abort");
    s.send("PUT", "/api/guard", &json!({"autoStop": true, "tokenRate": {"enabled": false}}), 200);

    // The loop's session under a key, as OpenClaw lists it in sessions.json, then its lines.
    let lines = loop_lines();
    let sid = serde_json::from_str::<Value>(&lines[0]).unwrap()["id"].as_str().unwrap().to_string();
    let sessions = home.join("agents/main/sessions");
    let index = sessions.join("sessions.json");
    let mut store: Value = serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    store["agent:main:loop"] = json!({"sessionId": sid, "updatedAt": 1_796_555_433_000i64});
    std::fs::write(&index, store.to_string()).unwrap();
    // Its header line first; the rest once clawmetry knows the session under its key.
    let file = sessions.join(format!("{sid}.jsonl"));
    append(&file, &lines[0]);
    s.wait_for(Duration::from_secs(10), |s| {
        let (_, v) = s.try_get_json(&format!("/api/sessions/{sid}")).ok()?;
        (v["key"] == "agent:main:loop").then_some(())
    });
    for line in &lines[1..] {
        append(&file, line);
        std::thread::sleep(Duration::from_millis(20));
    }
    // Two rules fire in this run (repeat at call 5, no progress at call 10): one abort.
    let (_, _) = s.wait_for(Duration::from_secs(10), |s| {
        let fs = findings(s);
        (fs.len() == 2 && fs.iter().any(|f| f["stop"]["ok"] == true)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(&calls, "sessions.abort"), 1);
    let abort = calls.lock().unwrap().iter().find(|(m, _)| m == "sessions.abort").unwrap().1.clone();
    assert_eq!(abort, json!({"key": "agent:main:loop"}));
    let repeat = findings(&s).into_iter().find(|f| f["rule"] == "repeat").unwrap();
    assert_eq!(repeat["stop"]["gateway"]["status"], "aborted");
    assert_eq!(repeat["stop"]["method"], "sessions.abort");

    // A stop by hand, then a pause and a resume by hand: each in the audit log, newest first.
    let r = s.send("POST", "/api/guard/stop", &json!({"session": "agent:main:loop"}), 200);
    assert_eq!((r["ok"].as_bool(), r["sessionId"].as_str()), (Some(true), Some(sid.as_str())));
    assert_eq!(count(&calls, "sessions.abort"), 2);
    let p = s.send("POST", "/api/guard/pause", &json!({}), 200);
    assert_eq!(p["gateway"]["suspensionId"], "susp-1");
    let prepare = calls.lock().unwrap().iter().find(|(m, _)| m == "gateway.suspend.prepare").unwrap().1.clone();
    assert_eq!(prepare, json!({"requestId": "clawmetry-manual"}));
    assert_eq!(s.get("/api/guard")["pause"]["active"], true);
    s.send("POST", "/api/guard/resume", &json!({}), 200);
    let resume = calls.lock().unwrap().iter().find(|(m, _)| m == "gateway.suspend.resume").unwrap().1.clone();
    assert_eq!(resume, json!({"suspensionId": "susp-1"}));
    assert_eq!(s.get("/api/guard")["pause"]["active"], false);
    let audit = s.get("/api/guard/audit");
    let e = audit["entries"].as_array().unwrap();
    let actions: Vec<&str> = e.iter().map(|x| x["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["resume", "pause", "stop", "stop"]);
    assert!(e.iter().all(|x| x["ok"] == true), "{audit}");
    assert!(e[3]["who"].as_str().unwrap().starts_with("clawmetry auto-stop (guard rule repeat"), "{}", e[3]);
    assert!(e[2]["who"].as_str().unwrap().starts_with("this machine without a token"), "{}", e[2]);
    // The file has the same four lines, oldest first.
    let file = std::fs::read_to_string(audit["path"].as_str().unwrap()).unwrap();
    let in_file: Vec<String> = file
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_file, ["stop", "stop", "pause", "resume"]);
}
