//! Agent databases followed live: settled reads past the highest rowid, archives and deletions,
//! databases gone; one poll's delta applied under one write lock.

use super::files::*;
use super::*;
use crate::activity::{self, PendingCalls};
use crate::checkpoint::{Checkpoint, Saved, Use};
use crate::model::{SessionMeta, Tally};
use crate::pricing::PriceTable;
use crate::sources::archives::{self, Archive};
use crate::sources::jsonl_store::LineReader;
use crate::sources::sqlite_store;
use crate::state::{Index, IndexHealth, Store};
use foldhash::{HashMap, HashSet};
use rusqlite::Connection;
use serde_json::Value;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

impl Watcher {
    /// Agent databases that disappeared: their sessions keep their figures (read from their
    /// archive files if any, else the ledger alone), as after a restart.
    pub(super) fn databases_gone(&mut self) {
        let gone: Vec<PathBuf> = self.dbs.keys().filter(|p| !p.exists()).cloned().collect();
        if gone.is_empty() {
            return;
        }
        let mut st = self.index.write();
        for p in gone {
            self.dbs.remove(&p);
            let ids: Vec<String> = st
                .sessions
                .values()
                .filter(|s| s.db.as_deref() == Some(p.as_path()) && s.store == Store::Sqlite)
                .map(|s| s.id.to_string())
                .collect();
            for id in &ids {
                st.live_source_gone(id);
            }
            // Archives listed by that database are gone with it (a file copy stays counted).
            let names: Vec<String> = st
                .sessions
                .values()
                .filter_map(|s| s.archive.as_ref())
                .filter(|a| matches!(&a.place, archives::Place::Row { db, .. } if *db == p))
                .map(|a| a.name.clone())
                .collect();
            for n in names {
                st.archive_gone(&n);
            }
            st.problems.remove(&p.display().to_string());
        }
    }

    /// Reads new session metadata and transcript rows from an agent database.
    pub(super) fn poll_db(&mut self, path: &Path, agent: &str) {
        let Some(mut cur) = self.take_db_cursor(path, agent) else { return };
        // Polls come after the cold index: what they find was written since (a database new
        // since then included); a long history found late is capped at ACTIVITY_BATCH rows.
        let prices = (&self.prices, self.checkpoint.as_ref());
        let mut delta = read_db(&mut cur, path, prices, Some(&mut self.pending_calls));
        // A database replaced is read again from its start: old lines, not activity.
        let rows = if delta.replaced { Vec::new() } else { std::mem::take(&mut delta.activity) };
        apply_db_delta(&self.index, path, delta, &mut cur.seqs);
        self.dbs.insert(path.to_path_buf(), cur);
        publish_activity(&self.index, rows);
    }

    /// The cursor of a database (new ones are counted on /api/health), out of the map so that
    /// it can be moved to a reader thread.
    pub(super) fn take_db_cursor(&mut self, path: &Path, agent: &str) -> Option<DbCursor> {
        let ino = std::fs::metadata(path).map(|m| m.ino()).ok()?;
        if let Some(c) = self.dbs.remove(path) {
            return Some(c);
        }
        self.index.write().health.databases += 1;
        Some(DbCursor {
            agent: agent.to_string(),
            failing: false,
            conn: None,
            ino,
            max_rowid: 0,
            meta_since: i64::MIN,
            window_rowid: 0,
            seqs: HashMap::default(),
            archives: HashSet::default(),
            failed_archives: HashSet::default(),
            deletions: Deletions::default(),
        })
    }
}

/// A database that changed and is not read yet.
pub(super) struct Settling {
    pub(super) db: Settled,
    pub(super) first: Instant,
    pub(super) last: Instant,
}

#[derive(PartialEq)]
pub(super) enum Settled {
    Agent {
        path: PathBuf,
        agent: String,
    },
    /// The shared state database (sub-agent runs).
    State,
}

impl Settling {
    pub(super) fn due(&self) -> Instant {
        (self.last + DB_QUIET).min(self.first + DB_MAX_WAIT)
    }
}

/// What one poll of a database found.
pub(super) struct DbDelta {
    agent: String,
    /// The database was replaced or rewritten: its sessions are re-read from scratch.
    replaced: bool,
    metas: Vec<crate::model::SessionMeta>,
    per_session: HashMap<String, Tally>,
    health: IndexHealth,
    /// What reading the transcript rows counted (`health` without the archives' part).
    events_health: IndexHealth,
    /// Archives listed for the first time, with their content's tally.
    archives: Vec<(Archive, Tally)>,
    /// Archive names no longer listed (purged).
    gone_archives: Vec<String>,
    /// After a deletion: the sessions that still have rows (None when nothing was deleted).
    present: Option<HashSet<String>>,
    /// What is wrong with the database now (None: this poll read it fine), and whether that is
    /// a change from the last poll.
    problem: Option<String>,
    problem_changed: bool,
    /// Activity rows of the new lines (session id, row), on live polls only.
    activity: Vec<(String, Value)>,
}

