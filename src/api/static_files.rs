//! The embedded web UI (`static/`), served with an ETag, `Cache-Control` and, when the browser
//! accepts it, gzip (compressed once per asset, on first use; see `gzip.rs`). Unknown paths
//! without a file extension get `index.html` so that deep links work.

use super::{ApiError, Req, Resp};
use crate::http::gzip;
use std::sync::OnceLock;

pub struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset { path: $path, body: include_bytes!(concat!("../../static", $path)), content_type: $ty }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the UI. `tests/it/ui_static.rs` checks that each file under `static/` is here.
pub const ASSETS: [Asset; 71] = [
    asset!("/index.html", HTML),
    asset!("/app.js", JS),
    asset!("/app.css", CSS),
    asset!("/favicon.svg", "image/svg+xml"),
    asset!("/manifest.webmanifest", "application/manifest+json"),
    asset!("/sw.js", JS),
    asset!("/icons/icon-192.png", "image/png"),
    asset!("/icons/icon-512.png", "image/png"),
    asset!("/js/util.js", JS),
    asset!("/js/overview.js", JS),
    asset!("/js/sessions.js", JS),
    asset!("/js/session.js", JS),
    asset!("/js/subagents.js", JS),
    asset!("/js/usage.js", JS),
    asset!("/js/flow.js", JS),
    asset!("/js/crons.js", JS),
    asset!("/js/health.js", JS),
    asset!("/js/activity.js", JS),
    asset!("/js/activity/density.js", JS),
    asset!("/js/activity/filters.js", JS),
    asset!("/js/activity/row.js", JS),
    asset!("/js/logs.js", JS),
    asset!("/js/logs/parts.js", JS),
    asset!("/js/memory.js", JS),
    asset!("/js/search.js", JS),
    asset!("/js/search/hits.js", JS),
    asset!("/js/overview/quotas.js", JS),
    asset!("/js/memory/markdown.js", JS),
    asset!("/js/alerts.js", JS),
    asset!("/js/otlp.js", JS),
    asset!("/js/fleet.js", JS),
    asset!("/js/login.js", JS),
    asset!("/js/loader.js", JS),
    asset!("/js/alerts/budget.js", JS),
    asset!("/js/alerts/guard.js", JS),
    asset!("/js/alerts/fields.js", JS),
    asset!("/js/alerts/panels.js", JS),
    asset!("/js/alerts/wire.js", JS),
    asset!("/js/crons/edit.js", JS),
    asset!("/js/crons/form.js", JS),
    asset!("/js/crons/history.js", JS),
    asset!("/js/crons/read.js", JS),
    asset!("/js/crons/schedule.js", JS),
    asset!("/js/crons/table.js", JS),
    asset!("/js/flow/graph.js", JS),
    asset!("/js/health/cards.js", JS),
    asset!("/js/health/chart.js", JS),
    asset!("/js/health/panels.js", JS),
    asset!("/js/otlp/parts.js", JS),
    asset!("/js/overview/insight.js", JS),
    asset!("/js/overview/parts.js", JS),
    asset!("/js/session/blocks.js", JS),
    asset!("/js/session/events.js", JS),
    asset!("/js/session/export.js", JS),
    asset!("/js/session/figures.js", JS),
    asset!("/js/session/footer.js", JS),
    asset!("/js/session/guard.js", JS),
    asset!("/js/session/head.js", JS),
    asset!("/js/session/timeline.js", JS),
    asset!("/js/session/toolbar.js", JS),
    asset!("/js/sessions/filters.js", JS),
    asset!("/js/sessions/table.js", JS),
    asset!("/js/subagents/card.js", JS),
    asset!("/js/usage/cache.js", JS),
    asset!("/js/usage/charts.js", JS),
    asset!("/js/usage/range.js", JS),
    asset!("/js/usage/tables.js", JS),
    asset!("/js/usage/where.js", JS),
    asset!("/vendor/uplot-1.6.32/uPlot.iife.min.js", JS),
    asset!("/vendor/uplot-1.6.32/uPlot.min.css", CSS),
    asset!("/vendor/uplot-1.6.32/LICENSE", "text/plain; charset=utf-8"),
];

/// The gzip form of each asset, made on first request (None when it would not be smaller).
static GZIPPED: [OnceLock<Option<Vec<u8>>>; ASSETS.len()] = [const { OnceLock::new() }; ASSETS.len()];

