//! The restart checkpoint from the watcher's side: opened before the cold index (unless
//! `--no-checkpoint`), consulted for each archive before it is inflated, written after the cold
//! index and then with the ledger, for the archives read since.

use super::db::read_archive;
use super::*;
use crate::checkpoint::{Checkpoint, Saved};
use crate::model::Tally;
use crate::sources::archives::{Archive, Place};
use crate::state::IndexHealth;

impl Watcher {
    /// Opens the checkpoint once; /api/health says whether one was found and why it was refused.
    pub(super) fn open_checkpoint(&mut self) {
        if self.checkpoint.is_some() {
            return;
        }
        let Some(dir) = self.cfg.data_dir.clone() else { return };
        let mut st = self.index.write();
        st.checkpoint.path = Some(dir.join("checkpoint"));
        if self.cfg.no_checkpoint {
            return;
        }
        match Checkpoint::open(&dir, self.prices.fingerprint()) {
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
    /// wait for it: the state lock is held only to note the outcome).
    pub(super) fn write_checkpoint(&mut self) {
        let Some(cp) = self.checkpoint.as_ref() else { return };
        let written = cp.write();
        let (reused, reread) = cp.counts();
        let mut st = self.index.write();
        st.checkpoint.sources_reused = reused;
        st.checkpoint.sources_reread = reread;
        match written {
            Ok(0) => {}
            Ok(n) => {
                st.checkpoint.written += n;
                st.checkpoint.last_write_ms = Some(crate::timefmt::now_ms());
            }
            Err(e) => st.checkpoint.error = Some(e),
        }
    }
}

/// The key of an archive in the checkpoint: where it is and the identity of what holds it. A
/// file: its path, device, inode, size and mtime. A database row: the database's path, device
/// and inode (a database replaced is another one), the table, the rowid and the archive name
/// (OpenClaw never rewrites a row; a rowid given out again comes with another name).
/// None when it cannot be told (the file is gone): then it is read.
pub(super) fn archive_key(a: &Archive) -> Option<String> {
    let id = |p: &Path| {
        std::fs::symlink_metadata(p)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
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
            return (s.tally, s.health);
        }
    }
    let (tally, health) = read_archive(a, prices, buf);
    if let (Some(cp), Some(key), 0) = (cp, key, health.source_errors) {
        cp.offer(key, Saved { tally: tally.clone(), health: health.clone() });
    }
    (tally, health)
}
