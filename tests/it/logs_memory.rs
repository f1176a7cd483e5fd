//! The Logs and Memory views' API (issue 15, items 2 and 3): `/api/logs?after=CURSOR` follows the
//! gateway log (appended lines arrive once, the next day's file and a truncation keep the tail
//! going, a symlink is refused, secrets are redacted, a line naming a known session links to it);
//! `/api/memory` lists and filters the workspace memory files and returns their text as it is.
//! Expected lines and figures are read from the fixture files, not from clawmetry.

use crate::common::{expected, install_fixture, start, TempDir};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// A secret-looking value that `src/redact.rs` replaces (an OpenAI-style key).
const SECRET: &str = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd";

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A line as OpenClaw's logger writes it (the lab's shape: bindings in "0", the text in "1").
fn log_line(level: &str, subsystem: &str, text: &str) -> String {
    let bindings = serde_json::json!({ "subsystem": subsystem }).to_string();
    let v = serde_json::json!({"0": bindings, "1": text, "_meta": {"logLevelName": level, "name": bindings},
        "time": "2026-11-25T09:00:00.000+00:00", "message": text});
    format!("{v}\n")
}

fn messages(v: &Value) -> Vec<String> {
    v["lines"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap_or("").to_string()).collect()
}

#[test]
fn the_cursor_tail_sends_new_lines_once_links_sessions_redacts_restarts_and_refuses_a_symlink() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let log = home.parent().unwrap().join("logs/openclaw.log");
    let fixture_lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);

    let first = server.get("/api/logs?limit=5000");
    assert_eq!(first["name"], "openclaw.log");
    assert_eq!(first["lines"].as_array().unwrap().len(), fixture_lines.len());
    let cursor = first["cursor"].as_str().unwrap().to_string();

    // The sub-agent whose key the lab log names ("announce:v1:agent:main:subagent:<uuid>:<run>").
    let sessions = expected()["fixtures"]["lab-2026.9"]["sessions"].as_object().unwrap().clone();
    let (sid, key) = sessions
        .iter()
        .filter_map(|(id, s)| s["session_key"].as_str().map(|k| (id.clone(), k.to_string())))
        .find(|(_, k)| {
            k.contains(":subagent:") && fixture_lines.iter().any(|l| l.contains(&format!("announce:v1:{k}:")))
        })
        .expect("a sub-agent key in the lab log");
    for (raw, shown) in fixture_lines.iter().zip(first["lines"].as_array().unwrap()) {
        if raw.contains(&format!("{key}:")) {
            assert_eq!(shown["session"], sid.as_str(), "{raw}");
            assert_eq!(shown["sessionKey"], key.as_str());
        } else if !raw.contains("agent:") {
            assert!(shown.get("session").is_none(), "{raw} -> {shown}");
        }
    }

    // Nothing new: nothing sent.
    let none = server.get(&format!("/api/logs?after={cursor}"));
    assert!(none["lines"].as_array().unwrap().is_empty());
    assert_eq!(none["cursor"], cursor.as_str());

    // Two lines written (one with a secret, one naming the session), and half of a third.
    append(&log, &log_line("WARN", "gateway", &format!("auth failed with key {SECRET}")));
    append(&log, &log_line("INFO", "agents/agent-command", &format!("[agent] run announce:v1:{key}:abc ended")));
    let half = log_line("ERROR", "gateway", "third line");
    append(&log, &half[..20]);
    let next = server.get(&format!("/api/logs?after={cursor}"));
    let got = messages(&next);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], "auth failed with key [REDACTED]");
    assert!(!next.to_string().contains(SECRET));
    assert_eq!(next["lines"][0]["level"], "WARN");
    assert_eq!(next["lines"][1]["session"], sid.as_str());
    assert_eq!(next["restarted"], false);
    let cursor = next["cursor"].as_str().unwrap().to_string();
    assert!(server.get(&format!("/api/logs?after={cursor}"))["lines"].as_array().unwrap().is_empty(), "sent once");
    append(&log, &half[20..]);
    let third = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(messages(&third), vec!["third line"], "the rest of a half-written line completes it");
    let cursor = third["cursor"].as_str().unwrap().to_string();

    // Truncated in place (same file, shorter): read again from its start.
    std::fs::write(&log, log_line("INFO", "gateway", "after truncation")).unwrap();
    let t = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(messages(&t), vec!["after truncation"]);
    assert_eq!(t["restarted"], true);
    let cursor = t["cursor"].as_str().unwrap().to_string();

    // Truncated and written again past the old offset between two reads: the bytes before the
    // cursor changed, so the file is read again from its start, not from the middle of a line.
    let long: String =
        (0..5).map(|i| log_line("WARN", "gateway", &format!("rewritten line {i} {}", "x".repeat(40)))).collect();
    std::fs::write(&log, &long).unwrap();
    let r = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(r["restarted"], true);
    assert_eq!(messages(&r), (0..5).map(|i| format!("rewritten line {i} {}", "x".repeat(40))).collect::<Vec<_>>());

    // A bad cursor is the client's mistake.
    server.get_error("/api/logs?after=nonsense", 400);

    // The configured log replaced by a symlink to another file: refused, not followed.
    let elsewhere = home.parent().unwrap().join("elsewhere.log");
    std::fs::write(&elsewhere, log_line("INFO", "x", "must not be shown")).unwrap();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
    let err = server.get_error("/api/logs", 503);
    assert!(!err.contains("must not be shown"), "{err}");
}

