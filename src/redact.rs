//! Secret redaction for everything the dashboard shows that came from OpenClaw or a client:
//! API keys and tokens are replaced with [`MARK`]. A small hand-written scanner (no regex crate):
//!
//! | pattern | what |
//! |---|---|
//! | `sk-` + 20 or more of `[A-Za-z0-9_-]` | OpenAI (`sk-proj-…`), Anthropic (`sk-ant-…`) and alike |
//! | `xoxb-` `xoxp-` `xoxa-` `xoxr-` `xoxs-` + 10 or more of `[A-Za-z0-9-]` | Slack tokens |
//! | `ghp_` `gho_` `ghu_` `ghs_` `ghr_` + 30 or more of `[A-Za-z0-9]`; `github_pat_` + 20 or more of `[A-Za-z0-9_]` | GitHub tokens |
//! | `AKIA` `ASIA` + exactly 16 of `[0-9A-Z]` | AWS access key ids (long-term and temporary) |
//! | `AIza` + 35 or more of `[A-Za-z0-9_-]` | Google API keys (Gemini) |
//! | `sk_live_` `sk_test_` `rk_live_` `rk_test_` + 16 or more of `[A-Za-z0-9]` | Stripe keys |
//! | `hf_` + 30 or more, `gsk_` `xai-` `pplx-` + 40 or more, `npm_` + 36 or more of `[A-Za-z0-9]` | Hugging Face, Groq, xAI, Perplexity, npm tokens |
//! | `glpat-` + 20 or more of `[A-Za-z0-9_-]` | GitLab personal access tokens |
//! | `https://hooks.slack.com/` + `services/` `workflows/` `triggers/` + 20 or more, `https://discord.com/api/webhooks/` (also `discordapp.com`, `canary.` and `ptb.` hosts, `/api/v10/`) + 60 or more of `[A-Za-z0-9_/-]` | Slack and Discord webhook URLs (the path after the fixed part) |
//! | `-----BEGIN …PRIVATE KEY-----`, a line break, a line of 20 or more of `[A-Za-z0-9+/=]` | PEM private keys: the body up to `-----END ` (the BEGIN and END lines stay); with no END line, only the base64 lines |
//! | 8 to 10 digits, `:`, 35 or more of `[A-Za-z0-9_-]` | Telegram bot tokens |
//! | `Bearer ` + 16 or more of `[A-Za-z0-9._~+/=-]` | HTTP bearer credentials (the word `Bearer` is kept) |
//!
//! A match must start at a word boundary (the byte before it is not a letter, digit, `_` or `-`,
//! or it ends an escape that stands for a separator: `\n`, `\t`, `\u003d` as written in serialised
//! JSON, `%3D` in a URL; a Telegram token may also follow `bot`, as in its API URLs) and, for AWS
//! key ids, end at one. Line breaks in a PEM key may be real or escaped (`\n`, `\r\n`).
//!
//! A new pattern must keep to what the prefilter [`may_hold_secret`] assumes: the secret lies in
//! a run of 15 or more token bytes that starts at most 17 bytes after the secret does (a PEM key
//! is found by its `-----BEGIN `); the prefilter's test checks each pattern at its shortest.

