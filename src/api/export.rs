//! `GET /api/sessions/<id or key>/export?format=json|jsonl|md|csv`: one session as a file to
//! download. `jsonl` is the transcript as OpenClaw stored it (one line per event or row,
//! redacted); `json` is clawmetry's session summary and every rendered event; `md` a readable
//! transcript (turns, tool calls folded, costs) to paste into an issue or an LLM; `csv` one row
//! per model call with its cost as the index counts it.
//!
//! Exports are streamed like `/api/events`: the connection thread writes them, a line at a time
//! through one buffer, so a 200 MB transcript is never held in memory and no handler thread
//! waits on a slow download. At most [`MAX_EXPORTS`] run at once; more get a 503. The answer
//! has no length (the connection closes after it): a read that fails half-way ends the file
//! early, and the `json` export then says so in its `error` field.
//!
//! The sessions list (`/api/sessions?format=csv|json`) is exported by `sessions.rs`: it comes
//! from the index, not from transcripts.

use super::transcript::{for_each_line, locate, Location};
use super::usage::csv_field;
use super::{ApiError, Ctx, Req};
use crate::http::server::Reply;
use crate::model::{LineKind, Tally};
use crate::pricing::PriceTable;
use crate::sources::transcript::{render, summarize, KindFilter};
use serde_json::Value;
use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

/// Exports running at most; more get a 503 with a JSON error.
pub const MAX_EXPORTS: usize = 8;
static OPEN: super::Places = super::Places::new(MAX_EXPORTS);

/// The text of a tool's arguments or result kept in the Markdown export; the rest is cut (the
/// `jsonl` and `json` exports keep everything).
const MD_BLOCK_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Json,
    Jsonl,
    Markdown,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "md" | "markdown" => Format::Markdown,
            "csv" => Format::Csv,
            _ => return None,
        })
    }

    fn ext(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Markdown => "md",
            Format::Csv => "csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Jsonl => "application/x-ndjson; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Answers an export request: a refusal (400 format, 404 session, 503 too many exports), or the
/// stream that writes the file.
pub fn open(ctx: &Ctx, req: &Req, id: &str) -> Reply {
    match prepare(ctx, req, id) {
        Ok(r) => r,
        Err(e) => Reply::Resp(e.into()),
    }
}

fn prepare(ctx: &Ctx, req: &Req, id: &str) -> Result<Reply, ApiError> {
    let format = Format::parse(req.q("format").unwrap_or("json"))
        .ok_or_else(|| ApiError::bad_request("format: use json, jsonl, md or csv"))?;
    let (loc, mut session) = locate(ctx, id).ok_or_else(|| ApiError::not_found(&format!("session {id:?}")))?;
    crate::redact::value(&mut session);
    let prices = ctx.index.read().prices.clone();
    // Held while the export is written.
    let Some(place) = OPEN.take() else {
        return Err(ApiError::unavailable(format!(
            "too many exports running (limit {MAX_EXPORTS}); try again shortly"
        ))
        .with_header("Retry-After", "5"));
    };
    let head_only = req.method == "HEAD";
    let name = format!("{}.{}", file_stem(session["id"].as_str().unwrap_or("session")), format.ext());
    Ok(Reply::Stream(Box::new(move |out: &mut dyn Write| {
        let _place = place;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Cache-Control: no-store\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n",
            format.content_type()
        );
        let mut w = BufWriter::with_capacity(64 * 1024, out);
        if w.write_all(head.as_bytes()).is_ok() && !head_only {
            // An error here is the client gone: nothing left to tell it.
            let _ = write_body(&mut w, format, &loc, &session, &prices);
        }
        let _ = w.flush();
    })))
}

/// A file name made of the session id's safe characters.
fn file_stem(id: &str) -> String {
    let s: String =
        id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(100).collect();
    if s.trim_matches('.').is_empty() {
        "session".into()
    } else {
        s
    }
}

