//! Transcript pages of long sessions: a page anywhere in a big transcript (JSONL file or agent
//! database) holds the lines an independent reading of the same file or table puts there, with
//! the same `total` and `malformed`, and stays right after the session grows.

use crate::common::{install_fixture, start, Server};
use serde_json::Value;
use std::io::Write;

fn event_line(i: u64) -> String {
    format!(
        r#"{{"type":"message","id":"m{i}","parentId":null,"timestamp":"2026-03-01T10:00:00.000Z","message":{{"role":"user","content":[{{"type":"text","text":"line {i} {}"}}]}}}}"#,
        "x".repeat((i % 50) as usize)
    )
}

/// The ids of a page's events and its total / malformed.
fn page(server: &Server, id: &str, offset: u64, limit: u64) -> (Vec<(u64, String)>, u64, u64) {
    let p = server.get(&format!("/api/transcript/{id}?offset={offset}&limit={limit}"));
    let events = p["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["id"].as_str().unwrap_or("").to_string()))
        .collect();
    (events, p["total"].as_u64().unwrap(), p["malformed"].as_u64().unwrap())
}

/// What a page must hold, from the session's lines as (seq, text or None when unreadable): the
/// readable lines from the `offset`-th on that parse, `limit` of them; total = readable lines
/// less those that failed to parse on the page; malformed = those and the unreadable lines.
fn expected(lines: &[(u64, Option<String>)], offset: u64, limit: u64) -> (Vec<(u64, String)>, u64, u64) {
    let readable: Vec<&(u64, Option<String>)> = lines.iter().filter(|l| l.1.is_some()).collect();
    let unreadable = (lines.len() - readable.len()) as u64;
    let mut events = Vec::new();
    let mut bad = 0;
    for (seq, text) in readable.iter().skip(offset as usize) {
        if events.len() as u64 == limit {
            break;
        }
        match serde_json::from_str::<Value>(text.as_deref().unwrap()) {
            Ok(v) => events.push((*seq, v["id"].as_str().unwrap_or("").to_string())),
            Err(_) => bad += 1,
        }
    }
    (events, readable.len() as u64 - bad, unreadable + bad)
}

#[test]
fn a_late_page_of_a_long_jsonl_transcript_holds_the_right_lines() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let id = "77777777-1111-4222-8333-444444444444";
    let path = home.join(format!("agents/main/sessions/{id}.jsonl"));
    const N: u64 = 60_000;
    let mut text = String::new();
    for i in 0..N {
        text.push_str(&event_line(i));
        text.push('\n');
        // Blank lines are no lines; a malformed one is a line that is no event.
        if i % 1000 == 7 {
            text.push_str("  \r\n\n");
        }
        if i == N - 30 {
            text.push_str("{\"type\":\"message\",\"id\":\n");
        }
    }
    std::fs::write(&path, &text).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--no-search"]);
    // The independent reading: the file's non-blank lines, numbered from 0.
    let read = |text: &str| -> Vec<(u64, Option<String>)> {
        text.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| (i as u64, Some(l.to_string())))
            .collect()
    };
    let lines = read(&text);
    assert_eq!(lines.len() as u64, N + 1);
    for (offset, limit) in [(0, 100), (N / 2 + 3, 100), (N - 60, 100), (N - 29, 5), (N - 1, 10), (N + 5, 10)] {
        let got = page(&server, id, offset, limit);
        assert_eq!(got, expected(&lines, offset, limit), "offset {offset}, limit {limit}");
    }
    // The page over the malformed line: one event short of it, the next one instead.
    let (events, total, malformed) = page(&server, id, N - 40, 20);
    assert_eq!((events.len(), total, malformed), (20, N, 1));
    assert_eq!(events.last().unwrap().1, format!("m{}", N - 40 + 19));

    // The session goes on: the new lines are counted and shown.
    let mut more = String::new();
    for i in N..N + 500 {
        more.push_str(&event_line(i));
        more.push('\n');
    }
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(more.as_bytes()).unwrap();
    text.push_str(&more);
    let lines = read(&text);
    server.wait_for(std::time::Duration::from_secs(10), |s| {
        (s.get(&format!("/api/sessions/{id}"))["events"].as_u64() >= Some(N + 500)).then_some(())
    });
    for (offset, limit) in [(N - 50, 100), (N + 420, 100), (N / 3, 7)] {
        let got = page(&server, id, offset, limit);
        assert_eq!(got, expected(&lines, offset, limit), "after the append: offset {offset}, limit {limit}");
    }
}

