//! What is searchable in a transcript line, how it is cut into words, and how a query typed by
//! a person becomes an FTS5 expression that cannot be misread as FTS5 syntax.
//!
//! Words are what SQLite's `unicode61` tokenizer makes of the text (letters and digits; case
//! and diacritics folded), with one addition: Chinese, Japanese and Korean have no spaces
//! between words, so every CJK character is made a word of its own by putting a zero-width
//! space (a separator to `unicode61`, invisible in a snippet) next to it. A CJK query then
//! becomes the phrase of its characters, which matches them side by side: `中文` finds `用中文写`.

use crate::sources::transcript::{render, KindFilter};
use serde_json::Value;

/// The text of one event kept at most (a tool result reading a big file is cut; the words past
/// this are not found).
pub const MAX_TEXT: usize = 64 * 1024;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Words in a query at most.
pub const MAX_QUERY_WORDS: usize = 32;

/// Between a CJK character and a letter, digit or other CJK character.
const SPLIT: char = '\u{200B}';

/// One searchable event.
#[derive(Debug, PartialEq)]
pub struct Doc {
    /// `user`, `assistant`, `tool_result`, `compaction` or `custom`.
    pub kind: &'static str,
    pub ts: Option<i64>,
    /// The tool called (assistant) or answered (tool result), when there is one.
    pub tool: Option<String>,
    /// Redacted, CJK-spread, at most [`MAX_TEXT`] bytes before spreading.
    pub text: String,
}

/// The searchable part of a transcript line: message text, thinking, tool names, tool
/// arguments (as JSON), tool results, errors, compaction summaries. None for lines without any
/// (headers, model changes) and for lines that do not parse.
pub fn doc_of(line: &[u8]) -> Option<Doc> {
    let ev = render(line, 0, KindFilter::All).ok()??;
    let kind = match ev["kind"].as_str()? {
        "user" => "user",
        "assistant" => "assistant",
        "tool_result" => "tool_result",
        "compaction" => "compaction",
        "custom" => "custom",
        _ => return None,
    };
    let mut text = String::new();
    let mut tool = ev["toolName"].as_str().map(str::to_string);
    let mut add = |s: &str| {
        if !s.trim().is_empty() && text.len() < MAX_TEXT {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(s);
        }
    };
    if let Some(name) = &tool {
        add(name);
    }
    for b in ev["blocks"].as_array().into_iter().flatten() {
        match b["type"].as_str().unwrap_or("") {
            "text" | "thinking" => add(b["text"].as_str().unwrap_or("")),
            "tool_call" => {
                let name = b["name"].as_str().unwrap_or("");
                if tool.is_none() && !name.is_empty() {
                    tool = Some(name.to_string());
                }
                add(name);
                match &b["arguments"] {
                    Value::String(s) => add(s),
                    Value::Null => {}
                    v => add(&v.to_string()),
                }
            }
            _ => {}
        }
    }
    for k in ["errorMessage", "summary"] {
        if let Some(s) = ev[k].as_str() {
            add(s);
        }
    }
    if let Some(s) = ev["content"].as_str() {
        add(s);
    }
    if text.trim().is_empty() {
        return None;
    }
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let text = spread_cjk(&crate::redact::text(&text));
    Some(Doc { kind, ts: ev["ts"].as_i64(), tool, text })
}

