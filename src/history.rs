//! clawmetry's own database, `<data dir>/history.db` (SQLite, WAL, `synchronous=FULL`): usage by
//! hour, model and agent (synced from the index, so it also backfills the days before clawmetry
//! was installed and keeps figures whose transcripts OpenClaw later deleted), 5-minute snapshots
//! of session counts and health figures, daily rollups of both, and the monitor's settings
//! (budget, alert channels, alert rules) and alert log.
//!
//! Storage only: what a budget or a rule means is `alerts.rs`, when to write is `monitor.rs`.
//! Every write is one transaction committed with `synchronous=FULL`, so whatever an API answer
//! showed survives a crash or `kill -9`. Fine-grained rows (hourly usage, snapshots, alerts) are
//! kept for the retention period (`--history-days`, default 90); daily rollups are kept.
//! When the data dir is not writable the same schema lives in memory and `persistent()` is false.

use crate::tz::Zone;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const SCHEMA_VERSION: i64 = 1;

/// The health figures of a snapshot: (column, API metric name, unit).
pub const SNAPSHOT_METRICS: &[(&str, &str, &str)] = &[
    ("sessions", "sessions", "sessions"),
    ("running", "running", "sessions"),
    ("failed", "failed", "sessions"),
    ("tokens_total", "tokensTotal", "tokens"),
    ("cost_total", "costTotal", "USD"),
    ("cost_today", "costToday", "USD"),
    ("disk_percent", "disk", "%"),
    ("data_disk_percent", "dataDisk", "%"),
    ("mem_percent", "memory", "%"),
    ("load1", "load", "load"),
    ("cpu_percent", "cpu", "%"),
    ("cpu_temp", "cpuTemp", "°C"),
    ("gpu_percent", "gpu", "%"),
    ("rss_bytes", "rss", "bytes"),
    ("gateway_up", "gatewayUp", "0/1"),
];

/// The usage figures: (column, API metric name, unit).
pub const USAGE_METRICS: &[(&str, &str, &str)] = &[
    ("cost", "cost", "USD"),
    ("input + output + cache_read + cache_write", "tokens", "tokens"),
    ("input", "input", "tokens"),
    ("output", "output", "tokens"),
    ("cache_read", "cacheRead", "tokens"),
    ("cache_write", "cacheWrite", "tokens"),
    ("reasoning", "reasoning", "tokens"),
    ("calls", "calls", "calls"),
];

/// Usage of one (hour, model, agent) cell as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageRow {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    pub cost: f64,
    pub calls: u64,
}

/// (epoch hour, model, agent); the names shared (`model::shared_name`), since every hour of
/// history repeats them.
pub type CellKey = (u32, crate::model::Name, crate::model::Name);

/// One 5-minute snapshot; `None` is a figure this machine does not have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub ts: i64,
    pub values: Vec<Option<f64>>,
}

/// An alert as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub ts: i64,
    pub kind: String,
    pub severity: String,
    pub rule_id: Option<i64>,
    pub dedupe: String,
    pub title: String,
    pub message: String,
    pub data: Value,
    /// pending, sent, partial, failed, not-sent (no channel configured).
    pub status: String,
    pub deliveries: Value,
    /// When someone marked it read in the app (`alert_acks`).
    pub acked_ms: Option<i64>,
    /// When the incident it opened (or reminded of) ended: the rule stopped firing
    /// (`alert_resolved`; rule alerts only).
    pub resolved_ms: Option<i64>,
}

/// An incident left open: its dedupe key and its alerts `(id, ts)`.
pub type OpenIncident = (String, Vec<(i64, i64)>);

pub struct History {
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    /// A second connection for the HTTP handlers: with WAL, reading never waits for a write.
    reader: Option<Mutex<Connection>>,
    pub retention_days: u32,
    /// Why the database is in memory, when it is.
    pub open_error: Option<String>,
}

use crate::sync::lock;