#[test]
fn the_next_days_file_in_the_log_dir_keeps_the_tail_going() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    // Without logging.file, OpenClaw writes openclaw-YYYY-MM-DD.log in its log dir.
    let cfg = home.join("openclaw.json");
    let mut conf: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    conf.as_object_mut().unwrap().remove("logging");
    std::fs::write(&cfg, conf.to_string()).unwrap();
    let dir = TempDir::new("logdir");
    let today = dir.path().join("openclaw-2026-11-24.log");
    std::fs::copy(home.parent().unwrap().join("logs/openclaw.log"), &today).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--log-dir", dir.path().to_str().unwrap()]);

    let first = server.get("/api/logs?limit=3");
    assert_eq!(first["name"], "openclaw-2026-11-24.log");
    let cursor = first["cursor"].as_str().unwrap().to_string();
    append(&today, &log_line("INFO", "gateway", "last line of the day"));
    let a = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(messages(&a), vec!["last line of the day"]);
    let cursor = a["cursor"].as_str().unwrap().to_string();

    // Midnight: a last line in the old file, then the gateway starts the next day's file, all
    // between two polls.
    append(&today, &log_line("INFO", "gateway", "written just before midnight"));
    let tomorrow = dir.path().join("openclaw-2026-11-25.log");
    std::fs::write(&tomorrow, log_line("INFO", "gateway", "first line of the next day")).unwrap();
    // A link named like a later day is not a log to follow.
    std::os::unix::fs::symlink(&today, dir.path().join("openclaw-2026-11-26.log")).unwrap();
    // The old file's last line first (and `more`: ask again at once), then the new file.
    let last = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(last["name"], "openclaw-2026-11-24.log");
    assert_eq!(messages(&last), vec!["written just before midnight"]);
    assert_eq!(last["more"], true);
    let cursor = last["cursor"].as_str().unwrap().to_string();
    let b = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(b["name"], "openclaw-2026-11-25.log");
    assert_eq!(messages(&b), vec!["first line of the next day"]);
    assert_eq!(b["restarted"], true);
    let cursor = b["cursor"].as_str().unwrap().to_string();
    append(&tomorrow, &log_line("ERROR", "gateway", "second line"));
    let c = server.get(&format!("/api/logs?after={cursor}"));
    assert_eq!(messages(&c), vec!["second line"]);
    assert_eq!(c["restarted"], false);
}

#[test]
fn memory_lists_filters_and_returns_text_as_written() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let ws = home.join("workspace");
    let planted = "# Notes\n\n<script>alert(1)</script>\n";
    std::fs::write(ws.join("memory/2026-11-25.md"), planted).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);

    let all = server.get("/api/memory?agent=main");
    let files = all["files"].as_array().unwrap();
    for name in ["MEMORY.md", "USER.md", "memory/2026-11-24.md", "memory/2026-11-25.md"] {
        let f = files.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("{name} in {all}"));
        assert_eq!(f["size"], std::fs::metadata(ws.join(name)).unwrap().len(), "{name}");
    }
    let one = server.get("/api/memory?agent=main&file=memory%2F2026-11-25.md");
    assert_eq!(one["text"], planted);

    // The filter keeps the files whose name or text holds the words (any case), as read here.
    let listed: Vec<String> = files.iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
    for (q, enc) in [("2026-11-25", "2026-11-25"), ("Durable Facts", "durable%20facts"), ("<SCRIPT>", "%3CSCRIPT%3E")] {
        let want: Vec<&String> = listed
            .iter()
            .filter(|n| {
                let text = std::fs::read_to_string(ws.join(n)).unwrap().to_lowercase();
                n.to_lowercase().contains(&q.to_lowercase()) || text.contains(&q.to_lowercase())
            })
            .collect();
        assert!(!want.is_empty() && want.len() < listed.len(), "{q}: {want:?}");
        let got = server.get(&format!("/api/memory?agent=main&q={enc}"));
        let names: Vec<&str> = got["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, want, "{q}");
    }
}
