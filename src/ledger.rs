//! The spend ledger: what clawmetry has once counted stays counted.
//!
//! OpenClaw may purge a transcript for good (`openclaw sessions cleanup`, retention, a disk
//! budget, a user deleting files). The ledger keeps every session's aggregates (the index's
//! `Tally` with its hourly buckets, and its metadata) in `<data-dir>/ledger.db`, written behind
//! the watcher every few seconds for the sessions that changed. At start it is read, a chunk at a
//! time, once the sources have been: a session still found in a source takes the source's figures unless they
//! are smaller (rows deleted from the middle of a transcript), and one found nowhere is listed as
//! `purged` with its figures. The ledger grows by one row per session, never per event.

use crate::model::{HourUsage, SessionMeta, Tally, Usage};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One session as the ledger keeps it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub agent: String,
    /// The store the figures came from (`Store::as_str`): an OTLP session stays one, so that
    /// spans arriving after a restart add to it.
    pub store: String,
    pub meta: SessionMeta,
    pub tally: Tally,
}

/// What a ledger row's columns say of a session, read without decoding the row: a session
/// the sources gave the same or more is taken as it is (`events` and `print` are `None` in
/// rows written before they were columns).
#[derive(Debug, Clone)]
pub struct Head {
    pub rowid: i64,
    pub id: String,
    pub events: Option<u64>,
    pub cost: f64,
    pub print: Option<u64>,
}

pub struct Ledger {
    conn: Connection,
    pub path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  calls INTEGER NOT NULL,
  cost REAL NOT NULL,
  updated_ms INTEGER NOT NULL,
  data TEXT NOT NULL
);
";

/// The format of `sessions.data`; a newer one is refused rather than misread.
const VERSION: i64 = 1;

