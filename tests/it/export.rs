//! Export (issue 15): one session as JSON, JSONL, Markdown or CSV (`/api/sessions/<id>/export`),
//! and the sessions list as CSV or JSON (`/api/sessions?format=`). Expected content is read from
//! the fixture files and databases themselves (and `expected.json`), not from clawmetry; a big
//! transcript proves the export streams.

use crate::common::{expected, header, install_fixture, peak_rss, start, Server};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

const LAB: &str = "lab-2026.9";
const LEGACY: &str = "legacy-2026.3";
/// A legacy session kept in one file (no reset generation beside it).
const LEGACY_SESSION: &str = "e284ffb1-15b9-4955-bf7f-252e5a91938e";
const KEY: &str = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";

fn export(server: &Server, id: &str, format: &str) -> (String, Vec<u8>) {
    let (status, head, body) = server.get_raw(&format!("/api/sessions/{id}/export?format={format}")).unwrap();
    assert_eq!(status, 200, "{id} {format}: {}", String::from_utf8_lossy(&body));
    (head, body)
}

fn sessions_of(fixture: &str) -> Vec<String> {
    expected()["fixtures"][fixture]["sessions"].as_object().unwrap().keys().cloned().collect()
}

/// Every transcript row of a lab agent database, decoded (the large ones are zstd frames).
pub(crate) fn lab_rows(home: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for agent in ["main", "ops"] {
        let db = home.join(format!("agents/{agent}/agent/openclaw-agent.sqlite"));
        let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut q = c
            .prepare("SELECT session_id, event_json, event_zstd FROM transcript_events ORDER BY session_id, seq")
            .unwrap();
        let rows = q
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<Vec<u8>>>(2)?))
            })
            .unwrap();
        for row in rows {
            let (sid, json, zstd) = row.unwrap();
            let text = match (json, zstd) {
                (Some(j), _) => j,
                (None, Some(z)) => {
                    let mut d = ruzstd::decoding::StreamingDecoder::new(&z[..]).unwrap();
                    let mut s = String::new();
                    d.read_to_string(&mut s).unwrap();
                    s
                }
                (None, None) => panic!("row without content"),
            };
            out.push((sid, serde_json::from_str(&text).unwrap()));
        }
    }
    out
}

#[test]
fn jsonl_of_a_file_era_session_is_the_file() {
    let (_tmp, home) = install_fixture(LEGACY);
    let dir = home.join("agents/main/sessions");
    // A copy of another session with a secret planted in one line: redacted in the export.
    let planted = "8bda3b15-d404-4ab9-a427-d4c89c251a7b";
    let file = dir.join(format!("{planted}.jsonl"));
    let original = std::fs::read_to_string(&file).unwrap();
    let secret_line = format!(
        r#"{{"type":"message","id":"zz1","timestamp":"2026-03-30T10:00:00Z","message":{{"role":"user","content":[{{"type":"text","text":"my key is {KEY} ok"}}]}}}}"#
    );
    std::fs::write(&file, format!("{original}{secret_line}\n")).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);

    let (head, body) = export(&server, LEGACY_SESSION, "jsonl");
    let want = std::fs::read(dir.join(format!("{LEGACY_SESSION}.jsonl"))).unwrap();
    assert_eq!(body.len(), want.len());
    assert!(body == want, "the jsonl export differs from the file");
    assert_eq!(header(&head, "content-type").as_deref(), Some("application/x-ndjson; charset=utf-8"));
    assert_eq!(
        header(&head, "content-disposition").as_deref(),
        Some(format!("attachment; filename=\"{LEGACY_SESSION}.jsonl\"").as_str())
    );

    let (_, body) = export(&server, planted, "jsonl");
    let body = String::from_utf8(body).unwrap();
    assert!(!body.contains(KEY), "the secret leaked");
    assert_eq!(body, format!("{original}{}\n", secret_line.replace(KEY, "[REDACTED]")));
    // Every other format redacts it too.
    for f in ["json", "md"] {
        let (_, b) = export(&server, planted, f);
        let b = String::from_utf8(b).unwrap();
        assert!(!b.contains(KEY) && b.contains("my key is [REDACTED] ok"), "{f}");
    }
}

