//! The `alert-sender` thread: delivers each [`Job`] to its channels, with a timeout on every
//! socket operation and up to three attempts, and records every outcome in the history.

use super::channels::*;
use super::rules::*;
use super::smtp::*;
use crate::codec::{hex, hmac_sha256};
use crate::history::History;
use serde_json::{json, Value};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The outcome of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub channel: &'static str,
    pub ok: bool,
    pub attempts: u32,
    pub error: Option<String>,
    pub at_ms: i64,
}

impl Delivery {
    pub fn json(&self) -> Value {
        json!({"channel": self.channel, "ok": self.ok, "attempts": self.attempts, "error": self.error, "atMs": self.at_ms})
    }
}

/// A message to deliver to every enabled channel.
pub struct Job {
    /// The recorded alert to update with the outcome (`None` for a test message).
    pub alert_id: Option<i64>,
    pub alert: Alert,
    pub at_ms: i64,
    pub channels: Channels,
    pub attempts: u32,
    /// Where the test endpoint waits for the outcome.
    pub reply: Option<Sender<Vec<Delivery>>>,
}

/// Fixed at start from the flags.
#[derive(Debug, Clone)]
pub struct SendSettings {
    pub telegram_api_base: String,
    /// Every connect, read and write.
    pub timeout: Duration,
    /// Waits between attempts.
    pub retry_delays: Vec<Duration>,
    pub host: String,
}

impl Default for SendSettings {
    fn default() -> Self {
        SendSettings {
            telegram_api_base: "https://api.telegram.org".into(),
            timeout: Duration::from_secs(10),
            retry_delays: vec![Duration::from_secs(2), Duration::from_secs(10)],
            host: hostname(),
        }
    }
}

pub fn hostname() -> String {
    crate::system::host_name().unwrap_or_else(|| "localhost".into())
}

/// Starts the `alert-sender` thread.
pub fn spawn_sender(history: Arc<History>, settings: SendSettings) -> std::io::Result<(Sender<Job>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let h =
        std::thread::Builder::new().name("alert-sender".into()).spawn(move || sender_loop(history, settings, rx))?;
    Ok((tx, h))
}