impl Ledger {
    /// Opens (creating) `<data_dir>/ledger.db`.
    pub fn open(data_dir: &Path) -> Result<Ledger, String> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let path = data_dir.join("ledger.db");
        let conn = Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(2)).ok();
        // A WAL bigger than 4 MiB is cut back to that size after each checkpoint. Rows are
        // replaced by key, a chunk at a time: 256 KiB of page cache, not SQLite's default 2 MB.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 4194304; \
             PRAGMA cache_size = -256;",
        )
        .and_then(|_| conn.execute_batch(SCHEMA))
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let version: Option<String> =
            conn.query_row("SELECT value FROM ledger_meta WHERE key = 'version'", [], |r| r.get(0)).ok();
        match version.and_then(|v| v.parse::<i64>().ok()) {
            Some(v) if v > VERSION => {
                return Err(format!("{}: written by a newer clawmetry (format {v}); not touched", path.display()))
            }
            Some(_) => {}
            None => {
                conn.execute("INSERT OR REPLACE INTO ledger_meta VALUES ('version', ?1)", params![VERSION.to_string()])
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        // The figures a restart compares without decoding `data` (added after the first
        // format: older rows have none until written again).
        for col in ["events", "print"] {
            let has = conn
                .prepare("SELECT 1 FROM pragma_table_info('sessions') WHERE name = ?1")
                .and_then(|mut s| s.exists(params![col]))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {col} INTEGER"))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        Ok(Ledger { conn, path })
    }

    /// Every session kept, `chunk` at a time in rowid order (so that a big ledger is never held
    /// whole); rows that cannot be decoded are skipped and counted. Returns that count. (A
    /// restart reads [`Ledger::heads_each`] and decodes only the rows it needs.)
    #[cfg(test)]
    pub fn load_each(&self, chunk: usize, mut f: impl FnMut(Vec<Entry>)) -> Result<u64, String> {
        let mut bad = 0;
        let unreadable = self.heads_each(chunk, |heads| {
            let (entries, n) = self.entries(&heads.iter().map(|h| h.rowid).collect::<Vec<_>>())?;
            bad += n;
            f(entries.into_iter().map(|(_, e)| e).collect());
            Ok(())
        })?;
        Ok(bad + unreadable)
    }

    /// Every row's [`Head`], `chunk` at a time in rowid order; `f` may fail, which ends the
    /// walk with its error. Rows whose id cannot be read are counted (returned).
    pub fn heads_each(&self, chunk: usize, mut f: impl FnMut(Vec<Head>) -> Result<(), String>) -> Result<u64, String> {
        // Read on a thread with a connection of its own, a chunk ahead: `f` compares one chunk
        // (and may decode rows through `self`) while the next is read. At a restart at 100k
        // sessions the two took about as long.
        let chunk = chunk.max(1);
        let path = self.path.as_path();
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Head>>(1);
            let reader = std::thread::Builder::new()
                .name("ledger-heads".into())
                .spawn_scoped(s, move || read_heads(path, chunk, &tx))
                .map_err(|e| format!("{}: cannot start its reader: {e}", path.display()))?;
            let mut failed = None;
            for heads in rx.iter() {
                if let Err(e) = f(heads) {
                    failed = Some(e);
                    break;
                }
            }
            // The reader stops at its next chunk (nobody to take it).
            drop(rx);
            let read = reader.join().unwrap_or_else(|_| Err(format!("{}: its reader failed", path.display())));
            match failed {
                Some(e) => Err(e),
                None => read,
            }
        })
    }

    /// The rows with these rowids, decoded (with their rowid); rows that cannot be are skipped
    /// and counted.
    pub fn entries(&self, rowids: &[i64]) -> Result<(Vec<(i64, Entry)>, u64), String> {
        let err = |e: rusqlite::Error| format!("{}: {e}", self.path.display());
        let mut stmt =
            self.conn.prepare_cached("SELECT id, agent, data FROM sessions WHERE rowid = ?1").map_err(err)?;
        let (mut out, mut bad) = (Vec::with_capacity(rowids.len()), 0);
        for &rowid in rowids {
            let row = stmt
                .query_row(params![rowid], |r| {
                    Ok((r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)))
                })
                .map_err(err)?;
            match row {
                (Ok(id), Ok(agent), Ok(data)) => match decode(&data) {
                    Some((store, meta, tally)) => out.push((rowid, Entry { id, agent, store, meta, tally })),
                    None => bad += 1,
                },
                _ => bad += 1,
            }
        }
        Ok((out, bad))
    }

    /// Every session kept, at once (tests); see `load_each`.
    #[cfg(test)]
    pub fn load(&self) -> Result<(Vec<Entry>, u64), String> {
        let mut all = Vec::new();
        let bad = self.load_each(4096, |chunk| all.extend(chunk))?;
        Ok((all, bad))
    }

    /// Folds the write-ahead log back into the database and truncates it (after a big write,
    /// so that the WAL does not stay as big as the ledger).
    pub fn checkpoint(&self) -> Result<(), String> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Writes (replaces) these sessions in one transaction.
    pub fn save(&mut self, entries: &[Entry], now_ms: i64) -> Result<(), String> {
        let err = |e: rusqlite::Error| format!("{}: {e}", self.path.display());
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sessions (id, agent, calls, cost, updated_ms, data, events, print) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(|e| format!("{e}"))?;
            for e in entries {
                let calls: u64 = e.tally.hourly.iter().map(|h| h.calls as u64).sum();
                stmt.execute(params![
                    e.id,
                    e.agent,
                    calls as i64,
                    finite(e.tally.usage.cost),
                    now_ms,
                    encode(&e.store, &e.meta, &e.tally).to_string(),
                    i64::from(e.tally.events),
                    fingerprint(&e.store, &e.meta) as i64,
                ])
                .map_err(|e| format!("{e}"))?;
            }
        }
        tx.commit().map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Drops these sessions from the ledger (`--forget-purged`).
    pub fn forget(&mut self, ids: &[String]) -> Result<usize, String> {
        let tx = self.conn.transaction().map_err(|e| e.to_string())?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM sessions WHERE id = ?1").map_err(|e| e.to_string())?;
            for id in ids {
                n += stmt.execute(params![id]).map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
        Ok(n)
    }
}

/// A session id as a 64-bit key ([`crate::codec::stable_hasher`]): what the watcher remembers of each
/// session the ledger has. A collision could only skip a write whose figures are also equal.
pub fn id_key(id: &str) -> u64 {
    crate::codec::stable_hash(id)
}

