//! Spend that is never lost (issue 12): deleted and archived sessions, and the ledger.
//!
//! `tests/fixtures/lab-archives/<step>` are state dirs the real OpenClaw 2026.9.6 left after
//! each step of: turns, delete a sub-agent, delete a chat, archive the cron session, `/new`,
//! cleanup, a turn after `/new`, then cleanup with a disk budget that purges the deleted
//! sessions' archives (tests/fixtures/README.md). Every figure is checked against
//! `expected.json`, computed independently by `tests/fixtures/expected.py`.

use crate::common::{approx, expected, install_fixture, peak_rss, start, Server, TempDir};
use serde_json::{json, Value};
use std::path::Path;

const NOW: &str = "1796600000000"; // 2026-12-06T23:33Z, the day the lab ran
const STEPS: [&str; 8] = [
    "before",
    "step1-delete-subagent",
    "step2-delete-chat",
    "step3-archive-cron",
    "step4-new",
    "step5-cleanup",
    "step6-turn-after-new",
    "step7-cleanup-disk-budget",
];

fn fixture(step: &str) -> String {
    format!("lab-archives/{step}")
}

/// Copies a step's state dir (with the empty sessions dirs git cannot keep).
/// clawmetry on a fixture's state dir at the fixture's time, with `data` as its data dir.
fn start_with_data(home: &Path, data: &Path) -> Server {
    start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--data-dir", data.to_str().unwrap()])
}

fn install(step: &str) -> (TempDir, std::path::PathBuf) {
    let (tmp, home) = install_fixture(&fixture(step));
    for a in ["main", "ops"] {
        std::fs::create_dir_all(home.join("agents").join(a).join("sessions")).unwrap();
    }
    (tmp, home)
}

/// The all-time totals equal the oracle's figures (tokens, calls, cost).
fn assert_totals(server: &Server, exp: &Value, what: &str) {
    let t = &server.get("/api/overview")["usage"]["total"];
    assert_eq!(t["calls"], exp["model_calls"], "{what}: model calls ({t})");
    for k in ["input", "output", "cacheRead", "cacheWrite"] {
        assert_eq!(t[k], exp["tokens"][k], "{what}: {k}");
    }
    assert!(
        approx(&t["cost"], exp["cost_reported"].as_f64().unwrap()),
        "{what}: cost {} vs {}",
        t["cost"],
        exp["cost_reported"]
    );
}

/// Each session of the step: its figures and its state as OpenClaw left it.
fn assert_sessions(server: &Server, step: &str) {
    let exp = expected();
    let sessions = exp["fixtures"][fixture(step)]["sessions"].as_object().unwrap().clone();
    assert!(!sessions.is_empty());
    for (id, e) in &sessions {
        let s = server.get(&format!("/api/sessions/{id}"));
        let ctx = format!("{step} session {id}");
        assert_eq!(s["events"], e["events"], "{ctx} events");
        assert_eq!(s["toolCalls"], e["tool_calls"], "{ctx} tool calls");
        for k in ["input", "output", "cacheRead", "cacheWrite"] {
            assert_eq!(s["tokens"][k], e["tokens"][k], "{ctx} {k}");
        }
        assert!(approx(&s["cost"], e["cost_reported"].as_f64().unwrap()), "{ctx} cost");
        assert_eq!(s["state"], e["state"], "{ctx} state");
    }
}

#[test]
fn every_step_counts_each_session_once_with_its_state() {
    let exp = expected();
    for step in STEPS {
        let (_tmp, home) = install(step);
        let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
        assert_totals(&server, &exp["fixtures"][fixture(step)]["totals"], step);
        assert_sessions(&server, step);
        let h = server.get("/api/health");
        assert_eq!(h["index"]["badArchives"], 0, "{step}: {h}");
        // Two copies of each deleted session (a DB row and an identical .zst file): one read.
        let rows = exp["fixtures"][fixture(step)]["archive_rows"].as_array().unwrap().len();
        assert_eq!(h["index"]["archives"], rows as u64, "{step}: archives read");
    }
    // Until the purge, the lifetime totals never go down: the oracle's check, and ours.
    let before = &exp["fixtures"][fixture("before")]["totals"];
    for step in &STEPS[1..6] {
        assert_eq!(exp["fixtures"][fixture(step)]["totals"]["model_calls"], before["model_calls"], "{step}");
    }
}

