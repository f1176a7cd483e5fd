//! `--otlp-export` (issue 18, item 3): clawmetry pushes its usage as OTLP metrics.
//! - To a receiver built from the official protobuf definitions (opentelemetry-proto's Python
//!   classes, `tests/otel/receive.py`): the request decodes, carries the GenAI token histogram,
//!   the cost and the calls, and their sums equal the fixture's figures; headers are sent.
//! - To another clawmetry's `/v1/metrics`: the receiving instance shows the same tokens, cost and
//!   calls as the exporting one, and keeps them through later (cumulative) exports.
//! - To nothing: the failures are counted on `/api/health`, the exporter goes on.

use crate::common::{free_port, install_fixture, start, Server, TempDir};
use crate::monitor_support::LAB_COST;
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn totals(s: &Server) -> Value {
    s.get("/api/overview")["usage"]["total"].clone()
}

fn same_totals(a: &Value, b: &Value) -> bool {
    ["input", "output", "cacheRead", "cacheWrite", "calls"].iter().all(|k| a[*k] == b[*k])
        && (a["cost"].as_f64().unwrap_or(-1.0) - b["cost"].as_f64().unwrap_or(-2.0)).abs() < 1e-9
}

#[test]
fn an_official_otlp_receiver_decodes_the_export() {
    let dir = TempDir::new("otlp-receive");
    let out = dir.path().join("requests.jsonl");
    let port = free_port();
    let mut child = Command::new(crate::otlp::venv_python())
        .arg(crate::otlp::script("receive.py"))
        .arg(port.to_string())
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "ready");
    let _rx = Receiver(child);

    let (_tmp, home) = install_fixture("lab-2026.9");
    let url = format!("http://127.0.0.1:{port}");
    let s = start(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--otlp-export",
        &url,
        "--otlp-interval",
        "1",
        "--otlp-header",
        "Authorization: Bearer collector-key",
        "--node-name",
        "pi-kitchen",
    ]);
    let t0 = Instant::now();
    let line = loop {
        if let Some(l) = std::fs::read_to_string(&out).ok().and_then(|t| t.lines().next().map(str::to_string)) {
            break l;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no export arrived");
        std::thread::sleep(Duration::from_millis(100));
    };
    let got: Value = serde_json::from_str(&line).unwrap();
    // Header names are case-insensitive (ureq sends them in lower case).
    let auth = got["headers"].as_object().unwrap().iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    assert_eq!(auth.map(|a| a.1.clone()), Some(Value::from("Bearer collector-key")), "{}", got["headers"]);
    let rm = &got["request"]["resourceMetrics"][0];
    let res: Vec<(String, String)> = rm["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_string(), a["value"]["stringValue"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(res.contains(&("service.name".into(), "clawmetry".into())), "{res:?}");
    assert!(res.contains(&("clawmetry.node".into(), "pi-kitchen".into())), "{res:?}");
    let metrics = rm["scopeMetrics"][0]["metrics"].as_array().unwrap();
    let by_name =
        |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap_or_else(|| panic!("{n} missing: {metrics:?}"));
    // protobuf's JSON mapping writes 64-bit integers as strings.
    let int = |v: &Value| v.as_str().map_or_else(|| v.as_f64().unwrap_or(0.0), |s| s.parse().unwrap());
    let attr = |p: &Value, k: &str| {
        p["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).map(|a| a["value"]["stringValue"].clone())
    };
    let hist = &by_name("gen_ai.client.token.usage")["histogram"];
    assert_eq!(hist["aggregationTemporality"], "AGGREGATION_TEMPORALITY_CUMULATIVE");
    let want = totals(&s);
    for (kind, key) in
        [("input", "input"), ("output", "output"), ("cache_read", "cacheRead"), ("cache_write", "cacheWrite")]
    {
        let sum: f64 = hist["dataPoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| attr(p, "gen_ai.token.type") == Some(Value::from(kind)))
            .map(|p| p["sum"].as_f64().unwrap_or(0.0))
            .sum();
        assert_eq!(sum, want[key].as_f64().unwrap(), "{kind}");
    }
    let p0 = &hist["dataPoints"][0];
    assert_eq!(attr(p0, "gen_ai.request.model"), Some(Value::from("fake-model")));
    assert_eq!(attr(p0, "gen_ai.provider.name"), Some(Value::from("fakellm")));
    let cost = &by_name("clawmetry.cost.usd")["sum"];
    assert_eq!(cost["isMonotonic"], true);
    let cost: f64 = cost["dataPoints"].as_array().unwrap().iter().map(|p| p["asDouble"].as_f64().unwrap()).sum();
    assert!((cost - LAB_COST).abs() < 1e-9, "{cost} vs the lab's {LAB_COST}");
    let calls: f64 = by_name("clawmetry.model_calls")["sum"]["dataPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| int(&p["asInt"]))
        .sum();
    assert_eq!(calls, want["calls"].as_f64().unwrap());
    let h = s.get("/api/health");
    assert!(h["otlpExport"]["exports"].as_u64() >= Some(1), "{}", h["otlpExport"]);
}

#[test]
fn another_clawmetry_shows_the_same_totals_and_a_dead_collector_is_counted() {
    let empty = TempDir::new("otlp-central");
    let central_data = empty.path().join("data");
    let central_port = free_port().to_string();
    let central_args = [
        "--openclaw-dir",
        empty.path().to_str().unwrap(),
        "--data-dir",
        central_data.to_str().unwrap(),
        "--port",
        &central_port,
    ];
    let mut central = start(&central_args);
    let (_tmp, home) = install_fixture("lab-2026.9");
    let url = format!("http://127.0.0.1:{}", central.port);
    let node_data = empty.path().join("node-data");
    let node_args = [
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--otlp-export",
        &url,
        "--otlp-interval",
        "1",
        "--data-dir",
        node_data.to_str().unwrap(),
    ];
    let mut node = start(&node_args);
    let want = totals(&node);
    assert!((want["cost"].as_f64().unwrap() - LAB_COST).abs() < 1e-9, "{want}");
    central.wait_for(Duration::from_secs(30), |c| same_totals(&totals(c), &want).then_some(()));
    // Later exports are the same cumulative totals: nothing is counted twice.
    let exports = |n: &Server| n.get("/api/health")["otlpExport"]["exports"].as_u64().unwrap_or(0);
    // Two more exports of `n` arrive (each one the whole cumulative totals again).
    let two_more = |n: &Server| {
        let before = exports(n);
        n.wait_for(Duration::from_secs(20), |n| (exports(n) >= before + 2).then_some(()));
    };
    two_more(&node);
    let got = totals(&central);
    assert!(same_totals(&got, &want), "central {got} vs node {want}");
    // The node restarts (its running totals start anew), then the central does: the totals are
    // taken as totals, nothing counts twice.
    drop(node);
    node = start(&node_args);
    two_more(&node);
    let got = totals(&central);
    assert!(same_totals(&got, &want), "after the node's restart: central {got} vs node {want}");
    drop(central);
    central = start(&central_args);
    two_more(&node);
    central.wait_for(Duration::from_secs(20), |c| same_totals(&totals(c), &want).then_some(()));
    two_more(&node);
    let got = totals(&central);
    assert!(same_totals(&got, &want), "after the central's restart: central {got} vs node {want}");
    // A second node with the same models and agents: its own series, the central sums both.
    let (_tmp3, home3) = install_fixture("lab-2026.9");
    let second = start(&[
        "--openclaw-dir",
        home3.to_str().unwrap(),
        "--otlp-export",
        &url,
        "--otlp-interval",
        "1",
        "--node-name",
        "second-node",
    ]);
    let mut twice = want.clone();
    for k in ["input", "output", "cacheRead", "cacheWrite", "calls"] {
        twice[k] = (want[k].as_u64().unwrap() * 2).into();
    }
    twice["cost"] = (want["cost"].as_f64().unwrap() * 2.0).into();
    central.wait_for(Duration::from_secs(30), |c| same_totals(&totals(c), &twice).then_some(()));
    two_more(&second);
    let got = totals(&central);
    assert!(same_totals(&got, &twice), "two nodes' exports interleaved: {got} vs {twice}");

    // A collector that is not there: failures counted with the reason, the node unharmed.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_tmp2, home2) = install_fixture("lab-2026.9");
    let lonely = start(&["--openclaw-dir", home2.to_str().unwrap(), "--otlp-export", &dead, "--otlp-interval", "1"]);
    let (e, _) = lonely.wait_for(Duration::from_secs(20), |n| {
        let e = n.get("/api/health")["otlpExport"].clone();
        (e["failures"].as_u64() >= Some(1)).then_some(e)
    });
    assert!(e["lastError"].as_str().unwrap().contains("/v1/metrics"), "{e}");
    assert!(same_totals(&totals(&lonely), &want));
}
