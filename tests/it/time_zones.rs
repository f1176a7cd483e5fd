//! The user's own day (`--tz`, `TZ`): today's cost, daily buckets, the month and the CSV split
//! at local midnight, not UTC's. Model calls are written around midnight in Los Angeles and
//! across Berlin's autumn DST change; every expected figure is hand arithmetic on the times and
//! costs written here (PST is UTC−8 in December; CEST UTC+2 until 2026-10-25 01:00 UTC, then
//! CET UTC+1), never a figure of clawmetry's.

use crate::common::{approx, install_fixture, start, start_env};
use serde_json::Value;
use std::path::Path;

const H: i64 = 3_600_000;

fn ms(iso: &str) -> i64 {
    // Whole hours and half hours of known dates only: "YYYY-MM-DDTHH:MM".
    let n = |r: std::ops::Range<usize>| iso[r].parse::<i64>().unwrap();
    let (y, m, d, hh, mm) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16));
    // Days from 1970-01-01 (civil calendar; the dates here are 2026).
    let days_before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][(m - 1) as usize];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let years: i64 = (1970..y).map(|yy| if (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0 { 366 } else { 365 }).sum();
    let days = years + days_before_month + (d - 1) + i64::from(leap && m > 2);
    days * 24 * H + hh * H + mm * 60_000
}

