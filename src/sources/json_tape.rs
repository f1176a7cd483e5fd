//! The transcript page writer's view of a line (`event_json.rs`): serde_json parses the line,
//! and a visitor of ours lays its values out as a flat list of tokens (a *tape*) instead of a
//! `Value` tree. A string without escapes points into the line (serde_json hands it over
//! borrowed), so nothing is copied for it and it is written out again as it stands; a string
//! with escapes keeps its value in one buffer for the whole line. No JSON is read here: what
//! serde_json takes, the tape takes, with serde_json's values (its numbers, its unescaping, its
//! refusals and its nesting limit), by construction.
//!
//! It declines (returns false) a line serde_json refuses, a line over 4 GiB, and an object whose
//! first key is serde_json's private token (a `Value` reads that one its own way); the caller
//! then goes the `Value` way, which decides. Object members are kept in the line's order,
//! repeated keys included: the reader of the tape takes a key's last value, as a
//! `serde_json::Map` does.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;

/// A string of the line: borrowed, the bytes between its quotes in the line; escaped, its value
/// in the tape's buffer of unescaped strings.
#[derive(Debug, Clone, Copy)]
pub struct Str {
    at: u32,
    len: u32,
    /// It had an escape: its value is in the tape's buffer, and its bytes in the line are not
    /// known to be what serde_json writes for it.
    escaped: bool,
}

/// A number other than a non-negative integer, as serde_json read it.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    Neg(i64),
    Float(f64),
}

/// One value of the line; an array or object is followed by its items (an object's as key,
/// value) and says where they end.
#[derive(Debug, Clone, Copy)]
pub enum Tok {
    Null,
    Bool(bool),
    /// A non-negative integer within u64.
    Int(u64),
    Num(Num),
    Str(Str),
    /// `end`: the index after its last item.
    Arr {
        end: u32,
    },
    Obj {
        end: u32,
    },
}

/// The tokens of one line; kept from line to line so that its buffers are reused.
#[derive(Default)]
pub struct Tape {
    toks: Vec<Tok>,
    /// The values of the line's strings that had escapes.
    unescaped: String,
}

impl Tape {
    /// Reads `text` into the tape; false when it is declined (see the module's doc).
    pub fn parse(&mut self, text: &str) -> bool {
        self.toks.clear();
        self.unescaped.clear();
        if u32::try_from(text.len()).is_err() {
            return false;
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let fill = Fill { text, toks: &mut self.toks, unescaped: &mut self.unescaped };
        fill.deserialize(&mut de).is_ok() && de.end().is_ok()
    }

    /// The tape read from `text` (the same text [`Tape::parse`] was given).
    pub fn doc<'t>(&'t self, text: &'t str) -> Doc<'t> {
        Doc { toks: &self.toks, text, unescaped: &self.unescaped }
    }
}

/// Lays one value (and its items) out on the tape.
struct Fill<'a, 't> {
    text: &'t str,
    toks: &'a mut Vec<Tok>,
    unescaped: &'a mut String,
}

impl<'t> Fill<'_, 't> {
    fn again(&mut self) -> Fill<'_, 't> {
        Fill { text: self.text, toks: self.toks, unescaped: self.unescaped }
    }

    /// The string `v` of the line: where it is when serde_json lent it from the line, else its
    /// value copied to the buffer.
    fn string(&mut self, v: &str, borrowed: bool) -> Str {
        let (start, end) = (self.text.as_ptr() as usize, self.text.as_ptr() as usize + self.text.len());
        let p = v.as_ptr() as usize;
        if borrowed && p >= start && p + v.len() <= end {
            return Str { at: (p - start) as u32, len: v.len() as u32, escaped: false };
        }
        let at = self.unescaped.len();
        self.unescaped.push_str(v);
        Str { at: at as u32, len: v.len() as u32, escaped: true }
    }
}

