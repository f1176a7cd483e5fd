//! The monitor thread: system health every few seconds; every `--monitor-interval` (60 s) the
//! usage sync into the history, the budget check (with auto-pause) and the alert rules; every
//! `--history-interval` (300 s) a history snapshot; hourly the history retention.
//!
//! [`Monitor`] is the handle the HTTP handlers use (`api::Ctx::monitor`), made before the thread
//! starts (`Monitor::open`, then `spawn`): the latest health report, the budget status, the
//! settings (kept in memory and in `history.db`), and a way to wake the thread after a settings
//! change. Alerts are recorded in the history first and then
//! handed to the `alert-sender` thread (`alerts.rs`), so that sending never delays the checks.
//!
//! The guard (`guard.rs`): new transcript lines wake the thread at once (the watcher's feed,
//! `Index::guard`), and the loop rules run on the lines that arrived; every 15 s it also runs
//! without new lines, to forget idle sessions and renew a manual pause.
//!
//! Budget pause: when spend reaches a limit and `autoPause` is on, the monitor asks the gateway
//! for `gateway.suspend.prepare` (the real gateway's suspension RPC, in the 2026.9 method list):
//! the gateway pauses cron scheduling and accepts no new work, only `gateway.suspend.*` calls,
//! until `gateway.suspend.resume`. The suspension is a lease of about two minutes; the monitor
//! renews it at every check while spend is over the limit, so a stopped clawmetry can never
//! leave the gateway suspended. Work already running is not killed: a busy gateway declines and
//! the monitor tries again at the next check. It resumes by itself when spend is under every
//! limit again (limit raised or removed, a new day or month); `POST /api/budget/resume` resumes
//! at once and keeps the gateway running until the current budget period ends.

use crate::alerts::{self, Alert, Budget, Channels, Delivery, GuardSettings, Job, Rule};
use crate::gateway;
use crate::history::History;
use crate::state::Index;
use crate::system::Roots;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

mod budget;
mod cells;
mod guard;
mod health;
mod run;

use budget::Pause;
use run::run;

/// Disk use above this is flagged in the health report.
pub const DISK_WARN_PERCENT: f64 = 85.0;
const PAUSE_REQUEST_ID: &str = "clawmetry-budget";
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

pub const PAUSE_EXPLANATION: &str = "Pausing suspends the OpenClaw gateway through its own RPC \
gateway.suspend.prepare: it stops scheduling cron jobs and accepts no new work (only \
gateway.suspend.* calls) until it is resumed. Work already running is not killed; a busy \
gateway declines and clawmetry tries again at the next check. The suspension is a lease of about \
two minutes that clawmetry renews while spend is over a limit, so if clawmetry stops the gateway \
resumes by itself. It resumes when spend is under every limit again (limit raised or removed, a \
new day or month), or at once with Resume (POST /api/budget/resume, which calls \
gateway.suspend.resume) and then stays running until the current budget period ends.";

/// Fixed at start from the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Budget, rules and the usage sync.
    pub interval: Duration,
    /// History snapshots.
    pub history_interval: Duration,
    pub history_days: u32,
    pub data_dir: Option<PathBuf>,
    pub send: alerts::SendSettings,
    pub roots: Roots,
}

impl Settings {
    pub fn from_cli(cfg: &crate::cli::Config) -> Settings {
        Settings {
            interval: Duration::from_secs(cfg.monitor_interval_secs),
            history_interval: Duration::from_secs(cfg.history_interval_secs),
            history_days: cfg.history_days,
            data_dir: cfg.data_dir.clone(),
            send: alerts::SendSettings {
                telegram_api_base: cfg.telegram_api_base.clone(),
                retry_delays: vec![
                    Duration::from_secs(cfg.alert_retry_secs),
                    Duration::from_secs(cfg.alert_retry_secs * 5),
                ],
                ..Default::default()
            },
            roots: Roots::default(),
        }
    }
}

/// The settings users edit.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub budget: Budget,
    pub channels: Channels,
    pub rules: Vec<Rule>,
    /// Loop and runaway detection (`alerts::guard`).
    pub guard: GuardSettings,
}

/// What the monitor thread is woken for.
#[derive(Default)]
struct Wake {
    /// The checks (budget, rules) now.
    check: bool,
    /// New lines in the guard's feed.
    guard: bool,
}

