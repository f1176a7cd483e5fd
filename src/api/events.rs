//! `GET /api/events`: Server-Sent Events. Each index change is pushed as an SSE message with
//! the change's sequence number as `id`; a client that fell behind gets a `resync` event and
//! re-fetches. Streams run on their connection's thread (bounded), never on the handler pool.

use super::{ApiError, Ctx, Req};
use crate::http::server::Reply;
use crate::state::Index;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// Open streams at most; more get a 503 with a JSON error.
pub const MAX_STREAMS: usize = 32;
static OPEN: super::Places = super::Places::new(MAX_STREAMS);

/// Keep-alive comment interval: proxies and browsers drop silent connections.
const PING: Duration = Duration::from_secs(15);

/// Opens an event stream: the connection thread writes it (`server.rs`), so a stream never
/// holds a handler thread; past `MAX_STREAMS` open ones the answer is a 503.
pub fn open(ctx: &Ctx, req: &Req) -> Reply {
    // Held while the stream lives (or until it is dropped unused).
    let Some(place) = OPEN.take() else {
        return Reply::Resp(ApiError::unavailable(format!("too many event streams (limit {MAX_STREAMS})")).into());
    };
    let after = req.header("last-event-id").and_then(|v| v.parse::<u64>().ok());
    // A Last-Event-ID ahead of the hub comes from before a restart of clawmetry: the ids started
    // over, so what the client missed is unknown and it must resynchronise.
    let seq = ctx.index.hub.seq();
    let (after, stale) = match after {
        Some(a) if a > seq => (seq, true),
        Some(a) => (a, false),
        None => (seq, false),
    };
    let index = ctx.index.clone();
    Reply::Stream(Box::new(move |out: &mut dyn Write| {
        let _place = place;
        let mut stream = Stream { index, after, buf: Vec::new(), pos: 0, started: false, stale };
        // Close-delimited, not chunked, and flushed per event: it must reach the browser at once.
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                    Connection: close\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n\r\n";
        let mut chunk = [0u8; 16 * 1024];
        if out.write_all(head.as_bytes()).and_then(|_| out.flush()).is_ok() {
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 || out.write_all(&chunk[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
        }
    }))
}

/// A never-ending body: blocks until the next change, then yields it as SSE text.
struct Stream {
    index: Arc<Index>,
    after: u64,
    buf: Vec<u8>,
    pos: usize,
    started: bool,
    /// Send a `resync` right after `hello` (see `serve`).
    stale: bool,
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
                if self.stale {
                    self.buf.extend_from_slice(format!("event: resync\nid: {}\ndata: {{}}\n\n", self.after).as_bytes());
                }
                break;
            }
            match self.index.hub.wait_after(self.after, PING) {
                None => {
                    self.after = self.index.hub.seq();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pushed_events_are_redacted() {
        let cfg = crate::cli::Config { openclaw_dir: Some("/nonexistent".into()), ..Default::default() };
        let index = Index::new(crate::sources::detect::detect(&cfg), None);
        let mut stream = Stream {
            index: index.clone(),
            after: index.hub.seq(),
            buf: Vec::new(),
            pos: 0,
            started: true,
            stale: false,
        };
        let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";
        index.hub.publish("cron", json!({"summary": format!("posted with {key} ok")}));
        let mut out = [0u8; 4096];
        let n = stream.read(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out[..n]);
        assert!(text.starts_with("event: cron\n") && text.contains("posted with [REDACTED] ok"), "{text}");
        assert!(!text.contains(key), "{text}");
    }
}