/// Reads what is new in a database past the cursor. No state lock is taken.
/// With `live` (a poll while clawmetry runs, not the cold index), each new row's activity row
/// goes into the delta too. Archives are taken from the checkpoint when it has them.
pub(super) fn read_db(
    cur: &mut DbCursor,
    path: &Path,
    (prices, cp): (&PriceTable, Option<&Checkpoint>),
    live: Option<&mut HashMap<String, PendingCalls>>,
) -> DbDelta {
    let mut d = DbDelta {
        agent: cur.agent.clone(),
        replaced: false,
        metas: Vec::new(),
        per_session: HashMap::default(),
        health: IndexHealth::default(),
        events_health: IndexHealth::default(),
        archives: Vec::new(),
        gone_archives: Vec::new(),
        present: None,
        problem: None,
        problem_changed: false,
        activity: Vec::new(),
    };
    let fail = |d: &mut DbDelta, e: String| {
        d.health.source_errors += 1;
        d.health.last_error = Some(format!("{}: {e}", path.display()));
        d.problem = Some(e);
    };
    let ino = std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0);
    if cur.conn.is_none() || cur.ino != ino {
        d.replaced = cur.ino != ino;
        match sqlite_store::open(path) {
            Ok(c) => cur.conn = Some(c),
            Err(e) => {
                fail(&mut d, e);
                note_problem(cur, &mut d);
                return d;
            }
        }
    }
    let conn = cur.conn.as_ref().expect("connection opened");
    // Fewer rows than read (the same file): OpenClaw deleted a session whose rows were the newest
    // (a delete removes its rows, then the archive holds them). Not a replacement: what was
    // counted stays, reading goes on from the new end (SQLite gives the freed rowids out again),
    // and the sessions whose rows are gone are looked up below.
    let mut rows_deleted = false;
    match sqlite_store::max_rowid(conn) {
        Ok(m) if m < cur.max_rowid && !d.replaced => {
            rows_deleted = true;
            cur.max_rowid = m;
        }
        Ok(_) => {}
        Err(e) => {
            cur.conn = None;
            fail(&mut d, e);
            note_problem(cur, &mut d);
            return d;
        }
    }
    if d.replaced {
        cur.ino = ino;
        cur.max_rowid = 0;
        cur.meta_since = i64::MIN;
        cur.window_rowid = 0;
        cur.seqs.clear();
        cur.archives.clear();
        cur.failed_archives.clear();
        cur.deletions = Deletions::default();
    }
    match sqlite_store::sessions_since(conn, cur.meta_since, cur.window_rowid) {
        Ok((m, since, rowid)) => {
            cur.meta_since = since;
            cur.window_rowid = rowid;
            d.metas = m;
        }
        Err(e) => fail(&mut d, e),
    }
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let seqs = &mut cur.seqs;
    let (health, per_session, rows) = (&mut d.health, &mut d.per_session, &mut d.activity);
    let mut live = live;
    let result = sqlite_store::events_since(conn, cur.max_rowid, |row| {
        // Looked up first: an owned id per event row only for a session's first row.
        let last = match seqs.get_mut(row.session_id.as_str()) {
            Some(l) => l,
            None => seqs.entry(Arc::from(row.session_id.as_str())).or_insert(-1),
        };
        if row.seq <= *last {
            health.duplicate_source_lines += 1;
            return;
        }
        *last = row.seq;
        health.lines += 1;
        match row.event {
            Ok(bytes) => {
                health.bytes_read += bytes.len() as u64;
                let t = per_session.entry(row.session_id.clone()).or_default();
                let cost_before = t.usage.cost;
                decode_line(&bytes, t, health, &cost_of);
                if let Some(pending) = live.as_mut() {
                    let p = pending.entry(row.session_id.clone()).or_default();
                    let seq = row.seq.max(0) as u64;
                    if let Some(r) = activity::row(&bytes, seq, t.usage.cost - cost_before, p) {
                        rows.push((row.session_id, r));
                    }
                }
            }
            Err(_) => health.bad_rows += 1,
        }
    });
    match result {
        Ok(max) => cur.max_rowid = max,
        Err(e) => fail(&mut d, e),
    }
    d.events_health = d.health.clone();
    let archives = (&mut cur.archives, &mut cur.failed_archives);
    read_db_archives(archives, (&mut cur.deletions, rows_deleted), conn, path, (prices, cp), &mut d);
    note_problem(cur, &mut d);
    d
}