impl<'de> DeserializeSeed<'de> for Fill<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fill<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.toks.push(Tok::Null);
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.toks.push(Tok::Bool(b));
        Ok(())
    }
    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.toks.push(Tok::Int(n));
        Ok(())
    }
    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.toks.push(Tok::Num(Num::Neg(n)));
        Ok(())
    }
    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.toks.push(Tok::Num(Num::Float(f)));
        Ok(())
    }
    fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<(), E> {
        let s = self.string(v, true);
        self.toks.push(Tok::Str(s));
        Ok(())
    }
    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        let s = self.string(v, false);
        self.toks.push(Tok::Str(s));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let at = self.toks.len();
        self.toks.push(Tok::Null);
        while seq.next_element_seed(self.again())?.is_some() {}
        self.toks[at] = Tok::Arr { end: self.toks.len() as u32 };
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let at = self.toks.len();
        self.toks.push(Tok::Null);
        while map.next_key_seed(self.again())?.is_some() {
            // `Value` reads an object that starts with this key its own way.
            if self.toks.len() == at + 2 {
                if let Tok::Str(k) = self.toks[at + 1] {
                    let d = Doc { toks: self.toks, text: self.text, unescaped: self.unescaped };
                    if d.value(&k).starts_with("$serde_json::private::") {
                        return Err(de::Error::custom("serde_json's private token"));
                    }
                }
            }
            map.next_value_seed(self.again())?;
        }
        self.toks[at] = Tok::Obj { end: self.toks.len() as u32 };
        Ok(())
    }
}

/// A read tape and its text.
#[derive(Clone, Copy)]
pub struct Doc<'t> {
    toks: &'t [Tok],
    text: &'t str,
    unescaped: &'t str,
}

impl<'t> Doc<'t> {
    /// The line's value (the first token).
    pub const ROOT: usize = 0;