#[test]
fn a_deleted_session_is_listed_filtered_and_its_transcript_opens_from_the_archive() {
    let (_tmp, home) = install("step2-delete-chat");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let exp = expected();
    let sessions = exp["fixtures"][fixture("step2-delete-chat")]["sessions"].as_object().unwrap().clone();
    let deleted: Vec<&String> = sessions.iter().filter(|(_, e)| e["state"] == "deleted").map(|(id, _)| id).collect();
    assert_eq!(deleted.len(), 2);
    let list = server.get("/api/sessions?state=deleted&limit=100");
    let mut ids: Vec<&str> = list["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want: Vec<&str> = deleted.iter().map(|s| s.as_str()).collect();
    want.sort();
    assert_eq!(ids, want);
    for id in &deleted {
        let s = server.get(&format!("/api/sessions/{id}"));
        assert_eq!(s["store"], "archive", "{s}");
        assert_eq!(s["archive"]["reason"], "deleted");
        assert_eq!(s["transcriptAvailable"], true);
        assert_eq!(s["key"], sessions[*id]["session_key"], "the key comes from the archive row");
        let page = server.get(&format!("/api/transcript/{id}?limit=1000"));
        assert_eq!(page["total"], sessions[*id]["events"], "{id}: every line of the archive");
        let first = &page["events"][0];
        assert!(first.is_object(), "{page}");
    }
    server.get_error("/api/sessions?state=gone", 400);
}

/// OpenClaw's delete, done in place on a running instance's database the way OpenClaw does it
/// (rows, window and node removed; the archive row inserted; the .zst file written).
fn delete_in_place(home: &Path, deleted_step_home: &Path, session_id: &str) {
    let db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let src = deleted_step_home.join("agents/main/agent/openclaw-agent.sqlite");
    conn.execute("ATTACH DATABASE ?1 AS after", [src.to_str().unwrap()]).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    conn.execute("DELETE FROM session_windows WHERE session_id = ?1", [session_id]).unwrap();
    conn.execute(
        "DELETE FROM session_nodes WHERE session_key = (SELECT session_key FROM after.session_transcript_archives WHERE session_id = ?1)",
        [session_id],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO session_transcript_archives SELECT * FROM after.session_transcript_archives WHERE session_id = ?1",
        [session_id],
    )
    .unwrap();
    conn.execute_batch("COMMIT").unwrap();
    // The transcript rows go in a transaction of their own, after clawmetry had time to poll:
    // a poll between the two sees the archive and one window less while the rows are still
    // there (as with the real OpenClaw, whose delete is not one transaction either).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    conn.execute("DELETE FROM transcript_events WHERE session_id = ?1", [session_id]).unwrap();
    let name: String = conn
        .query_row("SELECT archive_name FROM session_transcript_archives WHERE session_id = ?1", [session_id], |r| {
            r.get(0)
        })
        .unwrap();
    std::fs::copy(
        deleted_step_home.join("agents/main/sessions").join(&name),
        home.join("agents/main/sessions").join(&name),
    )
    .unwrap();
}

#[test]
fn deleting_while_running_changes_no_total_and_a_restart_agrees() {
    let exp = expected();
    let before = &exp["fixtures"][fixture("before")]["totals"];
    let (_tmp, home) = install("before");
    let (_t2, after) = install("step2-delete-chat");
    let data = TempDir::new("ledger-live");
    let args =
        ["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--data-dir", data.path().to_str().unwrap()];
    let server = start(&args);
    assert_totals(&server, before, "before");
    let deleted: Vec<String> = exp["fixtures"][fixture("step2-delete-chat")]["sessions"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["state"] == "deleted")
        .map(|(id, _)| id.clone())
        .collect();
    for id in &deleted {
        delete_in_place(&home, &after, id);
    }
    // Deleted, and counted from the archive (not from rows that are gone), whichever of them
    // had the newest rows.
    let (_, took) = server.wait_for(std::time::Duration::from_secs(15), |s| {
        let ok = deleted.iter().all(|id| {
            let v = s.get(&format!("/api/sessions/{id}"));
            v["state"] == "deleted" && v["store"] == "archive"
        });
        ok.then_some(())
    });
    assert!(took.as_secs() < 15);
    assert_totals(&server, before, "after deleting live");
    for id in &deleted {
        let page = server.get(&format!("/api/transcript/{id}?limit=1000"));
        assert!(page["total"].as_u64().unwrap() > 0, "{id}: the transcript opens from the archive: {page}");
    }
    let live_list = server.get("/api/sessions?limit=100&sort=cost");
    drop(server);
    // A fresh start on the same files says the same.
    let server = start(&args);
    assert_totals(&server, before, "after a restart");
    let restarted = server.get("/api/sessions?limit=100&sort=cost");
    let pick = |v: &Value| -> Vec<(String, String, String)> {
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].to_string(), s["state"].to_string(), s["cost"].to_string()))
            .collect()
    };
    assert_eq!(pick(&live_list), pick(&restarted));
}

