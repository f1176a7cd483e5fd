//! The current (OpenClaw 2026.7+) transcript store: `agents/<agent>/agent/openclaw-agent.sqlite`.
//!
//! Sessions come from `session_windows` (one row per session id) joined with `session_nodes`
//! (one row per session key); transcript lines are `transcript_events` rows, plain in
//! `event_json` or a zstd frame in `event_zstd`. The database is opened read-only and no
//! transaction is held between calls, so OpenClaw's writers and checkpoints never wait on us.

use crate::model::SessionMeta;
use rusqlite::{params, Connection, OpenFlags};
use std::io::Read;
use std::path::Path;

/// Largest inflated event accepted (OpenClaw itself caps events at 4 MiB).
pub const MAX_EVENT: u64 = 16 * 1024 * 1024;

/// Opens an agent database read-only.
pub fn open(path: &Path) -> Result<Connection, String> {
    // SQLite follows links: a database that is a symlink (to something outside) is refused.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(format!("{}: a symlink; not followed", path.display()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_millis(250)).ok();
    // Reads are sequential scans past a watermark: a big page cache would only hold memory.
    conn.execute_batch("PRAGMA cache_size = -128").ok();
    Ok(conn)
}

/// Read-only connections kept between short reads of the agent databases by the HTTP threads
/// (transcript pages, exports, search and activity reads through `sources/lines.rs`), so that a
/// read does not open the database, read its schema and prepare its statements each time
/// (~12 % of a page of 100 events at 1 GB). No statement or transaction outlives a loan, so no
/// writer or checkpoint of OpenClaw waits on a spare; like the watcher's own connection to each
/// database, an open one keeps OpenClaw's last connection from deleting the WAL as it closes.
static SPARES: Spares = Spares::new(3, std::time::Duration::from_secs(60));

/// A few connections kept for loans ([`lend`]): at most `cap` (one per agent database read
/// from lately, or two reads at once); one is dropped once its path names another file
/// (replaced, deleted) or it sat unused for `idle`, checked at each loan and at each
/// [`drop_idle_spares`].
pub struct Spares {
    list: std::sync::Mutex<Vec<Spare>>,
    cap: usize,
    idle: std::time::Duration,
}

struct Spare {
    path: std::path::PathBuf,
    /// The file's device and inode when it was opened.
    file: (u64, u64),
    conn: Connection,
    since: std::time::Instant,
}

/// A connection lent by [`lend`]; given back as a spare when dropped (unless its file changed
/// while it was opened).
pub struct Lent {
    spare: Option<Spare>,
    to: Option<&'static Spares>,
}

impl std::ops::Deref for Lent {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.spare.as_ref().expect("lent until dropped").conn
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let (Some(mut s), Some(to)) = (self.spare.take(), self.to) else { return };
        s.since = std::time::Instant::now();
        let mut list = crate::sync::lock(&to.list);
        list.push(s);
        // The oldest goes (closed outside the lock).
        let extra = (list.len() > to.cap).then(|| list.remove(0));
        drop(list);
        drop(extra);
    }
}

/// The device and inode of the regular file at `path` (None: missing, or not a plain file).
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_file()).map(|m| (m.dev(), m.ino()))
}

impl Spares {
    pub const fn new(cap: usize, idle: std::time::Duration) -> Spares {
        Spares { list: std::sync::Mutex::new(Vec::new()), cap, idle }
    }

    /// Drops the spares unused for `idle`, and those whose path now names another file or
    /// none (`path`, with its file now: only those of that path are looked at).
    fn sweep(&self, path: Option<(&Path, Option<(u64, u64)>)>) {
        let now = std::time::Instant::now();
        let mut list = crate::sync::lock(&self.list);
        let all = std::mem::take(&mut *list);
        let (keep, gone): (Vec<Spare>, Vec<Spare>) = all.into_iter().partition(|s| {
            now.duration_since(s.since) < self.idle && path.is_none_or(|(p, file)| s.path != p || Some(s.file) == file)
        });
        *list = keep;
        drop(list);
        drop(gone);
    }

    /// See [`lend`].
    pub fn lend(&'static self, path: &Path) -> Result<Lent, String> {
        let file = file_id(path);
        self.sweep(Some((path, file)));
        let found = {
            let mut list = crate::sync::lock(&self.list);
            let at = list.iter().rposition(|s| s.path == path);
            at.map(|i| list.remove(i))
        };
        if let Some(s) = found {
            return Ok(Lent { spare: Some(s), to: Some(self) });
        }
        let conn = open(path)?;
        let file = file.ok_or_else(|| format!("{}: not a file", path.display()))?;
        // Replaced between the look and the open: lent, not kept (its inode is not known).
        let to = (file_id(path) == Some(file)).then_some(self);
        let since = std::time::Instant::now();
        Ok(Lent { spare: Some(Spare { path: path.to_path_buf(), file, conn, since }), to })
    }
}