/// A database at the cold index, into a fresh cursor: when the checkpoint has it (the same
/// path, device and inode) and its rows up to the rowid read then are still those
/// (`rows_unchanged`), each session's figures and record are taken from it, and only the rows
/// past that rowid and the records changed since are read (the figures merged,
/// `Tally::merge`; the records laid over, `overlay`); the archives through the checkpoint.
/// Else it is read whole. What it then holds is offered to the checkpoint (unless no row was
/// read: the entry stays, and the records changed since are read again at the next start).
pub(super) fn read_db_kept(cp: Option<&Checkpoint>, cur: &mut DbCursor, path: &Path, prices: &PriceTable) -> DbDelta {
    let key = cp.and(super::checkpoint::db_key(path));
    let (Some(cp), Some(key)) = (cp, key) else { return read_db(cur, path, (prices, cp), None) };
    let kept = cp.take(&key).and_then(|s| Some((s.db?, s.health, s.metas))).and_then(|(r, h, metas)| {
        let conn = sqlite_store::open(path).ok()?;
        rows_unchanged(&conn, &r).then(|| {
            cur.conn = Some(conn);
            cur.max_rowid = r.max_rowid;
            cur.meta_since = r.meta_since;
            cur.window_rowid = r.window_rowid;
            cur.seqs = r.seqs.into_iter().map(|(id, seq)| (Arc::from(id), seq)).collect();
            (r.sessions, h, metas)
        })
    });
    let mut d = read_db(cur, path, (prices, Some(cp)), None);
    let mut unchanged = false;
    match kept {
        Some((sessions, health, metas)) if !d.replaced => {
            unchanged = d.per_session.is_empty();
            cp.count(if unchanged { Use::Reused } else { Use::Resumed });
            for (id, mut t) in sessions {
                if let Some(new) = d.per_session.remove(&id) {
                    t.merge(new);
                }
                d.per_session.insert(id, t);
            }
            d.health.add(&health);
            d.events_health.add(&health);
            d.metas = overlay(metas, std::mem::take(&mut d.metas));
        }
        _ => cp.count(Use::Reread),
    }
    let h = &d.events_health;
    // An unchanged database's entry stays as it is (taken, it is not dropped at the next write).
    if !unchanged && d.problem.is_none() && h.source_errors == 0 && !d.replaced {
        let db = crate::checkpoint::DbResume {
            max_rowid: cur.max_rowid,
            rows: h.lines + h.duplicate_source_lines,
            seqs: cur.seqs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sessions: d.per_session.iter().map(|(k, t)| (k.clone(), t.clone())).collect(),
            meta_since: cur.meta_since,
            window_rowid: cur.window_rowid,
        };
        let mut health = h.clone();
        health.last_error = None;
        let metas = std::mem::take(&mut d.metas);
        d.metas = cp.offer(key, Saved { health, db: Some(db), metas, ..Saved::default() }).metas;
    }
    d
}

/// The session records `old` with the `new` ones laid over them: a session's newer record in
/// the place of its older one, the fields it lacks filled from it (as `State::apply_meta` does
/// applying one after the other), records of sessions new since at the end (where a whole read
/// has them: by window rowid).
fn overlay(mut old: Vec<SessionMeta>, new: Vec<SessionMeta>) -> Vec<SessionMeta> {
    if new.is_empty() {
        return old;
    }
    let at: HashMap<String, usize> = old.iter().enumerate().map(|(i, m)| (m.id.clone(), i)).collect();
    for mut m in new {
        match at.get(&m.id) {
            Some(&i) => {
                m.fill_from(&old[i]);
                old[i] = m;
            }
            None => old.push(m),
        }
    }
    old
}

/// Keys the highest seqs of sessions `ids` by the sessions' ids (`State::sessions`' keys)
/// instead of an allocation of the cursor's own (100k sessions: ~5 MB).
fn share_seq_ids(st: &crate::state::State, seqs: &mut HashMap<Arc<str>, i64>, ids: &[String]) {
    for id in ids {
        if let (Some((shared, _)), Some(seq)) = (st.sessions.get_key_value(id.as_str()), seqs.remove(id.as_str())) {
            seqs.insert(shared.clone(), seq);
        }
    }
}

