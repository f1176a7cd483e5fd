//! The watcher thread: indexes every transcript once at start-up, then follows them live.
//!
//! inotify reports changes in the sessions dirs (JSONL files, `sessions.json`), the agent dirs
//! (the agent database and its `-wal`) and the state dir. A JSONL file is read from its last
//! offset (a partial last line waits for its newline; a truncated or replaced file is re-read
//! from the start); a database is read past the highest rowid seen. Every few seconds a rescan
//! catches what inotify cannot (new agents, a state dir that appears later, inotify limits).
//! All parsing happens outside the state lock; the lock is taken only to apply finished deltas.
//!
//! Files: this one (the thread, its loop, inotify, the rescan), `cold.rs` (the start-up index and
//! archive files), `files.rs` (JSONL transcripts, `sessions.json`, sub-agent runs), `db.rs`
//! (agent databases), `ledger.rs` (the spend ledger read back and written), `checkpoint.rs` (the
//! restart checkpoint: sources taken from it at start instead of read, and written).

use crate::activity::PendingCalls;
use crate::cli::Config;
use crate::ledger::Ledger;
use crate::pricing::PriceTable;
use crate::sources::archives::{self};
use crate::sources::detect::{self, Install};
use crate::sources::jsonl_store::{self, FileRole, LineReader};
use crate::state::Index;
use foldhash::{HashMap, HashSet};
use inotify::{Inotify, WatchDescriptor, WatchMask, Watches};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod checkpoint;
mod cold;
mod db;
mod files;
mod ledger;

use db::*;

/// How often the rescan runs.
const RESCAN: Duration = Duration::from_secs(5);
/// With inotify, how often a rescan walks every transcript directory even when its mtime says
/// no file came or went (the net for appends inotify missed, e.g. an overflowed queue).
const FULL_RESCAN: Duration = Duration::from_secs(300);
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
    /// The line reader, only while it holds part of a line: most files end with a whole line,
    /// and an idle reader took 40 bytes in each of 50k cursors at 100k sessions.
    reader: Option<Box<LineReader>>,
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
    /// Each session's highest seq read (its id shares the session's allocation once applied).
    seqs: HashMap<Arc<str>, i64>,
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
type ColdResults = (Vec<Vec<(Arc<Path>, FileCursor)>>, Vec<(PathBuf, DbCursor)>);

struct Watcher {
    index: Arc<Index>,
    cfg: Config,
    install: Install,
    prices: PriceTable,
    /// Keys shared with the sessions' `files`.
    files: HashMap<Arc<Path>, FileCursor>,
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
    /// Each sessions directory's (inode, mtime) at the last rescan, and the last full rescan.
    dir_stamps: HashMap<PathBuf, (u64, i64)>,
    /// Each agent database's and its WAL's (inode, size, mtime) at the last rescan.
    db_stamps: HashMap<PathBuf, [(u64, u64, i64); 2]>,
    last_full_rescan: Instant,
    /// inotify lost events: the next rescan walks everything.
    force_full_rescan: bool,
    /// The restart checkpoint (`<data-dir>/checkpoint`), unless `--no-checkpoint`.
    checkpoint: Option<crate::checkpoint::Checkpoint>,
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
            files: HashMap::default(),
            dbs: HashMap::default(),
            stamps: HashMap::default(),
            watches,
            wd_dirs,
            watched: HashMap::default(),
            rx,
            settling: Vec::new(),
            rebuilds: Vec::new(),
            pending_calls: HashMap::default(),
            archive_files: HashMap::default(),
            ledger: None,
            ledger_known: HashMap::default(),
            ledger_loaded: false,
            last_ledger_flush: Instant::now(),
            dir_stamps: HashMap::default(),
            db_stamps: HashMap::default(),
            last_full_rescan: Instant::now(),
            force_full_rescan: false,
            checkpoint: None,
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
                    if p.as_os_str().is_empty() {
                        eprintln!("clawmetry: inotify lost events (queue overflow); walking every directory");
                        self.force_full_rescan = true;
                        continue;
                    }
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
                self.write_checkpoint();
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
        // Context windows: each agent's model catalog first, then the config.
        for a in &self.install.agents {
            let Some(path) = a.db_path.parent().map(|d| d.join("models.json")) else { continue };
            // Read like every OpenClaw file: no symlink followed, a bad file only skipped.
            let Ok(mut f) = crate::sources::open_file(&path) else { continue };
            let mut text = String::new();
            if std::io::Read::read_to_string(&mut std::io::Read::take(&mut f, 8 << 20), &mut text).is_ok() {
                if let Ok(v) = crate::sources::json5::parse(&text) {
                    self.prices.add_catalog(&v, "agent catalog");
                }
            }
        }
        if let Some(models) = self.install.config.as_ref().and_then(|c| c.get("models")) {
            self.prices.add_catalog(models, "config");
        }
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
                FileRole::Index => self.load_sessions_json(&agent, path, false),
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
        // With inotify following the directories, one whose (inode, mtime) did not change had
        // no file added, removed or renamed, and its appends reach us as events: its walk (a
        // stat per file, ~0.4 s a rescan at 100k sessions) waits for the full rescan every
        // FULL_RESCAN. Without inotify every rescan is full.
        let full = self.rx.is_none() || self.force_full_rescan || self.last_full_rescan.elapsed() >= FULL_RESCAN;
        if full {
            self.last_full_rescan = Instant::now();
            self.force_full_rescan = false;
        }
        let agents = self.install.agents.clone();
        let walk: Vec<bool> = agents.iter().map(|a| self.dir_changed(&a.sessions_dir) || full).collect();
        if walk.iter().any(|w| *w) {
            self.jsonl_files_gone();
            self.archive_files_gone();
        }
        self.databases_gone();
        for (a, walk) in agents.into_iter().zip(walk) {
            self.load_sessions_json(&a.id, &a.sessions_dir.join("sessions.json"), false);
            // Read once it settled, like a change inotify reported (OpenClaw's checkpoints); with
            // inotify, only when the database or its WAL changed since the last look (a poll of a
            // big database that did not change is most of an idle rescan's cost).
            if a.db_path.is_file() && (self.db_changed(&a.db_path) || full) {
                self.settle(Settled::Agent { path: a.db_path.clone(), agent: a.id.clone() });
            }
            if !walk {
                continue;
            }
            for path in list_archive_files(&a.sessions_dir) {
                self.archive_file(&path, &a.id);
            }
            for (path, role) in list_dir(&a.sessions_dir) {
                if let FileRole::Transcript { id } = role {
                    let grown = match (self.files.get(path.as_path()), std::fs::metadata(&path)) {
                        (Some(c), Ok(m)) => m.len() != c.read_pos || m.ino() != c.ino,
                        (None, _) => true,
                        _ => false,
                    };
                    if grown {
                        self.tail_file(&path, &a.id, &id);
                    }
                }
            }
        }
        self.settle(Settled::State);
        // Transcript pages and answers come and go on the handler threads; give their freed
        // heap back now and then.
        crate::alloc::release_free_memory();
    }

    /// Whether `dir`'s (inode, mtime) changed since the last look (true the first time, and
    /// for a directory that cannot be read: its walk says what is there).
    fn dir_changed(&mut self, dir: &Path) -> bool {
        let Ok(m) = std::fs::metadata(dir) else { return true };
        let stamp = (m.ino(), m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()));
        self.dir_stamps.insert(dir.to_path_buf(), stamp) != Some(stamp)
    }

    /// Whether a database or its `-wal` changed (inode, size, mtime) since the last look.
    fn db_changed(&mut self, db: &Path) -> bool {
        let stamp = |p: &Path| {
            std::fs::metadata(p).map_or((0, 0, 0), |m| {
                (m.ino(), m.len(), m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()))
            })
        };
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let now = [stamp(db), stamp(Path::new(&wal))];
        self.db_stamps.insert(db.to_path_buf(), now) != Some(now)
    }

    fn note_error(&self, e: String) {
        let mut st = self.index.write();
        st.health.source_errors += 1;
        st.health.last_error = Some(e);
    }
}

