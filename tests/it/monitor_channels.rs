//! Alert channels against local fakes written here with std's TcpListener: the Telegram Bot API,
//! a webhook receiver (checking the HMAC-SHA256 signature independently) and an SMTP server.
//! Covers the test message, a real budget alert, retries, permanent failures, and that a
//! failure is recorded in the alert log with the reason.

use crate::common::{self, start};
use crate::monitor_support::{lab, monitor_args, LAB_EVENING_MS};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct HttpReq {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A one-request-per-connection HTTP server answering from a queue (the last answer repeats).
struct FakeHttp {
    port: u16,
    seen: Arc<Mutex<Vec<HttpReq>>>,
}

fn fake_http(answers: Vec<(u16, &str)>) -> FakeHttp {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let queue: Arc<Mutex<VecDeque<(u16, String)>>> =
        Arc::new(Mutex::new(answers.into_iter().map(|(s, b)| (s, b.to_string())).collect()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { continue };
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            let n: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; n];
            r.read_exact(&mut body).unwrap();
            s2.lock().unwrap().push(HttpReq { path, headers, body });
            let (status, text) = {
                let mut q = queue.lock().unwrap();
                if q.len() > 1 {
                    q.pop_front().unwrap()
                } else {
                    q.front().cloned().unwrap()
                }
            };
            let mut c = c;
            let _ = write!(
                c,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    FakeHttp { port, seen }
}

impl FakeHttp {
    fn seen(&self) -> Vec<HttpReq> {
        self.seen.lock().unwrap().clone()
    }
}

/// What the fake SMTP server does.
#[derive(Clone, Copy)]
struct SmtpScript {
    starttls: bool,
    rcpt_code: u16,
}

/// One SMTP session: the commands received and the message after DATA.
type SmtpSession = (Vec<String>, String);

/// An SMTP server keeping each session's commands and message.
struct FakeSmtp {
    port: u16,
    sessions: Arc<Mutex<Vec<SmtpSession>>>,
}

fn fake_smtp(script: SmtpScript) -> FakeSmtp {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let s2 = sessions.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut w = c.try_clone().unwrap();
            let mut r = BufReader::new(c);
            let mut cmds = Vec::new();
            let mut msg = String::new();
            let _ = w.write_all(b"220 fake.smtp ESMTP ready\r\n");
            let mut auth_login = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                cmds.push(cmd.clone());
                let up = cmd.to_ascii_uppercase();
                let reply: String = if auth_login == 1 {
                    auth_login = 2;
                    "334 UGFzc3dvcmQ6".into()
                } else if auth_login == 2 {
                    auth_login = 0;
                    "235 ok".into()
                } else if up.starts_with("EHLO") {
                    format!(
                        "250-fake.smtp\r\n{}250-AUTH PLAIN LOGIN\r\n250 8BITMIME",
                        if script.starttls { "250-STARTTLS\r\n" } else { "" }
                    )
                } else if up.starts_with("AUTH PLAIN") {
                    "235 2.7.0 Authentication successful".into()
                } else if up == "AUTH LOGIN" {
                    auth_login = 1;
                    "334 VXNlcm5hbWU6".into()
                } else if up.starts_with("MAIL FROM") {
                    "250 ok".into()
                } else if up.starts_with("RCPT TO") {
                    format!("{} rcpt", script.rcpt_code)
                } else if up == "DATA" {
                    let _ = w.write_all(b"354 go ahead\r\n");
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                            break;
                        }
                        msg.push_str(&l);
                    }
                    "250 queued".into()
                } else if up == "QUIT" {
                    let _ = w.write_all(b"221 bye\r\n");
                    break;
                } else if up == "STARTTLS" {
                    "454 TLS not available".into()
                } else {
                    "502 unknown".into()
                };
                let _ = w.write_all(format!("{reply}\r\n").as_bytes());
            }
            s2.lock().unwrap().push((cmds, msg));
        }
    });
    FakeSmtp { port, sessions }
}

impl FakeSmtp {
    fn sessions(&self) -> Vec<SmtpSession> {
        self.sessions.lock().unwrap().clone()
    }
}

