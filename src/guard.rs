//! The guard's feed: what the loop and runaway detection (`alerts::guard`, run by the monitor
//! thread) needs of each transcript line written while clawmetry runs. The watcher turns every
//! new line into an activity row (`activity.rs`); the rows that matter here (a user message
//! starts a run; a model turn has its tokens, whether it said anything, and its tool calls with
//! a fingerprint of their full arguments) are queued in [`Feed`], which lives in the `Index`.
//!
//! Not kept: the index keeps aggregates, the feed only carries lines from the watcher to the
//! monitor, which drains it at once. Bounded: when the monitor falls behind, the oldest entries
//! go (and are counted).

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

/// Entries queued at most; more push the oldest out.
const FEED_MAX: usize = 20_000;

/// A tool call of a model turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    /// `activity::fingerprint` of the tool name and its full arguments.
    pub fp: String,
    /// The arguments as the activity row shows them (shortened, redacted): for the evidence.
    pub args: String,
}

/// What a line is to the guard.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A user message: a new run starts.
    User,
    /// A model turn (a reply or a model error): tokens, whether it had text, its tool calls.
    Turn { tokens: u64, text: bool, calls: Vec<Call> },
}

/// One line of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub session: String,
    pub seq: u64,
    pub ts: Option<i64>,
    pub step: Step,
}

impl Obs {
    /// The observation of an activity row (`activity::row`) of session `id`; None for rows that
    /// do not matter to the guard (tool results, compactions).
    pub fn from_row(id: &str, row: &Value) -> Option<Obs> {
        let step = match row["kind"].as_str()? {
            "user" => Step::User,
            kind @ ("assistant" | "error") => Step::Turn {
                tokens: row["tokens"].as_u64().unwrap_or(0),
                text: kind == "assistant" && row["text"].as_str().is_some_and(|t| !t.trim().is_empty()),
                calls: row["tools"]
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| Call {
                                name: t["name"].as_str().unwrap_or("").to_string(),
                                fp: t["fp"].as_str().unwrap_or("").to_string(),
                                args: t["args"].as_str().unwrap_or("").to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            _ => return None,
        };
        Some(Obs { session: id.to_string(), seq: row["seq"].as_u64()?, ts: row["ts"].as_i64(), step })
    }
}

/// The queue from the watcher to the monitor, and how to wake the monitor.
#[derive(Default)]
pub struct Feed {
    queue: Mutex<Queue>,
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Obs>,
    dropped: u64,
}

impl Feed {
    /// Called once, by the monitor, before any thread starts.
    pub fn set_waker(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(f);
    }

    pub fn push(&self, obs: impl IntoIterator<Item = Obs>) {
        let mut any = false;
        {
            let mut q = crate::sync::lock(&self.queue);
            for o in obs {
                if q.items.len() >= FEED_MAX {
                    q.items.pop_front();
                    q.dropped += 1;
                }
                q.items.push_back(o);
                any = true;
            }
        }
        if any {
            if let Some(w) = self.waker.get() {
                w();
            }
        }
    }

    /// Everything queued, oldest first, and how many entries were dropped since the last drain.
    pub fn drain(&self) -> (Vec<Obs>, u64) {
        let mut q = crate::sync::lock(&self.queue);
        let dropped = std::mem::take(&mut q.dropped);
        (q.items.drain(..).collect(), dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_become_observations() {
        let user = json!({"kind": "user", "seq": 3, "ts": 10, "text": "hi"});
        assert_eq!(Obs::from_row("s", &user).unwrap().step, Step::User);
        let turn = json!({"kind": "assistant", "seq": 4, "ts": 11, "text": "", "tokens": 120,
            "tools": [{"name": "exec", "fp": "ab", "args": "{\"command\":\"ls\"}"}]});
        let o = Obs::from_row("s", &turn).unwrap();
        assert_eq!((o.session.as_str(), o.seq, o.ts), ("s", 4, Some(11)));
        let Step::Turn { tokens, text, calls } = o.step else { panic!("a turn") };
        assert_eq!((tokens, text, calls.len(), calls[0].fp.as_str()), (120, false, 1, "ab"));
        // A model error counts as a turn without text; tool results are not observed.
        let err = json!({"kind": "error", "seq": 5, "text": "rate limited", "tokens": 0});
        assert!(matches!(Obs::from_row("s", &err).unwrap().step, Step::Turn { text: false, .. }));
        assert!(Obs::from_row("s", &json!({"kind": "tool_result", "seq": 6})).is_none());
    }

    #[test]
    fn the_feed_is_bounded_and_wakes() {
        let f = Feed::default();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = woken.clone();
        f.set_waker(Box::new(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        let obs = |seq| Obs { session: "s".into(), seq, ts: None, step: Step::User };
        f.push((0..FEED_MAX as u64 + 5).map(obs));
        f.push(std::iter::empty());
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1, "one wake per non-empty push");
        let (items, dropped) = f.drain();
        assert_eq!((items.len(), dropped), (FEED_MAX, 5));
        assert_eq!(items[0].seq, 5, "the oldest went");
        assert_eq!(f.drain(), (Vec::new(), 0));
    }
}