/// What the ledger row of a session says besides its figures (its store and metadata, not its
/// id), as 64 bits: a session whose metadata changed (archived, ended, relabelled, moved to an
/// archive) is written again even when its figures did not.
pub fn fingerprint(store: &str, meta: &SessionMeta) -> u64 {
    let SessionMeta {
        id: _,
        key,
        label,
        channel,
        model,
        status,
        created_via,
        parent_key,
        started_ms,
        ended_ms,
        updated_ms,
        archived_ms,
    } = meta;
    crate::codec::stable_hash(&(
        store,
        (key, label, channel, model, status, created_via, parent_key),
        (started_ms, ended_ms, updated_ms, archived_ms),
    ))
}

/// Whether figures read back from the ledger are those of the index: the same event count and
/// the same cost up to the last bits a JSON round trip may change.
pub fn same_figures(kept: (u64, f64), now: (u64, f64)) -> bool {
    kept.0 == now.0 && (kept.1 - now.1).abs() <= 1e-12 * kept.1.abs().max(now.1.abs())
}

/// [`Ledger::heads_each`]'s reader: every row's [`Head`] in rowid order, `chunk` at a time, to
/// `tx` (until nobody takes them). Returns how many rows had no readable id.
fn read_heads(path: &Path, chunk: usize, tx: &std::sync::mpsc::SyncSender<Vec<Head>>) -> Result<u64, String> {
    let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(2)).ok();
    // One pass over the table: the main connection's small page cache, not SQLite's 2 MB.
    conn.execute_batch("PRAGMA cache_size = -256;").map_err(err)?;
    let mut stmt = conn
        .prepare("SELECT rowid, id, events, cost, print FROM sessions WHERE rowid > ?1 ORDER BY rowid LIMIT ?2")
        .map_err(err)?;
    let (mut after, mut bad) = (i64::MIN, 0);
    loop {
        let mut rows = stmt.query(params![after, chunk as i64]).map_err(err)?;
        let mut out = Vec::with_capacity(chunk);
        let mut seen = 0;
        while let Some(r) = rows.next().map_err(err)? {
            seen += 1;
            after = r.get(0).map_err(err)?;
            let Ok(id) = r.get::<_, String>(1) else {
                bad += 1;
                continue;
            };
            let events = r.get::<_, Option<i64>>(2).ok().flatten().map(|n| n as u64);
            let cost = r.get::<_, f64>(3).unwrap_or(f64::NAN);
            let print = r.get::<_, Option<i64>>(4).ok().flatten().map(|n| n as u64);
            out.push(Head { rowid: after, id, events, cost, print });
        }
        drop(rows);
        if !out.is_empty() && tx.send(out).is_err() {
            return Ok(bad);
        }
        if seen < chunk {
            return Ok(bad);
        }
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn usage_json(u: &Usage) -> Value {
    json!([u.input, u.output, u.cache_read, u.cache_write, u.reasoning, finite(u.cost)])
}

fn usage_from(v: &Value) -> Option<Usage> {
    let a = v.as_array()?;
    let n = |i: usize| a.get(i).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        input: n(0),
        output: n(1),
        cache_read: n(2),
        cache_write: n(3),
        reasoning: n(4),
        cost: a.get(5).and_then(Value::as_f64).unwrap_or(0.0),
    })
}

