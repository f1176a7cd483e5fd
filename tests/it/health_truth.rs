//! `/api/health` tells the truth (issue 13): a `status` of ok / degraded / failing with its
//! reasons, reasons that go away once fixed, and settings that cannot be saved answer 5xx.

use crate::common::{install_fixture, start, TempDir};
use std::time::Duration;

#[test]
fn a_corrupt_database_degrades_health_until_it_is_fixed() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let h = server.get("/api/health");
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["reasons"].as_array().unwrap().len(), 0);
    // The ops agent's database is overwritten with garbage (kept aside to be put back).
    let db = home.join("agents/ops/agent/openclaw-agent.sqlite");
    let good = std::fs::read(&db).unwrap();
    let tmp = db.with_extension("broken");
    std::fs::write(&tmp, vec![0x42; 64 * 1024]).unwrap();
    std::fs::rename(&tmp, &db).unwrap();
    let (h, _) = server.wait_for(Duration::from_secs(15), |s| {
        let h = s.get("/api/health");
        (h["status"] == "degraded").then_some(h)
    });
    let reasons = h["reasons"].to_string();
    assert!(reasons.contains("agents/ops/agent/openclaw-agent.sqlite"), "{reasons}");
    // The rest keeps serving.
    assert!(server.get("/api/overview")["usage"]["total"]["calls"].as_u64().unwrap() > 0);
    // Fixed: the reason goes away by itself.
    let tmp = db.with_extension("fixed");
    std::fs::write(&tmp, &good).unwrap();
    std::fs::rename(&tmp, &db).unwrap();
    let (h, _) = server.wait_for(Duration::from_secs(15), |s| {
        let h = s.get("/api/health");
        (h["status"] == "ok").then_some(h)
    });
    assert_eq!(h["reasons"].as_array().unwrap().len(), 0, "{h}");
}

#[test]
fn a_data_dir_that_cannot_be_used_is_said_and_settings_are_refused() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let not_a_dir = TempDir::new("datafile");
    let file = not_a_dir.path().join("data");
    std::fs::write(&file, "a file, not a directory").unwrap();
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--data-dir", file.to_str().unwrap()]);
    let h = server.get("/api/health");
    assert_eq!(h["status"], "degraded", "{h}");
    let reasons = h["reasons"].to_string();
    assert!(reasons.contains("ledger") && reasons.contains("settings cannot be saved"), "{reasons}");
    let (status, body) = server.call("PUT", "/api/budget", Some(&serde_json::json!({"dailyUsd": 5})));
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--data-dir"), "{body}");
    // Nothing was pretended: the budget is still unset.
    let b = server.get("/api/budget");
    assert!(b["budget"].is_object() && b["budget"]["dailyUsd"].is_null(), "{b}");
}
