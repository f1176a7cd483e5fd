//! Cron health (issue 17, item 2) on OpenClaw 2026.3's own cron run log (tests/fixtures/
//! legacy-2026.3: the `auto-dream` job's three real runs), then with runs appended the way
//! OpenClaw appends them: failures in a row, runs reported ok whose output says they failed, the
//! same output again and again; each shows on `/api/crons` (and the Crons page) and fires the
//! `cron_health` alert rule. Expected figures are worked out here from the run log itself.

use crate::browser::Chrome;
use crate::common::{install_fixture, start};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

const JOB: &str = "b9110520-e052-4b6e-a8cf-3112bb46e172";
const NOW: &str = "1775640000000";

fn runs_file(home: &std::path::Path) -> std::path::PathBuf {
    home.join(format!("cron/runs/{JOB}.jsonl"))
}

fn job(v: &Value) -> Value {
    v["jobs"].as_array().unwrap().iter().find(|j| j["id"] == JOB).cloned().unwrap()
}

fn kinds(h: &Value) -> Vec<String> {
    h["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
}

/// Appends a finished run shaped like the log's own lines (a copy of its first line with new
/// time, status, summary and error, and no session).
fn append(home: &std::path::Path, i: i64, status: &str, summary: &str, error: &str) {
    let first: Value =
        serde_json::from_str(std::fs::read_to_string(runs_file(home)).unwrap().lines().next().unwrap()).unwrap();
    let mut r = first.clone();
    let at = 1_775_600_000_000i64 + i * 60_000;
    r["ts"] = json!(at + 10_000);
    r["runAtMs"] = json!(at);
    r["durationMs"] = json!(10_000);
    r["status"] = json!(status);
    r["summary"] = json!(summary);
    for k in ["sessionId", "sessionKey"] {
        r.as_object_mut().unwrap().remove(k);
    }
    if error.is_empty() {
        r.as_object_mut().unwrap().remove("error");
    } else {
        r["error"] = json!(error);
    }
    let mut f = std::fs::OpenOptions::new().append(true).open(runs_file(home)).unwrap();
    writeln!(f, "{r}").unwrap();
}

#[test]
fn the_real_run_log_then_failures_silent_failures_and_repeats() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    // The real log: three ok runs of 131,289, 130,804 and 176,445 ms.
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let real: Vec<Value> = std::fs::read_to_string(runs_file(&home))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["action"] == "finished")
        .collect();
    let mut d: Vec<i64> = real.iter().map(|r| r["durationMs"].as_i64().unwrap()).collect();
    d.sort();
    let h = job(&server.get("/api/crons"))["health"].clone();
    assert_eq!(h["runs"], real.len());
    assert_eq!(h["okRate"], 1.0);
    assert_eq!(h["medianDurationMs"], d[1] as f64);
    assert_eq!(h["failuresInRow"], 0);
    assert_eq!(kinds(&h), Vec::<String>::new(), "{h}");
    drop(server);

    // Three failed runs after them: three in a row, critical; the last error shown.
    for i in 0..3 {
        append(&home, i, "error", "", &format!("model quota exceeded ({i})"));
    }
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let h = job(&server.get("/api/crons"))["health"].clone();
    assert_eq!(h["failuresInRow"], 3, "{h}");
    assert_eq!(h["okRate"], 0.5);
    assert_eq!(h["lastError"], "model quota exceeded (2)");
    assert_eq!(kinds(&h), vec!["failing"]);
    assert_eq!(h["findings"][0]["severity"], "critical");
    drop(server);

    // Then ok runs: one whose output says it failed, then the same output three times.
    append(&home, 3, "ok", "Could not send the reminder: WhatsApp permission denied.", "");
    for i in 4..7 {
        append(&home, i, "ok", "Reminder sent.", "");
    }
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW, "--monitor-interval", "1"]);
    let v = server.get("/api/crons");
    let h = job(&v)["health"].clone();
    assert_eq!(h["failuresInRow"], 0);
    let mut k = kinds(&h);
    k.sort();
    assert_eq!(k, vec!["same", "short", "silent"], "{h}");
    let silent = h["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "silent").unwrap();
    assert!(silent["message"].as_str().unwrap().contains("WhatsApp permission denied"), "{silent}");
    let same = h["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "same").unwrap();
    assert!(same["message"].as_str().unwrap().starts_with("the same output 3 runs in a row"), "{same}");

    // The alert rule: one alert per job and finding kind.
    server.send("POST", "/api/alerts/rules", &json!({"kind": "cron_health"}), 201);
    let (alerts, _) = server.wait_for(Duration::from_secs(20), |s| {
        let a = s.get("/api/alerts?limit=50");
        let items: Vec<Value> =
            a["alerts"].as_array()?.iter().filter(|x| x["kind"] == "cron_health").cloned().collect();
        (items.len() >= 3).then_some(items)
    });
    let titles: Vec<&str> = alerts.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(alerts.len(), 3, "{titles:?}");
    assert!(titles.iter().all(|t| t.contains("auto-dream")), "{titles:?}");

    // The Crons page shows them.
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/crons"));
    page.wait_rendered(0, "crons");
    let tags = page.eval(&format!(
        "[...document.querySelectorAll('tr[data-id=\"{JOB}\"] .tag.health')].map(t => t.dataset.finding).sort()"
    ));
    assert_eq!(tags, json!(["same", "short", "silent"]));
    assert!(page.text(&format!("tr[data-id=\"{JOB}\"]")).contains("% ok of"));
    page.assert_no_errors("crons health");
}