pub(super) fn sender_loop(history: Arc<History>, settings: SendSettings, rx: Receiver<Job>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(settings.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(format!("clawmetry/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    for job in rx {
        let results = deliver(&agent, &settings, &job);
        if let Some(id) = job.alert_id {
            // Logged before it is recorded: once the API shows the outcome, the log has it too.
            for r in results.iter().filter(|r| !r.ok) {
                eprintln!("clawmetry: alert {id} via {}: {}", r.channel, r.error.as_deref().unwrap_or("failed"));
            }
            let status = delivery_status(&results);
            let j: Vec<Value> = results.iter().map(Delivery::json).collect();
            if let Err(e) = history.set_alert_delivery(id, status, &Value::Array(j)) {
                eprintln!("clawmetry: cannot record the delivery of alert {id}: {e}");
            }
        }
        if let Some(reply) = job.reply {
            let _ = reply.send(results);
        }
    }
}

pub fn delivery_status(results: &[Delivery]) -> &'static str {
    if results.is_empty() {
        "not-sent"
    } else if results.iter().all(|r| r.ok) {
        "sent"
    } else if results.iter().any(|r| r.ok) {
        "partial"
    } else {
        "failed"
    }
}

/// A send error, and whether trying again may help.
pub(super) struct SendError {
    pub(super) msg: String,
    pub(super) retry: bool,
}

pub(super) fn deliver(agent: &ureq::Agent, s: &SendSettings, job: &Job) -> Vec<Delivery> {
    let mut out = Vec::new();
    let text = plain_text(&job.alert, job.at_ms, &s.host);
    let c = &job.channels;
    type Attempt<'a> = Box<dyn Fn() -> Result<(), SendError> + 'a>;
    let mut plan: Vec<(&'static str, Attempt)> = Vec::new();
    if let Some(t) = c.telegram.as_ref().filter(|t| t.enabled) {
        plan.push(("telegram", Box::new(move || send_telegram(agent, &s.telegram_api_base, t, &text))));
    }
    if let Some(w) = c.webhook.as_ref().filter(|t| t.enabled) {
        let body = webhook_body(job, &s.host);
        plan.push(("webhook", Box::new(move || send_webhook(agent, w, &body))));
    }
    if let Some(h) = c.slack.as_ref().filter(|t| t.enabled) {
        let body = super::chat::slack_body(&job.alert, job.at_ms, &s.host);
        plan.push(("slack", Box::new(move || super::chat::send_slack(agent, h, &body))));
    }
    if let Some(h) = c.discord.as_ref().filter(|t| t.enabled) {
        let body = super::chat::discord_body(&job.alert, job.at_ms, &s.host);
        plan.push(("discord", Box::new(move || super::chat::send_discord(agent, h, &body))));
    }
    if let Some(n) = c.ntfy.as_ref().filter(|t| t.enabled) {
        let (url, body) = super::chat::ntfy_publish(n, &job.alert, job.at_ms, &s.host);
        plan.push(("ntfy", Box::new(move || super::chat::send_ntfy(agent, n, &url, &body))));
    }
    if let Some(e) = c.email.as_ref().filter(|t| t.enabled) {
        let subject = format!("[clawmetry] {}", job.alert.title);
        let body = plain_text(&job.alert, job.at_ms, &s.host);
        plan.push(("email", Box::new(move || send_email(e, &subject, &body, job.at_ms, s.timeout, &s.host))));
    }
    for (name, f) in plan {
        let mut attempts = 0;
        let last = loop {
            attempts += 1;
            match f() {
                Ok(()) => break None,
                Err(e) if !(e.retry && attempts < job.attempts.max(1)) => break Some(e.msg),
                Err(_) => {
                    let wait = s.retry_delays.get(attempts as usize - 1).or(s.retry_delays.last()).copied();
                    std::thread::sleep(wait.unwrap_or(Duration::from_secs(1)));
                }
            }
        };
        out.push(Delivery {
            channel: name,
            ok: last.is_none(),
            attempts,
            error: last,
            at_ms: crate::timefmt::now_ms(),
        });
    }
    out
}

pub(super) fn icon(severity: &str) -> &'static str {
    match severity {
        "critical" => "🔴",
        "warning" => "🟠",
        _ => "ℹ️",
    }
}

/// The text of Telegram messages and e-mails.
pub fn plain_text(a: &Alert, at_ms: i64, host: &str) -> String {
    format!(
        "{} {}\n\n{}\n\n{} · {} · clawmetry on {host}",
        icon(a.severity),
        a.title,
        a.message,
        a.severity,
        crate::timefmt::iso(at_ms).replace('T', " ").trim_end_matches(".000Z").to_string() + " UTC",
    )
}

pub(super) fn webhook_body(job: &Job, host: &str) -> Vec<u8> {
    let a = &job.alert;
    serde_json::to_vec(&json!({
        "source": "clawmetry",
        "host": host,
        "id": job.alert_id,
        "test": job.alert_id.is_none() && a.kind == "test",
        "kind": a.kind,
        "severity": a.severity,
        "ruleId": a.rule_id,
        "title": a.title,
        "message": a.message,
        "atMs": job.at_ms,
        "at": crate::timefmt::iso(job.at_ms),
        "data": a.data,
    }))
    .unwrap_or_default()
}

pub(super) fn http_error(e: ureq::Error, secret: Option<&str>) -> SendError {
    let mut msg = e.to_string();
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        msg = msg.replace(s, "<redacted>");
    }
    SendError { msg, retry: true }
}

pub(super) fn send_telegram(agent: &ureq::Agent, base: &str, t: &Telegram, text: &str) -> Result<(), SendError> {
    let url = format!("{}/bot{}/sendMessage", base.trim_end_matches('/'), t.bot_token);
    let body = json!({"chat_id": t.chat_id, "text": text, "disable_web_page_preview": true});
    let mut resp = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| http_error(e, Some(&t.bot_token)))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) && v["ok"] == true {
        return Ok(());
    }
    let desc = v["description"].as_str().map(str::to_string).unwrap_or_else(|| format!("HTTP {status}"));
    Err(SendError {
        msg: format!("Telegram answered {status}: {desc}"),
        // 400/401/403/404: wrong token or chat; trying again will not help. 429 and 5xx may pass.
        retry: status == 429 || status >= 500,
    })
}

pub(super) fn send_webhook(agent: &ureq::Agent, w: &Webhook, body: &[u8]) -> Result<(), SendError> {
    let mut req = agent.post(&w.url).header("Content-Type", "application/json").header("X-Clawmetry-Event", "alert");
    if let Some(secret) = &w.secret {
        req = req.header("X-Clawmetry-Signature-256", format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body))));
    }
    let resp = req.send(body).map_err(|e| http_error(e, None))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(SendError { msg: format!("the webhook answered HTTP {status}"), retry: status == 429 || status >= 500 })
    }
}