pub(super) fn write_body(
    w: &mut dyn Write,
    format: Format,
    loc: &Location,
    session: &Value,
    prices: &Arc<PriceTable>,
) -> io::Result<()> {
    let cost_of = |m: &str, u: &crate::model::Usage| prices.cost(m, u);
    match format {
        Format::Jsonl => {
            each_line(loc, |_, line| {
                let text = String::from_utf8_lossy(line);
                w.write_all(crate::redact::text(&text).as_bytes())?;
                w.write_all(b"\n")
            })?;
        }
        Format::Json => {
            w.write_all(b"{\"session\":")?;
            serde_json::to_writer(&mut *w, session)?;
            w.write_all(b",\"events\":[")?;
            let (mut n, mut malformed) = (0u64, 0u64);
            let end = each_line(loc, |seq, line| match render(line, seq, KindFilter::All) {
                Ok(Some(mut ev)) => {
                    crate::redact::value(&mut ev);
                    if n > 0 {
                        w.write_all(b",")?;
                    }
                    n += 1;
                    serde_json::to_writer(&mut *w, &ev).map_err(io::Error::from)
                }
                Ok(None) => Ok(()),
                Err(_) => {
                    malformed += 1;
                    Ok(())
                }
            })?;
            write!(w, "],\"malformed\":{}", malformed + end.unreadable)?;
            if let Some(e) = end.error {
                w.write_all(b",\"error\":")?;
                serde_json::to_writer(&mut *w, &format!("cannot read the whole transcript: {e}"))?;
            }
            w.write_all(b"}")?;
        }
        Format::Csv => {
            w.write_all(
                b"seq,ts,model,input,output,cacheRead,cacheWrite,reasoning,totalTokens,cost,costEstimated,stopReason\r\n",
            )?;
            each_line(loc, |seq, line| {
                let Some((s, t)) = model_call(line, &cost_of) else { return Ok(()) };
                let u = &t.usage;
                write!(
                    w,
                    "{seq},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                    s.ts_ms.map(crate::timefmt::iso).unwrap_or_default(),
                    csv_field(s.model.as_deref().unwrap_or("")),
                    u.input,
                    u.output,
                    u.cache_read,
                    u.cache_write,
                    u.reasoning,
                    u.total_tokens(),
                    u.cost,
                    t.estimated_cost_calls > 0,
                    csv_field(s.stop_reason.as_deref().unwrap_or("")),
                )
            })?;
        }
        Format::Markdown => {
            md_header(w, session)?;
            let end = each_line(loc, |seq, line| {
                let Ok(Some(mut ev)) = render(line, seq, KindFilter::All) else { return Ok(()) };
                crate::redact::value(&mut ev);
                let call = if ev["kind"] == "assistant" { model_call(line, &cost_of) } else { None };
                md_event(w, &ev, call.map(|(_, t)| t.usage.cost))
            })?;
            if let Some(e) = end.error {
                write!(w, "\n---\n\n*The transcript could not be read to its end: {}*\n", md_text(&e))?;
            }
        }
    }
    Ok(())
}

/// How reading a transcript ended (when every line was written).
struct End {
    /// Why the read stopped early.
    error: Option<String>,
    /// Lines (rows) that could not be read.
    unreadable: u64,
}

