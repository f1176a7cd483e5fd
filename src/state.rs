//! The shared state: the session index, usage time buckets and index health, behind one
//! `RwLock`. Writers (the watcher) compute deltas outside the lock and hold the write lock only
//! to apply them; readers (HTTP handlers) copy what they need and let go.
//!
//! Also the change [`Hub`]: a counter and a short ring of recent changes that the event stream
//! waits on, kept outside the `RwLock` so waiting never blocks writers.

use crate::model::{Key, ModelNames, SessionMeta, SubagentRun, Tally, Usage};
use crate::sources::detect::Install;
use foldhash::{HashMap, HashSet};
use serde::Serialize;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// The index every thread shares: the [`State`] behind one `RwLock`, the change [`Hub`], the
/// generation counter answers are cached by, and the clock. The threads' own handles (gateway,
/// monitor, OTLP, fleet, auth) live in their modules and reach only who uses them.
pub struct Index {
    state: RwLock<State>,
    pub hub: Hub,
    /// New transcript lines for the guard (`guard.rs`): pushed by the watcher, drained by the
    /// monitor.
    pub guard: crate::guard::Feed,
    pub version: &'static str,
    pub started_ms: i64,
    /// A fixed clock for tests (`--fake-now-ms`).
    fake_now_ms: Option<i64>,
    /// Bumped by every write lock: a cached answer computed at generation g is current while
    /// the generation is still g.
    generation: AtomicU64,
}

impl Index {
    pub fn new(install: Install, fake_now_ms: Option<i64>) -> Arc<Index> {
        Arc::new(Index {
            state: RwLock::new(State::new(install)),
            hub: Hub::default(),
            guard: crate::guard::Feed::default(),
            version: env!("CARGO_PKG_VERSION"),
            started_ms: crate::timefmt::now_ms(),
            fake_now_ms,
            generation: AtomicU64::new(0),
        })
    }
    pub fn now_ms(&self) -> i64 {
        self.fake_now_ms.unwrap_or_else(crate::timefmt::now_ms)
    }
    /// Seconds since this process started (real clock).
    pub fn uptime_seconds(&self) -> i64 {
        (crate::timefmt::now_ms() - self.started_ms) / 1000
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        crate::sync::read(&self.state)
    }
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        let g = crate::sync::write(&self.state);
        self.generation.fetch_add(1, Ordering::SeqCst);
        g
    }
}

/// The sessions the gateway reports running: their keys and current session ids, sorted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LiveSet {
    pub keys: Vec<String>,
    pub ids: Vec<String>,
}

impl LiveSet {
    /// Whether the session with this key or id runs now.
    pub fn has(&self, key: Option<&str>, id: &str) -> bool {
        key.is_some_and(|k| self.keys.binary_search_by(|x| x.as_str().cmp(k)).is_ok())
            || self.ids.binary_search_by(|x| x.as_str().cmp(id)).is_ok()
    }
}

/// Where a session's figures come from. When several have the same session, the higher one
/// wins: the agent database over JSONL files (a migrated install), any transcript over OTLP
/// telemetry (which would otherwise count the same model calls twice).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    None,
    /// Only clawmetry's own ledger still has the session (`ledger.rs`): its transcript is gone.
    Ledger,
    Otlp,
    /// An archived transcript (`sources/archives.rs`): a DB archive row or a `.zst` file.
    Archive,
    Jsonl,
    Sqlite,
}

impl Store {
    fn rank(&self) -> u8 {
        match self {
            Store::None => 0,
            Store::Ledger => 1,
            Store::Otlp => 2,
            Store::Archive => 3,
            Store::Jsonl => 4,
            Store::Sqlite => 5,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Store::None => "none",
            Store::Ledger => "ledger",
            Store::Otlp => "otlp",
            Store::Archive => "archive",
            Store::Jsonl => "jsonl",
            Store::Sqlite => "sqlite",
        }
    }
}

/// What became of a session, as the user sees it (`state` in the API): still live in OpenClaw,
/// reset, archived or deleted there (its transcript kept in an archive), or purged (only
/// clawmetry's ledger still has its figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Live,
    Reset,
    Archived,
    Deleted,
    Purged,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Live => "live",
            Fate::Reset => "reset",
            Fate::Archived => "archived",
            Fate::Deleted => "deleted",
            Fate::Purged => "purged",
        }
    }
    pub fn parse(s: &str) -> Option<Fate> {
        [Fate::Live, Fate::Reset, Fate::Archived, Fate::Deleted, Fate::Purged].into_iter().find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    /// Shared with the key of `State::sessions`.
    pub id: Arc<str>,
    /// Shared with `State::agents`.
    pub agent: Arc<str>,
    pub meta: SessionMeta,
    pub store: Store,
    pub tally: Tally,
    /// JSONL files holding this session (current, reset and deleted generations).
    /// Shared with the watcher's cursor of the file.
    pub files: Vec<Arc<Path>>,
    /// The agent database holding it.
    /// Shared with the other sessions of the same database.
    pub db: Option<Arc<Path>>,
    /// The archived copy of its transcript OpenClaw keeps, when there is one (the one counted
    /// when the session has no live source; else where its transcript is read once the live
    /// rows are gone).
    pub archive: Option<Arc<crate::sources::archives::Archive>>,
}

