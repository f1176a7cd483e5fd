//! The restart checkpoint from the watcher's side: opened before the cold index (unless
//! `--no-checkpoint`), consulted for each archive before it is inflated, written after the cold
//! index (and during it by its readers, once what they offered passes 8 MiB) and then with the
//! ledger, for the archives read since.

use super::db::read_archive;
use super::files::{read_file_tail, tail_hash};
use super::*;
use crate::checkpoint::{Checkpoint, Resume, Saved, Use};
use crate::model::Tally;
use crate::sources::archives::{Archive, Place};
use crate::state::IndexHealth;

/// The checkpoint being loaded (`Watcher::load_checkpoint`).
pub(super) type PendingCheckpoint =
    Result<std::thread::JoinHandle<Result<(Checkpoint, Option<String>), String>>, String>;

impl Watcher {
    /// Starts loading the checkpoint on a thread of its own (seconds at 100k sessions), while
    /// the watcher lists the transcripts; `open_checkpoint` takes the result (the session
    /// indexes are read after it: an unchanged one's records come from it). None with
    /// `--no-checkpoint`, without a data dir, or when it is open.
    pub(super) fn load_checkpoint(&self) -> Option<PendingCheckpoint> {
        let dir = self.cfg.data_dir.clone()?;
        if self.checkpoint.is_some() || self.cfg.no_checkpoint {
            return None;
        }
        let prices = self.prices.fingerprint();
        let load =
            std::thread::Builder::new().name("checkpoint-load".into()).spawn(move || Checkpoint::open(&dir, prices));
        Some(load.map_err(|e| format!("cannot start its loader: {e}")))
    }

    /// Takes the loaded checkpoint (`load_checkpoint`); /api/health says whether one was found
    /// and why it was refused.
    pub(super) fn open_checkpoint(&mut self, pending: Option<PendingCheckpoint>) {
        let Some(dir) = self.cfg.data_dir.clone() else { return };
        if self.checkpoint.is_some() {
            return;
        }
        let Some(pending) = pending else {
            self.index.write().checkpoint.path = Some(dir.join("checkpoint"));
            return;
        };
        let opened = pending.and_then(|h| h.join().unwrap_or_else(|_| Err("its loader failed".to_string())));
        let mut st = self.index.write();
        st.checkpoint.path = Some(dir.join("checkpoint"));
        match opened {
            Ok((cp, refused)) => {
                st.checkpoint.enabled = true;
                st.checkpoint.loaded = cp.loaded() > 0;
                if let Some(why) = refused {
                    eprintln!("clawmetry: the restart checkpoint is not used ({why}); reading every source");
                    st.checkpoint.ignored += 1;
                    st.checkpoint.error = Some(why);
                }
                self.checkpoint = Some(cp);
            }
            Err(e) => {
                eprintln!("clawmetry: no restart checkpoint ({e}); every start reads every source");
                st.checkpoint.error = Some(e);
            }
        }
    }

    /// Writes what was read since the last write (the watcher's thread; the HTTP threads never
    /// wait for it: the state lock is held only to note the outcome). Rows the cold index's
    /// readers wrote count here.
    pub(super) fn write_checkpoint(&mut self) {
        let Some(cp) = self.checkpoint.as_ref() else { return };
        let written = cp.write();
        let mut st = self.index.write();
        note_counts(cp, &mut st);
        let (n, error) = match written {
            Ok(n) => (n, None),
            Err((n, e)) => (n, Some(e)),
        };
        if n > 0 {
            st.checkpoint.written += n;
            st.checkpoint.last_write_ms = Some(crate::timefmt::now_ms());
        }
        if error.is_some() {
            st.checkpoint.error = error;
        }
    }
}

/// Copies how many sources the checkpoint saved reading to /api/health.
pub(super) fn note_counts(cp: &Checkpoint, st: &mut crate::state::State) {
    let (reused, resumed, reread, bad_rows) = cp.counts();
    st.checkpoint.sources_reused = reused;
    st.checkpoint.sources_resumed = resumed;
    st.checkpoint.sources_reread = reread;
    st.checkpoint.bad_rows = bad_rows;
}

/// The key of an agent database: its path, device and inode (a database replaced is another).
pub(super) fn db_key(path: &Path) -> Option<String> {
    let m = std::fs::symlink_metadata(path).ok()?;
    Some(format!("db\0{}\0{}\0{}", path.display(), m.dev(), m.ino()))
}

/// The key of a session index (`sessions.json`): its path, device, inode, size, mtime and
/// ctime (OpenClaw rewrites it whole; any change is another key; the ctime, which no copy can
/// set, also tells a rewrite in place of the same size within one mtime tick).
pub(super) fn index_key(path: &Path) -> Option<String> {
    let m = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file())?;
    let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
    let (mtime, ctime) = (ns(m.mtime(), m.mtime_nsec()), ns(m.ctime(), m.ctime_nsec()));
    Some(format!("index\0{}\0{}\0{}\0{}\0{mtime}\0{ctime}", path.display(), m.dev(), m.ino(), m.len()))
}

