//! `/api/insight` and its `/metrics` gauges against the lab fixture with a fixed clock: every
//! figure equals arithmetic done here from `tests/fixtures/expected.json` (the Python oracle)
//! and the fixture's own model prices (`openclaw.json`), not from clawmetry's other endpoints.
//!
//! The lab spent everything on 2026-11-24 between 21:06 and 21:07 UTC, one model
//! (fakellm/fake-model), no cache writes.

use crate::common::{expected, install_fixture, start};
use crate::monitor_support::{lab, monitor_args, LAB_EVENING_MS};
use serde_json::{json, Value};

/// `LAB_NOW_MS`: 2026-11-25T09:46:40Z, the morning after the lab.
const NOW: i64 = 1_795_600_000_000;
const DAY: f64 = 86_400_000.0;
/// 2026-12-01T00:00:00Z and 2026-11-01T00:00:00Z.
const DEC_1: i64 = 1_796_083_200_000;
const NOV_1: i64 = 1_793_491_200_000;

fn close(v: &Value, want: f64, what: &str) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{what}: not a number: {v}"));
    assert!((got - want).abs() < 1e-8, "{what}: {got} vs {want}");
}

/// The fixture model's (input, cache-read) prices in USD per 1M tokens, from its config.
fn prices() -> (f64, f64) {
    let text = std::fs::read_to_string(crate::common::fixtures().join("lab-2026.9/home/openclaw.json")).unwrap();
    let cfg: Value = serde_json::from_str(&text).unwrap();
    let m = cfg["models"]["providers"]["fakellm"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "fake-model")
        .unwrap();
    (m["cost"]["input"].as_f64().unwrap(), m["cost"]["cacheRead"].as_f64().unwrap())
}

fn tokens(e: &Value) -> (f64, f64, f64) {
    let t = &e["tokens"];
    (t["input"].as_f64().unwrap(), t["cacheRead"].as_f64().unwrap(), t["cacheWrite"].as_f64().unwrap())
}

/// Checks a cache row against an expected.json entry (a session, an agent, the totals).
fn check_cache(row: &Value, e: &Value, what: &str) {
    let (input, read, write) = tokens(e);
    let (p_in, p_read) = prices();
    assert_eq!(row["input"].as_f64(), Some(input), "{what} input");
    assert_eq!(row["cacheRead"].as_f64(), Some(read), "{what} cacheRead");
    assert_eq!(row["cacheWrite"].as_f64(), Some(write), "{what} cacheWrite");
    close(&row["hitRate"], read / (input + read + write), &format!("{what} hitRate"));
    close(&row["saved"], read * (p_in - p_read) / 1e6, &format!("{what} saved"));
    close(&row["writeOverhead"], 0.0, &format!("{what} writeOverhead"));
    assert_eq!(row["unpricedCacheRead"], 0, "{what}");
}

