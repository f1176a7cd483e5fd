//! No request may kill the server (issue 13): every GET endpoint with every query parameter it
//! reads set to extreme values (i64 limits, ±5e18, 1e308, NaN, empty, year 275760, bad
//! units, a long string), alone and as from/to pairs, against the real binary with its monitor
//! thread running. Each answer must be a JSON 2xx/4xx (or the 503 of a part that is off), never
//! a 500 or a dropped connection, and the server must still answer afterwards.

use crate::common::{install_fixture, start};

const SESSION: &str = "bdfa3cc5-508a-4896-9c98-ae502491d01e";

fn values() -> Vec<String> {
    let mut v: Vec<String> = [
        "-9223372036854775808",
        "9223372036854775807",
        "-5000000000000000000",
        "5000000000000000000",
        "18446744073709551616",
        "1e308",
        "-1e308",
        "NaN",
        "inf",
        "",
        "-1",
        "0",
        "1",
        "275760-09-13",
        "275760-09-13T00:00:00Z",
        "0000-01-01",
        "9999-12-31T23:59:59.999Z",
        "2026-02-30",
        "1h",
        "0d",
        "-1d",
        "9223372036854775807d",
        "99999999999999999m",
        "+01:00",
        "%00",
        "%ff%fe",
        "..%2f..%2fetc%2fpasswd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(4000));
    v
}

/// (path, a base query that makes the endpoint do its work, the parameters it reads).
fn routes() -> Vec<(String, &'static str, Vec<&'static str>)> {
    vec![
        ("/api/overview".into(), "", vec!["x"]),
        (
            "/api/sessions".into(),
            "",
            vec!["limit", "offset", "sort", "order", "agent", "status", "kind", "state", "profile", "q"],
        ),
        (format!("/api/sessions/{SESSION}"), "", vec!["x"]),
        ("/api/subagents".into(), "", vec!["limit"]),
        (format!("/api/transcript/{SESSION}"), "", vec!["limit", "offset", "kind"]),
        ("/api/timeline".into(), "session=bdfa3cc5-508a-4896-9c98-ae502491d01e&", vec!["session", "limit", "offset"]),
        ("/api/usage".into(), "", vec!["from", "to", "step", "agent", "profile"]),
        ("/api/usage.csv".into(), "", vec!["from", "to", "step", "agent", "profile"]),
        ("/api/insight".into(), "", vec!["agent"]),
        ("/api/memory".into(), "", vec!["agent", "file", "q"]),
        ("/api/logs".into(), "", vec!["limit", "level", "q", "after"]),
        ("/api/flow".into(), "", vec!["since"]),
        ("/api/gateway".into(), "", vec!["x"]),
        ("/api/crons".into(), "", vec!["x"]),
        ("/api/crons/nope/runs".into(), "", vec!["limit", "offset"]),
        ("/api/system-health".into(), "", vec!["x"]),
        ("/api/budget".into(), "", vec!["x"]),
        ("/api/alerts".into(), "", vec!["limit", "offset"]),
        ("/api/alerts/rules".into(), "", vec!["x"]),
        ("/api/alerts/channels".into(), "", vec!["x"]),
        ("/api/history".into(), "metric=cost&", vec!["metric", "from", "to", "step", "range", "by", "agent", "model"]),
        ("/api/history".into(), "metric=cpu&", vec!["from", "to", "step", "range"]),
        ("/api/otlp".into(), "", vec!["limit", "service", "trace", "severity", "kind"]),
        ("/api/nodes".into(), "", vec!["x"]),
        ("/metrics".into(), "", vec!["x"]),
    ]
}

fn enc(v: &str) -> String {
    // Values that look encoded stay as they are (they are the test); others are escaped.
    if v.contains('%') {
        return v.to_string();
    }
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn extreme_query_values_never_kill_the_server() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    let vals = values();
    let mut urls: Vec<String> = Vec::new();
    for (path, base, params) in routes() {
        for p in &params {
            for v in &vals {
                urls.push(format!("{path}?{base}{p}={}", enc(v)));
            }
        }
        // The pairs that once overflowed: from/to at opposite extremes, with each step.
        if params.contains(&"from") {
            for (f, t) in [
                ("-5000000000000000000", "5000000000000000000"),
                ("-9223372036854775808", "9223372036854775807"),
                ("-1", "9223372036854775807"),
                ("0", "253402300799999"),
            ] {
                for step in ["1d", "1h", "day", "hour", "1m", "100000d"] {
                    urls.push(format!("{path}?{base}from={f}&to={t}&step={step}"));
                }
            }
        }
    }
    assert!(urls.len() > 1000, "{}", urls.len());
    let mut by_status: std::collections::BTreeMap<u16, usize> = Default::default();
    for url in &urls {
        let (status, head, body) = server
            .get_raw(url)
            .unwrap_or_else(|e| panic!("{url}: no answer ({e}); the server died? stderr:\n{}", server.stderr()));
        *by_status.entry(status).or_default() += 1;
        assert!(status < 500 || status == 503, "{url}: {status} {}", String::from_utf8_lossy(&body));
        if status >= 400 {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!("{url}: error body is not JSON: {head}\n{}", String::from_utf8_lossy(&body))
            });
            assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{url}: {v}");
        }
    }
    eprintln!("{} requests: {by_status:?}", urls.len());
    let h = server.get("/api/health");
    assert_eq!(h["index"]["ready"], true);
}