impl Session {
    /// What became of the session; see [`Fate`]. A session whose every source is gone has
    /// `Store::Ledger` (its figures stay); one read from an archive, or whose live rows are gone
    /// while an archive remains, says why OpenClaw archived it.
    pub fn fate(&self) -> Fate {
        use crate::sources::archives::Reason;
        if self.store == Store::Ledger {
            return Fate::Purged;
        }
        if let Some(a) = &self.archive {
            return match a.reason {
                Reason::Reset => Fate::Reset,
                Reason::Archived => Fate::Archived,
                Reason::Deleted => Fate::Deleted,
            };
        }
        if self.meta.archived_ms.is_some() {
            return Fate::Archived;
        }
        if self.store == Store::Jsonl && !self.files.is_empty() {
            // File era: the names say it (`<id>.jsonl`, `.jsonl.reset.<ts>`, `.jsonl.deleted.<ts>`).
            let names = || self.files.iter().filter_map(|p| p.file_name().and_then(|n| n.to_str()));
            if !names().any(|n| n.ends_with(".jsonl")) {
                return if names().any(|n| n.contains(".jsonl.deleted.")) { Fate::Deleted } else { Fate::Reset };
            }
        }
        Fate::Live
    }
}

/// Counters shown on /api/health: what was read and what was wrong with it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexHealth {
    pub ready: bool,
    pub cold_index_ms: Option<u64>,
    /// Transcript files found; `files` of them are read (the cold index's progress).
    pub files_total: u64,
    pub files: u64,
    pub databases: u64,
    pub bytes_read: u64,
    pub lines: u64,
    pub malformed_lines: u64,
    pub non_utf8_lines: u64,
    /// Model calls claiming more than one call can (tokens over 10^9 of a kind, cost over $10^6
    /// or not a number): cut to those bounds.
    pub capped_events: u64,
    pub huge_lines: u64,
    pub bad_rows: u64,
    pub ignored_files: u64,
    /// Transcript archives read (DB rows and `.zst` files), ones that could not be read
    /// (corrupt, truncated, an unknown encoding), and cold archives whose file is missing.
    pub archives: u64,
    pub bad_archives: u64,
    pub missing_archive_files: u64,
    pub duplicate_source_lines: u64,
    pub source_errors: u64,
    pub last_error: Option<String>,
    pub last_update_ms: Option<i64>,
}

impl IndexHealth {
    pub fn add(&mut self, d: &IndexHealth) {
        self.files += d.files;
        self.databases += d.databases;
        self.bytes_read += d.bytes_read;
        self.lines += d.lines;
        self.malformed_lines += d.malformed_lines;
        self.non_utf8_lines += d.non_utf8_lines;
        self.capped_events += d.capped_events;
        self.huge_lines += d.huge_lines;
        self.bad_rows += d.bad_rows;
        self.ignored_files += d.ignored_files;
        self.archives += d.archives;
        self.bad_archives += d.bad_archives;
        self.missing_archive_files += d.missing_archive_files;
        self.duplicate_source_lines += d.duplicate_source_lines;
        self.source_errors += d.source_errors;
        if d.last_error.is_some() {
            self.last_error.clone_from(&d.last_error);
        }
    }
}

/// Usage of one (hour, model, agent) cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cell {
    pub usage: Usage,
    pub calls: u64,
}

pub struct State {
    pub install: Install,
    /// Boxed: the table's empty slots then cost a pointer, not a whole session.
    pub sessions: HashMap<Arc<str>, Box<Session>>,
    /// How many of them only the ledger has (`Store::Ledger`): kept by [`set_store`], for
    /// `/api/health`, which is polled while a restart runs and would otherwise count 100k
    /// sessions under the lock each time.
    purged: usize,
    /// Session key -> id (the key shares the allocation of the session's `meta.key`, the id
    /// the session's).
    pub by_key: HashMap<Key, Arc<str>>,
    pub subagent_runs: HashMap<String, SubagentRun>,
    /// The children of a session without a scan of every session: parent key -> the ids of
    /// the sessions whose index record names it (`meta.parent_key`), and requester key -> the
    /// child keys of its sub-agent runs. Kept by [`State::apply_meta`],
    /// [`State::fill_meta`] and [`State::put_subagent_run`]; read by [`State::children_of`].
    child_ids: HashMap<Key, Vec<Arc<str>>>,
    run_children: HashMap<String, Vec<String>>,
    pub models: ModelNames,
    /// Agent names by index; a session's `agent` shares the name's allocation.
    pub agents: Vec<Arc<str>>,
    /// (epoch hour, model id, agent index) -> usage. The source of every time series.
    pub hourly: BTreeMap<(u32, u32, u16), Cell>,
    pub health: IndexHealth,
    pub price_source: String,
    /// The agent databases, shared by their sessions.
    pub db_paths: Vec<Arc<Path>>,
    /// The price table in force (set by the watcher), for usage priced outside it (OTLP).
    pub prices: Arc<crate::pricing::PriceTable>,
    /// The sessions the gateway reports running now (written by the gateway thread); None when
    /// it is not connected, then nobody knows.
    pub live: Option<LiveSet>,
    /// The guard's findings per session id (`alerts::guard`, as JSON), written only by the
    /// monitor thread: shown on the session and in the list.
    pub guard: HashMap<String, Vec<Value>>,
    /// Sessions changed since the watcher last wrote them to the ledger (`ledger.rs`).
    /// Ids shared with `sessions`' keys (an allocation of its own per session was ~5 MB at
    /// 100k sessions after a start, and as many allocations under the write lock).
    pub ledger_dirty: foldhash::HashSet<Arc<str>>,
    /// The ledger: where it is, how many sessions only it still has, its last error.
    pub ledger: LedgerHealth,
    /// The restart checkpoint (`checkpoint.rs`): loaded or not, what it saved reading.
    pub checkpoint: crate::checkpoint::CheckpointHealth,
    /// Sources that cannot be read now (path -> why); an entry goes once the source reads fine
    /// again (`/api/health` `status`).
    pub problems: BTreeMap<String, String>,
}

