//! The legacy (file-era) transcript store: `agents/<agent>/sessions/<id>.jsonl` files and the
//! `sessions.json` index beside them.
//!
//! Which files count, how a session id is read from a file name, how `sessions.json` entries
//! decode, and [`LineReader`], which splits a byte stream into complete lines across reads
//! (a partial last line waits for its newline; an over-long line is skipped and counted);
//! [`read_lines`] reads a file or an inflating archive through one, [`read_chunks`] in chunks.

use crate::model::SessionMeta;
use serde_json::Value;
use std::io::Read;

/// What a file in a sessions dir is.
#[derive(Debug, PartialEq)]
pub enum FileRole {
    /// A transcript of session `id` (`<id>.jsonl`, `.jsonl.reset.<ts>`, `.jsonl.deleted.<ts>`).
    Transcript { id: String },
    /// The session index.
    Index,
    /// Copies, locks, temp files and archives that would double-count.
    Ignored,
}

/// Classifies a file name found in a sessions dir.
pub fn classify(name: &str) -> FileRole {
    if name == "sessions.json" {
        return FileRole::Index;
    }
    let Some(pos) = name.find(".jsonl") else { return FileRole::Ignored };
    let (stem, rest) = (&name[..pos], &name[pos + ".jsonl".len()..]);
    if stem.is_empty() || stem.contains(".checkpoint.") || stem.contains(".bak") {
        return FileRole::Ignored;
    }
    // `.reset.<ts>` / `.deleted.<ts>` with a time and nothing after it: not the `.zst` archives
    // (sources/archives.rs) nor OpenClaw's temporary files while it writes one
    // (`….<gen>.<uuid>.jsonl-stage`, `….zst.<uuid>.stage`, `….zst.<uuid>.tmp`), which would be
    // read as transcripts and then vanish.
    let is_time = |ts: &str| !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b));
    let archived = |prefix: &str| rest.strip_prefix(prefix).is_some_and(is_time);
    let counted = rest.is_empty() || archived(".reset.") || archived(".deleted.");
    if counted {
        FileRole::Transcript { id: stem.to_string() }
    } else {
        FileRole::Ignored
    }
}

/// Decodes `sessions.json` (session key -> entry) from a reader, streamed. Several keys may name
/// one session id (a cron job's node and its run key): their fields are merged, the shorter key
/// wins as `key`. Of each entry only the fields the index uses
/// are kept (an entry's skills snapshot or system prompt report is skipped unread), so a
/// 100 MB `sessions.json` costs a few MB, not several times its size. `len` is the file's
/// size: one of at most [`READ_WHOLE`] is read whole first and decoded from memory instead
/// (streamed from its start after all when it grew past that meanwhile).
pub fn read_sessions_json<R: Read + std::io::Seek>(r: R, len: u64) -> Result<Vec<SessionMeta>, String> {
    read_index(r, len, READ_WHOLE)
}

/// [`read_sessions_json`] with `whole` for [`READ_WHOLE`].
fn read_index<R: Read + std::io::Seek>(mut r: R, len: u64, whole: u64) -> Result<Vec<SessionMeta>, String> {
    let err = |e: std::io::Error| format!("sessions.json: {e}");
    if len <= whole {
        // The file's size, not grown by doubling unless it grew meanwhile.
        let mut buf = Vec::with_capacity(len as usize + 1);
        (&mut r).take(whole + 1).read_to_end(&mut buf).map_err(err)?;
        if buf.len() as u64 <= whole {
            let entries: Entries = serde_json::from_slice(&buf).map_err(|e| format!("sessions.json: {e}"))?;
            return Ok(metas_of(entries));
        }
        r.seek(std::io::SeekFrom::Start(0)).map_err(err)?;
    }
    let entries: Entries = serde_json::from_reader(std::io::BufReader::with_capacity(256 * 1024, r))
        .map_err(|e| format!("sessions.json: {e}"))?;
    Ok(metas_of(entries))
}

/// The records of the entries of `sessions.json`, one per session.
fn metas_of(entries: Entries) -> Vec<SessionMeta> {
    let mut entries = entries.0;
    entries.sort_by_key(|(k, _)| k.len());
    let mut out: Vec<SessionMeta> = Vec::new();
    let mut index: foldhash::HashMap<String, usize> = foldhash::HashMap::default();
    for (key, fields) in entries {
        let Some(meta) = entry_meta(&key, &Value::Object(fields)) else { continue };
        match index.get(&meta.id) {
            Some(&i) => out[i].fill_from(&meta),
            None => {
                index.insert(meta.id.clone(), out.len());
                out.push(meta);
            }
        }
    }
    out
}

