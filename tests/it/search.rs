//! Full-text search (issue 15, item 4): `/api/search` on real transcripts of both eras, with
//! words planted in real lines (a tool result of a reset session's archive file, a Chinese
//! phrase in a user message); the hits of a real word equal what an independent scan of the
//! JSONL files finds; hostile queries get a 400 with a sentence, never a 500; new lines are
//! found while the server runs; a restart reads nothing again; deleted sessions of the SQLite
//! era are found; and the page in Chromium.

use crate::browser::Chrome;
use crate::common::{install_fixture, peak_rss, start, urlencode, Server, TempDir};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const RESET_SESSION: &str = "0c4e9163-2c40-4265-ab6e-a52f5dd1cd99";
const BIG_SESSION: &str = "e284ffb1-15b9-4955-bf7f-252e5a91938e";
const PLANTED: &str = "quixotrambler";
const CHINESE: &str = "部署失败了请检查";

fn sessions_dir(home: &Path) -> std::path::PathBuf {
    home.join("agents/main/sessions")
}

/// Waits until the search index has read everything there is (state ready, every session).
fn wait_indexed(server: &Server) -> Value {
    server
        .wait_for(Duration::from_secs(60), |s| {
            let ix = s.get("/api/health")["search"].clone();
            (ix["state"] == "ready" && ix["sessionsIndexed"] == ix["sessions"]).then_some(ix)
        })
        .0
}

fn search(server: &Server, query: &str) -> Value {
    server.get(&format!("/api/search?{}", form(&[("q", query), ("limit", "200")])))
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn hits(v: &Value) -> BTreeSet<(String, u64)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["sessionId"].as_str().unwrap().to_string(), h["seq"].as_u64().unwrap()))
        .collect()
}

/// The legacy fixture with a word planted in the tool result of the reset session's archive
/// file (line 2 of 3) and a Chinese phrase in the first user message of a live session.
fn planted_legacy() -> (TempDir, std::path::PathBuf, u64) {
    let (tmp, home) = install_fixture("legacy-2026.3");
    let dir = sessions_dir(&home);
    let reset = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{RESET_SESSION}.jsonl.reset.")))
        .unwrap();
    let text = std::fs::read_to_string(&reset).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines[1].contains("\"role\":\"toolResult\""), "{}", lines[1]);
    let marker = "\"content\":[{\"type\":\"text\",\"text\":\"";
    assert!(lines[1].contains(marker));
    lines[1] = lines[1].replacen(marker, &format!("{marker}{PLANTED} "), 1);
    std::fs::write(&reset, lines.join("\n") + "\n").unwrap();

    let big = dir.join(format!("{BIG_SESSION}.jsonl"));
    let text = std::fs::read_to_string(&big).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let seq = lines.iter().position(|l| l.contains("\"role\":\"user\"")).unwrap();
    let v: Value = serde_json::from_str(&lines[seq]).unwrap();
    let mut v2 = v.clone();
    let content = &mut v2["message"]["content"];
    match content {
        Value::String(s) => *s = format!("{CHINESE}：{s}"),
        Value::Array(a) => {
            let t = a.iter_mut().find(|b| b["type"] == "text").unwrap();
            t["text"] = Value::String(format!("{CHINESE}：{}", t["text"].as_str().unwrap()));
        }
        _ => panic!("{v}"),
    }
    lines[seq] = v2.to_string();
    std::fs::write(&big, lines.join("\n") + "\n").unwrap();
    (tmp, home, seq as u64)
}

/// Independent of the code under test: every line of the fixture's transcripts whose message
/// content (text, tool arguments with their keys, tool results, at any depth) holds `word` as
/// a whole word (letters and digits, case folded). A session's lines are numbered across its
/// files. (The words chosen below are not among the content blocks' own keys.)
fn oracle(home: &Path, word: &str) -> BTreeSet<(String, u64)> {
    fn strings(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push(' ');
            }
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push_str(k);
                out.push(' ');
                strings(x, out)
            }),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    for e in std::fs::read_dir(sessions_dir(home)).unwrap().flatten() {
        let name = e.file_name().to_str().unwrap().to_string();
        // A transcript, or a reset/deleted generation; not sessions.json, not a `.bak` copy.
        let Some((id, rest)) = name.split_once(".jsonl") else { continue };
        if !(rest.is_empty() || rest.starts_with(".reset.") || rest.starts_with(".deleted.")) {
            continue;
        }
        for (i, line) in std::fs::read_to_string(e.path()).unwrap().lines().enumerate() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            let mut text = String::new();
            strings(&v["message"]["content"], &mut text);
            let lower = text.to_lowercase();
            if lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == word) {
                found.insert((id.to_string(), i as u64));
            }
        }
    }
    found
}