/// The ledger's part of /api/health.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerHealth {
    pub path: Option<PathBuf>,
    pub enabled: bool,
    pub sessions: u64,
    pub bad_rows: u64,
    /// Session rows written since start (a session whose figures the ledger already has is not
    /// written again: after a restart with nothing new, 0).
    pub written: u64,
    pub last_write_ms: Option<i64>,
    pub last_error: Option<String>,
    pub forgotten: u64,
}

/// Sets a session's store, keeping the count of purged sessions (`State::purged`).
fn set_store(purged: &mut usize, s: &mut Session, store: Store) {
    match (s.store == Store::Ledger, store == Store::Ledger) {
        (false, true) => *purged += 1,
        (true, false) => *purged -= 1,
        _ => {}
    }
    s.store = store;
}

/// Takes `item` out of the list under `key` (and the list when it empties).
fn unlink<K, V>(map: &mut HashMap<K, Vec<V>>, key: &str, item: &str)
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
    V: AsRef<str>,
{
    if let Some(v) = map.get_mut(key) {
        v.retain(|c| c.as_ref() != item);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

impl State {
    pub fn new(install: Install) -> State {
        State {
            install,
            sessions: HashMap::default(),
            purged: 0,
            by_key: HashMap::default(),
            subagent_runs: HashMap::default(),
            child_ids: HashMap::default(),
            run_children: HashMap::default(),
            models: ModelNames::default(),
            agents: Vec::new(),
            hourly: BTreeMap::new(),
            health: IndexHealth::default(),
            price_source: String::new(),
            db_paths: Vec::new(),
            prices: Arc::default(),
            live: None,
            guard: HashMap::default(),
            ledger_dirty: Default::default(),
            ledger: LedgerHealth::default(),
            checkpoint: Default::default(),
            problems: BTreeMap::new(),
        }
    }

    /// The `live` flag of a session: true when the gateway says it runs now, false when it does
    /// not, null when the gateway is not connected.
    pub fn live_flag(&self, key: Option<&str>, id: &str) -> Value {
        self.live.as_ref().map_or(Value::Null, |l| Value::Bool(l.has(key, id)))
    }

    /// A session's status, decided with its sub-agent run record when there is one.
    pub fn status_of(&self, s: &Session, now: i64) -> Status {
        s.status(now, s.meta.key.as_deref().and_then(|k| self.subagent_runs.get(k)))
    }

    /// How many sessions are running, done and failed now.
    pub fn status_counts(&self, now: i64) -> StatusCounts {
        let mut c = StatusCounts::default();
        for s in self.sessions.values() {
            c.add(self.status_of(s, now).status);
        }
        c
    }

    pub fn agent_index(&mut self, agent: &str) -> u16 {
        match self.agents.iter().position(|a| &**a == agent) {
            Some(i) => i as u16,
            None => {
                self.agents.push(crate::model::shared_name(agent));
                (self.agents.len() - 1) as u16
            }
        }
    }

    fn session_mut(&mut self, agent: &str, id: &str) -> &mut Session {
        self.make_session(agent, id);
        self.sessions.get_mut(id).expect("made above")
    }

    /// [`Self::session_mut`] of a session whose figures or record change: marked for the
    /// ledger's next write, without looking it up again.
    fn changed_session(&mut self, agent: &str, id: &str) -> &mut Session {
        self.make_session(agent, id);
        let s = self.sessions.get_mut(id).expect("made above");
        self.ledger_dirty.insert(s.id.clone());
        s
    }

    /// Adds session `id` of `agent` when the state does not have it yet.
    fn make_session(&mut self, agent: &str, id: &str) {
        if self.sessions.contains_key(id) {
            return;
        }
        let agent = self.agent_name(agent);
        let id: Arc<str> = id.into();
        self.sessions.insert(
            id.clone(),
            Box::new(Session {
                id,
                agent,
                meta: SessionMeta::default(),
                store: Store::None,
                tally: Tally::default(),
                files: Vec::new(),
                db: None,
                archive: None,
            }),
        );
    }

    /// The shared allocation of agent name `agent` (added when new).
    fn agent_name(&mut self, agent: &str) -> Arc<str> {
        let i = self.agent_index(agent);
        self.agents[i as usize].clone()
    }

    /// Applies index metadata. Fields a newer record has replace the old ones.
    pub fn apply_meta(&mut self, agent: &str, metas: Vec<SessionMeta>) {
        for mut m in metas {
            let id = m.id.clone();
            let shared = self.changed_session(agent, &id).id.clone();
            if let Some(k) = m.key.take() {
                let k = self.share_key(k);
                self.by_key.insert(k.clone(), shared);
                m.key = Some(k);
            }
            m.parent_key = m.parent_key.map(|k| self.share_key(k));
            let s = self.sessions.get_mut(id.as_str()).expect("session exists");
            let mut merged = m;
            merged.fill_from(&s.meta);
            // The id is the map key and `Session::id`; a third copy would only cost memory.
            merged.id = String::new();
            let old_parent = std::mem::replace(&mut s.meta, merged).parent_key;
            self.relink_parent(&id, old_parent);
        }
    }

    /// `key` as the allocation `by_key` already holds for it, when it holds one (a key read
    /// again, a parent's key named by its children).
    fn share_key(&self, key: Key) -> Key {
        self.by_key.get_key_value(&*key).map_or(key, |(k, _)| k.clone())
    }

    /// [`Self::share_key`] of a key not yet allocated: allocated only when `by_key` has no
    /// allocation for it.
    fn key_of(&self, key: &str) -> Key {
        self.by_key.get_key_value(key).map_or_else(|| key.into(), |(k, _)| k.clone())
    }

    /// Fills the fields a session's metadata lacks from `other` (what the ledger knew of it).
    pub fn fill_meta(&mut self, id: &str, other: &SessionMeta) {
        let Some(s) = self.sessions.get_mut(id) else { return };
        let old_parent = s.meta.parent_key.clone();
        s.meta.fill_from(other);
        let (key, parent) = (s.meta.key.take(), s.meta.parent_key.take());
        let (key, parent) = (key.map(|k| self.share_key(k)), parent.map(|k| self.share_key(k)));
        let s = self.sessions.get_mut(id).expect("looked up above");
        (s.meta.key, s.meta.parent_key) = (key, parent);
        self.relink_parent(id, old_parent);
    }

    /// Moves session `id` in `child_ids` from the parent key it had to the one it has now.
    fn relink_parent(&mut self, id: &str, old: Option<Key>) {
        let new = self.sessions.get(id).map(|s| (s.meta.parent_key.clone(), s.id.clone()));
        if old.as_deref() == new.as_ref().and_then(|(p, _)| p.as_deref()) {
            return;
        }
        if let Some(old) = old {
            unlink(&mut self.child_ids, &old, id);
        }
        if let Some((Some(new), shared_id)) = new {
            // Not there: a session is listed under its parent key only, and that just changed.
            self.child_ids.entry(new).or_default().push(shared_id);
        }
    }

    /// Records a sub-agent run (keyed by its child's session key), keeping `run_children`.
    pub fn put_subagent_run(&mut self, r: SubagentRun) {
        let old = self.subagent_runs.get(&r.child_key).and_then(|o| o.requester_key.clone());
        if old != r.requester_key {
            if let Some(old) = old {
                unlink(&mut self.run_children, &old, &r.child_key);
            }
            if let Some(new) = &r.requester_key {
                self.run_children.entry(new.clone()).or_default().push(r.child_key.clone());
            }
        }
        self.subagent_runs.insert(r.child_key.clone(), r);
    }

    /// The ids of the sessions whose index record names `key` as their parent.
    fn child_ids_of_key(&self, key: Option<&str>) -> impl Iterator<Item = &str> {
        key.and_then(|k| self.child_ids.get(k)).into_iter().flatten().map(|i| &**i)
    }

    /// The ids of the sub-agent sessions session `id` spawned: those whose index record names
    /// one of its keys as parent, and the children of the sub-agent runs it requested. Its
    /// keys are the ones `by_key` resolves to it (a key reused by a later session, as after a
    /// reset, belongs to that one). In the order found, each once.
    pub fn children_of(&self, id: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let Some(key) = self.sessions.get(id).and_then(|s| s.meta.key.as_deref()) else { return out };
        if self.by_key.get(key).map(|i| &**i) != Some(id) {
            return out;
        }
        let from_meta = self.child_ids_of_key(Some(key));
        let from_runs =
            self.run_children.get(key).into_iter().flatten().filter_map(|k| self.by_key.get(k.as_str())).map(|i| &**i);
        // A key such as `agent:main:main` gathers every sub-agent spawned under it: a set, not
        // a scan of the list, for each child.
        let mut seen: HashSet<&str> = HashSet::default();
        for c in from_meta.chain(from_runs) {
            if c != id && seen.insert(c) {
                out.push(c);
            }
        }
        out
    }

    /// Adds a transcript delta from `store` to session `id`. Returns false when the delta was
    /// dropped because the session's other store is authoritative.
    pub fn apply_tally(&mut self, agent: &str, id: &str, store: Store, delta: Tally) -> bool {
        let s = self.changed_session(agent, id);
        let (current, incoming) = (s.store.rank(), store.rank());
        if incoming < current {
            return false;
        }
        if incoming > current && current > 0 {
            // A better source for this session replaces what the other said.
            let old = std::mem::take(&mut s.tally);
            let old_agent = s.agent.clone();
            let old_ai = self.agent_index(&old_agent);
            self.remove_hourly(&old, old_ai);
            let name = self.agent_name(agent);
            self.sessions.get_mut(id).expect("session exists").agent = name;
        }
        let ai = self.agent_index(agent);
        let s = self.sessions.get_mut(id).expect("session exists");
        set_store(&mut self.purged, s, store);
        for h in &delta.hourly {
            let model = &delta.models[h.model as usize];
            let mid = self.models.id(model);
            let cell = self.hourly.entry((h.hour, mid, ai)).or_default();
            cell.usage.add(&h.usage);
            cell.calls += h.calls as u64;
        }
        let s = self.sessions.get_mut(id).expect("session exists");
        s.tally.merge(delta);
        true
    }

    /// Forgets the transcript part of a session (before it is re-read from scratch); returns
    /// what it was.
    pub fn reset_tally(&mut self, id: &str) -> Tally {
        let Some(s) = self.sessions.get_mut(id) else { return Tally::default() };
        let old = std::mem::take(&mut s.tally);
        let agent = s.agent.clone();
        self.ledger_dirty.insert(s.id.clone());
        let ai = self.agent_index(&agent);
        self.remove_hourly(&old, ai);
        old
    }

    /// Money spent stays spent: when a session now counts fewer events than `before` (rows
    /// deleted from the middle of a transcript, a source replaced by an older copy, a re-read
    /// after a rewrite), it takes `before` back. The one rule for removed data, applied alike
    /// live (after a rebuild) and at start (against the ledger).
    pub fn keep_at_least(&mut self, agent: &str, id: &str, before: Tally) {
        let (now_events, now_cost, store) = match self.sessions.get(id) {
            Some(s) => (s.tally.events, s.tally.usage.cost, s.store.clone()),
            None => (0, 0.0, Store::None),
        };
        if before.events <= now_events && before.usage.cost <= now_cost + 1e-12 {
            return;
        }
        self.reset_tally(id);
        let store = if store == Store::None { Store::Ledger } else { store };
        self.apply_tally(agent, id, store, before);
    }

    /// The live source of a session is gone (its rows deleted, its files removed). Its figures
    /// stay: it is read from its archive from now on, or, with none, only the ledger has it.
    pub fn live_source_gone(&mut self, id: &str) {
        let Some(s) = self.sessions.get_mut(id) else { return };
        if s.tally.events == 0 && s.store == Store::None {
            return;
        }
        let store = if s.archive.is_some() { Store::Archive } else { Store::Ledger };
        set_store(&mut self.purged, s, store);
        s.files.clear();
        self.ledger_dirty.insert(s.id.clone());
    }

    /// An archive of a session that OpenClaw keeps: the session's figures when it has no
    /// better source (the archive with the most events when there are several copies), and
    /// where its transcript is read once the live source is gone. `tally` is the archive's
    /// whole content. Returns true when the figures changed.
    pub fn offer_archive(&mut self, agent: &str, a: Arc<crate::sources::archives::Archive>, tally: Tally) -> bool {
        let id = a.session_id.clone();
        let shared = self.changed_session(agent, &id).id.clone();
        let key = a.session_key.as_deref().map(|k| self.key_of(k));
        if let Some(k) = &key {
            self.by_key.entry(k.clone()).or_insert(shared);
        }
        let s = self.sessions.get_mut(id.as_str()).expect("session exists");
        if s.meta.key.is_none() {
            s.meta.key = key;
        }
        let rank = s.store.rank();
        let counted_events = s.tally.events;
        let same_as_counted = s.archive.as_ref().is_some_and(|o| o.name == a.name);
        // The archive the session points at: a deleted one over a reset one.
        let point = s.archive.as_ref().is_none_or(|old| old.name == a.name || a.reason >= old.reason);
        if rank > Store::Archive.rank() {
            // A live source counts; the archive is where the transcript is read once it is gone.
            if point {
                s.archive = Some(a);
            }
            return false;
        }
        if rank == Store::Archive.rank() {
            // Several copies of one transcript (a row and a file, a reset and a later delete):
            // the one with the most events counts.
            if !same_as_counted && tally.events <= counted_events {
                if point && tally.events == counted_events {
                    s.archive = Some(a);
                }
                return false;
            }
            s.archive = Some(a);
            self.reset_tally(&id);
        } else {
            s.archive = Some(a);
        }
        self.apply_tally(agent, &id, Store::Archive, tally)
    }

    /// An archive OpenClaw no longer has (purged): a session read from it keeps its figures in
    /// the ledger alone.
    pub fn archive_gone(&mut self, name: &str) {
        let ids: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.archive.as_ref().is_some_and(|a| a.name == name))
            .map(|s| s.id.to_string())
            .collect();
        for id in ids {
            let Some(s) = self.sessions.get_mut(id.as_str()) else { continue };
            s.archive = None;
            if s.store == Store::Archive {
                set_store(&mut self.purged, s, Store::Ledger);
            }
            self.ledger_dirty.insert(s.id.clone());
        }
    }

    fn remove_hourly(&mut self, old: &Tally, ai: u16) {
        for h in &old.hourly {
            let mid = self.models.id(&old.models[h.model as usize]);
            if let Some(cell) = self.hourly.get_mut(&(h.hour, mid, ai)) {
                cell.usage.sub(&h.usage);
                cell.calls = cell.calls.saturating_sub(h.calls as u64);
                if cell.calls == 0 {
                    self.hourly.remove(&(h.hour, mid, ai));
                }
            }
        }
    }

    /// Gives back spare capacity after the cold index (vectors past `model::grow_short`'s first
    /// slots grow by doubling).
    pub fn shrink(&mut self) {
        // In place: copying every session to fresh allocations (as this once did) gave the
        // same resident size at 1 GB and at 100k sessions, and cost 0.3 s of a restart there.
        for s in self.sessions.values_mut() {
            s.tally.hourly.shrink_to_fit();
            s.tally.models.shrink_to_fit();
            s.files.shrink_to_fit();
        }
        self.sessions.shrink_to_fit();
        self.by_key.shrink_to_fit();
    }

    pub fn note_file(&mut self, agent: &str, id: &str, path: &Arc<Path>) {
        let s = self.session_mut(agent, id);
        if !s.files.iter().any(|f| f == path) {
            crate::model::grow_short(&mut s.files);
            s.files.push(path.clone());
        }
    }

    /// A transcript file of the session is gone; with none left, so is its live source.
    pub fn forget_file(&mut self, id: &str, path: &Path) {
        let Some(s) = self.sessions.get_mut(id) else { return };
        s.files.retain(|f| **f != *path);
        if s.files.is_empty() && s.store == Store::Jsonl {
            self.live_source_gone(id);
        }
    }

    pub fn note_db(&mut self, agent: &str, id: &str, path: &Path) {
        // Compared as bytes: `Path`'s `==` compares component by component, and this runs
        // for every session of a database read.
        let shared = match self.db_paths.iter().find(|p| p.as_os_str() == path.as_os_str()) {
            Some(p) => p.clone(),
            None => {
                let p: Arc<Path> = Arc::from(path);
                self.db_paths.push(p.clone());
                p
            }
        };
        let s = self.session_mut(agent, id);
        if s.db.as_ref().is_none_or(|d| !Arc::ptr_eq(d, &shared)) {
            s.db = Some(shared);
        }
    }

    /// Sums the hourly cells in `[from, to)` (ms), total and per model.
    pub fn sum_range(&self, from: i64, to: i64) -> (Cell, HashMap<u32, Cell>) {
        let (h0, h1) = (crate::insight::first_hour(from), crate::insight::first_hour(to));
        let mut total = Cell::default();
        let mut by_model: HashMap<u32, Cell> = HashMap::default();
        for (&(_, m, _), c) in self.hourly.range((h0, 0, 0)..(h1, 0, 0)) {
            total.usage.add(&c.usage);
            total.calls += c.calls;
            let e = by_model.entry(m).or_default();
            e.usage.add(&c.usage);
            e.calls += c.calls;
        }
        (total, by_model)
    }

    /// Every hourly cell summed per (model, agent) position: all-time usage and calls, as
    /// `/metrics` and the OTLP export report them.
    pub fn usage_by_model_agent(&self) -> std::collections::BTreeMap<(u32, u16), Cell> {
        let mut by: std::collections::BTreeMap<(u32, u16), Cell> = std::collections::BTreeMap::new();
        for (&(_, m, a), c) in &self.hourly {
            let e = by.entry((m, a)).or_default();
            e.usage.add(&c.usage);
            e.calls += c.calls;
        }
        by
    }

    /// The last `hours` hours (the current one included) against the same hour on the
    /// previous days (`crate::spend::hour_checks`), for the agents `keep` keeps.
    pub fn hour_checks(&self, now: i64, hours: u32, keep: &dyn Fn(u16) -> bool) -> Vec<crate::spend::HourCheck> {
        const HOUR: i64 = 3_600_000;
        let now_h = (now.max(0) / HOUR) as u32;
        // 25 hours a day back: a DST change on the way makes one day 25 hours long.
        let from = now_h.saturating_sub(hours + 25 * crate::spend::BASELINE_DAYS as u32);
        let mut by_hour: HashMap<u32, (f64, f64)> = HashMap::default();
        for (&(h, _, a), c) in self.hourly.range((from, 0, 0)..(now_h + 1, 0, 0)) {
            if keep(a) {
                let e = by_hour.entry(h).or_default();
                e.0 += c.usage.cost;
                e.1 += c.usage.total_tokens() as f64;
            }
        }
        let first = self.hourly.keys().next().map_or(now_h, |k| k.0);
        crate::spend::hour_checks(
            crate::tz::zone(),
            &|h| by_hour.get(&h).copied().unwrap_or_default(),
            now_h,
            hours,
            first,
        )
    }

    pub fn session_by_key(&self, key: &str) -> Option<&Session> {
        self.by_key.get(key).and_then(|id| self.sessions.get(&**id)).map(|b| &**b)
    }

    /// How full a session's context got: its largest prompt against its model's window.
    pub fn context_fill<'s>(&self, s: &'s Session) -> ContextFill<'s> {
        let t = &s.tally;
        let model = t.max_prompt_model.and_then(|i| t.models.get(i as usize)).map(|m| &**m);
        let window = model.and_then(|m| self.prices.context_window(m));
        let percent = window.map(|(w, _)| t.max_prompt as f64 * 100.0 / w as f64);
        ContextFill { max_prompt: t.max_prompt, model, window, percent }
    }

    /// What the index knows of a cron run's session (by id, else by key), for `cron_health`.
    pub fn cron_run_facts(&self, run: &Value) -> Option<crate::cron_health::RunFacts> {
        let s = run["sessionId"]
            .as_str()
            .and_then(|id| self.sessions.get(id))
            .map(|b| &**b)
            .or_else(|| run["sessionKey"].as_str().and_then(|k| self.session(k)))?;
        Some(crate::cron_health::RunFacts {
            cost: s.tally.usage.cost,
            tool_errors: u64::from(s.tally.tool_errors),
            exit_failures: u64::from(s.tally.tool_exit_failures),
        })
    }

    /// The OpenClaw profile an agent (as the index names it) belongs to.
    pub fn profile_of(&self, agent: &str) -> &str {
        self.install.agents.iter().find(|a| a.id == agent).map_or(self.install.profile.as_str(), |a| a.profile.as_str())
    }

    /// How many sessions only the ledger still has (their sources all gone). Debug builds (the
    /// tests) check the kept count against a scan at every call.
    pub fn purged_sessions(&self) -> usize {
        debug_assert_eq!(self.purged, self.sessions.values().filter(|s| s.store == Store::Ledger).count());
        self.purged
    }

    /// A session by id, else by session key.
    pub fn session(&self, id_or_key: &str) -> Option<&Session> {
        self.sessions.get(id_or_key).map(|b| &**b).or_else(|| self.session_by_key(id_or_key))
    }
}