/// A session of model calls at (UTC time, cost) in `home`'s main agent.
fn write_session(home: &Path, id: &str, calls: &[(&str, f64)]) {
    let mut text =
        format!(r#"{{"type":"session","version":3,"id":"{id}","timestamp":"{}:00.000Z","cwd":"/w"}}"#, calls[0].0);
    text.push('\n');
    for (n, (at, cost)) in calls.iter().enumerate() {
        text.push_str(&format!(
            r#"{{"type":"message","id":"m{n}","parentId":null,"timestamp":"{at}:00.000Z","message":{{"role":"assistant","content":[{{"type":"text","text":"turn {n}"}}],"provider":"anthropic","model":"claude-sonnet-4-5","usage":{{"input":100,"output":10,"cacheRead":0,"cacheWrite":0,"totalTokens":110,"cost":{{"total":{cost}}}}},"stopReason":"stop"}}}}"#
        ));
        text.push('\n');
    }
    std::fs::write(home.join(format!("agents/main/sessions/{id}.jsonl")), text).unwrap();
}

fn series(v: &Value) -> Vec<(i64, f64)> {
    v["series"].as_array().unwrap().iter().map(|p| (p["t"].as_i64().unwrap(), p["cost"].as_f64().unwrap())).collect()
}

/// Around midnight in Los Angeles, "now" being 2026-12-07 02:00 UTC = Dec 6 18:00 PST.
const LA_CALLS: [(&str, f64); 5] = [
    ("2026-12-06T07:30", 1.0),  // Dec 5 23:30 PST
    ("2026-12-06T08:30", 2.0),  // Dec 6 00:30 PST
    ("2026-12-06T23:30", 4.0),  // Dec 6 15:30 PST (still Dec 6 in UTC)
    ("2026-12-07T01:30", 8.0),  // Dec 6 17:30 PST (Dec 7 in UTC)
    ("2026-11-30T23:30", 16.0), // Nov 30 15:30 PST: last month in both
];

#[test]
fn los_angeles_days_split_at_local_midnight() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    write_session(&home, "tz-la-0000-0000-0000-000000000001", &LA_CALLS);
    let now = ms("2026-12-07T02:00");
    let la_midnight_dec6 = ms("2026-12-06T00:00") + 8 * H;
    let server = start(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--fake-now-ms",
        &now.to_string(),
        "--tz",
        "America/Los_Angeles",
        "--history-interval",
        "1",
    ]);

    // The API names the zone; PST is 8 hours west of UTC.
    let health = server.get("/api/health");
    assert_eq!(health["tz"]["name"], "America/Los_Angeles");
    assert_eq!(health["tz"]["offsetSeconds"], -8 * 3600);
    assert_eq!(health["tz"]["source"], "--tz");
    let overview = server.get("/api/overview");
    assert_eq!(overview["tz"]["name"], "America/Los_Angeles");

    // Today is Dec 6 local: 2 + 4 + 8 (not the 8 of UTC's Dec 7).
    let today = &overview["usage"]["today"];
    assert!(approx(&today["cost"], 14.0), "{today}");
    assert_eq!(overview["usage"]["todayStartMs"], la_midnight_dec6);
    // The month: December 1st 00:00 PST = 08:00 UTC; Nov 30 15:30 PST is November's.
    assert_eq!(overview["usage"]["monthStartMs"], ms("2026-12-01T08:00"));
    assert!(approx(&overview["usage"]["month"]["cost"], 15.0), "{}", overview["usage"]["month"]);

    // Daily buckets start at local midnight: Dec 5 (1), Dec 6 (2 + 4 + 8).
    let u = server.get("/api/usage?from=2026-12-05&to=2026-12-07&step=day");
    assert_eq!(u["from"], ms("2026-12-05T08:00"));
    assert_eq!(u["to"], ms("2026-12-07T08:00"));
    assert_eq!(series(&u), vec![(ms("2026-12-05T08:00"), 1.0), (la_midnight_dec6, 14.0)]);

    // Insight: today against yesterday, the month and its end at local midnight.
    let i = server.get("/api/insight");
    assert_eq!(i["windows"]["day"]["startMs"], la_midnight_dec6);
    assert!(approx(&i["windows"]["day"]["current"], 14.0), "{}", i["windows"]["day"]);
    assert!(approx(&i["windows"]["day"]["previous"], 1.0), "{}", i["windows"]["day"]);
    assert_eq!(i["projection"]["monthEndMs"], ms("2027-01-01T08:00"));
    // Days left: 6 of today's 24 hours (18:00 → midnight) and Dec 7..31 (25 days).
    assert!(approx(&i["projection"]["daysLeft"], 0.25 + 25.0), "{}", i["projection"]);

    // A daily budget rolls over at local midnight: spent today 14, the period ends Dec 7 00:00
    // PST.
    server.send("PUT", "/api/budget", &serde_json::json!({"dailyUsd": 100}), 200);
    let i = server.get("/api/insight");
    let day = i["budgets"]["limits"].as_array().unwrap().iter().find(|l| l["period"] == "daily").unwrap().clone();
    assert!(approx(&day["spentUsd"], 14.0), "{day}");
    assert_eq!(day["periodEndMs"], ms("2026-12-07T08:00"));

    // history.db's daily rollups are local days too: Dec 4, 5 and 6 PST.
    let (h, _) = server.wait_for(std::time::Duration::from_secs(15), |s| {
        let v = s.get("/api/history?metric=cost&range=3d&step=1d");
        approx(&v["total"], 15.0).then_some(v)
    });
    let pts: Vec<(i64, f64)> =
        h["points"].as_array().unwrap().iter().map(|p| (p["t"].as_i64().unwrap(), p["v"].as_f64().unwrap())).collect();
    assert_eq!(pts, vec![(ms("2026-12-04T08:00"), 0.0), (ms("2026-12-05T08:00"), 1.0), (la_midnight_dec6, 14.0)]);

    // The CSV says local dates, with their offset; hour rows from the same day add up.
    let (status, _, csv) = server.get_raw("/api/usage.csv?from=2026-12-05&to=2026-12-07&step=day").unwrap();
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    let rows: Vec<(&str, f64)> = csv
        .lines()
        .skip(1)
        .map(|r| {
            let c: Vec<&str> = r.split(',').collect();
            (c[0], c[10].parse().unwrap())
        })
        .collect();
    assert_eq!(rows, vec![("2026-12-05T00:00:00-08:00", 1.0), ("2026-12-06T00:00:00-08:00", 14.0)], "{csv}");

    // The same data in UTC splits at 00:00 UTC.
    let utc = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", &now.to_string(), "--tz", "UTC"]);
    let o = utc.get("/api/overview");
    assert!(approx(&o["usage"]["today"]["cost"], 8.0), "{}", o["usage"]["today"]);
    assert_eq!(o["tz"]["offsetSeconds"], 0);
    let u = utc.get("/api/usage?from=2026-12-06&to=2026-12-08&step=day");
    assert_eq!(series(&u), vec![(ms("2026-12-06T00:00"), 1.0 + 2.0 + 4.0), (ms("2026-12-07T00:00"), 8.0)]);
}