/// Feeds every readable line to `f` until it fails (the client went away): that error, else how
/// the read ended.
fn each_line(loc: &Location, mut f: impl FnMut(u64, &[u8]) -> io::Result<()>) -> io::Result<End> {
    let mut failed: Option<io::Error> = None;
    let mut unreadable = 0u64;
    let read = for_each_line(loc, |seq, line| {
        if failed.is_some() {
            return;
        }
        match line {
            Ok(l) => failed = f(seq, l).err(),
            Err(_) => unreadable += 1,
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(End { error: read.err(), unreadable }),
    }
}

/// A line that is a model call: its summary and the one-line tally the index adds for it (cost
/// from the line, else from the price table, capped as the index caps it).
fn model_call(
    line: &[u8],
    cost_of: &dyn Fn(&str, &crate::model::Usage) -> f64,
) -> Option<(crate::model::LineSummary, Tally)> {
    let s = summarize(line).ok()?;
    if s.kind != LineKind::Assistant || s.injected || s.model.is_none() || s.usage.is_none() {
        return None;
    }
    let mut t = Tally::default();
    t.add_line(&s, cost_of);
    Some((s, t))
}

// ---- Markdown ----

fn md_header(w: &mut dyn Write, s: &Value) -> io::Result<()> {
    let str_of = |k: &str| s[k].as_str().filter(|v| !v.is_empty());
    let title = str_of("label").or(str_of("key")).or(str_of("id")).unwrap_or("session");
    writeln!(w, "# {}\n", md_text(title))?;
    let time = |k: &str| s[k].as_i64().map(crate::timefmt::iso).unwrap_or_else(|| "—".into());
    let mut rows: Vec<(&str, String)> = vec![("Session", code(str_of("id").unwrap_or("")))];
    if let Some(k) = str_of("key") {
        rows.push(("Key", code(k)));
    }
    rows.push(("Agent", md_text(str_of("agent").unwrap_or("—")).into_owned()));
    if let Some(m) = str_of("model") {
        rows.push(("Model", code(m)));
    }
    rows.push(("Started", time("firstMs")));
    rows.push(("Ended", time("lastMs")));
    let t = &s["tokens"];
    rows.push((
        "Tokens",
        format!(
            "{} (input {}, output {}, cache read {}, cache write {})",
            t["total"], t["input"], t["output"], t["cacheRead"], t["cacheWrite"]
        ),
    ));
    rows.push(("Cost", format!("${}", s["cost"].as_f64().unwrap_or(0.0))));
    rows.push(("Messages", format!("{} ({} tool calls, {} errors)", s["messages"], s["toolCalls"], s["errors"])));
    for (k, v) in rows {
        writeln!(w, "- **{k}:** {v}")?;
    }
    writeln!(w, "\n*Exported by clawmetry; secrets redacted.*\n\n---")
}

fn md_event(w: &mut dyn Write, ev: &Value, cost: Option<f64>) -> io::Result<()> {
    let ts = ev["ts"].as_i64().map(|t| format!(" · {}", crate::timefmt::iso(t))).unwrap_or_default();
    let blocks: &[Value] = ev["blocks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    match ev["kind"].as_str().unwrap_or("") {
        "user" => {
            writeln!(w, "\n### 👤 User{ts}\n")?;
            for b in blocks {
                match b["type"].as_str() {
                    Some("text") => writeln!(w, "{}\n", quote(&md_text(b["text"].as_str().unwrap_or(""))))?,
                    Some("image") => writeln!(w, "> *[image]*\n")?,
                    _ => {}
                }
            }
        }
        "assistant" => {
            let mut about = Vec::new();
            if let Some(m) = ev["model"].as_str() {
                about.push(code(m));
            }
            let u = &ev["usage"];
            if u.is_object() {
                about.push(format!("{} in / {} out", u["input"], u["output"]));
                if u["cacheRead"].as_u64().unwrap_or(0) + u["cacheWrite"].as_u64().unwrap_or(0) > 0 {
                    about.push(format!("cache {} read / {} write", u["cacheRead"], u["cacheWrite"]));
                }
            }
            if let Some(c) = cost {
                about.push(format!("${c}"));
            }
            if ev["injected"] == true {
                about.push("injected by OpenClaw, not a model call".into());
            }
            let about = if about.is_empty() { String::new() } else { format!("\n\n*{}*", about.join(" · ")) };
            writeln!(w, "\n### 🤖 Assistant{ts}{about}\n")?;
            if ev["stopReason"] == "error" {
                let msg = ev["errorMessage"].as_str().unwrap_or("the model call failed");
                writeln!(w, "> ⚠️ **Error:** {}\n", md_text(msg))?;
            }
            for b in blocks {
                match b["type"].as_str() {
                    Some("text") => writeln!(w, "{}\n", md_text(b["text"].as_str().unwrap_or("")))?,
                    Some("thinking") => folded(w, "💭 Thinking", "text", b["text"].as_str().unwrap_or(""))?,
                    Some("tool_call") => {
                        let name = b["name"].as_str().unwrap_or("tool");
                        let args = match &b["arguments"] {
                            Value::String(s) => s.clone(),
                            v => serde_json::to_string_pretty(v).unwrap_or_default(),
                        };
                        folded(w, &format!("🔧 {name}"), "json", &args)?;
                    }
                    Some("image") => writeln!(w, "*[image]*\n")?,
                    _ => {}
                }
            }
        }
        "tool_result" => {
            let name = ev["toolName"].as_str().unwrap_or("tool");
            let title =
                if ev["isError"] == true { format!("❌ {name} failed") } else { format!("📄 {name} result") };
            let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            folded(w, &title, "text", &text.join("\n"))?;
        }
        "compaction" => {
            let before = ev["tokensBefore"].as_u64().map(|n| format!(" ({n} tokens before)")).unwrap_or_default();
            writeln!(w, "\n> 🗜️ **Context compacted**{before}{ts}\n")?;
            if let Some(s) = ev["summary"].as_str() {
                folded(w, "Compaction summary", "text", s)?;
            }
        }
        "model_change" => {
            let m = format!("{}/{}", ev["provider"].as_str().unwrap_or(""), ev["modelId"].as_str().unwrap_or(""));
            writeln!(w, "\n*Model changed to {}*{ts}\n", code(m.trim_start_matches('/')))?;
        }
        "thinking_level" => {
            writeln!(w, "\n*Thinking level: {}*\n", md_text(ev["thinkingLevel"].as_str().unwrap_or("?")))?;
        }
        // The header line, OpenClaw's own bookkeeping and unknown lines: in the json export.
        _ => {}
    }
    Ok(())
}

/// A folded block: `<details>` with a fenced body, cut to `MD_BLOCK_MAX` bytes.
fn folded(w: &mut dyn Write, title: &str, lang: &str, body: &str) -> io::Result<()> {
    let (body, cut) = match body.char_indices().nth(MD_BLOCK_MAX) {
        Some((i, _)) => (&body[..i], body.len() - i),
        None => (body, 0),
    };
    let fence = fence_for(body);
    writeln!(w, "<details><summary>{}</summary>\n", html_text(title))?;
    writeln!(w, "{fence}{lang}\n{}\n{fence}", body.trim_end_matches('\n'))?;
    if cut > 0 {
        writeln!(w, "\n*… {cut} more bytes (in the jsonl export)*")?;
    }
    writeln!(w, "\n</details>\n")
}

/// A code fence longer than any run of backticks in `body`.
fn fence_for(body: &str) -> String {
    "`".repeat((backtick_run(body) + 1).max(3))
}

/// The longest run of backticks in `s`.
fn backtick_run(s: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// Inline code that survives backticks in its text.
fn code(s: &str) -> String {
    let fence = "`".repeat(backtick_run(s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Text for a `<summary>`: HTML-escaped, on one line.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace(['\n', '\r'], " ")
}

/// Text from the transcript as Markdown: `<` outside code (fenced blocks and inline spans) is
/// escaped, so that no HTML in a message starts a tag or comment that swallows what follows; a
/// fence left open is closed.
fn md_text(s: &str) -> Cow<'_, str> {
    if !s.contains('<') && !s.contains("```") && !s.contains("~~~") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut fence: Option<String> = None;
    for line in s.split('\n') {
        let t = line.trim_start();
        let marker: String = t.chars().take_while(|c| *c == '`' || *c == '~').collect();
        let is_fence = marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap_or('`'));
        match &fence {
            Some(open) => {
                out.push_str(line);
                if is_fence && marker.starts_with(open.as_str()) && t[marker.len()..].trim().is_empty() {
                    fence = None;
                }
            }
            None if is_fence => {
                out.push_str(line);
                fence = Some(marker);
            }
            None => escape_line(line, &mut out),
        }
        out.push('\n');
    }
    out.pop();
    if let Some(open) = fence {
        out.push('\n');
        out.push_str(&open);
    }
    Cow::Owned(out)
}

/// One line outside a fence: `<` escaped except inside inline code spans.
fn escape_line(line: &str, out: &mut String) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let n = b[i..].iter().take_while(|c| **c == b'`').count();
            let ticks = &line[i..i + n];
            // The span ends at the next run of exactly as many backticks.
            let mut j = i + n;
            let mut close = None;
            while let Some(k) = line[j..].find(ticks) {
                let at = j + k;
                let m = b[at..].iter().take_while(|c| **c == b'`').count();
                if m == n {
                    close = Some(at + n);
                    break;
                }
                j = at + m;
            }
            match close {
                Some(end) => {
                    out.push_str(&line[i..end]);
                    i = end;
                }
                None => {
                    out.push_str(ticks);
                    i += n;
                }
            }
            continue;
        }
        let next = line[i..].find(['`', '<']).map_or(line.len(), |k| i + k);
        if next == i {
            out.push_str("&lt;");
            i += 1;
        } else {
            out.push_str(&line[i..next]);
            i = next;
        }
    }
}

