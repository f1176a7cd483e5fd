//! Encodings and ids, each in one place: decoding base64 as peers send it (the gateway's device
//! keys in base64url, OTLP/JSON ids in standard base64 or URL-safe; over the `base64` crate),
//! lower-case hex, random bytes and ids (one failure policy: no OS randomness is an error, never
//! zeros or a guessable fallback), writing a file atomically, and the hash of what is kept on
//! disk ([`stable_hasher`]).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Standard alphabet; padding optional (stripped first); bits left over in the last symbol are
/// ignored, as the hand-written decoders this replaces did.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// base64 in either alphabet (`+/` or `-_`, even mixed), with or without `=` padding. None for
/// any other byte or an impossible length.
pub fn base64_decode_any(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let decoded =
        if s.contains(['-', '_']) { LENIENT.decode(s.replace('-', "+").replace('_', "/")) } else { LENIENT.decode(s) };
    decoded.ok()
}

/// Lower-case hex of `b` (ids, digests, signatures).
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for x in b {
        out.push(DIGITS[(x >> 4) as usize] as char);
        out.push(DIGITS[(x & 15) as usize] as char);
    }
    out
}

/// `N` bytes from the operating system's random source, or why there are none.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| format!("no system randomness: {e}"))?;
    Ok(b)
}

/// A random id of `N` bytes, as hex.
pub fn random_id<const N: usize>() -> Result<String, String> {
    random::<N>().map(|b| hex(&b))
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new one, never half of
/// one: a temp file beside it (owner-only, 0600), synced, then renamed over it. The directory is
/// made if missing.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| format!("{}: {e}", path.display()))
}

/// Constant-time comparison of a secret (token, key), so it cannot be guessed byte by byte from
/// timings; an empty secret matches nothing.
pub fn secret_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0 && !a.is_empty()
}

/// HMAC-SHA256 (RFC 2104): the `hmac` crate over `sha2`, which the gateway's device identity
/// already needs.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Standard base64 with padding (MIME bodies, RFC 2047 subjects, SMTP AUTH).
pub fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The hasher of every hash clawmetry keeps on disk or compares with one it kept (the ledger's
/// metadata fingerprints, the checkpoint's checksums and file tails, the price table's stamp,
/// the search index's signatures, the log cursors a browser holds): XXH64 with seed 0, a
/// specified algorithm, where std's `DefaultHasher` may change its algorithm with any Rust
/// release. (The bytes fed to it follow std's `Hash` of the values, which std does not promise
/// to keep either; a value that changes costs a rewrite or a re-read, never a wrong figure.)
pub fn stable_hasher() -> twox_hash::XxHash64 {
    twox_hash::XxHash64::with_seed(0)
}

/// [`stable_hasher`]'s hash of one value (a tuple hashes its fields one after the other).
/// The bytes `Hash` feeds are gathered first and hashed in one go: the same value as the
/// streaming hasher (which takes only `write`), without its copy into a 32-byte stripe buffer
/// per small write (a session's metadata is ~20 of them: at a restart of 100k sessions, 5% of
/// the CPU went to them).
pub fn stable_hash<T: std::hash::Hash + ?Sized>(v: &T) -> u64 {
    /// The bytes a value's `Hash` writes.
    struct Gather(Vec<u8>);
    impl std::hash::Hasher for Gather {
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn finish(&self) -> u64 {
            twox_hash::XxHash64::oneshot(0, &self.0)
        }
    }
    thread_local! {
        static BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    use std::hash::Hasher;
    let mut g = Gather(BUF.take());
    g.0.clear();
    v.hash(&mut g);
    let h = g.finish();
    // Not kept after a large value (a checkpoint row's data): the thread would hold its room.
    if g.0.capacity() <= 64 * 1024 {
        BUF.set(g.0);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_hasher_is_xxh64_with_seed_0() {
        use std::hash::Hasher;
        // The reference implementation's values (xxHash's own sanity checks, and `xxh64sum`).
        let of = |b: &[u8]| {
            let mut h = stable_hasher();
            h.write(b);
            h.finish()
        };
        assert_eq!(of(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(of(b"abc"), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn stable_hash_is_the_streaming_hash_of_what_hash_writes() {
        use std::hash::{Hash, Hasher};
        let long = "x".repeat(100);
        let values = (
            ("session", Some("agent:main:cron:1"), None::<&str>, long.as_str()),
            (Some(1_733_000_000_000_i64), None::<i64>, 7u8, [1u64, 2, 3]),
        );
        let mut h = stable_hasher();
        values.hash(&mut h);
        assert_eq!(stable_hash(&values), h.finish());
        // Called again on the same thread (the buffer reused).
        assert_eq!(stable_hash(&values), h.finish());
        assert_eq!(stable_hash(&b"abc"[..]), {
            let mut h = stable_hasher();
            b"abc"[..].hash(&mut h);
            h.finish()
        });
    }

    #[test]
    fn hmac_sha256_rfc4231() {
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Test case 7: a long key and a long message.
        let msg = b"This is a test using a larger than block-size key and a larger than block-size data. \
                    The key needs to be hashed before being used by the HMAC algorithm.";
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], msg)),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn secret_comparison() {
        assert!(secret_matches("s3cret", "s3cret"));
        assert!(!secret_matches("s3cret", "s3cres"));
        assert!(!secret_matches("s3cret", "s3cret!"));
        assert!(!secret_matches("", ""));
    }

    #[test]
    fn both_alphabets_padding_optional() {
        assert_eq!(base64_decode_any("").unwrap(), b"");
        assert_eq!(base64_decode_any("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode_any("Zg").unwrap(), b"f");
        assert_eq!(base64_decode_any("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode_any("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64_decode_any("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64_decode_any("-/8").unwrap(), [0xfb, 0xff]);
        // Non-zero leftover bits in the last symbol are tolerated.
        assert_eq!(base64_decode_any("Zh").unwrap(), b"f");
        assert!(base64_decode_any("a*b").is_none());
        assert!(base64_decode_any("Zm9v Zg").is_none());
        assert!(base64_decode_any("Zm9vY").is_none());
        assert!(base64_decode_any("Z=g").is_none());
    }

    #[test]
    fn hex_random_ids_and_atomic_writes() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        let (a, b) = (random_id::<16>().unwrap(), random_id::<16>().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_ne!(random::<32>().unwrap(), [0u8; 32]);
        let dir = std::env::temp_dir().join(format!("clawmetry-codec-{}", std::process::id()));
        let path = dir.join("sub/file.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temp file left behind: {left:?}");
        // A directory where the file should be: an error naming the path, nothing left behind.
        std::fs::create_dir_all(dir.join("sub/taken/x")).unwrap();
        let e = write_atomic(&dir.join("sub/taken"), b"x").unwrap_err();
        assert!(e.contains("sub/taken"), "{e}");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