#[test]
fn the_ledger_keeps_what_a_purge_removed() {
    let exp = expected();
    let data = TempDir::new("ledger");
    // clawmetry ran while the deleted sessions' archives were still there (step 6)...
    {
        let (_tmp, home) = install("step6-turn-after-new");
        let server = start_with_data(&home, data.path());
        assert_totals(&server, &exp["fixtures"][fixture("step6-turn-after-new")]["totals"], "step 6");
        // The ledger is written behind the index within a few seconds.
        let (ledger, _) = server.wait_for(std::time::Duration::from_secs(10), |s| {
            let l = s.get("/api/health")["ledger"].clone();
            l["lastWriteMs"].as_i64().map(|_| l)
        });
        let sessions = server.get("/api/sessions?limit=1000")["total"].clone();
        assert_eq!((&ledger["written"], &ledger["sessions"]), (&sessions, &sessions), "{ledger}");
        drop(server);
        // A restart on the same files: the ledger already has every session's figures (read
        // back from its JSON, costs included to the last bit that matters): nothing is written.
        let server = start_with_data(&home, data.path());
        let ledger = server.get("/api/health")["ledger"].clone();
        assert_eq!((&ledger["written"], &ledger["sessions"]), (&json!(0), &sessions), "{ledger}");
        assert_totals(&server, &exp["fixtures"][fixture("step6-turn-after-new")]["totals"], "step 6 again");
        drop(server);
        // A ledger from before its rows had their figures as columns (a restart compares those
        // and decodes only the rows that differ), or from another build: read whole, then each
        // row written once more with the right columns; the next restart writes nothing.
        let db = rusqlite::Connection::open(data.path().join("ledger.db")).unwrap();
        let with_columns = "SELECT count(*) FROM sessions WHERE events IS NOT NULL AND print IS NOT NULL";
        let n: i64 = db.query_row(with_columns, [], |r| r.get(0)).unwrap();
        assert_eq!(json!(n), sessions);
        // Half the rows without the columns, half with a fingerprint this build does not
        // compute (as an older build's hasher or another word size would give).
        db.execute_batch(
            "UPDATE sessions SET events = NULL, print = NULL WHERE rowid % 2 = 0; \
             UPDATE sessions SET print = print + 1 WHERE rowid % 2 = 1",
        )
        .unwrap();
        let server = start_with_data(&home, data.path());
        assert_totals(&server, &exp["fixtures"][fixture("step6-turn-after-new")]["totals"], "an older ledger");
        let (ledger, _) = server.wait_for(std::time::Duration::from_secs(10), |s| {
            let l = s.get("/api/health")["ledger"].clone();
            (l["written"] == sessions).then_some(l)
        });
        assert_eq!(ledger["sessions"], sessions, "{ledger}");
        let n: i64 = db.query_row(with_columns, [], |r| r.get(0)).unwrap();
        assert_eq!(json!(n), sessions);
        drop(server);
        let server = start_with_data(&home, data.path());
        let ledger = server.get("/api/health")["ledger"].clone();
        assert_eq!((&ledger["written"], &ledger["sessions"]), (&json!(0), &sessions), "{ledger}");
    }
    assert!(data.path().join("ledger.db").is_file());
    // ...then OpenClaw's cleanup purged them (and a turn ran): clawmetry starts again.
    let (_tmp, home) = install("step7-cleanup-disk-budget");
    let step7 = &exp["fixtures"][fixture("step7-cleanup-disk-budget")];
    let lost = &step7["lifetime_check"]["lost_since_before"];
    assert!(lost["model_calls"].as_u64().unwrap() > 0, "the fixture must purge something");
    let args =
        ["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--data-dir", data.path().to_str().unwrap()];
    let server = start(&args);
    // Money spent stays spent: the files' figures plus what the purge removed.
    let t = &server.get("/api/overview")["usage"]["total"];
    let calls = step7["totals"]["model_calls"].as_u64().unwrap() + lost["model_calls"].as_u64().unwrap();
    assert_eq!(t["calls"], calls, "{t}");
    for k in ["input", "output", "cacheRead", "cacheWrite"] {
        assert_eq!(
            t[k].as_u64().unwrap(),
            step7["totals"]["tokens"][k].as_u64().unwrap() + lost["tokens"][k].as_u64().unwrap(),
            "{k}"
        );
    }
    let cost = step7["totals"]["cost_reported"].as_f64().unwrap() + lost["cost_reported"].as_f64().unwrap();
    assert!(approx(&t["cost"], cost), "{} vs {cost}", t["cost"]);
    let purged = server.get("/api/sessions?state=purged&limit=100");
    assert_eq!(purged["total"], lost["sessions"].as_array().unwrap().len() as u64, "{purged}");
    for s in purged["sessions"].as_array().unwrap() {
        assert_eq!(s["transcriptAvailable"], false);
        assert_eq!(s["store"], "ledger");
        let page = server.get(&format!("/api/transcript/{}", s["id"].as_str().unwrap()));
        assert_eq!(page["total"], 0);
    }
    // The usage series and the CSV include them too.
    let usage = server.get("/api/usage?from=1796428800000&to=1796601600000&step=day");
    assert!(approx(&usage["totals"]["cost"], cost), "{}", usage["totals"]);
    let h = server.get("/api/health");
    assert_eq!(h["sources"]["purgedSessions"], purged["total"]);
    drop(server);
    // --forget-purged drops them on purpose: then the files' own figures.
    let mut forget = args.to_vec();
    forget.push("--forget-purged");
    let server = start(&forget);
    assert_totals(&server, &step7["totals"], "after --forget-purged");
    drop(server);
    let server = start(&args);
    assert_totals(&server, &step7["totals"], "forgotten for good");
}

