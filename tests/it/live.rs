//! Live following: the binary sees appended, truncated, replaced and renamed JSONL files, new
//! rows in a live agent database, an installation that appears after start-up, and survives
//! hostile input.

use crate::common::{self, install_fixture, start, TempDir};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

const SID: &str = "aaaaaaaa-1111-4222-8333-444444444444";

fn header(id: &str) -> String {
    format!(r#"{{"type":"session","version":3,"id":"{id}","timestamp":"2026-11-25T10:00:00.000Z","cwd":"/w"}}"#)
}

fn assistant(n: u64, input: u64, cost: f64) -> String {
    format!(
        r#"{{"type":"message","id":"m{n}","parentId":null,"timestamp":"2026-11-25T10:00:{:02}.000Z","message":{{"role":"assistant","content":[{{"type":"text","text":"turn {n}"}},{{"type":"toolCall","id":"c{n}","name":"exec","arguments":{{}}}}],"provider":"anthropic","model":"claude-sonnet-4-5","usage":{{"input":{input},"output":10,"cacheRead":0,"cacheWrite":0,"totalTokens":{},"cost":{{"total":{cost}}}}},"stopReason":"toolUse"}}}}"#,
        n % 60,
        input + 10
    )
}

fn tokens_in(server: &common::Server, id: &str) -> Option<(u64, u64)> {
    let (status, v) = server.try_get_json(&format!("/api/sessions/{id}")).ok()?;
    (status == 200).then(|| (v["tokens"]["input"].as_u64().unwrap(), v["events"].as_u64().unwrap()))
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn jsonl_append_partial_truncate_replace_rename() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let dir = home.join("agents/main/sessions");
    let file = dir.join(format!("{SID}.jsonl"));

    // The event stream reports the change too.
    let (mut sse, mut seen) = crate::common::open_events(server.port);
    let mut buf = [0u8; 4096];

    // A new file appears.
    append(&file, &format!("{}\n{}\n", header(SID), assistant(1, 100, 0.5)));
    let (_, took) = server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| t.0 == 100));
    eprintln!("new file visible after {took:?}");
    while !seen.contains("event: sessions") {
        let n = sse.read(&mut buf).expect("event stream");
        assert!(n > 0, "event stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains(SID), "{seen}");

    // Appended lines; a partial last line waits for its newline.
    let line2 = assistant(2, 20, 0.1);
    append(&file, &format!("{}\n{}", assistant(3, 3, 0.0), &line2[..40]));
    server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| t.0 == 103));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tokens_in(&server, SID), Some((103, 3)), "a partial line was counted");
    append(&file, &format!("{}\n", &line2[40..]));
    let (_, took) = server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| t.0 == 123));
    eprintln!("appended line visible after {took:?}");
    let s = server.get(&format!("/api/sessions/{SID}"));
    assert!(common::approx(&s["cost"], 0.6));
    assert_eq!(s["toolCalls"], 3);

    // Truncated in place: the file is read again from the start, but money spent stays spent
    // (issue 12): what was counted before stays, and lines appended afterwards add to it.
    std::fs::write(&file, format!("{}\n{}\n", header(SID), assistant(9, 7, 0.01))).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(tokens_in(&server, SID), Some((123, 4)), "truncation must not lower the figures");
    append(&file, &format!("{}\n", assistant(10, 5, 0.01)));
    server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| *t == (128, 5)));

    // Replaced by a new file with less in it (write + rename over it): re-read, figures kept.
    let tmp = dir.join(format!("{SID}.jsonl.tmp"));
    std::fs::write(&tmp, format!("{}\n{}\n{}\n", header(SID), assistant(1, 50, 0.2), assistant(2, 50, 0.2))).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(tokens_in(&server, SID), Some((128, 5)));
    // Replaced by one with more: its figures.
    let tmp = dir.join(format!("{SID}.jsonl.tmp"));
    let more: String = (1..=6).map(|n| assistant(n, 30, 0.2) + "\n").collect();
    std::fs::write(&tmp, format!("{}\n{more}", header(SID))).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| *t == (180, 7)));

    // A reset renames the file: same content, no double count.
    let reset = dir.join(format!("{SID}.jsonl.reset.2026-11-25T10-05-00.000Z"));
    std::fs::rename(&file, &reset).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    append(&reset, &format!("{}\n", assistant(3, 1, 0.0)));
    server.wait_for(Duration::from_secs(5), |s| tokens_in(s, SID).filter(|t| *t == (181, 8)));
    std::thread::sleep(Duration::from_millis(5500)); // one full rescan must not change it either
    assert_eq!(tokens_in(&server, SID), Some((181, 8)));
    let ov = server.get("/api/overview");
    let exp = common::expected();
    let base = exp["fixtures"]["legacy-2026.3"]["totals"]["tokens"]["input"].as_u64().unwrap();
    assert_eq!(ov["usage"]["total"]["input"].as_u64().unwrap(), base + 181);
}

