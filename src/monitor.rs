//! The monitor thread: system health every few seconds; every `--monitor-interval` (60 s) the
//! usage sync into the history, the budget check (with auto-pause) and the alert rules; every
//! `--history-interval` (300 s) a history snapshot; hourly the history retention.
//!
//! [`Monitor`] is the handle the HTTP handlers use (through `Ctx::monitor`): the latest health
//! report, the budget status, the settings (kept in memory and in `history.db`), and a way to
//! wake the thread after a settings change. Alerts are recorded in the history first and then
//! handed to the `alert-sender` thread (`alerts.rs`), so that sending never delays the checks.
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

use crate::alerts::{self, Alert, Budget, Channels, Delivery, Job, Level, Observations, Period, Rule, Sample};
use crate::history::{CellKey, History, Snapshot, UsageRow, SNAPSHOT_METRICS};
use crate::state::{round_cost, Shared};
use crate::system::{self, Roots};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
}

/// Auto-pause bookkeeping, also stored in the history (a restart must know the suspension id).
#[derive(Debug, Clone, Default)]
struct Pause {
    active: bool,
    suspension_id: Option<String>,
    since_ms: Option<i64>,
    expires_at_ms: Option<i64>,
    reason: Option<String>,
    last_attempt_ms: Option<i64>,
    last_error: Option<String>,
    /// After a manual resume: no automatic pause before this time (the end of the period).
    override_until_ms: Option<i64>,
}

impl Pause {
    fn json(&self) -> Value {
        json!({"active": self.active, "suspensionId": self.suspension_id, "sinceMs": self.since_ms,
            "expiresAtMs": self.expires_at_ms, "reason": self.reason, "lastAttemptMs": self.last_attempt_ms,
            "lastError": self.last_error, "overrideUntilMs": self.override_until_ms})
    }
    fn from_json(v: &Value) -> Pause {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| v.get(k).and_then(Value::as_i64);
        Pause {
            active: v["active"] == true,
            suspension_id: s("suspensionId"),
            since_ms: n("sinceMs"),
            expires_at_ms: n("expiresAtMs"),
            reason: s("reason"),
            last_attempt_ms: n("lastAttemptMs"),
            last_error: s("lastError"),
            override_until_ms: n("overrideUntilMs"),
        }
    }
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
}

/// The monitor's shared handle; lives in `Ctx::monitor`.
pub struct Monitor {
    pub history: Arc<History>,
    pub settings: Settings,
    config: RwLock<Config>,
    status: Mutex<Status>,
    pause: Mutex<Pause>,
    /// Serialises pausing and resuming (the monitor's check and a manual resume), which each
    /// read the pause state, call the gateway and write the state back.
    pause_op: Mutex<()>,
    outbox: Mutex<Sender<Job>>,
    wake: (Mutex<bool>, Condvar),
}

use crate::sync::lock;

/// An API error: status and message.
pub type ApiError = (u16, String);

fn db_err(e: rusqlite::Error) -> ApiError {
    (500, format!("cannot store the setting in history.db: {e}"))
}

