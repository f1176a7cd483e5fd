//! Budget auto-pause through a fake OpenClaw gateway (std TcpListener + tungstenite, written
//! here): over a limit the monitor calls `gateway.suspend.prepare` and renews the lease at every
//! check; under the limit again it calls `gateway.suspend.resume`; a manual resume keeps the
//! gateway running for the rest of the period.

use crate::common::start_with_gateway;
use crate::monitor_support::{lab, monitor_args, LAB_EVENING_MS};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tungstenite::{Message, WebSocket};

pub(crate) type Calls = Arc<Mutex<Vec<(String, Value)>>>;

fn send(ws: &mut WebSocket<TcpStream>, v: Value) {
    let _ = ws.send(Message::text(v.to_string()));
}

/// A gateway that accepts any client and answers the suspension methods and `sessions.abort`
/// (also used by guard.rs).
pub(crate) fn fake_gateway() -> (u16, Calls) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let calls: Calls = Arc::default();
    let c2 = calls.clone();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let calls = c2.clone();
            std::thread::spawn(move || {
                let Ok(mut ws) = tungstenite::accept(stream) else { return };
                send(
                    &mut ws,
                    json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n1","ts":LAB_EVENING_MS}}),
                );
                let connect: Value = loop {
                    match ws.read() {
                        Ok(Message::Text(t)) => break serde_json::from_str(t.as_str()).unwrap(),
                        Ok(_) => continue,
                        Err(_) => return,
                    }
                };
                send(
                    &mut ws,
                    json!({"type":"res","id":connect["id"],"ok":true,"payload":{"type":"hello-ok","protocol":4,
                    "server":{"version":"9.9.9-fake"},
                    "features":{"methods":["health","status","gateway.suspend.prepare","gateway.suspend.status","gateway.suspend.resume",
                        "sessions.abort","chat.abort"],"events":["tick"]},
                    "snapshot":{}, "auth":{"role":"operator","scopes":connect["params"]["scopes"]},
                    "policy":{"tickIntervalMs":30000}}}),
                );
                let _ = ws.get_mut().set_read_timeout(Some(Duration::from_millis(50)));
                loop {
                    match ws.read() {
                        Ok(Message::Text(t)) => {
                            let req: Value = serde_json::from_str(t.as_str()).unwrap();
                            let method = req["method"].as_str().unwrap_or("").to_string();
                            calls.lock().unwrap().push((method.clone(), req["params"].clone()));
                            let payload = match method.as_str() {
                                "gateway.suspend.prepare" => json!({"status":"ready","suspensionId":"susp-1",
                                    "expiresAtMs": LAB_EVENING_MS + 120_000, "activeCount":0, "blockers":[]}),
                                "gateway.suspend.resume" => json!({"ok":true}),
                                "sessions.abort" => json!({"ok":true,"abortedRunId":"run-1","status":"aborted"}),
                                "status" => json!({"runtimeVersion":"9.9.9-fake","pid":std::process::id()}),
                                _ => json!({}),
                            };
                            send(&mut ws, json!({"type":"res","id":req["id"],"ok":true,"payload":payload}));
                        }
                        Ok(Message::Close(_)) => return,
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e))
                            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (port, calls)
}

pub(crate) fn count(calls: &Calls, method: &str) -> usize {
    calls.lock().unwrap().iter().filter(|(m, _)| m == method).count()
}

#[test]
fn over_budget_suspends_the_gateway_and_resumes_it() {
    let (_tmp, home, data) = lab();
    let (port, calls) = fake_gateway();
    let url = format!("ws://127.0.0.1:{port}");
    let now = LAB_EVENING_MS.to_string();
    let mut args = monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now);
    args.extend(["--gateway-url", &url, "--gateway-token", "t"]);
    let s = start_with_gateway(&args);
    s.wait_for(Duration::from_secs(15), |s| (s.get("/api/gateway")["state"] == "connected").then_some(()));
    // Until the monitor's first health check ends the endpoint answers 503 ("still running").
    let (h, _) = s.wait_for(Duration::from_secs(15), |s| {
        let (status, h) = s.try_get_json("/api/system-health").ok()?;
        (status == 200 && h["gateway"]["connected"] == true).then_some(h)
    });
    assert_eq!(h["gateway"]["version"], "9.9.9-fake");
    assert!(
        h["gateway"]["uptimeSeconds"].as_f64().is_some(),
        "uptime of the pid the status RPC gave: {}",
        h["gateway"]
    );

    // $0.5966 spent today, limit $0.50, auto-pause on.
    s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.5, "autoPause": true}), 200);
    let (b, _) = s.wait_for(Duration::from_secs(10), |s| {
        let b = s.get("/api/budget");
        (b["pause"]["active"] == true).then_some(b)
    });
    assert_eq!(b["pause"]["suspensionId"], "susp-1");
    assert!(b["pause"]["reason"].as_str().unwrap().contains("daily budget of $0.50"), "{}", b["pause"]);
    let prepare = calls.lock().unwrap().iter().find(|(m, _)| m == "gateway.suspend.prepare").unwrap().1.clone();
    assert_eq!(prepare, json!({"requestId": "clawmetry-budget"}));
    let (paused, _) = s.wait_for(Duration::from_secs(5), |s| s.alerts_of("budget_paused").pop());
    assert_eq!(paused["severity"], "critical");
    // The lease is renewed at every check while over budget.
    let n = count(&calls, "gateway.suspend.prepare");
    s.wait_for(Duration::from_secs(10), |_| (count(&calls, "gateway.suspend.prepare") >= n + 2).then_some(()));
    assert_eq!(s.alerts_of("budget_paused").len(), 1, "one alert, not one per renewal");

    // The limit is raised: resumed by itself.
    s.send("PUT", "/api/budget", &json!({"dailyUsd": 5, "autoPause": true}), 200);
    s.wait_for(Duration::from_secs(10), |_| (count(&calls, "gateway.suspend.resume") == 1).then_some(()));
    let resume = calls.lock().unwrap().iter().find(|(m, _)| m == "gateway.suspend.resume").unwrap().1.clone();
    assert_eq!(resume, json!({"suspensionId": "susp-1"}));
    let (b, _) = s.wait_for(Duration::from_secs(5), |s| {
        let b = s.get("/api/budget");
        (b["pause"]["active"] == false).then_some(b)
    });
    assert!(b["pause"]["lastError"].is_null(), "{}", b["pause"]);
    s.wait_for(Duration::from_secs(5), |s| s.alerts_of("budget_resumed").pop());

    // Over again, then resumed by hand: no new pause for the rest of the day.
    s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.5, "autoPause": true}), 200);
    s.wait_for(Duration::from_secs(10), |s| (s.get("/api/budget")["pause"]["active"] == true).then_some(()));
    let r = s.send("POST", "/api/budget/resume", &json!({}), 200);
    assert_eq!(r["result"]["resumed"], true, "{r}");
    assert_eq!(r["pause"]["active"], false);
    assert_eq!(r["pause"]["overrideUntilMs"], 1_795_564_800_000i64);
    assert_eq!(count(&calls, "gateway.suspend.resume"), 2);
    std::thread::sleep(Duration::from_millis(300));
    let n = count(&calls, "gateway.suspend.prepare");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(&calls, "gateway.suspend.prepare"), n, "no pause after a manual resume");
    assert_eq!(s.get("/api/budget")["pause"]["active"], false);
}