#[test]
fn hostile_archives_are_counted_and_skipped() {
    let exp = expected();
    let (_tmp, home) = install("step2-delete-chat");
    let db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let sessions_dir = home.join("agents/main/sessions");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: Vec<(String, String)> = {
        let mut st = conn
            .prepare("SELECT session_id, archive_name FROM session_transcript_archives ORDER BY session_id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(rows.len(), 2);
    // The first archive: its row corrupt (garbage instead of zstd) and its file truncated.
    let (bad_id, bad_name) = &rows[0];
    conn.execute(
        "UPDATE session_transcript_archives SET archive_blob = x'28b52ffd00deadbeef' WHERE session_id = ?1",
        [bad_id],
    )
    .unwrap();
    let file = sessions_dir.join(bad_name);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    // The second: an encoding this version does not know (the CHECK constraint bypassed as a
    // newer OpenClaw might widen it).
    let (odd_id, odd_name) = &rows[1];
    conn.execute_batch("PRAGMA ignore_check_constraints = ON").unwrap();
    conn.execute("UPDATE session_transcript_archives SET encoding = 'brotli' WHERE session_id = ?1", [odd_id]).unwrap();
    std::fs::remove_file(sessions_dir.join(odd_name)).unwrap();
    drop(conn);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let h = server.get("/api/health");
    assert!(h["index"]["badArchives"].as_u64().unwrap() >= 3, "row, file and encoding: {h}");
    assert!(h["index"]["lastError"].as_str().is_some(), "{h}");
    // Everything else is intact: the live sessions' figures are the oracle's.
    let sessions = exp["fixtures"][fixture("step2-delete-chat")]["sessions"].as_object().unwrap().clone();
    let mut calls = 0;
    for (id, e) in &sessions {
        if id == bad_id || id == odd_id {
            continue;
        }
        let s = server.get(&format!("/api/sessions/{id}"));
        assert_eq!(s["events"], e["events"], "{id}");
        calls += e["model_calls"].as_u64().unwrap();
    }
    let t = &server.get("/api/overview")["usage"]["total"];
    // A truncated zstd file yields the lines before the cut at most; never more than the whole.
    let bad_calls = sessions[bad_id]["model_calls"].as_u64().unwrap();
    let got = t["calls"].as_u64().unwrap();
    assert!(got >= calls && got <= calls + bad_calls, "{got} vs {calls} (+{bad_calls})");
}

/// Peak resident memory of a process (VmHWM), in bytes.
#[test]
fn a_200_mb_archive_is_read_as_a_stream() {
    let (_tmp, home) = install("step2-delete-chat");
    // A deleted session of 200 MB (plain `identity` encoding): N model calls of known usage.
    const CALLS: u64 = 80_000;
    let pad = "x".repeat(2_400);
    let mut blob = String::with_capacity(210 * 1024 * 1024);
    blob.push_str(r#"{"type":"session","version":4,"id":"big-archive","timestamp":"2026-12-06T01:00:00.000Z"}"#);
    blob.push('\n');
    for i in 0..CALLS {
        let ts = format!("2026-12-06T{:02}:{:02}:{:02}.000Z", 2 + i / 3600 % 20, i / 60 % 60, i % 60);
        blob.push_str(&format!(
            r#"{{"type":"message","id":"m{i}","timestamp":"{ts}","message":{{"role":"assistant","content":[{{"type":"text","text":"{pad}"}}],"provider":"fakellm","model":"fake-model","usage":{{"input":1000,"output":10,"cacheRead":0,"cacheWrite":0,"totalTokens":1010,"cost":{{"total":0.00315}}}},"stopReason":"stop"}}}}"#
        ));
        blob.push('\n');
    }
    assert!(blob.len() > 200 * 1024 * 1024, "{}", blob.len());
    let db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO session_transcript_archives (session_id, generation, session_key, reason, encoding, archive_blob, \
         archive_sha256, archive_name, created_at) VALUES ('big-archive', 'g1', 'agent:main:big', 'deleted', 'identity', ?1, \
         ?2, 'big-archive.jsonl.deleted.2026-12-06T03-00-00.000Z.g1.zst', 1796526000000)",
        rusqlite::params![blob.as_bytes(), "0".repeat(64)],
    )
    .unwrap();
    drop(conn);
    drop(blob);
    // The search thread would read the 200 MB too (its memory is measured in search.rs).
    let exp = expected();
    let base = &exp["fixtures"][fixture("step2-delete-chat")]["totals"];
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--no-search"]);
    let s = server.get("/api/sessions/big-archive");
    assert_eq!(s["events"], CALLS + 1);
    assert_eq!(s["state"], "deleted");
    assert_eq!(s["tokens"]["input"], CALLS * 1000);
    assert!(approx(&s["cost"], CALLS as f64 * 0.00315), "{}", s["cost"]);
    let t = &server.get("/api/overview")["usage"]["total"];
    assert_eq!(t["calls"].as_u64().unwrap(), base["model_calls"].as_u64().unwrap() + CALLS);
    // Its transcript opens page by page from the archive, the last page too.
    let last = server.get(&format!("/api/transcript/big-archive?offset={}&limit=50", CALLS - 49));
    assert_eq!(last["total"], CALLS + 1);
    assert_eq!(last["events"].as_array().unwrap().len(), 50);
    // No archive is held whole: the server's peak memory stays far below its 200 MB.
    let peak = peak_rss(server.child.id());
    eprintln!("200 MB archive: server peak RSS {:.1} MB", peak as f64 / 1048576.0);
    assert!(peak < 100 * 1024 * 1024, "peak RSS {} MB", peak / (1024 * 1024));
}

#[test]
fn a_removed_agent_database_gives_the_same_figures_live_and_after_a_restart() {
    let exp = expected();
    let (_tmp, home) = install("step2-delete-chat");
    let data = TempDir::new("ledger-removed-db");
    let args =
        ["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--data-dir", data.path().to_str().unwrap()];
    let server = start(&args);
    let totals = &exp["fixtures"][fixture("step2-delete-chat")]["totals"];
    assert_totals(&server, totals, "before");
    server.wait_for(std::time::Duration::from_secs(10), |s| {
        s.get("/api/health")["ledger"]["lastWriteMs"].as_i64().map(|_| ())
    });
    std::fs::remove_file(home.join("agents/ops/agent/openclaw-agent.sqlite")).unwrap();
    let ops: Vec<String> = exp["fixtures"][fixture("step2-delete-chat")]["sessions"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["agent"] == "ops")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!ops.is_empty());
    server.wait_for(std::time::Duration::from_secs(15), |s| {
        ops.iter().all(|id| s.get(&format!("/api/sessions/{id}"))["state"] == "purged").then_some(())
    });
    assert_totals(&server, totals, "live, database removed");
    let pick = |v: &Value| -> Vec<(String, String, String)> {
        let mut rows: Vec<_> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].to_string(), s["state"].to_string(), s["cost"].to_string()))
            .collect();
        rows.sort();
        rows
    };
    let live = pick(&server.get("/api/sessions?limit=100"));
    // The ledger has caught up before the restart.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    drop(server);
    let server = start(&args);
    assert_totals(&server, totals, "restarted");
    assert_eq!(live, pick(&server.get("/api/sessions?limit=100")));
}

