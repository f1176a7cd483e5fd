//! A transcript line's event written as JSON straight into the answer's bytes: what the
//! transcript page shows. The bytes are exactly those of [`super::transcript::render`], then
//! [`redact::value`], then `serde_json::to_writer` (the tests and the fuzz target compare
//! them), without the `serde_json::Value`s in between, which cost ~20 µs an event:
//!
//! - the line is read into a [`Tape`] (`json_tape.rs`): tokens that point into the line, taken
//!   only where serde_json's `Value` takes the line and reads the same values;
//! - the event is worked out by the rules of `transcript::render` (its keys, its normalised
//!   usage and blocks, its filters) as a short list of members that refer to the tape;
//! - the writer gives the order of a `serde_json::Map` (a `BTreeMap`: keys sorted, a repeated
//!   key once, with its last value), serde_json's numbers and escapes, and redacts every string
//!   value as `redact::value` does (keys stay). A string without escapes is copied as it stands
//!   in the line (that is how serde_json writes it) when [`redact::may_hold_secret`] clears it;
//!   else its value is redacted and escaped. Objects passed through (a tool's arguments, `details`, `data`) are written
//!   member by member like the rest, as their keys may need sorting.
//!
//! A line the tape declines goes through `transcript::render`, which decides.
//!
//! Not for the timeline, exports, search or activity rows, which take fields out of the event:
//! they use `transcript::render`.

use super::json_tape::{Doc, Str, Tape, Tok};
use super::transcript::{epoch_to_ms, is_injected, render, utf8_lossy, DecodeError, KindFilter};
use crate::redact;
use serde::{Serialize, Serializer};
use serde_json::Number;

/// Writes the events of one page; its buffers are reused from line to line.
#[derive(Default)]
pub struct Renderer {
    tape: Tape,
    members: Vec<(&'static str, Val)>,
    /// Objects' members being sorted (a stack: nested objects sort above their parent's).
    order: Vec<(usize, usize)>,
}

impl Renderer {
    /// Writes the event of `line` (redacted) into `out` when it passes `filter`; whether it did.
    /// An error when the line is not JSON (then nothing is written).
    pub fn write(&mut self, out: &mut Vec<u8>, line: &[u8], seq: u64, filter: KindFilter) -> Result<bool, DecodeError> {
        self.decode(line, seq, filter, Some(out))
    }

    /// Whether the event of `line` passes `filter`, as [`Renderer::write`] would say, without
    /// writing it.
    pub fn passes(&mut self, line: &[u8], seq: u64, filter: KindFilter) -> Result<bool, DecodeError> {
        self.decode(line, seq, filter, None)
    }

