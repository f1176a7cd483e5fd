//! A tolerant reader for OpenClaw's config files, which OpenClaw parses as JSON5.
//!
//! It rewrites the JSON5 features seen in real configs (comments, trailing commas, unquoted keys,
//! single-quoted strings, hex numbers, leading `+`, `Infinity`/`NaN`) into strict JSON and hands
//! that to serde_json. It is not a full JSON5 validator: garbage is still an error.

use serde_json::Value;

/// Parses JSON5 text into a JSON value.
pub fn parse(text: &str) -> Result<Value, String> {
    let json = to_json(text)?;
    serde_json::from_str(&json).map_err(|e| format!("not valid JSON5: {e}"))
}

fn to_json(src: &str) -> Result<String, String> {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            '/' if b.get(i + 1) == Some(&'/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                if i >= b.len() {
                    return Err("unterminated /* comment".into());
                }
                i += 2;
            }
            '"' | '\'' => {
                i = copy_string(&b, i, &mut out)?;
            }
            ',' => {
                // A trailing comma: the next significant character closes the container.
                let mut j = i + 1;
                loop {
                    while j < b.len() && b[j].is_whitespace() {
                        j += 1;
                    }
                    if b.get(j) == Some(&'/') && matches!(b.get(j + 1), Some('/') | Some('*')) {
                        if b[j + 1] == '/' {
                            while j < b.len() && b[j] != '\n' {
                                j += 1;
                            }
                        } else {
                            j += 2;
                            while j < b.len() && !(b[j] == '*' && b.get(j + 1) == Some(&'/')) {
                                j += 1;
                            }
                            j += 2;
                        }
                        continue;
                    }
                    break;
                }
                if !matches!(b.get(j), Some('}') | Some(']')) {
                    out.push(',');
                }
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '$') {
                    i += 1;
                }
                let word: String = b[start..i].iter().collect();
                let mut j = i;
                while j < b.len() && b[j].is_whitespace() {
                    j += 1;
                }
                if b.get(j) == Some(&':') {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else {
                    match word.as_str() {
                        "true" | "false" | "null" => out.push_str(&word),
                        // JSON has no infinities; null keeps the document loadable.
                        "Infinity" | "NaN" => out.push_str("null"),
                        _ => return Err(format!("unexpected word {word:?}")),
                    }
                }
                continue;
            }
            '+' => {}
            '0' if matches!(b.get(i + 1), Some('x') | Some('X')) => {
                let start = i + 2;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_hexdigit() {
                    j += 1;
                }
                let hex: String = b[start..j].iter().collect();
                let n = i64::from_str_radix(&hex, 16).map_err(|e| format!("bad hex number: {e}"))?;
                out.push_str(&n.to_string());
                i = j;
                continue;
            }
            '.' if b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) && !out.ends_with(|p: char| p.is_ascii_digit()) => {
                out.push_str("0.");
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// Copies a string literal starting at `b[i]` as a double-quoted JSON string; returns the index of
/// its closing quote.
fn copy_string(b: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let quote = b[i];
    out.push('"');
    i += 1;
    while i < b.len() {
        let c = b[i];
        if c == '\\' {
            match b.get(i + 1) {
                Some('\'') => out.push('\''),
                Some('\n') => {}
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => break,
            }
            i += 2;
            continue;
        }
        if c == quote {
            out.push('"');
            return Ok(i);
        }
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
        i += 1;
    }
    Err("unterminated string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json5_features() {
        let v = parse(
            "// config\n{ gateway: { port: 18790, /* inline */ auth: { token: 'a\"b', }, },\n\
             list: [1, 2, 0x10, +3, .5,], 'q': Infinity, }",
        )
        .unwrap();
        assert_eq!(v["gateway"]["port"], 18790);
        assert_eq!(v["gateway"]["auth"]["token"], "a\"b");
        assert_eq!(v["list"][2], 16);
        assert_eq!(v["list"][3], 3);
        assert_eq!(v["list"][4], 0.5);
        assert!(v["q"].is_null());
    }

    #[test]
    fn plain_json_and_urls_in_strings_survive() {
        let v = parse(r#"{"a": "http://x/y // not a comment", "b": [true, null]}"#).unwrap();
        assert_eq!(v["a"], "http://x/y // not a comment");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("{ port: nope }").is_err());
        assert!(parse("{ \"a\": 'unterminated }").is_err());
        assert!(parse("{ a: 1 } }").is_err());
    }
}