/// The largest `sessions.json` read whole before it is decoded: serde_json decodes a slice
/// about 2x faster than a reader (a 10 MB index of 23k sessions: ~145 -> ~75 ms), at the cost
/// of the file's size in memory while it is decoded.
const READ_WHOLE: u64 = 16 << 20;

/// The fields of an index entry that [`entry_meta`] reads.
const ENTRY_FIELDS: [&str; 18] = [
    "sessionId",
    "label",
    "displayName",
    "subject",
    "channel",
    "lastChannel",
    "deliveryContext",
    "origin",
    "modelProvider",
    "model",
    "status",
    "createdVia",
    "spawnedBy",
    "parentSessionKey",
    "startedAt",
    "endedAt",
    "updatedAt",
    "archivedAt",
];

/// `sessions.json` as (key, the kept fields of its entry); entries that are not objects are
/// skipped.
struct Entries(Vec<(String, serde_json::Map<String, Value>)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> serde::de::Visitor<'de> for Top {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of session keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = m.next_key::<String>()? {
                    if let Kept(Some(fields)) = m.next_value::<Kept>()? {
                        out.push((key, fields));
                    }
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Top)
    }
}

/// One entry: its kept fields when it is an object, else nothing.
struct Kept(Option<serde_json::Map<String, Value>>);

