//! Gateway logs: `/tmp/openclaw/openclaw-YYYY-MM-DD.log` (older `/tmp/moltbot/moltbot-…`,
//! `/tmp/clawdbot/…`) or the file named by `logging.file`; one tslog JSON object per line.
//!
//! A reader follows the log with a [`Cursor`] (the file's identity, a byte offset after a whole
//! line and a fingerprint of the bytes before it): the next read starts there; a different file
//! (the next day's, or one put in the place of the old) is read from its start once the old one
//! has been read to its end (`finish_old`); and a file shorter than the offset, or whose bytes
//! before the offset changed (truncated and written again past the offset between two reads), is
//! read again from its start. Every open goes through [`super::open_file`] (no symlink).

use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The log file to show: the configured one if it exists, else the newest dated file (by last
/// change, then by name: the next day's file wins a tie). Symlinks in the log dirs are skipped;
/// a configured path that is a symlink is returned, and refused when it is opened.
pub fn current_file(configured: Option<&Path>, dirs: &[PathBuf]) -> Option<PathBuf> {
    if let Some(f) = configured.filter(|f| std::fs::symlink_metadata(f).is_ok_and(|m| !m.is_dir())) {
        return Some(f.to_path_buf());
    }
    let mut best: Option<(std::time::SystemTime, String, PathBuf)> = None;
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours = ["openclaw-", "moltbot-", "clawdbot-"].iter().any(|p| name.starts_with(p));
            if !ours || !name.ends_with(".log") || !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Ok(mtime) = e.metadata().and_then(|m| m.modified()) else { continue };
            if best.as_ref().is_none_or(|(t, n, _)| (mtime, &name) > (*t, n)) {
                best = Some((mtime, name, e.path()));
            }
        }
    }
    best.map(|(_, _, p)| p)
}

/// Where a reader stopped: which file (device and inode), the offset after its last whole line,
/// and a fingerprint of the [`PRINT`] bytes before that offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
    pub print: u64,
}

/// Bytes before a cursor's offset that its fingerprint covers.
const PRINT: u64 = 256;

impl Cursor {
    /// The opaque form the API hands out: `<dev>.<ino>.<offset>.<fingerprint>` in hex.
    pub fn encode(&self) -> String {
        format!("{:x}.{:x}.{:x}.{:x}", self.dev, self.ino, self.offset, self.print)
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let mut it = s.split('.').map(|p| u64::from_str_radix(p, 16).ok());
        let c = Cursor { dev: it.next()??, ino: it.next()??, offset: it.next()??, print: it.next()?? };
        it.next().is_none().then_some(c)
    }
}

/// The fingerprint of the bytes before `offset` (0 for none).
fn fingerprint(f: &mut std::fs::File, offset: u64) -> std::io::Result<u64> {
    let start = offset.saturating_sub(PRINT);
    let mut buf = vec![0u8; (offset - start) as usize];
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut buf)?;
    Ok(crate::codec::stable_hash(&buf))
}

/// The log file a cursor names, when it is still in one of `dirs` (or is `configured`) under
/// another name or beside the next day's file, and has lines past the cursor: the rest of the
/// old file is read before the reader moves on to the new one.
pub fn finish_old(configured: Option<&Path>, dirs: &[PathBuf], c: &Cursor) -> Option<PathBuf> {
    let candidates = configured
        .map(Path::to_path_buf)
        .into_iter()
        .chain(dirs.iter().filter_map(|d| std::fs::read_dir(d).ok()).flatten().flatten().map(|e| e.path()));
    for p in candidates {
        let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
        if md.is_file() && md.dev() == c.dev && md.ino() == c.ino {
            return (md.len() > c.offset).then_some(p);
        }
    }
    None
}

/// Lines read from a log and where the next read starts.
#[derive(Debug)]
pub struct Chunk {
    pub lines: Vec<String>,
    pub cursor: Cursor,
    /// The cursor named another file, or an offset past the end: this read started over at 0.
    pub restarted: bool,
    /// More whole lines wait past this chunk (read again at once).
    pub more: bool,
}

/// Whole lines of `bytes` (up to its last newline) and how many bytes they take. A chunk of
/// `cap` bytes with no newline is one over-long line, taken whole so that the reader moves on.
fn whole_lines(bytes: &[u8], cap: usize) -> (Vec<String>, usize) {
    let used = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if bytes.len() >= cap => bytes.len(),
        None => 0,
    };
    let text = String::from_utf8_lossy(&bytes[..used]);
    (text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect(), used)
}