/// A read-only connection to the agent database at `path` for one short read: a spare one
/// when there is one for the same file, else one opened now ([`open`]).
pub fn lend(path: &Path) -> Result<Lent, String> {
    SPARES.lend(path)
}

/// Closes the spare connections unused for a minute (the monitor's loop calls it, so that a
/// database deleted meanwhile is not held open until the next read).
pub fn drop_idle_spares() {
    SPARES.sweep(None);
}

/// Inflates an `event_zstd` frame.
pub fn inflate(frame: &[u8]) -> Result<Vec<u8>, String> {
    let mut src = frame;
    let dec = ruzstd::decoding::StreamingDecoder::new(&mut src).map_err(|e| format!("zstd: {e}"))?;
    let mut out = Vec::new();
    dec.take(MAX_EVENT + 1).read_to_end(&mut out).map_err(|e| format!("zstd: {e}"))?;
    if out.len() as u64 > MAX_EVENT {
        return Err(format!("zstd event larger than {MAX_EVENT} bytes"));
    }
    Ok(out)
}

/// One `transcript_events` row, inflated.
pub struct Row {
    pub session_id: String,
    pub seq: i64,
    pub event: Result<Vec<u8>, String>,
}

fn row_event(json: Option<Vec<u8>>, zstd: Option<Vec<u8>>) -> Result<Vec<u8>, String> {
    match (json, zstd) {
        (Some(j), _) => Ok(j),
        (None, Some(z)) => inflate(&z),
        (None, None) => Err("row has neither event_json nor event_zstd".into()),
    }
}

/// Calls `f` for every row with rowid above `after`, in rowid order; returns the highest rowid.
pub fn events_since(conn: &Connection, after: i64, mut f: impl FnMut(Row)) -> Result<i64, String> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT rowid, session_id, seq, CAST(event_json AS BLOB), event_zstd FROM transcript_events \
             WHERE rowid > ?1 ORDER BY rowid",
        )
        .map_err(|e| format!("transcript_events: {e}"))?;
    let mut rows = stmt.query(params![after]).map_err(|e| e.to_string())?;
    let mut max = after;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let rowid: i64 = r.get(0).map_err(|e| e.to_string())?;
        max = max.max(rowid);
        let event = row_event(r.get(3).ok().flatten(), r.get(4).ok().flatten());
        f(Row { session_id: r.get(1).unwrap_or_default(), seq: r.get(2).unwrap_or(0), event });
    }
    Ok(max)
}

/// The highest rowid of `transcript_events` (0 when empty).
pub fn max_rowid(conn: &Connection) -> Result<i64, String> {
    conn.query_row("SELECT coalesce(max(rowid), 0) FROM transcript_events", [], |r| r.get(0))
        .map_err(|e| format!("transcript_events: {e}"))
}

/// The sessions that have transcript rows now (after a deletion, to tell which went).
pub fn sessions_with_rows(conn: &Connection) -> Result<foldhash::HashSet<String>, String> {
    let mut stmt = conn
        .prepare("SELECT DISTINCT session_id FROM transcript_events")
        .map_err(|e| format!("transcript_events: {e}"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| format!("transcript_events: {e}"))?;
    Ok(rows.flatten().collect())
}

/// Calls `f` with (seq, event) for the rows of one session with `seq >= from`, in seq order.
/// Returns how many rows it passed.
pub fn session_events(
    conn: &Connection,
    session_id: &str,
    from: i64,
    mut f: impl FnMut(i64, Result<Vec<u8>, String>),
) -> Result<u64, String> {
    let mut n = 0;
    session_events_while(conn, session_id, from, |seq, ev| {
        n += 1;
        f(seq, ev);
        true
    })?;
    Ok(n)
}

/// Like [`session_events`], stopping as soon as `f` returns false.
pub fn session_events_while(
    conn: &Connection,
    session_id: &str,
    from: i64,
    mut f: impl FnMut(i64, Result<Vec<u8>, String>) -> bool,
) -> Result<(), String> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, CAST(event_json AS BLOB), event_zstd FROM transcript_events \
             WHERE session_id = ?1 AND seq >= ?2 ORDER BY seq",
        )
        .map_err(|e| format!("transcript_events: {e}"))?;
    let mut rows = stmt.query(params![session_id, from]).map_err(|e| e.to_string())?;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        if !f(r.get(0).unwrap_or(0), row_event(r.get(1).ok().flatten(), r.get(2).ok().flatten())) {
            break;
        }
    }
    Ok(())
}

