//! `GET /api/events`: Server-Sent Events. Each index change is pushed as an SSE message with
//! the change's sequence number as `id`; a client that fell behind gets a `resync` event and
//! re-fetches. Streams run on their own threads (bounded), never on the handler pool.

use crate::state::Shared;
use serde_json::json;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Open streams at most; more get a 503 with a JSON error.
pub const MAX_STREAMS: usize = 32;
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Keep-alive comment interval: proxies and browsers drop silent connections.
const PING: Duration = Duration::from_secs(15);

/// Serves one event stream on its own thread.
pub fn serve(ctx: Shared, rq: tiny_http::Request) {
    if OPEN.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        OPEN.fetch_sub(1, Ordering::SeqCst);
        let body = json!({"error": format!("too many event streams (limit {MAX_STREAMS})")}).to_string();
        let resp = tiny_http::Response::from_string(body).with_status_code(503);
        let _ = rq.respond(resp);
        return;
    }
    let spawned = std::thread::Builder::new().name("sse".into()).spawn(move || {
        let after = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Last-Event-ID"))
            .and_then(|h| h.value.as_str().parse::<u64>().ok());
        let stream = Stream {
            ctx: ctx.clone(),
            after: after.unwrap_or_else(|| ctx.hub.seq()),
            buf: Vec::new(),
            pos: 0,
            started: false,
        };
        let mut resp = tiny_http::Response::new(200.into(), Vec::new(), stream, None, None);
        for (k, v) in
            [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")]
        {
            if let Ok(h) = tiny_http::Header::from_bytes(k, v) {
                resp.add_header(h);
            }
        }
        let _ = rq.respond(resp);
        OPEN.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A never-ending body: blocks until the next change, then yields it as SSE text.
struct Stream {
    ctx: Shared,
    after: u64,
    buf: Vec<u8>,
    pos: usize,
    started: bool,
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if !self.started {
                self.started = true;
                self.buf.extend_from_slice(
                    format!("retry: 2000\nevent: hello\nid: {}\ndata: {{}}\n\n", self.after).as_bytes(),
                );
                break;
            }
            match self.ctx.hub.wait_after(self.after, PING) {
                None => {
                    self.after = self.ctx.hub.seq();
                    self.buf.extend_from_slice(format!("event: resync\nid: {}\ndata: {{}}\n\n", self.after).as_bytes());
                }
                Some(changes) if changes.is_empty() => self.buf.extend_from_slice(b": ping\n\n"),
                Some(changes) => {
                    for c in changes {
                        self.after = c.seq;
                        self.buf.extend_from_slice(
                            format!("event: {}\nid: {}\ndata: {}\n\n", c.kind, c.seq, c.data).as_bytes(),
                        );
                    }
                }
            }
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
