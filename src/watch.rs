//! The watcher thread: indexes every transcript once at start-up, then follows them live.
//!
//! inotify reports changes in the sessions dirs (JSONL files, `sessions.json`), the agent dirs
//! (the agent database and its `-wal`) and the state dir. A JSONL file is read from its last
//! offset (a partial last line waits for its newline; a truncated or replaced file is re-read
//! from the start); a database is read past the highest rowid seen. Every few seconds a rescan
//! catches what inotify cannot (new agents, a state dir that appears later, inotify limits).
//! All parsing happens outside the state lock; the lock is taken only to apply finished deltas.

use crate::activity::{self, PendingCalls};
use crate::cli::Config;
use crate::ledger::{self, Ledger};
use crate::model::Tally;
use crate::pricing::PriceTable;
use crate::sources::archives::{self, Archive};
use crate::sources::detect::{self, Install};
use crate::sources::jsonl_store::{self, FileRole, LineReader};
use crate::sources::{sqlite_store, subagents, transcript};
use crate::state::{Index, IndexHealth, Store};
use inotify::{Inotify, WatchDescriptor, WatchMask, Watches};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the rescan runs.
const RESCAN: Duration = Duration::from_secs(5);
/// Read size for archives (inflated).
const ARCHIVE_BUF: usize = 256 * 1024;
/// Read size for transcript files.
const CHUNK: usize = 1024 * 1024;
/// A JSONL file that shrank or was replaced is read again this long after the change.
const REBUILD_AFTER: Duration = Duration::from_millis(250);
/// Sessions changed since the last write reach the ledger this often.
const LEDGER_FLUSH: Duration = Duration::from_secs(2);
/// Sessions read from or written to the ledger at a time (one transaction, one lock each).
const LEDGER_CHUNK: usize = 2048;
/// Activity rows published from one poll at most (the newest; a file found late would flood).
const ACTIVITY_BATCH: usize = 200;
/// A database is read once it has been quiet this long after a change, and at the latest
/// `DB_MAX_WAIT` after the first change. Reading at once would start a read transaction in the
/// very millisecond in which OpenClaw, having just written, checkpoints its WAL: a
/// `wal_checkpoint(TRUNCATE)` cannot complete while any reader holds a snapshot of WAL frames, and
/// OpenClaw then defers its disk-budget purge ("checkpoint-incomplete"). Measured on the lab:
/// `openclaw sessions cleanup --enforce` failed to purge 8 times in a row while clawmetry read on
/// every change. Waiting also lets a commit reach the shared-memory index, which inotify cannot see.
const DB_QUIET: Duration = Duration::from_millis(120);
const DB_MAX_WAIT: Duration = Duration::from_millis(600);

/// Starts the watcher thread.
pub fn spawn(index: Arc<Index>, cfg: Config) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("watcher".into()).spawn(move || {
        let mut w = Watcher::new(index, cfg);
        w.run();
    })
}

/// Where a JSONL file has been read to. Its session and agent are in its path
/// (`agents/<agent>/sessions/<id>.jsonl…`), so the cursor does not repeat them.
struct FileCursor {
    ino: u64,
    /// Bytes read so far (the reader holds any unfinished last line).
    read_pos: u64,
    reader: LineReader,
    /// Complete lines read so far: the next line's place in the session (its `seq`).
    lines: u64,
}

struct DbCursor {
    agent: String,
    /// The last poll failed (the database is on /api/health's list of current problems).
    failing: bool,
    conn: Option<Connection>,
    ino: u64,
    max_rowid: i64,
    meta_since: i64,
    window_rowid: i64,
    seqs: HashMap<String, i64>,
    /// Archive names listed in the database at the last poll, and those of them that could not
    /// be read (a copy kept as a file is then read instead).
    archives: HashSet<String>,
    failed_archives: HashSet<String>,
    deletions: Deletions,
}

/// What tells a database's polls that OpenClaw deleted sessions from it.
#[derive(Default)]
struct Deletions {
    /// `session_windows` rows at the last poll: fewer now means sessions were deleted.
    windows: i64,
    /// Until when each poll looks again which sessions still have rows: OpenClaw deletes a
    /// session in more than one transaction (archive row, window, transcript rows), and a poll
    /// may fall between them.
    recheck_until: Option<Instant>,
}

/// How long after a deletion was seen the polls keep checking which sessions have rows.
const DELETION_SETTLE: Duration = Duration::from_secs(15);

type WdMap = Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>;
/// What the cold-index threads hand back: file cursors per worker, database cursors.
type ColdResults = (Vec<Vec<(PathBuf, FileCursor)>>, Vec<(PathBuf, DbCursor)>);

struct Watcher {
    index: Arc<Index>,
    cfg: Config,
    install: Install,
    prices: PriceTable,
    files: HashMap<PathBuf, FileCursor>,
    dbs: HashMap<PathBuf, DbCursor>,
    stamps: HashMap<PathBuf, (i64, u64)>,
    watches: Option<Watches>,
    wd_dirs: WdMap,
    /// Watched dirs and the inode each had: a dir removed and made again is a new dir, whose
    /// watch must be added again (the old one went with the old inode).
    watched: HashMap<PathBuf, u64>,
    rx: Option<Receiver<PathBuf>>,
    /// Databases that changed and are read once they settle (see `DB_QUIET`).
    settling: Vec<Settling>,
    /// JSONL sessions to re-read from the start (a file shrank or was replaced), and when: a
    /// moment after the change, so that a rewrite in progress is read whole, not as an empty or
    /// half-written file followed by "appended" lines counted twice.
    rebuilds: Vec<(Instant, String)>,
    /// Tool calls awaiting their result, per session (for the activity rows' durations).
    pending_calls: HashMap<String, PendingCalls>,
    /// Archive files (`.zst`) read, by path: their archive names.
    archive_files: HashMap<PathBuf, String>,
    /// The ledger (`<data-dir>/ledger.db`), when there is a data dir and it opens.
    ledger: Option<Ledger>,
    /// The figures (events, cost) the ledger has of each session: a session whose figures did
    /// not change is not written again.
    /// Keyed by `ledger::id_key` (8 bytes, not the id string: 100k sessions).
    /// The value: (events, cost, `ledger::fingerprint`).
    ledger_known: HashMap<u64, (u64, f64, u64)>,
    /// Whether the ledger was read into the index (once, after the first cold index).
    ledger_loaded: bool,
    last_ledger_flush: Instant,
}

