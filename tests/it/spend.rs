//! Where the money goes (issue 16, item 3) on the lab's real sessions: the breakdowns of
//! `/api/usage` (trigger, tool, provider, top runs against their median), the filters, the CSV
//! and `/metrics` under the same filters, and a session's cost with its sub-agent tree, against
//! `tests/fixtures/expected_spend.json`, which `tests/fixtures/expected_spend.py` computes from
//! the fixture's databases on its own. Also the hourly anomaly block of `/api/insight` when the
//! index holds less than the 3 days of history a baseline needs.

use crate::common::*;
use serde_json::Value;

/// The lab fixture's expectations.
fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected_spend.json")).expect("expected_spend.json");
    let v: Value = serde_json::from_str(&text).expect("expected_spend.json parses");
    v["lab-2026.9"].clone()
}

/// The lab ran on 2026-11-24; the clock is the next morning.
const NOW: &str = "1795600000000";
const RANGE: &str = "from=2026-11-01&to=2026-12-01";

fn close(a: &Value, b: f64, what: &str) {
    assert!(a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9), "{what}: {a} vs expected {b}");
}

/// A breakdown's rows as name -> row.
fn rows<'a>(v: &'a Value, field: &str) -> std::collections::BTreeMap<String, &'a Value> {
    v.as_array().unwrap().iter().map(|r| (r[field].as_str().unwrap().to_string(), r)).collect()
}

#[test]
fn lab_breakdowns_match_the_independent_script() {
    let exp = expected();
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let u = server.get(&format!("/api/usage?{RANGE}"));
    close(&u["totals"]["cost"], exp["total"].as_f64().unwrap(), "total");

    // By trigger: cron job by name, the heartbeat turns of the main session, sub-agents, and
    // conversations by channel; the rows add up to the total.
    let got = rows(&u["byTrigger"], "trigger");
    let want = exp["byTrigger"].as_object().unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (t, w) in want {
        close(&got[t]["cost"], w["cost"].as_f64().unwrap(), t);
        assert_eq!(got[t]["sessions"], w["sessions"], "{t} sessions");
    }
    assert!(want.contains_key("cron:lab-cron") && want.contains_key("heartbeat") && want.contains_key("subagent"));
    let sum: f64 = got.values().map(|r| r["cost"].as_f64().unwrap()).sum();
    assert!((sum - exp["total"].as_f64().unwrap()).abs() < 1e-9);

    // By tool (whole turns) and by provider.
    let got = rows(&u["byTool"], "tool");
    let want = exp["byTool"].as_object().unwrap();
    assert_eq!(got.len(), want.len());
    for (t, w) in want {
        close(&got[t]["cost"], w.as_f64().unwrap(), t);
    }
    let got = rows(&u["byProvider"], "provider");
    for (p, w) in exp["byProvider"].as_object().unwrap() {
        close(&got[p]["cost"], w.as_f64().unwrap(), p);
    }
    assert!(u["rules"]["byTool"].as_str().unwrap().contains("turn"));

    // The top runs, each against the median of its agent and trigger.
    let runs = u["topRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for r in runs {
        let w = &exp["runs"][r["id"].as_str().unwrap()];
        assert_eq!(r["trigger"], w["trigger"]);
        assert_eq!(r["similarRuns"], w["similar"]);
        close(&r["medianCost"], w["median"].as_f64().unwrap(), "median");
        match w["timesMedian"].as_f64() {
            None => assert!(r["timesMedian"].is_null(), "{r}"),
            Some(t) => assert!((r["timesMedian"].as_f64().unwrap() - t).abs() < 1e-4, "{r} vs {t}"),
        }
    }
    let costs: Vec<f64> = runs.iter().map(|r| r["cost"].as_f64().unwrap()).collect();
    assert!(costs.windows(2).all(|w| w[0] >= w[1]), "most expensive first: {costs:?}");

    // A session's cost with its sub-agent tree.
    for (id, w) in exp["treeCost"].as_object().unwrap() {
        let s = server.get(&format!("/api/sessions/{id}"));
        close(&s["treeCost"]["cost"], w["cost"].as_f64().unwrap(), id);
        assert_eq!(s["treeCost"]["sessions"], w["sessions"], "{id}");
    }

    // /metrics: this month's cost by trigger and provider.
    let (_, _, body) = server.get_raw("/metrics").unwrap();
    let text = String::from_utf8(body).unwrap();
    let metric = |line: &str| -> f64 {
        let l = text.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("{line} missing"));
        l.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let w = exp["byTrigger"]["subagent"]["cost"].as_f64().unwrap();
    assert!((metric("clawmetry_month_cost_by_trigger_usd{trigger=\"subagent\"}") - w).abs() < 1e-9);
    let w = exp["byProvider"]["fakellm"].as_f64().unwrap();
    assert!((metric("clawmetry_month_cost_by_provider_usd{provider=\"fakellm\"}") - w).abs() < 1e-9);
}

