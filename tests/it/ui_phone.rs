//! The dashboard on a phone (issue 19, item 3): an installable web app (manifest, icons, a
//! service worker that keeps the shell and never an API answer, as Chromium itself judges it
//! through the DevTools protocol), and every view at 360 px without sideways scrolling.

use crate::browser::Chrome;
use crate::common::{install_fixture, start};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn installable_and_every_view_fits_a_360_px_phone() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1775640000000"]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");

    // The service worker (http://127.0.0.1 is a secure context) controls the page once ready.
    page.wait_for(
        "service worker active",
        "navigator.serviceWorker.ready.then(r => !!r.active).catch(() => false)",
        Duration::from_secs(15),
    );
    let manifest = page.cmd("Page.getAppManifest", json!({}));
    assert_eq!(manifest["errors"], json!([]), "{manifest}");
    let parsed: Value = serde_json::from_str(manifest["data"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["start_url"], "/");
    assert_eq!(parsed["display"], "standalone");
    // Chromium's own verdict: nothing keeps the app from being installed.
    let t0 = std::time::Instant::now();
    let errors = loop {
        let r = page.cmd("Page.getInstallabilityErrors", json!({}));
        let errors = r["installabilityErrors"].as_array().cloned().unwrap_or_default();
        if errors.is_empty() || t0.elapsed() > Duration::from_secs(10) {
            break errors;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(errors, Vec::<Value>::new(), "installability errors");

    // After visiting the API-heavy views, the cache holds shell files only.
    page.show("#/sessions", "sessions");
    page.show("#/usage", "usage");
    let cached = page.wait_for(
        "the shell cache",
        "caches.open('clawmetry-shell-v1').then(c => c.keys()).then(k => k.length ? k.map(r => new URL(r.url).pathname) : null)",
        Duration::from_secs(10),
    );
    let paths: Vec<&str> = cached.as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(paths.contains(&"/") && paths.contains(&"/app.js"), "{paths:?}");
    assert!(paths.iter().all(|p| !p.starts_with("/api/") && !p.starts_with("/login/")), "{paths:?}");

    // Every view at 360 px: no sideways scrolling of the page as a whole.
    page.viewport(360, 780, true);
    let views = [
        ("#/", "overview"),
        ("#/activity", "activity"),
        ("#/sessions", "sessions"),
        ("#/sessions/e284ffb1-15b9-4955-bf7f-252e5a91938e", "session"),
        ("#/subagents", "subagents"),
        ("#/usage?range=all", "usage"),
        ("#/flow", "flow"),
        ("#/crons", "crons"),
        ("#/logs", "logs"),
        ("#/memory", "memory"),
        ("#/search?q=gateway", "search"),
        ("#/health", "health"),
        ("#/alerts", "alerts"),
        ("#/otlp", "otlp"),
        ("#/fleet", "fleet"),
    ];
    let mut wide = Vec::new();
    for (hash, view) in views {
        page.show("#/nowhere", "missing");
        page.show(hash, view);
        let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth").as_i64().unwrap();
        page.screenshot(&format!("{view}-360"));
        if overflow > 0 {
            wide.push(format!("{hash}: {overflow} px"));
        }
    }
    assert!(wide.is_empty(), "views that scroll sideways at 360 px: {wide:?}");
    page.assert_no_errors("phone");
}