#[derive(Default)]
struct Status {
    health: Option<Value>,
    budget: Value,
    last_tick_ms: Option<i64>,
    last_error: Option<String>,
    /// The last history write failed (cleared by the next one that works): on /api/health.
    history_error: Option<String>,
    ticks: u64,
    /// Rule incidents open after the last check.
    open_incidents: usize,
    /// How long the last check took (µs): all of it, and the detection part (observations
    /// gathered over the index, the guard's baselines, the rules and their incidents).
    check_us: u64,
    rules_us: u64,
}

/// The monitor's shared handle, made before its thread starts (`Monitor::open`).
pub struct Monitor {
    index: Arc<Index>,
    gateway: gateway::Handle,
    pub history: Arc<History>,
    pub settings: Settings,
    config: RwLock<Config>,
    status: Mutex<Status>,
    pause: Mutex<Pause>,
    /// Serialises pausing and resuming (the monitor's check and a manual resume), which each
    /// read the pause state, call the gateway and write the state back.
    pause_op: Mutex<()>,
    outbox: Mutex<Sender<Job>>,
    wake: (Mutex<Wake>, Condvar),
    /// Loop detection's state, fed and evaluated by the monitor thread (`guard.rs`); read by
    /// `GET /api/guard`.
    guard: Mutex<alerts::Guard>,
    guard_stats: Mutex<guard::Stats>,
    /// Each agent's usual tokens per minute (the median of its sessions'), from the last check.
    guard_baseline: Mutex<foldhash::HashMap<String, f64>>,
    /// A pause made by hand (`POST /api/guard/pause`): its suspension id and last renewal.
    manual_suspension: Mutex<Option<(String, std::time::Instant)>>,
    /// Every control action (stop, pause, resume): `<data-dir>/audit.jsonl`.
    pub audit: crate::audit::Audit,
}

use crate::sync::lock;

/// Why the monitor could not do what it was asked. The HTTP layer picks the status.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The input is wrong (a budget, rule or channel setting): the message says how.
    Invalid(String),
    /// No such thing (an alert rule id).
    NotFound(String),
    /// It cannot be done now (settings cannot be kept, the sender thread is gone).
    Unavailable(String),
    /// The channels did not answer in time.
    Timeout(String),
    /// history.db refused a write.
    Storage(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(m) | Error::NotFound(m) | Error::Unavailable(m) | Error::Timeout(m) | Error::Storage(m) => {
                f.write_str(m)
            }
        }
    }
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::Storage(format!("cannot store the setting in history.db: {e}"))
}

impl Monitor {
    /// Settings are changed only where they can be kept: with history.db in memory (its file
    /// could not be opened) a change would be lost at the next start, so it is refused.
    fn require_persistent(&self) -> Result<(), Error> {
        if self.history.persistent() {
            return Ok(());
        }
        Err(Error::Unavailable(format!(
            "settings cannot be saved: {}; fix the data dir (--data-dir) and restart clawmetry",
            self.history.open_error.as_deref().unwrap_or("history.db is not open")
        )))
    }

    /// Why the last history write failed, while it keeps failing.
    pub fn history_error(&self) -> Option<String> {
        lock(&self.status).history_error.clone()
    }

    pub fn config(&self) -> Config {
        crate::sync::read(&self.config).clone()
    }

    /// Runs the checks now instead of at the next interval.
    pub fn wake(&self) {
        lock(&self.wake.0).check = true;
        self.wake.1.notify_all();
    }

    /// Runs the guard now (new lines in its feed).
    fn wake_guard(&self) {
        lock(&self.wake.0).guard = true;
        self.wake.1.notify_all();
    }

    pub fn health(&self) -> Option<Value> {
        lock(&self.status).health.clone()
    }

    pub fn budget_status(&self) -> Value {
        lock(&self.status).budget.clone()
    }

    pub fn pause_json(&self) -> Value {
        let mut v = lock(&self.pause).json();
        v["explanation"] = json!(PAUSE_EXPLANATION);
        v["method"] = json!("gateway.suspend.prepare");
        v
    }

    pub fn monitor_json(&self) -> Value {
        let st = lock(&self.status);
        json!({"intervalSeconds": self.settings.interval.as_secs(), "historyIntervalSeconds": self.settings.history_interval.as_secs(),
            "lastTickMs": st.last_tick_ms, "ticks": st.ticks, "lastError": st.last_error,
            "openIncidents": st.open_incidents, "lastCheckUs": st.check_us, "lastRulesUs": st.rules_us})
    }