impl Monitor {
    /// Settings are changed only where they can be kept: with history.db in memory (its file
    /// could not be opened) a change would be lost at the next start, so it is refused.
    fn require_persistent(&self) -> Result<(), ApiError> {
        if self.history.persistent() {
            return Ok(());
        }
        Err((
            503,
            format!(
                "settings cannot be saved: {}; fix the data dir (--data-dir) and restart clawmetry",
                self.history.open_error.as_deref().unwrap_or("history.db is not open")
            ),
        ))
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
        *lock(&self.wake.0) = true;
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
            "lastTickMs": st.last_tick_ms, "ticks": st.ticks, "lastError": st.last_error})
    }

    pub fn set_budget(&self, v: &Value, now_ms: i64) -> Result<Budget, ApiError> {
        self.require_persistent()?;
        let b = Budget::from_json(v).map_err(|e| (400, e))?;
        self.history.put_setting("budget", &b.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).budget = b.clone();
        self.wake();
        Ok(b)
    }

    pub fn set_channels(&self, v: &Value, now_ms: i64) -> Result<Channels, ApiError> {
        self.require_persistent()?;
        let old = self.config().channels;
        let c = Channels::from_json(v, &old).map_err(|e| (400, e))?;
        self.history.put_setting("channels", &c.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).channels = c.clone();
        Ok(c)
    }

    pub fn add_rule(&self, v: &Value, now_ms: i64) -> Result<Rule, ApiError> {
        self.require_persistent()?;
        let r = Rule::from_json(v, 0).map_err(|e| (400, e))?;
        if self.config().rules.len() >= 200 {
            return Err((400, "at most 200 alert rules".into()));
        }
        let id = self.history.insert_rule(&r.to_json(), now_ms).map_err(db_err)?;
        let r = Rule { id, ..r };
        self.history.update_rule(id, &r.to_json(), now_ms).map_err(db_err)?;
        crate::sync::write(&self.config).rules.push(r.clone());
        self.wake();
        Ok(r)
    }

    pub fn update_rule(&self, id: i64, v: &Value, now_ms: i64) -> Result<Rule, ApiError> {
        self.require_persistent()?;
        if !self.config().rules.iter().any(|r| r.id == id) {
            return Err((404, format!("alert rule {id} not found")));
        }
        let r = Rule::from_json(v, id).map_err(|e| (400, e))?;
        self.history.update_rule(id, &r.to_json(), now_ms).map_err(db_err)?;
        let mut c = crate::sync::write(&self.config);
        if let Some(x) = c.rules.iter_mut().find(|x| x.id == id) {
            *x = r.clone();
        }
        drop(c);
        self.wake();
        Ok(r)
    }

    pub fn delete_rule(&self, id: i64) -> Result<(), ApiError> {
        self.require_persistent()?;
        if !self.history.delete_rule(id).map_err(db_err)? {
            return Err((404, format!("alert rule {id} not found")));
        }
        crate::sync::write(&self.config).rules.retain(|r| r.id != id);
        Ok(())
    }

    /// Sends a test message to the enabled channels (or only `only`) and waits for the outcome.
    pub fn send_test(&self, only: Option<&str>, now_ms: i64) -> Result<Vec<Delivery>, ApiError> {
        let mut channels = self.config().channels;
        if let Some(o) = only {
            if !["telegram", "webhook", "email"].contains(&o) {
                return Err((400, format!("channel={o:?}: use telegram, webhook or email")));
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
            return Err((
                400,
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
        lock(&self.outbox).send(job).map_err(|_| (503, "the alert sender thread is not running".to_string()))?;
        // One attempt per channel, each bounded by the send timeout (connect + exchange).
        let wait = self.settings.send.timeout * 4 + Duration::from_secs(5);
        rx.recv_timeout(wait).map_err(|_| (504, "the channels did not answer in time".to_string()))
    }

    /// Manual resume: ends a budget suspension now and keeps the gateway running until the end
    /// of the current budget periods.
    pub fn resume(&self, ctx: &Shared) -> Result<Value, ApiError> {
        let now = ctx.now_ms();
        let budget = self.config().budget;
        let until = period_end(
            now,
            budget.overall.monthly_usd.is_some() || budget.agents.values().any(|l| l.monthly_usd.is_some()),
        );
        let _op = lock(&self.pause_op);
        let mut p = lock(&self.pause).clone();
        let mut result = json!({"resumed": false});
        if let Some(id) = p.suspension_id.clone() {
            match gateway_rpc(ctx, "gateway.suspend.resume", json!({"suspensionId": id})) {
                Ok(v) => {
                    result = json!({"resumed": true, "gateway": v});
                    p.active = false;
                    p.suspension_id = None;
                    p.last_error = None;
                }
                Err(e) => {
                    p.last_error = Some(e.clone());
                    result = json!({"resumed": false, "error": e,
                        "note": "the suspension lease lapses by itself within about two minutes now that clawmetry stops renewing it"});
                    p.active = false;
                }
            }
        }
        p.override_until_ms = Some(until);
        self.history.put_setting("pause", &p.json(), now).map_err(db_err)?;
        *lock(&self.pause) = p;
        result["overrideUntilMs"] = json!(until);
        self.record(
            ctx,
            info_alert(
                "budget_resumed",
                "Gateway resumed by hand",
                format!("Budget auto-pause is off until {}.", crate::timefmt::iso(until)),
            ),
            now,
        );
        self.wake();
        Ok(result)
    }

    /// Records an alert and queues it for sending (respecting its dedupe cooldown is the
    /// caller's job). Returns the alert id.
    fn record(&self, ctx: &Shared, a: Alert, now_ms: i64) -> Option<i64> {
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
        };
        let id = match self.history.insert_alert(&row) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("clawmetry: cannot record alert {:?}: {e}", a.title);
                lock(&self.status).last_error = Some(format!("cannot record an alert: {e}"));
                return None;
            }
        };
        ctx.hub.publish("alert", json!({"id": id, "kind": a.kind, "severity": a.severity, "title": a.title}));
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
    fn fire(&self, ctx: &Shared, a: Alert, cooldown_ms: i64, now_ms: i64) -> bool {
        if let Some(last) = self.history.last_fired(&a.dedupe) {
            if cooldown_ms < 0 || now_ms - last < cooldown_ms {
                return false;
            }
        }
        self.record(ctx, a, now_ms).is_some()
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

/// End of the current day, or month when `month`.
fn period_end(now: i64, month: bool) -> i64 {
    if month {
        crate::timefmt::month_start(crate::timefmt::month_start(now) + 32 * 86_400_000)
    } else {
        crate::timefmt::day_start(now) + 86_400_000
    }
}

// ---- the gateway hook ------------------------------------------------------------------------

/// Hook to the gateway module (`gateway.rs`): one RPC, or why it cannot be made. Everything the
/// monitor asks the gateway goes through here.
fn gateway_rpc(ctx: &Shared, method: &str, params: Value) -> Result<Value, String> {
    if !ctx.gateway.connected() {
        return Err(format!("gateway RPC unavailable: {}", ctx.gateway.unavailable_reason()));
    }
    if !ctx.gateway.offers(method) {
        return Err(format!("gateway RPC unavailable: this gateway does not offer {method}"));
    }
    ctx.gateway.call(method, params, RPC_TIMEOUT).map_err(|e| e.to_string())
}

/// The gateway's version and uptime: from the gateway connection when there is one (`status`
/// RPC: version and pid), else from the process table.
fn gateway_info(ctx: &Shared, roots: &Roots, boot_uptime: Option<f64>, port: u16, listening: bool) -> Value {
    let conn = ctx.gateway.status_json();
    let mut v = json!({"port": port, "listening": listening, "connected": conn["connected"],
        "connection": conn["state"], "version": conn["serverVersion"], "pid": null, "uptimeSeconds": null,
        "source": null});
    if conn["connected"] == true {
        v["source"] = json!("gateway");
        if let Ok(s) = gateway_rpc(ctx, "status", json!({})) {
            if v["version"].is_null() {
                v["version"] = s["runtimeVersion"].clone();
            }
            v["pid"] = s["pid"].clone();
            if let Some(pid) = s["pid"].as_u64() {
                let stat = std::fs::read_to_string(roots.proc.join(format!("{pid}/stat"))).ok();
                if let (Some(up), Some(t)) = (boot_uptime, stat.as_deref().and_then(system::parse_proc_start_ticks)) {
                    v["uptimeSeconds"] = json!(((up - t as f64 / 100.0) * 10.0).round() / 10.0);
                }
            }
        }
    }
    if v["uptimeSeconds"].is_null() {
        if let Some(p) = system::find_gateway(roots, boot_uptime) {
            if v["source"].is_null() {
                v["source"] = json!("process table");
            }
            if v["version"].is_null() {
                v["version"] = json!(p.version);
            }
            v["pid"] = json!(p.pid);
            v["uptimeSeconds"] = json!(p.uptime_seconds);
        }
    }
    let cfg_version = ctx.read().install.config.as_ref().and_then(|c| c.pointer("/meta/lastTouchedVersion").cloned());
    v["configVersion"] = cfg_version.unwrap_or(Value::Null);
    v
}

// ---- the thread ------------------------------------------------------------------------------

/// Opens the history, loads the settings, starts the sender and the monitor threads and puts
/// the handle into `ctx.monitor`.
pub fn spawn(ctx: Shared, settings: Settings) -> std::io::Result<JoinHandle<()>> {
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
    let pause = history.setting("pause").map(|v| Pause::from_json(&v)).unwrap_or_default();
    let (outbox, _sender) = alerts::spawn_sender(history.clone(), settings.send.clone())?;
    let mon = Arc::new(Monitor {
        history,
        settings,
        config: RwLock::new(config),
        status: Mutex::new(Status::default()),
        pause: Mutex::new(pause),
        pause_op: Mutex::new(()),
        outbox: Mutex::new(outbox),
        wake: (Mutex::new(false), Condvar::new()),
    });
    let _ = ctx.monitor.set(mon.clone());
    std::thread::Builder::new().name("monitor".into()).spawn(move || run(ctx, mon))
}

/// What the thread carries from one tick to the next.
struct Loop {
    started: Instant,
    obs: Observations,
    cpu_prev: Option<(u64, u64)>,
    next_health: Instant,
    next_gpu: Instant,
    gpu: Value,
    next_check: Instant,
    next_snapshot: Instant,
    next_prune: Instant,
    /// The history's cells (max of what was stored and what the index holds).
    known: Option<HashMap<CellKey, UsageRow>>,
    requeued: bool,
    gateway_open: Option<bool>,
}

fn run(ctx: Shared, mon: Arc<Monitor>) {
    let now = Instant::now();
    let health_every = mon.settings.interval.min(Duration::from_secs(10)).max(Duration::from_secs(1));
    let mut l = Loop {
        started: now,
        obs: Observations::default(),
        cpu_prev: None,
        next_health: now,
        next_gpu: now,
        gpu: json!({"available": false, "gpus": []}),
        next_check: now,
        next_snapshot: now,
        next_prune: now,
        known: None,
        requeued: false,
        gateway_open: None,
    };
    loop {
        let now = Instant::now();
        if now >= l.next_health {
            let h = collect_health(&ctx, &mon, &mut l);
            lock(&mon.status).health = Some(h);
            l.next_health = now + health_every;
        }
        let ready = ctx.read().health.ready;
        let woken = std::mem::take(&mut *lock(&mon.wake.0));
        if ready && (now >= l.next_check || woken) {
            if let Err(e) = check(&ctx, &mon, &mut l) {
                eprintln!("clawmetry: monitor: {e}");
                lock(&mon.status).last_error = Some(e);
            }
            l.next_check = now + mon.settings.interval;
        }
        if ready && l.known.is_some() && now >= l.next_snapshot {
            match snapshot(&ctx, &mon, &l) {
                Ok(()) => lock(&mon.status).history_error = None,
                Err(e) => {
                    eprintln!("clawmetry: history snapshot: {e}");
                    let mut st = lock(&mon.status);
                    st.last_error = Some(format!("history snapshot: {e}"));
                    st.history_error = Some(format!("history snapshot: {e}"));
                }
            }
            l.next_snapshot = now + mon.settings.history_interval;
        }
        if ready && now >= l.next_prune {
            if let Err(e) = mon.history.prune(ctx.now_ms()) {
                eprintln!("clawmetry: history retention: {e}");
            }
            l.next_prune = now + Duration::from_secs(3600);
        }
        let next = [l.next_health, l.next_check, l.next_snapshot].into_iter().min().unwrap_or(now);
        // Before the index is ready, look again soon: the first check runs right after it.
        let wait = if ready { next.saturating_duration_since(Instant::now()) } else { Duration::from_millis(100) };
        let g = lock(&mon.wake.0);
        let _ = mon.wake.1.wait_timeout_while(g, wait, |w| !*w);
    }
}

fn collect_health(ctx: &Shared, mon: &Monitor, l: &mut Loop) -> Value {
    let roots = &mon.settings.roots;
    let read = |p: &str| std::fs::read_to_string(roots.proc.join(p)).ok();
    let (state_dir, found, port, providers) = {
        let st = ctx.read();
        let providers: Vec<(String, String, u16)> = st
            .install
            .config
            .as_ref()
            .and_then(|c| c.pointer("/models/providers"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(id, p)| {
                        let url = p.get("baseUrl")?.as_str()?;
                        let (h, port) = system::url_host_port(url)?;
                        // Local services only (Ollama, a local LLM server): no calls to the internet.
                        system::is_local_host(&h).then(|| (format!("model provider {id}"), h, port))
                    })
                    .take(8)
                    .collect()
            })
            .unwrap_or_default();
        (st.install.state_dir.clone(), st.install.found, st.install.gateway_port, providers)
    };
    let mut disks = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut disk_obs = Vec::new();
    let mut dirs = vec![("OpenClaw dir", Some(state_dir.clone()).filter(|_| found))];
    dirs.push(("data dir", mon.settings.data_dir.clone()));
    for (name, dir) in dirs {
        let Some(dir) = dir else { continue };
        match system::disk(&dir) {
            Ok(d) => {
                let warn = d.used_percent >= DISK_WARN_PERCENT;
                if warn {
                    warnings.push(format!(
                        "The disk holding the {name} ({}) is {}% full.",
                        dir.display(),
                        d.used_percent
                    ));
                }
                disk_obs.push((name.to_string(), dir.display().to_string(), d.used_percent));
                disks.push(json!({"name": name, "path": dir, "warn": warn, "totalBytes": d.total_bytes,
                    "usedBytes": d.used_bytes, "availBytes": d.avail_bytes, "usedPercent": d.used_percent}));
            }
            Err(e) => disks.push(json!({"name": name, "path": dir, "error": e.to_string()})),
        }
    }
    let memory = read("meminfo").as_deref().and_then(system::parse_meminfo);
    if let Some(m) = &memory {
        if m.used_percent >= 90.0 {
            warnings.push(format!("Memory is {}% used.", m.used_percent));
        }
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = read("loadavg").as_deref().and_then(system::parse_loadavg);
    let uptime = read("uptime").as_deref().and_then(system::parse_uptime);
    let cpu_now = read("stat").as_deref().and_then(system::parse_cpu_stat);
    let cpu_pct = match (l.cpu_prev, cpu_now) {
        (Some(a), Some(b)) => system::cpu_percent(a, b),
        _ => None,
    };
    if cpu_now.is_some() {
        l.cpu_prev = cpu_now;
    }
    let zones = system::thermal_zones(roots);
    let cpu_temp = system::cpu_temperature(&zones);
    if let Some(t) = cpu_temp.filter(|t| *t >= 80.0) {
        warnings.push(format!("The CPU is at {t:.0} °C."));
    }
    let throttled = system::pi_throttled(roots);
    if let Some(t) = throttled.as_ref().filter(|t| t.under_voltage_now || t.throttled_now) {
        warnings.push(format!("The Raspberry Pi reports under-voltage or throttling now ({}).", t.raw));
    }
    // Ports: the gateway and the configured model providers, in parallel, 1 s each.
    let mut targets = vec![("gateway".to_string(), "127.0.0.1".to_string(), port)];
    targets.extend(providers);
    let ports: Vec<system::PortCheck> = std::thread::scope(|s| {
        let hs: Vec<_> = targets
            .iter()
            .map(|(n, h, p)| s.spawn(move || system::check_port(n, h, *p, Duration::from_secs(1))))
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let gw_open = ports.first().is_some_and(|p| p.open);
    l.gateway_open = found.then_some(gw_open);
    if found && !gw_open {
        warnings.push(format!("Nothing listens on the gateway port {port}: is the OpenClaw gateway running?"));
    }
    if Instant::now() >= l.next_gpu {
        l.gpu = match system::nvidia_smi(Duration::from_secs(5)) {
            Ok(None) => json!({"available": false, "gpus": [], "note": "nvidia-smi is not installed"}),
            Ok(Some(g)) => json!({"available": !g.is_empty(), "gpus": g}),
            Err(e) => json!({"available": false, "gpus": [], "error": e}),
        };
        l.next_gpu = Instant::now() + Duration::from_secs(30);
    }
    let gateway = gateway_info(ctx, roots, uptime, port, gw_open);
    let rss = read("self/status").as_deref().and_then(system::parse_vmrss);
    let h = &mon.history;
    json!({
        "nowMs": ctx.now_ms(),
        "collectedMs": crate::timefmt::now_ms(),
        "host": {"hostname": alerts::hostname(), "board": system::board_model(roots), "cpus": cpus,
            "uptimeSeconds": uptime, "os": std::env::consts::OS, "arch": std::env::consts::ARCH},
        "disks": disks,
        "diskWarnPercent": DISK_WARN_PERCENT,
        "memory": memory,
        "load": load.map(|l| json!({"one": l[0], "five": l[1], "fifteen": l[2], "perCpu": (l[0] / cpus as f64 * 100.0).round() / 100.0})),
        "cpu": {"percent": cpu_pct, "count": cpus},
        "temperature": {"cpuC": cpu_temp, "zones": zones},
        "throttled": throttled,
        "gateway": gateway,
        "ports": ports,
        "gpu": l.gpu,
        "clawmetry": {"version": ctx.version, "pid": std::process::id(), "rssBytes": rss,
            "uptimeSeconds": (crate::timefmt::now_ms() - ctx.started_ms) / 1000},
        "history": {"path": h.path(), "persistent": h.persistent(), "error": h.open_error,
            "retentionDays": h.retention_days, "snapshots": h.snapshot_count(), "lastSnapshotMs": h.last_snapshot_ms()},
        "warnings": warnings,
        "disksObserved": disk_obs.iter().map(|(n, p, u)| json!([n, p, u])).collect::<Vec<_>>(),
    })
}

/// Copies the index's usage cells into the history (only cells that grew or were re-priced:
/// a cell the index lost, because OpenClaw deleted the transcript, keeps its stored value).
fn sync_usage(ctx: &Shared, mon: &Monitor, l: &mut Loop) -> Result<usize, String> {
    let now = ctx.now_ms();
    let from_hour = (mon.history.cutoff_ms(now) / 3_600_000) as u32;
    if l.known.is_none() {
        l.known = Some(mon.history.load_cells(from_hour).map_err(|e| format!("reading history.db: {e}"))?);
    }
    let known = l.known.as_mut().expect("loaded");
    let mut changed: Vec<(CellKey, UsageRow)> = Vec::new();
    {
        let st = ctx.read();
        for (&(hour, m, a), c) in st.hourly.range((from_hour, 0, 0)..) {
            let row = UsageRow {
                input: c.usage.input,
                output: c.usage.output,
                cache_read: c.usage.cache_read,
                cache_write: c.usage.cache_write,
                reasoning: c.usage.reasoning,
                cost: c.usage.cost,
                calls: c.calls,
            };
            let key = (hour, st.models.name(m).to_string(), st.agents.get(a as usize).cloned().unwrap_or_default());
            match known.get(&key) {
                Some(k) if k.calls > row.calls || *k == row => {}
                _ => changed.push((key, row)),
            }
        }
    }
    if changed.is_empty() {
        return Ok(0);
    }
    for (k, r) in &changed {
        known.insert(k.clone(), *r);
    }
    mon.history.store_cells(&changed).map_err(|e| format!("writing history.db: {e}"))?;
    if mon.history.meta("backfilled_ms").is_none() {
        let _ = mon.history.set_meta("backfilled_ms", &now.to_string());
    }
    Ok(changed.len())
}

/// Spend per (agent or all, period) from the history's cells.
fn spend(known: &HashMap<CellKey, UsageRow>, now: i64) -> HashMap<(Option<String>, Period), f64> {
    let day = (crate::timefmt::day_start(now) / 3_600_000) as u32;
    let month = (crate::timefmt::month_start(now) / 3_600_000) as u32;
    let mut out: HashMap<(Option<String>, Period), f64> = HashMap::new();
    for ((hour, _, agent), r) in known {
        if *hour >= month {
            *out.entry((None, Period::Month)).or_default() += r.cost;
            *out.entry((Some(agent.clone()), Period::Month)).or_default() += r.cost;
            if *hour >= day {
                *out.entry((None, Period::Day)).or_default() += r.cost;
                *out.entry((Some(agent.clone()), Period::Day)).or_default() += r.cost;
            }
        }
    }
    out
}

fn check(ctx: &Shared, mon: &Monitor, l: &mut Loop) -> Result<(), String> {
    let now = ctx.now_ms();
    if !l.requeued {
        // Alerts recorded but never sent (clawmetry stopped in between): send them now.
        l.requeued = true;
        for a in mon.history.pending_alerts(now - 86_400_000).unwrap_or_default() {
            let alert = Alert {
                kind: a.kind,
                severity: match a.severity.as_str() {
                    "critical" => "critical",
                    "warning" => "warning",
                    _ => "info",
                },
                rule_id: a.rule_id,
                dedupe: a.dedupe,
                title: a.title,
                message: a.message,
                data: a.data,
            };
            let job = Job {
                alert_id: Some(a.id),
                alert,
                at_ms: a.ts,
                channels: mon.config().channels,
                attempts: 3,
                reply: None,
            };
            let _ = lock(&mon.outbox).send(job);
        }
    }
    let sync_err = sync_usage(ctx, mon, l).err();
    let cfg = mon.config();
    let budget = budget_check(ctx, mon, l, &cfg.budget, now);
    // Observations for the rules.
    let needs = |k: &str| cfg.rules.iter().any(|r| r.enabled && r.kind_name() == k);
    {
        let st = ctx.read();
        let (mut tokens, mut events, mut errors) = (0u64, 0u64, 0u64);
        let mut running = Vec::new();
        for s in st.sessions.values() {
            tokens += s.tally.usage.total_tokens();
            events += s.tally.tool_results + s.tally.assistant_messages;
            errors += s.tally.errors();
            if needs("long_session") && st.status_of(s, now).status == "running" {
                if let Some(started) = s.first_ms() {
                    running.push(alerts::RunningSession {
                        id: s.id.clone(),
                        agent: s.agent.clone(),
                        label: s.meta.label.clone(),
                        started_ms: started,
                    });
                }
            }
        }
        l.obs.window.push(Sample { mono_ms: l.started.elapsed().as_millis() as i64, tokens, events, errors });
        l.obs.running = running;
    }
    l.obs.now_ms = now;
    l.obs.cron_failures = if needs("cron_failure") {
        let install = ctx.read().install.clone();
        read_cron_failures(&install, now - 7 * 86_400_000)
    } else {
        Vec::new()
    };
    l.obs.disks = lock(&mon.status)
        .health
        .as_ref()
        .and_then(|h| h["disksObserved"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|d| Some((d[0].as_str()?.to_string(), d[1].as_str()?.to_string(), d[2].as_f64()?)))
        .collect();
    l.obs.gateway = l.gateway_open.map(|open| (ctx.read().install.gateway_port, open));
    for rule in &cfg.rules {
        for a in alerts::evaluate(rule, &l.obs) {
            mon.fire(ctx, a, rule.cooldown_minutes as i64 * 60_000, now);
        }
    }
    let mut st = lock(&mon.status);
    st.budget = budget;
    st.last_tick_ms = Some(now);
    st.ticks += 1;
    st.last_error = sync_err.clone();
    drop(st);
    match sync_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Compares spend with every limit, raises the 80% / 100% alerts (once per period and limit)
/// and pauses or resumes the gateway. Returns the status `GET /api/budget` shows.
fn budget_check(ctx: &Shared, mon: &Monitor, l: &Loop, b: &Budget, now: i64) -> Value {
    let empty = HashMap::new();
    let spent = spend(l.known.as_ref().unwrap_or(&empty), now);
    let mut rows = Vec::new();
    let mut over: Vec<String> = Vec::new();
    for (scope, period, limit) in b.limits() {
        let s = spent.get(&(scope.map(str::to_string), period)).copied().unwrap_or(0.0);
        let lv = alerts::level(s, limit, b.warn_percent);
        let pct = (s / limit * 1000.0).round() / 10.0;
        let who = scope.map(|a| format!("agent {a}")).unwrap_or_else(|| "all agents".into());
        let start = period.start(now);
        let key = format!("budget:{}:{}:{start}:{limit}", scope.unwrap_or("*"), period.name());
        let data = json!({"agent": scope, "period": period.name(), "periodStartMs": start, "limitUsd": limit,
            "spentUsd": round_cost(s), "percent": pct});
        match lv {
            Level::Warning => {
                let a = Alert {
                    kind: "budget_warning".into(),
                    severity: "warning",
                    rule_id: None,
                    dedupe: format!("{key}:warning"),
                    title: format!("{}% of the {} budget used ({who})", pct.floor(), period.name()),
                    message: format!(
                        "${s:.2} of ${limit:.2} spent {} ({who}); the warning threshold is {}%.",
                        if period == Period::Day { "today" } else { "this month" },
                        b.warn_percent
                    ),
                    data: data.clone(),
                };
                mon.fire(ctx, a, -1, now);
            }
            Level::Over => {
                over.push(format!("{} budget of ${limit:.2} ({who})", period.name()));
                let a = Alert {
                    kind: "budget_exceeded".into(),
                    severity: "critical",
                    rule_id: None,
                    dedupe: format!("{key}:over"),
                    title: format!("Over the {} budget ({who}): ${s:.2} of ${limit:.2}", period.name()),
                    message: format!(
                        "${s:.2} spent {} ({who}), {pct}% of the ${limit:.2} limit.{}",
                        if period == Period::Day { "today" } else { "this month" },
                        if b.auto_pause { " Auto-pause is on: clawmetry suspends the gateway." } else { "" }
                    ),
                    data: data.clone(),
                };
                mon.fire(ctx, a, -1, now);
            }
            Level::Ok => {}
        }
        let mut row = data;
        row["level"] = json!(match lv {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Over => "over",
        });
        rows.push(row);
    }
    pause_check(ctx, mon, b, &over, now);
    let by_agent: serde_json::Map<String, Value> = spent
        .iter()
        .filter_map(|((a, p), v)| a.as_ref().map(|a| (format!("{a}:{}", p.name()), json!(round_cost(*v)))))
        .collect();
    json!({
        "checkedMs": now,
        "todayUsd": round_cost(spent.get(&(None, Period::Day)).copied().unwrap_or(0.0)),
        "monthUsd": round_cost(spent.get(&(None, Period::Month)).copied().unwrap_or(0.0)),
        "byAgent": by_agent,
        "limits": rows,
        "over": over,
    })
}

fn pause_check(ctx: &Shared, mon: &Monitor, b: &Budget, over: &[String], now: i64) {
    let _op = lock(&mon.pause_op);
    let mut p = lock(&mon.pause).clone();
    let before = p.json();
    if p.override_until_ms.is_some_and(|u| now >= u) {
        p.override_until_ms = None;
    }
    let want = b.auto_pause && !over.is_empty() && p.override_until_ms.is_none();
    if want {
        p.last_attempt_ms = Some(now);
        p.reason = Some(format!("over the {}", over.join(" and the ")));
        match gateway_rpc(ctx, "gateway.suspend.prepare", json!({"requestId": PAUSE_REQUEST_ID})) {
            Ok(v) if v["status"] == "ready" => {
                if !p.active {
                    p.since_ms = Some(now);
                    let a = Alert {
                        kind: "budget_paused".into(),
                        severity: "critical",
                        rule_id: None,
                        dedupe: format!("budget_paused:{}", crate::timefmt::day_start(now)),
                        title: "Gateway paused: over budget".into(),
                        message: format!(
                            "clawmetry suspended the OpenClaw gateway: {}.",
                            p.reason.as_deref().unwrap_or("")
                        ),
                        data: json!({"suspensionId": v["suspensionId"]}),
                    };
                    mon.fire(ctx, a, -1, now);
                }
                p.active = true;
                p.suspension_id = v["suspensionId"].as_str().map(str::to_string);
                p.expires_at_ms = v["expiresAtMs"].as_i64();
                p.last_error = None;
            }
            Ok(v) => {
                let status = v["status"].as_str().unwrap_or("unknown");
                p.last_error = Some(format!(
                    "the gateway did not suspend ({status}{}); trying again at the next check",
                    v["activeCount"].as_u64().map(|n| format!(", {n} active task(s)")).unwrap_or_default()
                ));
            }
            Err(e) => {
                if !p.active {
                    let a = Alert {
                        kind: "budget_pause_failed".into(),
                        severity: "critical",
                        rule_id: None,
                        dedupe: format!("budget_pause_failed:{}", crate::timefmt::day_start(now)),
                        title: "Over budget, and the gateway could not be paused".into(),
                        message: format!("Auto-pause is on but failed: {e}."),
                        data: json!({"error": e}),
                    };
                    mon.fire(ctx, a, -1, now);
                }
                p.last_error = Some(e);
            }
        }
    } else if p.active {
        if let Some(id) = p.suspension_id.clone() {
            match gateway_rpc(ctx, "gateway.suspend.resume", json!({"suspensionId": id})) {
                Ok(_) => {
                    p.active = false;
                    p.suspension_id = None;
                    p.last_error = None;
                    mon.record(
                        ctx,
                        info_alert(
                            "budget_resumed",
                            "Gateway resumed",
                            "Spend is under every budget limit again (or auto-pause was turned off).".into(),
                        ),
                        now,
                    );
                }
                Err(e) => {
                    // The lease lapses by itself once it is no longer renewed.
                    p.last_error = Some(format!("resume: {e}; the suspension lapses within about two minutes"));
                    p.active = false;
                    p.suspension_id = None;
                }
            }
        } else {
            p.active = false;
        }
    }
    if p.json() != before {
        let _ = mon.history.put_setting("pause", &p.json(), now);
    }
    *lock(&mon.pause) = p;
}

fn snapshot(ctx: &Shared, mon: &Monitor, l: &Loop) -> Result<(), String> {
    let now = ctx.now_ms();
    let mut values: Vec<Option<f64>> = vec![None; SNAPSHOT_METRICS.len()];
    let mut set = |name: &str, v: Option<f64>| {
        if let Some(i) = SNAPSHOT_METRICS.iter().position(|m| m.1 == name) {
            values[i] = v;
        }
    };
    {
        let st = ctx.read();
        let counts = st.status_counts(now);
        set("sessions", Some(st.sessions.len() as f64));
        set("running", Some(counts.running as f64));
        set("failed", Some(counts.failed as f64));
    }
    if let Some(known) = &l.known {
        let tokens: u64 = known.values().map(|r| r.input + r.output + r.cache_read + r.cache_write).sum();
        set("tokensTotal", Some(tokens as f64));
        set("costTotal", Some(round_cost(known.values().map(|r| r.cost).sum())));
        let day = (crate::timefmt::day_start(now) / 3_600_000) as u32;
        set("costToday", Some(round_cost(known.iter().filter(|(k, _)| k.0 >= day).map(|(_, r)| r.cost).sum())));
    }
    if let Some(h) = lock(&mon.status).health.clone() {
        let disk = |name: &str| {
            h["disks"]
                .as_array()
                .and_then(|d| d.iter().find(|x| x["name"] == name))
                .and_then(|x| x["usedPercent"].as_f64())
        };
        set("disk", disk("OpenClaw dir"));
        set("dataDisk", disk("data dir"));
        set("memory", h["memory"]["usedPercent"].as_f64());
        set("load", h["load"]["one"].as_f64());
        set("cpu", h["cpu"]["percent"].as_f64());
        set("cpuTemp", h["temperature"]["cpuC"].as_f64());
        let gpus = h["gpu"]["gpus"].as_array().cloned().unwrap_or_default();
        let utils: Vec<f64> = gpus.iter().filter_map(|g| g["utilizationPercent"].as_f64()).collect();
        set("gpu", (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64));
        set("rss", h["clawmetry"]["rssBytes"].as_f64());
        set("gatewayUp", h["gateway"]["listening"].as_bool().map(|b| if b { 1.0 } else { 0.0 }));
    }
    mon.history.store_snapshot(&Snapshot { ts: now, values }).map_err(|e| e.to_string())
}

// ---- cron runs (read-only) -------------------------------------------------------------------

/// A run of OpenClaw's run log (as `sources/crons.rs` reads it), when it failed.
pub fn failed_run(r: &Value, jobs: &[Value]) -> Option<alerts::CronFailure> {
    let status = r.get("status")?.as_str()?;
    if !matches!(status, "error" | "failed" | "timeout" | "timed_out" | "interrupted") {
        return None;
    }
    let job = r.get("jobId")?.as_str()?.to_string();
    let finished = r.get("ts").and_then(Value::as_i64)?;
    let name =
        r.get("jobName").and_then(Value::as_str).map(str::to_string).or_else(|| {
            jobs.iter().find(|j| j["id"] == job.as_str()).and_then(|j| j["name"].as_str()).map(str::to_string)
        });
    Some(alerts::CronFailure {
        run_id: ["runId", "sessionId"]
            .iter()
            .find_map(|k| r.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{job}@{finished}")),
        job_id: job,
        job_name: name,
        finished_ms: finished,
        status: status.to_string(),
        error: r.get("error").and_then(Value::as_str).map(|s| s.chars().take(300).collect()),
    })
}

/// Failed cron runs since `since_ms`, from OpenClaw's own store (read-only): the state database
/// (2026.6+) or the file era's `cron/jobs.json` + `cron/runs/`.
pub fn read_cron_failures(install: &crate::detect::Install, since_ms: i64) -> Vec<alerts::CronFailure> {
    use crate::sources::crons;
    let store = match (&install.state_db, &install.cron_jobs_file) {
        (Some(db), _) => crons::read_state_db(db, 500),
        (None, Some(f)) => crons::read_legacy(f, 500),
        _ => return Vec::new(),
    };
    let Ok(store) = store else { return Vec::new() };
    store.runs.iter().filter_map(|r| failed_run(r, &store.jobs)).filter(|f| f.finished_ms >= since_ms).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_cron_runs() {
        let jobs = vec![json!({"id": "j1", "name": "nightly"})];
        assert!(failed_run(&json!({"ts": 1, "jobId": "j1", "status": "ok"}), &jobs).is_none());
        let f = failed_run(
            &json!({"ts": 7, "jobId": "j1", "status": "error", "error": "exit 3", "sessionId": "s9"}),
            &jobs,
        )
        .unwrap();
        assert_eq!((f.job_id.as_str(), f.run_id.as_str(), f.finished_ms), ("j1", "s9", 7));
        assert_eq!((f.job_name.as_deref(), f.error.as_deref()), (Some("nightly"), Some("exit 3")));
        let g = failed_run(&json!({"ts": 8, "jobId": "j2", "status": "interrupted"}), &jobs).unwrap();
        assert_eq!((g.run_id.as_str(), g.job_name), ("j2@8", None));
        assert!(failed_run(&json!({"jobId": "j2", "status": "error"}), &jobs).is_none(), "no time");
    }

    #[test]
    fn spend_sums_by_period_and_agent() {
        let now = crate::timefmt::parse_iso_ms("2026-11-24T21:00:00Z").unwrap();
        let h = |iso: &str| (crate::timefmt::parse_iso_ms(iso).unwrap() / 3_600_000) as u32;
        let row = |cost: f64| UsageRow { cost, calls: 1, ..Default::default() };
        let mut known = HashMap::new();
        known.insert((h("2026-11-24T10:00:00Z"), "m".to_string(), "main".to_string()), row(1.0));
        known.insert((h("2026-11-24T11:00:00Z"), "m".to_string(), "ops".to_string()), row(0.5));
        known.insert((h("2026-11-02T11:00:00Z"), "m".to_string(), "ops".to_string()), row(2.0));
        known.insert((h("2026-10-31T11:00:00Z"), "m".to_string(), "ops".to_string()), row(9.0));
        let s = spend(&known, now);
        assert_eq!(s[&(None, Period::Day)], 1.5);
        assert_eq!(s[&(None, Period::Month)], 3.5);
        assert_eq!(s[&(Some("ops".into()), Period::Month)], 2.5);
        assert_eq!(s[&(Some("main".into()), Period::Day)], 1.0);
        assert_eq!(crate::timefmt::iso(period_end(now, true)), "2026-12-01T00:00:00.000Z");
        assert_eq!(crate::timefmt::iso(period_end(now, false)), "2026-11-25T00:00:00.000Z");
    }

    #[test]
    fn pause_state_round_trips() {
        let p = Pause {
            active: true,
            suspension_id: Some("s1".into()),
            since_ms: Some(5),
            override_until_ms: Some(9),
            ..Default::default()
        };
        let q = Pause::from_json(&p.json());
        assert_eq!(q.json(), p.json());
    }
}
