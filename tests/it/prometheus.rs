//! `/metrics` scraped by a real Prometheus (Debian's `prometheus` 2.42 with its `promtool`),
//! with the shipped alert rules and Grafana dashboard (issue 18, items 1 and 2):
//! - `promtool check metrics` passes on the exposition; `promtool check rules` and `promtool
//!   test rules` pass on `contrib/prometheus/`;
//! - Prometheus scrapes clawmetry with a bearer token read from a file, and holds every metric
//!   family of the exposition with the same series; the usage, sessions, budget, cron and
//!   activity figures it holds equal clawmetry's own API's;
//! - the rules load healthy and the budget warning rule catches a budget at 85 %;
//! - every PromQL expression of `contrib/grafana/clawmetry.json` returns data.
//!
//! A machine without `prometheus` fails this test (`make deps` installs it), never skips it.

use crate::common::{free_port, http_request, install_fixture, root, start_exact, urlencode, Server, TempDir};
use crate::monitor_support::LAB_EVENING_MS;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "prometheus-scrape-token-0123456789abcdef";

fn tool(name: &str) -> String {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: apt-get install prometheus (make deps installs it); this test does not skip"
    );
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

fn api(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let body = body.map(|b| b.to_string().into_bytes());
    let (st, _, b) = s
        .request(method, path, &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_deref())
        .unwrap();
    assert!((200..300).contains(&st), "{method} {path}: {st} {}", String::from_utf8_lossy(&b));
    serde_json::from_slice(&b).unwrap_or(Value::Null)
}

fn metrics(s: &Server) -> String {
    let auth = format!("Bearer {TOKEN}");
    let (st, _, b) = s.request("GET", "/metrics", &[("Authorization", &auth)], None).unwrap();
    assert_eq!(st, 200);
    String::from_utf8(b).unwrap()
}

struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn get(&self, path: &str) -> Value {
        let (st, _, b) = http_request(self.port, "GET", path, &[], None).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(st, 200, "{path}: {v}");
        v
    }

    /// An instant query's result vector.
    fn query(&self, q: &str) -> Vec<Value> {
        let v = self.get(&format!("/api/v1/query?query={}", urlencode(q)));
        assert_eq!(v["status"], "success", "{q}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The one value of a query that must give one series.
    fn value(&self, q: &str) -> f64 {
        let r = self.query(q);
        assert_eq!(r.len(), 1, "{q}: {r:?}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    }
}

/// A series: its name and labels.
type Series = (String, BTreeMap<String, String>);

/// Every sample of an exposition (series → value), and the families it declares.
fn parse(text: &str) -> (BTreeMap<Series, f64>, BTreeSet<String>) {
    let mut samples = BTreeMap::new();
    let mut families = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Values here have no `",` inside (names of models, agents, jobs, paths).
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap();
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        samples.insert((name.to_string(), map), value.parse().unwrap());
    }
    (samples, families)
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{what}: Prometheus {a} vs clawmetry {b}");
}

#[test]
fn a_real_prometheus_scrapes_every_family_and_the_shipped_rules_and_dashboard_work() {
    let prometheus = tool("prometheus");
    let promtool = tool("promtool");
    let contrib = root().join("contrib");

    // The shipped rules: valid, and their own unit tests pass.
    for args in [vec!["check", "rules", "clawmetry-rules.yml"], vec!["test", "rules", "clawmetry-rules.test.yml"]] {
        let out = Command::new(&promtool).args(&args).current_dir(contrib.join("prometheus")).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // clawmetry on the lab's evening (its $0.5966 spent today), with a token, a daily budget of
    // $0.70 (85 %), checks every second.
    let (tmp, home) = install_fixture("lab-2026.9");
    let data = tmp.path().join("data");
    let now = LAB_EVENING_MS.to_string();
    let s = start_exact(&[
        "--openclaw-dir",
        home.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--token",
        TOKEN,
        "--fake-now-ms",
        &now,
        "--monitor-interval",
        "1",
    ]);
    api(&s, "PUT", "/api/budget", Some(&json!({"dailyUsd": 0.7})));
    let t0 = Instant::now();
    while api(&s, "GET", "/api/budget", None)["status"]["limits"].as_array().is_none_or(Vec::is_empty) {
        assert!(t0.elapsed() < Duration::from_secs(20), "the budget was never checked");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The exposition passes promtool's lint.
    let text = metrics(&s);
    let mut lint = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(lint.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Prometheus: scrape every second with the token from a file, the shipped rules loaded.
    let dir = TempDir::new("prometheus");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\nscrape_configs:\n  - job_name: clawmetry\n    authorization:\n      type: Bearer\n      credentials_file: {token}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            rules = contrib.join("prometheus/clawmetry-rules.yml").display(),
            token = token_file.display(),
            port = s.port
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let p = Prometheus { child, port };
    let log = || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    let t0 = Instant::now();
    // Three scrapes at least, so that rate() and increase() have points.
    loop {
        let ok = http_request(port, "GET", "/-/ready", &[], None).is_ok_and(|r| r.0 == 200)
            && p.query("count_over_time(up{job=\"clawmetry\"}[1m])")
                .first()
                .is_some_and(|r| r["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) >= 3.0);
        if ok {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "Prometheus did not scrape clawmetry:\n{}", log());
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(p.value("up{job=\"clawmetry\"}"), 1.0, "{}", log());

    // Every family and every series of the exposition is in Prometheus.
    let (samples, families) = parse(&metrics(&s));
    assert!(families.len() >= 35, "{families:?}");
    for f in &families {
        let want: BTreeSet<&BTreeMap<String, String>> =
            samples.keys().filter(|(n, _)| n == f).map(|(_, l)| l).collect();
        let got: BTreeSet<BTreeMap<String, String>> = p
            .query(&format!("{f}{{job=\"clawmetry\"}}"))
            .iter()
            .map(|r| {
                r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !["__name__", "job", "instance"].contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .collect();
        assert_eq!(got.iter().collect::<BTreeSet<_>>(), want, "{f}");
    }
    for must in [
        "clawmetry_tokens_total",
        "clawmetry_cost_usd_total",
        "clawmetry_sessions",
        "clawmetry_budget_used_ratio",
        "clawmetry_cron_failures_in_row",
        "clawmetry_last_activity_timestamp_seconds",
        "clawmetry_gateway_up",
        "clawmetry_host_memory_used_percent",
        "clawmetry_month_cost_by_trigger_usd",
    ] {
        assert!(samples.keys().any(|(n, _)| n == must), "{must} has no sample");
    }

    // What Prometheus holds equals clawmetry's own API.
    let ov = api(&s, "GET", "/api/overview", None);
    let total = &ov["usage"]["total"];
    close(p.value("sum(clawmetry_cost_usd_total)"), total["cost"].as_f64().unwrap(), "cost");
    close(p.value("sum(clawmetry_tokens_total)"), total["totalTokens"].as_f64().unwrap(), "tokens");
    close(p.value("sum(clawmetry_model_calls_total)"), total["calls"].as_f64().unwrap(), "model calls");
    close(p.value("sum(clawmetry_sessions)"), ov["sessions"]["total"].as_f64().unwrap(), "sessions");
    let sessions = api(&s, "GET", "/api/sessions?limit=500", None);
    let rows = sessions["sessions"].as_array().unwrap();
    let errors: f64 = rows.iter().map(|r| r["errors"].as_f64().unwrap()).sum();
    close(p.value("sum(clawmetry_errors_total)"), errors, "errors");
    let last_main =
        rows.iter().filter(|r| r["agent"] == "main").filter_map(|r| r["lastMs"].as_f64()).fold(0.0, f64::max);
    close(p.value("clawmetry_last_activity_timestamp_seconds{agent=\"main\"}"), last_main / 1000.0, "last activity");
    let b = api(&s, "GET", "/api/budget", None);
    let day = b["status"]["limits"].as_array().unwrap().iter().find(|l| l["period"] == "daily").unwrap().clone();
    close(
        p.value("clawmetry_budget_used_ratio{period=\"daily\",agent=\"all\"}"),
        day["spentUsd"].as_f64().unwrap() / day["limitUsd"].as_f64().unwrap(),
        "budget",
    );
    let crons = api(&s, "GET", "/api/crons", None);
    for j in crons["jobs"].as_array().unwrap() {
        let q = format!("clawmetry_cron_failures_in_row{{cron_job=\"{}\"}}", j["name"].as_str().unwrap());
        close(p.value(&q), j["health"]["failuresInRow"].as_f64().unwrap(), &q);
    }
    close(p.value("clawmetry_gateway_connected"), 0.0, "no gateway client (--no-gateway)");

    // The rules: loaded and healthy; the budget at 85 % makes ClawmetryBudgetWarning pending
    // (its `for: 1m` not over yet) or firing.
    let rules = p.get("/api/v1/rules");
    let loaded: Vec<&Value> =
        rules["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    assert_eq!(loaded.len(), 7, "{rules}");
    assert!(loaded.iter().all(|r| r["health"] == "ok"), "{rules}");
    let t0 = Instant::now();
    loop {
        let alerts = p.get("/api/v1/alerts");
        let hit = alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == "ClawmetryBudgetWarning" && a["labels"]["period"] == "daily");
        if hit {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no budget warning: {alerts}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The dashboard: every expression returns data from this Prometheus.
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(contrib.join("grafana/clawmetry.json")).unwrap()).unwrap();
    let mut n = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap().replace("$instance", ".*");
            let r = p.query(&expr);
            assert!(!r.is_empty(), "panel {:?}: no data for {expr}", panel["title"]);
            n += 1;
        }
    }
    assert!(n >= 20, "{n} expressions");
}