    pub fn set_budget(&self, v: &Value, now_ms: i64) -> Result<Budget, Error> {
        self.require_persistent()?;
        let b = Budget::from_json(v).map_err(Error::Invalid)?;
        self.history.put_setting("budget", &b.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).budget = b.clone();
        self.wake();
        Ok(b)
    }

    pub fn set_channels(&self, v: &Value, now_ms: i64) -> Result<Channels, Error> {
        self.require_persistent()?;
        let old = self.config().channels;
        let c = Channels::from_json(v, &old).map_err(Error::Invalid)?;
        self.history.put_setting("channels", &c.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).channels = c.clone();
        Ok(c)
    }

    pub fn add_rule(&self, v: &Value, now_ms: i64) -> Result<Rule, Error> {
        self.require_persistent()?;
        let r = Rule::from_json(v, 0).map_err(Error::Invalid)?;
        if self.config().rules.len() >= 200 {
            return Err(Error::Invalid("at most 200 alert rules".into()));
        }
        let id = self.history.insert_rule(&r.to_json(), now_ms).map_err(db_err)?;
        let r = Rule { id, ..r };
        self.history.update_rule(id, &r.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).rules.push(r.clone());
        self.wake();
        Ok(r)
    }

    pub fn update_rule(&self, id: i64, v: &Value, now_ms: i64) -> Result<Rule, Error> {
        self.require_persistent()?;
        if !self.config().rules.iter().any(|r| r.id == id) {
            return Err(Error::NotFound(format!("alert rule {id} not found")));
        }
        let r = Rule::from_json(v, id).map_err(Error::Invalid)?;
        self.history.update_rule(id, &r.to_json(), now_ms).map_err(db_err)?;
        let mut c = crate::sync::write(&self.config);
        if let Some(x) = c.rules.iter_mut().find(|x| x.id == id) {
            *x = r.clone();
        }
        drop(c);
        self.wake();
        Ok(r)
    }

    pub fn delete_rule(&self, id: i64) -> Result<(), Error> {
        self.require_persistent()?;
        if !self.history.delete_rule(id).map_err(db_err)? {
            return Err(Error::NotFound(format!("alert rule {id} not found")));
        }
        crate::sync::write(&self.config).rules.retain(|r| r.id != id);
        Ok(())
    }

    /// Sends a test message to the enabled channels (or only `only`) and waits for the outcome.
    pub fn send_test(&self, only: Option<&str>, now_ms: i64) -> Result<Vec<Delivery>, Error> {
        let mut channels = self.config().channels;
        if let Some(o) = only {
            if !["telegram", "webhook", "email"].contains(&o) {
                return Err(Error::Invalid(format!("channel={o:?}: use telegram, webhook or email")));
            }
            if o != "telegram" {
                channels.telegram = None;
            }
            if o != "webhook" {
                channels.webhook = None;
            }
            if o != "email" {
                channels.email = None;
            }
        }
        if channels.enabled().is_empty() {
            return Err(Error::Invalid(
                "no alert channel is configured and enabled: set one with PUT /api/alerts/channels".into(),
            ));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let alert = Alert {
            kind: "test".into(),
            severity: "info",
            rule_id: None,
            dedupe: "test".into(),
            title: "Test message from clawmetry".into(),
            message: "Alerts from this dashboard reach you here.".into(),
            data: json!({}),
        };
        let job = Job { alert_id: None, alert, at_ms: now_ms, channels, attempts: 1, reply: Some(tx) };
        lock(&self.outbox)
            .send(job)
            .map_err(|_| Error::Unavailable("the alert sender thread is not running".to_string()))?;
        // One attempt per channel, each bounded by the send timeout (connect + exchange).
        let wait = self.settings.send.timeout * 4 + Duration::from_secs(5);
        rx.recv_timeout(wait).map_err(|_| Error::Timeout("the channels did not answer in time".to_string()))
    }

    /// Records an alert and queues it for sending (respecting its dedupe cooldown is the
    /// caller's job). Returns the alert id.
    fn record(&self, a: Alert, now_ms: i64) -> Option<i64> {
        let channels = self.config().channels;
        let enabled = !channels.enabled().is_empty();
        let row = crate::history::AlertRow {
            id: 0,
            ts: now_ms,
            kind: a.kind.clone(),
            severity: a.severity.to_string(),
            rule_id: a.rule_id,
            dedupe: a.dedupe.clone(),
            title: a.title.clone(),
            message: a.message.clone(),
            data: a.data.clone(),
            status: if enabled { "pending" } else { "not-sent" }.to_string(),
            deliveries: json!([]),
            acked_ms: None,
            resolved_ms: None,
        };
        let id = match self.history.insert_alert(&row) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("clawmetry: cannot record alert {:?}: {e}", a.title);
                lock(&self.status).last_error = Some(format!("cannot record an alert: {e}"));
                return None;
            }
        };
        self.index.hub.publish("alert", json!({"id": id, "kind": a.kind, "severity": a.severity, "title": a.title}));
        if enabled {
            let job = Job { alert_id: Some(id), alert: a, at_ms: now_ms, channels, attempts: 3, reply: None };
            if lock(&self.outbox).send(job).is_err() {
                let _ = self.history.set_alert_delivery(
                    id,
                    "failed",
                    &json!([{"error": "the alert sender thread is not running"}]),
                );
            }
        }
        Some(id)
    }

    /// Records `a` unless an alert with its dedupe key was recorded less than `cooldown` ago.
    fn fire(&self, a: Alert, cooldown_ms: i64, now_ms: i64) -> bool {
        if let Some(last) = self.history.last_fired(&a.dedupe) {
            if cooldown_ms < 0 || now_ms - last < cooldown_ms {
                return false;
            }
        }
        self.record(a, now_ms).is_some()
    }
}

