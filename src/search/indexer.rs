//! The search thread: once the first index is ready, it reads every session's transcript into
//! the search index, then follows the index's changes: a session whose event count or state
//! moved is read again from the first line not yet indexed (`for_each_line_from`). It runs at
//! a lower CPU priority (nice 10), takes the state lock only to copy the list of sessions that
//! changed, and commits every few megabytes so searches see progress during the first build.

use super::text::{doc_of, spread_cjk};
use super::{open_for_writing, Search};
use crate::sources::lines::{for_each_line_from, Location};
use crate::state::{Index, Store};
use foldhash::HashMap;
use rusqlite::{params, Connection};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks for changed sessions (when the index changed at all).
const POLL: Duration = Duration::from_secs(1);
/// A write transaction is committed after this much text or this long.
const COMMIT_BYTES: u64 = 8 * 1024 * 1024;
const COMMIT_AFTER: Duration = Duration::from_millis(500);

/// What the index holds of one session.
#[derive(Clone, Copy)]
struct Known {
    num: i64,
    next_seq: u64,
    events: u64,
    sig: u64,
}

/// A session to read, copied out of the state.
struct Todo {
    id: String,
    agent: String,
    last_ms: Option<i64>,
    events: u64,
    sig: u64,
    purged: bool,
    loc: Location,
}