/// A session as JSON: compact arrays for the usage figures, which are most of it.
fn encode(store: &str, meta: &SessionMeta, t: &Tally) -> Value {
    json!({
        "store": store,
        "meta": {
            "key": meta.key, "label": meta.label, "channel": meta.channel, "model": meta.model,
            "status": meta.status, "createdVia": meta.created_via, "parentKey": meta.parent_key,
            "startedMs": meta.started_ms, "endedMs": meta.ended_ms, "updatedMs": meta.updated_ms,
            "archivedMs": meta.archived_ms,
        },
        "counts": [t.events, t.user_messages, t.assistant_messages, t.tool_calls, t.tool_results, t.tool_errors,
                   t.assistant_errors, t.unknown_events, t.estimated_cost_calls, t.tool_exit_failures,
                   t.max_prompt, t.compactions, t.compacted_tokens],
        "maxPromptModel": t.max_prompt_model.and_then(|i| t.models.get(i as usize)),
        // What a later delta needs to finish a compaction's figures.
        "pendingCompaction": t.pending_compaction, "leadPrompt": t.lead_prompt, "leadClosed": t.lead_closed,
        "usage": usage_json(&t.usage),
        "models": t.models,
        "tools": t.tools,
        "toolCost": t.tools.with_cost().map(|(n, _, c)| (n.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
        "heartbeatCost": t.heartbeat_cost,
        "firstMs": t.first_ms, "lastMs": t.last_ms,
        "lastStopReason": t.last_stop_reason, "lastKindAssistant": t.last_kind_assistant,
        "firstUserText": t.first_user_text,
        "hourly": t.hourly.iter().map(|h| json!([h.hour, h.model, h.calls, usage_json(&h.usage)])).collect::<Vec<_>>(),
    })
}

fn decode(data: &str) -> Option<(String, SessionMeta, Tally)> {
    decode_value(&serde_json::from_str(data).ok()?)
}

/// [`encode`]'s JSON back (None when it is not that).
fn decode_value(v: &Value) -> Option<(String, SessionMeta, Tally)> {
    let store = v.get("store").and_then(Value::as_str).unwrap_or("none").to_string();
    let m = v.get("meta")?;
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let i = |k: &str| m.get(k).and_then(Value::as_i64);
    let meta = SessionMeta {
        id: String::new(),
        key: s("key").map(Into::into),
        label: s("label").map(Into::into),
        channel: s("channel").map(crate::model::name),
        model: s("model").map(crate::model::name),
        status: s("status").map(crate::model::name),
        created_via: s("createdVia").map(crate::model::name),
        parent_key: s("parentKey").map(Into::into),
        started_ms: i("startedMs"),
        ended_ms: i("endedMs"),
        updated_ms: i("updatedMs"),
        archived_ms: i("archivedMs"),
    };
    let c = v.get("counts")?.as_array()?;
    let n = |i: usize| c.get(i).and_then(Value::as_u64).unwrap_or(0);
    // A session's counts are u32 in memory (4 billion lines would be 400 GB of transcript).
    let n32 = |i: usize| n(i).min(u32::MAX as u64) as u32;
    let models: Vec<String> =
        v.get("models")?.as_array()?.iter().map(|m| m.as_str().unwrap_or("?").to_string()).collect();
    let mut t = Tally {
        events: n32(0),
        user_messages: n32(1),
        assistant_messages: n32(2),
        tool_calls: n32(3),
        tool_results: n32(4),
        tool_errors: n32(5),
        assistant_errors: n32(6),
        unknown_events: n32(7),
        estimated_cost_calls: n32(8),
        tool_exit_failures: n32(9),
        max_prompt: n(10),
        compactions: n32(11),
        compacted_tokens: n(12),
        usage: usage_from(v.get("usage")?)?,
        first_ms: v.get("firstMs").and_then(Value::as_i64),
        last_ms: v.get("lastMs").and_then(Value::as_i64),
        last_stop_reason: v.get("lastStopReason").and_then(Value::as_str).map(crate::model::shared_name),
        last_kind_assistant: v.get("lastKindAssistant").and_then(Value::as_bool).unwrap_or(false),
        first_user_text: v.get("firstUserText").and_then(Value::as_str).map(Into::into),
        ..Tally::default()
    };
    if let Some(tools) = v.get("tools").and_then(Value::as_object) {
        for (name, k) in tools {
            t.tools.add(name, k.as_u64().unwrap_or(0));
        }
    }
    if let Some(costs) = v.get("toolCost").and_then(Value::as_object) {
        for (name, c) in costs {
            t.tools.add_cost(name, c.as_f64().unwrap_or(0.0));
        }
    }
    t.heartbeat_cost = v.get("heartbeatCost").and_then(Value::as_f64).unwrap_or(0.0);
    for h in v.get("hourly")?.as_array()? {
        let a = h.as_array()?;
        let model = a.get(1)?.as_u64()? as u32;
        if model as usize >= models.len() {
            return None;
        }
        t.hourly.push(HourUsage {
            hour: a.first()?.as_u64()? as u32,
            model,
            calls: a.get(2)?.as_u64()? as u32,
            usage: usage_from(a.get(3)?)?,
        });
    }
    t.pending_compaction = v.get("pendingCompaction").and_then(Value::as_u64);
    t.lead_prompt = v.get("leadPrompt").and_then(Value::as_u64);
    t.lead_closed = v.get("leadClosed").and_then(Value::as_bool).unwrap_or(false);
    t.max_prompt_model = v
        .get("maxPromptModel")
        .and_then(Value::as_str)
        .and_then(|m| models.iter().position(|x| x == m))
        .map(|i| i as u32);
    t.models = models.iter().map(|m| crate::model::shared_name(m)).collect();
    Some((store, meta, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reload() {
        let dir = std::env::temp_dir().join(format!("clawmetry-ledger-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = Tally { events: 7, user_messages: 2, tool_calls: 3, ..Tally::default() };
        t.models = vec!["openai/gpt-x".into(), "anthropic/claude".into()];
        t.tools.add("exec", 2);
        t.tools.add("read", 1);
        let u = Usage { input: 100, output: 20, cache_read: 5, cache_write: 1, reasoning: 0, cost: 0.125 };
        t.usage = Usage { cost: 0.25, input: 200, output: 40, cache_read: 10, cache_write: 2, reasoning: 0 };
        t.hourly = vec![
            HourUsage { hour: 493_000, model: 0, calls: 1, usage: u },
            HourUsage { hour: 493_001, model: 1, calls: 1, usage: u },
        ];
        t.first_ms = Some(1);
        t.last_ms = Some(2);
        let meta =
            SessionMeta { key: Some("agent:main:x".into()), status: Some("done".into()), ..SessionMeta::default() };
        {
            let mut l = Ledger::open(&dir).unwrap();
            let e = Entry {
                id: "s1".into(),
                agent: "main".into(),
                store: "otlp".into(),
                meta: meta.clone(),
                tally: t.clone(),
            };
            l.save(&[e], 5).unwrap();
        }
        let l = Ledger::open(&dir).unwrap();
        let (entries, bad) = l.load().unwrap();
        assert_eq!((entries.len(), bad), (1, 0));
        let e = &entries[0];
        assert_eq!((e.id.as_str(), e.agent.as_str(), e.store.as_str()), ("s1", "main", "otlp"));
        assert_eq!(e.meta, meta);
        assert_eq!(e.tally.usage, t.usage);
        assert_eq!(e.tally.hourly, t.hourly);
        assert_eq!(e.tally.models, t.models);
        assert_eq!(e.tally.tools, t.tools);
        assert_eq!((e.tally.events, e.tally.user_messages, e.tally.tool_calls), (7, 2, 3));
        // A row that cannot be decoded is skipped and counted, never fatal.
        l.conn.execute("INSERT INTO sessions (id, agent, calls, cost, updated_ms, data) VALUES ('bad', 'main', 0, 0, 0, '{\"meta\":1}')", []).unwrap();
        assert_eq!(l.load().unwrap().1, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loads_in_chunks_and_compares_figures_after_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("clawmetry-ledger-chunks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut l = Ledger::open(&dir).unwrap();
        // Costs as the index sums them: many small prices, not exactly representable.
        let entries: Vec<Entry> = (0..10)
            .map(|i| {
                let cost = (0..=i).map(|k| 0.000_003 * k as f64 + 0.1).sum::<f64>() / 3.0;
                let tally = Tally { events: i, usage: Usage { cost, ..Usage::default() }, ..Tally::default() };
                Entry {
                    id: format!("s{i}"),
                    agent: "main".into(),
                    store: "sqlite".into(),
                    meta: SessionMeta::default(),
                    tally,
                }
            })
            .collect();
        l.save(&entries, 1).unwrap();
        l.checkpoint().unwrap();
        let mut sizes = Vec::new();
        let mut back = Vec::new();
        let bad = l.load_each(3, |chunk| {
            sizes.push(chunk.len());
            back.extend(chunk);
        });
        assert_eq!((sizes, bad), (vec![3, 3, 3, 1], Ok(0)));
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!(a.id, b.id);
            let (kept, now) =
                ((u64::from(b.tally.events), b.tally.usage.cost), (u64::from(a.tally.events), a.tally.usage.cost));
            assert!(same_figures(kept, now), "{kept:?} vs {now:?}");
            assert!(!same_figures(kept, (now.0 + 1, now.1)));
            assert!(!same_figures(kept, (now.0, now.1 + 1e-9)), "a real change of a billionth of a dollar counts");
        }
        assert!(same_figures((0, 0.0), (0, 0.0)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