#[test]
fn the_morning_after_the_lab() {
    let exp = &expected()["fixtures"]["lab-2026.9"];
    let total = &exp["totals"];
    let cost = total["cost_reported"].as_f64().unwrap();
    // Everything happened in November, before the clock: the month so far is all of it.
    assert!(total["first_ts"].as_i64().unwrap() >= NOV_1 && total["last_ts"].as_i64().unwrap() < NOW);
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", &NOW.to_string()]);
    let v = server.get("/api/insight");

    // Burn: the last whole hour (08:00-09:00) is empty; the lab's 21:06 is inside 24 h and 7 d.
    close(&v["burn"]["perHour1h"], 0.0, "burn 1h");
    assert_eq!(v["burn"]["perHour1h"].to_string(), "0.0", "no spend is 0.0, not -0.0");
    close(&v["burn"]["perHour24h"], cost / 24.0, "burn 24h");
    close(&v["burn"]["perHour7d"], cost / 168.0, "burn 7d");
    // Windows: nothing today, all of it yesterday, this week (Monday 23rd) and this month.
    let w = &v["windows"];
    close(&w["day"]["current"], 0.0, "today");
    close(&w["day"]["previous"], cost, "yesterday");
    close(&w["week"]["current"], cost, "this week");
    close(&w["week"]["previous"], 0.0, "last week");
    close(&w["month"]["current"], cost, "this month");
    close(&w["month"]["previous"], 0.0, "last month (no data)");
    for (k, n) in [("d7", 7.0), ("d30", 30.0), ("d90", 90.0)] {
        close(&w["dailyMean"][k], cost / n, k);
    }
    // Projection: month so far + the 7-day mean × the days left (fractional) until December.
    let p = &v["projection"];
    let left = (DEC_1 - NOW) as f64 / DAY;
    close(&p["monthSoFar"], cost, "monthSoFar");
    close(&p["daysLeft"], left, "daysLeft");
    close(&p["projected"], cost + cost / 7.0 * left, "projected");
    assert!(p["method"].as_str().unwrap().contains("7 whole days"), "{}", p["method"]);

    // Cache: this month, the last 30 days, per model, agent and session, per day.
    let c = &v["cache"];
    check_cache(&c["month"], total, "month");
    check_cache(&c["total"], total, "30 days");
    assert_eq!(c["byModel"].as_array().unwrap().len(), 1);
    assert_eq!(c["byModel"][0]["model"], "fakellm/fake-model");
    check_cache(&c["byModel"][0], total, "model");
    let agents = c["byAgent"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    for a in agents {
        let name = a["agent"].as_str().unwrap();
        check_cache(a, &exp["per_agent"][name], name);
    }
    let sessions = exp["sessions"].as_object().unwrap();
    let mut want: Vec<(&String, u64)> = sessions
        .iter()
        .map(|(id, s)| (id, s["tokens"]["cacheRead"].as_u64().unwrap()))
        .filter(|(_, r)| *r > 0)
        .collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top = c["topSessions"].as_array().unwrap();
    assert_eq!(top.iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(), {
        want.iter().map(|w| w.0.as_str()).collect::<Vec<_>>()
    });
    for s in top {
        check_cache(s, &sessions[s["id"].as_str().unwrap()], s["id"].as_str().unwrap());
    }
    let daily = c["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    assert_eq!(daily[29]["t"], 1_795_564_800_000i64, "the last point is today (2026-11-25)");
    let lab_day: Vec<&Value> = daily.iter().filter(|d| d["cacheRead"].as_u64() != Some(0)).collect();
    assert_eq!(lab_day.len(), 1);
    assert_eq!(lab_day[0]["t"], 1_795_478_400_000i64, "2026-11-24");
    check_cache(lab_day[0], total, "2026-11-24");

    // One agent: its own figures only.
    let ops = server.get("/api/insight?agent=ops");
    let ops_cost = exp["per_agent"]["ops"]["cost_reported"].as_f64().unwrap();
    close(&ops["projection"]["monthSoFar"], ops_cost, "ops monthSoFar");
    close(&ops["windows"]["day"]["previous"], ops_cost, "ops yesterday");
    check_cache(&ops["cache"]["month"], &exp["per_agent"]["ops"], "ops month");
    let nobody = server.get("/api/insight?agent=nobody");
    close(&nobody["projection"]["projected"], 0.0, "unknown agent");
    assert_eq!(nobody["cache"]["month"]["hitRate"], Value::Null);
}

#[test]
fn budgets_crossing_and_metrics_gauges() {
    let exp = &expected()["fixtures"]["lab-2026.9"];
    let cost = exp["totals"]["cost_reported"].as_f64().unwrap();
    let ops_cost = exp["per_agent"]["ops"]["cost_reported"].as_f64().unwrap();
    let (_tmp, home, data) = lab();
    let now = NOW.to_string();
    let s = start(&monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now));
    // Cached before the limits exist: a change of limits must still show at once.
    assert_eq!(s.get("/api/insight")["budgets"]["limits"], json!([]));
    s.send(
        "PUT",
        "/api/budget",
        &json!({"dailyUsd": 0.01, "monthlyUsd": 1.0, "agents": {"ops": {"monthlyUsd": 0.05}, "main": {"dailyUsd": 5.0}}}),
        200,
    );
    let v = s.get("/api/insight");
    let limits = v["budgets"]["limits"].as_array().unwrap();
    let find = |agent: Option<&str>, period: &str| {
        limits.iter().find(|l| l["agent"].as_str() == agent && l["period"] == period).unwrap()
    };
    let rate = cost / 7.0;
    // All agents, daily $0.01: nothing spent today, at $cost/7 a day it takes 0.01/rate days.
    let d = find(None, "daily");
    assert_eq!(d["status"], "crosses", "{d}");
    let at = NOW as f64 + 0.01 / rate * DAY;
    assert!((d["crossesAtMs"].as_f64().unwrap() - at).abs() <= 1.0, "{d} vs {at}");
    assert_eq!(d["crossesOn"], "2026-11-25");
    // All agents, monthly $1: $cost spent, (1 − cost)/rate days more: 2026-11-30.
    let m = find(None, "monthly");
    let at = NOW as f64 + (1.0 - cost) / rate * DAY;
    assert!((m["crossesAtMs"].as_f64().unwrap() - at).abs() <= 1.0, "{m} vs {at}");
    assert!(at < DEC_1 as f64 && at >= (DEC_1 as f64 - DAY));
    assert_eq!(m["crossesOn"], "2026-11-30");
    close(&m["spentUsd"], cost, "monthly spent");
    // ops, monthly $0.05: already over ($0.08043). main, daily $5: not today at this rate.
    assert_eq!(find(Some("ops"), "monthly")["status"], "over");
    close(&find(Some("ops"), "monthly")["spentUsd"], ops_cost, "ops spent");
    assert_eq!(find(Some("main"), "daily")["status"], "holds");
    assert_eq!(find(Some("main"), "daily")["crossesAtMs"], Value::Null);
    // With ?agent=ops only that agent's limits.
    let ops = s.get("/api/insight?agent=ops");
    assert_eq!(ops["budgets"]["limits"].as_array().unwrap().len(), 1);

    // /metrics at the same clock.
    let (st, _, body) = s.get_raw("/metrics").unwrap();
    assert_eq!(st, 200);
    let text = String::from_utf8(body).unwrap();
    let gauge = |line: &str| -> f64 {
        let l = text.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no {line} in\n{text}"));
        l.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (p_in, p_read) = prices();
    let (input, read, write) = tokens(&exp["totals"]);
    let left = (DEC_1 - NOW) as f64 / DAY;
    assert!((gauge("clawmetry_burn_rate_usd_per_hour{window=\"1h\"}") - 0.0).abs() < 1e-8);
    assert!((gauge("clawmetry_burn_rate_usd_per_hour{window=\"24h\"}") - cost / 24.0).abs() < 1e-8);
    assert!((gauge("clawmetry_month_projected_cost_usd ") - (cost + rate * left)).abs() < 1e-8);
    assert!((gauge("clawmetry_cache_hit_ratio ") - read / (input + read + write)).abs() < 1e-12);
    assert!((gauge("clawmetry_cache_saved_usd ") - read * (p_in - p_read) / 1e6).abs() < 1e-8);
}

#[test]
fn the_evening_of_the_lab() {
    // 2026-11-24T22:00Z: the lab's hour (21:00-22:00) is the last whole hour; no whole day is
    // behind in the 7-day mean, so the projection is what was spent; last month had nothing.
    let cost = expected()["fixtures"]["lab-2026.9"]["totals"]["cost_reported"].as_f64().unwrap();
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", &LAB_EVENING_MS.to_string()]);
    let v = server.get("/api/insight");
    close(&v["burn"]["perHour1h"], cost, "burn 1h");
    close(&v["burn"]["perHour24h"], cost / 24.0, "burn 24h");
    close(&v["windows"]["day"]["current"], cost, "today");
    close(&v["windows"]["day"]["previous"], 0.0, "yesterday");
    close(&v["windows"]["month"]["previous"], 0.0, "last month");
    close(&v["windows"]["dailyMean"]["d7"], 0.0, "7-day mean");
    close(&v["projection"]["projected"], cost, "projected");
}