/// Whether the rows of a database up to the rowid the checkpoint read are still the ones it
/// read: as many, of the same sessions, each with the same highest seq (OpenClaw only appends
/// rows and deletes a session's rows; a rowid given out again after a deletion changes a count
/// or a session's highest seq). One pass over the (session, seq) index.
fn rows_unchanged(conn: &Connection, r: &crate::checkpoint::DbResume) -> bool {
    let seqs: HashMap<&str, i64> = r.seqs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let Ok(mut stmt) = conn
        .prepare("SELECT session_id, count(*), max(seq) FROM transcript_events WHERE rowid <= ?1 GROUP BY session_id")
    else {
        return false;
    };
    let Ok(mut rows) = stmt.query([r.max_rowid]) else { return false };
    let (mut total, mut sessions) = (0u64, 0usize);
    while let Ok(Some(row)) = rows.next() {
        let id = row.get_ref(0).ok().and_then(|v| v.as_str().ok());
        let (Some(id), Ok(n), Ok(max)) = (id, row.get::<_, i64>(1), row.get::<_, i64>(2)) else { return false };
        if seqs.get(id) != Some(&max) {
            return false;
        }
        total += n as u64;
        sessions += 1;
    }
    total == r.rows && sessions == seqs.len()
}

/// Remembers whether this poll failed, so that /api/health lists the database while it is
/// broken and drops it once it reads fine again.
pub(super) fn note_problem(cur: &mut DbCursor, d: &mut DbDelta) {
    let failing = d.problem.is_some();
    d.problem_changed = failing || failing != cur.failing;
    cur.failing = failing;
}

/// The archive part of a database poll: archives new since the last poll are read whole (one
/// buffer at a time), archives gone are reported, and after a deletion (fewer sessions, or a
/// new archive, or rows known to be deleted) the sessions that still have transcript rows are
/// listed, at this poll and those of the next `DELETION_SETTLE`.
/// `archives`: the names listed at the last poll, and those that could not be read.
pub(super) fn read_db_archives(
    (known, failed): (&mut HashSet<String>, &mut HashSet<String>),
    (del, rows_deleted): (&mut Deletions, bool),
    conn: &Connection,
    path: &Path,
    (prices, cp): (&PriceTable, Option<&Checkpoint>),
    d: &mut DbDelta,
) {
    let sessions_dir = path.parent().and_then(Path::parent).map(|a| a.join("sessions")).unwrap_or_default();
    let listing = match archives::list_db(conn, path, &sessions_dir) {
        Ok(l) => l,
        Err(e) => {
            d.health.source_errors += 1;
            d.health.last_error = Some(format!("{}: {e}", path.display()));
            return;
        }
    };
    let mut now: HashSet<String> = listing.archives.iter().map(|a| a.name.clone()).collect();
    let fresh: Vec<Archive> = listing.archives.into_iter().filter(|a| !known.contains(&a.name)).collect();
    let newly_listed = !fresh.is_empty();
    // Archives this version cannot read are counted once, at the poll that first lists them.
    for (name, encoding) in listing.unknown_encoding {
        if !known.contains(&name) {
            d.health.bad_archives += 1;
            d.health.last_error = Some(format!(
                "{}: archive {name} has encoding {encoding:?}, which this version cannot read",
                path.display()
            ));
        }
        now.insert(name);
    }
    if known.is_empty() {
        // Gauges of the listing, counted at the first poll only.
        d.health.bad_archives += listing.unreadable;
        d.health.missing_archive_files += listing.missing_files;
    }
    d.gone_archives = known.iter().filter(|n| !now.contains(*n)).cloned().collect();
    let mut buf = Vec::new();
    for a in fresh {
        let (tally, health) = super::checkpoint::read_archive_kept(cp, &a, prices, &mut buf);
        let ok = health.source_errors == 0;
        d.health.add(&health);
        if ok {
            d.archives.push((a, tally));
        } else {
            failed.insert(a.name.clone());
        }
    }
    *known = now;
    let before = del.windows;
    let now_windows: i64 = conn.query_row("SELECT count(*) FROM session_windows", [], |r| r.get(0)).unwrap_or(before);
    let now = Instant::now();
    if rows_deleted || now_windows < before || (newly_listed && before > 0) {
        del.recheck_until = Some(now + DELETION_SETTLE);
    }
    del.windows = now_windows;
    del.recheck_until = del.recheck_until.filter(|t| now <= *t);
    if del.recheck_until.is_some() {
        match sqlite_store::sessions_with_rows(conn) {
            Ok(ids) => d.present = Some(ids),
            Err(e) => {
                d.health.source_errors += 1;
                d.health.last_error = Some(format!("{}: {e}", path.display()));
            }
        }
    }
}