#[test]
fn markdown_of_a_lab_session_has_every_user_message_and_tool() {
    let (_tmp, home) = install_fixture(LAB);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    let rows = lab_rows(&home);
    let ids = sessions_of(LAB);
    assert_eq!(ids.len(), 5);
    let (mut users, mut tools) = (0, 0);
    for id in &ids {
        let (head, md) = export(&server, id, "md");
        assert_eq!(header(&head, "content-type").as_deref(), Some("text/markdown; charset=utf-8"));
        let md = String::from_utf8(md).unwrap();
        let summary = server.get(&format!("/api/sessions/{id}"));
        assert!(md.starts_with("# "), "{id}: {md}");
        assert!(md.contains(&format!("- **Session:** `{id}`")), "{id}");
        assert!(md.contains(&format!("- **Cost:** ${}", summary["cost"])), "{id}");
        for (_, ev) in rows.iter().filter(|(s, _)| s == id) {
            let msg = &ev["message"];
            match msg["role"].as_str() {
                Some("user") => {
                    let text = match &msg["content"] {
                        Value::String(s) => s.clone(),
                        Value::Array(b) => b.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n"),
                        _ => String::new(),
                    };
                    users += 1;
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        let line = line.replace('<', "&lt;");
                        assert!(md.contains(&format!("> {line}")), "{id}: user line {line:?} missing");
                    }
                }
                Some("assistant") => {
                    for b in msg["content"].as_array().into_iter().flatten().filter(|b| b["type"] == "toolCall") {
                        tools += 1;
                        let name = b["name"].as_str().unwrap();
                        assert!(md.contains(&format!("<summary>🔧 {name}</summary>")), "{id}: tool {name} missing");
                    }
                }
                _ => {}
            }
        }
        // Folded blocks are balanced: nothing in a message opened a tag or left a fence open.
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count(), "{id}");
        assert_eq!(md.lines().filter(|l| l.starts_with("```")).count() % 2, 0, "{id}");
    }
    // Every one the fixture has (expected.json).
    assert_eq!(users, expected_sum(LAB, "user_messages"));
    assert_eq!(tools, expected_sum(LAB, "tool_calls"));
}

fn expected_sum(fixture: &str, field: &str) -> usize {
    let exp = expected();
    exp["fixtures"][fixture]["sessions"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s[field].as_u64().unwrap() as usize)
        .sum()
}

/// Parses an RFC 4180 document (quoted fields with doubled quotes, CRLF rows).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the CSV does not end with a line break");
    rows
}

#[test]
fn csv_has_one_row_per_model_call_summing_to_the_cost() {
    for fixture in [LAB, LEGACY] {
        let (_tmp, home) = install_fixture(fixture);
        let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
        let exp = expected();
        for id in sessions_of(fixture) {
            let ctx = format!("{fixture} {id}");
            let (head, body) = export(&server, &id, "csv");
            assert_eq!(header(&head, "content-type").as_deref(), Some("text/csv; charset=utf-8"));
            let rows = parse_csv(std::str::from_utf8(&body).unwrap());
            let cols = &rows[0];
            assert_eq!(cols[..3], ["seq", "ts", "model"], "{ctx}");
            let col = |name: &str| cols.iter().position(|c| c == name).unwrap();
            let calls = exp["fixtures"][fixture]["sessions"][&id]["model_calls"].as_u64().unwrap();
            assert_eq!(rows.len() - 1, calls as usize, "{ctx}: rows");
            let sum: f64 = rows[1..].iter().map(|r| r[col("cost")].parse::<f64>().unwrap()).sum();
            let s = server.get(&format!("/api/sessions/{id}"));
            assert!((sum - s["cost"].as_f64().unwrap()).abs() < 1e-9, "{ctx}: {sum} vs {}", s["cost"]);
            let tokens: u64 = rows[1..].iter().map(|r| r[col("output")].parse::<u64>().unwrap()).sum();
            assert_eq!(tokens, s["tokens"]["output"].as_u64().unwrap(), "{ctx}: output tokens");
            for r in &rows[1..] {
                assert_eq!(r.len(), cols.len(), "{ctx}: {r:?}");
                assert!(r[col("ts")].is_empty() || r[col("ts")].ends_with('Z'), "{ctx}: {r:?}");
            }
        }
    }
}

