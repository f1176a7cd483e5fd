//! The OTLP and Fleet views in headless Chromium: they load without console errors, show what
//! the API has, and say what to do when there is nothing yet. Screenshots (light and dark) go
//! to `target/screenshots/`.

use crate::browser::{Chrome, LAB_NOW_MS};
use crate::common::{install_fixture, start};

const TRACE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-bot"}}]},
  "scopeSpans":[{"spans":[
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"invoke_agent support","kind":1,
     "startTimeUnixNano":"1795600000000000000","endTimeUnixNano":"1795600003000000000",
     "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"invoke_agent"}}]},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b174","name":"chat gpt-4o","kind":3,
     "startTimeUnixNano":"1795600000500000000","endTimeUnixNano":"1795600002500000000",
     "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
       {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},
       {"key":"gen_ai.usage.input_tokens","value":{"intValue":"2400"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"180"}}]}]}]}]}"#;

#[test]
fn otlp_and_fleet_views() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();

    page.goto(&server.url("/#/otlp"));
    page.wait_rendered(0, "otlp");
    assert!(page.text("main").contains("No OpenTelemetry data yet"), "{}", page.text("main"));
    assert!(page.text("main").contains("OTEL_EXPORTER_OTLP_ENDPOINT"));

    assert_eq!(server.call_bytes("POST", "/v1/traces", Some(TRACE.as_bytes())).0, 200);
    page.show("#/", "overview");
    page.show("#/otlp", "otlp");
    let text = page.text("main");
    assert!(
        text.contains("support-bot") && text.contains("chat gpt-4o") && text.contains("invoke_agent support"),
        "{text}"
    );
    assert!(text.contains("2,400 in / 180 out"), "{text}");
    assert_eq!(page.count(".wf-row"), 2);
    for dark in [false, true] {
        page.color_scheme(dark);
        page.screenshot(if dark { "otlp-dark" } else { "otlp-light" });
    }
    page.color_scheme(false);

    // The model call is a session of kind otlp.
    page.show("#/sessions?kind=otlp", "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 1);

    // Fleet mode is off on this instance: the view says how to turn it on.
    page.show("#/fleet", "fleet");
    let text = page.text("main");
    assert!(text.contains("Fleet mode is off") && text.contains("CLAWMETRY_FLEET_KEY"), "{text}");
    page.screenshot("fleet-off-light");
    page.assert_no_errors("otlp and fleet views");
}