/// Starts the search thread.
pub fn spawn(index: Arc<Index>, search: Arc<Search>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("search".into()).spawn(move || {
        lower_priority();
        while !index.read().health.ready {
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut w = match Writer::open(&search) {
            Ok(w) => w,
            Err(e) => {
                let mut s = crate::sync::lock(&search.status);
                s.state = "failed";
                s.last_error = Some(e);
                return;
            }
        };
        let started = Instant::now();
        let mut seen_generation = u64::MAX;
        loop {
            let g = index.generation();
            if g != seen_generation {
                seen_generation = g;
                if let Err(e) = w.sync(&index, &search) {
                    let mut s = crate::sync::lock(&search.status);
                    s.last_error = Some(e);
                }
                let mut s = crate::sync::lock(&search.status);
                if s.build_ms.is_none() {
                    s.build_ms = Some(started.elapsed().as_millis() as u64);
                }
                s.state = "ready";
            }
            std::thread::sleep(POLL);
        }
    })
}

/// Nice 10 for this thread only (Linux gives each thread its own nice value): the first build
/// of a big history yields the CPU to the watcher and the HTTP threads.
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread, no memory passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

struct Writer {
    conn: Connection,
    known: HashMap<u64, Known>,
    /// In the open transaction: text bytes written, and since when.
    pending: u64,
    since: Instant,
    in_tx: bool,
}

fn key_of(id: &str) -> u64 {
    crate::codec::stable_hash(id)
}

fn sig_of(s: &crate::state::Session) -> u64 {
    // The count hashed as u64, as when it was one: a signature that changed would send every
    // session back to the indexer once.
    let events = u64::from(s.tally.events);
    crate::codec::stable_hash(&(
        events,
        s.tally.last_ms,
        s.store.as_str(),
        s.files.len(),
        s.archive.as_ref().map(|a| &a.name),
    ))
}

impl Writer {
    fn open(search: &Search) -> Result<Writer, String> {
        if let Some(dir) = search.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = open_for_writing(&search.path)?;
        let err = |e: rusqlite::Error| format!("{}: {e}", search.path.display());
        let mut known = HashMap::default();
        {
            let mut stmt = conn.prepare("SELECT num, id, next_seq, events, sig FROM sessions").map_err(err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(1)?,
                        Known {
                            num: r.get(0)?,
                            next_seq: r.get::<_, i64>(2)? as u64,
                            events: r.get::<_, i64>(3)? as u64,
                            sig: r.get::<_, i64>(4)? as u64,
                        },
                    ))
                })
                .map_err(err)?;
            for (id, k) in rows.flatten() {
                known.insert(key_of(&id), k);
            }
        }
        let docs: i64 = conn.query_row("SELECT count(*) FROM docs", [], |r| r.get(0)).map_err(err)?;
        {
            let mut s = crate::sync::lock(&search.status);
            s.docs = docs as u64;
            s.state = "building";
        }
        Ok(Writer { conn, known, pending: 0, since: Instant::now(), in_tx: false })
    }

    /// Reads what changed since the last pass.
    fn sync(&mut self, index: &Index, search: &Search) -> Result<(), String> {
        let (mut todo, total) = {
            let st = index.read();
            let todo: Vec<Todo> = st
                .sessions
                .values()
                .filter_map(|s| {
                    let sig = sig_of(s);
                    if self.known.get(&key_of(&s.id)).is_some_and(|k| k.sig == sig) {
                        return None;
                    }
                    let purged = s.store == Store::Ledger && s.archive.is_none();
                    if purged && !self.known.contains_key(&key_of(&s.id)) {
                        return None;
                    }
                    Some(Todo {
                        id: s.id.to_string(),
                        agent: s.agent.to_string(),
                        last_ms: s.last_ms(),
                        events: u64::from(s.tally.events),
                        sig,
                        purged,
                        loc: Location::of(s),
                    })
                })
                .collect();
            (todo, st.sessions.len() as u64)
        };
        {
            let mut s = crate::sync::lock(&search.status);
            s.sessions_total = total;
            s.sessions_done = total - todo.len() as u64;
        }
        if todo.is_empty() {
            return Ok(());
        }
        // The oldest activity first: hits come back newest first by rowid.
        todo.sort_by_key(|t| t.last_ms);
        let result = todo.iter().try_for_each(|t| {
            self.session(t, search)?;
            crate::sync::lock(&search.status).sessions_done += 1;
            self.maybe_commit()
        });
        let end = self.commit();
        result.and(end)
    }

    fn session(&mut self, t: &Todo, search: &Search) -> Result<(), String> {
        let key = key_of(&t.id);
        let err = |e: rusqlite::Error| format!("search index: {e}");
        self.begin()?;
        if t.purged {
            if let Some(k) = self.known.remove(&key) {
                let removed = self.forget_docs(k.num)?;
                self.conn.execute("DELETE FROM sessions WHERE num = ?1", params![k.num]).map_err(err)?;
                let mut s = crate::sync::lock(&search.status);
                s.docs = s.docs.saturating_sub(removed);
            }
            return Ok(());
        }
        let mut k = match self.known.get(&key) {
            Some(k) => *k,
            None => {
                self.conn
                    .execute(
                        "INSERT INTO sessions (id, agent, next_seq, events, sig) VALUES (?1, ?2, 0, 0, 0) \
                         ON CONFLICT(id) DO NOTHING",
                        params![t.id, t.agent],
                    )
                    .map_err(err)?;
                let num: i64 = self
                    .conn
                    .query_row("SELECT num FROM sessions WHERE id = ?1", params![t.id], |r| r.get(0))
                    .map_err(err)?;
                Known { num, next_seq: 0, events: 0, sig: 0 }
            }
        };
        // Fewer events than when it was read (rows deleted from the middle): read it all again.
        if t.events < k.events && k.next_seq > 0 {
            let removed = self.forget_docs(k.num)?;
            let mut s = crate::sync::lock(&search.status);
            s.docs = s.docs.saturating_sub(removed);
            k.next_seq = 0;
        }
        let (mut docs, mut text_bytes, mut read, mut unreadable) = (0u64, 0u64, 0u64, 0u64);
        let mut next = k.next_seq;
        let mut failed: Option<String> = None;
        {
            let mut insert_doc = self
                .conn
                .prepare_cached("INSERT INTO docs (session, seq, ts, kind, tool, z) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(err)?;
            let mut insert_text =
                self.conn.prepare_cached("INSERT INTO fts (rowid, text, tags) VALUES (?1, ?2, ?3)").map_err(err)?;
            let tags_of = |kind: &str| super::tags(&t.agent, kind);
            let r = for_each_line_from(&t.loc, k.next_seq, |seq, line| {
                if failed.is_some() {
                    return;
                }
                next = next.max(seq + 1);
                let Ok(line) = line else {
                    unreadable += 1;
                    return;
                };
                read += line.len() as u64 + 1;
                let Some(d) = doc_of(line) else { return };
                let done = insert_doc
                    .insert(params![k.num, seq as i64, d.ts, d.kind, d.tool, super::deflate(&d.text)])
                    .and_then(|rowid| insert_text.execute(params![rowid, spread_cjk(&d.text), tags_of(d.kind)]));
                match done {
                    Ok(_) => {
                        docs += 1;
                        text_bytes += d.text.len() as u64;
                    }
                    Err(e) => failed = Some(format!("search index: {e}")),
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if let Err(e) = r {
                // The transcript cannot be read now (removed, locked): tried again at the next
                // change; what was read stays.
                let mut s = crate::sync::lock(&search.status);
                s.unreadable += 1;
                s.last_error = Some(format!("session {}: {e}", t.id));
            }
        }
        k.next_seq = next;
        k.events = t.events;
        k.sig = t.sig;
        self.conn
            .execute(
                "UPDATE sessions SET next_seq = ?2, events = ?3, sig = ?4, agent = ?5 WHERE num = ?1",
                params![k.num, k.next_seq as i64, k.events as i64, k.sig as i64, t.agent],
            )
            .map_err(err)?;
        self.known.insert(key, k);
        self.pending += text_bytes;
        let mut s = crate::sync::lock(&search.status);
        s.docs += docs;
        s.text_bytes += text_bytes;
        s.bytes_read += read;
        s.unreadable += unreadable;
        Ok(())
    }

    /// Removes a session's documents; returns how many.
    fn forget_docs(&self, num: i64) -> Result<u64, String> {
        let err = |e: rusqlite::Error| format!("search index: {e}");
        self.conn
            .execute("DELETE FROM fts WHERE rowid IN (SELECT rowid FROM docs WHERE session = ?1)", params![num])
            .map_err(err)?;
        let n = self.conn.execute("DELETE FROM docs WHERE session = ?1", params![num]).map_err(err)?;
        Ok(n as u64)
    }

    fn begin(&mut self) -> Result<(), String> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN").map_err(|e| format!("search index: {e}"))?;
            self.in_tx = true;
            self.since = Instant::now();
            self.pending = 0;
        }
        Ok(())
    }

    fn maybe_commit(&mut self) -> Result<(), String> {
        if self.pending >= COMMIT_BYTES || self.since.elapsed() >= COMMIT_AFTER {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), String> {
        if self.in_tx {
            self.in_tx = false;
            self.conn.execute_batch("COMMIT").map_err(|e| format!("search index: {e}"))?;
        }
        Ok(())
    }
}
