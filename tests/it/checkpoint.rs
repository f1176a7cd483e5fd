//! The restart checkpoint (issue 21, item 3): a start that takes sources from
//! `<data-dir>/checkpoint` answers exactly as a cold index of the same files does, also after a
//! transcript grew, a database was replaced and a session's transcript was deleted while
//! clawmetry was stopped; a corrupt checkpoint is ignored and counted.
//!
//! The fixture: the lab's state dir after `/new` (`lab-archives/step6-turn-after-new`: agent
//! databases with archive rows), plus two file-era transcripts and a deleted one kept as a
//! `.zst` file (from `legacy-2026.3`). Expected figures come from a cold index of the same
//! files (`--no-checkpoint`, a copy of the data dir), compared field by field.

use crate::common::{copy_dir, fixtures, install_fixture, start, Server, TempDir};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const NOW: &str = "1796600000000";
const LIVE: &str = "6a5d2a19-7148-419a-8c4c-28a69f062726";
const GONE: &str = "8bda3b15-d404-4ab9-a427-d4c89c251a7b";
const ARCHIVED: &str = "e284ffb1-15b9-4955-bf7f-252e5a91938e";
const REWRITTEN: &str = "003d9e5b-51f2-496b-911f-3564cacac047";

fn legacy(name: &str) -> std::path::PathBuf {
    fixtures().join("legacy-2026.3/home/agents/main/sessions").join(name)
}

/// The lab's state dir with three file-era transcripts and a deleted one as a `.zst` archive.
fn install() -> (TempDir, std::path::PathBuf) {
    let (tmp, home) = install_fixture("lab-archives/step6-turn-after-new");
    let sessions = home.join("agents/main/sessions");
    std::fs::create_dir_all(home.join("agents/ops/sessions")).unwrap();
    for id in [LIVE, GONE, REWRITTEN] {
        std::fs::copy(legacy(&format!("{id}.jsonl")), sessions.join(format!("{id}.jsonl"))).unwrap();
    }
    let text = std::fs::read(legacy(&format!("{ARCHIVED}.jsonl"))).unwrap();
    let z = ruzstd::encoding::compress_to_vec(&text[..], ruzstd::encoding::CompressionLevel::Fastest);
    std::fs::write(sessions.join(format!("{ARCHIVED}.jsonl.deleted.2026-04-06T00-00-00.000Z.zst")), z).unwrap();
    (tmp, home)
}

