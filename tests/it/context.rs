//! How full each session's context got (issue 16, item 4): the largest prompt of one model
//! call against the model's context window, and what compactions removed. Every expected
//! figure is computed here from the fixtures' own files (the agent databases, the JSONL
//! transcripts, `openclaw.json`), never taken from another clawmetry endpoint.

use crate::common::{install_fixture, start};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// input + cacheRead + cacheWrite of an assistant message's usage.
fn prompt_of(ev: &Value) -> Option<u64> {
    let m = &ev["message"];
    if ev["type"] != "message" || m["role"] != "assistant" {
        return None;
    }
    let u = m.get("usage")?;
    Some(["input", "cacheRead", "cacheWrite"].iter().map(|k| u[*k].as_u64().unwrap_or(0)).sum())
}

/// Every event of every session in an agent database, in order (zstd events inflated).
fn db_events(db: &Path) -> HashMap<String, Vec<Value>> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st =
        c.prepare("SELECT session_id, event_json, event_zstd FROM transcript_events ORDER BY session_id, seq").unwrap();
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<Vec<u8>>>(2)?))
        })
        .unwrap();
    for row in rows {
        let (id, text, z) = row.unwrap();
        let text = match (text, z) {
            (Some(t), _) => t,
            (None, Some(z)) => {
                let mut s = String::new();
                ruzstd::decoding::StreamingDecoder::new(&z[..]).unwrap().read_to_string(&mut s).unwrap();
                s
            }
            (None, None) => panic!("an event with no text in {}", db.display()),
        };
        out.entry(id).or_default().push(serde_json::from_str(&text).unwrap());
    }
    out
}

#[test]
fn largest_prompt_against_the_configured_window() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(home.join("openclaw.json")).unwrap()).unwrap();
    let window = cfg["models"]["providers"]["fakellm"]["models"][0]["contextWindow"].as_u64().unwrap();
    assert_eq!(cfg["models"]["providers"]["fakellm"]["models"][0]["id"], "fake-model");
    let mut want: HashMap<String, u64> = HashMap::new();
    for agent in ["main", "ops"] {
        for (id, events) in db_events(&home.join(format!("agents/{agent}/agent/openclaw-agent.sqlite"))) {
            if let Some(max) = events.iter().filter_map(prompt_of).max() {
                want.insert(id, max);
            }
        }
    }
    assert!(want.len() >= 4, "the fixture has model calls in several sessions: {want:?}");

    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let list = server.get("/api/sessions?sort=context&limit=200");
    let rows = list["sessions"].as_array().unwrap();
    let mut last = f64::INFINITY;
    for s in rows {
        let id = s["id"].as_str().unwrap();
        let c = &s["context"];
        let Some(max) = want.get(id) else {
            assert_eq!(c["maxPrompt"], 0, "{id}: no model call, no prompt: {c}");
            continue;
        };
        assert_eq!(c["maxPrompt"].as_u64(), Some(*max), "{id}: {c}");
        assert_eq!((c["window"].as_u64(), c["windowSource"].as_str()), (Some(window), Some("config")), "{id}: {c}");
        assert_eq!(c["model"], "fakellm/fake-model");
        let pct = (*max as f64 * 100.0 / window as f64 * 10.0).round() / 10.0;
        assert_eq!(c["percent"].as_f64(), Some(pct), "{id}: {c}");
        // Sorted by how full, the fullest first.
        assert!(pct <= last, "{id}: {pct} after {last}");
        last = pct;
        assert_eq!((c["compactions"].as_u64(), c["compactedTokens"].as_u64()), (Some(0), Some(0)));
    }
    // The fullest session's page says the same.
    let (top, top_max) = want.iter().max_by_key(|(_, m)| **m).unwrap();
    let one = server.get(&format!("/api/sessions/{top}"));
    let one = one.get("session").unwrap_or(&one);
    assert_eq!(one["context"]["maxPrompt"].as_u64(), Some(*top_max), "{one}");
    assert_eq!(rows[0]["context"]["maxPrompt"].as_u64(), Some(*top_max));
}

/// Per session of a file-era fixture: (largest prompt, compactions, tokens they removed, a
/// compaction followed by a call).
fn jsonl_oracle(dir: &Path) -> HashMap<String, (u64, u64, u64, bool)> {
    let mut want = HashMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("jsonl") {
            continue;
        }
        let (mut max, mut n, mut removed, mut pending, mut followed) = (0u64, 0u64, 0u64, None::<u64>, false);
        // The index names a file-era session by its file (a header may say another id).
        let id = p.file_stem().unwrap().to_str().unwrap().to_string();
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let Ok(ev) = serde_json::from_str::<Value>(line) else { continue };
            if ev["type"] == "compaction" {
                n += 1;
                pending = Some(ev["tokensBefore"].as_u64().unwrap_or(0));
            }
            if let Some(p) = prompt_of(&ev) {
                max = max.max(p);
                if let Some(b) = pending.take() {
                    removed += b.saturating_sub(p);
                    followed = true;
                }
            }
        }
        want.insert(id, (max, n, removed, followed));
    }
    want
}

#[test]
fn compactions_and_what_they_removed_in_the_file_era() {
    // moltbot 2026.1: a real compaction (tokensBefore 13,533) followed by a call whose prompt
    // is larger (13,618: its summary was "unavailable due to context limit"), so it removed
    // nothing; legacy 2026.3: a compaction at 180,244 that ends the file (no call after it).
    let mut followed_seen = false;
    let mut trailing_seen = false;
    for fixture in ["moltbot-2026.1", "legacy-2026.3"] {
        let (_tmp, home) = install_fixture(fixture);
        let want = jsonl_oracle(&home.join("agents/main/sessions"));
        let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
        for (id, (max, n, removed, followed)) in &want {
            followed_seen |= *followed;
            trailing_seen |= *n > 0 && !*followed;
            let s = server.get(&format!("/api/sessions/{id}"));
            let s = s.get("session").unwrap_or(&s);
            let c = &s["context"];
            assert_eq!(
                (c["maxPrompt"].as_u64(), c["compactions"].as_u64(), c["compactedTokens"].as_u64()),
                (Some(*max), Some(*n), Some(*removed)),
                "{fixture} {id}: {c}"
            );
            // The window: known or null, never a guess; the percent only with a window.
            assert_eq!(c["percent"].is_null(), c["window"].is_null(), "{id}: {c}");
        }
    }
    assert!(followed_seen && trailing_seen, "both kinds of compaction were checked");
}
