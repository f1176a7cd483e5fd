//! The spend forecast and the prompt cache in a real browser (headless Chromium, see
//! ui_browser.rs): the overview shows the month-end projection with its method and the cache's
//! hit rate and savings; the usage view lists the cache per model; no console errors. The
//! figures are computed here from expected.json and the fixture's prices.

use crate::browser::{Chrome, LAB_NOW_MS};
use crate::common::{expected, install_fixture, start};

#[test]
fn overview_shows_the_projection_and_the_cache_savings() {
    let t = &expected()["fixtures"]["lab-2026.9"]["totals"];
    let cost = t["cost_reported"].as_f64().unwrap();
    let read = t["tokens"]["cacheRead"].as_f64().unwrap();
    let prompt = t["tokens"]["input"].as_f64().unwrap() + read + t["tokens"]["cacheWrite"].as_f64().unwrap();
    // 2026-11-25T09:46:40Z: 5.59 days left until December; the lab's day is in the 7-day mean.
    let left = (1_796_083_200_000i64 - LAB_NOW_MS.parse::<i64>().unwrap()) as f64 / 86_400_000.0;
    let projected = format!("${:.2}", cost + cost / 7.0 * left);
    // fake-model: input $3, cache read $0.30 per 1M tokens (the fixture's openclaw.json).
    let saved = format!("${:.2}", read * (3.0 - 0.3) / 1e6);
    let hit = format!("{:.0}%", 100.0 * read / prompt);

    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");

    assert_eq!(page.text("#forecast .num[data-k=projected]"), projected);
    let method = page.text("#projection-method");
    assert!(
        method.contains("$0.5966 so far") && method.contains("daily mean") && method.contains("5.6 days left"),
        "{method}"
    );
    assert!(page.text("#forecast").contains("Today vs yesterday"), "{}", page.text("#forecast"));
    assert_eq!(page.text("#cache .num[data-k=saved]"), saved);
    assert_eq!(page.text("#cache .num[data-k=hit-rate]"), hit);
    assert_eq!(page.count("#cache .spark span"), 30);

    page.show("#/usage", "usage");
    let cache = page.text("#u-cache");
    assert!(cache.contains("fake-model") && cache.contains(&saved) && cache.contains(&hit), "{cache}");
    page.assert_no_errors("insight");
}

#[test]
fn a_public_overview_shows_without_the_forecast_panels() {
    // `--public-overview` opens /api/overview only: the overview renders without the token, the
    // forecast and cache panels (behind the token) are left out, and no login form appears.
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = crate::common::start_exact(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--fake-now-ms",
        LAB_NOW_MS,
        "--token",
        "wall-display-token-0123456789",
        "--public-overview",
    ]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");
    assert!(page.text("main .card[data-k=month]").contains("$0.5966"), "{}", page.text("main"));
    assert_eq!(page.count("#forecast, #cache"), 0);
    assert_eq!(page.count("#login"), 0);
}
