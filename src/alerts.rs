//! Budgets, alert rules and alert channels, and the sender thread that delivers alerts.
//!
//! * Settings: [`Budget`] (daily and monthly USD limits, overall and per agent, warning
//!   percentage, auto-pause), [`Channels`] (Telegram, a JSON webhook, e-mail over SMTP) and
//!   [`Rule`]s (token spike, error rate, long session, cron failure, disk, gateway down). Each is
//!   decoded from the API's JSON with a clear error for the first thing wrong, and stored as JSON
//!   by `history.rs`. Secrets (bot token, webhook secret, SMTP password) are never serialised by
//!   the `public_json` functions the API uses.
//! * Evaluation: [`evaluate`] turns a rule and the monitor's observations into alerts; pure, so it
//!   is unit-tested here. Cooldowns and recording are the monitor's.
//! * Delivery: [`spawn_sender`] starts the `alert-sender` thread; the monitor and the test
//!   endpoint hand it [`Job`]s over a channel. Each channel gets a timeout on every socket
//!   operation and up to three attempts; the outcome of every attempt ends up in the alert's
//!   record (`history.rs`), so a failed send is visible in `GET /api/alerts`, never silent.
//!
//! Webhook signature: with a secret, the POST carries `X-Clawmetry-Signature-256:
//! sha256=<hex HMAC-SHA256(secret, body)>`; the body holds `atMs`, so a receiver can also reject
//! replays. E-mail: SMTP with STARTTLS (port 587), implicit TLS (465), or plain SMTP (a local
//! relay); a password is never sent unencrypted except to a loopback server.

use crate::history::History;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

// ---- small JSON readers with clear errors ------------------------------------------------------

type Obj = Map<String, Value>;

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, String> {
    v.as_object().ok_or_else(|| format!("{what} must be a JSON object"))
}

fn no_unknown(o: &Obj, allowed: &[&str], what: &str) -> Result<(), String> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("{what}: unknown field {k:?} (allowed: {})", allowed.join(", ")));
        }
    }
    Ok(())
}

fn opt_num(o: &Obj, k: &str, what: &str, min: f64, max: f64) -> Result<Option<f64>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n >= min && n <= max => Ok(Some(n)),
            _ => Err(format!("{what}.{k} must be a number from {min} to {max}, not {v}")),
        },
    }
}

fn positive_usd(o: &Obj, k: &str, what: &str) -> Result<Option<f64>, String> {
    match opt_num(o, k, what, 0.0, 1e9)? {
        Some(n) if n <= 0.0 => Err(format!("{what}.{k} must be more than 0 (use null for no limit)")),
        x => Ok(x),
    }
}

fn int(o: &Obj, k: &str, what: &str, min: u64, max: u64, default: Option<u64>) -> Result<u64, String> {
    match o.get(k) {
        None | Some(Value::Null) => default.ok_or_else(|| format!("{what}: {k} is required")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min && n <= max => Ok(n),
            _ => Err(format!("{what}.{k} must be a whole number from {min} to {max}, not {v}")),
        },
    }
}

fn boolean(o: &Obj, k: &str, what: &str, default: bool) -> Result<bool, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("{what}.{k} must be true or false, not {v}")),
    }
}

fn string(o: &Obj, k: &str, what: &str, max: usize) -> Result<Option<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => {
            if s.chars().any(|c| c.is_control()) {
                return Err(format!("{what}.{k} must not contain control characters"));
            }
            Ok(Some(s.trim().to_string()))
        }
        Some(Value::String(_)) => Err(format!("{what}.{k} is longer than {max} characters")),
        Some(v) => Err(format!("{what}.{k} must be a string, not {v}")),
    }
}

fn required(o: &Obj, k: &str, what: &str, max: usize) -> Result<String, String> {
    match string(o, k, what, max)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{what}: {k} is required")),
    }
}

// ---- budget ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

impl Limits {
    fn from_obj(o: &Obj, what: &str) -> Result<Limits, String> {
        Ok(Limits { daily_usd: positive_usd(o, "dailyUsd", what)?, monthly_usd: positive_usd(o, "monthlyUsd", what)? })
    }
    fn json(&self) -> Value {
        json!({"dailyUsd": self.daily_usd, "monthlyUsd": self.monthly_usd})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub overall: Limits,
    pub agents: BTreeMap<String, Limits>,
    /// A warning alert at this share of a limit (percent).
    pub warn_percent: f64,
    /// Over a limit: suspend the gateway through its RPC (see `monitor.rs`).
    pub auto_pause: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { overall: Limits::default(), agents: BTreeMap::new(), warn_percent: 80.0, auto_pause: false }
    }
}