#[test]
fn planted_words_real_words_and_hostile_queries_on_the_file_era() {
    let (_tmp, home, chinese_seq) = planted_legacy();
    let data = TempDir::new("search-data");
    let args = ["--openclaw-dir", home.to_str().unwrap(), "--data-dir", data.path().to_str().unwrap()];
    let server = start(&args);
    let ix = wait_indexed(&server);
    assert!(ix["docs"].as_u64().unwrap() > 50, "{ix}");

    // The planted word: one hit, in the reset session's archive file, on the tool result.
    let r = search(&server, PLANTED);
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{r}");
    let h = &items[0];
    assert_eq!(h["sessionId"], RESET_SESSION);
    assert_eq!(h["seq"], 1);
    assert_eq!(h["kind"], "tool_result");
    assert_eq!(h["tool"], "sessions_spawn");
    assert_eq!(h["state"], "reset");
    let marked: Vec<&str> = h["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["hit"] == true)
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked, vec![PLANTED]);
    // The link's event is that line: the transcript page shows it at that seq.
    let page = server.get(&format!("/api/transcript/{RESET_SESSION}?limit=10"));
    let ev = page["events"].as_array().unwrap().iter().find(|e| e["seq"] == 1).unwrap();
    assert!(ev.to_string().contains(PLANTED), "{ev}");

    // Chinese: the phrase, a part of it from its middle, and characters out of order.
    for q in [CHINESE, "失败", "请检查", "部署 检查"] {
        let r = search(&server, q);
        assert_eq!(hits(&r), BTreeSet::from([(BIG_SESSION.to_string(), chinese_seq)]), "{q}: {r}");
    }
    assert_eq!(search(&server, "败部")["items"], serde_json::json!([]));

    // A real word: the hits are exactly the lines an independent scan finds.
    for word in ["disconnected", "timeout", "heartbeat"] {
        let want = oracle(&home, word);
        assert!(!want.is_empty(), "{word}");
        assert_eq!(hits(&search(&server, word)), want, "{word}");
    }
    // Upper case, a prefix, an exclusion.
    assert_eq!(hits(&search(&server, "DISCONNECTED")), oracle(&home, "disconnected"));
    assert!(hits(&search(&server, "disconn*")).is_superset(&oracle(&home, "disconnected")));
    let both: BTreeSet<_> = oracle(&home, "disconnected").intersection(&oracle(&home, "timeout")).cloned().collect();
    let without: BTreeSet<_> = oracle(&home, "disconnected").difference(&both).cloned().collect();
    assert_eq!(hits(&search(&server, "disconnected -timeout")), without);

    // Pages of 2 with the cursor give the same hits, newest first, none twice.
    let want = oracle(&home, "heartbeat");
    let (mut got, mut before, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let mut q = vec![("q", "heartbeat"), ("limit", "2")];
        if !before.is_empty() {
            q.push(("before", &before));
        }
        let r = server.get(&format!("/api/search?{}", form(&q)));
        got.extend(hits(&r));
        pages += 1;
        match r["next"].as_str() {
            Some(n) => before = n.to_string(),
            None => break,
        }
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    assert_eq!(pages, want.len().div_ceil(2).max(1));

    // Filters.
    let r = server.get(&format!("/api/search?{}", form(&[("q", "disconnected"), ("kind", "tool_result")])));
    assert!(r["items"].as_array().unwrap().iter().all(|h| h["kind"] == "tool_result"), "{r}");
    let r = server.get(&format!("/api/search?{}", form(&[("q", PLANTED), ("session", BIG_SESSION)])));
    assert_eq!(r["items"], serde_json::json!([]));

    // Hostile queries: a sentence and a 400, or hits; never a 500.
    let long = "a".repeat(1000);
    for (q, want) in [
        (long.as_str(), Some("at most 500")),
        ("!!! ,,, ...", Some("no letters or digits")),
        ("", Some("type a word")),
        ("-timeout", Some("not only what to leave out")),
        ("\"", Some("no letters or digits")),
        ("\"disconnected", None),
        ("disconnected\"\"\"", None),
        ("*", Some("no letters or digits")),
        ("dis*connected", None),
        ("NEAR(disconnected timeout, 5)", None),
        ("disconnected AND OR NOT", None),
        ("col:disconnected", None),
        ("{text}: x", None),
        ("^disconnected", None),
        ("'; DROP TABLE docs; --", None),
    ] {
        let path = format!("/api/search?{}", form(&[("q", q)]));
        let (status, v) = server.try_get_json(&path).unwrap();
        match want {
            Some(w) => {
                assert_eq!(status, 400, "{q:?}: {v}");
                assert!(v["error"].as_str().unwrap().contains(w), "{q:?}: {v}");
            }
            None => assert_eq!(status, 200, "{q:?}: {v}"),
        }
    }
    assert!(server.get_error("/api/search?q=x&kind=bogus", 400).contains("kind"));
    assert!(server.get_error("/api/search?q=x&before=abc", 400).contains("before"));

    // A line written while the server runs is found within seconds.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(sessions_dir(&home).join(format!("{BIG_SESSION}.jsonl")))
        .unwrap();
    writeln!(
        f,
        r#"{{"type":"message","id":"live1","parentId":null,"timestamp":"2026-04-06T10:00:00.000Z","message":{{"role":"user","content":[{{"type":"text","text":"please check the flamingoatlas backup"}}]}}}}"#
    )
    .unwrap();
    drop(f);
    let lines =
        std::fs::read_to_string(sessions_dir(&home).join(format!("{BIG_SESSION}.jsonl"))).unwrap().lines().count();
    let (found, took) = server.wait_for(Duration::from_secs(15), |s| {
        let r = search(s, "flamingoatlas");
        (!r["items"].as_array().unwrap().is_empty()).then_some(hits(&r))
    });
    assert_eq!(found, BTreeSet::from([(BIG_SESSION.to_string(), lines as u64 - 1)]));
    eprintln!("a new line was searchable after {took:?}");
    drop(server);

    // A restart with the same data dir reads nothing again and finds the same.
    let server = start(&args);
    let ix = wait_indexed(&server);
    assert_eq!(ix["bytesRead"], 0, "{ix}");
    assert_eq!(hits(&search(&server, PLANTED)), BTreeSet::from([(RESET_SESSION.to_string(), 1)]));
    assert!(hits(&search(&server, "flamingoatlas")).len() == 1);
    drop(server);

    // --no-search: a 503 with the reason; a damaged index file is rebuilt, not fatal.
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--no-search"]);
    assert!(server.get_error("/api/search?q=x", 503).contains("search is off"));
    assert_eq!(server.get("/api/health")["search"]["state"], "off");
    drop(server);
    std::fs::write(data.path().join("search.db"), b"this is not a database").unwrap();
    let _ = std::fs::remove_file(data.path().join("search.db-wal"));
    let server = start(&args);
    wait_indexed(&server);
    assert_eq!(hits(&search(&server, PLANTED)).len(), 1);
}

#[test]
fn deleted_sessions_of_the_sqlite_era_are_found() {
    // After a sub-agent was deleted (OpenClaw archived its transcript as zstd in the database).
    let (_tmp, home) = install_fixture("lab-archives/step1-delete-subagent");
    for a in ["main", "ops"] {
        std::fs::create_dir_all(home.join("agents").join(a).join("sessions")).unwrap();
    }
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    wait_indexed(&server);
    let deleted = server.get("/api/sessions?state=deleted&limit=10");
    let ids: Vec<&str> = deleted["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{deleted}");
    // The sub-agent's exec printed this (a real tool result of the lab).
    let r = server.get("/api/search?q=sub-agent-exec-ok&kind=tool_result");
    let items = r["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{r}");
    assert!(items.iter().all(|h| h["sessionId"] == ids[0] && h["state"] == "deleted" && h["tool"] == "exec"), "{r}");
    let seq = items[0]["seq"].as_u64().unwrap();
    let page = server.get(&format!("/api/transcript/{}?limit=1000", ids[0]));
    let ev = page["events"].as_array().unwrap().iter().find(|e| e["seq"] == seq).unwrap();
    assert_eq!(ev["kind"], "tool_result");
    assert!(ev.to_string().contains("sub-agent-exec-ok"), "{ev}");

    // The agent filter: main's and ops' hits make up all hits, each with its agent.
    let all = hits(&search(&server, "the"));
    let mut parts = BTreeSet::new();
    for agent in ["main", "ops"] {
        let r = server.get(&format!("/api/search?q=the&limit=200&agent={agent}"));
        assert!(r["items"].as_array().unwrap().iter().all(|h| h["agent"] == agent), "{r}");
        let got = hits(&r);
        assert!(!got.is_empty(), "{agent}");
        parts.extend(got);
    }
    assert_eq!(parts, all);
    assert_eq!(server.get("/api/search?q=the&agent=no-such-agent")["items"], serde_json::json!([]));
}

#[test]
fn a_big_transcript_is_indexed_with_bounded_memory() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let file = sessions_dir(&home).join(format!("{BIG_SESSION}.jsonl"));
    let lines = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    // ~30 MB of tool results of 10 kB each, each with a word of its own.
    for i in 0..3_000 {
        let filler = format!("word{i} ") + &"lorem ipsum dolor sit amet ".repeat(370);
        writeln!(
            f,
            r#"{{"type":"message","id":"r{i}","timestamp":"2026-03-30T12:00:00Z","message":{{"role":"toolResult","toolCallId":"c{i}","toolName":"read","content":[{{"type":"text","text":"{filler}"}}],"isError":false}}}}"#
        )
        .unwrap();
    }
    drop(f);
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let before = peak_rss(server.child.id());
    let ix = wait_indexed(&server);
    let after = peak_rss(server.child.id());
    eprintln!("search index of 30 MB: {ix}; peak RSS {before} -> {after} bytes");
    assert!(ix["bytesRead"].as_u64().unwrap() > 30_000_000, "{ix}");
    for i in [0, 1234, 2999] {
        let found = hits(&search(&server, &format!("word{i}")));
        assert_eq!(found, BTreeSet::from([(BIG_SESSION.to_string(), lines + i)]), "word{i}");
    }
    // Reading 30 MB through the index adds far less than the 30 MB (a line at a time).
    assert!(after < before + 20 * 1024 * 1024, "peak RSS {before} -> {after}");
}

