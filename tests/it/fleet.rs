//! Fleet mode with real processes on loopback: one central clawmetry and three nodes (one with
//! a wrong key). Checks registration, summaries and totals, refusal of the wrong key, a node
//! killed and marked offline, a central restart that keeps its nodes, and queued reports sent
//! after the central was down.

use crate::common::{free_port, install_fixture, start_env, Server, TempDir};
use serde_json::Value;
use std::time::Duration;

/// A clawmetry with `CLAWMETRY_FLEET_KEY=key` (args may set their own `--port` and `--data-dir`).
fn spawn(args: &[&str], key: &str) -> Server {
    start_env(args, &[("CLAWMETRY_FLEET_KEY", key)])
}

/// `/api/nodes` (None while the server is down).
fn list_nodes(s: &Server) -> Option<Value> {
    s.try_get_json("/api/nodes").ok().map(|(_, v)| v)
}

fn node<'a>(nodes: &'a Value, name: &str) -> Option<&'a Value> {
    nodes["nodes"].as_array()?.iter().find(|n| n["name"] == name)
}

#[test]
fn central_and_nodes_on_loopback() {
    let tmp = TempDir::new("fleet");
    let central_dir = tmp.path().join("central");
    let port = free_port().to_string();
    let missing = tmp.path().join("no-openclaw");
    let central_args =
        ["--port", &port, "--openclaw-dir", missing.to_str().unwrap(), "--data-dir", central_dir.to_str().unwrap()];
    let mut central = spawn(&central_args, "k-fleet-1");
    let url = format!("http://127.0.0.1:{}", central.port);

    let (_a, home_a) = install_fixture("lab-2026.9");
    let (_b, home_b) = install_fixture("legacy-2026.3");
    let node_args = |home: &std::path::Path, name: &str, data: &str| -> Vec<String> {
        [
            "--openclaw-dir",
            home.to_str().unwrap(),
            "--fleet-server",
            &url,
            "--fleet-interval",
            "1",
            "--node-name",
            name,
            "--data-dir",
            tmp.path().join(data).to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a_args = node_args(&home_a, "pi-a", "a");
    let a = spawn(&a_args.iter().map(String::as_str).collect::<Vec<_>>(), "k-fleet-1");
    let b_args = node_args(&home_b, "pi-b", "b");
    let b = spawn(&b_args.iter().map(String::as_str).collect::<Vec<_>>(), "k-fleet-1");
    let c_args = node_args(&home_b, "intruder", "c");
    let c = spawn(&c_args.iter().map(String::as_str).collect::<Vec<_>>(), "wrong-key");

    // Two nodes online with summaries.
    let (nodes, _) = central.wait_for(Duration::from_secs(30), |s| {
        let v = list_nodes(s)?;
        let ok = ["pi-a", "pi-b"].iter().all(|n| {
            node(&v, n).is_some_and(|x| x["status"] == "online" && x["summary"]["sessions"]["total"].as_u64().is_some())
        });
        ok.then_some(v)
    });
    assert_eq!(node(&nodes, "pi-a").unwrap()["summary"]["sessions"]["total"], 5);
    assert_eq!(node(&nodes, "pi-b").unwrap()["summary"]["sessions"]["total"], 9);
    assert_eq!(node(&nodes, "pi-a").unwrap()["openclawVersion"], "2026.9.6");
    assert_eq!(nodes["totals"]["sessions"], 14);
    assert_eq!(nodes["totals"]["online"], 2);
    assert!(node(&nodes, "intruder").is_none(), "a node with the wrong key was accepted");
    // The wrong key refused.
    let (c_log, _) = c.wait_for(Duration::from_secs(10), |c| {
        let t = c.stderr();
        t.contains("HTTP 401").then_some(t)
    });
    assert!(c_log.contains("fleet key"), "{c_log}");
    drop(c);

    // A node killed: offline after three missed reports (interval 1 s).
    drop(b);
    central.wait_for(Duration::from_secs(15), |s| {
        let v = list_nodes(s)?;
        (node(&v, "pi-b")?["status"] == "offline").then_some(())
    });

    // The central restarts on the same port and still knows both nodes; pi-a's reports
    // queued while it was down arrive (its report count jumps by the queue).
    let reports_before = node(&central.get("/api/nodes"), "pi-a").unwrap()["reports"].as_u64().unwrap();
    drop(central);
    std::thread::sleep(Duration::from_secs(4));
    central = spawn(&central_args, "k-fleet-1");
    let first = central.get("/api/nodes");
    assert!(node(&first, "pi-b").is_some(), "nodes were lost across the restart: {first}");
    // pi-a's queued reports.
    let (caught_up, _) = central.wait_for(Duration::from_secs(20), |s| {
        let v = list_nodes(s)?;
        let n = node(&v, "pi-a")?;
        (n["reports"].as_u64()? >= reports_before + 4 && n["status"] == "online").then_some(v)
    });
    assert_eq!(node(&caught_up, "pi-b").unwrap()["status"], "offline");
    drop(a);
    let log = central.stderr();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn fleet_endpoints_refuse_without_the_key() {
    let tmp = TempDir::new("fleet-off");
    let missing = tmp.path().join("none");
    let off = spawn(&["--openclaw-dir", missing.to_str().unwrap()], "");
    let post = |s: &Server, key: Option<&str>| -> u16 {
        let headers: Vec<(&str, &str)> = key.map(|k| ("X-Clawmetry-Fleet-Key", k)).into_iter().collect();
        s.request("POST", "/api/nodes/register", &headers, Some(br#"{"nodeId":"n1","name":"x"}"#)).unwrap().0
    };
    assert_eq!(post(&off, Some("anything")), 403, "fleet mode off: registration refused");
    let on = spawn(
        &["--openclaw-dir", missing.to_str().unwrap(), "--data-dir", tmp.path().join("d").to_str().unwrap()],
        "sekret",
    );
    assert_eq!(post(&on, None), 401);
    assert_eq!(post(&on, Some("sekreT")), 401);
    assert_eq!(post(&on, Some("sekret")), 200);
    let v = on.get("/api/nodes");
    assert_eq!(v["nodes"][0]["nodeId"], "n1");
    assert!(tmp.path().join("d/fleet-nodes.json").is_file());
}

#[test]
fn the_node_store_is_bounded_private_and_its_totals_sane() {
    let tmp = TempDir::new("fleet-bounds");
    let missing = tmp.path().join("none");
    let data = tmp.path().join("d");
    let on = spawn(&["--openclaw-dir", missing.to_str().unwrap(), "--data-dir", data.to_str().unwrap()], "sekret");
    let key = [("X-Clawmetry-Fleet-Key", "sekret")];
    let register = |id: &str| -> u16 {
        let body = format!(r#"{{"nodeId":"{id}","name":"{id}"}}"#);
        on.request("POST", "/api/nodes/register", &key, Some(body.as_bytes())).unwrap().0
    };
    for i in 0..256 {
        assert_eq!(register(&format!("n{i}")), 200, "node {i}");
    }
    assert_eq!(register("one-too-many"), 409, "past 256 nodes a new one is refused");
    assert_eq!(register("n7"), 200, "a known node registers again");
    let file = data.join("fleet-nodes.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "fleet-nodes.json is the owner's only: {mode:o}");
    // Absurd figures from two nodes: the totals saturate, a cost of 1e308 is not taken.
    for id in ["n1", "n2"] {
        let body = format!(
            r#"{{"nodeId":"{id}","atMs":1,"sessions":{{"total":18446744073709551615}},"today":{{"totalTokens":18446744073709551615,"cost":1e308}}}}"#
        );
        assert_eq!(on.request("POST", "/api/nodes/report", &key, Some(body.as_bytes())).unwrap().0, 200);
    }
    let t = &on.get("/api/nodes")["totals"];
    assert_eq!(t["tokensToday"], u64::MAX, "{t}");
    assert_eq!(t["sessions"], u64::MAX, "{t}");
    assert_eq!(t["costToday"], 0.0, "{t}");
}

/// A GET with the central's dashboard token.
fn get_with(s: &Server, token: &str, path: &str) -> Option<Value> {
    let auth = format!("Bearer {token}");
    let (st, _, b) = s.request("GET", path, &[("Authorization", &auth)], None).ok()?;
    (st == 200).then(|| serde_json::from_slice(&b).ok()).flatten()
}

#[test]
fn fleet_over_otlp_beside_the_json_reports() {
    // A central with a dashboard token: an OTLP node gets in with the fleet key alone.
    let tmp = TempDir::new("fleet-otlp");
    let missing = tmp.path().join("no-openclaw");
    let token = "central-dashboard-token-0123456789";
    let central = crate::common::start_exact_env(
        &["--openclaw-dir", missing.to_str().unwrap(), "--token", token],
        &[("CLAWMETRY_FLEET_KEY", "k-otlp")],
    );
    let url = format!("http://127.0.0.1:{}", central.port);
    let (_a, home_a) = install_fixture("lab-2026.9");
    let (_b, home_b) = install_fixture("legacy-2026.3");
    let start_node = |home: &std::path::Path, name: &str, wire: &str, key: &str| {
        let data = tmp.path().join(name);
        spawn(
            &[
                "--openclaw-dir",
                home.to_str().unwrap(),
                "--fleet-server",
                &url,
                "--fleet-wire",
                wire,
                "--fleet-interval",
                "1",
                "--node-name",
                name,
                "--data-dir",
                data.to_str().unwrap(),
            ],
            key,
        )
    };
    let otlp_node = start_node(&home_a, "pi-otlp", "otlp", "k-otlp");
    let json_node = start_node(&home_b, "pi-json", "json", "k-otlp");
    let intruder = start_node(&home_b, "intruder", "otlp", "wrong-key");

    let (nodes, _) = central.wait_for(Duration::from_secs(30), |s| {
        let v = get_with(s, token, "/api/nodes")?;
        let ok = ["pi-otlp", "pi-json"].iter().all(|n| node(&v, n).is_some_and(|x| x["status"] == "online"));
        ok.then_some(v)
    });
    let o = node(&nodes, "pi-otlp").unwrap();
    assert_eq!(o["summary"]["via"], "otlp");
    assert_eq!(o["summary"]["sessions"]["total"], 5);
    assert_eq!(o["openclawVersion"], "2026.9.6");
    assert!(node(&nodes, "pi-json").unwrap()["summary"]["via"].is_null());
    assert_eq!(nodes["totals"]["sessions"], 14);
    assert!(node(&nodes, "intruder").is_none(), "a wrong key was accepted: {nodes}");
    let (err, _) = intruder.wait_for(Duration::from_secs(15), |n| {
        let f = n.get("/api/health")["fleetOtlp"].clone();
        f["lastError"].as_str().filter(|e| e.contains("401")).map(str::to_string)
    });
    assert!(err.contains("/v1/metrics"), "{err}");
    // The OTLP node's usage is in the central's own totals (cross-node totals and budgets).
    let want = otlp_node.get("/api/overview")["usage"]["total"].clone();
    central.wait_for(Duration::from_secs(20), |s| {
        let got = get_with(s, token, "/api/overview")?["usage"]["total"].clone();
        (got["totalTokens"] == want["totalTokens"]
            && (got["cost"].as_f64()? - want["cost"].as_f64()?).abs() < 1e-9
            && got["calls"] == want["calls"])
            .then_some(())
    });
    // Stopped: offline after three missed exports.
    drop(otlp_node);
    central.wait_for(Duration::from_secs(15), |s| {
        let v = get_with(s, token, "/api/nodes")?;
        (node(&v, "pi-otlp")?["status"] == "offline").then_some(())
    });
    drop(json_node);
}
