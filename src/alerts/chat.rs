//! Alerts to Slack and Discord incoming webhooks and to ntfy, each in its own message format:
//! Slack's `text` with Block Kit sections (mrkdwn, `&`, `<`, `>` escaped), Discord's `content`
//! with one embed coloured by severity and mentions switched off (a message quoting `@everyone`
//! pings nobody), and ntfy's JSON publish (topic, title, message, priority, tags) to the
//! server's root, so that titles outside ASCII need no header encoding.

use super::channels::{ChatHook, Ntfy};
use super::rules::Alert;
use super::sender::{http_error, icon, SendError};
use serde_json::{json, Value};

/// What every format shows under the message.
fn footer(a: &Alert, at_ms: i64, host: &str) -> String {
    let when = crate::timefmt::iso(at_ms).replace('T', " ").trim_end_matches(".000Z").to_string() + " UTC";
    format!("{} · {when} · clawmetry on {host}", a.severity)
}

/// Slack's mrkdwn escapes.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// At most `max` characters (Discord and Slack refuse longer fields).
fn cut(s: &str, max: usize) -> String {
    crate::sources::transcript::short(s, max.saturating_sub(1))
}

pub fn slack_body(a: &Alert, at_ms: i64, host: &str) -> Value {
    let title = format!("{} {}", icon(a.severity), a.title);
    json!({
        "text": cut(&format!("{title}: {}", a.message), 3000),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
                "text": cut(&format!("*{}*\n{}", slack_escape(&title), slack_escape(&a.message)), 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&footer(a, at_ms, host))}]},
        ],
    })
}

/// Discord embed colours: red, amber, blue.
fn colour(severity: &str) -> u32 {
    match severity {
        "critical" => 0xd32f2f,
        "warning" => 0xf0a000,
        _ => 0x1e88e5,
    }
}

pub fn discord_body(a: &Alert, at_ms: i64, host: &str) -> Value {
    json!({
        "username": "clawmetry",
        "content": cut(&format!("{} {}", icon(a.severity), a.title), 2000),
        "embeds": [{
            "title": cut(&a.title, 256),
            "description": cut(&a.message, 4096),
            "color": colour(a.severity),
            "timestamp": crate::timefmt::iso(at_ms),
            "footer": {"text": cut(&format!("clawmetry on {host} · {}", a.severity), 2048)},
        }],
        "allowed_mentions": {"parse": []},
    })
}

/// ntfy's JSON publish: the topic is the last part of the channel's URL, the rest the server.
pub fn ntfy_publish(n: &Ntfy, a: &Alert, at_ms: i64, host: &str) -> (String, Value) {
    let url = n.url.trim_end_matches('/');
    let (server, topic) = url.rsplit_once('/').unwrap_or((url, ""));
    let (priority, tags) = match a.severity {
        "critical" => (5, ["rotating_light"]),
        "warning" => (4, ["warning"]),
        _ => (3, ["information_source"]),
    };
    let body = json!({
        "topic": topic,
        "title": cut(&a.title, 250),
        "message": format!("{}\n\n{}", a.message, footer(a, at_ms, host)),
        "priority": priority,
        "tags": tags,
    });
    (format!("{server}/"), body)
}

fn post_json(agent: &ureq::Agent, url: &str, body: &Value, bearer: Option<&str>, who: &str) -> Result<(), SendError> {
    let mut req = agent.post(url).header("Content-Type", "application/json");
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    // The URL of a Slack or Discord hook is its secret: it never reaches an error message.
    let resp = req.send(serde_json::to_vec(body).unwrap_or_default()).map_err(|e| {
        let mut e = http_error(e, Some(url));
        if let Some(t) = bearer {
            e.msg = e.msg.replace(t, "<redacted>");
        }
        e
    })?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(SendError { msg: format!("{who} answered HTTP {status}"), retry: status == 429 || status >= 500 })
    }
}

pub fn send_slack(agent: &ureq::Agent, h: &ChatHook, body: &Value) -> Result<(), SendError> {
    post_json(agent, &h.url, body, None, "Slack")
}

pub fn send_discord(agent: &ureq::Agent, h: &ChatHook, body: &Value) -> Result<(), SendError> {
    post_json(agent, &h.url, body, None, "Discord")
}

pub fn send_ntfy(agent: &ureq::Agent, n: &Ntfy, url: &str, body: &Value) -> Result<(), SendError> {
    post_json(agent, url, body, n.token.as_deref(), "ntfy")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(severity: &'static str, title: &str, message: &str) -> Alert {
        Alert {
            kind: "test".into(),
            severity,
            rule_id: None,
            dedupe: String::new(),
            title: title.into(),
            message: message.into(),
            data: Value::Null,
        }
    }

    #[test]
    fn slack_escapes_and_discord_mutes_mentions() {
        let a = alert("critical", "Budget <over> & out", "@everyone spent $12 > $10");
        let s = slack_body(&a, 1_800_000_000_000, "pi");
        let section = s["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(section, "*🔴 Budget &lt;over&gt; &amp; out*\n@everyone spent $12 &gt; $10");
        assert_eq!(s["blocks"][1]["elements"][0]["text"], "critical · 2027-01-15 08:00:00 UTC · clawmetry on pi");
        assert!(s["text"].as_str().unwrap().starts_with("🔴 Budget <over> & out: "));
        let d = discord_body(&a, 1_800_000_000_000, "pi");
        assert_eq!(d["allowed_mentions"]["parse"], json!([]));
        assert_eq!(d["embeds"][0]["color"], 0xd32f2f);
        assert_eq!(d["embeds"][0]["timestamp"], "2027-01-15T08:00:00.000Z");
        let long = alert("info", &"t".repeat(300), &"m".repeat(5000));
        let d = discord_body(&long, 0, "pi");
        assert_eq!(d["embeds"][0]["title"].as_str().unwrap().chars().count(), 256);
        assert_eq!(d["embeds"][0]["description"].as_str().unwrap().chars().count(), 4096);
    }

    #[test]
    fn ntfy_publishes_to_the_server_root_with_a_priority() {
        let n = Ntfy { enabled: true, url: "https://ntfy.example.org/sub/path/my-alerts/".into(), token: None };
        let (url, body) = ntfy_publish(&n, &alert("warning", "Über budget", "80 %"), 0, "pi");
        assert_eq!(url, "https://ntfy.example.org/sub/path/");
        assert_eq!(body["topic"], "my-alerts");
        assert_eq!(body["priority"], 4);
        assert_eq!(body["tags"], json!(["warning"]));
        assert_eq!(body["title"], "Über budget");
    }
}
