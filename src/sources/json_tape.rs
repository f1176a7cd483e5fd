//! A strict JSON reader for the transcript page's writer (`event_json.rs`): one line becomes a
//! flat list of tokens (a *tape*) that point into the line's text, so that nothing is copied or
//! allocated per value and a string can be written out again as it stands.
//!
//! It takes only what `serde_json::from_str::<Value>` takes, and reads it to the same values:
//! it declines (returns false) whatever it is not sure of — a malformed line, nesting deeper than
//! [`MAX_DEPTH`], a line over 4 GiB, an object whose first key is serde_json's private token —
//! and its caller then goes the `Value` way, which decides. Numbers other than plain
//! non-negative integers, and strings with surrogate escapes, are handed to serde_json itself,
//! so their values (and refusals: `1e400`, a lone surrogate) are serde_json's by construction.
//! Object members are kept in the line's order, repeated keys included: the reader of the tape
//! takes a key's last value, as a `serde_json::Map` does.

use serde_json::Number;
use std::borrow::Cow;

/// Nesting the tape takes (serde_json's own limit is 127); deeper lines go the `Value` way.
const MAX_DEPTH: usize = 100;

/// A string of the line: the bytes between its quotes.
#[derive(Debug, Clone, Copy)]
pub struct Str {
    at: u32,
    len: u32,
    /// It has an escape (its value is not its bytes).
    escaped: bool,
    /// Its bytes are those serde_json writes for its value: no escape, or only those serde_json
    /// writes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` in lowercase for the other
    /// control characters).
    canonical: bool,
}

/// A number of the line other than a plain non-negative integer: its text, which serde_json
/// takes (it is read again when its value is asked for).
#[derive(Debug, Clone, Copy)]
pub struct Num {
    at: u32,
    len: u32,
}

/// One value of the line; an array or object is followed by its items (an object's as key,
/// value) and says where they end.
#[derive(Debug, Clone, Copy)]
pub enum Tok {
    Null,
    Bool(bool),
    /// A non-negative integer within u64, written without sign, fraction or exponent.
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

/// The tokens of one line; kept from line to line so that its buffer is reused.
#[derive(Default)]
pub struct Tape {
    toks: Vec<Tok>,
}

impl Tape {
    /// Reads `text` into the tape; false when it is declined (see the module's doc).
    pub fn parse(&mut self, text: &str) -> bool {
        self.toks.clear();
        if u32::try_from(text.len()).is_err() {
            return false;
        }
        let mut p = Parser { b: text.as_bytes(), i: 0, text, toks: &mut self.toks };
        p.ws();
        let ok = p.value(0).is_some();
        p.ws();
        ok && p.i == p.b.len()
    }