/// The lines after `after` (at most `max_bytes` of them), or, with no cursor, the last `n` lines.
/// A line still being written (no newline yet) waits for the next read.
pub fn read(path: &Path, after: Option<Cursor>, n: usize, max_bytes: usize) -> std::io::Result<Chunk> {
    let mut f = super::open_file(path)?;
    let md = f.metadata()?;
    let (dev, ino, len) = (md.dev(), md.ino(), md.len());
    let Some(c) = after else {
        let (lines, end) = tail(&mut f, len, n)?;
        let print = fingerprint(&mut f, end)?;
        return Ok(Chunk { lines, cursor: Cursor { dev, ino, offset: end, print }, restarted: false, more: false });
    };
    let same = c.dev == dev && c.ino == ino && c.offset <= len && fingerprint(&mut f, c.offset)? == c.print;
    let start = if same { c.offset } else { 0 };
    let want = (len - start).min(max_bytes as u64) as usize;
    let mut buf = vec![0u8; want];
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut buf)?;
    let (lines, used) = whole_lines(&buf, max_bytes);
    let offset = start + used as u64;
    let print = fingerprint(&mut f, offset)?;
    Ok(Chunk {
        lines,
        cursor: Cursor { dev, ino, offset, print },
        restarted: !same,
        more: want == max_bytes && offset < len,
    })
}

/// The last `n` whole lines of an open file of `len` bytes, reading backwards in blocks (never
/// the whole file), and the offset after the last of them.
fn tail(f: &mut std::fs::File, len: u64, n: usize) -> std::io::Result<(Vec<String>, u64)> {
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    const MAX_BYTES: u64 = 8 * 1024 * 1024;
    while pos > 0 && buf.iter().filter(|&&b| b == b'\n').count() <= n && len - pos < MAX_BYTES {
        let start = pos.saturating_sub(BLOCK);
        let mut chunk = vec![0u8; (pos - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        pos = start;
    }
    let (mut lines, used) = whole_lines(&buf, usize::MAX);
    if pos > 0 && !lines.is_empty() {
        lines.remove(0); // it may have been cut at the block start
    }
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    Ok((lines, pos + used as u64))
}

/// The last `n` lines of a file (through [`super::open_file`]).
#[cfg(test)]
fn tail_lines(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    Ok(read(path, None, n, 0)?.lines)
}

/// The session ids and keys a log line may name, most specific first: a `sessionKey` /
/// `sessionId` field (at the top or in an argument object), then `agent:<id>:…` keys in its text
/// (every prefix of three or more parts, longest first: a key is followed by a run id in
/// `announce:v1:agent:main:subagent:<uuid>:<run>`). The caller keeps the first one that is a
/// known session.
pub fn session_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) {
        let mut objs: Vec<Value> = vec![Value::Object(o.clone())];
        for (k, v) in &o {
            if k.chars().all(|c| c.is_ascii_digit()) {
                match v {
                    Value::Object(_) => objs.push(v.clone()),
                    Value::String(s) if s.starts_with('{') => objs.extend(serde_json::from_str::<Value>(s).ok()),
                    _ => {}
                }
            }
        }
        for obj in &objs {
            for f in ["sessionKey", "session_key", "sessionId", "session_id", "sessionID"] {
                if let Some(s) = obj.get(f).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    out.push(s.to_string());
                }
            }
        }
    }
    let key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '@' | '+');
    let mut rest = line;
    while let Some(i) = rest.find("agent:") {
        let boundary = rest[..i].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric());
        let run: String = rest[i..].chars().take_while(|&c| key_char(c)).collect();
        rest = &rest[i + "agent:".len()..];
        if !boundary {
            continue;
        }
        let parts: Vec<&str> = run.trim_end_matches([':', '.']).split(':').collect();
        for k in (3..=parts.len().min(12)).rev() {
            out.push(parts[..k].join(":"));
        }
    }
    out.dedup();
    out
}