/// HMAC-SHA256 written again here, so the signature is checked independently of src/alerts.rs.
fn hmac(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = key.to_vec();
    k.resize(64, 0);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(msg).finalize();
    let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() { T[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

const TOKEN: &str = "123456:TESTTOKEN-abcdefghijklmnop";

fn server(tg: &FakeHttp, data: &std::path::Path, home: &std::path::Path) -> common::Server {
    let base = format!("http://127.0.0.1:{}", tg.port);
    let now = LAB_EVENING_MS.to_string();
    let mut args = monitor_args(home.to_str().unwrap(), data.to_str().unwrap(), &now);
    args.extend(["--telegram-api-base", &base, "--alert-retry-secs", "0"]);
    start(&args)
}

fn channels(hook: u16, smtp: u16, security: &str) -> Value {
    json!({
        "telegram": {"botToken": TOKEN, "chatId": "-100777"},
        "webhook": {"url": format!("http://127.0.0.1:{hook}/alerts"), "secret": "whsec"},
        "email": {"host": "127.0.0.1", "port": smtp, "security": security, "username": "bot", "password": "pw",
                  "from": "clawmetry@example.com", "to": ["ops@example.com", "me@example.com"]},
    })
}

#[test]
fn telegram_webhook_and_email_reach_local_fakes() {
    let (_tmp, home, data) = lab();
    let tg = fake_http(vec![(200, r#"{"ok":true,"result":{"message_id":1}}"#)]);
    let hook = fake_http(vec![(204, "")]);
    let smtp = fake_smtp(SmtpScript { starttls: false, rcpt_code: 250 });
    let s = server(&tg, &data, &home);

    let (st, e) = s.call("POST", "/api/alerts/test", Some(&json!({})));
    assert_eq!(st, 400, "no channel yet: {e}");
    let v = s.send("PUT", "/api/alerts/channels", &channels(hook.port, smtp.port, "none"), 200);
    let text = s.get("/api/alerts/channels").to_string() + &v.to_string();
    for secret in [TOKEN, "whsec", "\"pw\""] {
        assert!(!text.contains(secret), "{secret} returned by the API: {text}");
    }
    assert_eq!(v["channels"]["email"]["passwordSet"], true);

    let r = s.send("POST", "/api/alerts/test", &json!({}), 200);
    assert_eq!(r["ok"], true, "{r}");
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|d| d["ok"] == true && d["attempts"] == 1), "{r}");

    let t = &tg.seen()[0];
    assert_eq!(t.path, format!("/bot{TOKEN}/sendMessage"));
    let body: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(body["chat_id"], "-100777");
    assert!(body["text"].as_str().unwrap().contains("Test message from clawmetry"), "{body}");

    let h = &hook.seen()[0];
    assert_eq!(h.path, "/alerts");
    assert_eq!(h.headers["content-type"], "application/json");
    assert_eq!(h.headers["x-clawmetry-signature-256"], format!("sha256={}", hmac(b"whsec", &h.body)));
    let body: Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!((body["kind"].as_str(), body["test"].as_bool()), (Some("test"), Some(true)));
    assert_eq!(body["atMs"], LAB_EVENING_MS);

    let (cmds, msg) = &smtp.sessions()[0];
    assert!(cmds[0].starts_with("EHLO "), "{cmds:?}");
    assert_eq!(cmds[1], format!("AUTH PLAIN {}", b64("\0bot\0pw")));
    assert_eq!(cmds[2], "MAIL FROM:<clawmetry@example.com>");
    assert_eq!(&cmds[3..5], ["RCPT TO:<ops@example.com>", "RCPT TO:<me@example.com>"]);
    assert!(msg.contains("Subject: [clawmetry] Test message from clawmetry\r\n"), "{msg}");
    assert!(msg.contains("To: ops@example.com, me@example.com\r\n"));
    assert!(msg.contains("Date: Tue, 24 Nov 2026 22:00:00 +0000\r\n"));
    assert_eq!(cmds.last().unwrap(), "QUIT");

    // One channel only.
    let r = s.send("POST", "/api/alerts/test?channel=webhook", &json!({}), 200);
    assert_eq!(r["results"].as_array().unwrap().len(), 1);
    assert_eq!((tg.seen().len(), hook.seen().len(), smtp.sessions().len()), (1, 2, 1));

    // A real alert: $0.5966 spent today against a $0.50 limit.
    s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.5}), 200);
    let (a, _) = s.wait_for(Duration::from_secs(15), |s| {
        s.alerts_of("budget_exceeded").pop().filter(|a| a["status"] != "pending")
    });
    assert_eq!(a["status"], "sent", "{a}");
    let d = a["deliveries"].as_array().unwrap();
    assert_eq!(d.iter().map(|x| x["channel"].as_str().unwrap()).collect::<Vec<_>>(), ["telegram", "webhook", "email"]);
    assert!(d.iter().all(|x| x["ok"] == true));
    let body: Value = serde_json::from_slice(&tg.seen()[1].body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("Over the daily budget (all agents): $0.60 of $0.50"), "{body}");
    let body: Value = serde_json::from_slice(&hook.seen()[2].body).unwrap();
    assert_eq!((body["kind"].as_str(), body["id"].as_i64()), (Some("budget_exceeded"), a["id"].as_i64()));
    assert_eq!(body["data"]["limitUsd"], 0.5);
    assert!(smtp.sessions()[1].1.contains("Subject: [clawmetry] Over the daily budget"));
}

#[test]
fn failed_sends_are_retried_and_recorded() {
    let (_tmp, home, data) = lab();
    // Telegram fails twice with 500, then takes it; the webhook is gone (404); the mail server
    // refuses the recipients.
    let tg = fake_http(vec![
        (500, r#"{"ok":false,"description":"Internal"}"#),
        (502, "bad gateway"),
        (200, r#"{"ok":true}"#),
    ]);
    let hook = fake_http(vec![(404, "")]);
    let smtp = fake_smtp(SmtpScript { starttls: false, rcpt_code: 550 });
    let s = server(&tg, &data, &home);
    s.send("PUT", "/api/alerts/channels", &channels(hook.port, smtp.port, "none"), 200);
    s.send("PUT", "/api/budget", &json!({"dailyUsd": 0.5}), 200);
    let (a, _) = s.wait_for(Duration::from_secs(15), |s| {
        s.alerts_of("budget_exceeded").pop().filter(|a| a["status"] != "pending")
    });
    assert_eq!(a["status"], "partial", "{a}");
    let d: HashMap<String, Value> = a["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["channel"].as_str().unwrap().to_string(), x.clone()))
        .collect();
    assert_eq!((d["telegram"]["ok"].as_bool(), d["telegram"]["attempts"].as_u64()), (Some(true), Some(3)));
    assert_eq!(tg.seen().len(), 3);
    assert_eq!(
        (d["webhook"]["ok"].as_bool(), d["webhook"]["attempts"].as_u64()),
        (Some(false), Some(1)),
        "a 404 is not retried"
    );
    assert_eq!(d["webhook"]["error"], "the webhook answered HTTP 404");
    assert_eq!(d["email"]["ok"], false);
    assert!(d["email"]["error"].as_str().unwrap().contains("RCPT TO refused: 550"), "{}", d["email"]);
    assert_eq!(d["email"]["attempts"], 1, "5xx is permanent");
    assert!(s.stderr().contains("via webhook: the webhook answered HTTP 404"), "{}", s.stderr());

    // Test messages report each failure, and never show the bot token.
    let tg2 = fake_http(vec![(401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)]);
    drop(s);
    let s = server(&tg2, &data, &home);
    let (st, r) = s.call("POST", "/api/alerts/test?channel=telegram", Some(&json!({})));
    assert_eq!(st, 502, "{r}");
    assert!(r["error"].as_str().unwrap().contains("Telegram answered 401: Unauthorized"), "{r}");
    assert!(!r.to_string().contains("TESTTOKEN"));
    // A webhook that is not there at all.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = channels(closed, smtp.port, "none");
    c["webhook"]["url"] = json!(format!("http://127.0.0.1:{closed}/x"));
    s.send("PUT", "/api/alerts/channels", &c, 200);
    let (st, r) = s.call("POST", "/api/alerts/test?channel=webhook", Some(&json!({})));
    assert_eq!(st, 502, "{r}");
    assert_eq!(r["results"][0]["ok"], false);

    // STARTTLS asked for but not offered: no downgrade, the password is never sent.
    let plain = fake_smtp(SmtpScript { starttls: false, rcpt_code: 250 });
    s.send("PUT", "/api/alerts/channels", &channels(hook.port, plain.port, "starttls"), 200);
    let (st, r) = s.call("POST", "/api/alerts/test?channel=email", Some(&json!({})));
    assert_eq!(st, 502);
    assert!(r["error"].as_str().unwrap().contains("does not offer STARTTLS"), "{r}");
    // Offered but then refused by the server.
    let refusing = fake_smtp(SmtpScript { starttls: true, rcpt_code: 250 });
    s.send("PUT", "/api/alerts/channels", &channels(hook.port, refusing.port, "starttls"), 200);
    let (_, r) = s.call("POST", "/api/alerts/test?channel=email", Some(&json!({})));
    assert!(r["error"].as_str().unwrap().contains("STARTTLS refused: 454"), "{r}");
    std::thread::sleep(Duration::from_millis(200));
    for (cmds, _) in plain.sessions().iter().chain(refusing.sessions().iter()) {
        assert!(!cmds.iter().any(|c| c.starts_with("AUTH")), "{cmds:?}");
    }
    // A password in clear text to a remote server is refused before connecting.
    let mut c = channels(hook.port, 25, "none");
    c["email"]["host"] = json!("mail.example.invalid");
    s.send("PUT", "/api/alerts/channels", &c, 200);
    let (_, r) = s.call("POST", "/api/alerts/test?channel=email", Some(&json!({})));
    assert!(r["error"].as_str().unwrap().contains("refusing to send the SMTP password unencrypted"), "{r}");
    // Bad channel settings are refused with the reason.
    let e = s.send("PUT", "/api/alerts/channels", &json!({"webhook": {"url": "file:///etc/passwd"}}), 400);
    assert!(e["error"].as_str().unwrap().contains("http:// or https://"), "{e}");
}

/// Slack, Discord and ntfy receive the alert in the shapes their documentation gives: Slack's
/// `text` + Block Kit `blocks`, Discord's `content` + one `embeds` entry with mentions off,
/// ntfy's JSON publish to the server root with the topic, title, message, priority and tags
/// (and the access token as a Bearer header). Their secrets never come back from the API. A
/// dead Slack hook is tried three times and recorded; the others are still delivered.
#[test]
fn slack_discord_and_ntfy_get_their_own_formats() {
    let (_tmp, home, data) = lab();
    let tg = fake_http(vec![(200, r#"{"ok":true}"#)]);
    let slack = fake_http(vec![(200, "ok")]);
    let discord = fake_http(vec![(204, "")]);
    let ntfy = fake_http(vec![(200, r#"{"id":"x"}"#)]);
    let s = server(&tg, &data, &home);
    let slack_url = format!("http://127.0.0.1:{}/services/T000/B000/XXXXSECRET", slack.port);
    let discord_url = format!("http://127.0.0.1:{}/api/webhooks/123/discordsecret", discord.port);
    let body = json!({
        "slack": {"url": slack_url},
        "discord": {"url": discord_url},
        "ntfy": {"url": format!("http://127.0.0.1:{}/clawmetry-alerts", ntfy.port), "token": "tk_ntfysecret"},
    });
    let v = s.send("PUT", "/api/alerts/channels", &body, 200);
    let text = s.get("/api/alerts/channels").to_string() + &v.to_string();
    for secret in ["XXXXSECRET", "discordsecret", "tk_ntfysecret"] {
        assert!(!text.contains(secret), "{secret} returned by the API: {text}");
    }
    assert_eq!(v["channels"]["slack"]["urlSet"], true);
    assert_eq!(v["channels"]["ntfy"]["tokenSet"], true);
    // A stored secret stays when the form leaves it out.
    s.send(
        "PUT",
        "/api/alerts/channels",
        &json!({"slack": {"enabled": true}, "discord": {"enabled": true},
        "ntfy": {"url": format!("http://127.0.0.1:{}/clawmetry-alerts", ntfy.port)}}),
        200,
    );

    let r = s.send("POST", "/api/alerts/test", &json!({}), 200);
    assert_eq!(r["ok"], true, "{r}");
    let names: Vec<&str> = r["results"].as_array().unwrap().iter().map(|d| d["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["slack", "discord", "ntfy"]);

    let h = &slack.seen()[0];
    assert_eq!(h.path, "/services/T000/B000/XXXXSECRET");
    let b: Value = serde_json::from_slice(&h.body).unwrap();
    assert!(b["text"].as_str().unwrap().contains("Test message from clawmetry"), "{b}");
    assert_eq!(b["blocks"][0]["type"], "section");
    assert_eq!(b["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(b["blocks"][0]["text"]["text"].as_str().unwrap().starts_with('*'), "{b}");
    assert_eq!(b["blocks"][1]["type"], "context");

    let h = &discord.seen()[0];
    assert_eq!(h.path, "/api/webhooks/123/discordsecret");
    let b: Value = serde_json::from_slice(&h.body).unwrap();
    assert!(b["content"].as_str().unwrap().contains("Test message from clawmetry"), "{b}");
    assert_eq!(b["allowed_mentions"], json!({"parse": []}));
    assert_eq!(b["embeds"].as_array().unwrap().len(), 1);
    assert!(b["embeds"][0]["color"].is_u64() && b["embeds"][0]["timestamp"].is_string(), "{b}");

    let h = &ntfy.seen()[0];
    assert_eq!(h.path, "/");
    assert_eq!(h.headers["authorization"], "Bearer tk_ntfysecret");
    let b: Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!(b["topic"], "clawmetry-alerts");
    assert_eq!(b["title"], "Test message from clawmetry");
    assert_eq!(b["priority"], 3);
    assert!(b["tags"].is_array() && b["message"].as_str().unwrap().contains("clawmetry on"), "{b}");

    // A dead Slack hook: the test message says so (502, one attempt: a test is not retried) and
    // the error never shows the hook's URL, its secret.
    let dead = fake_http(vec![(500, "")]);
    let dead_url = format!("http://127.0.0.1:{}/services/T1/B1/DEADSECRET", dead.port);
    s.send("PUT", "/api/alerts/channels", &json!({"slack": {"url": dead_url}}), 200);
    let r = s.send("POST", "/api/alerts/test", &json!({}), 502);
    let d = &r["results"][0];
    assert_eq!((d["channel"].as_str(), d["ok"].as_bool()), (Some("slack"), Some(false)), "{r}");
    assert!(d["error"].as_str().unwrap().contains("Slack answered HTTP 500"), "{d}");
    assert!(!r.to_string().contains("DEADSECRET"), "{r}");
    // Gone entirely (connection refused): the error names no URL either.
    drop(dead);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone = format!("http://127.0.0.1:{closed}/services/T2/B2/GONESECRET");
    s.send("PUT", "/api/alerts/channels", &json!({"slack": {"url": gone}}), 200);
    let r = s.send("POST", "/api/alerts/test", &json!({}), 502);
    assert!(!r.to_string().contains("GONESECRET"), "{r}");

    // Bad input: a clear 400.
    let e = s.send("PUT", "/api/alerts/channels", &json!({"ntfy": {"url": "http://127.0.0.1:1/"}}), 400);
    assert!(e["error"].as_str().unwrap().contains("topic"), "{e}");
    let e = s.send("PUT", "/api/alerts/channels", &json!({"discord": {"url": "ftp://x/y"}}), 400);
    assert!(e["error"].as_str().unwrap().contains("channels.discord.url"), "{e}");
}