#[test]
fn the_search_page_in_a_browser() {
    let (_tmp, home, chinese_seq) = planted_legacy();
    let file = sessions_dir(&home).join(format!("{BIG_SESSION}.jsonl"));
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    writeln!(
        f,
        r#"{{"type":"message","id":"h1","timestamp":"2026-04-06T10:00:00.000Z","message":{{"role":"user","content":[{{"type":"text","text":"<img src=x onerror=window.__pwned=1> zebracorn"}}]}}}}"#
    )
    .unwrap();
    drop(f);
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    wait_indexed(&server);
    let chrome = Chrome::launch();
    let page = chrome.page();
    let s = Duration::from_secs(10);
    // From the sessions page: its transcript box, Enter.
    page.goto(&server.url("/#/sessions"));
    page.wait_rendered(0, "sessions");
    page.eval(&format!(
        "(f => {{ f.q.value = {}; f.requestSubmit(); return 1; }})(document.querySelector('#s-fulltext'))",
        serde_json::json!(CHINESE)
    ));
    page.wait_for("hits", "document.querySelectorAll('#f-hits .hit').length === 1", s);
    assert_eq!(page.eval("location.hash").as_str().unwrap(), format!("#/search?q={}", urlencode(CHINESE)));
    assert_eq!(page.text("#f-hits mark"), CHINESE);
    // The hit links to the event, which the session page marks.
    let link = page.eval("document.querySelector('#f-hits .hit a').getAttribute('href')");
    assert_eq!(link.as_str().unwrap(), format!("#/sessions/{BIG_SESSION}?event={chinese_seq}"));
    page.click("#f-hits .hit a");
    page.wait_for("marked event", "!!document.querySelector('.ev.hl')", s);
    assert!(page.text(".ev.hl").contains(CHINESE));

    // `/` from another page opens the search page with its box focused; HTML in a transcript
    // stays text.
    page.show("#/usage", "usage");
    page.eval("document.dispatchEvent(new KeyboardEvent('keydown', {key: '/', bubbles: true})); 1");
    page.wait_for("search page", "document.documentElement.dataset.view === 'search'", s);
    page.wait_for("focus", "document.activeElement === document.querySelector('#f-form input[name=q]')", s);
    page.show("#/search?q=zebracorn", "search");
    assert_eq!(page.count("#f-hits .hit"), 1);
    assert!(page.text("#f-hits .snippet").contains("<img src=x onerror=window.__pwned=1>"));
    assert_eq!(page.count("#f-hits img"), 0);
    assert_eq!(page.eval("window.__pwned === undefined"), true);
    // Nothing found, and a query the server refuses: said on the page.
    page.show("#/search?q=nosuchwordanywhere", "search");
    assert!(page.text("#f-empty").contains("Nothing found"));
    page.assert_no_errors("search page");
}
