//! The monitor as a user meets it: budgets crossing 80% and 100% on the lab fixture with a fake
//! clock, custom alert rules with their cooldowns, the system health report, and the history
//! surviving `kill -9` with nothing acknowledged lost.

use crate::common::{self, approx, start};
use crate::monitor_support::{
    assistant_line, insert_row, lab, monitor_args, next_seq, LAB_COST, LAB_EVENING_MS, MAIN_SESSION,
};
use serde_json::{json, Value};
use std::time::Duration;

fn limit<'a>(b: &'a Value, agent: Option<&str>, period: &str) -> &'a Value {
    b["status"]["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["agent"].as_str() == agent && l["period"] == period)
        .unwrap_or_else(|| panic!("no {agent:?} {period} limit in {}", b["status"]))
}

#[test]
fn budget_crosses_80_then_100_percent() {
    let (_tmp, home, data) = lab();
    let now = LAB_EVENING_MS.to_string();
    let s = start(&monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now));

    // No limits yet: spend is known, nothing is alerted.
    let (b, _) = s.wait_for(Duration::from_secs(10), |s| {
        let b = s.get("/api/budget");
        b["status"]["checkedMs"].is_i64().then_some(b)
    });
    assert!(approx(&b["status"]["todayUsd"], LAB_COST), "{}", b["status"]);
    assert!(approx(&b["status"]["monthUsd"], LAB_COST));
    assert!(s.alerts().is_empty());

    // $0.5966 of $0.74 is 80.6%; agent ops spent $0.08043 of $0.10, 80.4%.
    let b = s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.74, "agents": {"ops": {"dailyUsd": 0.1}}}), 200);
    let all = limit(&b, None, "daily");
    assert_eq!(all["level"], "warning", "{all}");
    assert_eq!(all["percent"], 80.6);
    assert_eq!(limit(&b, Some("ops"), "daily")["level"], "warning");
    assert_eq!(b["budget"]["warnPercent"], 80.0);
    let (warnings, _) =
        s.wait_for(Duration::from_secs(5), |s| Some(s.alerts_of("budget_warning")).filter(|w| w.len() == 2));
    let w = warnings.iter().find(|a| a["data"]["agent"].is_null()).unwrap();
    assert_eq!(w["severity"], "warning");
    assert_eq!(w["title"], "80% of the daily budget used (all agents)");
    assert!(approx(&w["data"]["spentUsd"], LAB_COST));
    assert_eq!(w["status"], "not-sent", "no channel is configured: recorded, not sent");
    // Later checks do not repeat it: once per limit and period.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.alerts_of("budget_warning").len(), 2);
    assert!(s.alerts_of("budget_exceeded").is_empty());

    // A new model call of $0.20 today takes spend to $0.7966: over the limit.
    let seq = next_seq(&home, MAIN_SESSION);
    insert_row(&home, MAIN_SESSION, seq, &assistant_line(1, "2026-11-24T21:30:00.000Z", 1000, 0.2), LAB_EVENING_MS);
    let (over, _) = s.wait_for(Duration::from_secs(10), |s| s.alerts_of("budget_exceeded").pop());
    assert_eq!(over["severity"], "critical");
    assert!(approx(&over["data"]["spentUsd"], LAB_COST + 0.2), "{over}");
    assert_eq!(over["data"]["percent"], 107.7);
    assert_eq!(over["data"]["limitUsd"], 0.74);
    let b = s.get("/api/budget");
    assert_eq!(limit(&b, None, "daily")["level"], "over");
    assert_eq!(limit(&b, Some("ops"), "daily")["level"], "warning", "ops spent nothing more");
    assert_eq!(b["status"]["over"].as_array().unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.alerts_of("budget_exceeded").len(), 1);
    assert_eq!(s.alerts_of("budget_warning").len(), 2);
    assert!(s.alerts_of("budget_pause_failed").is_empty(), "auto-pause is off");

    // Auto-pause without a gateway: the failure is recorded and shown, never silent.
    let b = s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.74, "autoPause": true}), 200);
    let err = b["pause"]["lastError"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("gateway RPC unavailable"), "{}", b["pause"]);
    assert_eq!(b["pause"]["active"], false);
    assert_eq!(b["pause"]["method"], "gateway.suspend.prepare");
    assert!(b["pause"]["explanation"].as_str().unwrap().contains("gateway.suspend.resume"));
    let (failed, _) = s.wait_for(Duration::from_secs(5), |s| s.alerts_of("budget_pause_failed").pop());
    assert!(failed["message"].as_str().unwrap().contains("gateway RPC unavailable"));
    // Resume by hand: nothing to resume, but auto-pause stays off until the day ends.
    let r = s.send("POST", "/api/budget/resume", &json!({}), 200);
    assert_eq!(r["result"]["overrideUntilMs"], 1_795_564_800_000i64, "{r}");

    // A monthly limit, and a raised daily one (a new limit is a new 80% crossing).
    let b = s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.9, "monthlyUsd": 0.7}), 200);
    assert_eq!(limit(&b, None, "daily")["level"], "warning");
    assert_eq!(limit(&b, None, "monthly")["level"], "over");
    s.wait_for(Duration::from_secs(5), |s| (s.alerts_of("budget_warning").len() == 3).then_some(()));
    s.wait_for(Duration::from_secs(5), |s| (s.alerts_of("budget_exceeded").len() == 2).then_some(()));

    // Clear errors for bad input; the stored budget is unchanged.
    for (bad, want) in [
        (json!({"dailyUsd": "a lot"}), "budget.dailyUsd must be a number"),
        (json!({"dailyUsd": 0}), "more than 0"),
        (json!({"daily": 5}), "unknown field \"daily\""),
        (json!({"warnPercent": 120}), "warnPercent"),
    ] {
        let e = s.send("PUT", "/api/budget", &bad, 400);
        assert!(e["error"].as_str().unwrap().contains(want), "{bad}: {e}");
    }
    let (st, e) = s.call("PUT", "/api/budget", None);
    assert_eq!(st, 400, "{e}");
    assert_eq!(s.get("/api/budget")["budget"]["monthlyUsd"], 0.7);
}