/// Han, Hiragana, Katakana, Hangul and their extensions: scripts written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3100..=0x312F     // Bopomofo
        | 0x3131..=0x318F     // Hangul compatibility jamo
        | 0x31F0..=0x31FF     // Katakana phonetic extensions
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0xFF66..=0xFF9D     // half-width Katakana
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// `s` with a [`SPLIT`] between a CJK character and a neighbouring letter, digit or CJK
/// character; `s` unchanged when it has no CJK.
pub fn spread_cjk(s: &str) -> String {
    if !s.chars().any(is_cjk) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if let Some(p) = prev {
            if (is_cjk(p) || is_cjk(c)) && p.is_alphanumeric() && c.is_alphanumeric() {
                out.push(SPLIT);
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// A snippet as SQLite's `snippet()` gives it (hits between `\x01` and `\x02`), cut into
/// `{text, hit}` parts without the zero-width spaces: the page builds it from text nodes, so
/// nothing in a transcript is ever read as HTML.
pub fn snippet_parts(s: &str) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut hit = false;
    let mut cur = String::new();
    let mut flush = |cur: &mut String, hit: bool| {
        if !cur.is_empty() {
            parts.push(serde_json::json!({"text": std::mem::take(cur), "hit": hit}));
        }
    };
    for c in s.chars() {
        match c {
            '\u{1}' => {
                flush(&mut cur, hit);
                hit = true;
            }
            '\u{2}' => {
                flush(&mut cur, hit);
                hit = false;
            }
            SPLIT => {}
            c => cur.push(c),
        }
    }
    flush(&mut cur, hit);
    parts
}

/// A query, checked and turned into an FTS5 expression.
#[derive(Debug, PartialEq)]
pub struct Query {
    /// The FTS5 `MATCH` expression; made only of quoted words, so no FTS5 syntax in the input
    /// can reach SQLite.
    pub fts: String,
    /// The words looked for (for the answer).
    pub words: Vec<String>,
}

/// What a person may type: words (all must occur), `"a phrase"` (side by side), `word*` (a
/// word beginning so) and `-word` (must not occur). Inside a term, anything that is not a
/// letter or a digit separates words of one phrase: `foo.bar` is the phrase `foo bar`, and
/// FTS5 operators are plain words (`NEAR(a b) OR c` looks for `near a`, `b`, `or` and `c`).
/// Errors are sentences for the person.
pub fn parse_query(q: &str) -> Result<Query, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("q: type a word to search for".into());
    }
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(format!("q: the query has {n} characters; at most {MAX_QUERY_CHARS}"));
    }
    // Terms: (words of the term, prefix, excluded).
    let mut terms: Vec<(Vec<String>, bool, bool)> = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let excluded = c == '-' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric() || *n == '"');
        if excluded {
            i += 1;
        }
        let (raw, quoted): (String, bool) = if chars[i] == '"' {
            let end = chars[i + 1..].iter().position(|c| *c == '"').map_or(chars.len(), |p| i + 1 + p);
            let s = chars[i + 1..end].iter().collect();
            i = (end + 1).min(chars.len());
            (s, true)
        } else {
            let end = chars[i..].iter().position(|c| c.is_whitespace()).map_or(chars.len(), |p| i + p);
            let s = chars[i..end].iter().collect();
            i = end;
            (s, false)
        };
        let prefix = !quoted && raw.ends_with('*');
        let words = words_of(&raw);
        if !words.is_empty() {
            terms.push((words, prefix, excluded));
        }
    }
    let count: usize = terms.iter().map(|t| t.0.len()).sum();
    if count == 0 {
        return Err("q: the query has no letters or digits to search for".into());
    }
    if count > MAX_QUERY_WORDS {
        return Err(format!("q: the query has {count} words; at most {MAX_QUERY_WORDS}"));
    }
    let phrase = |(words, prefix, _): &(Vec<String>, bool, bool)| {
        format!("\"{}\"{}", words.join(" "), if *prefix { "*" } else { "" })
    };
    let wanted: Vec<String> = terms.iter().filter(|t| !t.2).map(phrase).collect();
    let unwanted: Vec<String> = terms.iter().filter(|t| t.2).map(phrase).collect();
    if wanted.is_empty() {
        return Err("q: say what to find, not only what to leave out (-word)".into());
    }
    let mut fts = wanted.join(" AND ");
    if !unwanted.is_empty() {
        fts = format!("({fts}) NOT ({})", unwanted.join(" OR "));
    }
    let words = terms.into_iter().filter(|t| !t.2).flat_map(|t| t.0).collect();
    Ok(Query { fts, words })
}