use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a secret is replaced with.
pub const MARK: &str = "[REDACTED]";

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Length of the run of bytes from `i` for which `ok` holds.
fn run(b: &[u8], i: usize, ok: impl Fn(u8) -> bool) -> usize {
    b[i.min(b.len())..].iter().take_while(|&&c| ok(c)).count()
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of the line break at `i`, real or escaped as in serialised JSON; 0 when there is none.
fn line_break(b: &[u8], i: usize) -> usize {
    let rest = &b[i.min(b.len())..];
    [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n"].iter().find(|br| rest.starts_with(br)).map_or(0, |br| br.len())
}

/// A PEM private key at `i`: the BEGIN and END lines stay, what is between them goes. The BEGIN
/// line alone (as when a text mentions the format) is not a key: a line break and a base64 line
/// must follow. Without an END line (the text was cut) only the base64 lines go, not what follows.
fn private_key(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let head = b[i..].strip_prefix(b"-----BEGIN ")?;
    let close = find(&head[..head.len().min(64)], b"-----")?;
    find(&head[..close], b"PRIVATE KEY")?;
    let from = i + b"-----BEGIN ".len() + close + 5;
    let base64 = |c: u8| c.is_ascii_alphanumeric() || b"+/=".contains(&c);
    // `at` is the end of the line read last, `end` the end of the last base64 line of some length.
    let (mut at, mut end) = (from, None);
    loop {
        let n = line_break(b, at);
        if n == 0 {
            break;
        }
        let line = at + n;
        if b[line..].starts_with(b"-----END ") {
            return end.map(|_| (from, line));
        }
        let len = run(b, line, base64);
        let after = line + len;
        let whole = after == b.len() || line_break(b, after) > 0;
        if len >= 20 {
            end = Some(after);
            if !whole {
                // Cut short in the middle of a line (as with a `…` after it).
                break;
            }
        } else if end.is_none() && len == 0 && whole {
            // A blank line, as after the `Proc-Type:`/`DEK-Info:` headers of an encrypted key.
        } else if end.is_none() && (b[line..].starts_with(b"Proc-Type: ") || b[line..].starts_with(b"DEK-Info: ")) {
            at = line + b[line..].iter().take(128).position(|&c| c == b'\n' || c == b'\\')?;
            continue;
        } else if !(whole && len > 0 && end.is_some()) {
            // Not base64 (or nothing long enough yet): what follows is no longer the key. A short
            // line after key material is walked over, since the END line may follow it.
            break;
        }
        at = after;
    }
    end.map(|to| (from, to))
}

/// A Slack or Discord webhook URL at `i` (its path is the secret): the host and the path's fixed
/// part stay readable.
fn webhook_url(b: &[u8], i: usize) -> Option<(usize, usize)> {
    fn strip<'a>(s: &'a [u8], prefixes: &[&[u8]]) -> Option<&'a [u8]> {
        prefixes.iter().find_map(|p| s.strip_prefix(*p))
    }
    let rest = b[i..].strip_prefix(b"https://")?;
    let (path, min) = if let Some(r) = rest.strip_prefix(b"hooks.slack.com/") {
        (strip(r, &[b"services/", b"workflows/", b"triggers/"])?, 20)
    } else {
        let r = strip(rest, &[b"canary.", b"ptb."]).unwrap_or(rest);
        let r = strip(r, &[b"discord.com/api/", b"discordapp.com/api/"])?;
        // An API version may come first, as in `/api/v10/webhooks/`.
        let version = match r.strip_prefix(b"v") {
            Some(v) => v.iter().take_while(|c| c.is_ascii_digit()).count(),
            None => 0,
        };
        let r = if version > 0 && r.get(version + 1) == Some(&b'/') { &r[version + 2..] } else { r };
        (r.strip_prefix(b"webhooks/")?, 60)
    };
    let from = b.len() - path.len();
    let n = run(b, from, |c| c.is_ascii_alphanumeric() || b"_-/".contains(&c));
    (n >= min).then_some((from, from + n))
}

