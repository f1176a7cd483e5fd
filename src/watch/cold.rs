//! The cold index: everything found at start-up, read on several threads (JSONL files, agent
//! databases, archive files), then the ledger read back; and archive files met later.

use super::checkpoint::read_file_kept;
use super::db::*;
use super::files::*;
use super::*;
use crate::model::Tally;
use crate::sources::archives::{self, Archive};
use crate::sources::detect::{self};
use crate::sources::jsonl_store::FileRole;
use crate::state::IndexHealth;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A transcript file for a cold-index worker: (path, agent, session id, bytes).
type ColdJob = (Arc<Path>, String, String, u64);

impl Watcher {
    /// Loads prices and indexes everything found, publishing the installation to the state.
    pub(super) fn cold_index(&mut self) {
        let t0 = Instant::now();
        self.install = detect::detect(&self.cfg);
        self.open_ledger();
        self.load_prices();
        let checkpoint = self.load_checkpoint();
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
            self.open_checkpoint(checkpoint);
            self.reconcile_ledger();
            self.index.write().health.ready = true;
            return;
        }
        self.ensure_watches();
        self.load_subagent_runs();
        let agents = self.install.agents.clone();
        // JSONL files: decoded in parallel, one worker per core (listed while the checkpoint
        // loads), each taking the next file when done with one.
        let mut jobs: Vec<ColdJob> = Vec::new();
        let mut ignored = 0;
        for a in &agents {
            for (path, role) in list_dir(&a.sessions_dir) {
                match role {
                    FileRole::Transcript { id } => {
                        jobs.push((path.into(), a.id.clone(), id, 0));
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
        self.open_checkpoint(checkpoint);
        // Every file to be read whole (no checkpoint, or none usable): largest first, so that
        // no big file is left for one worker alone at the end. With a checkpoint most files are
        // not read, and a stat of each (50k at 100k sessions) would cost more than the order
        // saves.
        if self.checkpoint.as_ref().is_none_or(|c| c.loaded() == 0) {
            for j in &mut jobs {
                j.3 = std::fs::metadata(&*j.0).map(|m| m.len()).unwrap_or(0);
            }
            jobs.sort_by_key(|j| std::cmp::Reverse(j.3));
        }
        let workers = cold_workers().min(jobs.len().max(1));
        let queue = std::sync::Mutex::new(jobs.into_iter());
        for a in &agents {
            self.load_sessions_json(&a.id, &a.sessions_dir.join("sessions.json"), true);
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
        let cp = self.checkpoint.as_ref();
        let index = &self.index;
        let (results, db_results): ColdResults = std::thread::scope(|s| {
            let db_handles: Vec<_> = db_jobs
                .into_iter()
                .map(|(path, mut cur)| {
                    s.spawn(move || {
                        let d = read_db_kept(cp, &mut cur, &path, prices);
                        apply_db_delta(index, &path, d, &mut cur.seqs);
                        (path, cur)
                    })
                })
                .collect();
            let queue = &queue;
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(move || {
                        let mut cursors = Vec::new();
                        let mut batch: Vec<(String, String, Arc<Path>, Tally)> = Vec::new();
                        let mut health = IndexHealth::default();
                        loop {
                            // Its own statement: the lock is let go before the file is read.
                            let next = crate::sync::lock(queue).next();
                            let Some((path, agent, id, _)) = next else { break };
                            let mut cur = FileCursor { ino: 0, read_pos: 0, reader: None, lines: 0 };
                            let tally = read_file_kept(cp, &path, &mut cur, prices, &mut health);
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
            // A worker that panicked (release builds unwind) loses its sources' cursors: they
            // are read again at the next full rescan, and counted here meanwhile.
            let mut failed = 0;
            let files = handles.into_iter().filter_map(|h| h.join().map_err(|_| failed += 1).ok()).collect();
            let dbs = db_handles.into_iter().filter_map(|h| h.join().map_err(|_| failed += 1).ok()).collect();
            if failed > 0 {
                self.note_error(format!(
                    "{failed} cold-index reader(s) failed (a bug: see the log); their sources are read again"
                ));
            }
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
        {
            let mut st = self.index.write();
            if let Some(cp) = &self.checkpoint {
                super::checkpoint::note_counts(cp, &mut st);
            }
            st.health.ready = true;
            st.health.cold_index_ms = Some(ms);
            st.health.last_update_ms = Some(crate::timefmt::now_ms());
        }
        self.index.hub.publish("index", json!({"ready": true, "coldIndexMs": ms}));
        // Spare capacity given back once the index is served: a write lock of ~50 ms at 100k
        // sessions, which before the ready mark delayed it as much.
        self.index.write().shrink();
        crate::alloc::release_free_memory();
        // Every session is new to an empty ledger: written now, once the index is served (2.2 s
        // for 100k sessions; before the ready mark it delayed every first answer by as much).
        self.flush_ledger();
        // Sources the checkpoint had and this start did not meet are gone or changed.
        if let Some(cp) = &self.checkpoint {
            cp.prune();
        }
        self.write_checkpoint();
        crate::alloc::release_free_memory();
    }

    /// Notes an archive file (`<id>.jsonl.deleted.<ts>[.<hash>].zst`, …) as seen and returns it
    /// when it is to be read: not seen before, and not an archive a database already listed
    /// under the same name (and read fine).
    pub(super) fn claim_archive_file(&mut self, path: &Path) -> Option<Archive> {
        if self.archive_files.contains_key(path) {
            return None;
        }
        let a = archives::classify_file(path)?;
        self.archive_files.insert(path.to_path_buf(), a.name.clone());
        let in_db = self.dbs.values().any(|c| c.archives.contains(&a.name) && !c.failed_archives.contains(&a.name));
        (!in_db).then_some(a)
    }

    /// Reads an archive file once (see `claim_archive_file`).
    pub(super) fn archive_file(&mut self, path: &Path, agent: &str) {
        let Some(a) = self.claim_archive_file(path) else { return };
        let cp = self.checkpoint.as_ref();
        let (tally, health) = super::checkpoint::read_archive_kept(cp, &a, &self.prices, &mut Vec::new());
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
    pub(super) fn cold_archive_files(&mut self, agents: &[detect::Agent]) {
        let mut jobs: Vec<(String, Archive)> = Vec::new();
        for a in agents {
            for path in list_archive_files(&a.sessions_dir) {
                if let Some(arch) = self.claim_archive_file(&path) {
                    jobs.push((a.id.clone(), arch));
                }
            }
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (prices, cp) = (&self.prices, self.checkpoint.as_ref());
        let mut read: Vec<Option<(Tally, IndexHealth)>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..cold_workers())
                .map(|_| {
                    s.spawn(|| {
                        let (mut out, mut buf) = (Vec::new(), Vec::new());
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((_, arch)) = jobs.get(i) else { return out };
                            out.push((i, super::checkpoint::read_archive_kept(cp, arch, prices, &mut buf)));
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
    pub(super) fn archive_files_gone(&mut self) {
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
}