    fn decode(
        &mut self,
        bytes: &[u8],
        seq: u64,
        filter: KindFilter,
        out: Option<&mut Vec<u8>>,
    ) -> Result<bool, DecodeError> {
        let text = utf8_lossy(bytes);
        if !self.tape.parse(&text) {
            // Malformed (then `render` says so) or a shape the tape leaves to `Value`.
            return Ok(match render(bytes, seq, filter)? {
                Some(mut ev) => {
                    if let Some(out) = out {
                        redact::value(&mut ev);
                        let _ = serde_json::to_writer(out, &ev);
                    }
                    true
                }
                None => false,
            });
        }
        let d = self.tape.doc(&text);
        self.members.clear();
        if !event(d, seq, filter, &mut self.members) {
            return Ok(false);
        }
        if let Some(out) = out {
            out.reserve(bytes.len());
            let mut w = Writer { d, order: &mut self.order };
            w.object_of(out, &self.members);
        }
        Ok(true)
    }
}

/// A member's value in the event.
#[derive(Debug, Clone, Copy)]
enum Val {
    /// A value of the line (a token of the tape), as it is.
    Tok(usize),
    Null,
    True,
    U64(u64),
    I64(i64),
    Static(&'static str),
    /// The normalised usage of this usage object.
    Usage(usize),
    /// The blocks of this content.
    Blocks(Option<usize>),
}

/// A value of the line, or null where it has none.
fn or_null(v: Option<usize>) -> Val {
    v.map_or(Val::Null, Val::Tok)
}

/// A string of the line as a value, or `""` where it is none (as `as_str().unwrap_or("")`).
fn str_or_empty(d: Doc, v: Option<usize>) -> Val {
    match v {
        Some(i) if matches!(d.tok(i), Tok::Str(_)) => Val::Tok(i),
        _ => Val::Static(""),
    }
}

/// Declares the keys the event is made of (of the line, its message, usage, cost and blocks):
/// `K::Name` for each, their spellings, and `key`, which finds one by its spelling.
macro_rules! keys {
    ($($name:ident = $text:literal,)*) => {
        #[derive(Clone, Copy)]
        #[allow(non_camel_case_types)]
        enum K { $($name,)* }
        const KEYS: &[&str] = &[$($text,)*];
        fn key(s: &str) -> Option<K> {
            Some(match s { $($text => K::$name,)* _ => return None })
        }
    };
}

keys! {
    api = "api", arguments = "arguments", cacheRead = "cacheRead", cacheWrite = "cacheWrite",
    cache_creation_input_tokens = "cache_creation_input_tokens",
    cache_read_input_tokens = "cache_read_input_tokens", content = "content", cost = "cost",
    customType = "customType", cwd = "cwd", data = "data", details = "details", display = "display",
    errorMessage = "errorMessage", firstKeptEntryId = "firstKeptEntryId", id = "id", input = "input",
    input_tokens = "input_tokens", isError = "isError", message = "message", mimeType = "mimeType",
    model = "model", modelId = "modelId", name = "name", output = "output",
    output_tokens = "output_tokens", parentId = "parentId", provenance = "provenance",
    provider = "provider", reasoningTokens = "reasoningTokens", reasoning_tokens = "reasoning_tokens",
    role = "role", stopReason = "stopReason", summary = "summary", text = "text", thinking = "thinking",
    thinkingLevel = "thinkingLevel", timestamp = "timestamp", tokensBefore = "tokensBefore",
    toolCallId = "toolCallId", toolName = "toolName", total = "total", type_ = "type", usage = "usage",
    version = "version",
}

/// No value (a `u32` keeps [`Fields`] small: it is made for every object the event reads).
const NONE: u32 = u32::MAX;

/// The values of an object's keys that the event reads (each key's last, as in a
/// `serde_json::Map`), found in one pass; none for anything but an object.
struct Fields([u32; KEYS.len()]);

impl Fields {
    fn of(d: Doc, v: Option<usize>) -> Fields {
        let mut f = Fields([NONE; KEYS.len()]);
        for (k, x) in v.into_iter().flat_map(|v| d.members(v)) {
            if let Some(k) = d.str(k).and_then(|k| key(&k)) {
                f.0[k as usize] = x as u32;
            }
        }
        f
    }

    fn get(&self, k: K) -> Option<usize> {
        let x = self.0[k as usize];
        (x != NONE).then_some(x as usize)
    }

    /// The value of the first of `keys` the object has.
    fn first(&self, keys: &[K]) -> Val {
        or_null(keys.iter().find_map(|&k| self.get(k)))
    }