impl Budget {
    pub fn from_json(v: &Value) -> Result<Budget, String> {
        let o = obj(v, "budget")?;
        no_unknown(o, &["dailyUsd", "monthlyUsd", "agents", "warnPercent", "autoPause"], "budget")?;
        let mut agents = BTreeMap::new();
        match o.get("agents") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (name, l) in m {
                    if name.is_empty() || name.len() > 200 {
                        return Err("budget.agents: agent names must be 1 to 200 characters".into());
                    }
                    let what = format!("budget.agents.{name}");
                    let lo = obj(l, &what)?;
                    no_unknown(lo, &["dailyUsd", "monthlyUsd"], &what)?;
                    let lim = Limits::from_obj(lo, &what)?;
                    if lim != Limits::default() {
                        agents.insert(name.clone(), lim);
                    }
                }
            }
            Some(_) => return Err("budget.agents must be an object: {\"<agent>\": {\"dailyUsd\": 1}}".into()),
        }
        Ok(Budget {
            overall: Limits::from_obj(o, "budget")?,
            agents,
            warn_percent: opt_num(o, "warnPercent", "budget", 1.0, 99.0)?.unwrap_or(80.0),
            auto_pause: boolean(o, "autoPause", "budget", false)?,
        })
    }

    pub fn to_json(&self) -> Value {
        let agents: Map<String, Value> = self.agents.iter().map(|(k, l)| (k.clone(), l.json())).collect();
        json!({
            "dailyUsd": self.overall.daily_usd,
            "monthlyUsd": self.overall.monthly_usd,
            "agents": agents,
            "warnPercent": self.warn_percent,
            "autoPause": self.auto_pause,
        })
    }

    /// Every (scope, period, limit): scope `None` is the whole installation.
    pub fn limits(&self) -> Vec<(Option<&str>, Period, f64)> {
        let scopes =
            std::iter::once((None, &self.overall)).chain(self.agents.iter().map(|(n, l)| (Some(n.as_str()), l)));
        let mut out = Vec::new();
        for (name, l) in scopes {
            if let Some(d) = l.daily_usd {
                out.push((name, Period::Day, d));
            }
            if let Some(m) = l.monthly_usd {
                out.push((name, Period::Month, m));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Month => "monthly",
        }
    }
    pub fn start(self, now_ms: i64) -> i64 {
        match self {
            Period::Day => crate::timefmt::day_start(now_ms),
            Period::Month => crate::timefmt::month_start(now_ms),
        }
    }
}

/// Where spend stands against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Over,
}

pub fn level(spent: f64, limit: f64, warn_percent: f64) -> Level {
    if spent >= limit {
        Level::Over
    } else if spent >= limit * warn_percent / 100.0 {
        Level::Warning
    } else {
        Level::Ok
    }
}

// ---- channels --------------------------------------------------------------------------------

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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channels {
    pub telegram: Option<Telegram>,
    pub webhook: Option<Webhook>,
    pub email: Option<Email>,
}

/// A secret field in a PUT: absent or null keeps the stored one, `""` clears it.
enum SecretIn {
    Keep,
    Set(String),
    Clear,
}

fn secret_in(o: &Obj, k: &str, what: &str) -> Result<SecretIn, String> {
    match string(o, k, what, 4096)? {
        None => Ok(SecretIn::Keep),
        Some(s) if s.is_empty() => Ok(SecretIn::Clear),
        Some(s) => Ok(SecretIn::Set(s)),
    }
}

fn merge_secret(new: SecretIn, old: Option<&String>) -> Option<String> {
    match new {
        SecretIn::Keep => old.cloned(),
        SecretIn::Set(s) => Some(s),
        SecretIn::Clear => None,
    }
}

fn valid_address(a: &str) -> bool {
    let ok_chars = !a.contains(['<', '>', ' ', ',', ';', '"', '\r', '\n']);
    matches!(a.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') || d == "localhost") && ok_chars
}

impl Channels {
    /// Decodes a PUT body; secrets not given are taken from `old`.
    pub fn from_json(v: &Value, old: &Channels) -> Result<Channels, String> {
        let o = obj(v, "channels")?;
        no_unknown(o, &["telegram", "webhook", "email"], "channels")?;
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
        v
    }
}

// ---- rules -----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// More than `tokens` tokens recorded within `minutes`.
    TokenSpike { tokens: u64, minutes: u64 },
    /// Errors (tool errors and failed model turns) above `percent` of tool results and
    /// assistant turns within `minutes`, once there are at least `min_events`.
    ErrorRate { percent: f64, minutes: u64, min_events: u64 },
    /// A session running for longer than `minutes`.
    LongSession { minutes: u64 },
    /// A cron run that ended in error within the last `minutes`.
    CronFailure { minutes: u64 },
    /// The OpenClaw or the data dir's file system fuller than `percent`.
    Disk { percent: f64 },
    /// The gateway's port refuses connections.
    GatewayDown,
}

pub const RULE_KINDS: &[&str] = &["token_spike", "error_rate", "long_session", "cron_failure", "disk", "gateway_down"];

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub cooldown_minutes: u64,
    pub kind: RuleKind,
}