/// Reads a whole archive into a tally, streamed. A corrupt or truncated archive is one source
/// error (and its bad lines are counted); nothing else is lost.
/// `buf` is the read buffer, reused from one archive to the next (a fresh zeroed 256 KiB per
/// archive was 2 % of a cold index with 2,400 archives).
pub(super) fn read_archive(a: &Archive, prices: &PriceTable, buf: &mut Vec<u8>) -> (Tally, IndexHealth) {
    let mut tally = Tally::default();
    let mut health = IndexHealth::default();
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let fail = |health: &mut IndexHealth, e: String| {
        health.source_errors += 1;
        health.bad_archives += 1;
        health.last_error = Some(format!("archive {}: {e}", a.name));
    };
    let mut r = match archives::open(a) {
        Ok(r) => r,
        Err(e) => {
            fail(&mut health, e);
            return (tally, health);
        }
    };
    let mut reader = LineReader::default();
    buf.resize(ARCHIVE_BUF, 0);
    loop {
        match r.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                health.bytes_read += n as u64;
                reader.feed(&buf[..n], |line| {
                    health.lines += 1;
                    decode_line(line, &mut tally, &mut health, &cost_of);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                fail(&mut health, e.to_string());
                break;
            }
        }
    }
    health.huge_lines += reader.huge_lines;
    health.archives += 1;
    (tally, health)
}

/// Applies a database poll to the state (one write lock) and tells the event stream.
/// `seqs` is the database cursor's: the ids of the sessions the delta touched become the
/// sessions' own allocations there ([`share_seq_ids`]).
pub(super) fn apply_db_delta(index: &Arc<Index>, path: &Path, d: DbDelta, seqs: &mut HashMap<Arc<str>, i64>) {
    if !d.replaced
        && d.metas.is_empty()
        && d.per_session.is_empty()
        && d.health.source_errors == 0
        && d.archives.is_empty()
        && d.gone_archives.is_empty()
        && d.present.is_none()
        && d.health.bad_archives == 0
        && !d.problem_changed
    {
        return;
    }
    let mut touched: Vec<String> = d.per_session.keys().cloned().chain(d.metas.iter().map(|m| m.id.clone())).collect();
    // A session with both new rows and a new record is noted once.
    touched.sort_unstable();
    touched.dedup();
    {
        let mut st = index.write();
        // Re-read from scratch: what the sessions counted before stays counted if the new copy
        // has less (State::keep_at_least).
        let mut before: Vec<(String, String, Tally)> = Vec::new();
        if d.replaced {
            let ids: Vec<(String, String)> = st
                .sessions
                .values()
                .filter(|s| s.db.as_deref() == Some(path) && s.store == Store::Sqlite)
                .map(|s| (s.id.to_string(), s.agent.to_string()))
                .collect();
            for (id, agent) in ids {
                let old = st.reset_tally(&id);
                before.push((id, agent, old));
            }
        }
        st.apply_meta(&d.agent, d.metas);
        for id in &touched {
            st.note_db(&d.agent, id, path);
        }
        for (id, t) in d.per_session {
            st.apply_tally(&d.agent, &id, Store::Sqlite, t);
        }
        share_seq_ids(&st, seqs, &touched);
        for (id, agent, old) in before {
            st.keep_at_least(&agent, &id, old);
            touched.push(id);
        }
        for name in &d.gone_archives {
            st.archive_gone(name);
        }
        for (a, t) in d.archives {
            touched.push(a.session_id.clone());
            st.offer_archive(&d.agent, std::sync::Arc::new(a), t);
        }
        if let Some(present) = &d.present {
            let gone: Vec<String> = st
                .sessions
                .values()
                .filter(|s| s.db.as_deref() == Some(path) && s.store == Store::Sqlite && !present.contains(&*s.id))
                .map(|s| s.id.to_string())
                .collect();
            for id in gone {
                st.live_source_gone(&id);
                touched.push(id);
            }
        }
        st.health.add(&d.health);
        st.health.last_update_ms = Some(crate::timefmt::now_ms());
        let key = path.display().to_string();
        match d.problem {
            Some(p) => {
                st.problems.insert(key, p);
            }
            None => {
                st.problems.remove(&key);
            }
        }
    }
    publish_touched(index, touched);
}
