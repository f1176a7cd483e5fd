//! The Health and Alerts views in headless Chromium (browser.rs, as in ui_browser.rs): they
//! render the API's figures, the history chart appears, a budget and a rule can be set through
//! the forms, and the page reports no errors.

use crate::browser::Chrome;
use crate::common::start;
use crate::monitor_support::{lab, monitor_args, LAB_EVENING_MS};
use std::time::Duration;

#[test]
fn health_and_alerts_views_in_a_browser() {
    let (_tmp, home, data) = lab();
    // The lab's evening: its $0.5966 was spent today.
    let now = LAB_EVENING_MS.to_string();
    let mut args = monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now);
    args.extend(["--history-interval", "1"]);
    let server = start(&args);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/health"));
    page.wait_rendered(0, "health");
    assert_eq!(page.count("#h-disks tbody tr"), 2);
    assert!(page.text("#h-disks").contains(home.to_str().unwrap()), "{}", page.text("#h-disks"));
    assert!(page.text("main .card[data-k=gateway]").contains("port 18789"));
    assert!(page.text("#h-ports").contains("model provider fakellm"));
    assert!(page.text("#h-history").contains("history.db"));
    assert_eq!(page.eval("document.querySelector('#nav a.on').dataset.view"), "health");
    page.wait_for(
        "the disk history chart",
        "document.querySelector('#h-chart .uplot') !== null",
        Duration::from_secs(15),
    );
    page.screenshot("monitor-health");
    page.show("#/health?metric=sessions&range=7d", "health");
    page.wait_for(
        "the sessions chart",
        "document.querySelector('#h-metrics button.on').dataset.metric === 'sessions' && !!document.querySelector('#h-chart .uplot')",
        Duration::from_secs(15),
    );

    page.show("#/alerts", "alerts");
    assert!(page.text("#a-budget").contains("No limits set"), "{}", page.text("#a-budget"));
    page.eval("document.querySelector('#f-budget input[name=dailyUsd]').value = '0.7'");
    page.click("#f-budget button[type=submit]");
    page.wait_for(
        "the budget bar and the warning in the log",
        "(document.querySelector('#a-budget .bars') || {}).innerText?.includes('85.2%') && document.querySelector('#a-log').innerText.includes('85% of the daily budget used')",
        Duration::from_secs(15),
    );
    assert_eq!(page.text("#a-msg"), "Budget saved.");
    page.screenshot("monitor-alerts");
    // A rule through the form.
    page.eval("(f => { f.kind.value = 'disk'; f.kind.dispatchEvent(new Event('change')); f.percent.value = '1'; })(document.querySelector('#f-rule'))");
    page.click("#f-rule button[type=submit]");
    page.wait_for(
        "the rule row",
        "document.querySelectorAll('#a-rules tbody tr').length === 1",
        Duration::from_secs(10),
    );
    assert!(page.text("#a-rules").contains("Disk fuller than 1%"), "{}", page.text("#a-rules"));
    assert!(page.text("#a-rules").contains("1440 min"), "the daily reminder by default: {}", page.text("#a-rules"));
    // Its alerts are incidents still firing (the disk stays over 1 %).
    page.wait_for(
        "a firing disk alert in the log",
        "[...document.querySelectorAll('#a-log tr')].some(r => r.innerText.includes('Disk') && r.innerText.includes('firing'))",
        Duration::from_secs(15),
    );
    // Slack and ntfy through the channel form: the hook URL is a secret (never shown back).
    page.eval(
        "(f => { const s = f.querySelector('fieldset[data-channel=slack]'); s.querySelector('[name=on]').checked = true; \
         s.querySelector('[name=url]').value = 'https://hooks.slack.com/services/T0/B0/uiSECRET'; \
         const n = f.querySelector('fieldset[data-channel=ntfy]'); n.querySelector('[name=on]').checked = true; \
         n.querySelector('[name=url]').value = 'https://ntfy.sh/cm-ui-test'; })(document.querySelector('#f-channels'))",
    );
    page.click("#f-channels button[type=submit]");
    page.wait_for(
        "channels saved",
        "document.querySelector('#a-msg').innerText === 'Channels saved.'",
        Duration::from_secs(10),
    );
    let c = server.get("/api/alerts/channels");
    assert_eq!(c["channels"]["slack"]["urlSet"], true, "{c}");
    assert_eq!(c["channels"]["ntfy"]["url"], "https://ntfy.sh/cm-ui-test", "{c}");
    assert!(!c.to_string().contains("uiSECRET"));
    // Alerts not read yet: counted on the Alerts tab; "Mark all read" clears them.
    let unread = server.get("/api/alerts?limit=1")["unread"].as_u64().unwrap();
    assert!(unread >= 2, "{unread}");
    page.wait_for(
        "the unread count on the tab",
        &format!("document.querySelector('#nav-unread').textContent === '{unread}' && !document.querySelector('#nav-unread').hidden"),
        Duration::from_secs(10),
    );
    assert_eq!(page.count("#a-log tr.unread"), unread);
    page.click("#a-ack-all");
    page.wait_for(
        "all read",
        "document.querySelector('#nav-unread').hidden && !document.querySelector('#a-log tr.unread')",
        Duration::from_secs(10),
    );
    assert_eq!(server.get("/api/alerts?limit=1")["unread"], 0);
    let (st, e) = server.call("POST", "/api/alerts/ack", Some(&serde_json::json!({"ids": "x"})));
    assert_eq!(st, 400, "{e}");
    // A bad value is refused with the API's reason.
    page.eval("document.querySelector('#f-budget input[name=dailyUsd]').value = '0'");
    page.click("#f-budget button[type=submit]");
    page.wait_for("the error", "document.querySelector('#a-msg').className === 'errmsg'", Duration::from_secs(10));
    assert!(page.text("#a-msg").contains("more than 0"), "{}", page.text("#a-msg"));
    page.assert_errors_only("health and alerts views", &["/api/budget"]);
}
