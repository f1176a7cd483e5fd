//! Fleet mode with real processes on loopback: one central clawmetry and three nodes (one with
//! a wrong key). Checks registration, summaries and totals, refusal of the wrong key, a node
//! killed and marked offline, a central restart that keeps its nodes, and queued reports sent
//! after the central was down.

mod common;

use common::{install_fixture, TempDir};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    port: u16,
    stderr: std::path::PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str], key: &str, tag: &str) -> Proc {
    let stderr = std::env::temp_dir().join(format!("clawmetry-fleet-{tag}-{}.log", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["--host", "127.0.0.1", "--no-gateway", "--no-auth"])
        .args(args)
        .env("CLAWMETRY_FLEET_KEY", key)
        .env("HOME", std::env::temp_dir().join("clawmetry-test-no-home"))
        .env_remove("OPENCLAW_STATE_DIR")
        .env_remove("OPENCLAW_HOME")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let port = first.rsplit(':').next().unwrap().trim().parse().unwrap();
    Proc { child, port, stderr }
}

fn get(port: u16, path: &str) -> Option<Value> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    serde_json::from_slice(&buf[split + 4..]).ok()
}

#[track_caller]
fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node<'a>(nodes: &'a Value, name: &str) -> Option<&'a Value> {
    nodes["nodes"].as_array()?.iter().find(|n| n["name"] == name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn central_and_nodes_on_loopback() {
    let tmp = TempDir::new("fleet");
    let central_dir = tmp.path().join("central");
    let port = free_port().to_string();
    let missing = tmp.path().join("no-openclaw");
    let central_args =
        ["--port", &port, "--openclaw-dir", missing.to_str().unwrap(), "--data-dir", central_dir.to_str().unwrap()];
    let mut central = spawn(&central_args, "k-fleet-1", "central");
    let url = format!("http://127.0.0.1:{}", central.port);

    let (_a, home_a) = install_fixture("lab-2026.9");
    let (_b, home_b) = install_fixture("legacy-2026.3");
    let node_args = |home: &std::path::Path, name: &str, data: &str| -> Vec<String> {
        [
            "--port",
            "0",
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
    let a = spawn(&a_args.iter().map(String::as_str).collect::<Vec<_>>(), "k-fleet-1", "a");
    let b_args = node_args(&home_b, "pi-b", "b");
    let b = spawn(&b_args.iter().map(String::as_str).collect::<Vec<_>>(), "k-fleet-1", "b");
    let c_args = node_args(&home_b, "intruder", "c");
    let c = spawn(&c_args.iter().map(String::as_str).collect::<Vec<_>>(), "wrong-key", "c");

    let nodes = wait("two nodes online with summaries", 30, || {
        let v = get(central.port, "/api/nodes")?;
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
    let c_log = wait("the wrong key refused", 10, || {
        let t = std::fs::read_to_string(&c.stderr).ok()?;
        t.contains("HTTP 401").then_some(t)
    });
    assert!(c_log.contains("fleet key"), "{c_log}");
    drop(c);

    // A node killed: offline after three missed reports (interval 1 s).
    drop(b);
    wait("pi-b offline", 15, || {
        let v = get(central.port, "/api/nodes")?;
        (node(&v, "pi-b")?["status"] == "offline").then_some(())
    });

    // The central restarts on the same port and still knows both nodes; pi-a's reports
    // queued while it was down arrive (its report count jumps by the queue).
    let reports_before = node(&get(central.port, "/api/nodes").unwrap(), "pi-a").unwrap()["reports"].as_u64().unwrap();
    drop(central);
    std::thread::sleep(Duration::from_secs(4));
    central = spawn(&central_args, "k-fleet-1", "central2");
    let first = get(central.port, "/api/nodes").unwrap();
    assert!(node(&first, "pi-b").is_some(), "nodes were lost across the restart: {first}");
    let caught_up = wait("pi-a's queued reports", 20, || {
        let v = get(central.port, "/api/nodes")?;
        let n = node(&v, "pi-a")?;
        (n["reports"].as_u64()? >= reports_before + 4 && n["status"] == "online").then_some(v)
    });
    assert_eq!(node(&caught_up, "pi-b").unwrap()["status"], "offline");
    drop(a);
    let log = std::fs::read_to_string(&central.stderr).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn fleet_endpoints_refuse_without_the_key() {
    let tmp = TempDir::new("fleet-off");
    let missing = tmp.path().join("none");
    let off = spawn(&["--port", "0", "--openclaw-dir", missing.to_str().unwrap()], "", "off");
    let post = |port: u16, key: Option<&str>| -> u16 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = br#"{"nodeId":"n1","name":"x"}"#;
        let key = key.map(|k| format!("X-Clawmetry-Fleet-Key: {k}\r\n")).unwrap_or_default();
        write!(s, "POST /api/nodes/register HTTP/1.0\r\nHost: x\r\n{key}Content-Length: {}\r\n\r\n", body.len())
            .unwrap();
        s.write_all(body).unwrap();
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(post(off.port, Some("anything")), 403, "fleet mode off: registration refused");
    let on = spawn(
        &[
            "--port",
            "0",
            "--openclaw-dir",
            missing.to_str().unwrap(),
            "--data-dir",
            tmp.path().join("d").to_str().unwrap(),
        ],
        "sekret",
        "on",
    );
    assert_eq!(post(on.port, None), 401);
    assert_eq!(post(on.port, Some("sekreT")), 401);
    assert_eq!(post(on.port, Some("sekret")), 200);
    let v = get(on.port, "/api/nodes").unwrap();
    assert_eq!(v["nodes"][0]["nodeId"], "n1");
    assert!(tmp.path().join("d/fleet-nodes.json").is_file());
}
