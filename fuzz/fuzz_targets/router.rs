//! The HTTP router: a request made of fuzz bytes (method, path, query, body) against an empty
//! state (no installation, no gateway, data dir in a temp dir).
#![no_main]
use clawmetry::http::{percent_decode, routes, Req};
use clawmetry::state::{Ctx, Shared};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn ctx() -> &'static Shared {
    static CTX: OnceLock<Shared> = OnceLock::new();
    CTX.get_or_init(|| {
        let tmp = std::env::temp_dir().join(format!("clawmetry-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(tmp.join("data"));
        let cfg = clawmetry::cli::Config {
            openclaw_dir: Some(tmp.join("no-openclaw")),
            data_dir: Some(tmp.join("data")),
            no_gateway: true,
            ..Default::default()
        };
        let install = clawmetry::detect::detect(&cfg);
        Ctx::new(install, &cfg)
    })
}

fuzz_target!(|data: &[u8]| {
    // method byte, then "path?query" up to the first NUL, then the body.
    let Some((&m, rest)) = data.split_first() else { return };
    let method = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][m as usize % 7];
    let (url, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let url = String::from_utf8_lossy(url);
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let req = Req {
        method: method.into(),
        path: path.to_string(),
        segments: path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect(),
        query: query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect(),
        if_none_match: None,
        accept_gzip: m & 0x80 != 0,
        remote: Some(([127, 0, 0, 1], 1234).into()),
        body: body.to_vec(),
        headers: vec![("host".into(), "127.0.0.1:8900".into())],
    };
    let resp = routes::route(&req, ctx());
    assert!((100..600).contains(&resp.status));
});