/// The lowest and highest seq of one session's rows (None when it has none): two look-ups in
/// the primary key, however long the session.
pub fn seq_bounds(conn: &Connection, session_id: &str) -> Result<Option<(i64, i64)>, String> {
    // One aggregate a query: SQLite answers a lone min() or max() from an end of the index,
    // but both in one query by walking every entry of the session.
    conn.query_row(
        "SELECT (SELECT min(seq) FROM transcript_events WHERE session_id = ?1), \
                (SELECT max(seq) FROM transcript_events WHERE session_id = ?1)",
        params![session_id],
        |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
    )
    .map_err(|e| format!("transcript_events: {e}"))
}

/// Calls `f(seq, readable)` for the rows of one session with `seq > after`, in seq order, without
/// copying their text: a row is readable when [`session_events`] would hand over its event (its
/// `event_zstd` frame is inflated to know, and dropped).
pub fn row_kinds(conn: &Connection, session_id: &str, after: i64, mut f: impl FnMut(i64, bool)) -> Result<(), String> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, event_json IS NOT NULL, CASE WHEN event_json IS NULL THEN event_zstd END \
             FROM transcript_events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq",
        )
        .map_err(|e| format!("transcript_events: {e}"))?;
    let mut rows = stmt.query(params![session_id, after]).map_err(|e| e.to_string())?;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let plain: bool = r.get(1).unwrap_or(false);
        let readable = plain || r.get::<_, Option<Vec<u8>>>(2).ok().flatten().is_some_and(|z| inflate(&z).is_ok());
        f(r.get(0).unwrap_or(0), readable);
    }
    Ok(())
}

/// Whether the database still has rows of one session.
pub fn has_events(conn: &Connection, session_id: &str) -> Result<bool, String> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM transcript_events WHERE session_id = ?1)", params![session_id], |r| {
        r.get(0)
    })
    .map_err(|e| format!("transcript_events: {e}"))
}

/// The columns a table has, so that queries name only those (older schemas lack some, newer
/// ones add more).
fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("PRAGMA table_info({table})")) else { return Vec::new() };
    stmt.query_map([], |r| r.get::<_, String>(1)).map(|rows| rows.flatten().collect()).unwrap_or_default()
}