/// The secret starting at `i`, if any: (start of the part to replace, end). Not inlined: the
/// scanning loop in [`text`] stays small (inlined, its slices cost the loop a third of its speed).
#[inline(never)]
fn secret_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let rest = &b[i..];
    let prefixed = |prefix: &[u8], min: usize, ok: fn(u8) -> bool| -> Option<(usize, usize)> {
        if !rest.starts_with(prefix) {
            return None;
        }
        let n = run(b, i + prefix.len(), ok);
        (n >= min).then_some((i, i + prefix.len() + n))
    };
    let key = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let any = |prefixes: &[&[u8]], min: usize, ok: fn(u8) -> bool| prefixes.iter().find_map(|p| prefixed(p, min, ok));
    match rest.first()? {
        b's' => prefixed(b"sk-", 20, key).or_else(|| any(&[b"sk_live_", b"sk_test_"], 16, alnum)),
        b'r' => any(&[b"rk_live_", b"rk_test_"], 16, alnum),
        b'x' => {
            any(&[b"xoxb-", b"xoxp-", b"xoxa-", b"xoxr-", b"xoxs-"], 10, |c| c.is_ascii_alphanumeric() || c == b'-')
                .or_else(|| prefixed(b"xai-", 40, alnum))
        }
        b'g' => any(&[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"], 30, alnum)
            .or_else(|| prefixed(b"github_pat_", 20, |c| c.is_ascii_alphanumeric() || c == b'_'))
            .or_else(|| prefixed(b"glpat-", 20, key))
            .or_else(|| prefixed(b"gsk_", 40, alnum)),
        b'h' => prefixed(b"hf_", 30, alnum).or_else(|| webhook_url(b, i)),
        b'-' => private_key(b, i),
        b'p' => prefixed(b"pplx-", 40, alnum),
        b'n' => prefixed(b"npm_", 36, alnum),
        b'A' if rest.starts_with(b"AIza") => prefixed(b"AIza", 35, key),
        b'A' => {
            let n = run(b, i + 4, |c| c.is_ascii_digit() || c.is_ascii_uppercase());
            (matches!(&rest[..rest.len().min(4)], b"AKIA" | b"ASIA")
                && n == 16
                && !b.get(i + 20).copied().is_some_and(word))
            .then_some((i, i + 20))
        }
        b'B' | b'b' => {
            if rest.len() < 7 || !rest[..7].eq_ignore_ascii_case(b"bearer ") {
                return None;
            }
            let from = i + 7 + run(b, i + 7, |c| c == b' ');
            let n = run(b, from, |c| c.is_ascii_alphanumeric() || b"._~+/=-".contains(&c));
            (n >= 16).then_some((from, from + n))
        }
        c if c.is_ascii_digit() => {
            let d = run(b, i, |c| c.is_ascii_digit());
            if !(8..=10).contains(&d) || b.get(i + d) != Some(&b':') {
                return None;
            }
            let n = run(b, i + d + 1, key);
            (n >= 35).then_some((i, i + d + 1 + n))
        }
        b'\\' | b'%' => {
            // An escape standing for a separator (`\n`, `\t`, `\u003d` in serialised JSON as found
            // in OTLP attributes and logs, `%3D` in a URL) is a word boundary: a secret may follow.
            let hex = |from: usize| run(b, from, |c| c.is_ascii_hexdigit());
            let after = match rest {
                [b'\\', b'u', ..] if hex(i + 2) >= 4 => i + 6,
                [b'\\', c, ..] if c.is_ascii_alphabetic() => i + 2,
                [b'%', ..] if hex(i + 1) >= 2 => i + 3,
                _ => return None,
            };
            // Another escape is looked at from its own place, by the loop in `text`.
            match b.get(after) {
                Some(&c) if may_start(c) && !matches!(c, b'\\' | b'%') => secret_at(b, after),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a secret can start with `c` (the first bytes `secret_at` looks for): most bytes of
/// ordinary text are passed over with this one test, a table look-up (faster than the `matches!`
/// it is built from).
fn may_start(c: u8) -> bool {
    START[usize::from(c)]
}

static START: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = matches!(
            c as u8,
            b's' | b'r' | b'x' | b'g' | b'h' | b'p' | b'n' | b'A' | b'B' | b'b' | b'-' | b'0'..=b'9' | b'\\' | b'%'
        );
        c += 1;
    }
    table
};

/// Whether the secret at `i` may follow a word: an escape does (its secret is looked for after it).
fn joined(b: &[u8], i: usize) -> bool {
    let c = b[i];
    c == b'\\' || c == b'%' || (c.is_ascii_digit() && b[..i].ends_with(b"bot"))
}

/// Whether a secret may start at `i`: a byte one starts with, at a word boundary. An escape may
/// start a secret after a word (as `key\tghp_…`), and a Telegram token also follows `bot`
/// directly, as in `https://api.telegram.org/bot<token>/`.
fn may_start_at(b: &[u8], i: usize) -> bool {
    may_start(b[i]) && (i == 0 || !word(b[i - 1]) || joined(b, i))
}

/// `s` with every secret replaced by [`MARK`]; borrowed when there is none.
pub fn text(s: &str) -> Cow<'_, str> {
    if !may_hold_secret(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    scan(s)
}

/// [`text`] by looking at every byte: for a text that [`may_hold_secret`] did not clear.
pub fn scan(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if may_start_at(b, i) {
            if let Some((from, to)) = secret_at(b, i) {
                // Every pattern is ASCII, so `from` and `to` are char boundaries.
                out.push_str(&s[copied..from]);
                out.push_str(MARK);
                copied = to;
                i = to;
                continue;
            }
        }
        i += 1;
    }
    if copied == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// The shortest run of [`RUNNER`] bytes a secret other than a PEM key has: a Slack token, `xoxb-`
/// and 10 more.
const RUN: usize = 15;
/// How far before its run a secret may start: `https:` before a webhook's `//…` (6), a Telegram
/// token's 8 to 10 digits and colon (11), and an escape before either (6 more).
const REACH: usize = 17;
/// How far before the spaces ahead of its run a bearer credential may start: `Bearer` (6) and an
/// escape before it (6).
const BEARER_REACH: usize = 12;

/// The bytes of secrets' runs: `[A-Za-z0-9_+/=.~-]` (key characters, base64, URL paths, bearer
/// tokens).
static RUNNER: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'/' | b'=' | b'.' | b'~' | b'-');
        c += 1;
    }
    table
};