/// The ledger follows metadata, not only figures: archiving a session in OpenClaw (same events,
/// same cost) rewrites its row, so that a later purge still knows it was archived; a restart
/// with nothing changed writes nothing.
#[test]
fn the_ledger_row_follows_an_archived_session() {
    let data = TempDir::new("ledger-meta");
    let cron = "dc8196f7-0570-4d72-83ed-e61ebf4caa7d";
    let ledger_archived_ms = || -> Value {
        let conn = rusqlite::Connection::open(data.path().join("ledger.db")).unwrap();
        let text: String = conn.query_row("SELECT data FROM sessions WHERE id = ?1", [cron], |r| r.get(0)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["meta"]["archivedMs"].clone()
    };
    // Runs clawmetry on a step: waits for its ledger write when one is expected, else for two
    // flush periods (2 s each) in which nothing may be written.
    let run = |step: &str, writes: bool| -> Value {
        let (_tmp, home) = install(step);
        let server = start_with_data(&home, data.path());
        if !writes {
            std::thread::sleep(std::time::Duration::from_millis(4500));
            return server.get("/api/health")["ledger"].clone();
        }
        let (ledger, _) = server.wait_for(std::time::Duration::from_secs(10), |s| {
            let l = s.get("/api/health")["ledger"].clone();
            l["lastWriteMs"].as_i64().map(|_| l)
        });
        ledger
    };
    run("step2-delete-chat", true);
    assert!(ledger_archived_ms().is_null(), "not archived yet");
    let l = run("step3-archive-cron", true);
    assert!(l["written"].as_u64() >= Some(1), "{l}");
    assert!(ledger_archived_ms().as_i64().is_some_and(|ms| ms > 0), "{}", ledger_archived_ms());
    let l = run("step3-archive-cron", false);
    assert_eq!((&l["written"], &l["lastWriteMs"]), (&json!(0), &Value::Null), "{l}");
}
