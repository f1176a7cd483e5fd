//! The embedded web UI (`static/`), served with an ETag and `Cache-Control`. Unknown paths
//! get `index.html` so that deep links work.

use super::{Req, Resp};

struct Asset {
    path: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/index.html",
        body: include_bytes!("../../static/index.html"),
        content_type: "text/html; charset=utf-8",
    },
    Asset {
        path: "/app.js",
        body: include_bytes!("../../static/app.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset { path: "/app.css", body: include_bytes!("../../static/app.css"), content_type: "text/css; charset=utf-8" },
];

/// FNV-1a of the body: a stable, cheap ETag.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

pub fn get(req: &Req) -> Resp {
    let path = if req.path == "/" { "/index.html" } else { req.path.as_str() };
    let asset = match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => a,
        None if !path.contains('.') => &ASSETS[0],
        None => return Resp::not_found(&format!("file {path}")),
    };
    let tag = etag(asset.body);
    let cache = if asset.path == "/index.html" { "no-cache" } else { "public, max-age=300, must-revalidate" };
    if req.if_none_match.as_deref() == Some(tag.as_str()) {
        return Resp {
            status: 304,
            content_type: asset.content_type,
            body: Vec::new(),
            headers: vec![("ETag", tag), ("Cache-Control", cache.into())],
        };
    }
    Resp {
        status: 200,
        content_type: asset.content_type,
        body: asset.body.to_vec(),
        headers: vec![("ETag", tag), ("Cache-Control", cache.into())],
    }
}
