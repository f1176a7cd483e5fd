//! Hostile agent databases (OpenClaw 2026.7+ SQLite era): a writer holding an EXCLUSIVE lock,
//! garbage bytes, and schemas newer or older than the one clawmetry was written against.

use crate::common::{self, install_fixture, start};
use rusqlite::Connection;
use std::time::{Duration, Instant};

const MAIN_SUB: &str = "bb15634a-9820-48ac-af1a-2c596384781c";
const OPS: &str = "e3533987-ed42-46d7-8066-3ec690d964f5";

fn assistant(n: u64, input: u64) -> String {
    format!(
        r#"{{"type":"message","id":"m{n}","parentId":null,"timestamp":"2026-11-25T10:00:{:02}.000Z","message":{{"role":"assistant","content":[{{"type":"text","text":"turn {n}"}}],"provider":"anthropic","model":"claude-sonnet-4-5","usage":{{"input":{input},"output":10,"cacheRead":0,"cacheWrite":0,"totalTokens":{},"cost":{{"total":0.1}}}},"stopReason":"stop"}}}}"#,
        n % 60,
        input + 10
    )
}

/// (input tokens, events) of a session, or None when it is not served.
fn tokens_in(server: &common::Server, id: &str) -> Option<(u64, u64)> {
    let (status, v) = server.try_get_json(&format!("/api/sessions/{id}")).ok()?;
    (status == 200).then(|| (v["tokens"]["input"].as_u64().unwrap(), v["events"].as_u64().unwrap()))
}

fn source_errors(server: &common::Server) -> u64 {
    let h = server.get("/api/health");
    h["index"]["sourceErrors"].as_u64().unwrap_or_else(|| panic!("no index.sourceErrors in {h}"))
}

fn insert(conn: &Connection, sid: &str, seq: i64, input: u64) {
    conn.execute(
        "INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![sid, seq, assistant(seq as u64, input), 1_795_554_400_000i64 + seq],
    )
    .unwrap();
}

#[test]
fn an_exclusive_lock_does_not_stall_the_watcher_and_it_catches_up_after() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let main_db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let ops_db = home.join("agents/ops/agent/openclaw-agent.sqlite");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    assert_eq!(tokens_in(&server, MAIN_SUB), Some((8434, 9)));
    let (_, ops_events) = tokens_in(&server, OPS).unwrap();

    // Rollback-journal database (as the fixture is): an EXCLUSIVE transaction shuts readers out.
    let locker = Connection::open(&main_db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    insert(&locker, MAIN_SUB, 9, 1000);

    // While it is held: the API answers at once, and the other agent's database is followed.
    let ops_writer = Connection::open(&ops_db).unwrap();
    insert(&ops_writer, OPS, 100, 77);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        assert_eq!(server.get("/api/health")["index"]["ready"], true);
        server.get("/api/overview");
        assert!(t.elapsed() < Duration::from_secs(1), "API stalled {:?} during the lock", t.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ops_now, took) =
        server.wait_for(Duration::from_secs(5), |s| tokens_in(s, OPS).filter(|t| t.1 == ops_events + 1));
    eprintln!("ops row seen {took:?} after 6 s of lock on main");
    assert!(ops_now.0 >= 77);
    assert_eq!(tokens_in(&server, MAIN_SUB), Some((8434, 9)), "uncommitted row counted");

    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    let (_, took) = server.wait_for(Duration::from_secs(10), |s| tokens_in(s, MAIN_SUB).filter(|t| *t == (9434, 10)));
    eprintln!("locked row visible {took:?} after commit");
}

#[test]
fn a_corrupt_database_is_a_source_error_and_the_rest_keeps_serving() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let ops_db = home.join("agents/ops/agent/openclaw-agent.sqlite");
    let main_db = home.join("agents/main/agent/openclaw-agent.sqlite");
    // Garbage from the start.
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&ops_db, &garbage).unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    assert!(source_errors(&server) >= 1, "{}", server.get("/api/health"));
    assert_eq!(tokens_in(&server, MAIN_SUB), Some((8434, 9)));
    assert_eq!(tokens_in(&server, OPS), None);
    server.get("/api/overview");
    server.get("/api/usage");

    // A valid SQLite header over garbage pages, written while running.
    let before = source_errors(&server);
    let mut bad = std::fs::read(&main_db).unwrap();
    for (i, b) in bad.iter_mut().enumerate().skip(100) {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1];
    }
    std::fs::write(&main_db, &bad).unwrap();
    server.wait_for(Duration::from_secs(10), |s| (source_errors(s) > before).then_some(()));
    // What was indexed stays served; the server goes on answering.
    assert_eq!(tokens_in(&server, MAIN_SUB), Some((8434, 9)));
    let (status, _) = server.try_get_json(&format!("/api/transcript/{MAIN_SUB}")).unwrap();
    assert!(status == 200 || status == 503 || status == 404, "transcript of a corrupt db: {status}");
    assert_eq!(server.get("/api/health")["index"]["ready"], true);
    server.get("/api/overview");
}

#[test]
fn newer_and_older_schemas_are_still_read() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let main_db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let ops_db = home.join("agents/ops/agent/openclaw-agent.sqlite");
    {
        // Newer: extra columns everywhere, a new table.
        let c = Connection::open(&main_db).unwrap();
        c.execute_batch(
            "ALTER TABLE session_windows ADD COLUMN future_score REAL DEFAULT 0.5;
             ALTER TABLE session_windows ADD COLUMN future_tags TEXT;
             ALTER TABLE transcript_events ADD COLUMN future_blob BLOB;
             ALTER TABLE session_nodes ADD COLUMN future_owner TEXT DEFAULT 'x';
             CREATE TABLE future_things (id INTEGER PRIMARY KEY, v TEXT);",
        )
        .unwrap();
        // Older: optional columns of session_windows missing.
        let c = Connection::open(&ops_db).unwrap();
        let before: Vec<String> = c
            .prepare("PRAGMA table_info(session_windows)")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .flatten()
            .collect();
        for col in ["display_name", "model", "model_provider", "channel", "ended_at"] {
            if before.iter().any(|c| c == col) {
                c.execute_batch(&format!("ALTER TABLE session_windows DROP COLUMN {col}")).unwrap();
            }
        }
    }
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let ov = server.get("/api/overview");
    assert_eq!(ov["sessions"]["total"], 5, "{ov}");
    assert_eq!(ov["usage"]["total"]["calls"], 23, "{ov}");
    assert_eq!(source_errors(&server), 0, "{}", server.get("/api/health"));
    assert_eq!(tokens_in(&server, MAIN_SUB), Some((8434, 9)));
    let (_, ops_events) = tokens_in(&server, OPS).expect("ops session read from the older schema");
    // And both are still followed.
    let c = Connection::open(&ops_db).unwrap();
    insert(&c, OPS, 100, 5);
    server.wait_for(Duration::from_secs(10), |s| tokens_in(s, OPS).filter(|t| t.1 == ops_events + 1));
    let c = Connection::open(&main_db).unwrap();
    insert(&c, MAIN_SUB, 9, 1000);
    server.wait_for(Duration::from_secs(10), |s| tokens_in(s, MAIN_SUB).filter(|t| *t == (9434, 10)));
}