/// Every line as a block quote.
fn quote(s: &str) -> String {
    s.split('\n').map(|l| if l.is_empty() { ">".to_string() } else { format!("> {l}") }).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_text_escapes_html_outside_code() {
        assert_eq!(md_text("a <b> c"), "a &lt;b> c");
        assert_eq!(md_text("use `<div>` here <x"), "use `<div>` here &lt;x");
        assert_eq!(md_text("``a ` <b``<c"), "``a ` <b``&lt;c");
        assert_eq!(md_text("x\n```html\n<p>\n```\n<q"), "x\n```html\n<p>\n```\n&lt;q");
        // A fence left open is closed, so the rest of the export stays Markdown.
        assert_eq!(md_text("```\n<p>"), "```\n<p>\n```");
        assert_eq!(md_text("unmatched ` <b"), "unmatched ` &lt;b");
        assert!(matches!(md_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
        assert_eq!(code("x"), "`x`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
    }

    #[test]
    fn file_names_keep_safe_characters() {
        assert_eq!(file_stem("../x y"), "..xy");
        assert_eq!(file_stem("/"), "session");
    }

    #[test]
    fn a_tool_call_is_folded_with_its_arguments() {
        let line = crate::sources::transcript::tests::ASSISTANT_TOOL.as_bytes();
        let ev = render(line, 3, KindFilter::All).unwrap().unwrap();
        let mut out = Vec::new();
        md_event(&mut out, &ev, Some(0.0166662)).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.contains("<details><summary>🔧 exec</summary>\n\n```json\n{\n  \"command\""), "{md}");
        assert!(md.contains("$0.0166662") && md.contains("4211 in / 18 out"), "{md}");
        let ev =
            render(crate::sources::transcript::tests::TOOL_RESULT.as_bytes(), 4, KindFilter::All).unwrap().unwrap();
        let mut out = Vec::new();
        md_event(&mut out, &ev, None).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(
            md.starts_with("<details><summary>📄 exec result</summary>\n\n```text\nsub-agent-exec-ok\nvm\n```"),
            "{md}"
        );
    }
}