#[test]
fn sqlite_rows_inserted_while_running() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let db_path = home.join("agents/main/agent/openclaw-agent.sqlite");
    // OpenClaw runs its databases in WAL mode and keeps a connection open.
    let writer = rusqlite::Connection::open(&db_path).unwrap();
    let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let sub = "bb15634a-9820-48ac-af1a-2c596384781c";
    assert_eq!(tokens_in(&server, sub), Some((8434, 9)));

    // A plain row and a zstd-compressed row, as OpenClaw writes them.
    let now = 1_795_554_400_000i64;
    writer
        .execute(
            "INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, 9, ?2, ?3)",
            rusqlite::params![sub, assistant(10, 1000, 0.25), now],
        )
        .unwrap();
    let (_, took) = server.wait_for(Duration::from_secs(5), |s| tokens_in(s, sub).filter(|t| t.0 == 9434));
    eprintln!("inserted row visible after {took:?}");
    let big = assistant(11, 5000, 0.5);
    let frame = ruzstd::encoding::compress_to_vec(big.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest);
    let nav = r#"{"version":1,"report":{"kind":"canonical"},"navigation":{},"reset":{},"model":{},"modelBytes":0,"modelWithoutCheckpointBytes":0,"withoutCustomDataBytes":0}"#;
    writer
        .execute(
            "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, navigation_json) \
             VALUES (?1, 10, NULL, ?2, ?3, ?4, ?5)",
            rusqlite::params![sub, now + 1, frame, big.len() as i64, nav],
        )
        .unwrap();
    let (_, took) = server.wait_for(Duration::from_secs(5), |s| tokens_in(s, sub).filter(|t| *t == (14434, 11)));
    assert!(took < Duration::from_secs(3), "a WAL commit waited for the rescan ({took:?})");
    let t = server.get(&format!("/api/transcript/{sub}?limit=100&offset=9"));
    assert_eq!(t["events"].as_array().unwrap().len(), 2);
    assert_eq!(t["events"][1]["usage"]["input"], 5000);

    // A new session: index rows first, then its transcript.
    let new_id = "cccccccc-2222-4333-8444-555555555555";
    let key = "agent:main:telegram:direct:42";
    writer
        .execute(
            "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at, status, label) \
             VALUES (?1, ?2, ?3, ?4, 'running', 'Telegram chat')",
            rusqlite::params![key, new_id, format!(r#"{{"sessionId":"{new_id}","lastChannel":"telegram"}}"#), now],
        )
        .unwrap();
    writer
        .execute(
            "INSERT INTO session_windows (session_id, session_key, created_at, updated_at, status, channel) \
             VALUES (?1, ?2, ?3, ?3, 'running', 'telegram')",
            rusqlite::params![new_id, key, now],
        )
        .unwrap();
    writer
        .execute(
            "INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, 0, ?2, ?3)",
            rusqlite::params![new_id, header(new_id), now],
        )
        .unwrap();
    let (s, _) = server.wait_for(Duration::from_secs(5), |s| {
        let (st, v) = s.try_get_json(&format!("/api/sessions/{key}")).ok()?;
        (st == 200 && v["events"] == 1).then_some(v)
    });
    assert_eq!(s["id"], new_id);
    assert_eq!(s["status"], "running");
    assert_eq!(s["channel"], "telegram");
    assert_eq!(s["label"], "Telegram chat");
    assert_eq!(s["kind"], "chat");
    let running = server.get("/api/sessions?status=running");
    assert_eq!(running["total"], 1);
}

#[test]
fn installation_that_appears_later_is_picked_up() {
    let tmp = TempDir::new("late");
    let home = tmp.path().join("home");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let h = server.get("/api/health");
    assert_eq!(h["openclaw"]["found"], false);
    assert!(h["openclaw"]["hint"].as_str().unwrap().contains("--openclaw-dir"));
    assert_eq!(server.get("/api/overview")["sessions"]["total"], 0);
    assert!(server.stderr().contains("no OpenClaw installation found"));
    let (_fx, fixture_home) = install_fixture("lab-2026.9");
    common::copy_dir(&fixture_home, &home);
    server.wait_for(Duration::from_secs(15), |s| {
        let v = s.get("/api/overview");
        (v["sessions"]["total"] == 5 && v["usage"]["total"]["calls"] == 23).then_some(())
    });
    assert_eq!(server.get("/api/health")["openclaw"]["found"], true);
}

#[test]
fn hostile_input_is_counted_and_skipped() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    std::fs::write(home.join("openclaw.json"), "{ this is: not [ json").unwrap();
    let dir = home.join("agents/main/sessions");
    let bad = dir.join(format!("{SID}.jsonl"));
    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(header(SID).as_bytes());
    body.extend_from_slice(b"\n{\"type\":\"message\",\"message\":{\"role\":\"assist\n"); // truncated line
    body.extend_from_slice(assistant(1, 10, 0.1).as_bytes());
    body.extend_from_slice(b"\n\xff\xfe\xfd not utf-8 \x80\n");
    body.extend_from_slice(b"{\"type\":\"from_the_future\",\"x\":1}\n");
    body.extend_from_slice("[".repeat(200_000).as_bytes());
    body.extend_from_slice(b"\n");
    body.extend_from_slice(b"{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"usage\":\"garbage\"}}\n");
    body.extend_from_slice(
        format!("{{\"type\":\"custom\",\"data\":\"{}\"}}\n", "x".repeat(33 * 1024 * 1024)).as_bytes(),
    );
    body.extend_from_slice(assistant(2, 5, 0.1).as_bytes());
    body.extend_from_slice(b"\n");
    std::fs::write(&bad, &body).unwrap();
    std::fs::write(dir.join("sessions.json"), "{ not json").unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let h = server.get("/api/health");
    let ix = &h["index"];
    assert!(h["openclaw"]["configError"].as_str().is_some(), "{h}");
    assert_eq!(ix["nonUtf8Lines"], 1, "{ix}");
    assert_eq!(ix["hugeLines"], 1, "{ix}");
    assert!(ix["malformedLines"].as_u64().unwrap() >= 3, "{ix}");
    assert!(ix["sourceErrors"].as_u64().unwrap() >= 1, "{ix}");
    let s = server.get(&format!("/api/sessions/{SID}"));
    assert_eq!(s["tokens"]["input"], 15, "the valid lines around the bad ones count: {s}");
    let unknown: Value = s["events"].clone();
    assert!(unknown.as_u64().unwrap() >= 4);
    let t = server.get(&format!("/api/transcript/{SID}?limit=100"));
    assert!(t["events"].as_array().unwrap().iter().any(|e| e["kind"] == "unknown"));
    // The rest of the installation is still indexed.
    let exp = common::expected();
    let calls = exp["fixtures"]["legacy-2026.3"]["totals"]["model_calls"].as_u64().unwrap();
    assert_eq!(server.get("/api/overview")["usage"]["total"]["calls"].as_u64().unwrap(), calls + 2);
}