impl Rule {
    /// Decodes a rule from the API (the `id` field, if any, is ignored: the path names it).
    pub fn from_json(v: &Value, id: i64) -> Result<Rule, String> {
        let o = obj(v, "rule")?;
        let kind_name = required(o, "kind", "rule", 40)
            .map_err(|_| format!("rule: kind is required, one of {}", RULE_KINDS.join(", ")))?;
        let common = ["id", "kind", "name", "enabled", "cooldownMinutes"];
        let w = "rule";
        fn fields(common: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
            common.iter().chain(extra).copied().collect()
        }
        let kind = match kind_name.as_str() {
            "token_spike" => {
                no_unknown(o, &fields(&common, &["tokens", "minutes"]), w)?;
                RuleKind::TokenSpike {
                    tokens: int(o, "tokens", w, 1, u64::MAX / 4, None)?,
                    minutes: int(o, "minutes", w, 1, 1440, Some(10))?,
                }
            }
            "error_rate" => {
                no_unknown(o, &fields(&common, &["percent", "minutes", "minEvents"]), w)?;
                RuleKind::ErrorRate {
                    percent: opt_num(o, "percent", w, 0.1, 100.0)?.ok_or("rule: percent is required")?,
                    minutes: int(o, "minutes", w, 1, 1440, Some(15))?,
                    min_events: int(o, "minEvents", w, 1, 1_000_000, Some(10))?,
                }
            }
            "long_session" => {
                no_unknown(o, &fields(&common, &["minutes"]), w)?;
                RuleKind::LongSession { minutes: int(o, "minutes", w, 1, 100_000, None)? }
            }
            "cron_failure" => {
                no_unknown(o, &fields(&common, &["minutes"]), w)?;
                RuleKind::CronFailure { minutes: int(o, "minutes", w, 1, 100_000, Some(60))? }
            }
            "disk" => {
                no_unknown(o, &fields(&common, &["percent"]), w)?;
                RuleKind::Disk { percent: opt_num(o, "percent", w, 1.0, 100.0)?.ok_or("rule: percent is required")? }
            }
            "gateway_down" => {
                no_unknown(o, &fields(&common, &[]), w)?;
                RuleKind::GatewayDown
            }
            k => return Err(format!("rule: unknown kind {k:?}; use one of {}", RULE_KINDS.join(", "))),
        };
        let name = string(o, "name", w, 200)?.filter(|n| !n.is_empty()).unwrap_or_else(|| default_name(&kind));
        Ok(Rule {
            id,
            name,
            enabled: boolean(o, "enabled", w, true)?,
            cooldown_minutes: int(o, "cooldownMinutes", w, 0, 100_000, Some(30))?,
            kind,
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            RuleKind::TokenSpike { .. } => "token_spike",
            RuleKind::ErrorRate { .. } => "error_rate",
            RuleKind::LongSession { .. } => "long_session",
            RuleKind::CronFailure { .. } => "cron_failure",
            RuleKind::Disk { .. } => "disk",
            RuleKind::GatewayDown => "gateway_down",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut j = json!({"id": self.id, "name": self.name, "kind": self.kind_name(), "enabled": self.enabled,
            "cooldownMinutes": self.cooldown_minutes});
        match &self.kind {
            RuleKind::TokenSpike { tokens, minutes } => {
                j["tokens"] = json!(tokens);
                j["minutes"] = json!(minutes);
            }
            RuleKind::ErrorRate { percent, minutes, min_events } => {
                j["percent"] = json!(percent);
                j["minutes"] = json!(minutes);
                j["minEvents"] = json!(min_events);
            }
            RuleKind::LongSession { minutes } | RuleKind::CronFailure { minutes } => j["minutes"] = json!(minutes),
            RuleKind::Disk { percent } => j["percent"] = json!(percent),
            RuleKind::GatewayDown => {}
        }
        j
    }
}

fn default_name(k: &RuleKind) -> String {
    match k {
        RuleKind::TokenSpike { tokens, minutes } => format!("More than {tokens} tokens in {minutes} min"),
        RuleKind::ErrorRate { percent, minutes, .. } => format!("Error rate above {percent}% over {minutes} min"),
        RuleKind::LongSession { minutes } => format!("Session running longer than {minutes} min"),
        RuleKind::CronFailure { .. } => "Cron run failed".into(),
        RuleKind::Disk { percent } => format!("Disk fuller than {percent}%"),
        RuleKind::GatewayDown => "Gateway down".into(),
    }
}

// ---- observations and evaluation -------------------------------------------------------------

/// Cumulative counters sampled by the monitor at each tick, on a monotonic clock (a fake
/// `--fake-now-ms` clock does not move, but the window arithmetic must).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub mono_ms: i64,
    pub tokens: u64,
    pub events: u64,
    pub errors: u64,
}

/// The last few hours of samples, for windowed rules.
#[derive(Debug, Default)]
pub struct Window {
    samples: std::collections::VecDeque<Sample>,
}

/// Growth of the counters over a window: (tokens, events, errors, minutes actually covered).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    pub tokens: u64,
    pub events: u64,
    pub errors: u64,
    pub covered_ms: i64,
}

impl Window {
    const KEEP_MS: i64 = 25 * 3_600_000;

    pub fn push(&mut self, s: Sample) {
        self.samples.push_back(s);
        while self.samples.front().is_some_and(|f| s.mono_ms - f.mono_ms > Self::KEEP_MS) {
            self.samples.pop_front();
        }
    }