/// Adds a session that OpenClaw marks running, started at 21:30, to the main agent's database.
fn add_running_session(home: &std::path::Path) {
    let db = rusqlite::Connection::open(home.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    let id = "dddddddd-1111-4222-8333-444444444444";
    let key = "agent:main:telegram:direct:7";
    let t = LAB_EVENING_MS - 30 * 60_000;
    db.execute(
        "INSERT INTO session_nodes (session_key, current_session_id, entry_json, updated_at, status, label) VALUES (?1, ?2, ?3, ?4, 'running', 'Long chat')",
        rusqlite::params![key, id, format!(r#"{{"sessionId":"{id}"}}"#), t],
    )
    .unwrap();
    db.execute(
        "INSERT INTO session_windows (session_id, session_key, created_at, updated_at, status) VALUES (?1, ?2, ?3, ?3, 'running')",
        rusqlite::params![id, key, t],
    )
    .unwrap();
    let header =
        format!(r#"{{"type":"session","version":3,"id":"{id}","timestamp":"2026-11-24T21:30:00.000Z","cwd":"/w"}}"#);
    db.execute(
        "INSERT INTO transcript_events (session_id, seq, event_json, created_at) VALUES (?1, 0, ?2, ?3)",
        rusqlite::params![id, header, t],
    )
    .unwrap();
}

fn add_failed_cron_run(home: &std::path::Path) {
    let db = rusqlite::Connection::open(home.join("state/openclaw.sqlite")).unwrap();
    db.execute(
        "INSERT INTO cron_run_receipts (receipt_id, store_key, job_id, config_revision, agent_id, status, owner_pid, started_at_ms, finished_at_ms, error_text)
         VALUES ('r-failed', 'x', 'a396ea81-4e47-4aa5-95a4-fd33bd8cb3b3', 'rev', 'main', 'error', 1, ?1, ?2, 'exit code 3')",
        rusqlite::params![LAB_EVENING_MS - 6 * 60_000, LAB_EVENING_MS - 5 * 60_000],
    )
    .unwrap();
}

#[test]
fn custom_rules_fire_once_per_incident() {
    let (_tmp, home, data) = lab();
    add_running_session(&home);
    add_failed_cron_run(&home);
    // The gateway port: one where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = home.join("openclaw.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"port\": 18789", &format!("\"port\": {closed}"));
    std::fs::write(&cfg, text).unwrap();
    let now = LAB_EVENING_MS.to_string();
    let s = start(&monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now));

    let mut ids = Vec::new();
    for r in [
        json!({"kind": "token_spike", "tokens": 40000, "minutes": 5}),
        json!({"kind": "long_session", "minutes": 20, "name": "Long runner"}),
        json!({"kind": "long_session", "minutes": 60}),
        json!({"kind": "cron_failure"}),
        json!({"kind": "disk", "percent": 1}),
        json!({"kind": "gateway_down"}),
        json!({"kind": "error_rate", "percent": 50, "minutes": 5}),
    ] {
        let v = s.send("POST", "/api/alerts/rules", &r, 201);
        assert!(v["id"].as_i64().unwrap() > 0);
        assert_eq!(v["kind"], r["kind"]);
        assert_eq!(v["cooldownMinutes"], 30);
        ids.push(v["id"].as_i64().unwrap());
    }
    let (long, _) = s.wait_for(Duration::from_secs(10), |s| s.alerts_of("long_session").pop());
    assert_eq!(long["ruleId"], ids[1]);
    assert_eq!(long["title"], "Session Long chat running for 30 min");
    assert_eq!(long["data"]["sessionId"], "dddddddd-1111-4222-8333-444444444444");
    let (cron, _) = s.wait_for(Duration::from_secs(10), |s| s.alerts_of("cron_failure").pop());
    assert_eq!(cron["title"], "Cron job lab-cron failed");
    assert_eq!(cron["severity"], "critical");
    assert!(cron["message"].as_str().unwrap().contains("exit code 3"), "{cron}");
    let (disks, _) = s.wait_for(Duration::from_secs(10), |s| Some(s.alerts_of("disk")).filter(|d| d.len() == 2));
    let paths: Vec<&str> = disks.iter().map(|d| d["data"]["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&home.to_str().unwrap()) && paths.contains(&data.to_str().unwrap()), "{paths:?}");
    let (down, _) = s.wait_for(Duration::from_secs(15), |s| s.alerts_of("gateway_down").pop());
    assert_eq!(down["data"]["port"], closed);

    // A burst of 50,000 tokens after the first sample: a spike.
    assert!(s.alerts_of("token_spike").is_empty());
    let seq = next_seq(&home, MAIN_SESSION);
    insert_row(&home, MAIN_SESSION, seq, &assistant_line(2, "2026-11-24T21:59:00.000Z", 50_000, 0.01), LAB_EVENING_MS);
    let (spike, _) = s.wait_for(Duration::from_secs(10), |s| s.alerts_of("token_spike").pop());
    assert_eq!(spike["data"]["tokens"], 50_010);

    // Cooldowns: the clock is frozen, so nothing repeats within 30 minutes.
    std::thread::sleep(Duration::from_millis(2500));
    let kinds: Vec<String> = s.alerts().iter().map(|a| a["kind"].as_str().unwrap().to_string()).collect();
    for (k, n) in [
        ("long_session", 1),
        ("cron_failure", 1),
        ("disk", 2),
        ("gateway_down", 1),
        ("token_spike", 1),
        ("error_rate", 0),
    ] {
        assert_eq!(kinds.iter().filter(|x| *x == k).count(), n, "{k} in {kinds:?}");
    }
    // One alert per incident: the disk rule's condition holds at every check (1 % full) and
    // each disk alerted once; with no cooldown and no reminder, checks go on without another.
    let rule4 = format!("/api/alerts/rules/{}", ids[4]);
    let ticks = |s: &common::Server| s.get("/api/system-health")["monitor"]["ticks"].as_u64().unwrap();
    let checks = |s: &common::Server, n: u64| {
        let t0 = ticks(s);
        s.wait_for(Duration::from_secs(20), |s| (ticks(s) >= t0 + n).then_some(()));
    };
    s.send("PUT", &rule4, &json!({"kind": "disk", "percent": 1, "cooldownMinutes": 0, "repeatMinutes": 0}), 200);
    checks(&s, 3);
    let disk = s.alerts_of("disk");
    assert_eq!(disk.len(), 2, "one alert per disk while the condition holds: {disk:?}");
    assert!(disk.iter().all(|a| a["resolvedMs"].is_null()), "still firing: {disk:?}");
    assert!(s.get("/api/system-health")["monitor"]["openIncidents"].as_u64().unwrap() >= 2);
    // A disabled rule stops, and its incidents resolve at the next check.
    let v = s.send("PUT", &rule4, &json!({"kind": "disk", "percent": 1, "enabled": false}), 200);
    assert_eq!(v["enabled"], false);
    checks(&s, 2);
    let disk = s.alerts_of("disk");
    assert_eq!(disk.len(), 2);
    assert!(disk.iter().all(|a| a["resolvedMs"].as_i64().unwrap() >= a["ts"].as_i64().unwrap()), "{disk:?}");
    // On again with no cooldown: new incidents alert at once, then stay quiet.
    s.send("PUT", &rule4, &json!({"kind": "disk", "percent": 1, "cooldownMinutes": 0, "repeatMinutes": 0}), 200);
    s.wait_for(Duration::from_secs(10), |s| (s.alerts_of("disk").len() == 4).then_some(()));
    checks(&s, 3);
    let disk = s.alerts_of("disk");
    assert_eq!(disk.len(), 4, "{disk:?}");
    assert_eq!(disk.iter().filter(|a| a["resolvedMs"].is_null()).count(), 2, "the new incidents are open: {disk:?}");

    let rules = s.get("/api/alerts/rules");
    assert_eq!(rules["rules"].as_array().unwrap().len(), 7);
    assert_eq!(rules["kinds"].as_array().unwrap().len(), 8);
    s.send("DELETE", &format!("/api/alerts/rules/{}", ids[0]), &json!({}), 200);
    s.send("DELETE", &format!("/api/alerts/rules/{}", ids[0]), &json!({}), 404);
    s.send("PUT", "/api/alerts/rules/999", &json!({"kind": "disk", "percent": 5}), 404);
    assert_eq!(s.get("/api/alerts/rules")["rules"].as_array().unwrap().len(), 6);
    for (bad, want) in [
        (json!({"kind": "token_spike"}), "tokens is required"),
        (json!({"kind": "disk", "percent": 101}), "rule.percent must be a number from 1 to 100"),
        (json!({"kind": "nope"}), "unknown kind"),
        (json!({"kind": "long_session", "minutes": 5, "extra": 1}), "unknown field \"extra\""),
    ] {
        let e = s.send("POST", "/api/alerts/rules", &bad, 400);
        assert!(e["error"].as_str().unwrap().contains(want), "{bad}: {e}");
    }
    // The log pages and filters.
    let page = s.get("/api/alerts?limit=2&offset=1&kind=disk");
    assert_eq!(page["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(page["total"].as_i64().unwrap() as usize, s.alerts_of("disk").len());
    assert_eq!(
        s.get("/api/alerts?severity=critical")["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["severity"] != "critical")
            .count(),
        0
    );
}

#[test]
fn system_health_report() {
    let (_tmp, home, data) = lab();
    let gw = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = gw.local_addr().unwrap().port();
    let cfg = home.join("openclaw.json");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("\"port\": 18789", &format!("\"port\": {port}"));
    std::fs::write(&cfg, text).unwrap();
    let s = start(&["--openclaw-dir", home.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    // Until the monitor's first health check ends the endpoint answers 503 ("still running").
    let (h, _) = s.wait_for(Duration::from_secs(15), |s| {
        let (status, h) = s.try_get_json("/api/system-health").ok()?;
        (status == 200).then_some(h)
    });
    let disks = h["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 2, "{h}");
    for (d, path) in disks.iter().zip([&home, &data]) {
        assert_eq!(d["path"], path.to_str().unwrap());
        let pct = d["usedPercent"].as_f64().unwrap();
        assert!(pct > 0.0 && pct <= 100.0, "{d}");
        assert!(d["totalBytes"].as_u64().unwrap() > 0);
        assert_eq!(d["warn"], pct >= 85.0);
    }
    assert_eq!(h["diskWarnPercent"], 85.0);
    assert!(h["memory"]["totalBytes"].as_u64().unwrap() > h["memory"]["availableBytes"].as_u64().unwrap());
    assert!(h["load"]["one"].as_f64().unwrap() >= 0.0);
    assert!(h["host"]["uptimeSeconds"].as_f64().unwrap() > 0.0);
    assert!(h["cpu"]["count"].as_u64().unwrap() >= 1);
    assert!(h["temperature"]["zones"].is_array());
    assert_eq!(h["gateway"]["port"], port);
    assert_eq!(h["gateway"]["listening"], true);
    assert_eq!(h["gateway"]["configVersion"], "2026.9.6");
    let ports = h["ports"].as_array().unwrap();
    assert_eq!((ports[0]["name"].as_str(), ports[0]["open"].as_bool()), (Some("gateway"), Some(true)));
    assert!(ports.iter().any(|p| p["name"] == "model provider fakellm" && p["port"] == 18555), "{ports:?}");
    let has_nvidia =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("nvidia-smi").is_file()));
    if !has_nvidia {
        assert_eq!(h["gpu"]["available"], false);
        assert_eq!(h["gpu"]["gpus"].as_array().unwrap().len(), 0);
    }
    assert_eq!(h["history"]["persistent"], true);
    assert_eq!(h["history"]["path"], data.join("history.db").to_str().unwrap());
    assert!(h["clawmetry"]["rssBytes"].as_u64().unwrap() > 0);
    assert!(h.get("disksObserved").is_none());
    // The gateway goes away: the report says so within a health interval.
    drop(gw);
    let (h, _) = s.wait_for(Duration::from_secs(15), |s| {
        let (status, h) = s.try_get_json("/api/system-health").ok()?;
        (status == 200 && h["gateway"]["listening"] == false).then_some(h)
    });
    assert!(
        h["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("gateway port")),
        "{}",
        h["warnings"]
    );
}

fn cost_history(s: &common::Server, q: &str) -> Value {
    s.get(&format!("/api/history?metric=cost&{q}"))
}

#[test]
fn history_backfills_and_survives_kill_9() {
    let (_tmp, home, data) = lab();
    let (h, d) = (home.to_str().unwrap(), data.to_str().unwrap());
    // 2026-11-25T12:00Z, the day after the lab's usage; clawmetry was not running then.
    let day2 = "1795608000000";
    let a = start(&["--openclaw-dir", h, "--data-dir", d, "--fake-now-ms", day2, "--history-interval", "1"]);
    let (daily, _) = a.wait_for(Duration::from_secs(10), |s| {
        let v = cost_history(s, "range=7d&step=1d");
        approx(&v["total"], LAB_COST).then_some(v)
    });
    assert_eq!(daily["source"], "daily usage rollups");
    let pts = daily["points"].as_array().unwrap();
    assert_eq!(pts.len(), 7);
    assert_eq!(pts[5]["t"], 1_795_564_800_000i64 - 86_400_000, "buckets are UTC days");
    assert!(approx(&pts[5]["v"], LAB_COST), "{pts:?}");
    let hourly = cost_history(&a, "range=2d&step=1h&by=agent");
    let at = hourly["points"].as_array().unwrap().iter().position(|p| p["t"] == 1_795_554_000_000i64).unwrap();
    assert!(approx(&hourly["points"][at]["v"], LAB_COST));
    assert!(approx(&hourly["series"]["main"][at], 0.5162046));
    assert!(approx(&hourly["series"]["ops"][at], 0.08043));
    let tokens = a.get("/api/history?metric=tokens&range=7d&step=1d");
    assert_eq!(tokens["total"], 151_158 + 529 + 450_752);
    // A snapshot of the session counts.
    let (snap, _) = a.wait_for(Duration::from_secs(10), |s| {
        let v = s.get("/api/history?metric=sessions&range=1h&step=5m");
        v["points"].as_array().unwrap().iter().find(|p| !p["v"].is_null()).cloned()
    });
    assert_eq!(snap["v"], 5.0);
    assert_eq!(snap["t"], 1_795_608_000_000i64);

    // Settings and an alert, each acknowledged, then SIGKILL straight away.
    a.send("PUT", "/api/budget", &json!({"monthlyUsd": 0.7}), 200);
    a.wait_for(Duration::from_secs(5), |s| s.alerts_of("budget_warning").pop());
    a.send(
        "PUT",
        "/api/alerts/channels",
        &json!({"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "hunter2"}}),
        200,
    );
    let rule = a.send("POST", "/api/alerts/rules", &json!({"kind": "disk", "percent": 99}), 201);
    a.kill9();

    // OpenClaw deletes every transcript while clawmetry is down. The ledger (written at the end
    // of the cold index) would keep those sessions as purged; `--forget-purged` drops them, so
    // that what is left to show the spend is the history alone.
    std::fs::remove_dir_all(home.join("agents")).unwrap();
    let later = "1795608600000"; // ten minutes on
    let b = start(&[
        "--openclaw-dir",
        h,
        "--data-dir",
        d,
        "--fake-now-ms",
        later,
        "--history-interval",
        "1",
        "--forget-purged",
    ]);
    assert_eq!(b.get("/api/overview")["usage"]["total"]["calls"], 0, "the index is empty now");
    assert!(b.get("/api/health")["ledger"]["forgotten"].as_u64() > Some(0), "the ledger had the sessions");
    let v = cost_history(&b, "range=7d&step=1d");
    assert!(approx(&v["total"], LAB_COST), "usage kept after the transcripts went: {v}");
    let (v, _) = b.wait_for(Duration::from_secs(10), |s| {
        let v = s.get("/api/history?metric=sessions&range=1h&step=5m");
        let pts: Vec<Value> = v["points"].as_array().unwrap().iter().filter(|p| !p["v"].is_null()).cloned().collect();
        (pts.len() == 2).then_some(pts)
    });
    assert_eq!((v[0]["v"].as_f64(), v[1]["v"].as_f64()), (Some(5.0), Some(0.0)), "{v:?}");
    let budget = b.get("/api/budget");
    assert_eq!(budget["budget"]["monthlyUsd"], 0.7);
    let (st, _) = b.wait_for(Duration::from_secs(10), |s| {
        let b = s.get("/api/budget");
        b["status"]["checkedMs"].is_i64().then_some(b)
    });
    assert!(approx(&st["status"]["monthUsd"], LAB_COST), "the month's spend comes from the history: {}", st["status"]);
    let rules = b.get("/api/alerts/rules");
    assert_eq!(rules["rules"][0]["id"], rule["id"]);
    let ch = b.get("/api/alerts/channels");
    assert_eq!(ch["channels"]["webhook"]["secretSet"], true);
    assert!(!ch.to_string().contains("hunter2"));
    assert_eq!(b.alerts_of("budget_warning").len(), 1, "the alert log survived, and the warning is not repeated");
    for (q, want) in [
        ("metric=cost&step=30m", "whole number of hours"),
        ("metric=moon", "use one of"),
        ("", "metric is required"),
        ("metric=disk&range=7x", "range=\"7x\""),
        ("metric=disk&range=365d&step=1m", "at most 5000"),
        ("metric=disk&by=model", "split by model or agent"),
    ] {
        let (st, e) = b.call("GET", &format!("/api/history?{q}"), None);
        assert_eq!(st, 400, "{q}: {e}");
        assert!(e["error"].as_str().unwrap().contains(want), "{q}: {e}");
    }
}
