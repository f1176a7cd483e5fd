//! A small answer cache for the endpoints that add up the whole index (overview, usage,
//! session lists). An answer is reused while the index generation is unchanged and the
//! clock is in the same 2-second bucket (statuses and "today" depend on the time). Only 200
//! answers are kept; refusals pass through.

use super::{Answer, Ctx};
use super::{Req, Resp};
use std::sync::Mutex;

const SLOTS: usize = 16;
const TIME_BUCKET_MS: i64 = 2000;

struct Entry {
    key: String,
    generation: u64,
    bucket: i64,
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Returns the cached answer to `req`, or computes it with `f` and keeps it.
pub fn cached(req: &Req, ctx: &Ctx, f: impl FnOnce() -> Answer) -> Answer {
    cached_with(req, ctx, "", f)
}

/// [`cached`] for an answer that also depends on something outside the index (`extra`, e.g.
/// the budget limits): a change of `extra` is a miss.
pub fn cached_with(req: &Req, ctx: &Ctx, extra: &str, f: impl FnOnce() -> Answer) -> Answer {
    let mut key = req.path.clone();
    let mut q: Vec<_> = req.query.iter().collect();
    q.sort();
    for (k, v) in q {
        key.push_str(&format!("&{k}={v}"));
    }
    if !extra.is_empty() {
        key.push('#');
        key.push_str(extra);
    }
    let generation = ctx.index.generation();
    let bucket = ctx.index.now_ms().div_euclid(TIME_BUCKET_MS);
    {
        let cache = crate::sync::lock(&CACHE);
        if let Some(e) = cache.iter().find(|e| e.key == key && e.generation == generation && e.bucket == bucket) {
            return Ok(Resp {
                status: e.status,
                content_type: e.content_type,
                body: e.body.clone(),
                headers: e.headers.clone(),
            });
        }
    }
    let resp = f()?;
    if resp.status == 200 {
        let mut cache = crate::sync::lock(&CACHE);
        cache.retain(|e| e.key != key);
        if cache.len() >= SLOTS {
            cache.remove(0);
        }
        cache.push(Entry {
            key,
            generation,
            bucket,
            status: resp.status,
            content_type: resp.content_type,
            body: resp.body.clone(),
            headers: resp.headers.clone(),
        });
    }
    Ok(resp)
}