    pub fn tok(&self, i: usize) -> &'t Tok {
        &self.toks[i]
    }

    /// The token after `i`'s value (and its items).
    pub fn next(&self, i: usize) -> usize {
        match self.toks[i] {
            Tok::Arr { end } | Tok::Obj { end } => end as usize,
            _ => i + 1,
        }
    }

    /// An array's items; none for anything else.
    pub fn items(self, i: usize) -> impl Iterator<Item = usize> + 't {
        self.children(i, false)
    }

    /// An object's members as (key, value), in the line's order; none for anything else.
    pub fn members(self, i: usize) -> impl Iterator<Item = (usize, usize)> + 't {
        self.children(i, true).map(|key| (key, key + 1))
    }

    /// The items of the array (`object` false) or the keys of the object at `i`.
    fn children(self, i: usize, object: bool) -> impl Iterator<Item = usize> + 't {
        let end = match self.toks[i] {
            Tok::Arr { end } if !object => end as usize,
            Tok::Obj { end } if object => end as usize,
            _ => i + 1,
        };
        let mut at = i + 1;
        std::iter::from_fn(move || {
            (at < end).then(|| {
                let item = at;
                // An object's value follows its key.
                at = self.next(at + usize::from(object));
                item
            })
        })
    }

    /// The value of a string token.
    pub fn str(&self, i: usize) -> Option<Cow<'t, str>> {
        match &self.toks[i] {
            Tok::Str(s) => Some(self.value(s)),
            _ => None,
        }
    }

    /// A string's bytes between its quotes, as in the line, when [`Doc::is_canonical`]; else
    /// its value.
    pub fn raw(&self, s: &Str) -> &'t str {
        let from = if s.escaped { self.unescaped } else { self.text };
        &from[s.at as usize..(s.at + s.len) as usize]
    }

    /// A number's value, as serde_json reads it.
    pub fn number(&self, i: usize) -> Option<Number> {
        match self.toks[i] {
            Tok::Int(n) => Some(n.into()),
            Tok::Num(Num::Neg(n)) => Some(n.into()),
            Tok::Num(Num::Float(f)) => Number::from_f64(f),
            _ => None,
        }
    }

    /// Whether [`Doc::raw`] of `s` is what serde_json writes for its value: a string without
    /// escapes (a line serde_json takes has no character in it that must be escaped).
    pub fn is_canonical(s: &Str) -> bool {
        !s.escaped
    }

    /// A string's value.
    pub fn value(&self, s: &Str) -> Cow<'t, str> {
        Cow::Borrowed(self.raw(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The tape as a `Value` (a repeated key's last value kept), to compare with serde_json's.
    fn value(d: Doc, i: usize) -> Value {
        match d.tok(i) {
            Tok::Null => Value::Null,
            Tok::Bool(b) => Value::Bool(*b),
            Tok::Int(_) | Tok::Num(_) => Value::Number(d.number(i).unwrap()),
            Tok::Str(s) => Value::String(d.value(s).into_owned()),
            Tok::Arr { .. } => Value::Array(d.items(i).map(|x| value(d, x)).collect()),
            Tok::Obj { .. } => {
                Value::Object(d.members(i).map(|(k, v)| (d.str(k).unwrap().into_owned(), value(d, v))).collect())
            }
        }
    }

    /// Read by the tape: serde_json reads the same value; declined: serde_json refuses it, or it
    /// is one of the shapes the tape leaves to serde_json. Returns whether the tape took it.
    fn check(text: &str) -> bool {
        let mut tape = Tape::default();
        let took = tape.parse(text);
        let theirs = serde_json::from_str::<Value>(text);
        if took {
            let d = tape.doc(text);
            assert_eq!(value(d, Doc::ROOT), theirs.expect(text), "{text}");
            for (i, t) in d.toks.iter().enumerate() {
                if let Tok::Str(s) = t {
                    let ours = d.raw(s);
                    let written = serde_json::to_string(&d.value(s)).unwrap();
                    if Doc::is_canonical(s) {
                        assert_eq!(written[1..written.len() - 1], *ours, "{i}: {ours}");
                    }
                }
            }
        }
        took
    }

    #[test]
    fn takes_what_serde_json_takes_with_the_same_values() {
        for text in [
            "{}",
            " [ ] ",
            "\t\r\n{\"a\" : [1, -2, 3.5, -0, 0, 1e3, 1E-7, 2.5e+2, 18446744073709551615, 18446744073709551616, -9223372036854775809, 0.1]}\n",
            r#"{"a":1,"b":{"c":[true,false,null,"x"]},"a":2}"#,
            r#"["plain","é日本😀","\"\\\/\b\f\n\r\t","\u0000\u001f\u001F\u007f\u00e9\u2028","\ud83d\ude00","a\u005cb"]"#,
            r#"["\u001f","\u001F","\u000a","\n\u0008","\b\"\\x\u0000"]"#,
            r#"{"ke\u0079":"v","":""}"#,
            "\"top\"",
            "12",
            "-1.5",
            "null",
            "[1e308, 1e-400, 123456789012345678901234567890, 0.0000000000000000000000000000001, -0.0, 5E+1]",
        ] {
            assert!(check(text), "{text}");
        }
        assert!(check(&("[".repeat(100) + &"]".repeat(100))));
    }

    #[test]
    fn declines_what_serde_json_refuses_or_reads_its_own_way() {
        // Past serde_json's nesting limit.
        let deep = "[".repeat(200) + &"]".repeat(200);
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "[01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "[1e]",
            "[-]",
            "[1e400]",
            "[-1e309]",
            "[NaN]",
            "[tru]",
            "[True]",
            "[\"\\ud800\"]",
            "[\"\\udc00\\ud800\"]",
            "[\"\\ud800\\u0041\"]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[\"\\u12g4\"]",
            "[\"a\u{1}\"]",
            "[\"open]",
            "{} {}",
            "[1] x",
            "{\"$serde_json::private::RawValue\":\"[1]\"}",
            "[{\"\\u0024serde_json::private::RawValue\":\"[1]\"}]",
            &deep,
            &format!("[1{}]", "0".repeat(400)),
        ] {
            assert!(!check(text), "{text}");
        }
        assert!(check(&format!("[1{}, 0.{}1]", "0".repeat(299), "0".repeat(400))));
        // The private token is an ordinary key after the first.
        assert!(check("{\"a\":1,\"$serde_json::private::RawValue\":\"[1]\"}"));
    }

    #[test]
    fn long_strings_with_escapes_or_control_characters() {
        for n in 0..40 {
            let body = "x".repeat(n);
            for extra in ["", "\\n", "\\u0001", "é", "\u{1}"] {
                let text = format!("[\"{body}{extra}{body}\"]");
                let took = check(&text);
                assert_eq!(took, extra != "\u{1}", "{text:?}");
            }
        }
    }
}