#[test]
fn json_export_has_the_session_and_every_event() {
    let (_tmp, home) = install_fixture(LAB);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    let exp = expected();
    for id in sessions_of(LAB) {
        let (head, body) = export(&server, &id, "json");
        assert_eq!(header(&head, "content-type").as_deref(), Some("application/json"));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["session"]["id"], id.as_str());
        assert_eq!(v["session"]["cost"], server.get(&format!("/api/sessions/{id}"))["cost"]);
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len() as u64, exp["fixtures"][LAB]["sessions"][&id]["events"].as_u64().unwrap(), "{id}");
        assert_eq!(v["malformed"], 0);
        assert!(v.get("error").is_none());
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{id}: events out of order");
    }
}

#[test]
fn refusals_and_head() {
    let (_tmp, home) = install_fixture(LAB);
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let id = "bdfa3cc5-508a-4896-9c98-ae502491d01e";
    let e = server.get_error(&format!("/api/sessions/{id}/export?format=pdf"), 400);
    assert!(e.contains("json, jsonl, md or csv"), "{e}");
    let e = server.get_error("/api/sessions/no-such-session/export?format=md", 404);
    assert!(e.contains("no-such-session"), "{e}");
    // By key, as every session endpoint; json when no format is given.
    let (head, body) = export(&server, "agent:main:main", "json");
    assert!(header(&head, "content-disposition").unwrap().contains(&format!("{id}.json")));
    assert!(serde_json::from_slice::<Value>(&body).is_ok());
    let (status, head, _) = server.get_raw("/api/sessions/agent:main:main/export").unwrap();
    assert_eq!((status, header(&head, "content-type").as_deref()), (200, Some("application/json")));
    let (status, head, body) =
        server.request("HEAD", &format!("/api/sessions/{id}/export?format=md"), &[], None).unwrap();
    assert_eq!(status, 200);
    assert!(body.is_empty(), "HEAD has no body");
    assert_eq!(header(&head, "content-disposition").unwrap(), format!("attachment; filename=\"{id}.md\""));
    let (status, head, _) = server.request("POST", &format!("/api/sessions/{id}/export"), &[], Some(b"{}")).unwrap();
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow").as_deref(), Some("GET, HEAD"));
}