#[test]
fn a_sessions_dir_removed_and_made_again_is_followed_at_once() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let dir = home.join("agents/main/sessions");
    let kept = home.join("sessions-moved-away");
    std::fs::rename(&dir, &kept).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::create_dir(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A new session in the new dir shows in milliseconds (inotify on the new dir), not after a
    // rescan or a restart.
    let file = dir.join(format!("{SID}.jsonl"));
    append(&file, &format!("{}\n{}\n", header(SID), assistant(1, 100, 0.5)));
    let (_, took) = server.wait_for(Duration::from_secs(10), |s| tokens_in(s, SID).filter(|t| t.0 == 100));
    append(&file, &format!("{}\n", assistant(2, 7, 0.5)));
    let (_, took2) = server.wait_for(Duration::from_secs(10), |s| tokens_in(s, SID).filter(|t| t.0 == 107));
    eprintln!("recreated dir: first file after {took:?}, an append after {took2:?}");
    assert!(took2 < Duration::from_secs(1), "an append in the recreated dir took {took2:?}");
    // What the moved-away files counted stays counted (their sessions are purged, not lost).
    let exp = common::expected();
    let calls = exp["fixtures"]["legacy-2026.3"]["totals"]["model_calls"].as_u64().unwrap();
    assert_eq!(server.get("/api/overview")["usage"]["total"]["calls"].as_u64().unwrap(), calls + 2);
}

/// Peak resident memory (VmHWM) of a process, in MB.
#[test]
fn a_100_mb_sessions_json_is_read_in_little_memory() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    // 20,000 entries, each with a 5 KB field the index does not use (as OpenClaw's skills
    // snapshots and system prompt reports are).
    let blob = "s".repeat(5000);
    let mut text = String::from("{");
    for i in 0..20_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#""agent:main:chat:{i}":{{"sessionId":"big-{i:05}","label":"chat {i}","updatedAt":{},"skillsSnapshot":{{"prompt":"{blob}"}}}}"#,
            1_773_000_000_000u64 + i
        ));
    }
    text.push('}');
    assert!(text.len() > 100_000_000, "{}", text.len());
    let index = home.join("agents/main/sessions/sessions.json");
    std::fs::write(&index, &text).unwrap();
    drop(text);
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let listed = server.get("/api/sessions?q=big-&limit=1")["total"].as_u64().unwrap();
    assert_eq!(listed, 20_000);
    let label = server.get("/api/sessions/big-01234")["label"].clone();
    assert_eq!(label, "chat 1234");
    // Rewritten (as OpenClaw does on every change): read again, memory still small.
    let again = std::fs::read_to_string(&index).unwrap().replacen("\"label\":\"chat 7\"", "\"label\":\"renamed 7\"", 1);
    std::fs::write(&index, again).unwrap();
    // Generous: re-reading 100 MB takes seconds on a loaded 2-core CI machine.
    server.wait_for(Duration::from_secs(60), |s| {
        (s.get("/api/sessions/big-00007")["label"] == "renamed 7").then_some(())
    });
    let peak = common::peak_rss(server.child.id()) as f64 / 1048576.0;
    eprintln!("100 MB sessions.json: server peak RSS {peak:.1} MB");
    assert!(peak < 150.0, "peak RSS {peak:.1} MB for a 100 MB sessions.json");
}