fn gzipped(i: usize) -> Option<&'static [u8]> {
    GZIPPED[i]
        .get_or_init(|| {
            let a = &ASSETS[i];
            if a.content_type.starts_with("image/") && !a.content_type.contains("svg") {
                return None;
            }
            let z = gzip::gzip(a.body);
            (z.len() + 64 < a.body.len()).then_some(z)
        })
        .as_deref()
}

/// FNV-1a of the body: a stable, cheap ETag.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Whether `If-None-Match` (a list of tags, possibly weak) names `tag`.
fn matches(header: Option<&str>, tag: &str) -> bool {
    header.is_some_and(|h| h.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == tag || t == "*"))
}

/// A file of the UI (a path without an extension is a deep link and gets the page). Never
/// refused but for a missing file's 404, so it answers a `Resp` as it is.
pub fn get(req: &Req) -> Resp {
    let path = if req.path == "/" { "/index.html" } else { req.path.as_str() };
    let index = match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => i,
        None if !path.contains('.') => 0,
        None => return ApiError::not_found(&format!("file {path}")).into(),
    };
    let asset = &ASSETS[index];
    let gz = if req.accept_gzip { gzipped(index) } else { None };
    // A representation's tag differs per encoding (RFC 9110 8.8.3).
    let tag = match gz {
        Some(_) => format!("\"{}-gz\"", etag(asset.body)),
        None => format!("\"{}\"", etag(asset.body)),
    };
    // Vendored files carry their version in the path and never change; the app's own files are
    // revalidated on each load (a cheap 304) so that an upgraded binary never mixes versions.
    let cache = if asset.path.starts_with("/vendor/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut headers =
        vec![("ETag", tag.clone()), ("Cache-Control", cache.to_string()), ("Vary", "Accept-Encoding".into())];
    if matches(req.if_none_match.as_deref(), &tag) {
        return Resp { status: 304, content_type: asset.content_type, body: Vec::new(), headers };
    }
    let body = match gz {
        Some(z) => {
            headers.push(("Content-Encoding", "gzip".into()));
            z.to_vec()
        }
        None => asset.body.to_vec(),
    };
    if asset.path == "/index.html" {
        headers.push((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
                .into(),
        ));
        headers.push(("Referrer-Policy", "no-referrer".into()));
    }
    Resp { status: 200, content_type: asset.content_type, body, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, gzip: bool, inm: Option<&str>) -> Req {
        let mut headers = Vec::new();
        if gzip {
            headers.push(("accept-encoding".to_string(), "gzip".to_string()));
        }
        if let Some(tag) = inm {
            headers.push(("if-none-match".to_string(), tag.to_string()));
        }
        Req::new("GET", path, headers, Vec::new(), None)
    }

    fn header<'a>(r: &'a Resp, k: &str) -> Option<&'a str> {
        r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn gzip_etag_and_revalidation() {
        let plain = get(&req("/app.js", false, None));
        assert_eq!(plain.status, 200);
        assert_eq!(plain.body, ASSETS[1].body);
        assert_eq!(header(&plain, "Content-Encoding"), None);
        let gz = get(&req("/app.js", true, None));
        assert_eq!(header(&gz, "Content-Encoding"), Some("gzip"));
        assert!(gz.body.len() < plain.body.len());
        let (t1, t2) = (header(&plain, "ETag").unwrap(), header(&gz, "ETag").unwrap());
        assert_ne!(t1, t2);
        assert_eq!(get(&req("/app.js", true, Some(t2))).status, 304);
        assert_eq!(get(&req("/app.js", true, Some(&format!("\"x\", W/{t2}")))).status, 304);
        // The plain tag does not validate the gzip form.
        assert_eq!(get(&req("/app.js", true, Some(t1))).status, 200);
        assert_eq!(header(&gz, "Vary"), Some("Accept-Encoding"));
    }

    #[test]
    fn deep_links_get_the_page_and_missing_files_404() {
        let r = get(&req("/sessions/abc", false, None));
        assert_eq!((r.status, r.content_type), (200, HTML));
        assert_eq!(get(&req("/nope.js", false, None)).status, 404);
        let v = get(&req("/vendor/uplot-1.6.32/uPlot.iife.min.js", false, None));
        assert!(header(&v, "Cache-Control").unwrap().contains("immutable"));
        assert_eq!(get(&req("/app.css", false, None)).content_type, CSS);
        assert_eq!(get(&req("/js/util.js", false, None)).content_type, JS);
    }
}