/// A session's largest prompt (one model call's input + cache read + cache write) against its
/// model's context window (`pricing.rs` says where windows come from); `percent` is `None`
/// when the window is unknown.
#[derive(Debug, Clone, Copy)]
pub struct ContextFill<'s> {
    pub max_prompt: u64,
    pub model: Option<&'s str>,
    pub window: Option<(u64, &'static str)>,
    pub percent: Option<f64>,
}

/// A recent change, as the event stream sends it.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    pub kind: &'static str,
    pub data: Value,
}

/// Wakes event-stream handlers when the index changes.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<HubInner>,
    cond: Condvar,
}

#[derive(Default)]
struct HubInner {
    seq: u64,
    recent: VecDeque<Change>,
}

const HUB_KEEP: usize = 512;

impl Hub {
    /// Publishes a change. Its data may quote gateway text (cron runs, errors), so it is
    /// redacted here, once, like every text the dashboard shows.
    pub fn publish(&self, kind: &'static str, mut data: Value) {
        crate::redact::value(&mut data);
        let mut g = crate::sync::lock(&self.inner);
        g.seq += 1;
        let seq = g.seq;
        g.recent.push_back(Change { seq, kind, data });
        while g.recent.len() > HUB_KEEP {
            g.recent.pop_front();
        }
        drop(g);
        self.cond.notify_all();
    }