    /// Growth over the last `minutes`: from the oldest sample inside the window (or just
    /// before it) to the newest. Decreases (a session re-read from scratch) count as zero.
    pub fn delta(&self, minutes: u64) -> Option<Delta> {
        let last = *self.samples.back()?;
        let start = last.mono_ms - minutes as i64 * 60_000;
        let base = self.samples.iter().rev().find(|s| s.mono_ms <= start).or_else(|| self.samples.front())?;
        if base.mono_ms == last.mono_ms {
            return None;
        }
        let mut d = Delta { tokens: 0, events: 0, errors: 0, covered_ms: last.mono_ms - base.mono_ms };
        let mut prev = *base;
        for s in self.samples.iter().filter(|s| s.mono_ms > base.mono_ms) {
            d.tokens += s.tokens.saturating_sub(prev.tokens);
            d.events += s.events.saturating_sub(prev.events);
            d.errors += s.errors.saturating_sub(prev.errors);
            prev = *s;
        }
        Some(d)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunningSession {
    pub id: String,
    pub agent: String,
    pub label: Option<String>,
    pub started_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CronFailure {
    pub run_id: String,
    pub job_id: String,
    pub job_name: Option<String>,
    pub finished_ms: i64,
    pub status: String,
    pub error: Option<String>,
}

/// What the monitor saw this tick.
#[derive(Debug, Default)]
pub struct Observations {
    pub now_ms: i64,
    pub window: Window,
    pub running: Vec<RunningSession>,
    pub cron_failures: Vec<CronFailure>,
    /// (name, path, used percent)
    pub disks: Vec<(String, String, f64)>,
    /// (port, open), when the gateway port was checked.
    pub gateway: Option<(u16, bool)>,
}

/// An alert before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: String,
    pub severity: &'static str,
    pub rule_id: Option<i64>,
    /// Alerts with the same key share a cooldown.
    pub dedupe: String,
    pub title: String,
    pub message: String,
    pub data: Value,
}

fn mins(ms: i64) -> i64 {
    ms / 60_000
}

/// The alerts `rule` raises on `obs` (before cooldowns).
pub fn evaluate(rule: &Rule, obs: &Observations) -> Vec<Alert> {
    if !rule.enabled {
        return Vec::new();
    }
    let base = |suffix: &str, severity: &'static str, title: String, message: String, data: Value| Alert {
        kind: rule.kind_name().to_string(),
        severity,
        rule_id: Some(rule.id),
        dedupe: format!("rule:{}{suffix}", rule.id),
        title,
        message,
        data,
    };
    match &rule.kind {
        RuleKind::TokenSpike { tokens, minutes } => match obs.window.delta(*minutes) {
            Some(d) if d.tokens > *tokens => vec![base(
                "",
                "warning",
                format!("Token spike: {} tokens in {} min", d.tokens, mins(d.covered_ms).max(1)),
                format!(
                    "{} tokens were used in the last {} min (rule: more than {tokens} in {minutes} min).",
                    d.tokens,
                    mins(d.covered_ms).max(1)
                ),
                json!({"tokens": d.tokens, "threshold": tokens, "minutes": minutes, "coveredMs": d.covered_ms}),
            )],
            _ => Vec::new(),
        },
        RuleKind::ErrorRate { percent, minutes, min_events } => match obs.window.delta(*minutes) {
            Some(d) if d.events >= *min_events && d.errors as f64 * 100.0 > percent * d.events as f64 => {
                let rate = (d.errors as f64 * 1000.0 / d.events as f64).round() / 10.0;
                vec![base(
                    "",
                    "warning",
                    format!("Error rate {rate}% over {} min", mins(d.covered_ms).max(1)),
                    format!(
                        "{} of {} tool results and model turns failed in the last {} min (rule: above {percent}%).",
                        d.errors,
                        d.events,
                        mins(d.covered_ms).max(1)
                    ),
                    json!({"errors": d.errors, "events": d.events, "ratePercent": rate, "threshold": percent}),
                )]
            }
            _ => Vec::new(),
        },
        RuleKind::LongSession { minutes } => obs
            .running
            .iter()
            .filter(|s| obs.now_ms - s.started_ms > *minutes as i64 * 60_000)
            .map(|s| {
                let name = s.label.clone().unwrap_or_else(|| s.id.chars().take(8).collect());
                base(
                    &format!(":session:{}", s.id),
                    "warning",
                    format!("Session {name} running for {} min", mins(obs.now_ms - s.started_ms)),
                    format!(
                        "Session {} of agent {} has been running for {} min (rule: longer than {minutes} min).",
                        s.id,
                        s.agent,
                        mins(obs.now_ms - s.started_ms)
                    ),
                    json!({"sessionId": s.id, "agent": s.agent, "label": s.label, "startedMs": s.started_ms}),
                )
            })
            .collect(),
        RuleKind::CronFailure { minutes } => {
            let mut by_job: BTreeMap<&str, Vec<&CronFailure>> = BTreeMap::new();
            for f in obs.cron_failures.iter().filter(|f| obs.now_ms - f.finished_ms <= *minutes as i64 * 60_000) {
                by_job.entry(&f.job_id).or_default().push(f);
            }
            by_job
                .into_iter()
                .map(|(job, fs)| {
                    let last = fs.iter().max_by_key(|f| f.finished_ms).expect("non-empty");
                    let name = last.job_name.clone().unwrap_or_else(|| job.to_string());
                    base(
                        &format!(":cron:{job}"),
                        "critical",
                        format!("Cron job {name} failed"),
                        format!(
                            "{} failed run(s) of cron job {name} in the last {minutes} min; last: {}{}.",
                            fs.len(),
                            last.status,
                            last.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                        json!({"jobId": job, "jobName": last.job_name, "failures": fs.len(), "lastRunId": last.run_id,
                            "lastFinishedMs": last.finished_ms, "error": last.error}),
                    )
                })
                .collect()
        }
        RuleKind::Disk { percent } => obs
            .disks
            .iter()
            .filter(|(_, _, used)| used >= percent)
            .map(|(name, path, used)| {
                base(
                    &format!(":disk:{path}"),
                    if *used >= 95.0 { "critical" } else { "warning" },
                    format!("Disk {used}% full ({name})"),
                    format!("The file system holding {path} is {used}% full (rule: {percent}%)."),
                    json!({"name": name, "path": path, "usedPercent": used, "threshold": percent}),
                )
            })
            .collect(),
        RuleKind::GatewayDown => match obs.gateway {
            Some((port, false)) => vec![base(
                "",
                "critical",
                format!("Gateway down: port {port} refuses connections"),
                format!("Nothing answers on the OpenClaw gateway port {port} on this machine."),
                json!({"port": port}),
            )],
            _ => Vec::new(),
        },
    }
}

// ---- delivery --------------------------------------------------------------------------------

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
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Starts the `alert-sender` thread.
pub fn spawn_sender(history: Arc<History>, settings: SendSettings) -> std::io::Result<(Sender<Job>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let h =
        std::thread::Builder::new().name("alert-sender".into()).spawn(move || sender_loop(history, settings, rx))?;
    Ok((tx, h))
}

fn sender_loop(history: Arc<History>, settings: SendSettings, rx: Receiver<Job>) {
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
struct SendError {
    msg: String,
    retry: bool,
}

fn deliver(agent: &ureq::Agent, s: &SendSettings, job: &Job) -> Vec<Delivery> {
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

fn icon(severity: &str) -> &'static str {
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

fn webhook_body(job: &Job, host: &str) -> Vec<u8> {
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

fn http_error(e: ureq::Error, secret: Option<&str>) -> SendError {
    let mut msg = e.to_string();
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        msg = msg.replace(s, "<redacted>");
    }
    SendError { msg, retry: true }
}

fn send_telegram(agent: &ureq::Agent, base: &str, t: &Telegram, text: &str) -> Result<(), SendError> {
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

fn send_webhook(agent: &ureq::Agent, w: &Webhook, body: &[u8]) -> Result<(), SendError> {
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

// ---- HMAC-SHA256, hex, base64 ----------------------------------------------------------------

/// HMAC-SHA256 (RFC 2104): the `hmac` crate over `sha2`, which the gateway's device identity
/// already needs.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

use crate::codec::hex;

/// Standard base64 with padding (MIME bodies, RFC 2047 subjects, SMTP AUTH).
pub fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

// ---- SMTP ------------------------------------------------------------------------------------

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(b),
            Conn::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn tls_wrap(tcp: TcpStream, host: &str) -> Result<Conn, SendError> {
    let fail = |m: String| SendError { msg: m, retry: false };
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|e| fail(format!("TLS: bad server name {host:?}: {e}")))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| fail(format!("TLS: {e}")))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Handshake now, so that a certificate problem is reported as such.
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| SendError { msg: format!("TLS handshake with {host}: {e}"), retry: true })?;
    }
    Ok(Conn::Tls(Box::new(s)))
}

struct Smtp {
    conn: Conn,
    buf: Vec<u8>,
}

impl Smtp {
    fn line(&mut self) -> Result<String, SendError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err(SendError { msg: "SMTP: reply line too long".into(), retry: false });
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .conn
                .read(&mut chunk)
                .map_err(|e| SendError { msg: format!("SMTP: reading the reply: {e}"), retry: true })?;
            if n == 0 {
                return Err(SendError { msg: "SMTP: the server closed the connection".into(), retry: true });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One reply: its code and its lines (multi-line replies are `250-...` up to `250 ...`).
    fn reply(&mut self) -> Result<(u16, Vec<String>), SendError> {
        let mut lines = Vec::new();
        loop {
            let l = self.line()?;
            let code: u16 = l.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| SendError {
                msg: format!("SMTP: not a reply line: {:?}", l.chars().take(80).collect::<String>()),
                retry: false,
            })?;
            let more = l.as_bytes().get(3) == Some(&b'-');
            lines.push(l.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.conn
            .write_all(data)
            .and_then(|_| self.conn.flush())
            .map_err(|e| SendError { msg: format!("SMTP: writing: {e}"), retry: true })
    }

    /// Sends a command and expects one of `ok`; `shown` replaces the command in errors.
    fn cmd(&mut self, line: &str, ok: &[u16], shown: Option<&str>) -> Result<Vec<String>, SendError> {
        self.send(format!("{line}\r\n").as_bytes())?;
        let (code, lines) = self.reply()?;
        if ok.contains(&code) {
            Ok(lines)
        } else {
            let verb = shown.unwrap_or_else(|| line.split(':').next().unwrap_or(line));
            Err(SendError {
                msg: format!("SMTP: {verb} refused: {code} {}", lines.join(" ")),
                // 4xx is temporary by definition; 5xx is permanent.
                retry: (400..500).contains(&code),
            })
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Tue, 24 Nov 2026 21:06:10 +0000`.
pub fn rfc2822(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = ms.div_euclid(86_400_000);
    let (y, m, d) = crate::timefmt::civil_from_days(days);
    let r = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

/// The message as sent after DATA (headers, body, dot-stuffed, CRLF line ends, final dot).
pub fn email_message(e: &Email, subject: &str, body: &str, at_ms: i64, host: &str) -> String {
    let subject =
        if subject.is_ascii() { subject.to_string() } else { format!("=?UTF-8?B?{}?=", base64(subject.as_bytes())) };
    let mut m = String::new();
    m.push_str(&format!("Date: {}\r\n", rfc2822(at_ms)));
    m.push_str(&format!("From: {}\r\n", e.from));
    m.push_str(&format!("To: {}\r\n", e.to.join(", ")));
    m.push_str(&format!("Subject: {subject}\r\n"));
    m.push_str(&format!("Message-ID: <{at_ms}.{}@{host}>\r\n", std::process::id()));
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    m.push_str(&format!("X-Mailer: clawmetry/{}\r\n", env!("CARGO_PKG_VERSION")));
    if body.is_ascii() {
        m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        for line in body.lines() {
            if line.starts_with('.') {
                m.push('.');
            }
            m.push_str(line);
            m.push_str("\r\n");
        }
    } else {
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let b = base64(body.replace('\n', "\r\n").as_bytes());
        for chunk in b.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            m.push_str("\r\n");
        }
    }
    m.push_str(".\r\n");
    m
}

fn send_email(
    e: &Email,
    subject: &str,
    body: &str,
    at_ms: i64,
    timeout: Duration,
    host: &str,
) -> Result<(), SendError> {
    if e.password.is_some() && e.security == Security::None && !is_loopback(&e.host) {
        return Err(SendError {
            msg: "refusing to send the SMTP password unencrypted: set security to starttls or tls".into(),
            retry: false,
        });
    }
    let addrs: Vec<_> = (e.host.trim_start_matches('[').trim_end_matches(']'), e.port)
        .to_socket_addrs()
        .map_err(|err| SendError { msg: format!("SMTP: cannot resolve {}: {err}", e.host), retry: true })?
        .collect();
    let mut last = format!("SMTP: {} has no address", e.host);
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(err) => last = format!("SMTP: cannot connect to {}:{}: {err}", e.host, e.port),
        }
    }
    let tcp = tcp.ok_or(SendError { msg: last, retry: true })?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let conn = if e.security == Security::Tls { tls_wrap(tcp, &e.host)? } else { Conn::Plain(tcp) };
    let mut s = Smtp { conn, buf: Vec::new() };
    let (code, lines) = s.reply()?;
    if code != 220 {
        return Err(SendError {
            msg: format!("SMTP: greeting {code} {}", lines.join(" ")),
            retry: (400..500).contains(&code),
        });
    }
    let helo_name: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').collect();
    let helo_name = if helo_name.is_empty() { "localhost".to_string() } else { helo_name };
    let mut ext = s.cmd(&format!("EHLO {helo_name}"), &[250], None)?;
    if e.security == Security::StartTls {
        if !ext.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
            return Err(SendError {
                msg: format!(
                    "SMTP: {} does not offer STARTTLS; use security \"tls\" (port 465) or, for a local relay, \"none\"",
                    e.host
                ),
                retry: false,
            });
        }
        s.cmd("STARTTLS", &[220], None)?;
        if !s.buf.is_empty() {
            // Anything sent before the handshake could be an injection: never carry it over.
            return Err(SendError { msg: "SMTP: the server sent data before the TLS handshake".into(), retry: false });
        }
        let Conn::Plain(tcp) = s.conn else { unreachable!("STARTTLS starts from a plain connection") };
        s = Smtp { conn: tls_wrap(tcp, &e.host)?, buf: Vec::new() };
        ext = s.cmd(&format!("EHLO {helo_name}"), &[250], None)?;
    }
    if let Some(user) = &e.username {
        let pw = e.password.as_deref().unwrap_or("");
        let auth = ext.iter().find(|l| l.to_ascii_uppercase().starts_with("AUTH")).map(|l| l.to_ascii_uppercase());
        match auth {
            Some(a) if a.split_whitespace().any(|m| m == "PLAIN") => {
                let token = base64(format!("\0{user}\0{pw}").as_bytes());
                s.cmd(&format!("AUTH PLAIN {token}"), &[235], Some("AUTH PLAIN"))?;
            }
            Some(a) if a.split_whitespace().any(|m| m == "LOGIN") => {
                s.cmd("AUTH LOGIN", &[334], None)?;
                s.cmd(&base64(user.as_bytes()), &[334], Some("AUTH LOGIN user name"))?;
                s.cmd(&base64(pw.as_bytes()), &[235], Some("AUTH LOGIN password"))?;
            }
            _ => {
                return Err(SendError {
                    msg: format!("SMTP: {} offers no AUTH PLAIN or LOGIN, but a user name is set", e.host),
                    retry: false,
                })
            }
        }
    }
    s.cmd(&format!("MAIL FROM:<{}>", e.from), &[250], None)?;
    for to in &e.to {
        s.cmd(&format!("RCPT TO:<{to}>"), &[250, 251], None)?;
    }
    s.cmd("DATA", &[354], None)?;
    s.send(email_message(e, subject, body, at_ms, &helo_name).as_bytes())?;
    let (code, lines) = s.reply()?;
    if code != 250 {
        return Err(SendError {
            msg: format!("SMTP: the message was refused: {code} {}", lines.join(" ")),
            retry: (400..500).contains(&code),
        });
    }
    let _ = s.cmd("QUIT", &[221], None);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_rfc4231() {
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Test case 7: a long key and a long message.
        let msg = b"This is a test using a larger than block-size key and a larger than block-size data. \
                    The key needs to be hashed before being used by the HMAC algorithm.";
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], msg)),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn base64_and_dates() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        let t = crate::timefmt::parse_iso_ms("2026-11-24T21:06:10Z").unwrap();
        assert_eq!(rfc2822(t), "Tue, 24 Nov 2026 21:06:10 +0000");
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn budget_validation_and_levels() {
        let b = Budget::from_json(
            &json!({"dailyUsd": 5, "monthlyUsd": 100, "agents": {"ops": {"dailyUsd": 1}}, "autoPause": true}),
        )
        .unwrap();
        assert_eq!(b.overall.daily_usd, Some(5.0));
        assert_eq!(b.warn_percent, 80.0);
        assert!(b.auto_pause);
        let limits = b.limits();
        assert_eq!(limits.len(), 3);
        assert_eq!(limits[2], (Some("ops"), Period::Day, 1.0));
        assert_eq!(Budget::from_json(&b.to_json()).unwrap(), b);
        for (bad, want) in [
            (json!({"dailyUsd": -1}), "dailyUsd"),
            (json!({"dailyUsd": 0}), "more than 0"),
            (json!({"dailyUsd": "5"}), "must be a number"),
            (json!({"daily": 5}), "unknown field \"daily\""),
            (json!({"warnPercent": 100}), "warnPercent"),
            (json!({"agents": []}), "agents must be an object"),
            (json!({"agents": {"x": {"weekly": 1}}}), "budget.agents.x: unknown field"),
            (json!([1]), "must be a JSON object"),
        ] {
            let e = Budget::from_json(&bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert_eq!(level(0.79, 1.0, 80.0), Level::Ok);
        assert_eq!(level(0.8, 1.0, 80.0), Level::Warning);
        assert_eq!(level(1.0, 1.0, 80.0), Level::Over);
    }

    #[test]
    fn channels_keep_secrets_hidden_and_merge_them() {
        let v = json!({
            "telegram": {"botToken": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "chatId": -1001234},
            "webhook": {"url": "https://hooks.example.com/x", "secret": "s3cret"},
            "email": {"host": "smtp.example.com", "from": "bot@example.com", "to": "a@example.com, b@example.com",
                      "username": "bot", "password": "pw"}
        });
        let c = Channels::from_json(&v, &Channels::default()).unwrap();
        assert_eq!(c.telegram.as_ref().unwrap().chat_id, "-1001234");
        assert_eq!(c.email.as_ref().unwrap().port, 587);
        assert_eq!(c.email.as_ref().unwrap().to.len(), 2);
        let public = c.public_json().to_string();
        for secret in ["ABC-DEF1234", "s3cret", "\"pw\""] {
            assert!(!public.contains(secret), "{secret} leaked: {public}");
        }
        assert!(public.contains("\"botTokenSet\":true") && public.contains("\"passwordSet\":true"));
        // A PUT of the public form keeps every secret; "" clears one.
        let mut again = c.public_json();
        again["webhook"]["secret"] = json!("");
        let c2 = Channels::from_json(&again, &c).unwrap();
        assert_eq!(c2.telegram, c.telegram);
        assert_eq!(c2.email.as_ref().unwrap().password.as_deref(), Some("pw"));
        assert_eq!(c2.webhook.as_ref().unwrap().secret, None);
        assert_eq!(Channels::from_json(&c.to_json(), &Channels::default()).unwrap(), c);
        for (bad, want) in [
            (json!({"telegram": {"chatId": 1}}), "botToken is required"),
            (json!({"telegram": {"botToken": "1:a/b", "chatId": 1}}), "does not look like"),
            (json!({"telegram": {"botToken": "1:abc", "chatId": "me"}}), "chatId"),
            (json!({"webhook": {"url": "ftp://x"}}), "http:// or https://"),
            (json!({"email": {"host": "h", "from": "x", "to": "a@b.c"}}), "from is not an e-mail"),
            (json!({"email": {"host": "h", "from": "a@b.c", "to": []}}), "1 to 20 recipient"),
            (json!({"email": {"host": "h", "from": "a@b.c", "to": "x@y.z\r\nBcc: evil@x.y"}}), "not an e-mail address"),
            (
                json!({"email": {"host": "h", "from": "a@b.c", "to": "x@y.z", "security": "ssl"}}),
                "starttls, tls or none",
            ),
            (json!({"sms": {}}), "unknown field"),
        ] {
            let e = Channels::from_json(&bad, &Channels::default()).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn rules_decode_with_defaults_and_clear_errors() {
        let r = Rule::from_json(&json!({"kind": "token_spike", "tokens": 1000}), 4).unwrap();
        assert_eq!(r.kind, RuleKind::TokenSpike { tokens: 1000, minutes: 10 });
        assert_eq!((r.id, r.cooldown_minutes, r.enabled), (4, 30, true));
        assert_eq!(r.name, "More than 1000 tokens in 10 min");
        assert_eq!(Rule::from_json(&r.to_json(), 4).unwrap(), r);
        for k in RULE_KINDS {
            let mut v = json!({"kind": k, "tokens": 5, "percent": 50, "minutes": 5});
            let o = v.as_object_mut().unwrap();
            match *k {
                "token_spike" => o.remove("percent"),
                "error_rate" => o.remove("tokens"),
                "disk" => {
                    o.remove("tokens");
                    o.remove("minutes")
                }
                "gateway_down" => {
                    o.remove("tokens");
                    o.remove("percent");
                    o.remove("minutes")
                }
                _ => {
                    o.remove("tokens");
                    o.remove("percent")
                }
            };
            let r = Rule::from_json(&v, 1).unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(r.kind_name(), *k);
            assert_eq!(Rule::from_json(&r.to_json(), 1).unwrap(), r);
        }
        for (bad, want) in [
            (json!({}), "kind is required"),
            (json!({"kind": "moon_phase"}), "unknown kind"),
            (json!({"kind": "token_spike"}), "tokens is required"),
            (json!({"kind": "token_spike", "tokens": 10, "percent": 5}), "unknown field \"percent\""),
            (json!({"kind": "long_session", "minutes": 0}), "from 1 to"),
            (json!({"kind": "disk", "percent": 150}), "percent must be a number from 1 to 100"),
            (json!({"kind": "disk", "percent": 90, "enabled": "yes"}), "true or false"),
        ] {
            let e = Rule::from_json(&bad, 1).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    fn sample(m: i64, tokens: u64, events: u64, errors: u64) -> Sample {
        Sample { mono_ms: m * 60_000, tokens, events, errors }
    }

    #[test]
    fn windows_and_rule_evaluation() {
        let mut obs = Observations { now_ms: 10 * 3_600_000, ..Default::default() };
        obs.window.push(sample(0, 1000, 10, 0));
        obs.window.push(sample(5, 1500, 20, 1));
        // A dip (a session re-read) counts as zero, not as negative.
        obs.window.push(sample(6, 1200, 20, 1));
        obs.window.push(sample(10, 9000, 40, 9));
        let d = obs.window.delta(5).unwrap();
        assert_eq!((d.tokens, d.events, d.errors, d.covered_ms), (7800, 20, 8, 300_000));
        assert_eq!(obs.window.delta(60).unwrap().tokens, 8300);
        let rule = |v: Value| Rule::from_json(&v, 7).unwrap();
        let spike = rule(json!({"kind": "token_spike", "tokens": 5000, "minutes": 5}));
        let a = evaluate(&spike, &obs);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].dedupe, "rule:7");
        assert_eq!(a[0].data["tokens"], 7800);
        assert!(evaluate(&rule(json!({"kind": "token_spike", "tokens": 9000, "minutes": 5})), &obs).is_empty());
        let mut off = spike.clone();
        off.enabled = false;
        assert!(evaluate(&off, &obs).is_empty());
        // 8 errors of 20 = 40%.
        assert_eq!(evaluate(&rule(json!({"kind": "error_rate", "percent": 30, "minutes": 5})), &obs).len(), 1);
        assert!(evaluate(&rule(json!({"kind": "error_rate", "percent": 50, "minutes": 5})), &obs).is_empty());
        assert!(evaluate(&rule(json!({"kind": "error_rate", "percent": 30, "minutes": 5, "minEvents": 21})), &obs)
            .is_empty());

        obs.running = vec![
            RunningSession {
                id: "s-old".into(),
                agent: "main".into(),
                label: Some("Old".into()),
                started_ms: obs.now_ms - 3_600_000,
            },
            RunningSession { id: "s-new".into(), agent: "main".into(), label: None, started_ms: obs.now_ms - 60_000 },
        ];
        let a = evaluate(&rule(json!({"kind": "long_session", "minutes": 30})), &obs);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].dedupe, "rule:7:session:s-old");
        assert_eq!(a[0].title, "Session Old running for 60 min");

        let fail = |job: &str, ago_min: i64| CronFailure {
            run_id: format!("r{ago_min}"),
            job_id: job.into(),
            job_name: Some(format!("job {job}")),
            finished_ms: obs.now_ms - ago_min * 60_000,
            status: "error".into(),
            error: Some("exit 3".into()),
        };
        obs.cron_failures = vec![fail("a", 5), fail("a", 10), fail("b", 500)];
        let a = evaluate(&rule(json!({"kind": "cron_failure"})), &obs);
        assert_eq!(a.len(), 1, "job b failed too long ago");
        assert_eq!(a[0].data["failures"], 2);
        assert_eq!(a[0].severity, "critical");
        assert!(a[0].message.contains("exit 3"));

        obs.disks =
            vec![("OpenClaw dir".into(), "/home/pi/.openclaw".into(), 91.5), ("data dir".into(), "/data".into(), 40.0)];
        let a = evaluate(&rule(json!({"kind": "disk", "percent": 90})), &obs);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].dedupe, "rule:7:disk:/home/pi/.openclaw");
        obs.gateway = Some((18789, false));
        assert_eq!(evaluate(&rule(json!({"kind": "gateway_down"})), &obs).len(), 1);
        obs.gateway = Some((18789, true));
        assert!(evaluate(&rule(json!({"kind": "gateway_down"})), &obs).is_empty());
    }

    #[test]
    fn email_message_is_dot_stuffed_and_encoded() {
        let e = Email {
            enabled: true,
            host: "h".into(),
            port: 25,
            security: Security::None,
            username: None,
            password: None,
            from: "bot@example.com".into(),
            to: vec!["a@example.com".into()],
        };
        let m = email_message(&e, "[clawmetry] Disk", "line\n.dot first\nend", 0, "pi");
        assert!(m.contains("\r\n..dot first\r\n"), "{m}");
        assert!(m.ends_with("end\r\n.\r\n"));
        assert!(m.contains("Subject: [clawmetry] Disk\r\n"));
        let m = email_message(&e, "Budget 🔴", "über", 0, "pi");
        assert!(m.contains("Subject: =?UTF-8?B?"));
        assert!(m.contains("Content-Transfer-Encoding: base64"));
        assert!(m.contains(&base64("über".as_bytes())));
        assert!(
            is_loopback("127.0.0.1")
                && is_loopback("[::1]")
                && is_loopback("localhost")
                && !is_loopback("mail.example.com")
        );
    }
}