/// False only when [`text`] would find no secret in `b`, found without looking at most bytes:
/// every secret but a PEM key lies in a run of [`RUN`] or more [`RUNNER`] bytes and starts at
/// most [`REACH`] bytes before that run (a bearer credential: [`BEARER_REACH`] before the spaces
/// ahead of it), so only the places near such runs are tried, and a text without `-----BEGIN `
/// and without such runs (most prose) is passed over by looking at one byte in 15. Pattern
/// changes must keep to this (`tests::the_prefilter_misses_no_secret` checks every pattern).
///
/// It holds of text as serde_json escapes it as well: such an escape stands for a byte no pattern
/// has (`"`, `\`, a control character), and is itself a word boundary to [`text`], so a secret of
/// the text is a secret of its escaped form. (`sources/event_json.rs` copies only strings without
/// escapes as they stand, and asks this of them.)
pub fn may_hold_secret(b: &[u8]) -> bool {
    static PEM: LazyLock<memchr::memmem::Finder> = LazyLock::new(|| memchr::memmem::Finder::new(b"-----BEGIN "));
    if b.len() < RUN {
        // Shorter than any secret.
        return false;
    }
    if PEM.find(b).is_some() {
        return true;
    }
    let runner = |c: &u8| RUNNER[usize::from(*c)];
    // Every RUN-th byte: a run of RUN or more holds one of them.
    let mut i = RUN - 1;
    // Places before this one were tried already.
    let mut tried = 0;
    while i < b.len() {
        if !runner(&b[i]) {
            i += RUN;
            continue;
        }
        let lo = i - b[..i].iter().rev().take_while(|c| runner(c)).count();
        let hi = i + b[i..].iter().take_while(|c| runner(c)).count();
        if hi - lo >= RUN {
            let spaces = b[..lo].iter().rev().take_while(|&&c| c == b' ').count();
            let from = lo.saturating_sub(REACH).min((lo - spaces).saturating_sub(BEARER_REACH)).max(tried);
            let mut after_word = from > 0 && word(b[from - 1]);
            for k in from..hi {
                let c = b[k];
                if may_start(c) && (!after_word || joined(b, k)) && secret_at(b, k).is_some() {
                    return true;
                }
                after_word = word(c);
            }
            tried = hi;
        }
        // The byte at `hi` ends the run: the next run of RUN or more holds `hi + RUN` or a later
        // sampled byte.
        i = hi + RUN;
    }
    false
}

/// `s` with every secret replaced by [`MARK`]; `s` itself (no copy) when there is none. For text
/// kept in the index (labels, tasks), redacted once when it is read.
pub fn owned(s: String) -> String {
    match text(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(r) => r,
    }
}

/// Whether `s` holds a secret that [`text`] would replace.
pub fn has_secret(s: &str) -> bool {
    matches!(text(s), Cow::Owned(_))
}