    pub fn seq(&self) -> u64 {
        crate::sync::lock(&self.inner).seq
    }

    /// Changes after `after`, waiting up to `timeout` for one. `None` when the caller fell so
    /// far behind that changes were dropped (it must resynchronise).
    pub fn wait_after(&self, after: u64, timeout: std::time::Duration) -> Option<Vec<Change>> {
        let g = crate::sync::lock(&self.inner);
        let (g, _) = self.cond.wait_timeout_while(g, timeout, |g| g.seq <= after).unwrap_or_else(|p| p.into_inner());
        if let Some(first) = g.recent.front() {
            if first.seq > after + 1 && g.seq > after {
                return None;
            }
        }
        Some(g.recent.iter().filter(|c| c.seq > after).cloned().collect())
    }
}

/// A session's status and how it was decided.
pub struct Status {
    pub status: &'static str,
    pub detail: Cow<'static, str>,
    pub source: &'static str,
}

/// Sessions by status, as the overview and the fleet summary count them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatusCounts {
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

impl StatusCounts {
    pub fn add(&mut self, status: &str) {
        match status {
            "running" => self.running += 1,
            "done" => self.done += 1,
            "failed" => self.failed += 1,
            _ => {}
        }
    }
}

/// A session counts as running when its transcript moved this recently and its last turn is
/// not finished.
pub const RUNNING_WINDOW_MS: i64 = 5 * 60 * 1000;

