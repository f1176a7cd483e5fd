//! The audit log of control actions (issue 17): every stop of a run and every manual pause or
//! resume of the gateway, by a user or by the guard's auto-stop, with who asked, when, what and
//! the gateway's answer. One JSON object per line in `<data-dir>/audit.jsonl`, appended and never
//! rewritten; the newest entries are also kept in memory for `GET /api/guard/audit`. Without a
//! data dir (or when the file cannot be written) the entries are kept in memory only, and the
//! answer says why.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Entries kept in memory (and read back at start).
const KEEP: usize = 500;
/// How much of the file's end is read back at start.
const TAIL_BYTES: u64 = 512 << 10;

pub struct Audit {
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    recent: VecDeque<Value>,
    error: Option<String>,
}

impl Audit {
    /// The log in `data_dir` (its newest entries read back), or in memory only without one.
    pub fn open(data_dir: Option<&Path>) -> Audit {
        let path = data_dir.map(|d| d.join("audit.jsonl"));
        let mut inner = Inner::default();
        match &path {
            Some(p) => match read_tail(p) {
                Ok(v) => inner.recent = v,
                Err(e) => inner.error = Some(e),
            },
            None => inner.error = Some("no data dir (--data-dir): the audit log is kept in memory only".into()),
        }
        Audit { path, inner: Mutex::new(inner) }
    }

    /// Appends one entry (`ts` is added); an entry that cannot be written is still kept in
    /// memory, and the error is returned and shown with the log.
    pub fn record(&self, ts: i64, mut entry: Value) -> Result<(), String> {
        entry["ts"] = json!(ts);
        entry["at"] = json!(crate::timefmt::iso(ts));
        let written = match &self.path {
            Some(p) => append(p, &entry),
            None => Ok(()),
        };
        let mut g = crate::sync::lock(&self.inner);
        if g.recent.len() >= KEEP {
            g.recent.pop_front();
        }
        g.recent.push_back(entry);
        if let Err(e) = &written {
            g.error = Some(e.clone());
        }
        written
    }

    /// The newest `limit` entries, newest first, and the log's state.
    pub fn json(&self, limit: usize) -> Value {
        let g = crate::sync::lock(&self.inner);
        json!({
            "path": self.path.as_ref().map(|p| p.display().to_string()),
            "error": g.error,
            "entries": g.recent.iter().rev().take(limit).cloned().collect::<Vec<_>>(),
        })
    }
}

fn append(p: &Path, entry: &Value) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| format!("cannot write the audit log {}: {e}", p.display()))?;
    let mut line = entry.to_string();
    line.push('\n');
    f.write_all(line.as_bytes()).map_err(|e| format!("cannot write the audit log {}: {e}", p.display()))
}

/// The newest entries of the file; a missing file is an empty log, a line that is not JSON is
/// passed over (a write cut short by a crash).
fn read_tail(p: &Path) -> Result<VecDeque<Value>, String> {
    let mut f = match std::fs::File::open(p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(VecDeque::new()),
        Err(e) => return Err(format!("cannot read the audit log {}: {e}", p.display())),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(from))
        .and_then(|_| f.read_to_end(&mut buf))
        .map_err(|e| format!("cannot read the audit log {}: {e}", p.display()))?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if from > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    let mut out: VecDeque<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    while out.len() > KEEP {
        out.pop_front();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_and_read_back_newest_first() {
        let dir = std::env::temp_dir().join(format!("clawmetry-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join("audit.jsonl"));
        let a = Audit::open(Some(&dir));
        a.record(1000, json!({"action": "stop", "who": "token"})).unwrap();
        a.record(2000, json!({"action": "pause", "who": "login session 1a2b"})).unwrap();
        // A torn last line (a crash mid-write) is passed over when read back.
        std::fs::OpenOptions::new().append(true).open(dir.join("audit.jsonl")).unwrap().write_all(b"{\"act").unwrap();
        let b = Audit::open(Some(&dir));
        let j = b.json(10);
        assert_eq!(j["error"], Value::Null);
        let e = j["entries"].as_array().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0]["action"].as_str(), e[0]["ts"].as_i64()), (Some("pause"), Some(2000)));
        assert_eq!(e[1]["at"], "1970-01-01T00:00:01.000Z");
        std::fs::remove_dir_all(&dir).unwrap();
        // No data dir: kept in memory, and it says so.
        let m = Audit::open(None);
        m.record(5, json!({"action": "stop"})).unwrap();
        assert!(m.json(10)["error"].as_str().unwrap().contains("memory only"));
        assert_eq!(m.json(10)["entries"].as_array().unwrap().len(), 1);
    }
}