/// Redacts every string inside a JSON value (object keys are left alone).
pub fn value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = text(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(value),
        Value::Object(o) => o.values_mut().for_each(value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        text(s).into_owned()
    }

    #[test]
    fn real_looking_secrets_are_redacted() {
        let cases = [
            (
                "export OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd",
                "export OPENAI_API_KEY=[REDACTED]",
            ),
            (
                "key: sk-ant-api03-q1w2e3r4t5y6u7i8o9p0AaSsDdFfGgHhJjKkLl-ZzXxCcVvBbNnMm-0123456789AA rest",
                "key: [REDACTED] rest",
            ),
            ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx.", "slack [REDACTED]."),
            ("user xoxp-1111111111-2222222222-abcdef", "user [REDACTED]"),
            ("gh token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", "gh token [REDACTED] ok"),
            (
                "\"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012\"",
                "\"[REDACTED]\"",
            ),
            ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n", "aws_access_key_id = [REDACTED]\n"),
            ("bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4 started", "bot [REDACTED] started"),
            (
                "GET https://api.telegram.org/bot7012345678:AAFbq-3xZ_9kLmNoPqRsTuVwXyZaBcDeFgH/getMe",
                "GET https://api.telegram.org/bot[REDACTED]/getMe",
            ),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-DEF_ghi",
                "Authorization: Bearer [REDACTED]",
            ),
            ("curl -H 'authorization: bearer 0123456789abcdef0123'", "curl -H 'authorization: bearer [REDACTED]'"),
            ("two: sk-aaaaaaaaaaaaaaaaaaaaaaaa and AKIAABCDEFGHIJKLMNOP", "two: [REDACTED] and [REDACTED]"),
            ("ünïcödé → sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ ✓", "ünïcödé → [REDACTED] ✓"),
            ("GEMINI_API_KEY=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY;", "GEMINI_API_KEY=[REDACTED];"),
            (
                "stripe sk_live_51H8xYzAbCdEfGhIjKlMnOp and rk_test_4eC39HqLyjWDarjtT1zdp7dc",
                "stripe [REDACTED] and [REDACTED]",
            ),
            ("HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "HF_TOKEN=[REDACTED]"),
            ("groq gsk_0123456789abcdefghijABCDEFGHIJ0123456789abcdefgh", "groq [REDACTED]"),
            ("xai-0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij.", "[REDACTED]."),
            ("pplx-0123456789abcdefghijABCDEFGHIJ0123456789abcd", "[REDACTED]"),
            (
                "//registry.npmjs.org/:_authToken=npm_0123456789abcdefghijABCDEFGHIJ012345",
                "//registry.npmjs.org/:_authToken=[REDACTED]",
            ),
            (
                "git clone https://oauth2:glpat-Ab12Cd34Ef56Gh78Ij90@gitlab.com/x",
                "git clone https://oauth2:[REDACTED]@gitlab.com/x",
            ),
            (
                "POST https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX done",
                "POST https://hooks.slack.com/services/[REDACTED] done",
            ),
            (
                "url: https://discord.com/api/webhooks/1234567890123456789/AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-AbCdEfGhIjKlMnOpQrStUv\n",
                "url: https://discord.com/api/webhooks/[REDACTED]\n",
            ),
            (
                "cat id_ed25519:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\nok",
                "cat id_ed25519:\n-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----\nok",
            ),
            (
                "cut: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8Pb",
                "cut: -----BEGIN RSA PRIVATE KEY-----[REDACTED]",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for s in [
            "",
            "the task-sk-1 is done",
            "ask-me-anything about risk-free",
            "sk-short",
            "the Bearer scheme; Bearer abc",
            "AKIA1234 is too short, AKIAIOSFODNN7EXAMPLEX is too long",
            "order 12345678: shipped",
            "phone 1234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4",
            "ghp_short and xoxb-1",
            "AIza is a prefix, sk_live_short, hf_hub_download, the xai-grok model, pplx-api, npm_config_cache",
            "glpat-short and gsk_short",
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
            "https://hooks.slack.com/services/ and https://discord.com/api/webhooks/123",
            "--- a/x\n+++ b/x\n-----BEGIN",
            "désolé, ça marche 日本語",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn a_secret_right_after_an_escape_is_redacted() {
        // Serialised JSON inside OTLP attributes and logs keeps `\n`, `\t` as two characters.
        let cases = [
            (
                r#"{"content":"here:\nsk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd"}"#,
                r#"{"content":"here:\n[REDACTED]"}"#,
            ),
            (r"key\tghp_16C7e42F292c6912E7710c838347Ae178B4a", r"key\t[REDACTED]"),
            (r"id\r\nAKIAIOSFODNN7EXAMPLE\n", r"id\r\n[REDACTED]\n"),
            (r"token\u003dsk-ant-api03-q1w2e3r4t5y6u7i8o9p0Aa", r"token\u003d[REDACTED]"),
            (
                r"line1\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8Pb\n-----END RSA PRIVATE KEY-----\n",
                r"line1\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n",
            ),
            // URL-encoded: `=` is `%3D`.
            (
                "GET /v1?x-api-key%3Dsk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12 HTTP/1.1",
                "GET /v1?x-api-key%3D[REDACTED] HTTP/1.1",
            ),
            ("q=a%20xoxb-123456789012-1234567890123-AbCdEf&b", "q=a%20[REDACTED]&b"),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
        // A word ending in a hex digit, or a backslash before a digit, is still a word.
        for s in [
            r"x\9sk-aaaaaaaaaaaaaaaaaaaaaaaa",
            "%3sk-aaaaaaaaaaaaaaaaaaaaaaaa",
            "x%3Gsk-aaaaaaaaaaaaaaaaaaaaaaaa",
            "ask-aaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn a_pem_begin_line_without_key_material_keeps_the_text() {
        for s in [
            "see the -----BEGIN PRIVATE KEY----- marker; parse_pem() then checks the rest of the file",
            "the -----BEGIN RSA PRIVATE KEY----- and -----END RSA PRIVATE KEY----- lines frame it",
            "-----BEGIN PRIVATE KEY-----\nfollowed by the base64 body, see RFC 7468\n-----END PRIVATE KEY-----",
            r"-----BEGIN PRIVATE KEY-----\nshort\nthen prose",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
        // Without an END line only the base64 lines go; the text after them stays.
        let cases = [
            (
                "cut: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n\nthe reply was cut here",
                "cut: -----BEGIN PRIVATE KEY-----[REDACTED]\n\nthe reply was cut here",
            ),
            (
                r"-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\r\nok then",
                r"-----BEGIN EC PRIVATE KEY-----[REDACTED]\r\nok then",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj…",
                "-----BEGIN PRIVATE KEY-----[REDACTED]…",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nhQ1yGZ4LqP0OW8dD4y3zP2Ya1aWq5qGzV3yX9gVtR2k=\nAB==\n-----END RSA PRIVATE KEY-----\n",
                "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
    }

    #[test]
    fn temporary_aws_keys_and_more_webhook_urls_are_redacted() {
        let discord = "1234567890123456789/AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-AbCdEfGhIjKlMnOpQrStUv";
        let cases = [
            ("AWS_ACCESS_KEY_ID=ASIAY34FZKBOKMUTVV7A\n", "AWS_ACCESS_KEY_ID=[REDACTED]\n".to_string()),
            (
                "https://hooks.slack.com/workflows/T0AAAAAAA/A0BBBBBBB/123456789012345678/XXXXXXXXXXXXXXXXXXXX",
                "https://hooks.slack.com/workflows/[REDACTED]".to_string(),
            ),
            (
                "https://hooks.slack.com/triggers/T0AAAAAAA/1234567890123/0123456789abcdef0123456789abcdef",
                "https://hooks.slack.com/triggers/[REDACTED]".to_string(),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(r(input), want, "{input}");
        }
        for host in ["discord.com", "canary.discord.com", "ptb.discord.com", "discordapp.com", "canary.discordapp.com"]
        {
            for api in ["api", "api/v10"] {
                let url = format!("https://{host}/{api}/webhooks/");
                assert_eq!(r(&format!("{url}{discord} x")), format!("{url}[REDACTED] x"));
            }
        }
        for s in [
            "ASIA1234 is short",
            "https://hooks.slack.com/apps/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://ptb.discord.com/api/vx/webhooks/1",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
    }

    /// Random texts of secrets' pieces (prefixes, runs of key characters of every length,
    /// separators, escapes, spaces, PEM lines), from a fixed seed.
    fn pieces_texts(n: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "sk-",
            "sk_live_",
            "rk_test_",
            "xoxb-",
            "xoxs-",
            "xai-",
            "ghp_",
            "github_pat_",
            "glpat-",
            "gsk_",
            "hf_",
            "AIza",
            "AKIA",
            "ASIA",
            "pplx-",
            "npm_",
            "Bearer ",
            "bearer",
            "BEARER  ",
            "bot",
            "12345678:",
            "1234567890:",
            "https://hooks.slack.com/services/",
            "https://discord.com/api/webhooks/",
            "https://ptb.discord.com/api/v10/webhooks/",
            "https:",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----END RSA PRIVATE KEY-----",
            "Proc-Type: 4,ENCRYPTED",
            "DEK-Info: AES",
            r"\n",
            r"\r\n",
            r"\t",
            r"\u003d",
            r"\\",
            "%3D",
            "%",
            "\\",
            "\"",
            "\n",
            "\r\n",
            "\t",
            " ",
            "  ",
            ".",
            "=",
            "_",
            "-",
            ":",
            "/",
            "é",
            "日本",
            "x",
            "Z9",
        ];
        let classes: [&[u8]; 4] = [
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            b"abcXYZ019+/=",
            b"aZ09_-./~",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        (0..n)
            .map(|_| {
                let mut s = String::new();
                for _ in 0..1 + rnd(10) {
                    if rnd(2) == 0 {
                        s.push_str(PIECES[rnd(PIECES.len())]);
                    } else {
                        let class = classes[rnd(classes.len())];
                        let len = [rnd(8), 9 + rnd(4), 14 + rnd(4), 19 + rnd(3), 29 + rnd(14), rnd(70)][rnd(6)];
                        s.extend((0..len).map(|_| class[rnd(class.len())] as char));
                    }
                }
                s
            })
            .collect()
    }

    #[test]
    fn the_prefilter_misses_no_secret() {
        // Every pattern at its shortest, alone and after a word, an escape, spaces.
        let shortest = [
            format!("sk-{}", "a".repeat(20)),
            format!("sk_live_{}", "a".repeat(16)),
            format!("xoxb-{}", "1".repeat(10)),
            format!("xai-{}", "a".repeat(40)),
            format!("ghp_{}", "a".repeat(30)),
            format!("github_pat_{}", "a".repeat(20)),
            format!("glpat-{}", "a".repeat(20)),
            format!("hf_{}", "a".repeat(30)),
            format!("npm_{}", "a".repeat(36)),
            format!("AIza{}", "a".repeat(35)),
            "AKIAIOSFODNN7EXAMPLE".to_string(),
            format!("12345678:{}", "a".repeat(35)),
            format!("123456789:{}", "a".repeat(35)),
            format!("1234567890:{}", "a".repeat(35)),
            format!("bot1234567890:{}", "a".repeat(35)),
            format!("Bearer      {}", "a".repeat(16)),
            format!("https://hooks.slack.com/services/{}", "a".repeat(20)),
            format!("https://canary.discordapp.com/api/v9/webhooks/{}", "a".repeat(60)),
            format!("-----BEGIN PRIVATE KEY-----\n{}", "a".repeat(20)),
        ];
        for secret in &shortest {
            for before in ["", " ", "x ", r"key\t", r"x\u003d", "a%3D", "\n", "(", "é"] {
                let s = format!("{before}{secret}.");
                assert!(has_secret(&s) && may_hold_secret(s.as_bytes()), "{s}");
            }
        }
        let texts = pieces_texts(40_000);
        let mut found = 0;
        for s in &texts {
            let full = scan(s);
            found += usize::from(matches!(full, Cow::Owned(_)));
            assert_eq!(text(s), full, "{s:?}");
            // The same text as serde_json escapes it.
            let json = serde_json::to_string(s).unwrap();
            assert!(matches!(full, Cow::Borrowed(_)) || may_hold_secret(&json.as_bytes()[1..json.len() - 1]), "{json}");
        }
        // The texts hold secrets often enough to mean something, and not always.
        assert!(found > texts.len() / 25 && found < texts.len() / 2, "{found}");
    }

    #[test]
    fn prose_and_paths_are_passed_over() {
        for s in [
            "Cache container on needs `not` folder customer `new` then in as latency.",
            "-rw-r--r--  1 u u   45153 Oct  4 09:33 /var/log/syslog and /home/u/.openclaw/workspace/app.py",
            "toolu_01gmCYX1mQihXRWuzajrTRaO https://example.com/a/very/long/path/to/somewhere",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
        assert!(!may_hold_secret(b"Cache container on needs `not` folder customer `new` then in as latency."));
    }

    #[test]
    fn json_values_are_walked() {
        let mut v = serde_json::json!({
            "sk-keys-stay-as-keys-aaaaaaaaaa": ["ok", {"t": "token sk-ant-REDACTME0123456789abcdef", "n": 5}],
        });
        value(&mut v);
        assert_eq!(v["sk-keys-stay-as-keys-aaaaaaaaaa"][1]["t"], "token [REDACTED]");
        assert_eq!(v["sk-keys-stay-as-keys-aaaaaaaaaa"][0], "ok");
        assert_eq!(v["sk-keys-stay-as-keys-aaaaaaaaaa"][1]["n"], 5);
    }
}
