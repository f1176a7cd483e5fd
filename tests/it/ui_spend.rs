//! Where the money goes in a real browser (headless Chromium, see ui_browser.rs): the usage
//! view's filters change the figures, the chart, the URL and the CSV link; the tables by
//! trigger and tool; the overview's unusual-hours panel; a session's cost with its sub-agents.
//! Expected figures from `tests/fixtures/expected_spend.json` (an independent script).

use crate::browser::{Chrome, LAB_NOW_MS};
use crate::common::{fixtures, install_fixture, start};
use serde_json::Value;

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected_spend.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["lab-2026.9"].clone()
}

const CHART: &str = "document.querySelector('#c-cost canvas').toDataURL()";

#[test]
fn usage_filters_change_the_charts_the_url_and_the_csv() {
    let exp = expected();
    let money = |k: &str| format!("${:.4}", exp["byTrigger"][k]["cost"].as_f64().unwrap());
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");
    // The overview's unusual hours: none, the index holds one day.
    assert!(page.text("#anomalies").contains("No unusual hour"), "{}", page.text("#anomalies"));

    page.show("#/usage?range=month", "usage");
    let triggers = page.text("#u-triggers");
    for t in ["cron:lab-cron", "heartbeat", "subagent", "message:direct"] {
        assert!(triggers.contains(t), "{t}: {triggers}");
    }
    assert!(page.text("#u-tools").contains("exec"), "{}", page.text("#u-tools"));
    assert!(page.text("#u-runs").contains('×'), "{}", page.text("#u-runs"));
    let chart_all = page.eval(CHART);
    page.screenshot("usage-spend");
    let total = format!("${:.4}", exp["total"].as_f64().unwrap());
    assert_eq!(page.text("main .card[data-k=cost] .num"), total);

    // Pick a trigger: the figures, the chart, the URL and the CSV link follow.
    let pick = |name: &str, value: &str| {
        let before = page.eval("window.__cm.renders").as_u64().unwrap();
        page.eval(&format!(
            "(s => {{ s.value = {v}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})(document.querySelector('select[data-f={name}]'))",
            v = serde_json::json!(value)
        ));
        page.wait_rendered(before, "usage");
    };
    pick("trigger", "subagent");
    let hash = page.eval("location.hash").as_str().unwrap().to_string();
    assert!(hash.contains("trigger=subagent") && hash.contains("range=month"), "{hash}");
    assert_eq!(page.text("main .card[data-k=cost] .num"), money("subagent"));
    assert_ne!(page.eval(CHART), chart_all, "the cost chart did not change");
    assert_eq!(page.eval("document.querySelector('select[data-f=trigger]').value"), "subagent");
    let href = page.eval("document.querySelector('#u-csv').getAttribute('href')").as_str().unwrap().to_string();
    assert!(href.contains("trigger=subagent"), "{href}");
    let csv = page.eval(&format!("fetch({}).then(r => r.text())", serde_json::json!(href)));
    let sum: f64 =
        csv.as_str().unwrap().lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap()).sum();
    let want = exp["byTrigger"]["subagent"]["cost"].as_f64().unwrap();
    assert!((sum - want).abs() < 1e-6, "CSV sum {sum} vs {want}");

    // Combined with a tool no sub-agent used: nothing, said so; back to all triggers: the tool
    // alone (the main session read a file).
    pick("tool", "read");
    let hash = page.eval("location.hash").as_str().unwrap().to_string();
    assert!(hash.contains("trigger=subagent") && hash.contains("tool=read"), "{hash}");
    assert!(page.text("#u-body").contains("under these filters"), "{}", page.text("#u-body"));
    pick("trigger", "");
    let read: f64 = exp["runs"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["tools"].as_array().unwrap().iter().any(|t| t == "read"))
        .map(|r| r["cost"].as_f64().unwrap())
        .sum();
    assert_eq!(page.text("main .card[data-k=cost] .num"), format!("${read:.4}"));
    assert!(page.text("#u-span").contains("tool read"), "{}", page.text("#u-span"));

    // A session with sub-agents shows its cost with them.
    let tree = exp["treeCost"]["bdfa3cc5-508a-4896-9c98-ae502491d01e"]["cost"].as_f64().unwrap();
    page.show("#/sessions/bdfa3cc5-508a-4896-9c98-ae502491d01e", "session");
    assert_eq!(page.text("[data-k=tree-cost]"), format!("${tree:.4}"));
    page.viewport(360, 800, true);
    page.show("#/usage?range=month&trigger=subagent", "usage");
    page.screenshot("usage-spend-360");
    page.assert_no_errors("spend");
}