/// The key of an archive in the checkpoint: where it is and the identity of what holds it. A
/// file: its path, device, inode, size and mtime. A database row: the database's path, device
/// and inode (a database replaced is another one), the table, the rowid and the archive name
/// (OpenClaw never rewrites a row; a rowid given out again comes with another name).
/// None when it cannot be told (the file is gone): then it is read.
pub(super) fn archive_key(a: &Archive) -> Option<String> {
    let id = |p: &Path| {
        std::fs::symlink_metadata(p).ok().map(|m| {
            (m.dev(), m.ino(), m.len(), m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()))
        })
    };
    Some(match &a.place {
        Place::File(p) => {
            let (dev, ino, len, mtime) = id(p)?;
            format!("archive-file\0{}\0{dev}\0{ino}\0{len}\0{mtime}\0{}", p.display(), a.name)
        }
        Place::Row { db, table, rowid } => {
            let (dev, ino, _, _) = id(db)?;
            format!("archive-row\0{}\0{dev}\0{ino}\0{table}\0{rowid}\0{}", db.display(), a.name)
        }
    })
}

/// An archive's content as a tally: from the checkpoint when it has it, else read (and offered
/// to the checkpoint when it read fine).
pub(super) fn read_archive_kept(
    cp: Option<&Checkpoint>,
    a: &Archive,
    prices: &PriceTable,
    buf: &mut Vec<u8>,
) -> (Tally, IndexHealth) {
    let key = cp.and(archive_key(a));
    if let (Some(cp), Some(key)) = (cp, &key) {
        if let Some(s) = cp.take(key) {
            cp.count(Use::Reused);
            return (s.tally, s.health);
        }
        cp.count(Use::Reread);
    }
    let (tally, health) = read_archive(a, prices, buf);
    if let (Some(cp), Some(key), 0) = (cp, key, health.source_errors) {
        cp.offer(key, Saved { tally: tally.clone(), health: health.clone(), ..Saved::default() });
    }
    (tally, health)
}

/// A JSONL file at the cold index, into a fresh cursor: taken from the checkpoint when it is
/// the file it read (same device and inode) and is unchanged (same size and mtime: nothing is
/// read) or only grew (the bytes before where it was read to are the same: read from there,
/// `Tally::merge` continuing the checkpoint's figures); else read whole. What the file then
/// holds is offered to the checkpoint when it was read (now) to a whole line without error.
/// `health` gets what reading it (now or then) counted.
pub(super) fn read_file_kept(
    cp: Option<&Checkpoint>,
    path: &Path,
    cur: &mut FileCursor,
    prices: &PriceTable,
    health: &mut IndexHealth,
) -> Tally {
    let md = std::fs::symlink_metadata(path).ok().filter(|m| m.is_file());
    let (Some(cp), Some(md)) = (cp, md) else {
        return read_file_tail(path, cur, prices, health, None).0;
    };
    let key = format!("jsonl\0{}\0{}\0{}", path.display(), md.dev(), md.ino());
    let mtime_ns = md.mtime().saturating_mul(1_000_000_000).saturating_add(md.mtime_nsec());
    let saved = cp.take(&key).and_then(|s| {
        let r = s.resume?;
        let same = md.len() == r.size && mtime_ns == r.mtime_ns;
        (same || (md.len() > r.size && tail_is(path, &r))).then_some((s, r))
    });
    let mut read = IndexHealth::default();
    let mut unchanged = false;
    let (tally, kept, tail) = match saved {
        Some((s, r)) => {
            cur.ino = md.ino();
            cur.read_pos = r.size;
            cur.lines = r.lines;
            let mut tally = s.tally;
            let mut tail = Some((r.tail_len, r.tail_hash));
            if md.len() > r.size {
                cp.count(Use::Resumed);
                let (delta, t) = read_file_tail(path, cur, prices, &mut read, None);
                tally.merge(delta);
                tail = t.or(tail);
            } else {
                cp.count(Use::Reused);
                unchanged = true;
            }
            (tally, s.health, tail)
        }
        None => {
            cp.count(Use::Reread);
            let (tally, tail) = read_file_tail(path, cur, prices, &mut read, None);
            (tally, IndexHealth::default(), tail)
        }
    };
    health.add(&kept);
    health.add(&read);
    // An unchanged file's entry stays as it is (taken, it is not dropped at the next write).
    if unchanged {
        return tally;
    }
    if let (true, 0, Some((tail_len, tail_hash))) = (cur.reader.is_none(), read.source_errors, tail) {
        let mut all = kept;
        all.add(&read);
        all.last_error = None;
        let resume = Resume { size: cur.read_pos, mtime_ns, lines: cur.lines, tail_len, tail_hash };
        cp.offer(key, Saved { tally: tally.clone(), health: all, resume: Some(resume), ..Saved::default() });
    }
    tally
}

/// Whether the `tail_len` bytes before `r.size` hash as they did.
fn tail_is(path: &Path, r: &Resume) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(f) = crate::sources::open_file(path) else { return false };
    let Some(at) = r.size.checked_sub(r.tail_len) else { return false };
    let mut buf = vec![0u8; r.tail_len as usize];
    f.read_exact_at(&mut buf, at).is_ok() && tail_hash(&buf) == r.tail_hash
}