/// The words of a piece of text as the index cuts them: runs of letters and digits, each CJK
/// character a word of its own.
fn words_of(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if is_cjk(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::transcript::tests::{ASSISTANT_TOOL, TOOL_RESULT};

    #[test]
    fn tool_calls_and_results_are_searchable() {
        let d = doc_of(ASSISTANT_TOOL.as_bytes()).unwrap();
        assert_eq!(d.kind, "assistant");
        assert_eq!(d.tool.as_deref(), Some("exec"));
        assert!(d.text.contains("echo sub-agent-exec-ok; hostname"), "{}", d.text);
        assert_eq!(d.ts, Some(1_795_554_370_754));
        let r = doc_of(TOOL_RESULT.as_bytes()).unwrap();
        assert_eq!(r.kind, "tool_result");
        assert_eq!(r.text, "exec\nsub-agent-exec-ok\nvm");
    }

    #[test]
    fn lines_without_text_are_not_documents() {
        assert_eq!(doc_of(br#"{"type":"session","id":"x","timestamp":"2026-11-24T21:06:10.754Z"}"#), None);
        assert_eq!(doc_of(br#"{"type":"model_change","provider":"a","modelId":"b"}"#), None);
        assert_eq!(doc_of(b"not json"), None);
        assert_eq!(doc_of(br#"{"type":"message","message":{"role":"user","content":"   "}}"#), None);
    }

    #[test]
    fn secrets_are_not_indexed_and_text_is_capped() {
        let key = format!("sk-ant-api03-{}", "A".repeat(40));
        let line = serde_json::json!({"type":"message","message":{"role":"user","content": format!("my key {key}")}});
        let d = doc_of(line.to_string().as_bytes()).unwrap();
        assert!(!d.text.contains(&key), "{}", d.text);
        let big = "word ".repeat(30_000);
        let line = serde_json::json!({"type":"message","message":{"role":"user","content": big}});
        assert_eq!(doc_of(line.to_string().as_bytes()).unwrap().text.len(), MAX_TEXT);
    }

    #[test]
    fn cjk_characters_become_words() {
        assert_eq!(spread_cjk("用中文写 ok"), "用\u{200B}中\u{200B}文\u{200B}写 ok");
        assert_eq!(spread_cjk("abc中d"), "abc\u{200B}中\u{200B}d");
        assert_eq!(spread_cjk("plain text"), "plain text");
        assert_eq!(words_of("中文"), vec!["中", "文"]);
        assert_eq!(parse_query("中文").unwrap().fts, "\"中 文\"");
    }

    #[test]
    fn snippets_are_parts_without_split_marks() {
        let parts = snippet_parts("…用\u{200B}\u{1}中\u{200B}文\u{2} ok");
        assert_eq!(
            parts,
            vec![
                serde_json::json!({"text": "…用", "hit": false}),
                serde_json::json!({"text": "中文", "hit": true}),
                serde_json::json!({"text": " ok", "hit": false}),
            ]
        );
    }

    #[test]
    fn queries_never_pass_fts_syntax_through() {
        let fts = |q: &str| parse_query(q).map(|q| q.fts);
        assert_eq!(fts("deploy failed").unwrap(), "\"deploy\" AND \"failed\"");
        assert_eq!(fts("\"disk full\" -retry").unwrap(), "(\"disk full\") NOT (\"retry\")");
        assert_eq!(fts("depl*").unwrap(), "\"depl\"*");
        assert_eq!(fts("foo.bar/baz").unwrap(), "\"foo bar baz\"");
        assert_eq!(fts("NEAR(a b) OR c").unwrap(), "\"NEAR a\" AND \"b\" AND \"OR\" AND \"c\"");
        assert_eq!(fts("\"unclosed").unwrap(), "\"unclosed\"");
        assert_eq!(fts("a-b").unwrap(), "\"a b\"");
        assert!(fts("").unwrap_err().contains("type a word"));
        assert!(fts("!!! ,,, \"\" * - ").unwrap_err().contains("no letters or digits"));
        assert!(fts("-only").unwrap_err().contains("not only what to leave out"));
        assert!(fts(&"x".repeat(501)).unwrap_err().contains("at most 500"));
        assert!(fts(&"a ".repeat(33)).unwrap_err().contains("at most 32"));
        assert!(fts(&"a".repeat(500)).is_ok());
    }
}
