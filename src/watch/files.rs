//! File-era sources followed live: JSONL transcripts (tails, truncation, renames, files gone),
//! `sessions.json`, sub-agent `runs.json`.

use super::*;
use crate::activity::{self, PendingCalls};
use crate::checkpoint::{Saved, Use};
use crate::model::Tally;
use crate::pricing::PriceTable;
use crate::sources::jsonl_store;
use crate::sources::{subagents, transcript};
use crate::state::{Index, IndexHealth, Store};
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

impl Watcher {
    /// JSONL files that disappeared: a session none of whose files is left keeps its figures
    /// (from its archive, or the ledger alone). A renamed file (`.jsonl` -> `.jsonl.deleted.<ts>`)
    /// has its new name noted by then.
    pub(super) fn jsonl_files_gone(&mut self) {
        let gone: Vec<Arc<Path>> = self.files.keys().filter(|p| !p.exists()).cloned().collect();
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
    pub(super) fn tail_file(&mut self, path: &Path, agent: &str, id: &str) {
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
            let shared: Arc<Path> = path.into();
            let cur = match moved.and_then(|p| self.files.remove(&p)) {
                Some(c) => {
                    self.index.write().note_file(agent, id, &shared);
                    c
                }
                None => FileCursor { ino: md.ino(), read_pos: 0, reader: None, lines: 0 },
            };
            let fresh = cur.read_pos == 0;
            self.files.insert(shared, cur);
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
        let shared = self.files.get_key_value(path).map(|(k, _)| k.clone()).expect("cursor exists");
        let cur = self.files.get_mut(path).expect("cursor exists");
        let mut rows = Vec::new();
        let pending = self.pending_calls.entry(id.to_string()).or_default();
        let tally = read_file(path, cur, &self.prices, &mut health, Some((&mut rows, pending)));
        let mut batch = vec![(agent.to_string(), id.to_string(), shared, tally)];
        apply_file_batch(&self.index, &mut batch, &mut health);
        publish_activity(&self.index, rows.into_iter().map(|r| (id.to_string(), r)).collect());
    }

    /// A file of the session was truncated or replaced: re-read all of its files.
    pub(super) fn rebuild_jsonl_session(&mut self, id: &str) {
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
        let paths: Vec<Arc<Path>> =
            self.files.keys().filter(|p| session_of(p).as_deref() == Some(id)).cloned().collect();
        let mut health = IndexHealth::default();
        let mut batch = Vec::new();
        for p in paths {
            let Some(cur) = self.files.get_mut(&p) else { continue };
            cur.read_pos = 0;
            cur.reader = None;
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

    /// Reads a session index (`sessions.json`) when it changed since the last look.
    pub(super) fn load_sessions_json(&mut self, agent: &str, path: &Path, kept: bool) {
        if !self.stamp_changed(path) {
            return;
        }
        // At the cold index (`kept`): the records from the checkpoint when it has this very file.
        let cp = self.checkpoint.as_ref().filter(|_| kept);
        let key = cp.and_then(|_| super::checkpoint::index_key(path));
        if let (Some(cp), Some(key)) = (cp, &key) {
            if let Some(s) = cp.take(key) {
                cp.count(Use::Reused);
                self.index.write().apply_meta(agent, s.metas);
                return;
            }
            cp.count(Use::Reread);
        }
        let file = match crate::sources::open_file(path) {
            Ok(f) => f,
            Err(_) => return,
        };
        let len = file.metadata().map_or(u64::MAX, |m| m.len());
        match jsonl_store::read_sessions_json(file, len) {
            Ok(mut metas) => {
                if let (Some(cp), Some(key)) = (cp, key) {
                    metas = cp.offer(key, Saved { metas, ..Saved::default() }).metas;
                }
                self.index.write().apply_meta(agent, metas)
            }
            Err(e) => {
                let mut st = self.index.write();
                st.health.source_errors += 1;
                st.health.last_error = Some(format!("{}: {e}", path.display()));
            }
        }
    }

    /// True when the file's (mtime, size) differs from the last look.
    pub(super) fn stamp_changed(&mut self, path: &Path) -> bool {
        let stamp = std::fs::metadata(path)
            .map(|m| (m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()), m.len()))
            .unwrap_or((0, 0));
        if stamp == (0, 0) {
            return false;
        }
        self.stamps.insert(path.to_path_buf(), stamp) != Some(stamp)
    }

    pub(super) fn load_subagent_runs(&mut self) {
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
        if runs.is_empty() {
            return;
        }
        // Once the first index is done, a run that appears is a sub-agent spawned, and one that
        // gains an end has finished: activity rows (with the child's session when known).
        let mut rows = Vec::new();
        {
            let mut st = self.index.write();
            let live = st.health.ready;
            for r in runs {
                let before = st.subagent_runs.get(&r.child_key);
                if live {
                    let id = st.by_key.get(r.child_key.as_str()).map(|i| i.to_string()).unwrap_or_default();
                    if before.is_none() {
                        rows.extend(activity::subagent_row(&r, "spawned").map(|row| (id.clone(), row)));
                    }
                    if r.ended_ms.is_some() && before.is_none_or(|b| b.ended_ms.is_none()) {
                        rows.extend(activity::subagent_row(&r, "finished").map(|row| (id, row)));
                    }
                }
                st.put_subagent_run(r);
            }
        }
        super::publish_activity(&self.index, rows);
    }
}

/// Decodes one transcript line into `t`, counting what is wrong with it.
pub(super) fn decode_line(
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
pub(super) fn read_file(
    path: &Path,
    cur: &mut FileCursor,
    prices: &PriceTable,
    health: &mut IndexHealth,
    feed: Option<(&mut Vec<Value>, &mut PendingCalls)>,
) -> Tally {
    read_file_tail(path, cur, prices, health, feed).0
}

/// Bytes at the end of what was read that the restart checkpoint hashes (`Resume`).
pub(super) const TAIL: usize = 256;

/// [`read_file`], and the length and hash of the last bytes read (up to `TAIL`; none when
/// nothing was read), for the restart checkpoint.
pub(super) fn read_file_tail(
    path: &Path,
    cur: &mut FileCursor,
    prices: &PriceTable,
    health: &mut IndexHealth,
    mut feed: Option<(&mut Vec<Value>, &mut PendingCalls)>,
) -> (Tally, Option<(u64, u64)>) {
    let mut tally = Tally::default();
    let mut last = 0;
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    let mut f = match crate::sources::open_file(path) {
        Ok(f) => f,
        Err(e) => {
            health.source_errors += 1;
            health.last_error = Some(format!("{}: {e}", path.display()));
            return (tally, None);
        }
    };
    if let Ok(m) = f.metadata() {
        cur.ino = m.ino();
    }
    if f.seek(SeekFrom::Start(cur.read_pos)).is_err() {
        return (tally, None);
    }
    // The thread's buffer, allocated once (a cold index reads 50k files at 100k sessions).
    let mut buf = READ_BUF.take();
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let mut reader = cur.reader.take().map(|r| *r).unwrap_or_default();
    let huge_before = reader.huge_lines;
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
        last = n;
        let lines = &mut cur.lines;
        reader.feed(&buf[..n], |line| {
            health.lines += 1;
            let cost_before = tally.usage.cost;
            decode_line(line, &mut tally, health, &cost_of);
            if let Some((rows, pending)) = feed.as_mut() {
                rows.extend(activity::row(line, *lines, tally.usage.cost - cost_before, pending));
            }
            *lines += 1;
        });
    }
    health.huge_lines += reader.huge_lines - huge_before;
    cur.reader = (!reader.is_idle()).then(|| Box::new(reader));
    let tail = &buf[last - last.min(TAIL)..last];
    let tail = (last > 0).then(|| (tail.len() as u64, tail_hash(tail)));
    READ_BUF.set(buf);
    (tally, tail)
}

thread_local! {
    /// [`read_file_tail`]'s read buffer, one per thread: allocated and zeroed per file, it cost
    /// a 1 MiB `calloc` for each of 50k small files at 100k sessions. Given back with the
    /// thread (the cold index's readers end with it); the watcher's stays, resident as far as
    /// one read filled it (an appended tail: a few pages).
    static READ_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The hash the restart checkpoint keeps of a file's last bytes read
/// ([`crate::codec::stable_hasher`]).
pub(super) fn tail_hash(bytes: &[u8]) -> u64 {
    crate::codec::stable_hash(bytes)
}

pub(super) fn apply_file_batch(
    index: &Arc<Index>,
    batch: &mut Vec<(String, String, Arc<Path>, Tally)>,
    health: &mut IndexHealth,
) {
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
                health.duplicate_source_lines += u64::from(lines);
            }
            touched.push(id);
        }
        st.health.add(health);
        st.health.last_update_ms = Some(crate::timefmt::now_ms());
    }
    *health = IndexHealth::default();
    publish_touched(index, touched);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer a big file was read into holds its bytes past a small file's end: the small
    /// file's tail is its own.
    #[test]
    fn a_small_file_read_after_a_big_one_hashes_its_own_tail() {
        let d = std::env::temp_dir().join(format!("clawmetry-read-buf-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let (big, small) = (d.join("big.jsonl"), d.join("small.jsonl"));
        let mut text = "{\"type\":\"custom\"}\n".repeat(CHUNK / 10);
        text.push_str("{\"type\":\"last\"}\n");
        std::fs::write(&big, &text).unwrap();
        std::fs::write(&small, b"{}\n").unwrap();
        let prices = PriceTable::default();
        let read = |p: &Path| {
            let mut cur = FileCursor { ino: 0, read_pos: 0, reader: None, lines: 0 };
            let mut health = IndexHealth::default();
            let tail = read_file_tail(p, &mut cur, &prices, &mut health, None).1;
            (tail, cur.read_pos, cur.lines)
        };
        let last = &text.as_bytes()[text.len() - TAIL..];
        assert_eq!(read(&big), (Some((TAIL as u64, tail_hash(last))), text.len() as u64, CHUNK as u64 / 10 + 1));
        assert_eq!(read(&small), (Some((3, tail_hash(b"{}\n"))), 3, 1));
        let _ = std::fs::remove_dir_all(&d);
    }
}