    /// The `keys` the object has, as they are.
    fn take(&self, out: &mut Vec<(&'static str, Val)>, keys: &[K]) {
        for &k in keys {
            if let Some(x) = self.get(k) {
                out.push((KEYS[k as usize], Val::Tok(x)));
            }
        }
    }
}

/// Works out the event of a line as `transcript::render` does: its members in `out` (sorted by
/// key); false when it does not pass `filter`.
fn event(d: Doc, seq: u64, filter: KindFilter, out: &mut Vec<(&'static str, Val)>) -> bool {
    // A line that is no object is an event with no fields.
    let v = Fields::of(d, Some(Doc::ROOT));
    out.push(("seq", Val::U64(seq)));
    v.take(out, &[K::id, K::parentId]);
    let ts = v.get(K::timestamp).and_then(|t| match d.tok(t) {
        Tok::Str(_) => d.str(t).and_then(|s| crate::timefmt::parse_iso_ms(&s)),
        Tok::Int(_) | Tok::Num(_) => d.number(t).and_then(|n| n.as_f64()).map(epoch_to_ms),
        _ => None,
    });
    let ty = v.get(K::type_);
    let all = filter == KindFilter::All;
    let (kind, pass) = match ty.and_then(|t| d.str(t)).as_deref().unwrap_or("") {
        "session" => {
            v.take(out, &[K::version, K::cwd]);
            out.push(("sessionId", or_null(v.get(K::id))));
            ("session", all)
        }
        "model_change" => {
            v.take(out, &[K::provider, K::modelId]);
            ("model_change", all)
        }
        "thinking_level_change" => {
            v.take(out, &[K::thinkingLevel]);
            ("thinking_level", all)
        }
        "compaction" => {
            v.take(out, &[K::summary, K::tokensBefore, K::firstKeptEntryId]);
            ("compaction", all)
        }
        "custom" | "custom_message" => {
            v.take(out, &[K::customType, K::data, K::content]);
            ("custom", all)
        }
        // A message that is no object has no fields.
        "message" => message(d, &Fields::of(d, v.get(K::message)), out, filter),
        _ => {
            out.push(("type", str_or_empty(d, ty)));
            ("unknown", all)
        }
    };
    if !pass {
        return false;
    }
    out.push(("kind", Val::Static(kind)));
    out.push(("ts", ts.map_or(Val::Null, Val::I64)));
    // Stable: a key pushed twice keeps its order, and the writer keeps the later one.
    out.sort_by(|a, b| a.0.cmp(b.0));
    true
}

fn message(d: Doc, m: &Fields, out: &mut Vec<(&'static str, Val)>, filter: KindFilter) -> (&'static str, bool) {
    let text = |k: K| m.get(k).and_then(|x| d.str(x));
    let content = m.get(K::content);
    let has = kinds(d, content);
    let blocks = Val::Blocks(content);
    match text(K::role).as_deref().unwrap_or("") {
        "user" => {
            m.take(out, &[K::provenance]);
            out.push(("blocks", blocks));
            ("user", matches!(filter, KindFilter::All | KindFilter::Messages))
        }
        "assistant" => {
            let stop = text(K::stopReason);
            let injected = is_injected(text(K::provider).as_deref(), text(K::model).as_deref(), stop.as_deref());
            let error = stop.as_deref() == Some("error");
            m.take(out, &[K::provider, K::model, K::stopReason, K::errorMessage, K::api]);
            if injected {
                out.push(("injected", Val::True));
            }
            if let Some(u) = m.get(K::usage) {
                out.push(("usage", Val::Usage(u)));
            }
            let pass = match filter {
                KindFilter::All => true,
                KindFilter::Messages => has.text,
                KindFilter::Tools => has.tool_call,
                KindFilter::Thinking => has.thinking,
                KindFilter::Errors => error,
            };
            out.push(("blocks", blocks));
            ("assistant", pass)
        }
        "toolResult" | "tool" | "tool_result" => {
            let error = m.get(K::isError).is_some_and(|e| matches!(d.tok(e), Tok::Bool(true)));
            m.take(out, &[K::toolCallId, K::toolName, K::isError, K::details]);
            out.push(("blocks", blocks));
            (
                "tool_result",
                matches!(filter, KindFilter::All | KindFilter::Tools) || (filter == KindFilter::Errors && error),
            )
        }
        _ => {
            m.take(out, &[K::customType, K::display, K::details]);
            out.push(("role", str_or_empty(d, m.get(K::role))));
            out.push(("blocks", blocks));
            ("custom", filter == KindFilter::All)
        }
    }
}

/// What a content block becomes.
#[derive(PartialEq)]
enum Block {
    Text,
    Thinking,
    ToolCall,
    Image,
    /// `{raw, type}`.
    Other,
}

/// The block `b` (any value): what it becomes, its fields and its `type` (when a string).
fn block(d: Doc, b: usize) -> (Block, Fields, Option<usize>) {
    let f = Fields::of(d, Some(b));
    let t = f.get(K::type_).filter(|&t| matches!(d.tok(t), Tok::Str(_)));
    let kind = match t.and_then(|t| d.str(t)).as_deref().unwrap_or("") {
        "text" | "input_text" | "output_text" => Block::Text,
        "thinking" | "reasoning" => Block::Thinking,
        "toolCall" | "tool_use" | "toolUse" | "function_call" => Block::ToolCall,
        "image" => Block::Image,
        _ => Block::Other,
    };
    (kind, f, t)
}

/// The kinds of block an event has (what the filters look at).
#[derive(Default)]
struct Has {
    text: bool,
    thinking: bool,
    tool_call: bool,
}

fn kinds(d: Doc, content: Option<usize>) -> Has {
    let mut has = Has::default();
    match content.map(|c| (c, d.tok(c))) {
        Some((_, Tok::Str(_))) => has.text = true,
        Some((c, Tok::Arr { .. })) => {
            for b in d.items(c) {
                match block(d, b) {
                    (Block::Text, ..) => has.text = true,
                    (Block::Thinking, ..) => has.thinking = true,
                    (Block::ToolCall, ..) => has.tool_call = true,
                    // An unknown block keeps its type, which may be the name of a kind.
                    (Block::Other, _, Some(t)) => has.tool_call |= d.str(t).as_deref() == Some("tool_call"),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    has
}

/// Writes values in serde_json's way.
struct Writer<'t, 'o> {
    d: Doc<'t>,
    order: &'o mut Vec<(usize, usize)>,
}

/// A JSON string as serde_json writes it.
fn escaped(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = (&mut serde_json::Serializer::new(&mut *out)).serialize_str(s);
}

/// One of our own names (keys, kinds), which need no escape.
fn plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'), "{s}");
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn number(out: &mut Vec<u8>, n: &Number) {
    let _ = n.serialize(&mut serde_json::Serializer::new(&mut *out));
}

impl Writer<'_, '_> {
    /// The event's own members (sorted already).
    fn object_of(&mut self, out: &mut Vec<u8>, members: &[(&'static str, Val)]) {
        out.push(b'{');
        let mut first = true;
        for (i, (k, v)) in members.iter().enumerate() {
            // Of a key pushed twice, the later value.
            if members.get(i + 1).is_some_and(|(next, _)| next == k) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            plain(out, k);
            out.push(b':');
            self.val(out, *v);
        }
        out.push(b'}');
    }

    fn val(&mut self, out: &mut Vec<u8>, v: Val) {
        match v {
            Val::Tok(i) => self.tok(out, i),
            Val::Null => out.extend_from_slice(b"null"),
            Val::True => out.extend_from_slice(b"true"),
            Val::U64(x) => number(out, &x.into()),
            Val::I64(x) => number(out, &x.into()),
            Val::Static(s) => plain(out, s),
            Val::Usage(u) => self.usage(out, u),
            Val::Blocks(c) => self.blocks(out, c),
        }
    }

    /// A value of the line.
    fn tok(&mut self, out: &mut Vec<u8>, i: usize) {
        match self.d.tok(i) {
            Tok::Null => out.extend_from_slice(b"null"),
            Tok::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Tok::Int(n) => number(out, &(*n).into()),
            Tok::Num(_) => number(out, &self.d.number(i).unwrap_or_else(|| 0.into())),
            Tok::Str(s) => self.string(out, s, true),
            Tok::Arr { .. } => {
                out.push(b'[');
                for (n, x) in self.d.items(i).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    self.tok(out, x);
                }
                out.push(b']');
            }
            Tok::Obj { .. } => self.object(out, i),
        }
    }

    /// A string of the line; a value is redacted, a key is not.
    fn string(&self, out: &mut Vec<u8>, s: &Str, value: bool) {
        let raw = self.d.raw(s);
        if Doc::is_canonical(s) && !(value && redact::may_hold_secret(raw.as_bytes())) {
            out.reserve(raw.len() + 2);
            out.push(b'"');
            out.extend_from_slice(raw.as_bytes());
            out.push(b'"');
        } else if value {
            // A canonical one is here because the prefilter flagged it: scanned at once.
            let v = self.d.value(s);
            escaped(out, &if Doc::is_canonical(s) { redact::scan(&v) } else { redact::text(&v) });
        } else {
            escaped(out, &self.d.value(s));
        }
    }

    /// An object of the line in a `serde_json::Map`'s order: sorted by key, a repeated key once
    /// with its last value.
    fn object(&mut self, out: &mut Vec<u8>, i: usize) {
        let d = self.d;
        let key = |k: usize| d.str(k).unwrap_or_default();
        let base = self.order.len();
        self.order.extend(d.members(i));
        let end = self.order.len();
        let sorted = self.order[base..].windows(2).all(|w| key(w[0].0) < key(w[1].0));
        if !sorted {
            // Stable: of a repeated key, the line's last is last.
            self.order[base..].sort_by(|a, b| key(a.0).cmp(&key(b.0)));
        }
        out.push(b'{');
        let mut first = true;
        for j in base..end {
            let (k, v) = self.order[j];
            if !sorted && j + 1 < end && key(self.order[j + 1].0) == key(k) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            if let Tok::Str(s) = d.tok(k) {
                self.string(out, s, false);
            }
            out.push(b':');
            self.tok(out, v);
        }
        out.push(b'}');
        self.order.truncate(base);
    }

    /// Token counts under their usual names (the first of each pair that is a number), and the
    /// cost's total.
    fn usage(&mut self, out: &mut Vec<u8>, u: usize) {
        let d = self.d;
        let f = Fields::of(d, Some(u));
        let n = |keys: [K; 2]| -> u64 {
            let x = keys.iter().find_map(|&k| f.get(k).and_then(|x| d.number(x)).and_then(|n| n.as_f64()));
            x.unwrap_or(0.0) as u64
        };
        let cost = match f.get(K::cost).map(|c| (c, d.tok(c))) {
            Some((c, Tok::Obj { .. })) => or_null(Fields::of(d, Some(c)).get(K::total)),
            Some((c, Tok::Int(_) | Tok::Num(_))) => Val::Tok(c),
            _ => Val::Null,
        };
        let members = [
            ("cacheRead", Val::U64(n([K::cacheRead, K::cache_read_input_tokens]))),
            ("cacheWrite", Val::U64(n([K::cacheWrite, K::cache_creation_input_tokens]))),
            ("cost", cost),
            ("input", Val::U64(n([K::input, K::input_tokens]))),
            ("output", Val::U64(n([K::output, K::output_tokens]))),
            ("reasoning", Val::U64(n([K::reasoningTokens, K::reasoning_tokens]))),
        ];
        self.object_of(out, &members);
    }

    /// A message's content as blocks of `text`, `thinking`, `tool_call`, `image`; other blocks
    /// as `{raw, type}`.
    fn blocks(&mut self, out: &mut Vec<u8>, content: Option<usize>) {
        let d = self.d;
        match content.map(|c| (c, d.tok(c))) {
            Some((c, Tok::Str(_))) => {
                out.push(b'[');
                self.object_of(out, &[("text", Val::Tok(c)), ("type", Val::Static("text"))]);
                out.push(b']');
            }
            Some((c, Tok::Arr { .. })) => {
                out.push(b'[');
                for (n, b) in d.items(c).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    let (kind, f, t) = block(d, b);
                    // `type` sorts after every other key of a block.
                    match kind {
                        Block::Text => {
                            self.object_of(out, &[("text", f.first(&[K::text])), ("type", Val::Static("text"))])
                        }
                        Block::Thinking => self.object_of(
                            out,
                            &[("text", f.first(&[K::thinking, K::text])), ("type", Val::Static("thinking"))],
                        ),
                        Block::ToolCall => self.object_of(
                            out,
                            &[
                                ("arguments", f.first(&[K::arguments, K::input])),
                                ("id", f.first(&[K::id])),
                                ("name", f.first(&[K::name])),
                                ("type", Val::Static("tool_call")),
                            ],
                        ),
                        Block::Image => self
                            .object_of(out, &[("mimeType", f.first(&[K::mimeType])), ("type", Val::Static("image"))]),
                        Block::Other => self.object_of(out, &[("raw", Val::Tok(b)), ("type", str_or_empty(d, t))]),
                    }
                }
                out.push(b']');
            }
            _ => out.extend_from_slice(b"[]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::transcript::tests::{ASSISTANT_TOOL, TOOL_RESULT};

    const FILTERS: [KindFilter; 5] =
        [KindFilter::All, KindFilter::Messages, KindFilter::Tools, KindFilter::Thinking, KindFilter::Errors];

    /// What the Value path makes of a line: the bytes of its event, or whether it passed.
    fn old(line: &[u8], filter: KindFilter) -> Result<Option<Vec<u8>>, DecodeError> {
        Ok(render(line, 9, filter)?.map(|mut v| {
            redact::value(&mut v);
            serde_json::to_vec(&v).unwrap()
        }))
    }

    fn new(line: &[u8], filter: KindFilter) -> Result<Option<Vec<u8>>, DecodeError> {
        let mut out = Vec::new();
        let mut r = Renderer::default();
        let passed = r.write(&mut out, line, 9, filter)?;
        assert_eq!(r.passes(line, 9, filter), Ok(passed), "{}", String::from_utf8_lossy(line));
        assert!(passed || out.is_empty());
        Ok(passed.then_some(out))
    }

    /// Both renderers agree on `line` under every filter; the event under `All`, as text.
    fn same(line: &[u8]) -> Option<String> {
        for f in FILTERS {
            let (a, b) = (old(line, f), new(line, f));
            assert_eq!(
                a.as_ref().map(|o| o.as_deref().map(String::from_utf8_lossy)).map_err(|_| ()),
                b.as_ref().map(|o| o.as_deref().map(String::from_utf8_lossy)).map_err(|_| ()),
                "{f:?}: {}",
                String::from_utf8_lossy(line)
            );
        }
        new(line, KindFilter::All).ok().flatten().map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn real_lines_are_written_as_the_value_path_writes_them() {
        let ev = same(ASSISTANT_TOOL.as_bytes()).unwrap();
        assert!(ev.starts_with(r#"{"api":"openai-completions","blocks":[{"arguments":{"command":"echo"#), "{ev}");
        assert!(ev.contains(r#""usage":{"cacheRead":12544,"cacheWrite":0,"cost":0.0166662,"input":4211,"#), "{ev}");
        same(TOOL_RESULT.as_bytes()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lines");
        let mut n = 0;
        for f in std::fs::read_dir(dir).unwrap() {
            for line in std::fs::read(f.unwrap().path()).unwrap().split(|&c| c == b'\n') {
                same(line);
                n += 1;
            }
        }
        assert!(n > 50, "{n} lines");
    }

    #[test]
    fn secrets_are_redacted_wherever_they_are() {
        let key = "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd";
        // Escaped in the line (`\n` before it, `\u002d` for a dash, `\/`): found once unescaped.
        let lines = [
            format!(
                r#"{{"type":"message","id":"a","message":{{"role":"assistant","content":[{{"type":"toolCall","id":"c","name":"exec","arguments":{{"z":1,"env":"OPENAI_API_KEY={key}","cmd":["curl","-H","Authorization: Bearer abcdefghijklmnopqrstuvwx"]}}}},{{"type":"text","text":"line\n{key}"}}],"provider":"p","model":"m","errorMessage":"bad key {key}"}}}}"#
            ),
            r#"{"type":"message","message":{"role":"toolResult","toolCallId":"c","toolName":"exec","content":[{"type":"text","text":"sk\u002dproj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd"}],"details":{"aggregated":"x\tghp_16C7e42F292c6912E7710c838347Ae178B4a","exitCode":0},"isError":false}}"#.to_string(),
            format!(
                r#"{{"type":"custom","customType":"{key}","data":{{"url":"https:\/\/hooks.slack.com\/services\/T0AAAAAAA\/B0BBBBBBB\/XXXXXXXXXXXXXXXXXXXXXXXX"}}}}"#
            ),
            format!(r#"{{"type":"{key}","id":"{key}","parentId":["{key}"]}}"#),
            format!(
                r#"{{"type":"message","message":{{"role":"user","content":"{key}","provenance":{{"{key}":"{key}"}}}}}}"#
            ),
            format!(
                r#"{{"type":"message","message":{{"role":"assistant","content":[{{"type":"mystery","v":"{key}"}}],"usage":{{"cost":{{"total":"{key}"}}}}}}}}"#
            ),
        ];
        for line in &lines {
            let ev = same(line.as_bytes()).unwrap();
            // Keys stay, as `redact::value` leaves them.
            let ev = ev.replace(&format!(r#"{{"{key}":"[REDACTED]"}}"#), "{}");
            assert!(!ev.contains("sk-proj") && !ev.contains("ghp_") && !ev.contains("XXXXXXXX"), "{ev}");
            assert!(ev.contains(redact::MARK), "{ev}");
        }
    }

    #[test]
    fn escapes_unicode_numbers_and_repeated_keys() {
        for line in [
            // Escapes: unescaped once, written as serde_json writes them (`\/`, `\u00e9`, `\ud83d\ude00`).
            r#"{"type":"message","message":{"role":"user","content":[{"type":"text","text":"a\/b \u00e9 \ud83d\ude00 \" \\ \b\f\n\r\t \u0001 \u001F \u007f"}]}}"#,
            r#"{"type":"message","message":{"role":"user","content":"日本語 “quoted” \u2028 é"}}"#,
            // Keys with escapes and out of order, repeated at every level.
            r#"{"type":"custom","data":{"b":1,"a":2,"b":3,"\u0061":4,"c\"d":5},"data":{"z":[{"y":1,"x":2}],"a":null},"customType":"x"}"#,
            r#"{"type":"model_change","type":"session","id":"s","id":"t","version":3}"#,
            r#"{"type":"custom","data":{"b":1,"a":2,"b":{"y":3,"x":4,"y":5},"\u0061":6}}"#,
            r#"{"type":"message","message":{"role":"user","content":[{"type":"text","text":"x\u001By\u001b"}]}}"#,
            // Numbers: floats, exponents, big, negative, as strings.
            r#"{"type":"compaction","tokensBefore":1.50e3,"summary":"s","firstKeptEntryId":-0}"#,
            r#"{"type":"compaction","tokensBefore":18446744073709551616,"summary":-12,"firstKeptEntryId":1E-7}"#,
            r#"{"type":"message","timestamp":1.7e12,"message":{"role":"assistant","content":[],"usage":{"input":"12","output":3.7,"cacheRead":-4,"input_tokens":5,"cacheWrite":1e30,"cost":7}}}"#,
            r#"{"type":"message","timestamp":1700000000,"message":{"role":"assistant","usage":{"input":null,"input_tokens":"9","output_tokens":8,"cost":{"total":"1.5"}}}}"#,
            r#"{"type":"message","timestamp":-5,"message":{"role":"assistant","usage":[1,2],"stopReason":"error"}}"#,
            r#"{"type":"message","message":{"role":"assistant","usage":{"input_tokens":5,"input":3,"reasoning_tokens":2,"reasoningTokens":1.5}}}"#,
            r#"{"type":"message","timestamp":"2026-11-24T21:06:10.754+02:00","message":{"role":"assistant","usage":{"cost":{"input":1}}}}"#,
            r#"{"type":"message","timestamp":"not a time","message":{"role":"assistant","usage":{"cost":[1]},"provider":"openclaw"}}"#,
        ] {
            same(line.as_bytes()).unwrap();
        }
    }

    #[test]
    fn odd_shapes_and_missing_fields() {
        for line in [
            "{}",
            "[]",
            "[1,2]",
            "\"text\"",
            "42",
            "null",
            "true",
            r#"{"type":null}"#,
            r#"{"type":5,"id":{"x":1}}"#,
            r#"{"type":"message"}"#,
            r#"{"type":"message","message":null}"#,
            r#"{"type":"message","message":"hi"}"#,
            r#"{"type":"message","message":{}}"#,
            r#"{"type":"message","message":{"role":7,"content":[1,"x",null,{"type":7}]}}"#,
            r#"{"type":"message","message":{"role":"custom_role","customType":"c","display":false,"details":{"b":1,"a":2},"content":[]}}"#,
            r#"{"type":"message","message":{"role":"assistant","content":[{"type":"tool_call","name":"x"},{"type":"thinking","text":"t","thinking":null},{"type":"reasoning","text":"r"},{"type":"image","mimeType":"image/png","data":"AAAA"},{"type":"tool_use","input":{"q":1},"arguments":null},{"type":"function_call","input":{"q":2}},{"type":"output_text"}]}}"#,
            r#"{"type":"message","message":{"role":"assistant","content":[{"type":"thinking","thinking":"hm"}],"stopReason":"error","errorMessage":"boom","api":"x","model":"gateway-injected"}}"#,
            r#"{"type":"message","message":{"role":"tool","isError":true,"content":"failed"}}"#,
            r#"{"type":"message","message":{"role":"assistant","content":[{"type":"tool_call","name":"x"}]}}"#,
            r#"{"type":"message","message":{"role":"assistant","content":[{"type":"text","text":"t"}],"stopReason":"error"}}"#,
            r#"{"type":"message","message":{"role":"tool_result","isError":"true","content":{"type":"text"}}}"#,
            r#"{"type":"message","message":{"role":"toolResult","isError":false,"content":[{"type":"text","text":{"nested":["a",1]}}]}}"#,
            r#"{"type":"thinking_level_change","thinkingLevel":"high","parentId":null}"#,
            r#"{"type":"custom_message","content":[{"type":"text","text":"c"}],"customType":"note"}"#,
            r#"{"type":"session","version":1,"cwd":"/w"}"#,
            r#"{"type":"branch_summary","summary":"x"}"#,
            // serde_json's private token as a first key: `Value` reads it its own way.
            r#"{"$serde_json::private::RawValue":"{\"type\":\"session\",\"id\":\"x\"}"}"#,
            r#"{"type":"message","message":{"$serde_json::private::RawValue":"{\"role\":\"user\",\"content\":\"x\"}"}}"#,
            r#"{"type":"session","data":{"$serde_json::private::RawValue":5}}"#,
            r#"{"type":"session","x":1,"$serde_json::private::RawValue":"1"}"#,
        ] {
            same(line.as_bytes());
        }
    }

    #[test]
    fn malformed_and_not_utf8() {
        for line in [
            &b""[..],
            b"   ",
            b"{",
            b"{\"type\":\"message\"",
            b"{\"type\":\"message\"} x",
            b"{\"a\":1e400}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\\ud800x\"}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":[1,]}",
            b"{\"a\":NaN}",
            b"\xff\xfe{",
            b"{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":\"caf\xe9 \xf0\x9f\x98\"}}",
            b"{\"type\":\"session\",\"id\":\"\xc3\"}",
        ] {
            same(line);
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        same(deep.as_bytes());
        let deep = format!(r#"{{"type":"custom","data":{}1{}}}"#, "[".repeat(126), "]".repeat(126));
        assert!(same(deep.as_bytes()).is_some());
        // A bad byte in a text: read lossily, as the Value path does.
        let ev = same(b"{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":\"caf\xe9\"}}").unwrap();
        assert!(ev.contains("caf\u{fffd}"), "{ev}");
    }

    #[test]
    fn keys_are_found_by_their_spelling() {
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(key(k).map(|k| k as usize), Some(i));
        }
        assert!(key("Type").is_none() && key("").is_none());
    }

    #[test]
    fn the_comparison_can_fail() {
        // A different order, an unredacted secret or another number spelling are caught.
        let line = br#"{"type":"custom","data":{"b":"sk-aaaaaaaaaaaaaaaaaaaaaaaa","a":1.0}}"#;
        let mut v = render(line, 9, KindFilter::All).unwrap().unwrap();
        let plain = serde_json::to_vec(&v).unwrap();
        redact::value(&mut v);
        let good = serde_json::to_vec(&v).unwrap();
        assert_eq!(new(line, KindFilter::All).unwrap().unwrap(), good);
        assert_ne!(plain, good);
        assert_ne!(&line[..], &good[..]);
    }
}