#[test]
fn sessions_list_exports_every_match() {
    let (_tmp, home) = install_fixture(LAB);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    for filter in ["", "&kind=subagent", "&agent=ops", "&kind=top&sort=cost&order=asc", "&q=nothing-matches"] {
        let list = server.get(&format!("/api/sessions?limit=1{filter}"));
        let total = list["total"].as_u64().unwrap() as usize;
        assert_eq!(list["limit"], 1, "the list itself still pages");
        let (status, head, body) = server.get_raw(&format!("/api/sessions?format=csv{filter}")).unwrap();
        assert_eq!(status, 200);
        assert_eq!(header(&head, "content-type").as_deref(), Some("text/csv; charset=utf-8"));
        assert!(header(&head, "content-disposition").unwrap().contains("clawmetry-sessions.csv"));
        let rows = parse_csv(std::str::from_utf8(&body).unwrap());
        assert_eq!(rows[0][0], "id");
        assert_eq!(rows[0].last().unwrap(), "cost");
        assert_eq!(rows.len() - 1, total, "{filter}");
        let v = server.get(&format!("/api/sessions?format=json{filter}"));
        let sessions = v["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), total, "{filter}");
        assert!(v.get("limit").is_none());
        // The same order as the list.
        if total > 0 {
            assert_eq!(sessions[0]["id"], list["sessions"][0]["id"], "{filter}");
            assert_eq!(rows[1][0], sessions[0]["id"].as_str().unwrap(), "{filter}");
        }
    }
    let total_cost: f64 = {
        let (_, _, body) = server.get_raw("/api/sessions?format=csv").unwrap();
        let rows = parse_csv(std::str::from_utf8(&body).unwrap());
        let c = rows[0].iter().position(|c| c == "cost").unwrap();
        rows[1..].iter().map(|r| r[c].parse::<f64>().unwrap()).sum()
    };
    assert!((total_cost - 0.5966346).abs() < 1e-6, "{total_cost}");
    assert!(server.get_error("/api/sessions?format=xml", 400).contains("csv or json"));
}

/// Reads a streamed answer without keeping it: (status line, head, body length, last line).
fn drain(server: &Server, path: &str) -> (String, String, u64, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(120))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut len, mut tail) = (0u64, Vec::new());
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        while !head.ends_with(b"\r\n\r\n") && !chunk.is_empty() {
            head.push(chunk[0]);
            chunk = &chunk[1..];
        }
        len += chunk.len() as u64;
        tail.extend_from_slice(chunk);
        if tail.len() > 64 * 1024 {
            tail.drain(..tail.len() - 32 * 1024);
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let tail = String::from_utf8_lossy(&tail);
    let last = tail.trim_end().rsplit('\n').next().unwrap_or("").to_string();
    (head.lines().next().unwrap_or("").to_string(), head, len, last)
}

#[test]
fn a_big_transcript_exports_without_being_held_in_memory() {
    let (_tmp, home) = install_fixture(LEGACY);
    let file = home.join(format!("agents/main/sessions/{LEGACY_SESSION}.jsonl"));
    // ~60 MB: the file's own lines, then 6,000 model calls of 10 kB each.
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    let filler = "lorem ipsum dolor sit amet ".repeat(370);
    for i in 0..6_000 {
        writeln!(
            f,
            r#"{{"type":"message","id":"big{i}","timestamp":"2026-03-30T12:00:00Z","message":{{"role":"assistant","content":[{{"type":"text","text":"{filler}"}}],"provider":"anthropic","model":"claude-sonnet-4-5","usage":{{"input":10,"output":2,"cost":{{"total":0.001}}}},"stopReason":"stop"}}}}"#
        )
        .unwrap();
    }
    drop(f);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 60_000_000, "{size}");
    // (The search thread would read the 60 MB as well; its memory is measured in search.rs.)
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--no-search"]);
    let before = peak_rss(server.child.id());
    let path = format!("/api/sessions/{LEGACY_SESSION}/export?format=");
    let (status, _, len, last) = drain(&server, &format!("{path}jsonl"));
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(len, size);
    assert!(last.contains("\"big5999\""), "{last}");
    let (status, _, len, last) = drain(&server, &format!("{path}json"));
    assert!(status.contains(" 200 ") && len > size / 2, "{status} {len}");
    assert!(last.ends_with("],\"malformed\":0}"), "{}", &last[last.len().saturating_sub(200)..]);
    let (_, _, len, _) = drain(&server, &format!("{path}md"));
    assert!(len > size / 2, "{len}");
    let after = peak_rss(server.child.id());
    eprintln!("export of a {size}-byte transcript: peak RSS {before} -> {after} bytes");
    // Holding the transcript (or its rendering) would add at least its 60 MB.
    assert!(after < before + 24 * 1024 * 1024, "peak RSS grew from {before} to {after} bytes");

    // Exports that stall (a client not reading) hold their places; past the limit: 503.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(s, "GET {path}jsonl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        stalled.push(s);
    }
    let e = server.get_error(&format!("{path}md"), 503);
    assert!(e.contains("too many exports"), "{e}");
    drop(stalled);
    server.wait_for(std::time::Duration::from_secs(30), |s| {
        s.get_raw(&format!("/api/sessions/{LEGACY_SESSION}/export?format=csv")).ok().filter(|r| r.0 == 200)
    });
}
