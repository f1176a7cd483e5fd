//! The guard in a real browser (headless Chromium, see ui_browser.rs): a real tool loop (the lab's
//! `TOOL_LOOP` transcript, tests/fixtures/lines) written into a running installation shows on
//! its session (the findings, the 25 repeated calls marked in the timeline), on the overview's
//! warnings, and the alerts page has the guard's settings, the pause control and the audit log;
//! Pause and Resume there reach the gateway (a fake one) and land in the audit log.
//! The counts come from the transcript lines, not from clawmetry.

use crate::browser::Chrome;
use crate::common::{fixtures, install_fixture, start};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn a_loop_shows_on_its_session_the_overview_and_the_alerts_page() {
    let lines: Vec<String> = std::fs::read_to_string(fixtures().join("lines/tool-loop.lab-2026.9.6.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let calls =
        lines.iter().filter(|l| l.contains(r#""role":"assistant""#) && l.contains(r#""type":"toolCall""#)).count();
    assert_eq!(calls, 25);
    let sid = serde_json::from_str::<Value>(&lines[0]).unwrap()["id"].as_str().unwrap().to_string();

    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    server.send("PUT", "/api/guard", &json!({"tokenRate": {"enabled": false}}), 200);
    let file = home.join(format!("agents/main/sessions/{sid}.jsonl"));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    server.wait_for(Duration::from_secs(10), |s| {
        s.get("/api/guard")["findings"].as_array().unwrap().iter().any(|f| f["count"] == 25).then_some(())
    });

    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url(&format!("/#/sessions/{sid}")));
    page.wait_rendered(0, "session");
    page.wait_for(
        "the findings",
        "document.querySelectorAll('#s-guard .guard-f').length === 2",
        Duration::from_secs(10),
    );
    let head = page.text("#s-guard");
    assert!(head.contains("exec called again and again") && head.contains("25 times"), "{head}");
    assert!(head.contains("found at call 5"), "{head}");
    page.wait_for("the marked calls", "document.querySelectorAll('.ev.looped').length === 25", Duration::from_secs(10));

    page.show("#/", "overview");
    assert_eq!(page.count("#warnings li.w-loop"), 2);
    assert!(page.text("#warnings").contains("Tool loop"), "{}", page.text("#warnings"));

    page.show("#/alerts", "alerts");
    assert_eq!(page.count("#a-guard fieldset.g-rule"), 4);
    assert_eq!(page.count("#a-guard #g-pause"), 1);
    assert!(!page.eval("document.querySelector('#f-guard [name=\"tokenRate.enabled\"]').checked").as_bool().unwrap());
    assert!(page.text("#a-guard").contains("No actions yet"), "{}", page.text("#a-guard"));
    page.assert_no_errors("guard");
}

#[test]
fn pause_and_resume_the_gateway_from_the_alerts_page() {
    // A fake gateway (monitor_pause.rs) records what it is asked; the confirm dialog is answered
    // "yes" by the page itself (headless Chromium shows none), and its question is kept.
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let (port, calls) = crate::monitor_pause::fake_gateway();
    let url = format!("ws://127.0.0.1:{port}");
    let server = crate::common::start_with_gateway(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--gateway-url",
        &url,
        "--gateway-token",
        "t",
    ]);
    server.wait_for(Duration::from_secs(15), |s| (s.get("/api/gateway")["state"] == "connected").then_some(()));
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/alerts"));
    page.wait_rendered(0, "alerts");
    page.eval("window.__asked = []; window.confirm = (q) => { window.__asked.push(q); return true; }");
    page.click("#g-pause");
    page.wait_for("paused", "!!document.querySelector('#g-resume')", Duration::from_secs(10));
    assert!(page.eval("window.__asked[0]").as_str().unwrap().contains("Pause the OpenClaw gateway"));
    assert_eq!(crate::monitor_pause::count(&calls, "gateway.suspend.prepare"), 1);
    assert_eq!(server.get("/api/guard")["pause"]["active"], true);
    assert_eq!(page.count("#g-audit tbody tr"), 1);
    page.click("#g-resume");
    page.wait_for("resumed", "!!document.querySelector('#g-pause')", Duration::from_secs(10));
    assert_eq!(crate::monitor_pause::count(&calls, "gateway.suspend.resume"), 1);
    assert_eq!(server.get("/api/guard")["pause"]["active"], false);
    assert_eq!(page.count("#g-audit tbody tr"), 2);
    assert!(page.text("#g-audit").contains("resume"), "{}", page.text("#g-audit"));
    page.assert_no_errors("guard pause");
}
