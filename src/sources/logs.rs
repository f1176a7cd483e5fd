//! Gateway logs: `/tmp/openclaw/openclaw-YYYY-MM-DD.log` (older `/tmp/moltbot/moltbot-…`,
//! `/tmp/clawdbot/…`) or the file named by `logging.file`; one tslog JSON object per line.

use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The log file to show: the configured one if it exists, else the newest dated file.
pub fn current_file(configured: Option<&Path>, dirs: &[PathBuf]) -> Option<PathBuf> {
    if let Some(f) = configured.filter(|f| f.is_file()) {
        return Some(f.to_path_buf());
    }
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours = ["openclaw-", "moltbot-", "clawdbot-"].iter().any(|p| name.starts_with(p));
            if !ours || !name.ends_with(".log") {
                continue;
            }
            let Ok(mtime) = e.metadata().and_then(|m| m.modified()) else { continue };
            if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
                best = Some((mtime, e.path()));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// The last `n` lines of a file, reading backwards in blocks (never the whole file).
pub fn tail_lines(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
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
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if pos > 0 && !lines.is_empty() {
        lines.remove(0); // it may have been cut at the block start
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|s| s.to_string()).collect())
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
}