impl Watcher {
    fn new(index: Arc<Index>, cfg: Config) -> Watcher {
        let install = index.read().install.clone();
        let wd_dirs: WdMap = Arc::default();
        let (watches, rx) = match start_inotify(wd_dirs.clone()) {
            Ok((w, rx)) => (Some(w), Some(rx)),
            Err(e) => {
                eprintln!("clawmetry: inotify unavailable ({e}); following changes by rescanning every {RESCAN:?}");
                (None, None)
            }
        };
        Watcher {
            index,
            cfg,
            install,
            prices: PriceTable::default(),
            files: HashMap::new(),
            dbs: HashMap::new(),
            stamps: HashMap::new(),
            watches,
            wd_dirs,
            watched: HashMap::new(),
            rx,
            settling: Vec::new(),
            rebuilds: Vec::new(),
            pending_calls: HashMap::new(),
            archive_files: HashMap::new(),
            ledger: None,
            ledger_known: HashMap::new(),
            ledger_loaded: false,
            last_ledger_flush: Instant::now(),
        }
    }

    fn run(&mut self) {
        self.cold_index();
        let mut last_rescan = Instant::now();
        loop {
            let mut wait =
                RESCAN.saturating_sub(last_rescan.elapsed()).max(Duration::from_millis(10)).min(LEDGER_FLUSH);
            if let Some(due) = self.settling.iter().map(Settling::due).chain(self.rebuilds.iter().map(|r| r.0)).min() {
                wait = wait.min(due.saturating_duration_since(Instant::now()));
            }
            let first = match &self.rx {
                Some(rx) => match rx.recv_timeout(wait) {
                    Ok(p) => Some(p),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.rx = None;
                        None
                    }
                },
                None => {
                    std::thread::sleep(wait);
                    None
                }
            };
            if let Some(p) = first {
                let mut dirty: Vec<PathBuf> = vec![p];
                if let Some(rx) = &self.rx {
                    while let Ok(p) = rx.try_recv() {
                        if !dirty.contains(&p) {
                            dirty.push(p);
                        }
                    }
                }
                for p in dirty {
                    self.on_change(&p);
                }
            }
            let now = Instant::now();
            let (due, later) = std::mem::take(&mut self.settling).into_iter().partition(|r| r.due() <= now);
            self.settling = later;
            for r in due {
                match r.db {
                    Settled::Agent { path, agent } => self.poll_db(&path, &agent),
                    Settled::State => self.load_subagent_runs(),
                }
            }
            let due: Vec<String> = self.rebuilds.iter().filter(|r| r.0 <= now).map(|r| r.1.clone()).collect();
            self.rebuilds.retain(|r| r.0 > now);
            for id in due {
                self.rebuild_jsonl_session(&id);
            }
            if last_rescan.elapsed() >= RESCAN {
                self.rescan();
                last_rescan = Instant::now();
            }
            if self.last_ledger_flush.elapsed() >= LEDGER_FLUSH {
                self.flush_ledger();
            }
        }
    }

    /// Loads prices and indexes everything found, publishing the installation to the state.
    fn cold_index(&mut self) {
        let t0 = Instant::now();
        self.install = detect::detect(&self.cfg);
        self.open_ledger();
        self.load_prices();
        {
            let mut st = self.index.write();
            st.install = self.install.clone();
            st.price_source = self.prices.source.clone();
            st.prices = std::sync::Arc::new(self.prices.clone());
        }
        if !self.install.found {
            // Said before the ready mark: whoever waits for ready (a script, a test) finds it.
            eprintln!(
                "clawmetry: no OpenClaw installation found (looked at {}); set --openclaw-dir or $OPENCLAW_STATE_DIR. \
                 Serving anyway and checking again every few seconds.",
                detect::candidates(&self.cfg)
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.reconcile_ledger();
            self.index.write().health.ready = true;
            return;
        }
        self.ensure_watches();
        self.load_subagent_runs();
        let agents = self.install.agents.clone();
        for a in &agents {
            self.load_sessions_json(&a.id, &a.sessions_dir.join("sessions.json"));
        }
        // JSONL files: decoded in parallel, one worker per core.
        let mut jobs: Vec<(PathBuf, String, String, u64)> = Vec::new();
        let mut ignored = 0;
        for a in &agents {
            for (path, role) in list_dir(&a.sessions_dir) {
                match role {
                    FileRole::Transcript { id } => {
                        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                        jobs.push((path, a.id.clone(), id, len));
                    }
                    FileRole::Ignored => ignored += 1,
                    FileRole::Index => {}
                }
            }
        }
        {
            let mut st = self.index.write();
            st.health.ignored_files += ignored;
            st.health.files_total += jobs.len() as u64;
        }
        jobs.sort_by_key(|j| std::cmp::Reverse(j.3));
        let workers = cold_workers();
        let mut buckets: Vec<Vec<(PathBuf, String, String, u64)>> = vec![Vec::new(); workers];
        let mut loads = vec![0u64; workers];
        for j in jobs {
            let i = (0..workers).min_by_key(|&i| loads[i]).unwrap_or(0);
            loads[i] += j.3 + 4096;
            buckets[i].push(j);
        }
        // Databases: one reader thread each, alongside the file workers.
        let mut db_jobs: Vec<(PathBuf, DbCursor)> = Vec::new();
        for a in &agents {
            if a.db_path.is_file() {
                if let Some(c) = self.take_db_cursor(&a.db_path, &a.id) {
                    db_jobs.push((a.db_path.clone(), c));
                }
            }
        }
        let prices = &self.prices;
        let index = &self.index;
        let (results, db_results): ColdResults = std::thread::scope(|s| {
            let db_handles: Vec<_> = db_jobs
                .into_iter()
                .map(|(path, mut cur)| {
                    s.spawn(move || {
                        let d = read_db(&mut cur, &path, prices, None);
                        apply_db_delta(index, &path, d);
                        (path, cur)
                    })
                })
                .collect();
            let handles: Vec<_> = buckets
                .into_iter()
                .map(|bucket| {
                    s.spawn(move || {
                        let mut cursors = Vec::new();
                        let mut batch: Vec<(String, String, PathBuf, Tally)> = Vec::new();
                        let mut health = IndexHealth::default();
                        for (path, agent, id, _) in bucket {
                            let mut cur = FileCursor { ino: 0, read_pos: 0, reader: LineReader::default(), lines: 0 };
                            let tally = read_file(&path, &mut cur, prices, &mut health, None);
                            health.files += 1;
                            batch.push((agent, id, path.clone(), tally));
                            cursors.push((path, cur));
                            if batch.len() >= 256 {
                                apply_file_batch(index, &mut batch, &mut health);
                            }
                        }
                        apply_file_batch(index, &mut batch, &mut health);
                        cursors
                    })
                })
                .collect();
            let files = handles.into_iter().filter_map(|h| h.join().ok()).collect();
            let dbs = db_handles.into_iter().filter_map(|h| h.join().ok()).collect();
            (files, dbs)
        });
        for (p, c) in results.into_iter().flatten() {
            self.files.insert(p, c);
        }
        self.dbs.extend(db_results);
        // Archive files after the databases: one kept both as a row and as a file is read once.
        self.cold_archive_files(&agents);
        self.reconcile_ledger();
        let ms = t0.elapsed().as_millis() as u64;
        self.index.write().shrink();
        crate::alloc::release_free_memory();
        {
            let mut st = self.index.write();
            st.health.ready = true;
            st.health.cold_index_ms = Some(ms);
            st.health.last_update_ms = Some(crate::timefmt::now_ms());
        }
        self.index.hub.publish("index", json!({"ready": true, "coldIndexMs": ms}));
        // Every session is new to an empty ledger: written now, once the index is served (2.2 s
        // for 100k sessions; before the ready mark it delayed every first answer by as much).
        self.flush_ledger();
        crate::alloc::release_free_memory();
    }

    /// Opens the ledger once (without a data dir, or when it cannot be opened, /api/health says
    /// why). What it keeps is read by `reconcile_ledger`, after the cold index.
    fn open_ledger(&mut self) {
        if self.ledger.is_some() {
            return;
        }
        let Some(dir) = self.cfg.data_dir.clone() else {
            self.index.write().ledger.last_error =
                Some("no data dir: spend is not kept beyond OpenClaw's files".into());
            return;
        };
        let opened = Ledger::open(&dir);
        let mut st = self.index.write();
        st.ledger.path = Some(dir.join("ledger.db"));
        match opened {
            Ok(l) => {
                st.ledger.enabled = true;
                self.ledger = Some(l);
            }
            Err(e) => {
                eprintln!("clawmetry: the ledger cannot be used ({e}); spend of purged sessions is not kept");
                st.ledger.last_error = Some(e);
            }
        }
    }

    /// After the cold index: every session the ledger keeps stays counted. One no source has
    /// any more is listed as purged with its figures; one a source re-read with fewer events
    /// (rows deleted from its middle) keeps the ledger's (`State::keep_at_least`). The ledger is
    /// read `LEDGER_CHUNK` sessions at a time, each under one short write lock.
    fn reconcile_ledger(&mut self) {
        let Some(l) = self.ledger.as_ref() else { return };
        if std::mem::replace(&mut self.ledger_loaded, true) {
            return;
        }
        let mut forget = Vec::new();
        let known = &mut self.ledger_known;
        let (index, forget_purged) = (&self.index, self.cfg.forget_purged);
        let loaded = l.load_each(LEDGER_CHUNK, |kept| {
            let mut st = index.write();
            for e in kept {
                let found = st.sessions.get(&e.id).is_some_and(|s| s.store != Store::None);
                if found {
                    known.insert(
                        ledger::id_key(&e.id),
                        (e.tally.events, e.tally.usage.cost, ledger::fingerprint(&e.store, &e.meta)),
                    );
                    // A deleted session's index rows are gone: what the ledger knew fills in.
                    if let Some(s) = st.sessions.get_mut(&e.id) {
                        s.meta.fill_from(&e.meta);
                    }
                    st.keep_at_least(&e.agent, &e.id, e.tally);
                    continue;
                }
                if forget_purged {
                    forget.push(e.id);
                    continue;
                }
                known.insert(
                    ledger::id_key(&e.id),
                    (e.tally.events, e.tally.usage.cost, ledger::fingerprint(&e.store, &e.meta)),
                );
                let mut meta = e.meta;
                meta.id.clone_from(&e.id);
                st.apply_meta(&e.agent, vec![meta]);
                let store = if e.store == "otlp" { Store::Otlp } else { Store::Ledger };
                st.apply_tally(&e.agent, &e.id, store, e.tally);
            }
        });
        let failed = loaded.is_err();
        {
            let mut st = self.index.write();
            match loaded {
                Ok(bad) => st.ledger.bad_rows = bad,
                Err(e) => {
                    // Not read whole: writing now could replace a kept row with smaller figures
                    // (a session whose rows OpenClaw deleted). Off until the next start.
                    eprintln!("clawmetry: the ledger cannot be read ({e}); it is not written this run");
                    st.ledger.last_error = Some(format!("{e}; not written until restart"));
                    st.ledger.enabled = false;
                }
            }
            st.ledger.forgotten += forget.len() as u64;
            st.ledger.sessions = self.ledger_known.len() as u64;
        }
        if failed {
            self.ledger = None;
            return;
        }
        if let (Some(l), false) = (self.ledger.as_mut(), forget.is_empty()) {
            if let Err(e) = l.forget(&forget) {
                self.index.write().ledger.last_error = Some(e);
            }
        }
    }

    /// Writes the sessions changed since the last write to the ledger, `LEDGER_CHUNK` at a time
    /// (outside the state lock: their figures are copied under a short read lock first). A
    /// session whose figures the ledger already has is not written again.
    fn flush_ledger(&mut self) {
        self.last_ledger_flush = Instant::now();
        let Some(l) = self.ledger.as_mut() else {
            self.index.write().ledger_dirty.clear();
            return;
        };
        let dirty: Vec<String> = {
            let mut st = self.index.write();
            if st.ledger_dirty.is_empty() {
                return;
            }
            st.ledger_dirty.drain().collect()
        };
        let now = self.index.now_ms();
        let known = &mut self.ledger_known;
        let mut written = 0;
        let mut failed = None;
        for (i, ids) in dirty.chunks(LEDGER_CHUNK).enumerate() {
            let entries: Vec<ledger::Entry> = {
                let st = self.index.read();
                ids.iter()
                    .filter_map(|id| st.sessions.get(id))
                    .filter(|s| s.store != Store::None || s.tally.events > 0)
                    .filter(|s| {
                        known.get(&ledger::id_key(&s.id)).is_none_or(|&(events, cost, print)| {
                            !ledger::same_figures((events, cost), (s.tally.events, s.tally.usage.cost))
                                || print != ledger::fingerprint(s.store.as_str(), &s.meta)
                        })
                    })
                    .map(|s| ledger::Entry {
                        id: s.id.clone(),
                        agent: s.agent.clone(),
                        store: s.store.as_str().to_string(),
                        meta: s.meta.clone(),
                        tally: s.tally.clone(),
                    })
                    .collect()
            };
            if entries.is_empty() {
                continue;
            }
            match l.save(&entries, now) {
                Ok(()) => {
                    written += entries.len();
                    for e in entries {
                        known.insert(
                            ledger::id_key(&e.id),
                            (e.tally.events, e.tally.usage.cost, ledger::fingerprint(&e.store, &e.meta)),
                        );
                    }
                }
                Err(e) => {
                    failed = Some((e, i * LEDGER_CHUNK));
                    break;
                }
            }
        }
        // A big write (the first one, or a re-priced index) leaves a WAL as big as itself.
        let checkpoint = if written > LEDGER_CHUNK { l.checkpoint().err() } else { None };
        let mut st = self.index.write();
        st.ledger.sessions = known.len() as u64;
        st.ledger.written += written as u64;
        if written > 0 {
            st.ledger.last_write_ms = Some(now);
            st.ledger.last_error = None;
        }
        if let Some((e, from)) = failed {
            // Try again at the next flush.
            st.ledger.last_error = Some(e);
            st.ledger_dirty.extend(dirty.into_iter().skip(from));
        } else if let Some(e) = checkpoint {
            st.ledger.last_error = Some(e);
        }
    }

    /// Notes an archive file (`<id>.jsonl.deleted.<ts>[.<hash>].zst`, …) as seen and returns it
    /// when it is to be read: not seen before, and not an archive a database already listed
    /// under the same name (and read fine).
    fn claim_archive_file(&mut self, path: &Path) -> Option<Archive> {
        if self.archive_files.contains_key(path) {
            return None;
        }
        let a = archives::classify_file(path)?;
        self.archive_files.insert(path.to_path_buf(), a.name.clone());
        let in_db = self.dbs.values().any(|c| c.archives.contains(&a.name) && !c.failed_archives.contains(&a.name));
        (!in_db).then_some(a)
    }

    /// Reads an archive file once (see `claim_archive_file`).
    fn archive_file(&mut self, path: &Path, agent: &str) {
        let Some(a) = self.claim_archive_file(path) else { return };
        let (tally, health) = read_archive(&a, &self.prices, &mut Vec::new());
        let id = a.session_id.clone();
        {
            let mut st = self.index.write();
            st.health.add(&health);
            if health.source_errors == 0 {
                st.offer_archive(agent, std::sync::Arc::new(a), tally);
            }
        }
        publish_touched(&self.index, vec![id]);
    }

    /// The archive files found at start, inflated on as many workers as the JSONL files were
    /// and offered to the index in the order listed (as `archive_file` would, one by one).
    fn cold_archive_files(&mut self, agents: &[detect::Agent]) {
        let mut jobs: Vec<(String, Archive)> = Vec::new();
        for a in agents {
            for path in list_archive_files(&a.sessions_dir) {
                if let Some(arch) = self.claim_archive_file(&path) {
                    jobs.push((a.id.clone(), arch));
                }
            }
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let prices = &self.prices;
        let mut read: Vec<Option<(Tally, IndexHealth)>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..cold_workers())
                .map(|_| {
                    s.spawn(|| {
                        let (mut out, mut buf) = (Vec::new(), Vec::new());
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((_, arch)) = jobs.get(i) else { return out };
                            out.push((i, read_archive(arch, prices, &mut buf)));
                        }
                    })
                })
                .collect();
            for (i, r) in handles.into_iter().filter_map(|h| h.join().ok()).flatten() {
                read[i] = Some(r);
            }
        });
        let mut pairs = jobs.into_iter().zip(read).peekable();
        while pairs.peek().is_some() {
            let mut touched = Vec::new();
            let mut st = self.index.write();
            for ((agent, arch), r) in pairs.by_ref().take(256) {
                // A worker that panicked (debug builds unwind) lost its archives: counted, not
                // silently missing.
                let (tally, health) =
                    r.unwrap_or_else(|| (Tally::default(), IndexHealth { source_errors: 1, ..Default::default() }));
                st.health.add(&health);
                if health.source_errors == 0 {
                    touched.push(arch.session_id.clone());
                    st.offer_archive(&agent, std::sync::Arc::new(arch), tally);
                }
            }
            drop(st);
            publish_touched(&self.index, touched);
        }
    }

    /// Archive files that disappeared (purged): their sessions keep their figures.
    fn archive_files_gone(&mut self) {
        let gone: Vec<(PathBuf, String)> =
            self.archive_files.iter().filter(|(p, _)| !p.exists()).map(|(p, n)| (p.clone(), n.clone())).collect();
        if gone.is_empty() {
            return;
        }
        let mut st = self.index.write();
        for (p, name) in gone {
            self.archive_files.remove(&p);
            if !self.dbs.values().any(|c| c.archives.contains(&name)) {
                st.archive_gone(&name);
            }
        }
    }

    fn load_prices(&mut self) {
        let user_path = self
            .cfg
            .prices
            .clone()
            .or_else(|| self.cfg.data_dir.as_ref().map(|d| d.join("prices.json")).filter(|p| p.is_file()));
        let user = user_path.as_ref().and_then(|p| match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("clawmetry: cannot read prices file {}: {e}", p.display());
                None
            }
        });
        self.prices = match PriceTable::load(user.as_deref(), self.install.config.as_ref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("clawmetry: {e}; using the embedded price table");
                PriceTable::load(None, self.install.config.as_ref()).unwrap_or_default()
            }
        };
    }

    fn ensure_watches(&mut self) {
        let Some(watches) = self.watches.as_mut() else { return };
        let dir_mask = WatchMask::CREATE | WatchMask::MOVED_TO | WatchMask::DELETE | WatchMask::CLOSE_WRITE;
        let file_mask = dir_mask | WatchMask::MODIFY | WatchMask::MOVED_FROM;
        let mut wanted: Vec<(PathBuf, WatchMask)> = vec![
            (self.install.state_dir.clone(), dir_mask),
            (self.install.state_dir.join("agents"), dir_mask),
            (self.install.state_dir.join("state"), file_mask),
        ];
        for a in &self.install.agents {
            wanted.push((a.sessions_dir.clone(), file_mask));
            wanted.push((a.db_path.parent().map(Path::to_path_buf).unwrap_or_default(), file_mask));
            if let Some(agent_dir) = a.sessions_dir.parent() {
                wanted.push((agent_dir.to_path_buf(), dir_mask));
            }
        }
        for (dir, mask) in wanted {
            let ino = std::fs::metadata(&dir).ok().filter(|m| m.is_dir()).map(|m| m.ino());
            let Some(ino) = ino else { continue };
            if self.watched.get(&dir) == Some(&ino) {
                continue;
            }
            match watches.add(&dir, mask) {
                Ok(wd) => {
                    crate::sync::lock(&self.wd_dirs).insert(wd, dir.clone());
                    self.watched.insert(dir, ino);
                }
                Err(e) => eprintln!("clawmetry: cannot watch {}: {e} (the rescan still follows it)", dir.display()),
            }
        }
    }

    /// Handles one changed path reported by inotify.
    fn on_change(&mut self, path: &Path) {
        let Some(dir) = path.parent() else { return };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(agent) = self.install.agents.iter().find(|a| a.sessions_dir == dir).map(|a| a.id.clone()) {
            if name.ends_with(".zst") {
                if path.is_file() {
                    self.archive_file(path, &agent);
                } else {
                    self.archive_files_gone();
                }
                return;
            }
            match jsonl_store::classify(name) {
                FileRole::Transcript { id } => self.tail_file(path, &agent, &id),
                FileRole::Index => self.load_sessions_json(&agent, path),
                FileRole::Ignored => {}
            }
            return;
        }
        if let Some(a) = self.install.agents.iter().find(|a| a.db_path.parent() == Some(dir)).cloned() {
            if name == "openclaw-agent.sqlite" || name == "openclaw-agent.sqlite-wal" {
                self.settle(Settled::Agent { path: a.db_path.clone(), agent: a.id.clone() });
            }
            return;
        }
        if dir == self.install.state_dir.join("state") {
            if name == "openclaw.sqlite" || name == "openclaw.sqlite-wal" {
                self.settle(Settled::State);
            }
            return;
        }
        // Something changed in the state dir or agents/: a new agent, a new config.
        self.redetect();
    }

    /// Notes a change of a database, to be read once it settles.
    fn settle(&mut self, db: Settled) {
        let now = Instant::now();
        match self.settling.iter_mut().find(|r| r.db == db) {
            Some(r) => r.last = now,
            None => self.settling.push(Settling { db, first: now, last: now }),
        }
    }

    /// Re-reads the installation; indexes agents and files that appeared.
    fn redetect(&mut self) {
        let fresh = detect::detect(&self.cfg);
        if fresh.found && !self.install.found {
            eprintln!("clawmetry: OpenClaw installation found at {}", fresh.state_dir.display());
            self.cold_index();
            return;
        }
        let changed = fresh.agents != self.install.agents || fresh.config_path != self.install.config_path;
        self.install = fresh;
        if changed {
            self.load_prices();
            let mut st = self.index.write();
            st.install = self.install.clone();
            st.prices = std::sync::Arc::new(self.prices.clone());
        }
        self.ensure_watches();
    }

    /// The periodic safety net: new files and agents, missed changes.
    fn rescan(&mut self) {
        self.pending_calls.retain(|_, p| !p.is_empty());
        if !self.install.found {
            self.redetect();
            return;
        }
        self.redetect();
        self.jsonl_files_gone();
        self.archive_files_gone();
        self.databases_gone();
        for a in self.install.agents.clone() {
            for path in list_archive_files(&a.sessions_dir) {
                self.archive_file(&path, &a.id);
            }
            self.load_sessions_json(&a.id, &a.sessions_dir.join("sessions.json"));
            for (path, role) in list_dir(&a.sessions_dir) {
                if let FileRole::Transcript { id } = role {
                    let grown = match (self.files.get(&path), std::fs::metadata(&path)) {
                        (Some(c), Ok(m)) => m.len() != c.read_pos || m.ino() != c.ino,
                        (None, _) => true,
                        _ => false,
                    };
                    if grown {
                        self.tail_file(&path, &a.id, &id);
                    }
                }
            }
            if a.db_path.is_file() {
                // Read once it settled, like a change inotify reported (OpenClaw's checkpoints).
                self.settle(Settled::Agent { path: a.db_path.clone(), agent: a.id.clone() });
            }
        }
        self.settle(Settled::State);
        // Transcript pages and answers come and go on the handler threads; give their freed
        // heap back now and then.
        crate::alloc::release_free_memory();
    }

    /// Agent databases that disappeared: their sessions keep their figures (read from their
    /// archive files if any, else the ledger alone), as after a restart.
    fn databases_gone(&mut self) {
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
                .map(|s| s.id.clone())
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

    /// JSONL files that disappeared: a session none of whose files is left keeps its figures
    /// (from its archive, or the ledger alone). A renamed file (`.jsonl` -> `.jsonl.deleted.<ts>`)
    /// has its new name noted by then.
    fn jsonl_files_gone(&mut self) {
        let gone: Vec<PathBuf> = self.files.keys().filter(|p| !p.exists()).cloned().collect();
        if gone.is_empty() {
            return;
        }
        let mut st = self.index.write();
        for p in gone {
            self.files.remove(&p);
            let Some(id) = session_of(&p) else { continue };
            st.forget_file(&id, &p);
        }
    }

    /// Reads what was added to one JSONL file.
    fn tail_file(&mut self, path: &Path, agent: &str, id: &str) {
        let Ok(md) = std::fs::symlink_metadata(path) else {
            // Gone: its data stays. The cursor stays too until the rescan, so that the other
            // half of a rename can adopt it.
            return;
        };
        if !md.is_file() {
            return;
        }
        if !self.files.contains_key(path) {
            // A rename (e.g. `<id>.jsonl` -> `<id>.jsonl.reset.<ts>`) keeps the inode: move the
            // cursor instead of counting the content twice.
            let moved = self
                .files
                .iter()
                .find(|(p, c)| c.ino == md.ino() && session_of(p).as_deref() == Some(id) && !p.exists())
                .map(|(p, _)| p.clone());
            let cur = match moved.and_then(|p| self.files.remove(&p)) {
                Some(c) => {
                    self.index.write().note_file(agent, id, path);
                    c
                }
                None => FileCursor { ino: md.ino(), read_pos: 0, reader: LineReader::default(), lines: 0 },
            };
            let fresh = cur.read_pos == 0;
            self.files.insert(path.to_path_buf(), cur);
            if fresh {
                let mut st = self.index.write();
                st.health.files += 1;
                st.health.files_total += 1;
            }
        }
        let cur = self.files.get(path).expect("cursor inserted");
        if cur.ino != md.ino() || md.len() < cur.read_pos {
            if !self.rebuilds.iter().any(|r| r.1 == id) {
                self.rebuilds.push((Instant::now() + REBUILD_AFTER, id.to_string()));
            }
            return;
        }
        if self.rebuilds.iter().any(|r| r.1 == id) {
            // Its re-read is due shortly and reads this too.
            return;
        }
        if md.len() == cur.read_pos {
            return;
        }
        let mut health = IndexHealth::default();
        let cur = self.files.get_mut(path).expect("cursor exists");
        let mut rows = Vec::new();
        let pending = self.pending_calls.entry(id.to_string()).or_default();
        let tally = read_file(path, cur, &self.prices, &mut health, Some((&mut rows, pending)));
        let mut batch = vec![(agent.to_string(), id.to_string(), path.to_path_buf(), tally)];
        apply_file_batch(&self.index, &mut batch, &mut health);
        publish_activity(&self.index, rows.into_iter().map(|r| (id.to_string(), r)).collect());
    }

    /// A file of the session was truncated or replaced: re-read all of its files.
    fn rebuild_jsonl_session(&mut self, id: &str) {
        // Only figures that came from these files are dropped for the re-read (a session
        // counted from its database or archive keeps them), and they come back if the new read
        // has less: money spent stays spent (State::keep_at_least).
        let before = {
            let mut st = self.index.write();
            match st.sessions.get(id).map(|s| (s.store == Store::Jsonl, s.agent.clone())) {
                Some((true, agent)) => Some((agent, st.reset_tally(id))),
                _ => None,
            }
        };
        let paths: Vec<PathBuf> = self.files.keys().filter(|p| session_of(p).as_deref() == Some(id)).cloned().collect();
        let mut health = IndexHealth::default();
        let mut batch = Vec::new();
        for p in paths {
            let Some(cur) = self.files.get_mut(&p) else { continue };
            cur.read_pos = 0;
            cur.reader = LineReader::default();
            cur.lines = 0;
            if !p.exists() {
                self.files.remove(&p);
                continue;
            }
            let tally = read_file(&p, cur, &self.prices, &mut health, None);
            let agent = self
                .install
                .agents
                .iter()
                .find(|a| Some(a.sessions_dir.as_path()) == p.parent())
                .map(|a| a.id.clone())
                .unwrap_or_else(|| agent_of(&p));
            batch.push((agent, id.to_string(), p.clone(), tally));
        }
        apply_file_batch(&self.index, &mut batch, &mut health);
        if let Some((agent, old)) = before {
            self.index.write().keep_at_least(&agent, id, old);
        }
    }

    fn load_sessions_json(&mut self, agent: &str, path: &Path) {
        if !self.stamp_changed(path) {
            return;
        }
        let file = match crate::sources::open_file(path) {
            Ok(f) => f,
            Err(_) => return,
        };
        match jsonl_store::read_sessions_json(file) {
            Ok(metas) => self.index.write().apply_meta(agent, metas),
            Err(e) => {
                let mut st = self.index.write();
                st.health.source_errors += 1;
                st.health.last_error = Some(format!("{}: {e}", path.display()));
            }
        }
    }

    /// True when the file's (mtime, size) differs from the last look.
    fn stamp_changed(&mut self, path: &Path) -> bool {
        let stamp =
            std::fs::metadata(path).map(|m| (m.mtime() * 1_000_000_000 + m.mtime_nsec(), m.len())).unwrap_or((0, 0));
        if stamp == (0, 0) {
            return false;
        }
        self.stamps.insert(path.to_path_buf(), stamp) != Some(stamp)
    }

    fn load_subagent_runs(&mut self) {
        let mut runs = Vec::new();
        if let Some(p) = self.install.state_db.clone() {
            let wal = PathBuf::from(format!("{}-wal", p.display()));
            if self.stamp_changed(&p) | self.stamp_changed(&wal) {
                match subagents::read_state_db(&p) {
                    Ok(r) => runs.extend(r),
                    Err(e) => self.note_error(e),
                }
            }
        }
        if let Some(p) = self.install.subagent_runs_file.clone() {
            if self.stamp_changed(&p) {
                match crate::sources::read_text(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|t| subagents::parse_runs_json(&t))
                {
                    Ok(r) => runs.extend(r),
                    Err(e) => self.note_error(format!("{}: {e}", p.display())),
                }
            }
        }
        if !runs.is_empty() {
            let mut st = self.index.write();
            for r in runs {
                st.subagent_runs.insert(r.child_key.clone(), r);
            }
        }
    }

    fn note_error(&self, e: String) {
        let mut st = self.index.write();
        st.health.source_errors += 1;
        st.health.last_error = Some(e);
    }

    /// Reads new session metadata and transcript rows from an agent database.
    fn poll_db(&mut self, path: &Path, agent: &str) {
        let Some(mut cur) = self.take_db_cursor(path, agent) else { return };
        // Polls come after the cold index: what they find was written since (a database new
        // since then included); a long history found late is capped at ACTIVITY_BATCH rows.
        let mut delta = read_db(&mut cur, path, &self.prices, Some(&mut self.pending_calls));
        self.dbs.insert(path.to_path_buf(), cur);
        // A database replaced is read again from its start: old lines, not activity.
        let rows = if delta.replaced { Vec::new() } else { std::mem::take(&mut delta.activity) };
        apply_db_delta(&self.index, path, delta);
        publish_activity(&self.index, rows);
    }

    /// The cursor of a database (new ones are counted on /api/health), out of the map so that
    /// it can be moved to a reader thread.
    fn take_db_cursor(&mut self, path: &Path, agent: &str) -> Option<DbCursor> {
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
            seqs: HashMap::new(),
            archives: HashSet::new(),
            failed_archives: HashSet::new(),
            deletions: Deletions::default(),
        })
    }
}