/// Decodes one log line into `{time, level, subsystem, message}`; a line that is not JSON is
/// kept as plain text.
pub fn decode_line(line: &str) -> Value {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return json!({"time": null, "level": null, "subsystem": null, "message": line});
    };
    let level = v.pointer("/_meta/logLevelName").and_then(Value::as_str).map(str::to_string);
    let bindings = v.pointer("/_meta/name").and_then(Value::as_str).unwrap_or("");
    let subsystem = serde_json::from_str::<Value>(bindings)
        .ok()
        .and_then(|b| b.get("subsystem").or_else(|| b.get("module")).and_then(Value::as_str).map(str::to_string))
        .or_else(|| (!bindings.is_empty() && !bindings.starts_with('{')).then(|| bindings.to_string()));
    let message = match v.get("message").and_then(Value::as_str) {
        Some(m) => m.to_string(),
        None => {
            // Positional arguments "0", "1", …; "0" is usually the bindings string.
            let mut parts = Vec::new();
            for i in 0..8 {
                match v.get(i.to_string()) {
                    Some(Value::String(s)) if i == 0 && s.starts_with('{') => {}
                    Some(Value::String(s)) => parts.push(s.clone()),
                    Some(other) => parts.push(other.to_string()),
                    None => break,
                }
            }
            parts.join(" ")
        }
    };
    json!({
        "time": v.get("time").cloned().unwrap_or(Value::Null),
        "level": level,
        "subsystem": subsystem,
        "message": message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tslog_lines() {
        let line = r#"{"0":"{\"subsystem\":\"gateway/ws\"}","1":"⇄ res ✓ agent 171ms","_meta":{"logLevelName":"INFO","name":"{\"subsystem\":\"gateway/ws\"}"},"time":"2026-11-24T21:06:07.000+00:00"}"#;
        let v = decode_line(line);
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["subsystem"], "gateway/ws");
        assert_eq!(v["message"], "⇄ res ✓ agent 171ms");
        assert_eq!(decode_line("plain text")["message"], "plain text");
    }

    #[test]
    fn tail_reads_only_the_end() {
        let dir = std::env::temp_dir().join(format!("clawmetry-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("openclaw-2026-11-24.log");
        let body: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, body).unwrap();
        let t = tail_lines(&p, 3).unwrap();
        assert_eq!(t, vec!["line 49997", "line 49998", "line 49999"]);
        assert_eq!(current_file(None, std::slice::from_ref(&dir)), Some(p));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn cursor_reads_new_lines_once_and_restarts_on_truncation_or_a_new_file() {
        let dir = std::env::temp_dir().join(format!("clawmetry-logs-cur-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("openclaw-2026-11-24.log");
        std::fs::write(&p, "a\nb\n").unwrap();
        let c0 = read(&p, None, 10, 1 << 20).unwrap();
        assert_eq!(c0.lines, vec!["a", "b"]);
        assert_eq!(Cursor::parse(&c0.cursor.encode()), Some(c0.cursor));
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, b"c\npart").unwrap();
        let c1 = read(&p, Some(c0.cursor), 10, 1 << 20).unwrap();
        assert_eq!((c1.lines.clone(), c1.restarted), (vec!["c".to_string()], false));
        std::io::Write::write_all(&mut f, b"ial\n").unwrap();
        let c2 = read(&p, Some(c1.cursor), 10, 1 << 20).unwrap();
        assert_eq!(c2.lines, vec!["partial"]);
        assert!(read(&p, Some(c2.cursor), 10, 1 << 20).unwrap().lines.is_empty());
        std::fs::write(&p, "x\n").unwrap(); // truncated in place
        let c3 = read(&p, Some(c2.cursor), 10, 1 << 20).unwrap();
        assert_eq!((c3.lines.clone(), c3.restarted), (vec!["x".to_string()], true));
        let q = dir.join("openclaw-2026-11-25.log");
        std::fs::write(&q, "next day\n").unwrap();
        let c4 = read(&q, Some(c3.cursor), 10, 1 << 20).unwrap();
        assert_eq!((c4.lines.clone(), c4.restarted), (vec!["next day".to_string()], true));
        let link = dir.join("openclaw-2026-11-26.log");
        std::os::unix::fs::symlink(&q, &link).unwrap();
        assert!(read(&link, None, 10, 1 << 20).is_err(), "a symlink is not followed");
        assert_eq!(current_file(None, std::slice::from_ref(&dir)), Some(q), "links in the dir are skipped");
        assert_eq!(Cursor::parse("1.2"), None);
        assert_eq!(Cursor::parse("1.2.3"), None);
        assert_eq!(Cursor::parse("1.2.3.4.5"), None);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn session_refs_from_fields_and_keys_in_text() {
        let l = r#"{"0":"{\"subsystem\":\"x\"}","1":"[agent] run announce:v1:agent:main:subagent:74079b11-b0d7:63656e7a ended","time":"t"}"#;
        let r = session_refs(l);
        assert_eq!(r[0], "agent:main:subagent:74079b11-b0d7:63656e7a");
        assert!(r.contains(&"agent:main:subagent:74079b11-b0d7".to_string()), "{r:?}");
        let l = r#"{"0":"{\"subsystem\":\"x\"}","1":{"sessionKey":"agent:ops:main"},"2":"hi"}"#;
        assert_eq!(session_refs(l)[0], "agent:ops:main");
        assert!(session_refs("reagent:a:b:c").is_empty());
    }
}