#[test]
fn berlin_dst_day_has_25_hours() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    write_session(
        &home,
        "tz-berlin-0000-0000-0000-000000000002",
        &[
            ("2026-10-24T21:30", 4.0), // Oct 24 23:30 CEST
            ("2026-10-24T22:30", 2.0), // Oct 25 00:30 CEST
            ("2026-10-25T22:30", 1.0), // Oct 25 23:30 CET: the 25th hour's day still
            ("2026-10-25T23:30", 8.0), // Oct 26 00:30 CET
        ],
    );
    let now = ms("2026-10-26T12:00");
    // The zone from TZ (as the machine would set it), not a flag.
    let server = start_env(
        &["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", &now.to_string()],
        &[("TZ", "Europe/Berlin")],
    );
    let health = server.get("/api/health");
    assert_eq!((health["tz"]["name"].as_str(), health["tz"]["source"].as_str()), (Some("Europe/Berlin"), Some("TZ")));
    assert_eq!(health["tz"]["offsetSeconds"], 3600);
    let u = server.get("/api/usage?from=2026-10-24&to=2026-10-27&step=day");
    let s = series(&u);
    // Oct 24 starts 22:00 UTC the day before (CEST), Oct 25 22:00 UTC on the 24th, Oct 26
    // 23:00 UTC on the 25th (CET): the 25th is 25 hours long.
    let starts: Vec<i64> = s.iter().map(|p| p.0).collect();
    assert_eq!(starts, vec![ms("2026-10-23T22:00"), ms("2026-10-24T22:00"), ms("2026-10-25T23:00")]);
    assert_eq!(starts[2] - starts[1], 25 * H);
    let costs: Vec<f64> = s.iter().map(|p| p.1).collect();
    assert_eq!(costs, vec![4.0, 3.0, 8.0]);
    // Today (Oct 26 local) holds the 8 alone.
    assert!(approx(&server.get("/api/overview")["usage"]["today"]["cost"], 8.0));
}

#[test]
fn an_unknown_zone_is_a_usage_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["--port", "0", "--no-gateway", "--tz", "Mars/Olympus_Mons"])
        .env("HOME", std::env::temp_dir().join("clawmetry-test-no-home"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tz") && err.contains("Mars/Olympus_Mons") && err.contains("IANA"), "{err}");
}

/// The page says which zone its days are in, and shows times in it with UTC on hover.
#[test]
fn the_page_names_the_zone_and_shows_local_times() {
    use crate::browser::{Chrome, LAB_NOW_MS};
    let exp = &crate::common::expected()["fixtures"]["lab-2026.9"]["sessions"];
    let (id, s) = exp.as_object().unwrap().iter().next().unwrap();
    let first = s["first_ts"].as_i64().unwrap();
    // The session started at first_ts UTC: 8 hours earlier on the wall clock in California.
    let utc = s["first_ts_iso"].as_str().unwrap();
    let (day, clock) = (&utc[..10], &utc[11..19]);
    let pst = first - 8 * H;
    let secs = pst.div_euclid(1000).rem_euclid(86_400);
    let local_clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    // The lab ran at 21:06 UTC: 13:06 PST, the same date (so `day` is the local date too).
    assert!(utc[11..13].parse::<i64>().unwrap() >= 8, "{utc}: the local date would be the day before");

    let (_tmp, home) = install_fixture("lab-2026.9");
    let server =
        start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS, "--tz", "America/Los_Angeles"]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");
    assert_eq!(page.text("#foot-tz"), "Times in America/Los_Angeles (UTC−8)");
    assert!(page.text("#forecast-tz").contains("America/Los_Angeles (UTC−8)"), "{}", page.text("#forecast-tz"));

    page.show(&format!("#/sessions/{id}"), "session");
    assert_eq!(page.text("#s-started"), format!("{day} {local_clock}"));
    let title = page.eval("document.querySelector('#s-started time').title");
    assert_eq!(title.as_str(), Some(format!("{day} {clock} UTC").as_str()));

    // The usage view's days are the server's.
    page.show("#/usage?range=custom&from=2026-11-24&to=2026-11-24", "usage");
    let span = page.text("#u-span");
    assert!(span.starts_with("2026-11-24 to 2026-11-24 (America/Los_Angeles), daily"), "{span}");
    page.assert_no_errors("time zones");
}