/// A database that changed and is not read yet.
struct Settling {
    db: Settled,
    first: Instant,
    last: Instant,
}

#[derive(PartialEq)]
enum Settled {
    Agent {
        path: PathBuf,
        agent: String,
    },
    /// The shared state database (sub-agent runs).
    State,
}

impl Settling {
    fn due(&self) -> Instant {
        (self.last + DB_QUIET).min(self.first + DB_MAX_WAIT)
    }
}

/// What one poll of a database found.
struct DbDelta {
    agent: String,
    /// The database was replaced or rewritten: its sessions are re-read from scratch.
    replaced: bool,
    metas: Vec<crate::model::SessionMeta>,
    per_session: HashMap<String, Tally>,
    health: IndexHealth,
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
/// goes into the delta too.
fn read_db(
    cur: &mut DbCursor,
    path: &Path,
    prices: &PriceTable,
    live: Option<&mut HashMap<String, PendingCalls>>,
) -> DbDelta {
    let mut d = DbDelta {
        agent: cur.agent.clone(),
        replaced: false,
        metas: Vec::new(),
        per_session: HashMap::new(),
        health: IndexHealth::default(),
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
        let last = seqs.entry(row.session_id.clone()).or_insert(-1);
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
    let archives = (&mut cur.archives, &mut cur.failed_archives);
    read_db_archives(archives, (&mut cur.deletions, rows_deleted), conn, path, prices, &mut d);
    note_problem(cur, &mut d);
    d
}

/// Remembers whether this poll failed, so that /api/health lists the database while it is
/// broken and drops it once it reads fine again.
fn note_problem(cur: &mut DbCursor, d: &mut DbDelta) {
    let failing = d.problem.is_some();
    d.problem_changed = failing || failing != cur.failing;
    cur.failing = failing;
}

/// The archive part of a database poll: archives new since the last poll are read whole (one
/// buffer at a time), archives gone are reported, and after a deletion (fewer sessions, or a
/// new archive, or rows known to be deleted) the sessions that still have transcript rows are
/// listed, at this poll and those of the next `DELETION_SETTLE`.
/// `archives`: the names listed at the last poll, and those that could not be read.
fn read_db_archives(
    (known, failed): (&mut HashSet<String>, &mut HashSet<String>),
    (del, rows_deleted): (&mut Deletions, bool),
    conn: &Connection,
    path: &Path,
    prices: &PriceTable,
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
        let (tally, health) = read_archive(&a, prices, &mut buf);
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
fn read_archive(a: &Archive, prices: &PriceTable, buf: &mut Vec<u8>) -> (Tally, IndexHealth) {
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
fn apply_db_delta(index: &Arc<Index>, path: &Path, d: DbDelta) {
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
                .map(|s| (s.id.clone(), s.agent.clone()))
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
                .filter(|s| s.db.as_deref() == Some(path) && s.store == Store::Sqlite && !present.contains(&s.id))
                .map(|s| s.id.clone())
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

/// Decodes one transcript line into `t`, counting what is wrong with it.
fn decode_line(
    bytes: &[u8],
    t: &mut Tally,
    health: &mut IndexHealth,
    cost_of: &dyn Fn(&str, &crate::model::Usage) -> f64,
) {
    match transcript::summarize(bytes) {
        Ok(s) => {
            if s.lossy {
                health.non_utf8_lines += 1;
            }
            if s.usage.is_some_and(|(u, _)| u.capped().1) {
                health.capped_events += 1;
            }
            t.add_line(&s, cost_of)
        }
        Err(transcript::DecodeError::NotUtf8) => health.non_utf8_lines += 1,
        Err(transcript::DecodeError::Malformed(_)) => health.malformed_lines += 1,
    }
}

/// Reads a JSONL file from the cursor to its end; returns the tally of the complete lines. With
/// `feed` (lines written while clawmetry runs), each line's activity row goes there too.
fn read_file(
    path: &Path,
    cur: &mut FileCursor,
    prices: &PriceTable,
    health: &mut IndexHealth,
    mut feed: Option<(&mut Vec<Value>, &mut PendingCalls)>,
) -> Tally {
    let mut tally = Tally::default();
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let mut f = match crate::sources::open_file(path) {
        Ok(f) => f,
        Err(e) => {
            health.source_errors += 1;
            health.last_error = Some(format!("{}: {e}", path.display()));
            return tally;
        }
    };
    if let Ok(m) = f.metadata() {
        cur.ino = m.ino();
    }
    if f.seek(SeekFrom::Start(cur.read_pos)).is_err() {
        return tally;
    }
    let mut buf = vec![0u8; CHUNK];
    let huge_before = cur.reader.huge_lines;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                health.source_errors += 1;
                health.last_error = Some(format!("{}: {e}", path.display()));
                break;
            }
        };
        cur.read_pos += n as u64;
        health.bytes_read += n as u64;
        let lines = &mut cur.lines;
        cur.reader.feed(&buf[..n], |line| {
            health.lines += 1;
            let cost_before = tally.usage.cost;
            decode_line(line, &mut tally, health, &cost_of);
            if let Some((rows, pending)) = feed.as_mut() {
                rows.extend(activity::row(line, *lines, tally.usage.cost - cost_before, pending));
            }
            *lines += 1;
        });
    }
    health.huge_lines += cur.reader.huge_lines - huge_before;
    tally
}

fn apply_file_batch(index: &Arc<Index>, batch: &mut Vec<(String, String, PathBuf, Tally)>, health: &mut IndexHealth) {
    if batch.is_empty() && health.lines == 0 && health.files == 0 {
        return;
    }
    let mut touched = Vec::new();
    {
        let mut st = index.write();
        for (agent, id, path, tally) in batch.drain(..) {
            st.note_file(&agent, &id, &path);
            let lines = tally.events;
            if !st.apply_tally(&agent, &id, Store::Jsonl, tally) {
                health.duplicate_source_lines += lines;
            }
            touched.push(id);
        }
        st.health.add(health);
        st.health.last_update_ms = Some(crate::timefmt::now_ms());
    }
    *health = IndexHealth::default();
    publish_touched(index, touched);
}

/// Rows of the activity stream: the newest `ACTIVITY_BATCH` of one poll, with their session's
/// agent, profile, key and kind, to the event stream.
fn publish_activity(index: &Arc<Index>, mut rows: Vec<(String, Value)>) {
    if rows.is_empty() {
        return;
    }
    rows.drain(..rows.len().saturating_sub(ACTIVITY_BATCH));
    let items: Vec<Value> = {
        let st = index.read();
        rows.into_iter()
            .map(|(id, mut r)| {
                if let Some(s) = st.sessions.get(&id) {
                    r["agent"] = json!(s.agent);
                    r["profile"] = json!(st.profile_of(&s.agent));
                    r["key"] = json!(s.meta.key);
                    r["sessionKind"] = json!(s.kind());
                }
                r["sessionId"] = json!(id);
                r
            })
            .collect()
    };
    index.hub.publish("activity", json!({"items": items}));
}

fn publish_touched(index: &Arc<Index>, touched: Vec<String>) {
    if touched.is_empty() {
        return;
    }
    let mut ids = touched;
    ids.sort();
    ids.dedup();
    index.hub.publish("sessions", json!({"ids": ids}));
}

/// The session a transcript file belongs to, from its name.
fn session_of(path: &Path) -> Option<String> {
    match jsonl_store::classify(path.file_name()?.to_str()?) {
        FileRole::Transcript { id } => Some(id),
        _ => None,
    }
}

/// The agent of a transcript file: `agents/<agent>/sessions/<file>`.
fn agent_of(path: &Path) -> String {
    path.parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("main")
        .to_string()
}

/// The zstd archive files of a sessions dir (and its `cold/` dir).
fn list_archive_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in [dir.to_path_buf(), dir.join("cold")] {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file && archives::classify_file(&e.path()).is_some() {
                out.push(e.path());
            }
        }
    }
    out
}

fn list_dir(dir: &Path) -> Vec<(PathBuf, FileRole)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            Some((e.path(), jsonl_store::classify(&name)))
        })
        .collect()
}

/// Starts the inotify reader thread; it turns events into changed paths on a channel.
fn start_inotify(wd_dirs: WdMap) -> std::io::Result<(Watches, Receiver<PathBuf>)> {
    let mut inotify = Inotify::init()?;
    let watches = inotify.watches();
    let (tx, rx): (Sender<PathBuf>, Receiver<PathBuf>) = std::sync::mpsc::channel();
    std::thread::Builder::new().name("inotify".into()).spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let events = match inotify.read_events_blocking(&mut buf) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("clawmetry: inotify read failed: {e}; falling back to rescans");
                    return;
                }
            };
            let map = crate::sync::lock(&wd_dirs).clone();
            for ev in events {
                let Some(dir) = map.get(&ev.wd) else { continue };
                let path = match ev.name {
                    Some(n) => dir.join(n),
                    None => dir.clone(),
                };
                if tx.send(path).is_err() {
                    return;
                }
            }
        }
    })?;
    Ok((watches, rx))
}

/// Threads of the cold index (JSONL files, archive files): the cores, at most four.
fn cold_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4)
}