fn info_alert(kind: &str, title: &str, message: String) -> Alert {
    Alert {
        kind: kind.into(),
        severity: "info",
        rule_id: None,
        dedupe: kind.into(),
        title: title.into(),
        message,
        data: json!({}),
    }
}

// ---- the thread ------------------------------------------------------------------------------

impl Monitor {
    /// The handle: opens the history, loads the settings and starts the alert sender thread.
    /// The monitor thread itself starts with [`spawn`].
    pub fn open(index: Arc<Index>, gateway: gateway::Handle, settings: Settings) -> std::io::Result<Arc<Monitor>> {
        let history = Arc::new(History::open(settings.data_dir.as_deref(), settings.history_days));
        if let Some(e) = &history.open_error {
            eprintln!("clawmetry: history kept in memory only: {e}");
        }
        let mut config = Config::default();
        if let Some(b) = history.setting("budget").and_then(|v| Budget::from_json(&v).ok()) {
            config.budget = b;
        }
        if let Some(c) = history.setting("channels").and_then(|v| Channels::from_json(&v, &Channels::default()).ok()) {
            config.channels = c;
        }
        for (id, v) in history.rules().unwrap_or_default() {
            match Rule::from_json(&v, id) {
                Ok(r) => config.rules.push(r),
                Err(e) => eprintln!("clawmetry: alert rule {id} in history.db ignored: {e}"),
            }
        }
        match history.setting("guard").map(|v| GuardSettings::from_json(&v)) {
            Some(Ok(g)) => config.guard = g,
            Some(Err(e)) => eprintln!("clawmetry: guard settings in history.db ignored: {e}"),
            None => {}
        }
        let pause = history.setting("pause").map(|v| Pause::from_json(&v)).unwrap_or_default();
        let (outbox, _sender) = alerts::spawn_sender(history.clone(), settings.send.clone())?;
        let audit = crate::audit::Audit::open(settings.data_dir.as_deref());
        let mon = Arc::new(Monitor {
            index,
            gateway,
            history,
            settings,
            config: RwLock::new(config),
            status: Mutex::new(Status::default()),
            pause: Mutex::new(pause),
            pause_op: Mutex::new(()),
            outbox: Mutex::new(outbox),
            wake: (Mutex::new(Wake::default()), Condvar::new()),
            guard: Mutex::default(),
            guard_stats: Mutex::default(),
            guard_baseline: Mutex::default(),
            manual_suspension: Mutex::default(),
            audit,
        });
        // New transcript lines wake the thread for the guard at once.
        let weak = Arc::downgrade(&mon);
        mon.index.guard.set_waker(Box::new(move || {
            if let Some(m) = weak.upgrade() {
                m.wake_guard();
            }
        }));
        Ok(mon)
    }
}

/// Starts the monitor thread behind `mon`.
pub fn spawn(mon: Arc<Monitor>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("monitor".into()).spawn(move || run(mon))
}

#[cfg(test)]
mod tests;
