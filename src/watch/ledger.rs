//! The spend ledger from the watcher's side: opened at start, read back after the cold index
//! (every session it keeps stays counted), written behind the index every 2 s.

use super::*;
use crate::ledger::Ledger;
use crate::state::Store;
use std::time::Instant;

impl Watcher {
    /// Opens the ledger once (without a data dir, or when it cannot be opened, /api/health says
    /// why). What it keeps is read by `reconcile_ledger`, after the cold index.
    pub(super) fn open_ledger(&mut self) {
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
    /// read `LEDGER_CHUNK` sessions at a time, each under one short write lock; a row is decoded
    /// only when its columns (events, cost, metadata fingerprint) differ from what the sources
    /// gave.
    pub(super) fn reconcile_ledger(&mut self) {
        let Some(l) = self.ledger.as_ref() else { return };
        if std::mem::replace(&mut self.ledger_loaded, true) {
            return;
        }
        let mut forget = Vec::new();
        let known = &mut self.ledger_known;
        let (index, forget_purged) = (&self.index, self.cfg.forget_purged);
        let mut bad_rows = 0;
        let loaded = l.heads_each(LEDGER_CHUNK, |heads| {
            // A session the sources gave the same metadata and at least the figures the ledger
            // has: nothing to take back or fill in, and its row is not decoded (most of them,
            // at a restart).
            // The rows to decode, with the fingerprint their column holds.
            let need: HashMap<i64, Option<u64>> = {
                let st = index.read();
                heads
                    .into_iter()
                    .filter(|h| {
                        let (Some(events), Some(print)) = (h.events, h.print) else { return true };
                        let same = st.sessions.get(h.id.as_str()).is_some_and(|s| {
                            s.store != Store::None
                                && u64::from(s.tally.events) >= events
                                && s.tally.usage.cost + 1e-12 >= h.cost
                                && crate::ledger::fingerprint(s.store.as_str(), &s.meta) == print
                        });
                        if same {
                            known.insert(crate::ledger::id_key(&h.id), (events, h.cost, print));
                        }
                        !same
                    })
                    .map(|h| (h.rowid, h.print))
                    .collect()
            };
            if need.is_empty() {
                return Ok(());
            }
            let mut rowids: Vec<i64> = need.keys().copied().collect();
            rowids.sort_unstable();
            let (kept, bad) = l.entries(&rowids)?;
            bad_rows += bad;
            let mut st = index.write();
            for (rowid, e) in kept {
                let found = st.sessions.get(e.id.as_str()).is_some_and(|s| s.store != Store::None);
                // A row whose fingerprint column is missing (written before it was a column) or
                // is not what this build computes (an older build's hasher, another word size) is
                // not marked as known: the next write gives it the right one, once.
                let print = crate::ledger::fingerprint(&e.store, &e.meta);
                if need.get(&rowid).copied().flatten() == Some(print) {
                    known.insert(crate::ledger::id_key(&e.id), (u64::from(e.tally.events), e.tally.usage.cost, print));
                }
                if found {
                    // A deleted session's index rows are gone: what the ledger knew fills in.
                    st.fill_meta(&e.id, &e.meta);
                    st.keep_at_least(&e.agent, &e.id, e.tally);
                    continue;
                }
                if forget_purged {
                    known.remove(&crate::ledger::id_key(&e.id));
                    forget.push(e.id);
                    continue;
                }
                let mut meta = e.meta;
                meta.id.clone_from(&e.id);
                st.apply_meta(&e.agent, vec![meta]);
                let store = if e.store == "otlp" { Store::Otlp } else { Store::Ledger };
                st.apply_tally(&e.agent, &e.id, store, e.tally);
            }
            Ok(())
        });
        let loaded = loaded.map(|bad| bad + bad_rows);
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
    pub(super) fn flush_ledger(&mut self) {
        self.last_ledger_flush = Instant::now();
        let Some(l) = self.ledger.as_mut() else {
            self.index.write().ledger_dirty = Default::default();
            return;
        };
        let dirty: Vec<std::sync::Arc<str>> = {
            let mut st = self.index.write();
            if st.ledger_dirty.is_empty() {
                return;
            }
            // Taken, not drained: the cold index grew the set to a slot per session (4 MB at
            // 100k sessions), which a drain would keep.
            std::mem::take(&mut st.ledger_dirty).into_iter().collect()
        };
        let now = self.index.now_ms();
        let known = &mut self.ledger_known;
        let mut written = 0;
        let mut failed = None;
        for (i, ids) in dirty.chunks(LEDGER_CHUNK).enumerate() {
            let entries: Vec<crate::ledger::Entry> = {
                let st = self.index.read();
                ids.iter()
                    .filter_map(|id| st.sessions.get(&**id))
                    .filter(|s| s.store != Store::None || s.tally.events > 0)
                    .filter(|s| {
                        known.get(&crate::ledger::id_key(&s.id)).is_none_or(|&(events, cost, print)| {
                            !crate::ledger::same_figures(
                                (events, cost),
                                (u64::from(s.tally.events), s.tally.usage.cost),
                            ) || print != crate::ledger::fingerprint(s.store.as_str(), &s.meta)
                        })
                    })
                    .map(|s| crate::ledger::Entry {
                        id: s.id.to_string(),
                        agent: s.agent.to_string(),
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
                            crate::ledger::id_key(&e.id),
                            (
                                u64::from(e.tally.events),
                                e.tally.usage.cost,
                                crate::ledger::fingerprint(&e.store, &e.meta),
                            ),
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
}