/// Rows of the activity stream: the newest `ACTIVITY_BATCH` of one poll, with their session's
/// agent, profile, key and kind, to the event stream.
fn publish_activity(index: &Arc<Index>, mut rows: Vec<(String, Value)>) {
    if rows.is_empty() {
        return;
    }
    // The guard sees every row, also those past the batch the page is sent.
    index.guard.push(rows.iter().filter_map(|(id, r)| crate::guard::Obs::from_row(id, r)));
    rows.drain(..rows.len().saturating_sub(ACTIVITY_BATCH));
    let items: Vec<Value> = {
        let st = index.read();
        rows.into_iter()
            .map(|(id, mut r)| {
                if let Some(s) = st.sessions.get(id.as_str()) {
                    r["agent"] = json!(s.agent);
                    r["profile"] = json!(st.profile_of(&s.agent));
                    r["key"] = json!(s.meta.key);
                    r["sessionKind"] = json!(s.kind());
                }
                r["sessionId"] = if id.is_empty() { Value::Null } else { json!(id) };
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
    index.hub.publish("sessions", touched_event(touched));
}

/// Ids a `sessions` change from the watcher names at most; with more it gives only their count,
/// and a client reads everything again (the UI does so for a change without `ids`). The hub
/// keeps its last changes: the cold index's batches with every id kept 7 MB of ids there at
/// 100k sessions. (The gateway's, OTLP's and the guard's changes name a handful.)
const TOUCHED_IDS_MAX: usize = 64;

/// The `sessions` change for these sessions.
fn touched_event(mut ids: Vec<String>) -> serde_json::Value {
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > TOUCHED_IDS_MAX {
        return json!({"count": ids.len()});
    }
    json!({"ids": ids})
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
                // Events were lost: an empty path asks the watcher for a full rescan.
                if ev.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                    if tx.send(PathBuf::new()).is_err() {
                        return;
                    }
                    continue;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_names_a_few_sessions_and_counts_many() {
        let ids = |n: usize| (0..n).map(|i| format!("s{}", i % (n.max(2) - 1))).collect::<Vec<_>>();
        // Sorted, each once.
        assert_eq!(touched_event(vec!["b".into(), "a".into(), "b".into()]), json!({"ids": ["a", "b"]}));
        let at_most = touched_event(ids(TOUCHED_IDS_MAX + 1));
        assert_eq!(at_most["ids"].as_array().map(Vec::len), Some(TOUCHED_IDS_MAX));
        assert_eq!(touched_event(ids(TOUCHED_IDS_MAX + 2)), json!({"count": TOUCHED_IDS_MAX + 1}));
    }
}
