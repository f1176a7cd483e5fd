//! gzip for the embedded web UI: `flate2` (pure-Rust miniz_oxide backend, the same crate that
//! decodes gzipped OTLP exports) at its best level. The assets are compressed once, on first
//! use, so ratio matters more than speed. Also the `Accept-Encoding` check.

use std::io::Write;

/// A gzip member (RFC 1952) of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// Whether an `Accept-Encoding` header value allows gzip (`gzip` or `*` with a non-zero q).
pub fn accepts_gzip(header: &str) -> bool {
    let mut star = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "gzip" | "x-gzip" => return q > 0.0,
            "*" => star = q > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(g: &[u8]) -> Vec<u8> {
        assert_eq!(&g[..3], &[0x1f, 0x8b, 8]);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(g).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips() {
        let long_runs: Vec<u8> = (0..100_000).map(|i| if i % 1000 < 600 { b'a' } else { (i % 7) as u8 }).collect();
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            vec![255; 300_000],
            long_runs,
            include_bytes!("../../static/index.html").to_vec(),
            include_bytes!("../../static/vendor/uplot-1.6.32/uPlot.iife.min.js").to_vec(),
        ];
        for c in cases {
            assert_eq!(gunzip(&gzip(&c)), c, "round trip of {} bytes", c.len());
        }
    }

    #[test]
    fn compresses_text() {
        let js = include_bytes!("../../static/vendor/uplot-1.6.32/uPlot.iife.min.js");
        let z = gzip(js);
        assert!(z.len() * 2 < js.len(), "{} -> {}", js.len(), z.len());
        let z = gzip(&[7u8; 100_000]);
        assert!(z.len() < 1000, "a run of one byte -> {}", z.len());
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("*;q=0"));
    }
}