    /// The tape read from `text` (the same text [`Tape::parse`] was given).
    pub fn doc<'t>(&'t self, text: &'t str) -> Doc<'t> {
        Doc { toks: &self.toks, text }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    text: &'a str,
    toks: &'a mut Vec<Tok>,
}

impl Parser<'_> {
    /// Skips what serde_json takes for white space.
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match *self.b.get(self.i)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let s = self.string()?;
                self.toks.push(Tok::Str(s));
                Some(())
            }
            b't' => self.word(b"true", Tok::Bool(true)),
            b'f' => self.word(b"false", Tok::Bool(false)),
            b'n' => self.word(b"null", Tok::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8], t: Tok) -> Option<()> {
        self.b[self.i..].starts_with(w).then(|| {
            self.i += w.len();
            self.toks.push(t);
        })
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        let at = self.items(depth, b']', |p, depth, _| p.value(depth))?;
        self.toks[at] = Tok::Arr { end: self.toks.len() as u32 };
        Some(())
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        let at = self.items(depth, b'}', Parser::member)?;
        self.toks[at] = Tok::Obj { end: self.toks.len() as u32 };
        Some(())
    }

    /// The items of the array or object at `i` (its opening byte), each read by `item`, up to
    /// `close`; returns the place of its token, which the caller fills in.
    fn items(
        &mut self,
        depth: usize,
        close: u8,
        item: impl Fn(&mut Self, usize, usize) -> Option<()>,
    ) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let at = self.toks.len();
        self.toks.push(Tok::Null);
        self.i += 1;
        self.ws();
        if self.eat(close).is_none() {
            loop {
                item(self, depth, at)?;
                self.ws();
                match *self.b.get(self.i)? {
                    b',' => self.i += 1,
                    c if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
                self.ws();
            }
        }
        Some(at)
    }

    /// An object's member: key, colon, value (`at`: the object's token).
    fn member(&mut self, depth: usize, at: usize) -> Option<()> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let key = self.string()?;
        // `Value` reads an object that starts with this key its own way.
        if self.toks.len() == at + 1 && unescape(self.text, &key).starts_with("$serde_json::private::") {
            return None;
        }
        self.toks.push(Tok::Str(key));
        self.ws();
        self.eat(b':')?;
        self.ws();
        self.value(depth)
    }

    /// The string at `i` (its opening quote).
    fn string(&mut self) -> Option<Str> {
        let b = self.b;
        let at = self.i + 1;
        let mut i = at;
        let (mut escaped, mut canonical, mut surrogate) = (false, true, false);
        loop {
            i = special(b, i);
            match *b.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match *b.get(i + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'/' => {
                            canonical = false;
                            i += 2;
                        }
                        b'u' => {
                            let hex = b.get(i + 2..i + 6)?;
                            let s = std::str::from_utf8(hex).ok()?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            let n = u16::from_str_radix(s, 16).ok()?;
                            surrogate |= (0xD800..0xE000).contains(&n);
                            // serde_json writes `\u00XX`, lowercase, for a control character
                            // without a short escape.
                            canonical &= n < 0x20
                                && !matches!(n, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
                                && hex.iter().all(|c| !c.is_ascii_uppercase());
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                // A control character.
                _ => return None,
            }
        }
        self.i = i + 1;
        let s = Str { at: at as u32, len: (i - at) as u32, escaped, canonical: canonical && !surrogate };
        // Surrogate pairs, and the lone surrogates serde_json refuses: its own reading decides.
        if surrogate && serde_json::from_str::<String>(&self.text[at - 1..=i]).is_err() {
            return None;
        }
        Some(s)
    }

    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let start = self.i;
        let digits = |i: usize| b[i.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut i = start + usize::from(b[start] == b'-');
        // One leading zero at most, as JSON says.
        let int = digits(i);
        if int == 0 || (b[i] == b'0' && int > 1) {
            return None;
        }
        i += int;
        // No sign, no fraction, no exponent.
        let mut plain = i - start == int;
        if b.get(i) == Some(&b'.') {
            let n = digits(i + 1);
            if n == 0 {
                return None;
            }
            i += 1 + n;
            plain = false;
        }
        let exponent = matches!(b.get(i), Some(b'e' | b'E'));
        if exponent {
            i += 1;
            plain = false;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                return None;
            }
            i += n;
        }
        let text = &self.text[start..i];
        let tok = match text.parse::<u64>() {
            // Non-negative and within u64: serde_json's value too.
            Ok(n) if plain => Tok::Int(n),
            _ => {
                // Only a large exponent (written, or of a very long integer) is out of f64's
                // range; serde_json says which.
                if exponent || int > 300 {
                    serde_json::from_str::<Number>(text).ok()?;
                }
                Tok::Num(Num { at: start as u32, len: text.len() as u32 })
            }
        };
        self.i = i;
        self.toks.push(tok);
        Some(())
    }
}

/// The first place from `i` on that holds `"`, `\` or a control character (or the end), eight
/// bytes at a time.
fn special(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // Bytes below 0x20, `"` and `\`: the lowest flagged byte is exact.
        let m = (x.wrapping_sub(0x20 * ONES) & !x & HIGH)
            | zero(x ^ (b'"' as u64 * ONES))
            | zero(x ^ (b'\\' as u64 * ONES));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !(b[i] < 0x20 || b[i] == b'"' || b[i] == b'\\') {
        i += 1;
    }
    i
}

/// A string's value.
fn unescape<'t>(text: &'t str, s: &Str) -> Cow<'t, str> {
    let raw = &text[s.at as usize..(s.at + s.len) as usize];
    if !s.escaped {
        return Cow::Borrowed(raw);
    }
    // Checked when it was read: serde_json reads it.
    Cow::Owned(serde_json::from_str(&text[s.at as usize - 1..=(s.at + s.len) as usize]).unwrap_or_default())
}

/// A read tape and its text.
#[derive(Clone, Copy)]
pub struct Doc<'t> {
    toks: &'t [Tok],
    text: &'t str,
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
            Tok::Str(s) => Some(unescape(self.text, s)),
            _ => None,
        }
    }

    /// A string's bytes between its quotes, as in the line.
    pub fn raw(&self, s: &Str) -> &'t str {
        &self.text[s.at as usize..(s.at + s.len) as usize]
    }

    /// A number's value, as serde_json reads it.
    pub fn number(&self, i: usize) -> Option<Number> {
        match self.toks[i] {
            Tok::Int(n) => Some(n.into()),
            Tok::Num(n) => serde_json::from_str(&self.text[n.at as usize..(n.at + n.len) as usize]).ok(),
            _ => None,
        }
    }

    /// Whether [`Doc::raw`] of `s` is what serde_json writes for its value.
    pub fn is_canonical(s: &Str) -> bool {
        s.canonical
    }

    /// A string's value.
    pub fn value(&self, s: &Str) -> Cow<'t, str> {
        unescape(self.text, s)
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
                    assert_eq!(s.canonical, written[1..written.len() - 1] == *ours, "{i}: {ours}");
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
        let deep = "[".repeat(101) + &"]".repeat(101);
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
    fn long_strings_are_scanned_in_chunks() {
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