#[test]
fn filters_combine_and_narrow_every_figure_and_the_csv() {
    let exp = expected();
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let runs = exp["runs"].as_object().unwrap();
    // Independent sums over the script's sessions.
    let cost_of = |keep: &dyn Fn(&Value) -> bool| -> (f64, usize) {
        let v: Vec<f64> = runs.values().filter(|r| keep(r)).map(|r| r["cost"].as_f64().unwrap()).collect();
        (v.iter().sum(), v.len())
    };
    let csv_cost = |q: &str| -> f64 {
        let (status, _, body) = server.get_raw(&format!("/api/usage.csv?{RANGE}&step=day&{q}")).unwrap();
        assert_eq!(status, 200);
        String::from_utf8(body)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Keep)> = vec![
        ("trigger=subagent", Box::new(|r| r["trigger"] == "subagent")),
        ("tool=read", Box::new(|r| r["tools"].as_array().unwrap().iter().any(|t| t == "read"))),
        ("tool=exec&agent=ops", Box::new(|r| r["agent"] == "ops")),
        ("trigger=message%3Adirect&agent=main", Box::new(|r| r["agent"] == "main" && r["trigger"] == "message:direct")),
        ("trigger=cron%3Alab-cron", Box::new(|r| r["trigger"] == "cron:lab-cron")),
        // The heartbeat ran inside the main session: that session, whole.
        ("trigger=heartbeat", Box::new(|r| r["heartbeatTurnsCost"].as_f64().unwrap() > 0.0)),
        ("provider=fakellm&model=fakellm%2Ffake-model", Box::new(|_| true)),
        ("provider=anthropic", Box::new(|_| false)),
        ("channel=telegram", Box::new(|_| false)),
    ];
    for (q, keep) in cases {
        let (want, n) = cost_of(&*keep);
        let u = server.get(&format!("/api/usage?{RANGE}&{q}"));
        close(&u["totals"]["cost"], want, q);
        assert_eq!(u["sessionsWithUsage"], n, "{q}");
        let series: f64 = u["series"].as_array().unwrap().iter().map(|p| p["cost"].as_f64().unwrap()).sum();
        assert!((series - want).abs() < 1e-9, "{q}: the chart's series {series} vs {want}");
        assert!((csv_cost(q) - want).abs() < 1e-6, "{q}: CSV");
        // The choices stay those of the whole range (under the agent filter only), so that other
        // values can be picked.
        let cron = u["choices"]["trigger"].as_array().unwrap().iter().any(|t| t == "cron:lab-cron");
        assert_eq!(cron, !q.contains("agent=ops"), "{q}");
    }
    let u = server.get(&format!("/api/usage?{RANGE}&tool=read&trigger=subagent"));
    assert_eq!(u["filters"]["tool"], "read");
    assert_eq!(u["totals"]["calls"], 0, "no sub-agent of the lab read a file");
}

#[test]
fn bad_filters_are_refused_with_400() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let long = "x".repeat(301);
    for (q, want) in [
        ("trigger=bogus".to_string(), "use cron:<job name>"),
        ("trigger=cron%3A".to_string(), "use cron:<job name>"),
        ("model=a%00b".to_string(), "non-empty"),
        (format!("tool={long}"), "at most 300"),
        ("channel=a%0Ab".to_string(), "non-empty value"),
    ] {
        let e = server.get_error(&format!("/api/usage?{q}"), 400);
        assert!(e.contains(want), "{q}: {e}");
        let e = server.get_error(&format!("/api/usage.csv?{q}"), 400);
        assert!(e.contains(want), "{q} (CSV): {e}");
    }
}

#[test]
fn no_anomaly_without_three_days_of_history() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", NOW]);
    let a = &server.get("/api/insight")["anomalies"];
    let hours = a["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    // The hours end with the current one (2026-11-25T07:00Z, not over yet).
    assert_eq!(hours[23]["t"], 1_795_597_200_000i64);
    assert_eq!(hours[23]["partial"], true);
    // The lab's USD 0.60 fell in 2026-11-24T21:00Z, inside the last 24 hours, but the index
    // begins that day: no baseline, so no judgement.
    let lab_hour = hours.iter().find(|h| h["t"] == 1_795_554_000_000i64).expect("the lab's hour");
    assert!((lab_hour["cost"]["value"].as_f64().unwrap() - 0.5966346).abs() < 1e-9);
    assert!(lab_hour["cost"]["threshold"].is_null());
    assert_eq!(a["anomalous"].as_array().unwrap().len(), 0);
}