impl<'de> serde::Deserialize<'de> for Kept {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Kept;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a session entry")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Kept, A::Error> {
                let mut fields = serde_json::Map::new();
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    if ENTRY_FIELDS.contains(&k.as_ref()) {
                        fields.insert(k.into_owned(), m.next_value::<Value>()?);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Kept(Some(fields)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Kept, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Kept(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Kept, E> {
                Ok(Kept(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Kept, E> {
                Ok(Kept(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Kept, E> {
                Ok(Kept(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Kept, E> {
                Ok(Kept(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Kept, E> {
                Ok(Kept(None))
            }
            fn visit_unit<E>(self) -> Result<Kept, E> {
                Ok(Kept(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// One index entry (a sessions.json value or a `session_nodes.entry_json`).
pub fn entry_meta(key: &str, e: &Value) -> Option<SessionMeta> {
    let s = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let id = s("sessionId")?;
    let model = match (s("modelProvider"), s("model")) {
        (Some(p), Some(m)) => Some(format!("{p}/{m}")),
        (None, Some(m)) => Some(m),
        _ => None,
    };
    Some(SessionMeta {
        id,
        key: Some(key.to_string().into()),
        // Labels are shown (and searched) everywhere: redacted once, here.
        label: s("label")
            .or_else(|| s("displayName"))
            .or_else(|| s("subject"))
            .map(crate::redact::owned)
            .map(Into::into),
        channel: channel_of(e).map(crate::model::name),
        model: model.map(crate::model::name),
        status: s("status").map(crate::model::name),
        created_via: s("createdVia").map(crate::model::name),
        parent_key: s("spawnedBy").or_else(|| s("parentSessionKey")).map(Into::into),
        started_ms: e.get("startedAt").and_then(Value::as_i64),
        ended_ms: e.get("endedAt").and_then(Value::as_i64),
        updated_ms: e.get("updatedAt").and_then(Value::as_i64),
        archived_ms: e.get("archivedAt").and_then(Value::as_i64),
    })
}

/// The channel a session talks on, from the several places OpenClaw has kept it.
pub fn channel_of(e: &Value) -> Option<String> {
    ["/channel", "/lastChannel", "/deliveryContext/channel", "/origin/provider", "/origin/channel"]
        .iter()
        .find_map(|p| e.pointer(p).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The longest line kept; longer ones are skipped (and counted) rather than buffered.
pub const MAX_LINE: usize = 32 * 1024 * 1024;

/// Splits bytes fed in chunks into complete lines.
#[derive(Debug, Default)]
pub struct LineReader {
    partial: Vec<u8>,
    skipping: bool,
    pub huge_lines: u64,
}

impl LineReader {
    /// Nothing held: what was fed ended with a whole line.
    pub fn is_idle(&self) -> bool {
        self.partial.is_empty() && !self.skipping
    }

    /// Calls `f` with each complete line in `chunk` (without its newline); keeps an unfinished
    /// tail for the next call. Returns the number of bytes of `chunk` that ended in a newline,
    /// i.e. how far a file offset may advance.
    pub fn feed(&mut self, chunk: &[u8], mut f: impl FnMut(&[u8])) -> usize {
        let mut start = 0;
        let mut consumed = 0;
        while let Some(nl) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + nl;
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                emit(&chunk[start..end], &mut f);
            } else {
                self.partial.extend_from_slice(&chunk[start..end]);
                emit(&self.partial, &mut f);
                // Readers live as long as their file's cursor: give a long line's memory back.
                self.partial = Vec::new();
            }
            start = end + 1;
            consumed = start;
        }
        if !self.skipping {
            let rest = &chunk[start..];
            if self.partial.len() + rest.len() > MAX_LINE {
                self.partial = Vec::new();
                self.skipping = true;
                self.huge_lines += 1;
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        consumed
    }

    /// Bytes waiting for a newline.
    #[cfg(test)]
    pub fn pending(&self) -> bool {
        !self.partial.is_empty() || self.skipping
    }
}

/// Reads `r` in chunks of `size` bytes, each handed to `f` until it returns false or `r` ends.
/// An interrupted read is tried again; another error ends the reading and is returned.
pub fn read_chunks(r: &mut impl Read, size: usize, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
    let mut buf = vec![0u8; size];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !f(&buf[..n]) {
            return Ok(());
        }
    }
}

/// Hands every complete line of `r` (as a [`LineReader`] cuts them) to `f` until it returns
/// false, reading `size` bytes at a time; errors as [`read_chunks`].
pub fn read_lines(r: &mut impl Read, size: usize, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
    let mut reader = LineReader::default();
    let mut go = true;
    read_chunks(r, size, |chunk| {
        reader.feed(chunk, |line| {
            if go {
                go = f(line);
            }
        });
        go
    })
}

fn emit(line: &[u8], f: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(u8::is_ascii_whitespace) {
        f(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_roles() {
        let id = "003d9e5b-51f2-496b-911f-3564cacac047";
        assert_eq!(classify(&format!("{id}.jsonl")), FileRole::Transcript { id: id.into() });
        assert_eq!(
            classify(&format!("{id}.jsonl.reset.2026-04-05T04-22-28.629Z")),
            FileRole::Transcript { id: id.into() }
        );
        assert_eq!(classify(&format!("{id}.jsonl.deleted.2026-04-05")), FileRole::Transcript { id: id.into() });
        for ignored in [
            format!("{id}.jsonl.bak.1"),
            format!("{id}.checkpoint.aaaa.jsonl"),
            format!("{id}.jsonl.lock"),
            format!("{id}.jsonl.tmp"),
            format!("{id}.jsonl.migrated"),
            format!("{id}.jsonl.deleted.2026.zst"),
            // OpenClaw 2026.9's temporary files while it writes a deleted session's archive.
            format!("{id}.jsonl.deleted.2026-12-06T01-47-33.847Z.028635f935684dcc84c48eea57e3176d.5d0c6c1e-2f4b-4e0e-9c3a-0c1d2e3f4a5b.jsonl-stage"),
            format!("{id}.jsonl.deleted.2026-12-06T01-47-33.847Z.028635f935684dcc84c48eea57e3176d.zst.5d0c6c1e-2f4b-4e0e-9c3a-0c1d2e3f4a5b.stage"),
            format!("{id}.jsonl.deleted.2026-12-06T01-47-33.847Z.028635f935684dcc84c48eea57e3176d.zst.5d0c6c1e-2f4b-4e0e-9c3a-0c1d2e3f4a5b.tmp"),
            "notes.txt".into(),
        ] {
            assert_eq!(classify(&ignored), FileRole::Ignored, "{ignored}");
        }
        assert_eq!(classify("sessions.json"), FileRole::Index);
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let mut r = LineReader::default();
        let mut got: Vec<String> = Vec::new();
        let n = r.feed(b"{\"a\":1}\n{\"b\"", |l| got.push(String::from_utf8_lossy(l).into()));
        assert_eq!(n, 8);
        assert_eq!(got, vec!["{\"a\":1}"]);
        assert!(r.pending());
        let n = r.feed(b":2}\r\n\n", |l| got.push(String::from_utf8_lossy(l).into()));
        assert_eq!(n, 6);
        assert_eq!(got, vec!["{\"a\":1}", "{\"b\":2}"]);
        assert!(!r.pending());
    }

    #[test]
    fn huge_lines_are_skipped_and_counted() {
        let mut r = LineReader::default();
        let mut got = 0;
        let big = vec![b'x'; MAX_LINE / 2 + 1];
        r.feed(&big, |_| got += 1);
        r.feed(&big, |_| got += 1);
        r.feed(b"tail\n{}\n", |_| got += 1);
        assert_eq!(got, 1);
        assert_eq!(r.huge_lines, 1);
    }

    /// A reader that hands out `data` a few bytes at a time, interrupted before each read,
    /// then fails with `end` (or ends).
    struct Trickle {
        data: Vec<u8>,
        interrupted: bool,
        end: Option<std::io::ErrorKind>,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupted = !self.interrupted;
            if self.interrupted {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.data.is_empty() {
                return self.end.map_or(Ok(0), |k| Err(k.into()));
            }
            let n = self.data.len().min(buf.len()).min(5);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn lines_are_read_through_interruptions_until_told_to_stop() {
        let trickle = |end| Trickle { data: b"one\r\n\ntwo\nthree\nfour\npartial".to_vec(), interrupted: false, end };
        let mut got = Vec::new();
        read_lines(&mut trickle(None), 16, |l| {
            got.push(String::from_utf8_lossy(l).into_owned());
            true
        })
        .unwrap();
        // A last line without its newline is not a line yet.
        assert_eq!(got, ["one", "two", "three", "four"]);
        got.clear();
        read_lines(&mut trickle(None), 16, |l| {
            got.push(String::from_utf8_lossy(l).into_owned());
            got.len() < 2
        })
        .unwrap();
        assert_eq!(got, ["one", "two"]);
        let err = read_lines(&mut trickle(Some(std::io::ErrorKind::PermissionDenied)), 16, |_| true);
        assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::PermissionDenied);
        // Chunks stop when told to: nothing is read after.
        let mut r = trickle(None);
        let mut chunks = 0;
        read_chunks(&mut r, 3, |_| {
            chunks += 1;
            chunks < 2
        })
        .unwrap();
        assert_eq!((chunks, r.data.len()), (2, 28 - 6));
    }

    #[test]
    fn sessions_json_merges_keys_of_one_session() {
        let text = r#"{
          "agent:main:cron:job1": {"sessionId": "s1", "label": "Cron: x", "updatedAt": 5},
          "agent:main:cron:job1:run:s1": {"sessionId": "s1", "status": "done", "modelProvider": "p", "model": "m"},
          "agent:main:subagent:u": {"sessionId": "s2", "spawnedBy": "agent:main:main", "deliveryContext": {"channel": "whatsapp"}},
          "broken": 7
        }"#;
        let m = read_sessions_json(std::io::Cursor::new(text), text.len() as u64).unwrap();
        assert_eq!(m.len(), 2);
        let s1 = m.iter().find(|x| x.id == "s1").unwrap();
        assert_eq!(s1.key.as_deref(), Some("agent:main:cron:job1"));
        assert_eq!(s1.status.as_deref(), Some("done"));
        assert_eq!(s1.model.as_deref(), Some("p/m"));
        let s2 = m.iter().find(|x| x.id == "s2").unwrap();
        assert_eq!(s2.parent_key.as_deref(), Some("agent:main:main"));
        assert_eq!(s2.channel.as_deref(), Some("whatsapp"));
        // A file too big to be read whole is streamed: the same records. A truncated file is
        // an error either way.
        let cursor = std::io::Cursor::new;
        assert_eq!(read_sessions_json(cursor(text), u64::MAX).unwrap(), m);
        // One that grew past the limit after its size was taken: streamed from its start.
        assert_eq!(read_index(cursor(text), 10, 100).unwrap(), m);
        let cut = &text[..text.len() / 2];
        assert!(read_sessions_json(cursor(cut), cut.len() as u64).unwrap_err().starts_with("sessions.json: "));
        assert!(read_sessions_json(cursor(cut), u64::MAX).is_err());
        assert!(read_index(cursor(cut), 10, 100).is_err());
    }
}
