//! Decoding base64 as peers send it: the gateway's device keys (base64url) and OTLP/JSON ids
//! (proto3 JSON writes bytes as standard base64, some exporters URL-safe). Over the `base64`
//! crate; encoding is a one-liner with its engines where needed.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
