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
    /// Redacted, at most [`MAX_TEXT`] bytes (the index gets it through [`spread_cjk`]).
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
    let text = crate::redact::owned(text);
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

/// Characters of text a snippet shows at most, and before its first found word.
const SNIPPET_CHARS: usize = 200;
const SNIPPET_BEFORE: usize = 60;

/// The part of `text` around the first word the query looks for, as `{text, hit}` parts with
/// the found words marked (compared as the index does: case folded, each CJK character a
/// word; accents are not folded here, so such a word is found but may show unmarked). The page
/// builds it from text nodes: nothing of a transcript is ever read as HTML.
pub fn snippet(text: &str, q: &Query) -> Vec<Value> {
    // Words: byte ranges of runs of letters and digits, each CJK character alone.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let cjk = is_cjk(c);
        if let Some(s) = start {
            if cjk || !c.is_alphanumeric() {
                words.push((s, i));
                start = None;
            }
        }
        if cjk {
            words.push((i, i + c.len_utf8()));
        } else if c.is_alphanumeric() && start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let wanted = |w: &str| {
        let w = w.to_lowercase();
        q.words.iter().any(|(x, prefix)| if *prefix { w.starts_with(x.as_str()) } else { w == *x })
    };
    let hits: Vec<(usize, usize)> = words.into_iter().filter(|(a, b)| wanted(&text[*a..*b])).collect();
    // The window: from a little before the first hit, SNIPPET_CHARS characters.
    let first = hits.first().map_or(0, |h| h.0);
    let from = text[..first].char_indices().rev().nth(SNIPPET_BEFORE - 1).map_or(0, |(i, _)| i);
    let to = text[from..].char_indices().nth(SNIPPET_CHARS).map_or(text.len(), |(i, _)| from + i);
    let mut parts: Vec<(String, bool)> = Vec::new();
    let mut push = |s: &str, hit: bool| {
        // Runs of white space (newlines, indentation) become one space.
        let mut t = String::with_capacity(s.len());
        for c in s.chars() {
            if !c.is_whitespace() {
                t.push(c);
            } else if !t.ends_with(' ') {
                t.push(' ');
            }
        }
        // Side by side hits (the characters of a CJK phrase) make one mark.
        match parts.last_mut() {
            Some((last, h)) if *h == hit => last.push_str(&t),
            _ => parts.push((t, hit)),
        }
    };
    let mut at = from;
    if from > 0 {
        push("…", false);
    }
    for (a, b) in hits.into_iter().filter(|(a, b)| *a >= from && *b <= to) {
        if a > at {
            push(&text[at..a], false);
        }
        push(&text[a..b], true);
        at = b;
    }
    if at < to {
        push(&text[at..to], false);
    }
    if to < text.len() {
        push("…", false);
    }
    parts.into_iter().map(|(text, hit)| serde_json::json!({"text": text, "hit": hit})).collect()
}

/// A query, checked and turned into an FTS5 expression.
#[derive(Debug, PartialEq)]
pub struct Query {
    /// The FTS5 `MATCH` expression; made only of quoted words, so no FTS5 syntax in the input
    /// can reach SQLite.
    pub fts: String,
    /// The words looked for, lower case (for the answer and the snippets' marks), each with
    /// whether it is a prefix (the last word of a `word*` term).
    pub words: Vec<(String, bool)>,
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
    let words = terms
        .into_iter()
        .filter(|t| !t.2)
        .flat_map(|(words, prefix, _)| {
            let n = words.len();
            words.into_iter().enumerate().map(move |(i, w)| (w.to_lowercase(), prefix && i + 1 == n))
        })
        .collect();
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
    fn snippets_mark_the_words_around_the_first_hit() {
        let parts = |text: &str, q: &str| {
            snippet(text, &parse_query(q).unwrap())
                .iter()
                .map(|p| (p["text"].as_str().unwrap().to_string(), p["hit"].as_bool().unwrap()))
                .collect::<Vec<_>>()
        };
        let p = |s: &str, hit: bool| (s.to_string(), hit);
        assert_eq!(parts("用中文写 ok", "中文"), vec![p("用", false), p("中文", true), p("写 ok", false)]);
        assert_eq!(
            parts("The Gateway\n\nrestarted; gateways too", "gateway"),
            vec![p("The ", false), p("Gateway", true), p(" restarted; gateways too", false)]
        );
        assert_eq!(parts("deployment done", "depl*"), vec![p("deployment", true), p(" done", false)]);
        // A long text: the window starts 60 characters before the hit and is 200 long.
        let text = format!("{}needle {}", "a ".repeat(100), "b ".repeat(200));
        let got = parts(&text, "needle");
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].0.starts_with('…') && !got[0].1, "{got:?}");
        assert_eq!(got[1], p("needle", true));
        assert!(got[2].0.ends_with('…'));
        let shown: usize = got.iter().map(|x| x.0.chars().count()).sum::<usize>() - 2;
        assert_eq!(shown, 200);
        assert_eq!(got[0].0.chars().count() - 1, 60);
        // No word found (accents): the start of the text, unmarked.
        assert_eq!(parts("café au lait", "cafe"), vec![p("café au lait", false)]);
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