fn run(home: &Path, data: &Path, cold: bool) -> Server {
    let mut args = vec!["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW];
    args.extend(["--data-dir", data.to_str().unwrap(), "--no-search"]);
    if cold {
        args.push("--no-checkpoint");
    }
    start(&args)
}

/// Everything a user sees of the figures: totals, every session, the daily series, and what
/// the index says it read.
fn figures(s: &Server) -> Value {
    let mut sessions = s.get("/api/sessions?limit=1000")["sessions"].clone();
    if let Some(list) = sessions.as_array_mut() {
        list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    }
    let health = s.get("/api/health");
    let index = &health["index"];
    json!({
        "total": s.get("/api/overview")["usage"]["total"],
        "sessions": sessions,
        "usage": s.get("/api/usage?from=1767225600000&to=1796601600000&step=day"),
        "read": [index["archives"], index["lines"], index["bytesRead"], index["malformedLines"], index["badArchives"]],
        "sources": [health["sources"]["sessions"], health["sources"]["purgedSessions"]],
    })
}

fn checkpoint(s: &Server) -> Value {
    s.get("/api/health")["checkpoint"].clone()
}

/// Waits until the checkpoint was written after the cold index (also when the one found was
/// refused: the error says so from the start, the write comes after the cold index; a server
/// killed before it would leave nothing for the next start).
fn written(s: &Server) -> Value {
    let got = s.wait_for(Duration::from_secs(20), |s| Some(checkpoint(s)).filter(|c| c["lastWriteMs"].is_i64()));
    got.0
}

#[test]
fn a_checkpoint_start_equals_a_cold_start() {
    let (_tmp, home) = install();
    let data = TempDir::new("checkpoint-data");
    let first = run(&home, data.path(), false);
    let c = written(&first);
    assert_eq!((c["loaded"].clone(), c["sourcesReused"].clone()), (json!(false), json!(0)), "{c}");
    let a = figures(&first);
    assert!(a["total"]["calls"].as_u64().unwrap() > 0, "{a}");
    assert!(a["sessions"].as_array().unwrap().iter().any(|s| s["id"] == ARCHIVED && s["state"] == "deleted"));
    drop(first);

    // Nothing changed: every archive comes from the checkpoint, every figure as before.
    let second = run(&home, data.path(), false);
    let c = checkpoint(&second);
    assert_eq!(c["loaded"], true, "{c}");
    // The two databases, their two archive rows, the archive file (the lab's own files are
    // the rows' copies: not read) and the three JSONL files.
    assert_eq!((c["sourcesReused"].clone(), c["sourcesReread"].clone()), (json!(8), json!(0)), "{c}");
    assert_eq!(figures(&second), a);
    drop(second);

    // While stopped: a transcript grows, another is rewritten in place (the same inode, longer,
    // other bytes), the ops agent's database gets new rows, the main agent's database is
    // replaced by a later one (its archives purged), a live transcript and the archive file
    // are deleted.
    let main = home.join("agents/main");
    let grown: Vec<String> = std::fs::read_to_string(legacy(&format!("{LIVE}.jsonl")))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"assistant\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!grown.is_empty());
    let path = main.join(format!("sessions/{LIVE}.jsonl"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&grown.concat());
    std::fs::write(&path, text).unwrap();
    let other = std::fs::read(legacy("eeeeeeee-0000-4000-8000-000000000001.jsonl")).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(main.join(format!("sessions/{REWRITTEN}.jsonl")))
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        &[&other[..], &std::fs::read(legacy(&format!("{REWRITTEN}.jsonl"))).unwrap()].concat(),
    )
    .unwrap();
    drop(f);
    let ops = rusqlite::Connection::open(home.join("agents/ops/agent/openclaw-agent.sqlite")).unwrap();
    let added = ops
        .execute(
            "INSERT INTO transcript_events (session_id, seq, event_json, created_at, event_zstd, event_utf8_bytes, \
             navigation_json) SELECT session_id, seq + 1000, event_json, created_at, event_zstd, event_utf8_bytes, \
             navigation_json FROM transcript_events WHERE rowid IN (SELECT rowid FROM transcript_events ORDER BY rowid DESC LIMIT 3)",
            [],
        )
        .unwrap();
    assert_eq!(added, 3);
    drop(ops);
    let later = fixtures().join("lab-archives/step7-cleanup-disk-budget/home/agents/main/agent/openclaw-agent.sqlite");
    let db = main.join("agent/openclaw-agent.sqlite");
    // Copied beside it and renamed over it: another inode for sure (a file removed first may
    // give its inode number to the copy; the rows would then be compared, see db.rs).
    std::fs::copy(later, db.with_extension("new")).unwrap();
    std::fs::rename(db.with_extension("new"), &db).unwrap();
    std::fs::remove_file(main.join(format!("sessions/{GONE}.jsonl"))).unwrap();
    for e in std::fs::read_dir(main.join("sessions")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(ARCHIVED) {
            std::fs::remove_file(p).unwrap();
        }
    }
    let data_cold = TempDir::new("checkpoint-cold");
    copy_dir(data.path(), data_cold.path());

    let warm = run(&home, data.path(), false);
    let c = written(&warm);
    assert_eq!(c["loaded"], true, "{c}");
    // The grown file and database are read from where the checkpoint left them, the rewritten
    // file and the replaced database whole (and the lab's archive files, no longer rows of the
    // replaced database).
    assert_eq!(c["sourcesResumed"], 2, "{c}");
    assert_eq!(c["sourcesReread"], 4, "{c}");
    let b = figures(&warm);
    drop(warm);
    let cold = run(&home, data_cold.path(), true);
    assert_eq!(checkpoint(&cold)["enabled"], false);
    assert_eq!(figures(&cold), b, "a checkpoint start differs from a cold start after the changes");
    drop(cold);
    assert_ne!(b["total"], a["total"], "the grown transcript counts");
    let state = |id: &str| b["sessions"].as_array().unwrap().iter().find(|s| s["id"] == id).map(|s| s["state"].clone());
    assert_eq!(state(GONE), Some(json!("purged")), "a deleted transcript's spend stays");
    assert_eq!(state(ARCHIVED), Some(json!("purged")));

    // A corrupt checkpoint: ignored, counted, and the figures are still right.
    assert!(!data.path().join("checkpoint-wal").exists(), "the file alone is the checkpoint");
    let mut bytes = std::fs::read(data.path().join("checkpoint")).unwrap();
    let half = bytes.len() / 2;
    bytes.truncate(half);
    bytes[100..half].fill(0x5a);
    std::fs::write(data.path().join("checkpoint"), bytes).unwrap();
    let broken = run(&home, data.path(), false);
    let c = written(&broken);
    assert_eq!((c["loaded"].clone(), c["ignored"].clone()), (json!(false), json!(1)), "{c}");
    assert!(c["error"].is_string(), "{c}");
    assert_eq!(figures(&broken), b);
    drop(broken);

    // Rows deleted from a database in place (the same inode): the rows the checkpoint read are
    // not all there any more, so it is read whole, as a cold start would.
    let ops = rusqlite::Connection::open(home.join("agents/ops/agent/openclaw-agent.sqlite")).unwrap();
    let deleted = ops
        .execute("DELETE FROM transcript_events WHERE seq < 1000 AND session_id = (SELECT min(session_id) FROM transcript_events)", [])
        .unwrap();
    assert!(deleted > 0);
    drop(ops);
    let data_cold = TempDir::new("checkpoint-cold2");
    copy_dir(data.path(), data_cold.path());
    let warm = run(&home, data.path(), false);
    let c = checkpoint(&warm);
    assert_eq!((c["loaded"].clone(), c["sourcesResumed"].clone()), (json!(true), json!(0)), "{c}");
    let d = figures(&warm);
    drop(warm);
    let cold = run(&home, data_cold.path(), true);
    assert_eq!(figures(&cold), d, "a checkpoint start differs from a cold start after rows were deleted");
    drop(cold);

    // clawmetry killed while writing its checkpoint: the copy taken inside a write transaction
    // has a hot journal (and the file half-written at worst). The next start rolls it back and
    // uses the checkpoint as it was before that write.
    let crashed = TempDir::new("checkpoint-crashed");
    {
        let cp = rusqlite::Connection::open(data.path().join("checkpoint")).unwrap();
        cp.execute_batch("PRAGMA cache_size = 1; BEGIN IMMEDIATE; DELETE FROM sources; UPDATE meta SET value = 'x'")
            .unwrap();
        copy_dir(data.path(), crashed.path());
        cp.execute_batch("ROLLBACK").unwrap();
    }
    assert!(crashed.path().join("checkpoint-journal").is_file(), "the copy has the write's journal");
    let warm = run(&home, crashed.path(), false);
    let c = checkpoint(&warm);
    assert_eq!((c["loaded"].clone(), c["ignored"].clone()), (json!(true), json!(0)), "{c}");
    assert_eq!(figures(&warm), d, "a checkpoint start after a crash in its write");
}

/// The session records: a `sessions.json` and an agent database unchanged since the checkpoint
/// give their records from it (the index is not parsed, the database's records not queried);
/// a `sessions.json` rewritten and a database record updated while clawmetry was stopped are
/// read again, and every figure and label is what a cold start shows.
#[test]
fn session_records_come_from_the_checkpoint_until_they_change() {
    let (_tmp, home) = install();
    let sessions = home.join("agents/main/sessions");
    std::fs::copy(legacy("sessions.json"), sessions.join("sessions.json")).unwrap();
    let data = TempDir::new("checkpoint-records");
    let first = run(&home, data.path(), false);
    written(&first);
    let a = figures(&first);
    let label = |f: &Value, id: &str| {
        f["sessions"].as_array().unwrap().iter().find(|s| s["id"] == id).map(|s| s["label"].clone())
    };
    assert_eq!(label(&a, LIVE), Some(json!("Cron: auto-dream")), "the index's label");
    drop(first);

    let second = run(&home, data.path(), false);
    let c = checkpoint(&second);
    // The eight sources of `a_checkpoint_start_equals_a_cold_start` and the index.
    assert_eq!((c["sourcesReused"].clone(), c["sourcesReread"].clone()), (json!(9), json!(0)), "{c}");
    assert_eq!(figures(&second), a);
    drop(second);

    // While stopped: the index is rewritten with another label, and a database record is
    // renamed (its `updated_at` moves on, as OpenClaw's writes do).
    let index = std::fs::read_to_string(sessions.join("sessions.json")).unwrap();
    assert!(index.contains("\"Cron: auto-dream\""));
    std::fs::write(sessions.join("sessions.json"), index.replace("\"Cron: auto-dream\"", "\"Cron: renamed\"")).unwrap();
    let ops = rusqlite::Connection::open(home.join("agents/ops/agent/openclaw-agent.sqlite")).unwrap();
    let renamed: String = ops
        .query_row(
            "UPDATE session_nodes SET label = 'ops renamed', updated_at = updated_at + 1 \
             WHERE session_key = (SELECT min(session_key) FROM session_nodes) RETURNING current_session_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(ops);
    let data_cold = TempDir::new("checkpoint-records-cold");
    copy_dir(data.path(), data_cold.path());
    let warm = run(&home, data.path(), false);
    let c = written(&warm);
    assert_eq!(c["sourcesReread"], 1, "the rewritten index: {c}");
    let b = figures(&warm);
    drop(warm);
    assert_eq!(label(&b, LIVE), Some(json!("Cron: renamed")), "the rewritten index");
    assert_eq!(label(&b, &renamed), Some(json!("ops renamed")), "the updated database record");
    let cold = run(&home, data_cold.path(), true);
    assert_eq!(figures(&cold), b, "a checkpoint start differs from a cold start after the records changed");
}
