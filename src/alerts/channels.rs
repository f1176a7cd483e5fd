//! Alert channels: Telegram, a JSON webhook, e-mail over SMTP, Slack and Discord incoming
//! webhooks and ntfy. Secrets (bot token, webhook secret, SMTP password, the Slack and Discord
//! webhook URLs, which carry their token, and the ntfy access token) are kept but never
//! serialised by `public_json`.

use super::json::*;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

impl Security {
    fn name(self) -> &'static str {
        match self {
            Security::StartTls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Telegram {
    pub enabled: bool,
    pub bot_token: String,
    pub chat_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub enabled: bool,
    pub url: String,
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// A Slack or Discord incoming webhook: its URL is the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatHook {
    pub enabled: bool,
    pub url: String,
}

/// An ntfy topic (`https://ntfy.sh/<topic>` or a server of one's own), with an access token
/// when the topic is protected.
#[derive(Debug, Clone, PartialEq)]
pub struct Ntfy {
    pub enabled: bool,
    pub url: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channels {
    pub telegram: Option<Telegram>,
    pub webhook: Option<Webhook>,
    pub email: Option<Email>,
    pub slack: Option<ChatHook>,
    pub discord: Option<ChatHook>,
    pub ntfy: Option<Ntfy>,
}

/// An http:// or https:// URL with a host, or why not.
fn http_url(url: &str, what: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || crate::system::url_host_port(url).is_none_or(|(host, _)| host.is_empty())
    {
        return Err(format!("{what} must be an http:// or https:// URL"));
    }
    Ok(())
}

/// A secret field in a PUT: absent or null keeps the stored one, `""` clears it.
pub(super) enum SecretIn {
    Keep,
    Set(String),
    Clear,
}

pub(super) fn secret_in(o: &Obj, k: &str, what: &str) -> Result<SecretIn, String> {
    match string(o, k, what, 4096)? {
        None => Ok(SecretIn::Keep),
        Some(s) if s.is_empty() => Ok(SecretIn::Clear),
        Some(s) => Ok(SecretIn::Set(s)),
    }
}

pub(super) fn merge_secret(new: SecretIn, old: Option<&String>) -> Option<String> {
    match new {
        SecretIn::Keep => old.cloned(),
        SecretIn::Set(s) => Some(s),
        SecretIn::Clear => None,
    }
}

pub(super) fn valid_address(a: &str) -> bool {
    let ok_chars = !a.contains(['<', '>', ' ', ',', ';', '"', '\r', '\n']);
    matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') || d == "localhost") && ok_chars
}

impl Channels {
    /// Decodes a PUT body; secrets not given are taken from `old`.
    pub fn from_json(v: &Value, old: &Channels) -> Result<Channels, String> {
        let o = obj(v, "channels")?;
        no_unknown(o, &["telegram", "webhook", "email", "slack", "discord", "ntfy"], "channels")?;
        let mut out = Channels::default();
        if let Some(t) = o.get("telegram").filter(|t| !t.is_null()) {
            let w = "channels.telegram";
            let t = obj(t, w)?;
            no_unknown(t, &["enabled", "botToken", "chatId", "botTokenSet"], w)?;
            let token = merge_secret(secret_in(t, "botToken", w)?, old.telegram.as_ref().map(|x| &x.bot_token))
                .ok_or("channels.telegram: botToken is required (from @BotFather, like 123456:ABC-DEF…)")?;
            if !token.contains(':') || token.contains(['/', '?', '#', '%', ' ']) {
                return Err("channels.telegram.botToken does not look like a bot token (123456:ABC-DEF…)".into());
            }
            let chat = match t.get("chatId") {
                Some(Value::Number(n)) => n.to_string(),
                _ => required(t, "chatId", w, 100)?,
            };
            let numeric = chat.strip_prefix('-').unwrap_or(&chat).chars().all(|c| c.is_ascii_digit());
            if !(numeric && !chat.is_empty() || chat.starts_with('@') && chat.len() > 1 && !chat.contains(' ')) {
                return Err("channels.telegram.chatId must be a chat id (a number) or @channelname".into());
            }
            out.telegram = Some(Telegram { enabled: boolean(t, "enabled", w, true)?, bot_token: token, chat_id: chat });
        }
        if let Some(h) = o.get("webhook").filter(|t| !t.is_null()) {
            let w = "channels.webhook";
            let h = obj(h, w)?;
            no_unknown(h, &["enabled", "url", "secret", "secretSet"], w)?;
            let url = required(h, "url", w, 2000)?;
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || crate::system::url_host_port(&url).is_none_or(|(host, _)| host.is_empty())
            {
                return Err(format!("channels.webhook.url must be an http:// or https:// URL, not {url:?}"));
            }
            let secret = merge_secret(secret_in(h, "secret", w)?, old.webhook.as_ref().and_then(|x| x.secret.as_ref()));
            out.webhook = Some(Webhook { enabled: boolean(h, "enabled", w, true)?, url, secret });
        }
        if let Some(e) = o.get("email").filter(|t| !t.is_null()) {
            let w = "channels.email";
            let e = obj(e, w)?;
            no_unknown(
                e,
                &["enabled", "host", "port", "security", "username", "password", "passwordSet", "from", "to"],
                w,
            )?;
            let security = match string(e, "security", w, 20)?.as_deref() {
                None | Some("starttls") => Security::StartTls,
                Some("tls") => Security::Tls,
                Some("none") => Security::None,
                Some(s) => return Err(format!("channels.email.security must be starttls, tls or none, not {s:?}")),
            };
            let default_port = match security {
                Security::StartTls => 587,
                Security::Tls => 465,
                Security::None => 25,
            };
            let host = required(e, "host", w, 255)?;
            if host.contains([' ', '/', ':']) && !host.starts_with('[') {
                return Err(format!("channels.email.host must be a host name or address, not {host:?}"));
            }
            let from = required(e, "from", w, 320)?;
            if !valid_address(&from) {
                return Err(format!("channels.email.from is not an e-mail address: {from:?}"));
            }
            let to: Vec<String> = match e.get("to") {
                Some(Value::String(s)) => {
                    s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
                }
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(|x| x.trim().to_string()).collect(),
                _ => Vec::new(),
            };
            if to.is_empty() || to.len() > 20 {
                return Err("channels.email.to needs 1 to 20 recipient addresses".into());
            }
            if let Some(bad) = to.iter().find(|a| !valid_address(a)) {
                return Err(format!("channels.email.to: not an e-mail address: {bad:?}"));
            }
            let username = string(e, "username", w, 320)?.filter(|u| !u.is_empty());
            let old_pw = old.email.as_ref().and_then(|x| x.password.as_ref());
            let password = merge_secret(secret_in(e, "password", w)?, old_pw);
            out.email = Some(Email {
                enabled: boolean(e, "enabled", w, true)?,
                port: int(e, "port", w, 1, 65535, Some(default_port))? as u16,
                host,
                security,
                username,
                password,
                from,
                to,
            });
        }
        for (name, old_hook) in [("slack", &old.slack), ("discord", &old.discord)] {
            let Some(h) = o.get(name).filter(|t| !t.is_null()) else { continue };
            let w = format!("channels.{name}");
            let h = obj(h, &w)?;
            no_unknown(h, &["enabled", "url", "urlSet"], &w)?;
            let url = merge_secret(secret_in(h, "url", &w)?, old_hook.as_ref().map(|x| &x.url))
                .ok_or_else(|| format!("{w}: url is required (the incoming webhook's URL)"))?;
            http_url(&url, &format!("{w}.url"))?;
            let hook = Some(ChatHook { enabled: boolean(h, "enabled", &w, true)?, url });
            if name == "slack" {
                out.slack = hook;
            } else {
                out.discord = hook;
            }
        }
        if let Some(n) = o.get("ntfy").filter(|t| !t.is_null()) {
            let w = "channels.ntfy";
            let n = obj(n, w)?;
            no_unknown(n, &["enabled", "url", "token", "tokenSet"], w)?;
            let url = required(n, "url", w, 2000)?;
            http_url(&url, "channels.ntfy.url")?;
            let topic = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            if topic.is_empty() || topic.contains(':') || url.trim_end_matches('/').matches('/').count() < 3 {
                return Err("channels.ntfy.url must name the topic, like https://ntfy.sh/my-alerts".into());
            }
            let token = merge_secret(secret_in(n, "token", w)?, old.ntfy.as_ref().and_then(|x| x.token.as_ref()));
            out.ntfy = Some(Ntfy { enabled: boolean(n, "enabled", w, true)?, url, token });
        }
        Ok(out)
    }

    /// Stored form, secrets included.
    pub fn to_json(&self) -> Value {
        self.json(true)
    }

    /// What GET returns: secrets replaced by `…Set: true/false`.
    pub fn public_json(&self) -> Value {
        self.json(false)
    }

    fn json(&self, secrets: bool) -> Value {
        let mut o = Map::new();
        if let Some(t) = &self.telegram {
            let mut j = json!({"enabled": t.enabled, "chatId": t.chat_id, "botTokenSet": true});
            if secrets {
                j["botToken"] = json!(t.bot_token);
            }
            o.insert("telegram".into(), j);
        }
        if let Some(h) = &self.webhook {
            let mut j = json!({"enabled": h.enabled, "url": h.url, "secretSet": h.secret.is_some()});
            if secrets {
                j["secret"] = json!(h.secret);
            }
            o.insert("webhook".into(), j);
        }
        if let Some(e) = &self.email {
            let mut j = json!({"enabled": e.enabled, "host": e.host, "port": e.port, "security": e.security.name(),
                "username": e.username, "from": e.from, "to": e.to, "passwordSet": e.password.is_some()});
            if secrets {
                j["password"] = json!(e.password);
            }
            o.insert("email".into(), j);
        }
        for (name, hook) in [("slack", &self.slack), ("discord", &self.discord)] {
            if let Some(h) = hook {
                let mut j = json!({"enabled": h.enabled, "urlSet": true});
                if secrets {
                    j["url"] = json!(h.url);
                }
                o.insert(name.into(), j);
            }
        }
        if let Some(n) = &self.ntfy {
            let mut j = json!({"enabled": n.enabled, "url": n.url, "tokenSet": n.token.is_some()});
            if secrets {
                j["token"] = json!(n.token);
            }
            o.insert("ntfy".into(), j);
        }
        Value::Object(o)
    }

    /// Names of the channels that are configured and enabled.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.telegram.as_ref().is_some_and(|t| t.enabled) {
            v.push("telegram");
        }
        if self.webhook.as_ref().is_some_and(|t| t.enabled) {
            v.push("webhook");
        }
        if self.email.as_ref().is_some_and(|t| t.enabled) {
            v.push("email");
        }
        if self.slack.as_ref().is_some_and(|t| t.enabled) {
            v.push("slack");
        }
        if self.discord.as_ref().is_some_and(|t| t.enabled) {
            v.push("discord");
        }
        if self.ntfy.as_ref().is_some_and(|t| t.enabled) {
            v.push("ntfy");
        }
        v
    }
}
