//! The OTLP receiver and the Prometheus endpoint, fed and read by clients nobody on this team
//! wrote: the official OpenTelemetry Python SDK (protobuf, gzip, and JSON via protobuf's own
//! JSON printer) and prometheus_client's text parser. A venv with pinned versions is made under
//! the target dir on first use; if it cannot be made, the tests fail.

use crate::common::{approx, install_fixture, start};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const PIP: &[&str] =
    &["opentelemetry-sdk==1.45.2", "opentelemetry-exporter-otlp-proto-http==1.45.2", "prometheus-client==0.26.0"];

pub fn venv_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("otel-venv");
        let py = dir.join("bin/python");
        let stamp = dir.join(".installed");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(&PIP.join(" ")) {
            let ok =
                Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir).status().is_ok_and(|s| s.success());
            assert!(ok, "cannot create a Python venv at {} (python3 -m venv)", dir.display());
            let out = Command::new(&py)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PIP)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pip install {PIP:?} failed; the OTLP tests need PyPI:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(&stamp, PIP.join(" ")).unwrap();
        }
        py
    })
    .clone()
}

pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel").join(name)
}

fn export(port: u16, args: &[&str]) -> Value {
    let out = Command::new(venv_python())
        .arg(script("export.py"))
        .arg(format!("http://127.0.0.1:{port}"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "export.py {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("{}")).unwrap()
}

/// A raw POST: (status, content type, body).
fn post(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("response head");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap();
    let ct = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .map(|l| l[13..].trim().to_string())
        .unwrap_or_default();
    (status, ct, buf[split + 4..].to_vec())
}

#[test]
fn genai_spans_and_metrics_from_the_python_sdk() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let before = server.get("/api/overview")["usage"]["total"].clone();

    // Protobuf, gzip-compressed protobuf and JSON: each sends one agent run of two chat calls.
    for mode in ["proto", "gzip", "json"] {
        let sent = export(server.port, &[mode]);
        if mode == "json" {
            assert_eq!(sent["status"], 200, "{sent}");
        }
        let s = server.get(&format!("/api/sessions/conv-otel-{mode}"));
        assert_eq!(s["kind"], "otlp", "{s}");
        assert_eq!(s["store"], "otlp");
        assert_eq!(s["assistantMessages"], 2, "the invoke_agent span is not a model call: {s}");
        assert_eq!(s["tokens"]["input"], 1700);
        assert_eq!(s["tokens"]["output"], 350);
        assert_eq!(s["tokens"]["cacheRead"], 100);
        // Priced from the embedded table: gpt-4o 2.5/10, claude-sonnet-4 3/15/0.3 per 1M tokens.
        assert!(
            approx(&s["cost"], 1200.0 * 2.5e-6 + 300.0 * 10e-6 + 500.0 * 3e-6 + 50.0 * 15e-6 + 100.0 * 0.3e-6),
            "{}",
            s["cost"]
        );
        // Chat spans carry no agent name (only their parent does): the service stands for it.
        assert_eq!(s["agent"], format!("genai-app-{mode}"));
    }
    let otlp = server.get("/api/otlp?limit=100");
    assert_eq!(otlp["services"]["genai-app-proto"]["spans"], 3);
    assert_eq!(otlp["services"]["genai-app-json"]["spans"], 3);
    let span = otlp["spans"].as_array().unwrap().iter().find(|s| s["service"] == "genai-app-json").unwrap();
    assert_eq!(span["traceId"].as_str().unwrap().len(), 32, "JSON ids (base64 from protobuf's printer) became hex");
    let parent = otlp["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "chat gpt-4o" && s["service"] == "genai-app-proto")
        .unwrap();
    assert_eq!(parent["parentSpanId"].as_str().unwrap().len(), 16, "chat spans hang under the agent span");

    // Metrics: cumulative histogram sums become increments (400 + 250 input, 100 output).
    export(server.port, &["metrics"]);
    let m = server.get("/api/sessions/otlp:metrics-app:metrics");
    assert_eq!(m["tokens"]["input"], 650, "{m}");
    assert_eq!(m["tokens"]["output"], 100);
    assert_eq!(m["model"], "openai/gpt-4o-mini");
    let otlp = server.get("/api/otlp");
    let names: Vec<&str> = otlp["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"gen_ai.client.token.usage") && names.contains(&"gen_ai.client.operation.duration"),
        "{names:?}"
    );

    // OpenClaw's own usage span for a session whose transcript is indexed: not counted twice.
    let main = "bdfa3cc5-508a-4896-9c98-ae502491d01e";
    let tokens_before = server.get(&format!("/api/sessions/{main}"))["tokens"].clone();
    export(server.port, &["dedupe", main]);
    assert_eq!(server.get(&format!("/api/sessions/{main}"))["tokens"], tokens_before);
    let after = server.get("/api/overview")["usage"]["total"].clone();
    let added = 3 * 1700 + 650;
    assert_eq!(after["input"].as_u64().unwrap(), before["input"].as_u64().unwrap() + added);
}

#[test]
fn otlp_status_codes_and_partial_success() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let (st, _, body) = post(server.port, "/v1/traces", "text/plain", b"hello");
    assert_eq!(st, 415, "{}", String::from_utf8_lossy(&body));
    let (st, ct, body) = post(server.port, "/v1/traces", "application/x-protobuf", b"\xff\xff\xff\xff");
    assert_eq!(st, 400);
    assert_eq!(ct, "application/x-protobuf", "errors use the request's encoding");
    assert!(String::from_utf8_lossy(&body).contains("OTLP"), "google.rpc.Status message");
    let (st, ct, body) = post(server.port, "/v1/metrics", "application/json", b"{\"resourceMetrics\": 5}");
    assert_eq!(st, 400);
    assert!(ct.starts_with("application/json"));
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["error"].is_string());
    // One valid span and one with a 3-byte trace id: 200 with partial success.
    let spans = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"p"}}]},
        "scopeSpans":[{"spans":[
          {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"ok","startTimeUnixNano":"1","endTimeUnixNano":"2"},
          {"traceId":"010203","spanId":"0102030405060708","name":"bad","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let (st, _, body) = post(server.port, "/v1/traces", "application/json", spans.as_bytes());
    assert_eq!(st, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], 1, "{v}");
    let (st, _, _) = post(server.port, "/v1/logs", "application/json", br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1795554370000000000","severityText":"WARN","body":{"stringValue":"disk 91%"}}]}]}]}"#);
    assert_eq!(st, 200);
    assert_eq!(server.get("/api/otlp")["logs"][0]["body"], "disk 91%");
    let big = vec![b'x'; 17 << 20];
    let (st, _, _) = post(server.port, "/v1/traces", "application/x-protobuf", &big);
    assert_eq!(st, 413);
    let (st, _, _) = server.get_raw("/v1/traces").unwrap();
    assert_eq!(st, 405);
}

#[test]
fn prometheus_text_parses_with_prometheus_client() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let (st, head, body) = server.get_raw("/metrics").unwrap();
    assert_eq!(st, 200);
    assert!(head.contains("text/plain; version=0.0.4"));
    let mut child = Command::new(venv_python())
        .arg(script("parse_prom.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "prometheus_client rejected the output:\n{}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(
        find("clawmetry_tokens_total", &[("model", "fakellm/fake-model"), ("agent", "main"), ("kind", "input")]),
        130_733.0
    );
    assert_eq!(find("clawmetry_tokens_total", &[("agent", "ops"), ("kind", "cache_read")]), 60_800.0);
    assert!((find("clawmetry_cost_usd_total", &[("agent", "main")]) - 0.5162046).abs() < 1e-6);
    assert_eq!(find("clawmetry_model_calls_total", &[("agent", "ops")]), 3.0);
    assert_eq!(find("clawmetry_sessions", &[("agent", "main"), ("kind", "subagent"), ("status", "done")]), 2.0);
    assert_eq!(find("clawmetry_index_ready", &[]), 1.0);
    let fam = samples.iter().find(|s| s["name"] == "clawmetry_tokens_total").unwrap();
    assert_eq!(fam["type"], "counter");
}