fn setup(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL: readers never block the writer. FULL: a commit is on disk before it returns.
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS usage_hourly (
            hour INTEGER NOT NULL, model TEXT NOT NULL, agent TEXT NOT NULL,
            input INTEGER NOT NULL, output INTEGER NOT NULL, cache_read INTEGER NOT NULL,
            cache_write INTEGER NOT NULL, reasoning INTEGER NOT NULL, cost REAL NOT NULL, calls INTEGER NOT NULL,
            PRIMARY KEY (hour, model, agent)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS usage_daily (
            day INTEGER NOT NULL, model TEXT NOT NULL, agent TEXT NOT NULL,
            input INTEGER NOT NULL, output INTEGER NOT NULL, cache_read INTEGER NOT NULL,
            cache_write INTEGER NOT NULL, reasoning INTEGER NOT NULL, cost REAL NOT NULL, calls INTEGER NOT NULL,
            PRIMARY KEY (day, model, agent)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS snapshots (
            ts INTEGER PRIMARY KEY, sessions REAL, running REAL, failed REAL, tokens_total REAL, cost_total REAL,
            cost_today REAL, disk_percent REAL, data_disk_percent REAL, mem_percent REAL, load1 REAL,
            cpu_percent REAL, cpu_temp REAL, gpu_percent REAL, rss_bytes REAL, gateway_up REAL);
        CREATE TABLE IF NOT EXISTS health_daily (
            day INTEGER NOT NULL, metric TEXT NOT NULL, min REAL, max REAL, avg REAL, n INTEGER NOT NULL,
            PRIMARY KEY (day, metric)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, json TEXT NOT NULL, updated_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS rules (id INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL,
            created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
            kind TEXT NOT NULL, severity TEXT NOT NULL, rule_id INTEGER, dedupe TEXT NOT NULL,
            title TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL, status TEXT NOT NULL,
            deliveries TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS alerts_dedupe ON alerts (dedupe, ts);
        CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
        CREATE TABLE IF NOT EXISTS alert_acks (id INTEGER PRIMARY KEY, acked_ms INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS alert_resolved (id INTEGER PRIMARY KEY, resolved_ms INTEGER NOT NULL);",
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}

/// The tables of `setup`, in the order they are copied.
const TABLES: &[&str] = &["usage_hourly", "usage_daily", "snapshots", "health_daily", "settings", "rules", "alerts"];

/// Copies every table of the history database at `path` (read-only; as an immutable file when
/// even a read-only open fails, e.g. no -shm can be made beside it) into `conn`. Returns
/// whether it was read as an immutable file (its write-ahead log, if any, ignored).
fn copy_into(conn: &Connection, path: &Path) -> Result<bool, String> {
    // `file:` + an absolute path would read `//…` as a host: `file://` + the path.
    let mut uri = String::from(if path.is_absolute() { "file://" } else { "file:" });
    for c in path.to_str().ok_or("not a UTF-8 path")?.chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    let attach = |mode: &str| conn.execute("ATTACH DATABASE ?1 AS old", [format!("{uri}?{mode}")]);
    let readable = |c: &Connection| c.query_row("SELECT count(*) FROM old.settings", [], |r| r.get::<_, i64>(0));
    let mut immutable = false;
    let attached = attach("mode=ro").and_then(|_| readable(conn)).or_else(|_| {
        let _ = conn.execute_batch("DETACH DATABASE old");
        immutable = true;
        attach("mode=ro&immutable=1").and_then(|_| readable(conn))
    });
    // All tables or none.
    let copied = attached.and_then(|_| {
        conn.execute_batch("BEGIN")?;
        let r = TABLES
            .iter()
            .try_for_each(|t| conn.execute_batch(&format!("INSERT OR REPLACE INTO main.{t} SELECT * FROM old.{t}")));
        conn.execute_batch(if r.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        r
    });
    let _ = conn.execute_batch("DETACH DATABASE old");
    copied.map_err(|e| e.to_string())?;
    Ok(immutable)
}

impl History {
    /// Opens (creating) `<dir>/history.db`; falls back to an in-memory database, with the reason
    /// in `open_error`, when the directory cannot be created or the file cannot be opened.
    pub fn open(dir: Option<&Path>, retention_days: u32) -> History {
        let err = match dir {
            None => "no data dir: $HOME is not set and --data-dir was not given".to_string(),
            Some(d) => match Self::open_file(d) {
                Ok((path, w, r)) => {
                    return History {
                        path: Some(path),
                        writer: Mutex::new(w),
                        reader: Some(Mutex::new(r)),
                        retention_days,
                        open_error: None,
                    }
                }
                Err(e) => e,
            },
        };
        let conn = Connection::open_in_memory().expect("in-memory SQLite");
        let _ = setup(&conn);
        // A history.db that is there but cannot be written (a read-only or full data dir): its
        // settings (budgets, auto-pause, alert rules and channels) and history are loaded into
        // memory, so that nothing the user set is silently off; changes are refused (503).
        let existing = dir.map(|d| d.join("history.db")).filter(|p| p.is_file());
        let err = match existing.map(|p| (copy_into(&conn, &p), p)) {
            Some((Ok(wal_ignored), p)) => format!(
                "{err}; its settings and history ({}) are served read-only{}",
                p.display(),
                if wal_ignored { " (without its write-ahead log, which could not be read)" } else { "" }
            ),
            Some((Err(e), p)) => format!("{err}; {} could not be read either: {e}", p.display()),
            None => err,
        };
        History { path: None, writer: Mutex::new(conn), reader: None, retention_days, open_error: Some(err) }
    }

    fn open_file(dir: &Path) -> Result<(PathBuf, Connection, Connection), String> {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            use std::os::unix::fs::PermissionsExt;
            // Alert channel secrets are stored here: only the owner may read them.
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join("history.db");
        let fresh = !path.exists();
        let w = Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if fresh {
            use std::os::unix::fs::PermissionsExt;
            // SQLite gives the -wal and -shm files the database file's mode.
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        setup(&w).map_err(|e| format!("{}: {e}", path.display()))?;
        // The writer's page cache: 256 KiB, not SQLite's 2 MB (it writes a few cells a minute;
        // the first usage sync filled 0.74 MB of it with the 1 GB corpus, kept for good).
        w.execute_batch("PRAGMA cache_size = -256;").map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = w;
        rezone_rollups(&mut w, crate::tz::zone()).map_err(|e| format!("{}: {e}", path.display()))?;
        let r = Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        r.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
        Ok((path, w, r))
    }

    pub fn persistent(&self) -> bool {
        self.path.is_some()
    }
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    fn w(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
    fn r(&self) -> MutexGuard<'_, Connection> {
        match &self.reader {
            Some(r) => lock(r),
            None => lock(&self.writer),
        }
    }

    /// First hour kept, for a clock at `now_ms`.
    pub fn cutoff_ms(&self, now_ms: i64) -> i64 {
        crate::tz::zone().add_days(now_ms, -(self.retention_days as i64))
    }

    pub fn meta(&self, key: &str) -> Option<String> {
        self.r().query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().ok().flatten()
    }
    pub fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.w().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value]).map(|_| ())
    }

    // ---- usage ---------------------------------------------------------------------------------

    /// Every stored usage cell from `from_hour` on.
    pub fn load_cells(&self, from_hour: u32) -> rusqlite::Result<Vec<(CellKey, UsageRow)>> {
        let c = self.r();
        let mut st = c.prepare(
            "SELECT hour, model, agent, input, output, cache_read, cache_write, reasoning, cost, calls
             FROM usage_hourly WHERE hour >= ?1",
        )?;
        let rows = st.query_map([from_hour], |r| {
            Ok((
                (
                    r.get::<_, u32>(0)?,
                    crate::model::name(r.get::<_, String>(1)?),
                    crate::model::name(r.get::<_, String>(2)?),
                ),
                UsageRow {
                    input: r.get::<_, i64>(3)? as u64,
                    output: r.get::<_, i64>(4)? as u64,
                    cache_read: r.get::<_, i64>(5)? as u64,
                    cache_write: r.get::<_, i64>(6)? as u64,
                    reasoning: r.get::<_, i64>(7)? as u64,
                    cost: r.get(8)?,
                    calls: r.get::<_, i64>(9)? as u64,
                },
            ))
        })?;
        rows.collect()
    }

    /// Writes changed cells and recomputes the daily rollups of the days they fall in, in one
    /// transaction.
    pub fn store_cells(&self, cells: &[(CellKey, UsageRow)]) -> rusqlite::Result<()> {
        if cells.is_empty() {
            return Ok(());
        }
        let mut c = self.w();
        let tx = c.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT OR REPLACE INTO usage_hourly
                 (hour, model, agent, input, output, cache_read, cache_write, reasoning, cost, calls)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut days = std::collections::BTreeSet::new();
            for ((hour, model, agent), u) in cells {
                up.execute(params![
                    hour,
                    model,
                    agent,
                    u.input as i64,
                    u.output as i64,
                    u.cache_read as i64,
                    u.cache_write as i64,
                    u.reasoning as i64,
                    u.cost,
                    u.calls as i64
                ])?;
                days.insert(crate::tz::zone().day_start(*hour as i64 * 3_600_000));
            }
            for d in days {
                roll_up_usage_day(&tx, crate::tz::zone(), d)?;
            }
        }
        tx.commit()
    }

    // ---- snapshots -------------------------------------------------------------------------------

    /// Stores a snapshot (`values` in the order of [`SNAPSHOT_METRICS`]) and recomputes the
    /// daily rollup of its day.
    pub fn store_snapshot(&self, s: &Snapshot) -> rusqlite::Result<()> {
        let mut c = self.w();
        let tx = c.transaction()?;
        let cols: Vec<&str> = SNAPSHOT_METRICS.iter().map(|m| m.0).collect();
        let marks: Vec<String> = (0..cols.len()).map(|i| format!("?{}", i + 2)).collect();
        let sql =
            format!("INSERT OR REPLACE INTO snapshots (ts, {}) VALUES (?1, {})", cols.join(", "), marks.join(", "));
        let mut vals: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Integer(s.ts)];
        for i in 0..cols.len() {
            vals.push(match s.values.get(i).copied().flatten() {
                Some(v) if v.is_finite() => rusqlite::types::Value::Real(v),
                _ => rusqlite::types::Value::Null,
            });
        }
        tx.execute(&sql, rusqlite::params_from_iter(vals))?;
        let z = crate::tz::zone();
        roll_up_snapshot_day(&tx, z, z.day_start(s.ts))?;
        tx.commit()
    }

    pub fn snapshot_count(&self) -> i64 {
        self.r().query_row("SELECT COUNT(*) FROM snapshots", [], |r| r.get(0)).unwrap_or(0)
    }

    pub fn last_snapshot_ms(&self) -> Option<i64> {
        self.r().query_row("SELECT MAX(ts) FROM snapshots", [], |r| r.get(0)).ok().flatten()
    }

    /// Deletes fine-grained rows older than the retention period. Returns rows deleted.
    pub fn prune(&self, now_ms: i64) -> rusqlite::Result<usize> {
        let cutoff = self.cutoff_ms(now_ms);
        let mut c = self.w();
        let tx = c.transaction()?;
        let mut n = tx.execute("DELETE FROM snapshots WHERE ts < ?1", [cutoff])?;
        n += tx.execute("DELETE FROM usage_hourly WHERE hour < ?1", [cutoff / 3_600_000])?;
        n += tx.execute("DELETE FROM alerts WHERE ts < ?1 AND status != 'pending'", [cutoff])?;
        tx.execute("DELETE FROM alert_acks WHERE id NOT IN (SELECT id FROM alerts)", [])?;
        tx.execute("DELETE FROM alert_resolved WHERE id NOT IN (SELECT id FROM alerts)", [])?;
        tx.commit()?;
        Ok(n)
    }

    // ---- queries for charts ----------------------------------------------------------------------

    /// Sums of a usage metric per bucket of `step_ms` in `[from, to)`, optionally grouped by
    /// `model` or `agent` and filtered. Hourly rows when the step is under a day, else daily.
    pub fn usage_series(&self, q: &SeriesQuery) -> rusqlite::Result<Vec<(i64, String, f64)>> {
        let Some((col, _, _)) = USAGE_METRICS.iter().find(|m| m.1 == q.metric) else { return Ok(Vec::new()) };
        let daily = !q.days.is_empty();
        let (table, tcol, unit) = if daily { ("usage_daily", "day", 1) } else { ("usage_hourly", "hour", 3_600_000) };
        // Daily: one group per stored day (?3 = 1), folded into the local buckets below.
        let group = match q.by.as_deref() {
            Some("model") => "model",
            Some("agent") => "agent",
            _ => "''",
        };
        let sql = format!(
            "SELECT ({tcol} * {unit} - ?1) / ?3 AS b, {group}, SUM({col}) FROM {table}
             WHERE {tcol} * {unit} >= ?1 AND {tcol} * {unit} < ?2
               AND (?4 IS NULL OR agent = ?4) AND (?5 IS NULL OR model = ?5)
             GROUP BY b, {group} ORDER BY b"
        );
        let c = self.r();
        let mut st = c.prepare(&sql)?;
        let (from, step) = if daily { (q.days[0], 1) } else { (q.from, q.step_ms) };
        let rows = st.query_map(params![from, q.to, step, q.agent, q.model], |r| {
            Ok((from + r.get::<_, i64>(0)? * step, r.get::<_, String>(1)?, r.get::<_, f64>(2)?))
        })?;
        let rows: Vec<(i64, String, f64)> = rows.collect::<rusqlite::Result<_>>()?;
        if !daily {
            return Ok(rows);
        }
        let mut out: std::collections::BTreeMap<(i64, String), f64> = std::collections::BTreeMap::new();
        for (day, key, v) in rows {
            if let Some(b) = crate::tz::bucket_of(&q.days, day) {
                *out.entry((q.days[b], key)).or_default() += v;
            }
        }
        Ok(out.into_iter().map(|((t, k), v)| (t, k, v)).collect())
    }

    /// (bucket start, avg, min, max) of a snapshot metric: raw snapshots when the step is under
    /// a day, else the daily rollups.
    pub fn snapshot_series(&self, q: &SeriesQuery) -> rusqlite::Result<Vec<(i64, f64, f64, f64)>> {
        let Some((col, name, _)) = SNAPSHOT_METRICS.iter().find(|m| m.1 == q.metric) else { return Ok(Vec::new()) };
        let c = self.r();
        let rows: Vec<(i64, f64, f64, f64)> = if !q.days.is_empty() {
            let mut st = c.prepare(
                "SELECT day, avg * n, n, min, max FROM health_daily
                 WHERE metric = ?3 AND n > 0 AND day >= ?1 AND day < ?2 ORDER BY day",
            )?;
            let it = st.query_map(params![q.days[0], q.to, name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                ))
            })?;
            // Per bucket: (sum of avg × n, n, min, max).
            let mut b: std::collections::BTreeMap<i64, (f64, f64, f64, f64)> = std::collections::BTreeMap::new();
            for row in it {
                let (day, sum, n, min, max) = row?;
                let Some(i) = crate::tz::bucket_of(&q.days, day) else { continue };
                let e = b.entry(q.days[i]).or_insert((0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
                *e = (e.0 + sum, e.1 + n, e.2.min(min), e.3.max(max));
            }
            b.into_iter().map(|(t, (sum, n, min, max))| (t, sum / n, min, max)).collect()
        } else {
            let mut st = c.prepare(&format!(
                "SELECT (ts - ?1) / ?3 AS b, AVG({col}), MIN({col}), MAX({col}) FROM snapshots
                 WHERE ts >= ?1 AND ts < ?2 AND {col} IS NOT NULL GROUP BY b ORDER BY b"
            ))?;
            let it = st.query_map(params![q.from, q.to, q.step_ms], |r| {
                Ok((q.from + r.get::<_, i64>(0)? * q.step_ms, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            it.collect::<rusqlite::Result<_>>()?
        };
        Ok(rows)
    }

    /// The earliest data the history holds: (first usage ms, first snapshot ms).
    pub fn coverage(&self) -> (Option<i64>, Option<i64>) {
        let c = self.r();
        let u: Option<i64> =
            c.query_row("SELECT MIN(day) FROM usage_daily", [], |r| r.get(0)).ok().flatten().or_else(|| {
                c.query_row("SELECT MIN(hour) * 3600000 FROM usage_hourly", [], |r| r.get(0)).ok().flatten()
            });
        let s: Option<i64> = c.query_row("SELECT MIN(day) FROM health_daily", [], |r| r.get(0)).ok().flatten();
        (u, s)
    }

    // ---- settings and rules ----------------------------------------------------------------------

    pub fn setting(&self, key: &str) -> Option<Value> {
        let t: Option<String> =
            self.r().query_row("SELECT json FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional().ok()?;
        t.and_then(|t| serde_json::from_str(&t).ok())
    }

    pub fn put_setting(&self, key: &str, v: &Value, now_ms: i64) -> rusqlite::Result<()> {
        self.w()
            .execute(
                "INSERT OR REPLACE INTO settings (key, json, updated_ms) VALUES (?1, ?2, ?3)",
                params![key, v.to_string(), now_ms],
            )
            .map(|_| ())
    }

    /// Every rule: (id, json).
    pub fn rules(&self) -> rusqlite::Result<Vec<(i64, Value)>> {
        let c = self.r();
        let mut st = c.prepare("SELECT id, json FROM rules ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.flatten().filter_map(|(id, t)| serde_json::from_str(&t).ok().map(|v| (id, v))).collect())
    }

    pub fn insert_rule(&self, v: &Value, now_ms: i64) -> rusqlite::Result<i64> {
        let c = self.w();
        c.execute(
            "INSERT INTO rules (json, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
            params![v.to_string(), now_ms],
        )?;
        Ok(c.last_insert_rowid())
    }

    pub fn update_rule(&self, id: i64, v: &Value, now_ms: i64) -> rusqlite::Result<bool> {
        self.w()
            .execute("UPDATE rules SET json = ?2, updated_ms = ?3 WHERE id = ?1", params![id, v.to_string(), now_ms])
            .map(|n| n > 0)
    }

    pub fn delete_rule(&self, id: i64) -> rusqlite::Result<bool> {
        self.w().execute("DELETE FROM rules WHERE id = ?1", [id]).map(|n| n > 0)
    }

    // ---- alerts ----------------------------------------------------------------------------------

    pub fn insert_alert(&self, a: &AlertRow) -> rusqlite::Result<i64> {
        let c = self.w();
        c.execute(
            "INSERT INTO alerts (ts, kind, severity, rule_id, dedupe, title, message, data, status, deliveries)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                a.ts,
                a.kind,
                a.severity,
                a.rule_id,
                a.dedupe,
                a.title,
                a.message,
                a.data.to_string(),
                a.status,
                a.deliveries.to_string()
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    pub fn set_alert_delivery(&self, id: i64, status: &str, deliveries: &Value) -> rusqlite::Result<()> {
        self.w()
            .execute(
                "UPDATE alerts SET status = ?2, deliveries = ?3 WHERE id = ?1",
                params![id, status, deliveries.to_string()],
            )
            .map(|_| ())
    }

    /// When an alert with this dedupe key was last recorded.
    pub fn last_fired(&self, dedupe: &str) -> Option<i64> {
        self.w().query_row("SELECT MAX(ts) FROM alerts WHERE dedupe = ?1", [dedupe], |r| r.get(0)).ok().flatten()
    }

    fn alert_from_row(r: &rusqlite::Row) -> rusqlite::Result<AlertRow> {
        Ok(AlertRow {
            id: r.get(0)?,
            ts: r.get(1)?,
            kind: r.get(2)?,
            severity: r.get(3)?,
            rule_id: r.get(4)?,
            dedupe: r.get(5)?,
            title: r.get(6)?,
            message: r.get(7)?,
            data: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or(Value::Null),
            status: r.get(9)?,
            deliveries: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or(json!([])),
            acked_ms: r.get(11).ok().flatten(),
            resolved_ms: r.get(12).ok().flatten(),
        })
    }

    /// Marks the alerts of an incident resolved at `now_ms` (those not marked yet).
    pub fn resolve_alerts(&self, ids: &[i64], now_ms: i64) -> rusqlite::Result<()> {
        let c = self.w();
        for id in ids {
            c.execute("INSERT OR IGNORE INTO alert_resolved (id, resolved_ms) VALUES (?1, ?2)", params![id, now_ms])?;
        }
        Ok(())
    }

    /// The incidents still open when clawmetry last stopped: per dedupe key of a rule alert
    /// recorded since `since_ms` and never resolved, its alert ids (oldest first).
    pub fn open_incidents(&self, since_ms: i64) -> rusqlite::Result<Vec<OpenIncident>> {
        let c = self.r();
        let mut st = c.prepare(
            "SELECT dedupe, id, ts FROM alerts WHERE rule_id IS NOT NULL AND ts >= ?1
             AND id NOT IN (SELECT id FROM alert_resolved) ORDER BY dedupe, id",
        )?;
        let rows =
            st.query_map([since_ms], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        let mut out: Vec<OpenIncident> = Vec::new();
        for row in rows {
            let (key, id, ts) = row?;
            match out.last_mut() {
                Some((k, ids)) if *k == key => ids.push((id, ts)),
                _ => out.push((key, vec![(id, ts)])),
            }
        }
        Ok(out)
    }

    /// Marks alerts read: the given ids, or (`None`) every one not read yet. Returns how many
    /// became read.
    pub fn ack_alerts(&self, ids: Option<&[i64]>, now_ms: i64) -> rusqlite::Result<usize> {
        let c = self.w();
        match ids {
            None => c.execute(
                "INSERT OR IGNORE INTO alert_acks (id, acked_ms) SELECT id, ?1 FROM alerts \
                 WHERE id NOT IN (SELECT id FROM alert_acks)",
                [now_ms],
            ),
            Some(ids) => {
                let mut n = 0;
                for id in ids {
                    n += c.execute(
                        "INSERT OR IGNORE INTO alert_acks (id, acked_ms) SELECT id, ?2 FROM alerts WHERE id = ?1",
                        params![id, now_ms],
                    )?;
                }
                Ok(n)
            }
        }
    }

    /// Alerts not marked read.
    pub fn unread_alerts(&self) -> rusqlite::Result<i64> {
        self.r().query_row("SELECT COUNT(*) FROM alerts WHERE id NOT IN (SELECT id FROM alert_acks)", [], |r| r.get(0))
    }

    /// Newest first. `kind` filters on the alert kind, `severity` on the severity.
    pub fn alerts(
        &self,
        limit: i64,
        offset: i64,
        kind: Option<&str>,
        severity: Option<&str>,
    ) -> rusqlite::Result<(i64, Vec<AlertRow>)> {
        let c = self.r();
        let total: i64 = c.query_row(
            "SELECT COUNT(*) FROM alerts WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR severity = ?2)",
            params![kind, severity],
            |r| r.get(0),
        )?;
        let mut st = c.prepare(
            "SELECT a.id, ts, kind, severity, rule_id, dedupe, title, message, data, status, deliveries, k.acked_ms,
             v.resolved_ms FROM alerts a LEFT JOIN alert_acks k ON k.id = a.id LEFT JOIN alert_resolved v ON v.id = a.id
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR severity = ?2)
             ORDER BY ts DESC, a.id DESC LIMIT ?3 OFFSET ?4",
        )?;
        let rows = st.query_map(params![kind, severity, limit, offset], Self::alert_from_row)?;
        Ok((total, rows.collect::<rusqlite::Result<_>>()?))
    }

    /// Alerts whose sending never finished (clawmetry stopped in between), oldest first.
    pub fn pending_alerts(&self, since_ms: i64) -> rusqlite::Result<Vec<AlertRow>> {
        let c = self.r();
        let mut st = c.prepare(
            "SELECT id, ts, kind, severity, rule_id, dedupe, title, message, data, status, deliveries FROM alerts
             WHERE status = 'pending' AND ts >= ?1 ORDER BY id",
        )?;
        let rows = st.query_map([since_ms], Self::alert_from_row)?;
        rows.collect()
    }
}

/// A chart query; `from` and `to` are aligned to `step_ms` by the caller.
/// Recomputes the usage rollup of the local day starting at `day` (ms) from its hourly cells
/// (the hours that start in it).
fn roll_up_usage_day(tx: &Connection, z: &Zone, day: i64) -> rusqlite::Result<()> {
    let next = z.add_days(day, 1);
    tx.execute("DELETE FROM usage_daily WHERE day = ?1", [day])?;
    tx.execute(
        "INSERT INTO usage_daily (day, model, agent, input, output, cache_read, cache_write, reasoning, cost, calls)
         SELECT ?1, model, agent, SUM(input), SUM(output), SUM(cache_read), SUM(cache_write), SUM(reasoning),
                SUM(cost), SUM(calls)
         FROM usage_hourly WHERE hour >= ?2 AND hour < ?3 GROUP BY model, agent",
        params![day, crate::insight::first_hour(day), crate::insight::first_hour(next)],
    )?;
    Ok(())
}

/// Recomputes the snapshot rollups of the local day starting at `day` (ms).
fn roll_up_snapshot_day(tx: &Connection, z: &Zone, day: i64) -> rusqlite::Result<()> {
    let next = z.add_days(day, 1);
    for (col, name, _) in SNAPSHOT_METRICS {
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO health_daily (day, metric, min, max, avg, n)
                 SELECT ?1, ?2, MIN({col}), MAX({col}), AVG({col}), COUNT({col})
                 FROM snapshots WHERE ts >= ?1 AND ts < ?3"
            ),
            params![day, name, next],
        )?;
    }
    Ok(())
}

/// The daily rollups are local days of the zone named in `meta.rollup_zone` (none: UTC, the
/// days before the zone was kept). Another zone now: the rollups of every day the hourly cells
/// and snapshots still hold are computed again in it, and those of the older days, whose
/// detail is gone, are kept as they were (in the earlier zone's days). Returns the days redone.
fn rezone_rollups(c: &mut Connection, z: &Zone) -> rusqlite::Result<usize> {
    let zone = z.name();
    let was: Option<String> =
        c.query_row("SELECT value FROM meta WHERE key = 'rollup_zone'", [], |r| r.get(0)).optional()?;
    if was.as_deref().unwrap_or("UTC") == zone {
        if was.is_none() {
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rollup_zone', ?1)", [zone])?;
        }
        return Ok(0);
    }
    let tx = c.transaction()?;
    let first_hour: Option<i64> = tx.query_row("SELECT MIN(hour) FROM usage_hourly", [], |r| r.get(0))?;
    let first_snap: Option<i64> = tx.query_row("SELECT MIN(ts) FROM snapshots", [], |r| r.get(0))?;
    let mut n = 0;
    // Rows of the old zone from the first detailed day on (less a day: an old day may straddle
    // the new first day) are replaced.
    if let Some(h) = first_hour {
        let from = z.day_start(h * 3_600_000);
        tx.execute("DELETE FROM usage_daily WHERE day >= ?1", [from - 86_400_000])?;
        let hours: Vec<i64> = tx
            .prepare("SELECT DISTINCT hour FROM usage_hourly")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let days: std::collections::BTreeSet<i64> = hours.iter().map(|h| z.day_start(h * 3_600_000)).collect();
        for d in &days {
            roll_up_usage_day(&tx, z, *d)?;
        }
        n += days.len();
    }
    if let Some(t) = first_snap {
        let from = z.day_start(t);
        tx.execute("DELETE FROM health_daily WHERE day >= ?1", [from - 86_400_000])?;
        let mut d = from;
        let last: i64 = tx.query_row("SELECT MAX(ts) FROM snapshots", [], |r| r.get(0))?;
        while d <= last {
            roll_up_snapshot_day(&tx, z, d)?;
            d = z.add_days(d, 1);
            n += 1;
        }
    }
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rollup_zone', ?1)", [zone])?;
    tx.commit()?;
    Ok(n)
}

#[derive(Debug, Clone)]
pub struct SeriesQuery {
    pub metric: String,
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    /// For steps of whole days: the buckets' starts (local midnights, `tz::Zone::day_buckets`);
    /// a row counts in the last bucket that starts at or before its day.
    pub days: Vec<i64>,
    pub by: Option<String>,
    pub agent: Option<String>,
    pub model: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("clawmetry-hist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    /// UTC day buckets for steps of whole days, as api/history.rs makes them.
    fn day_buckets(from: i64, to: i64, step_ms: i64) -> Vec<i64> {
        if step_ms % 86_400_000 != 0 {
            return Vec::new();
        }
        Zone::utc().day_buckets(from, to, step_ms / 86_400_000, 1000).unwrap()
    }

    #[test]
    fn rollups_follow_a_new_zone() {
        let dir = tmpdir("rezone");
        let h = History::open(Some(&dir), 90);
        // 2026-12-06 07:00 and 09:00 UTC: one UTC day, but Dec 5 23:00 and Dec 6 01:00 PST.
        let at = |s: &str| (crate::timefmt::parse_iso_ms(s).unwrap() / 3_600_000) as u32;
        h.store_cells(&[
            ((at("2026-12-06T07:00:00Z"), "m".into(), "main".into()), row(1, 1.0)),
            ((at("2026-12-06T09:00:00Z"), "m".into(), "main".into()), row(1, 2.0)),
        ])
        .unwrap();
        let days = |h: &History| -> Vec<(i64, f64)> {
            let c = h.r();
            let mut st = c.prepare("SELECT day, SUM(cost) FROM usage_daily GROUP BY day ORDER BY day").unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
        };
        let t = |s: &str| crate::timefmt::parse_iso_ms(s).unwrap();
        assert_eq!(days(&h), vec![(t("2026-12-06T00:00:00Z"), 3.0)]);
        let la = crate::tz::load("America/Los_Angeles").expect("tzdata: America/Los_Angeles");
        assert_eq!(rezone_rollups(&mut h.w(), &la).unwrap(), 2);
        assert_eq!(days(&h), vec![(t("2026-12-05T08:00:00Z"), 1.0), (t("2026-12-06T08:00:00Z"), 2.0)]);
        assert_eq!(h.meta("rollup_zone").as_deref(), Some("America/Los_Angeles"));
        // The same zone again: nothing to do.
        assert_eq!(rezone_rollups(&mut h.w(), &la).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn row(calls: u64, cost: f64) -> UsageRow {
        UsageRow { input: calls * 100, output: calls * 10, cost, calls, ..Default::default() }
    }

    #[test]
    fn cells_rollups_and_series_survive_reopening() {
        let dir = tmpdir("cells");
        let h = History::open(Some(&dir), 90);
        assert!(h.persistent(), "{:?}", h.open_error);
        let day = 20_000i64; // an epoch day
        let hour = (day * 24) as u32;
        h.store_cells(&[
            ((hour + 1, "a/x".into(), "main".into()), row(2, 0.5)),
            ((hour + 1, "a/y".into(), "ops".into()), row(1, 0.25)),
            ((hour + 30, "a/x".into(), "main".into()), row(1, 1.0)),
        ])
        .unwrap();
        // Replacing a cell updates the daily rollup.
        h.store_cells(&[((hour + 1, "a/x".into(), "main".into()), row(3, 0.75))]).unwrap();
        drop(h);
        let h = History::open(Some(&dir), 90);
        let cells = h.load_cells(0).unwrap();
        assert_eq!(cells.len(), 3);
        let cell = |k: CellKey| cells.iter().find(|(c, _)| *c == k).map(|(_, r)| r.calls);
        assert_eq!(cell((hour + 1, "a/x".into(), "main".into())), Some(3));
        let from = day * 86_400_000;
        let q = |step_ms: i64, by: Option<&str>, metric: &str| SeriesQuery {
            metric: metric.into(),
            from,
            to: from + 2 * 86_400_000,
            step_ms,
            days: day_buckets(from, from + 2 * 86_400_000, step_ms),
            by: by.map(String::from),
            agent: None,
            model: None,
        };
        let daily = h.usage_series(&q(86_400_000, None, "cost")).unwrap();
        assert_eq!(daily, vec![(from, String::new(), 1.0), (from + 86_400_000, String::new(), 1.0)]);
        let hourly = h.usage_series(&q(3_600_000, Some("agent"), "calls")).unwrap();
        assert_eq!(hourly[0], (from + 3_600_000, "main".into(), 3.0));
        assert_eq!(hourly[1], (from + 3_600_000, "ops".into(), 1.0));
        let tokens = h.usage_series(&q(86_400_000, None, "tokens")).unwrap();
        assert_eq!(tokens[0].2, 440.0);
        let mut f = q(86_400_000, None, "cost");
        f.agent = Some("ops".into());
        assert_eq!(h.usage_series(&f).unwrap(), vec![(from, String::new(), 0.25)]);
        assert_eq!(h.coverage().0, Some(from));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn snapshots_rollups_and_retention() {
        let dir = tmpdir("snap");
        let h = History::open(Some(&dir), 2);
        let day0 = 20_000i64 * 86_400_000;
        let n = SNAPSHOT_METRICS.len();
        let mut vals = vec![None; n];
        let disk = SNAPSHOT_METRICS.iter().position(|m| m.1 == "disk").unwrap();
        for (i, v) in [10.0, 20.0, 60.0].iter().enumerate() {
            vals[disk] = Some(*v);
            h.store_snapshot(&Snapshot { ts: day0 + i as i64 * 300_000, values: vals.clone() }).unwrap();
        }
        vals[disk] = Some(50.0);
        h.store_snapshot(&Snapshot { ts: day0 + 3 * 86_400_000, values: vals.clone() }).unwrap();
        assert_eq!(h.snapshot_count(), 4);
        let q = |step_ms: i64| SeriesQuery {
            metric: "disk".into(),
            from: day0,
            to: day0 + 4 * 86_400_000,
            step_ms,
            days: day_buckets(day0, day0 + 4 * 86_400_000, step_ms),
            by: None,
            agent: None,
            model: None,
        };
        let raw = h.snapshot_series(&q(600_000)).unwrap();
        assert_eq!(raw[0], (day0, 15.0, 10.0, 20.0));
        assert_eq!(raw[1], (day0 + 600_000, 60.0, 60.0, 60.0));
        let daily = h.snapshot_series(&q(86_400_000)).unwrap();
        assert_eq!(daily[0], (day0, 30.0, 10.0, 60.0));
        // Retention 2 days at day 3: day 0's snapshots go, its daily rollup stays.
        assert_eq!(h.prune(day0 + 3 * 86_400_000 + 1000).unwrap(), 3);
        assert_eq!(h.snapshot_count(), 1);
        assert_eq!(h.snapshot_series(&q(86_400_000)).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_history_that_cannot_be_written_is_served_read_only() {
        let dir = tmpdir("readonly");
        {
            let h = History::open(Some(&dir), 90);
            assert!(h.persistent(), "{:?}", h.open_error);
            h.put_setting("budget", &json!({"dailyUsd": 5, "autoPause": true}), 1).unwrap();
            h.insert_rule(&json!({"kind": "disk", "percent": 91}), 1).unwrap();
        }
        // The data dir can no longer be written. As root, permissions do not stop a write: a
        // directory where SQLite must make its WAL file does.
        let _ = std::fs::remove_file(dir.join("history.db-wal"));
        std::fs::create_dir(dir.join("history.db-wal")).unwrap();
        let h = History::open(Some(&dir), 90);
        assert!(!h.persistent());
        let why = h.open_error.clone().unwrap();
        assert!(why.contains("served read-only"), "{why}");
        assert_eq!(h.setting("budget").unwrap(), json!({"dailyUsd": 5, "autoPause": true}));
        assert_eq!(h.rules().unwrap()[0].1["percent"], 91);
        // Not even readable: said so, and the server still runs on an empty history.
        std::fs::write(dir.join("history.db"), b"not a database").unwrap();
        let h = History::open(Some(&dir), 90);
        let why = h.open_error.clone().unwrap();
        assert!(why.contains("could not be read either"), "{why}");
        assert!(h.setting("budget").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn settings_rules_alerts_and_the_in_memory_fallback() {
        let file = tmpdir("notadir");
        std::fs::write(&file, "x").unwrap();
        let h = History::open(Some(&file.join("sub")), 90);
        assert!(!h.persistent());
        assert!(h.open_error.as_deref().unwrap().contains("cannot create"), "{:?}", h.open_error);
        h.put_setting("budget", &json!({"dailyUsd": 5}), 1).unwrap();
        assert_eq!(h.setting("budget").unwrap()["dailyUsd"], 5);
        let id = h.insert_rule(&json!({"kind": "disk"}), 1).unwrap();
        assert!(h.update_rule(id, &json!({"kind": "disk", "percent": 90}), 2).unwrap());
        assert!(!h.update_rule(id + 1, &json!({}), 2).unwrap());
        assert_eq!(h.rules().unwrap()[0].1["percent"], 90);
        assert!(h.delete_rule(id).unwrap());
        assert!(h.rules().unwrap().is_empty());
        let a = AlertRow {
            id: 0,
            ts: 10,
            kind: "disk".into(),
            severity: "warning".into(),
            rule_id: Some(1),
            dedupe: "disk:1".into(),
            title: "t".into(),
            message: "m".into(),
            data: json!({}),
            status: "pending".into(),
            deliveries: json!([]),
            acked_ms: None,
            resolved_ms: None,
        };
        let id = h.insert_alert(&a).unwrap();
        assert_eq!(h.last_fired("disk:1"), Some(10));
        assert_eq!(h.last_fired("other"), None);
        assert_eq!(h.pending_alerts(0).unwrap().len(), 1);
        h.set_alert_delivery(id, "sent", &json!([{"channel": "webhook", "ok": true}])).unwrap();
        assert!(h.pending_alerts(0).unwrap().is_empty());
        let (total, rows) = h.alerts(10, 0, Some("disk"), None).unwrap();
        assert_eq!(total, 1);
        assert_eq!(rows[0].status, "sent");
        // Read marks: one by id (once), then all; an unknown id marks nothing.
        let id2 = h.insert_alert(&a).unwrap();
        assert_eq!(h.unread_alerts().unwrap(), 2);
        assert_eq!(h.ack_alerts(Some(&[id, 9999]), 50).unwrap(), 1);
        assert_eq!(h.ack_alerts(Some(&[id]), 60).unwrap(), 0);
        assert_eq!(h.unread_alerts().unwrap(), 1);
        let (_, rows) = h.alerts(10, 0, None, None).unwrap();
        let acked: Vec<(i64, Option<i64>)> = rows.iter().map(|r| (r.id, r.acked_ms)).collect();
        assert!(acked.contains(&(id, Some(50))) && acked.contains(&(id2, None)), "{acked:?}");
        assert_eq!(h.ack_alerts(None, 70).unwrap(), 1);
        assert_eq!(h.unread_alerts().unwrap(), 0);
        // Incidents: both alerts of "disk:1" are open until resolved; resolving twice keeps the
        // first time; an alert without a rule is never an incident.
        h.insert_alert(&AlertRow { rule_id: None, dedupe: "budget".into(), ..a.clone() }).unwrap();
        assert_eq!(h.open_incidents(0).unwrap(), vec![("disk:1".to_string(), vec![(id, 10), (id2, 10)])]);
        assert!(h.open_incidents(11).unwrap().is_empty(), "older than the window");
        h.resolve_alerts(&[id, id2], 80).unwrap();
        h.resolve_alerts(&[id], 90).unwrap();
        assert!(h.open_incidents(0).unwrap().is_empty());
        let (_, rows) = h.alerts(10, 0, Some("disk"), None).unwrap();
        assert!(rows.iter().filter(|r| r.rule_id.is_some()).all(|r| r.resolved_ms == Some(80)), "{rows:?}");
        let _ = std::fs::remove_file(&file);
    }
}