#[test]
fn a_late_page_of_a_long_database_session_holds_the_right_rows() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let id = "88888888-1111-4222-8333-444444444444";
    let key = "agent:main:telegram:direct:4242";
    let now = 1_795_554_400_000i64;
    const N: u64 = 30_000;
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA ignore_check_constraints = ON; BEGIN").unwrap();
    conn.execute(
        "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at, status, label) \
         VALUES (?1, ?2, ?3, ?4, 'running', 'Long chat')",
        rusqlite::params![key, id, format!(r#"{{"sessionId":"{id}"}}"#), now],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO session_windows (session_id, session_key, created_at, updated_at, status) VALUES (?1, ?2, ?3, ?3, 'running')",
        rusqlite::params![id, key, now],
    )
    .unwrap();
    // Seqs with gaps (3 apart), a row whose zstd frame is broken (unreadable) early on, and a
    // malformed event late.
    let mut lines: Vec<(u64, Option<String>)> = Vec::new();
    {
        let mut plain = conn
            .prepare("INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for i in 0..N {
            let seq = 3 * i;
            if i == 1234 {
                conn.execute(
                    "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, navigation_json) \
                     VALUES (?1, ?2, NULL, ?3, x'28b52ffd00deadbeef', 10, '{}')",
                    rusqlite::params![id, seq as i64, now],
                )
                .unwrap();
                lines.push((seq, None));
                continue;
            }
            let text = if i == N - 20 { "{\"type\":\"message\",".to_string() } else { event_line(i) };
            plain.execute(rusqlite::params![id, seq as i64, text, now]).unwrap();
            lines.push((seq, Some(text)));
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--no-search"]);
    // The independent reading is `lines` as written, checked against the table itself.
    let rows: i64 =
        conn.query_row("SELECT count(*) FROM transcript_events WHERE session_id = ?1", [id], |r| r.get(0)).unwrap();
    assert_eq!(rows as u64, N);
    for (offset, limit) in [(0, 100), (1200, 100), (N / 2, 100), (N - 30, 100), (N - 2, 10), (N, 10)] {
        let got = page(&server, id, offset, limit);
        assert_eq!(got, expected(&lines, offset, limit), "offset {offset}, limit {limit}");
    }
    let (events, total, malformed) = page(&server, id, N - 30, 100);
    // N rows: one unreadable, one malformed on this page.
    assert_eq!((events.len() as u64, total, malformed), (N - 1 - (N - 30) - 1, N - 2, 2));

    // Rows added to the session: counted and shown.
    let mut tx = conn
        .prepare("INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, ?2, ?3, ?4)")
        .unwrap();
    for i in N..N + 300 {
        let text = event_line(i);
        tx.execute(rusqlite::params![id, (3 * i) as i64, text, now]).unwrap();
        lines.push((3 * i, Some(text)));
    }
    server.wait_for(std::time::Duration::from_secs(10), |s| {
        (s.get(&format!("/api/sessions/{id}"))["events"].as_u64() >= Some(N + 300 - 2)).then_some(())
    });
    for (offset, limit) in [(N - 40, 100), (N + 250, 100)] {
        let got = page(&server, id, offset, limit);
        assert_eq!(got, expected(&lines, offset, limit), "after the inserts: offset {offset}, limit {limit}");
    }
}