impl Session {
    pub fn kind(&self) -> &'static str {
        let key = self.meta.key.as_deref().unwrap_or("");
        if self.store == Store::Otlp {
            "otlp"
        } else if key.contains(":subagent:") || self.meta.created_via.as_deref() == Some("spawn") {
            "subagent"
        } else if key.contains(":cron:") || self.meta.created_via.as_deref() == Some("cron") {
            "cron"
        } else if key.is_empty() || key.ends_with(":main") {
            "main"
        } else {
            "chat"
        }
    }

    pub fn last_ms(&self) -> Option<i64> {
        self.tally.last_ms.max(self.meta.updated_ms).max(self.meta.ended_ms)
    }

    pub fn first_ms(&self) -> Option<i64> {
        match (self.tally.first_ms, self.meta.started_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn status(&self, now: i64, run: Option<&SubagentRun>) -> Status {
        if let Some(s) = self.meta.status.as_deref() {
            let (status, detail) = match s {
                "running" => ("running", "running"),
                "done" => ("done", "done"),
                "failed" => ("failed", "failed"),
                "killed" => ("failed", "killed"),
                "timeout" => ("failed", "timeout"),
                _ => ("failed", "unknown status"),
            };
            return Status { status, detail: Cow::Borrowed(detail), source: "openclaw session index" };
        }
        if let Some(r) = run {
            if let Some(o) = r.outcome.as_deref() {
                let status = if o == "ok" { "done" } else { "failed" };
                return Status {
                    status,
                    detail: Cow::Owned(format!("sub-agent outcome {o}")),
                    source: "sub-agent run record",
                };
            }
            if r.ended_ms.is_none() {
                return Status {
                    status: "running",
                    detail: Cow::Borrowed("run not ended"),
                    source: "sub-agent run record",
                };
            }
        }
        let stop = self.tally.last_stop_reason.as_deref();
        if matches!(stop, Some("error") | Some("aborted")) {
            return Status {
                status: "failed",
                detail: Cow::Owned(format!("last turn ended with stopReason {}", stop.unwrap_or(""))),
                source: "transcript",
            };
        }
        let idle = self.last_ms().map(|l| now - l);
        let finished =
            self.tally.last_kind_assistant && matches!(stop, Some("stop") | Some("end_turn") | Some("length"));
        match idle {
            Some(i) if i < RUNNING_WINDOW_MS && !finished => Status {
                status: "running",
                detail: Cow::Owned(format!("active {}s ago, turn not finished", i / 1000)),
                source: "transcript",
            },
            _ => Status { status: "done", detail: Cow::Borrowed("idle"), source: "transcript" },
        }
    }
}

/// Short summary of a usage value as the API shows it.
pub fn usage_json(u: &Usage, calls: u64) -> Value {
    json!({
        "input": u.input,
        "output": u.output,
        "cacheRead": u.cache_read,
        "cacheWrite": u.cache_write,
        "reasoning": u.reasoning,
        "totalTokens": u.total_tokens(),
        "cost": round_cost(u.cost),
        "calls": calls,
    })
}

/// Costs are sums of many small floats: round to 1e-9 USD so the API prints stable figures.
pub fn round_cost(c: f64) -> f64 {
    (c * 1e9).round() / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LineKind, LineSummary};

    fn install() -> Install {
        crate::sources::detect::detect(&crate::cli::Config {
            openclaw_dir: Some("/nonexistent".into()),
            ..Default::default()
        })
    }

    fn tally(model: &str, input: u64) -> Tally {
        let mut l = LineSummary::new(LineKind::Assistant);
        l.ts_ms = Some(7_200_000);
        l.model = Some(model.into());
        l.usage = Some((Usage { input, cost: 1.0, ..Default::default() }, true));
        let mut t = Tally::default();
        t.add_line(&l, &|_, _| 0.0);
        t
    }

    #[test]
    fn sqlite_replaces_jsonl_for_the_same_session() {
        let mut s = State::new(install());
        assert!(s.apply_tally("main", "s1", Store::Jsonl, tally("a/x", 10)));
        assert_eq!(s.hourly.values().map(|c| c.usage.input).sum::<u64>(), 10);
        assert!(s.apply_tally("main", "s1", Store::Sqlite, tally("a/x", 7)));
        assert!(!s.apply_tally("main", "s1", Store::Jsonl, tally("a/x", 100)));
        assert_eq!(s.sessions["s1"].tally.usage.input, 7);
        assert_eq!(s.hourly.values().map(|c| c.usage.input).sum::<u64>(), 7);
        s.reset_tally("s1");
        assert!(s.hourly.is_empty());
    }

    #[test]
    fn transcripts_replace_telemetry_of_the_same_session() {
        let mut s = State::new(install());
        assert!(s.apply_tally("bot", "c1", Store::Otlp, tally("a/x", 40)));
        assert!(s.apply_tally("bot", "c1", Store::Otlp, tally("a/x", 2)));
        assert_eq!(s.sessions["c1"].kind(), "otlp");
        assert!(s.apply_tally("main", "c1", Store::Jsonl, tally("a/x", 10)));
        assert!(!s.apply_tally("bot", "c1", Store::Otlp, tally("a/x", 5)));
        assert_eq!(&*s.sessions["c1"].agent, "main");
        assert_eq!(s.sessions["c1"].tally.usage.input, 10);
        assert_eq!(s.hourly.values().map(|c| c.usage.input).sum::<u64>(), 10);
    }

    #[test]
    fn hub_wakes_waiters_and_reports_gaps() {
        let hub = Hub::default();
        hub.publish("x", json!(1));
        let got = hub.wait_after(0, std::time::Duration::from_millis(10)).unwrap();
        assert_eq!(got.len(), 1);
        assert!(hub.wait_after(1, std::time::Duration::from_millis(10)).unwrap().is_empty());
        for i in 0..(HUB_KEEP + 10) {
            hub.publish("x", json!(i));
        }
        assert!(hub.wait_after(1, std::time::Duration::from_millis(1)).is_none());
    }

    #[test]
    fn status_counts_use_the_session_index_and_run_records() {
        let mut st = State::new(install());
        let meta = |id: &str, key: &str, status: Option<&str>| SessionMeta {
            id: id.into(),
            key: Some(key.into()),
            status: status.map(Into::into),
            ..Default::default()
        };
        st.apply_meta(
            "main",
            vec![
                meta("a", "agent:main:a", Some("running")),
                meta("b", "agent:main:b", Some("killed")),
                meta("c", "agent:main:c", Some("done")),
                meta("d", "agent:main:subagent:d", None),
                meta("e", "agent:main:e", None),
            ],
        );
        // No status word: the run record decides (an unfinished run is running).
        st.subagent_runs.insert("agent:main:subagent:d".into(), SubagentRun::default());
        assert_eq!(st.status_of(&st.sessions["d"], 0).status, "running");
        assert_eq!(st.status_counts(0), StatusCounts { running: 2, done: 2, failed: 1 });
    }

    #[test]
    fn children_follow_parent_keys_runs_and_resets() {
        let mut st = State::new(install());
        let meta = |id: &str, key: &str, parent: Option<&str>| SessionMeta {
            id: id.into(),
            key: Some(key.into()),
            parent_key: parent.map(Into::into),
            ..Default::default()
        };
        st.apply_meta(
            "main",
            vec![
                meta("p", "agent:main:main", None),
                meta("q", "agent:main:other", None),
                meta("c1", "agent:main:subagent:1", Some("agent:main:main")),
                meta("c2", "agent:main:subagent:2", Some("agent:main:main")),
                meta("g", "agent:main:subagent:g", Some("agent:main:subagent:1")),
            ],
        );
        let sorted = |mut v: Vec<&str>| {
            v.sort();
            v.join(",")
        };
        assert_eq!(sorted(st.children_of("p")), "c1,c2");
        assert_eq!(sorted(st.children_of("c1")), "g");
        // One allocation per key: the session's, `by_key`'s and its children's parent key.
        let key_of = |id: &str| st.sessions[id].meta.key.clone().unwrap();
        let (k, _) = st.by_key.get_key_value("agent:main:main").unwrap();
        assert!(Arc::ptr_eq(k, &key_of("p")));
        assert!(Arc::ptr_eq(&st.sessions["c2"].meta.parent_key.clone().unwrap(), &key_of("p")));
        assert!(Arc::ptr_eq(&st.sessions["g"].meta.parent_key.clone().unwrap(), &key_of("c1")));
        // A run record adds a child the index record does not name, and one it does, once.
        st.apply_meta("main", vec![meta("c3", "agent:main:subagent:3", None)]);
        for child in ["agent:main:subagent:3", "agent:main:subagent:2"] {
            st.put_subagent_run(SubagentRun {
                child_key: child.into(),
                requester_key: Some("agent:main:main".into()),
                ..Default::default()
            });
        }
        assert_eq!(sorted(st.children_of("p")), "c1,c2,c3");
        // A newer record moves c2 to another parent; the run record still names p.
        st.apply_meta("main", vec![meta("c2", "agent:main:subagent:2", Some("agent:main:other"))]);
        assert_eq!(sorted(st.child_ids_of_key(Some("agent:main:main")).collect()), "c1");
        assert_eq!(sorted(st.children_of("q")), "c2");
        assert_eq!(sorted(st.children_of("p")), "c1,c2,c3");
        // The run record now names q as well.
        st.put_subagent_run(SubagentRun {
            child_key: "agent:main:subagent:2".into(),
            requester_key: Some("agent:main:other".into()),
            ..Default::default()
        });
        assert_eq!(sorted(st.children_of("p")), "c1,c3");
        // A reset: the key now names a new session, which has the children; the old one none.
        st.apply_meta("main", vec![meta("p2", "agent:main:main", None)]);
        assert_eq!(sorted(st.children_of("p2")), "c1,c3");
        assert!(st.children_of("p").is_empty());
        // What the ledger knew fills a missing parent in.
        st.apply_meta("main", vec![meta("orphan", "agent:main:subagent:o", None)]);
        st.fill_meta("orphan", &meta("", "", Some("agent:main:other")));
        assert_eq!(sorted(st.children_of("q")), "c2,orphan");
    }
}