/// Session metadata changed after `since` (ms, by `updated_at`) or added after window rowid
/// `after_rowid` (new rows are caught even when OpenClaw's clock went backwards); returns the
/// metas, the highest `updated_at` and the highest window rowid seen.
pub fn sessions_since(conn: &Connection, since: i64, after_rowid: i64) -> Result<(Vec<SessionMeta>, i64, i64), String> {
    let w = columns(conn, "session_windows");
    if w.is_empty() {
        return Err("no session_windows table (not an OpenClaw agent database?)".into());
    }
    let n = columns(conn, "session_nodes");
    let col = |cols: &[String], alias: &str, name: &str| {
        if cols.iter().any(|c| c == name) {
            format!("{alias}.{name}")
        } else {
            "NULL".to_string()
        }
    };
    let have_nodes = !n.is_empty();
    let sql = format!(
        "SELECT w.session_id, w.session_key, {w_status}, {w_started}, {w_ended}, {w_updated}, {w_channel}, \
         {w_provider}, {w_model}, coalesce({w_parent}, {n_parent}, {n_spawned}), coalesce({n_label}, {w_display}), \
         {n_via}, {n_status}, {n_entry_channel}, {n_updated}, w.rowid, {n_archived} \
         FROM session_windows w {join} WHERE {w_updated} > ?1 OR coalesce({n_updated}, 0) > ?1 OR coalesce({n_archived}, 0) > ?1 OR w.rowid > ?2",
        w_status = col(&w, "w", "status"),
        w_started = col(&w, "w", "started_at"),
        w_ended = col(&w, "w", "ended_at"),
        w_updated = col(&w, "w", "updated_at"),
        w_channel = col(&w, "w", "channel"),
        w_provider = col(&w, "w", "model_provider"),
        w_model = col(&w, "w", "model"),
        w_parent = col(&w, "w", "parent_session_key"),
        w_display = col(&w, "w", "display_name"),
        n_parent = col(&n, "n", "parent_session_key"),
        n_spawned = col(&n, "n", "spawned_by"),
        n_label = col(&n, "n", "label"),
        n_via = col(&n, "n", "created_via"),
        n_status = col(&n, "n", "status"),
        n_entry_channel = if n.iter().any(|c| c == "entry_json") {
            "coalesce(json_extract(n.entry_json, '$.channel'), json_extract(n.entry_json, '$.lastChannel'), \
             json_extract(n.entry_json, '$.deliveryContext.channel'))"
                .to_string()
        } else {
            "NULL".into()
        },
        n_updated = col(&n, "n", "updated_at"),
        n_archived = col(&n, "n", "archived_at"),
        join = if have_nodes { "LEFT JOIN session_nodes n ON n.session_key = w.session_key" } else { "" },
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| format!("session_windows: {e}"))?;
    let mut max = since;
    let mut max_rowid = after_rowid;
    let rows = stmt
        .query_map(params![since, after_rowid], |r| {
            let s = |i: usize| r.get::<_, Option<String>>(i).ok().flatten().filter(|s| !s.is_empty());
            let i = |i: usize| r.get::<_, Option<i64>>(i).ok().flatten();
            let model = match (s(7), s(8)) {
                (Some(p), Some(m)) => Some(format!("{p}/{m}")),
                (None, Some(m)) => Some(m),
                _ => None,
            };
            let updated = i(5).max(i(14));
            let rowid = i(15).unwrap_or(0);
            Ok((
                rowid,
                SessionMeta {
                    id: r.get(0)?,
                    key: s(1).map(Into::into),
                    status: s(2).or_else(|| s(12)).map(crate::model::name),
                    started_ms: i(3),
                    ended_ms: i(4),
                    updated_ms: updated,
                    channel: s(6).or_else(|| s(13)).map(crate::model::name),
                    model: model.map(crate::model::name),
                    parent_key: s(9).map(Into::into),
                    // Labels are shown (and searched) everywhere: redacted once, here.
                    label: s(10).map(crate::redact::owned).map(Into::into),
                    created_via: s(11).map(crate::model::name),
                    archived_ms: i(16),
                },
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (rowid, m) in rows.flatten() {
        max = max.max(m.updated_ms.unwrap_or(0));
        max_rowid = max_rowid.max(rowid);
        out.push(m);
    }
    Ok((out, max, max_rowid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lent_connection_is_lent_again_until_its_file_is_replaced_or_idle() {
        // A pool of the test's own (other tests may lend from the process's).
        static POOL: Spares = Spares::new(2, std::time::Duration::from_secs(1));
        let dir = std::env::temp_dir().join(format!("clawmetry-lend-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("agent.sqlite");
        let make = |at: &Path, v: i64| {
            let _ = std::fs::remove_file(at);
            let c = Connection::open(at).unwrap();
            c.execute_batch(&format!("CREATE TABLE t(v); INSERT INTO t VALUES ({v});")).unwrap();
        };
        let value = |c: &Connection| c.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0)).unwrap();
        let spares = || crate::sync::lock(&POOL.list).len();
        make(&db, 1);
        let first = POOL.lend(&db).unwrap();
        // A mark only this connection has (a temporary table: a read-only connection may make one).
        first.execute_batch("CREATE TEMP TABLE lent(x)").unwrap();
        assert_eq!(value(&first), 1);
        // A second loan while the first is out is a connection of its own.
        let second = POOL.lend(&db).unwrap();
        assert_eq!(value(&second), 1);
        drop(first);
        drop(second);
        assert_eq!(spares(), 2);
        // The last one given back is lent first; then the other, which has the mark.
        let a = POOL.lend(&db).unwrap();
        let b = POOL.lend(&db).unwrap();
        assert!(a.prepare("SELECT * FROM temp.lent").is_err());
        assert!(b.prepare("SELECT * FROM temp.lent").is_ok(), "a spare is lent again");
        assert_eq!(spares(), 0);
        // No more than the cap are kept: the oldest goes.
        let c = POOL.lend(&db).unwrap();
        drop(b);
        drop(a);
        drop(c);
        assert_eq!(spares(), 2);
        // Unused for the idle time: dropped at the next sweep.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        POOL.sweep(None);
        assert_eq!(spares(), 0);
        drop(POOL.lend(&db).unwrap());
        assert_eq!(spares(), 1);
        // Replaced (another inode at the same path): its spares are dropped, and what is lent
        // reads the new file.
        let new = dir.join("new.sqlite");
        make(&new, 2);
        std::fs::rename(&new, &db).unwrap();
        let after = POOL.lend(&db).unwrap();
        assert_eq!(value(&after), 2);
        assert_eq!(spares(), 0);
        drop(after);
        assert_eq!(spares(), 1);
        // Gone: an error, and no spare of it is kept.
        std::fs::remove_file(&db).unwrap();
        assert!(POOL.lend(&db).is_err());
        assert_eq!(spares(), 0);
        // A symlink is refused, as `open` refuses it.
        make(&new, 3);
        std::os::unix::fs::symlink(&new, &db).unwrap();
        assert!(POOL.lend(&db).err().expect("refused").contains("symlink"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zstd_round_trip_and_garbage() {
        let text = br#"{"type":"message","message":{"role":"user","content":"hi"}}"#.repeat(50);
        let frame = ruzstd::encoding::compress_to_vec(&text[..], ruzstd::encoding::CompressionLevel::Fastest);
        assert_eq!(&frame[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(inflate(&frame).unwrap(), text);
        assert!(inflate(b"not zstd").is_err());
        assert!(inflate(&frame[..frame.len() / 2]).is_err());
    }
}
