//! Loop and runaway detection (issue 17): the guard's rules, their settings, and the per-session
//! state they need. Pure: the monitor thread (`monitor/guard.rs`) feeds it the lines the watcher
//! saw (`crate::guard::Obs`) and acts on what it finds (alert, activity row, auto-stop).
//!
//! A *run* is what follows a user message: the tool calls and model turns until the next one.
//! Per session the guard keeps the current run's last tool calls, as many as the rules look at
//! (a fingerprint of the tool and its full arguments, and the line: 16 bytes each; the names and
//! arguments of the newest two only, for the evidence) and a count of the model turns since the
//! last one that said anything; nothing else. The rules:
//! * `repeat`: the same tool with the same arguments `calls` times among the run's last
//!   `window` calls (default 5 in 20);
//! * `alternate`: two different calls taking turns, `cycles` times each in a row (default 4:
//!   A B A B A B A B);
//! * `noProgress`: `turns` model turns in a row without any assistant text that used at least
//!   `tokens` tokens together (default 10 turns, 50,000 tokens);
//! * `tokenRate`: the session used more than `factor` times its agent's usual tokens per minute
//!   within `minutes`, and at least `minTokens` (default 10×, 1 min, 500,000 tokens). The usual
//!   rate (the baseline) is the monitor's: the median of the agent's sessions' tokens per minute.
//!
//! A rule fires once per run and thing repeated; later calls that continue the pattern are added
//! to the finding's evidence (its `count` and the lines, `seqs`) instead of firing again.

use super::json::*;
use crate::guard::{Obs, Step};
use foldhash::HashMap;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// The longest window a rule may look at (tool calls).
pub const KEEP_CALLS: usize = 200;
/// How often idle sessions are looked for (monotonic ms).
const EXPIRE_EVERY_MS: i64 = 15_000;
/// Findings kept in memory (the alerts stay in the history).
const KEEP_FINDINGS: usize = 500;
/// Lines listed in a finding's evidence at most.
const KEEP_SEQS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub enabled: bool,
    pub calls: u64,
    pub window: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alternate {
    pub enabled: bool,
    pub cycles: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRate {
    pub enabled: bool,
    pub minutes: u64,
    pub factor: f64,
    pub min_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoProgress {
    pub enabled: bool,
    pub turns: u64,
    pub tokens: u64,
}

/// The guard's settings (`GET`/`PUT /api/guard`), kept in history.db like the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    pub repeat: Repeat,
    pub alternate: Alternate,
    pub no_progress: NoProgress,
    pub token_rate: TokenRate,
    /// Abort a run through the gateway when a rule fires (off unless set).
    pub auto_stop: bool,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            repeat: Repeat { enabled: true, calls: 5, window: 20 },
            alternate: Alternate { enabled: true, cycles: 4 },
            no_progress: NoProgress { enabled: true, turns: 10, tokens: 50_000 },
            token_rate: TokenRate { enabled: true, minutes: 1, factor: 10.0, min_tokens: 500_000 },
            auto_stop: false,
        }
    }
}

impl GuardSettings {
    /// Decodes the settings; what is left out keeps its default.
    pub fn from_json(v: &Value) -> Result<GuardSettings, String> {
        let o = obj(v, "guard")?;
        no_unknown(o, &["repeat", "alternate", "noProgress", "tokenRate", "autoStop"], "guard")?;
        let d = GuardSettings::default();
        let empty = json!({});
        let part = |k: &str, fields: &[&str]| part(o.get(k).unwrap_or(&empty), k, fields);
        let r = part("repeat", &["enabled", "calls", "window"])?;
        let calls = int(r, "calls", "guard.repeat", 2, KEEP_CALLS as u64, Some(d.repeat.calls))?;
        let repeat = Repeat {
            enabled: boolean(r, "enabled", "guard.repeat", true)?,
            calls,
            window: int(r, "window", "guard.repeat", calls, KEEP_CALLS as u64, Some(d.repeat.window.max(calls)))?,
        };
        let a = part("alternate", &["enabled", "cycles"])?;
        let alternate = Alternate {
            enabled: boolean(a, "enabled", "guard.alternate", true)?,
            cycles: int(a, "cycles", "guard.alternate", 2, KEEP_CALLS as u64 / 2, Some(d.alternate.cycles))?,
        };
        let n = part("noProgress", &["enabled", "turns", "tokens"])?;
        let no_progress = NoProgress {
            enabled: boolean(n, "enabled", "guard.noProgress", true)?,
            turns: int(n, "turns", "guard.noProgress", 2, 100_000, Some(d.no_progress.turns))?,
            tokens: int(n, "tokens", "guard.noProgress", 0, u64::MAX / 4, Some(d.no_progress.tokens))?,
        };
        let t = part("tokenRate", &["enabled", "minutes", "factor", "minTokens"])?;
        let token_rate = TokenRate {
            enabled: boolean(t, "enabled", "guard.tokenRate", true)?,
            minutes: int(t, "minutes", "guard.tokenRate", 1, 60, Some(d.token_rate.minutes))?,
            factor: opt_num(t, "factor", "guard.tokenRate", 1.0, 10_000.0)?.unwrap_or(d.token_rate.factor),
            min_tokens: int(t, "minTokens", "guard.tokenRate", 0, u64::MAX / 4, Some(d.token_rate.min_tokens))?,
        };
        Ok(GuardSettings {
            repeat,
            alternate,
            no_progress,
            token_rate,
            auto_stop: boolean(o, "autoStop", "guard", false)?,
        })
    }

    pub fn to_json(&self) -> Value {
        let (r, a, n, t) = (&self.repeat, &self.alternate, &self.no_progress, &self.token_rate);
        json!({
            "repeat": {"enabled": r.enabled, "calls": r.calls, "window": r.window},
            "alternate": {"enabled": a.enabled, "cycles": a.cycles},
            "noProgress": {"enabled": n.enabled, "turns": n.turns, "tokens": n.tokens},
            "tokenRate": {"enabled": t.enabled, "minutes": t.minutes, "factor": t.factor, "minTokens": t.min_tokens},
            "autoStop": self.auto_stop,
        })
    }
}

/// One rule's object of the settings, checked for unknown fields.
fn part<'a>(v: &'a Value, k: &str, fields: &[&str]) -> Result<&'a Obj, String> {
    let p = obj(v, &format!("guard.{k}"))?;
    no_unknown(p, fields, &format!("guard.{k}"))?;
    Ok(p)
}

/// A tool call as the guard keeps it: its fingerprint (0: unknown, never matched) and line.
#[derive(Debug, Clone, Copy)]
struct Seen {
    fp: u64,
    seq: u64,
}

/// One session's current run.
#[derive(Debug, Default)]
struct Run {
    /// The line of the user message that started it (None: started before clawmetry saw it).
    start_seq: Option<u64>,
    calls: VecDeque<Seen>,
    /// (tool, arguments) of the newest two calls, newest last.
    named: VecDeque<(String, String)>,
    total_calls: u64,
    /// Model turns in a row without text, their tokens and lines.
    quiet_turns: u64,
    quiet_tokens: u64,
    quiet_seqs: Vec<u64>,
    /// The session's model turns of the last `tokenRate.minutes` (line time, tokens); kept
    /// across runs.
    recent: VecDeque<(i64, u64)>,
    /// Their tokens together, and the newest line time among them.
    recent_tokens: u64,
    recent_newest: i64,
    /// What fired in this run: (key, finding id).
    fired: Vec<(String, u64)>,
    /// When it was last fed (monotonic ms), to forget idle sessions.
    last_mono: i64,
}

/// What a rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub id: u64,
    pub rule: &'static str,
    pub session: String,
    pub run_seq: Option<u64>,
    pub detected_ms: i64,
    /// Tool calls the run had made when the rule fired.
    pub calls_in_run: u64,
    pub title: String,
    pub message: String,
    /// The repeated thing (tool, arguments, thresholds).
    pub evidence: Value,
    /// How many calls (or quiet turns) make the pattern so far, and their lines.
    pub count: u64,
    pub seqs: Vec<u64>,
    /// What an auto-stop or a manual stop got from the gateway.
    pub stop: Option<Value>,
}

impl Finding {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "rule": self.rule, "sessionId": self.session, "runSeq": self.run_seq,
            "detectedMs": self.detected_ms, "callsInRun": self.calls_in_run, "title": self.title,
            "message": self.message, "evidence": self.evidence, "count": self.count, "seqs": self.seqs,
            "stop": self.stop})
    }
}

/// What one observation changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    New(u64),
    Grew(u64),
}

/// The detection state the monitor thread owns.
#[derive(Debug, Default)]
pub struct Guard {
    runs: HashMap<String, Run>,
    findings: VecDeque<Finding>,
    next_id: u64,
    next_expire_ms: i64,
}

impl Guard {
    /// Sessions being watched (fed since the last `expire`).
    pub fn watched(&self) -> usize {
        self.runs.len()
    }

    pub fn findings(&self) -> impl DoubleEndedIterator<Item = &Finding> {
        self.findings.iter()
    }

    pub fn finding_mut(&mut self, id: u64) -> Option<&mut Finding> {
        self.findings.iter_mut().find(|f| f.id == id)
    }

    /// Forgets sessions not fed for `idle_ms`; looks at most every [`EXPIRE_EVERY_MS`] (a pass
    /// over every session watched).
    pub fn expire(&mut self, mono_ms: i64, idle_ms: i64) {
        if mono_ms < self.next_expire_ms {
            return;
        }
        self.next_expire_ms = mono_ms + EXPIRE_EVERY_MS;
        self.runs.retain(|_, r| mono_ms - r.last_mono < idle_ms);
    }

    /// Feeds one line; returns the findings it made or extended. `baseline` gives a session's
    /// agent's usual tokens per minute (asked only when the rate rule's floor is passed).
    /// Takes the line by value: its strings move into the window (no copies on the hot path).
    pub fn observe(
        &mut self,
        o: Obs,
        s: &GuardSettings,
        (now_ms, mono_ms): (i64, i64),
        baseline: &dyn Fn(&str) -> Option<f64>,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        let Obs { session, seq, ts, step } = o;
        if !self.runs.contains_key(&session) {
            self.runs.insert(session.clone(), Run::default());
        }
        let run = self.runs.get_mut(&session).expect("inserted");
        run.last_mono = mono_ms;
        let (tokens, text, calls) = match step {
            Step::User => {
                let recent = std::mem::take(&mut run.recent);
                let (recent_tokens, recent_newest) = (run.recent_tokens, run.recent_newest);
                *run = Run {
                    start_seq: Some(seq),
                    last_mono: mono_ms,
                    recent,
                    recent_tokens,
                    recent_newest,
                    ..Run::default()
                };
                return out;
            }
            Step::Turn { tokens, text, calls } => (tokens, text, calls),
        };
        let mut hits: Vec<Hit> = Vec::new();
        let keep = (s.repeat.window.max(2 * s.alternate.cycles) as usize).clamp(2, KEEP_CALLS);
        for c in calls {
            while run.calls.len() >= keep {
                run.calls.pop_front();
            }
            run.calls.push_back(Seen { fp: u64::from_str_radix(&c.fp, 16).unwrap_or(0), seq });
            if run.named.len() >= 2 {
                run.named.pop_front();
            }
            run.named.push_back((c.name, c.args));
            run.total_calls += 1;
            if s.repeat.enabled {
                hits.extend(repeat(run, &s.repeat));
            }
            if s.alternate.enabled {
                hits.extend(alternate(run, &s.alternate));
            }
        }
        if text {
            run.quiet_turns = 0;
            run.quiet_tokens = 0;
            run.quiet_seqs.clear();
        } else {
            run.quiet_turns += 1;
            run.quiet_tokens += tokens;
            if run.quiet_seqs.len() < KEEP_SEQS {
                run.quiet_seqs.push(seq);
            }
            let n = &s.no_progress;
            if n.enabled && run.quiet_turns >= n.turns && run.quiet_tokens >= n.tokens.max(1) {
                hits.push(Hit {
                    key: "noProgress".into(),
                    rule: "noProgress",
                    count: run.quiet_turns,
                    seqs: run.quiet_seqs.clone(),
                    title: format!("No progress: {} model turns without text", run.quiet_turns),
                    message: format!(
                        "{} model turns in a row said nothing and used {} tokens (rule: {} turns and {} tokens).",
                        run.quiet_turns, run.quiet_tokens, n.turns, n.tokens
                    ),
                    evidence: json!({"turns": run.quiet_turns, "tokens": run.quiet_tokens,
                        "thresholdTurns": n.turns, "thresholdTokens": n.tokens}),
                });
            }
        }
        if s.token_rate.enabled && tokens > 0 {
            hits.extend(token_rate(run, &s.token_rate, ts.unwrap_or(now_ms), tokens, || baseline(&session)));
        }
        for h in hits {
            let run = self.runs.get_mut(&session).expect("run exists");
            if let Some(&(_, id)) = run.fired.iter().find(|(k, _)| *k == h.key) {
                if let Some(f) = self.findings.iter_mut().find(|f| f.id == id) {
                    // Each later match of a call rule is one more call, of the turn rule one
                    // more turn (the windows keep fewer than a long loop makes).
                    f.count = if h.rule == "tokenRate" { h.count.max(f.count) } else { f.count + 1 };
                    for q in h.seqs {
                        if !f.seqs.contains(&q) && f.seqs.len() < KEEP_SEQS {
                            f.seqs.push(q);
                        }
                    }
                    f.evidence = h.evidence;
                    f.title = h.title;
                    f.message = h.message;
                    if !out.contains(&Change::Grew(id)) {
                        out.push(Change::Grew(id));
                    }
                }
                continue;
            }
            self.next_id += 1;
            let id = self.next_id;
            run.fired.push((h.key, id));
            if self.findings.len() >= KEEP_FINDINGS {
                self.findings.pop_front();
            }
            self.findings.push_back(Finding {
                id,
                rule: h.rule,
                session: session.clone(),
                run_seq: run.start_seq,
                detected_ms: now_ms,
                calls_in_run: run.total_calls,
                title: h.title,
                message: h.message,
                evidence: h.evidence,
                count: h.count,
                seqs: h.seqs,
                stop: None,
            });
            out.push(Change::New(id));
        }
        out
    }
}

/// A rule's match before it becomes (or extends) a finding.
struct Hit {
    key: String,
    rule: &'static str,
    count: u64,
    seqs: Vec<u64>,
    title: String,
    message: String,
    evidence: Value,
}

/// The session's tokens within the last `minutes` (by line time) against its agent's baseline.
fn token_rate(
    run: &mut Run,
    t: &TokenRate,
    ts: i64,
    tokens: u64,
    baseline: impl FnOnce() -> Option<f64>,
) -> Option<Hit> {
    let span = t.minutes as i64 * 60_000;
    // A running sum: this runs for every model turn.
    if run.recent.is_empty() {
        run.recent_newest = ts;
    }
    run.recent_newest = run.recent_newest.max(ts);
    run.recent.push_back((ts, tokens));
    run.recent_tokens += tokens;
    while run.recent.len() > KEEP_CALLS || run.recent.front().is_some_and(|r| run.recent_newest - r.0 >= span) {
        if let Some((_, t)) = run.recent.pop_front() {
            run.recent_tokens -= t;
        }
    }
    let used = run.recent_tokens;
    if used < t.min_tokens.max(1) {
        return None;
    }
    let base = baseline().unwrap_or(0.0) * t.minutes as f64;
    if used as f64 <= t.factor * base {
        return None;
    }
    Some(Hit {
        key: "tokenRate".into(),
        rule: "tokenRate",
        count: run.recent.len() as u64,
        seqs: Vec::new(),
        title: format!("Runaway tokens: {used} tokens in {} min", t.minutes),
        message: format!(
            "{used} tokens in {} model turns within {} min, {} the agent's usual {:.0} per {} min (rule: more than {}× and at least {}).",
            run.recent.len(),
            t.minutes,
            if base > 0.0 { format!("{:.1}×", used as f64 / base) } else { "with no usual rate known for".into() },
            base,
            t.minutes,
            t.factor,
            t.min_tokens
        ),
        evidence: json!({"tokens": used, "turns": run.recent.len(), "minutes": t.minutes, "baselinePerWindow": base,
            "factor": t.factor, "minTokens": t.min_tokens}),
    })
}

/// The newest call made `calls` times among the last `window`.
fn repeat(run: &Run, r: &Repeat) -> Option<Hit> {
    let last = run.calls.back()?;
    let (name, args) = run.named.back()?;
    if last.fp == 0 {
        return None;
    }
    let window = || run.calls.iter().rev().take(r.window as usize).filter(|c| c.fp == last.fp);
    // Counted first, collected only on a match: this runs for every call.
    if (window().count() as u64) < r.calls {
        return None;
    }
    let same: Vec<u64> = window().map(|c| c.seq).collect();
    let count = same.len() as u64;
    Some(Hit {
        key: format!("repeat:{:016x}", last.fp),
        rule: "repeat",
        count,
        seqs: same.into_iter().rev().collect(),
        title: format!("Tool loop: {name} called again and again with the same arguments"),
        message: format!(
            "{name} was called {count} times with the same arguments ({args}) within {} calls of one run (rule: {} times in {} calls).",
            run.calls.len().min(r.window as usize),
            r.calls,
            r.window
        ),
        evidence: json!({"tool": name, "args": args, "fingerprint": format!("{:016x}", last.fp),
            "thresholdCalls": r.calls, "window": r.window}),
    })
}

/// The last `2 × cycles` calls alternate between two different calls.
fn alternate(run: &Run, a: &Alternate) -> Option<Hit> {
    let n = run.calls.len();
    let need = 2 * a.cycles as usize;
    if n < need || run.named.len() < 2 {
        return None;
    }
    let (x, y) = (run.calls[n - 1].fp, run.calls[n - 2].fp);
    if x == y || x == 0 || y == 0 {
        return None;
    }
    // The k-th call from the end is x when k is even, y when odd.
    let at = |k: usize| if k % 2 == 0 { x } else { y };
    if !(0..need).all(|k| run.calls[n - 1 - k].fp == at(k)) {
        return None;
    }
    // Further calls continuing the pattern extend the same finding: count how far it goes back.
    let mut len = need;
    while len < n && run.calls[n - 1 - len].fp == at(len) {
        len += 1;
    }
    let ((yn, ya), (xn, xa)) = (&run.named[0], &run.named[1]);
    Some(Hit {
        key: format!("alternate:{:016x}:{:016x}", x.min(y), x.max(y)),
        rule: "alternate",
        count: len as u64,
        seqs: run.calls.range(n - len..).map(|c| c.seq).collect(),
        title: format!("Tool loop: {yn} and {xn} alternating"),
        message: format!(
            "Two calls took turns {len} times in a row: {yn} ({ya}) and {xn} ({xa}) (rule: {} cycles).",
            a.cycles
        ),
        evidence: json!({"tools": [yn, xn], "args": [ya, xa], "thresholdCycles": a.cycles}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::Call;

    /// A call whose arguments are `label`, fingerprinted as the watcher does.
    fn call(name: &str, label: &str) -> Call {
        Call {
            name: name.into(),
            fp: crate::activity::fingerprint(name, &json!(label)),
            args: format!("args of {label}"),
        }
    }
    fn turn(seq: u64, calls: Vec<Call>) -> Obs {
        Obs { session: "s".into(), seq, ts: None, step: Step::Turn { tokens: 1000, text: false, calls } }
    }
    fn user(seq: u64) -> Obs {
        Obs { session: "s".into(), seq, ts: None, step: Step::User }
    }
    /// Feeds one call per turn (turn lines at odd seqs, as a call and its result alternate);
    /// returns the (call number, change) pairs.
    fn feed(g: &mut Guard, s: &GuardSettings, fps: &[&str], first_seq: u64) -> Vec<(usize, Change)> {
        let mut out = Vec::new();
        for (i, fp) in fps.iter().enumerate() {
            for c in g.observe(turn(first_seq + 2 * i as u64, vec![call("exec", fp)]), s, (0, 0), &|_| None) {
                out.push((i + 1, c));
            }
        }
        out
    }

    #[test]
    fn the_same_call_fires_at_the_fifth_and_grows_after() {
        let s = GuardSettings::default();
        let mut g = Guard::default();
        g.observe(user(1), &s, (0, 0), &|_| None);
        let changes = feed(&mut g, &s, &["a"; 7], 2);
        // Calls 1-4: nothing; call 5: new; 6 and 7 extend it.
        assert_eq!(changes, vec![(5, Change::New(1)), (6, Change::Grew(1)), (7, Change::Grew(1))]);
        let f = g.findings().next().unwrap();
        assert_eq!((f.rule, f.calls_in_run, f.count, f.run_seq), ("repeat", 5, 7, Some(1)));
        // Lines 2, 4, ..., 14: the seven calls.
        assert_eq!(f.seqs, vec![2, 4, 6, 8, 10, 12, 14]);
        assert_eq!(f.evidence["tool"], "exec");
        assert_eq!(f.evidence["thresholdCalls"], 5);
    }

    #[test]
    fn a_loop_longer_than_the_window_counts_every_call() {
        let s = GuardSettings::default();
        let mut g = Guard::default();
        // 25 identical calls at lines 1, 3, ..., 49; the window keeps 20 of them.
        let changes = feed(&mut g, &s, &["a"; 25], 1);
        assert_eq!(changes.len(), 21, "new at the 5th, then one growth per call");
        let f = g.findings().next().unwrap();
        assert_eq!((f.count, f.calls_in_run, f.seqs.len()), (25, 5, 25));
        assert_eq!(f.seqs, (0..25).map(|i| 1 + 2 * i).collect::<Vec<u64>>());
    }

    #[test]
    fn repeats_count_only_within_the_window_and_the_run() {
        let s = GuardSettings {
            repeat: Repeat { enabled: true, calls: 3, window: 4 },
            alternate: Alternate { enabled: false, cycles: 4 },
            ..GuardSettings::default()
        };
        let mut g = Guard::default();
        // a x y z a x y z: any 4 consecutive calls hold "a" once: never 3 in the window.
        assert!(feed(&mut g, &s, &["a", "x", "y", "z", "a", "x", "y", "z"], 0).is_empty());
        // Two in this run, a user message, two more: the new run starts from zero.
        let mut g = Guard::default();
        assert!(feed(&mut g, &s, &["a", "a"], 0).is_empty());
        g.observe(user(10), &s, (0, 0), &|_| None);
        assert!(feed(&mut g, &s, &["a", "a"], 11).is_empty());
        // The third in the same run (window of 4: a a b a holds three) fires.
        assert_eq!(feed(&mut g, &s, &["b", "a"], 15), vec![(2, Change::New(1))]);
        assert_eq!(g.findings().next().unwrap().seqs, vec![11, 13, 17]);
        assert_eq!(g.findings().next().unwrap().calls_in_run, 4);
    }

    #[test]
    fn two_calls_taking_turns() {
        let s = GuardSettings::default();
        let mut g = Guard::default();
        // A B A B A B A: 7 calls, one short of 4 cycles; the 8th completes them.
        let c = feed(&mut g, &s, &["A", "B", "A", "B", "A", "B", "A", "B"], 0);
        assert_eq!(c, vec![(8, Change::New(1))]);
        let f = g.findings().next().unwrap();
        assert_eq!((f.rule, f.count, f.seqs.len()), ("alternate", 8, 8));
        assert_eq!(f.seqs, vec![0, 2, 4, 6, 8, 10, 12, 14]);
        // The 9th call (A) continues the pattern (count 9) and is A's 5th: the repeat rule fires too.
        let c = feed(&mut g, &s, &["A"], 16);
        assert_eq!(c, vec![(1, Change::New(2)), (1, Change::Grew(1))]);
        assert_eq!(g.findings().next().unwrap().count, 9);
        let rep = g.findings().nth(1).unwrap();
        assert_eq!((rep.rule, rep.count, rep.seqs.clone()), ("repeat", 5, vec![0, 4, 8, 12, 16]));
        // A B A C A B A B: broken by C, not 4 clean cycles at the end.
        let mut g = Guard::default();
        assert!(feed(&mut g, &s, &["A", "B", "A", "C", "A", "B", "A", "B"], 0).is_empty());
    }

    #[test]
    fn turns_without_text() {
        let s = GuardSettings {
            repeat: Repeat { enabled: false, calls: 5, window: 20 },
            alternate: Alternate { enabled: false, cycles: 4 },
            no_progress: NoProgress { enabled: true, turns: 3, tokens: 2500 },
            token_rate: TokenRate { enabled: false, minutes: 1, factor: 10.0, min_tokens: 1 },
            auto_stop: false,
        };
        let mut g = Guard::default();
        let quiet = |seq, tokens| Obs {
            session: "s".into(),
            seq,
            ts: None,
            step: Step::Turn { tokens, text: false, calls: vec![call("read", &format!("f{seq}"))] },
        };
        let said = |seq| Obs {
            session: "s".into(),
            seq,
            ts: None,
            step: Step::Turn { tokens: 9000, text: true, calls: vec![] },
        };
        // 3 quiet turns of 800 tokens: 2400 < 2500, nothing; a reply with text starts over.
        for (i, seq) in [1, 3, 5].into_iter().enumerate() {
            assert!(g.observe(quiet(seq, 800), &s, (0, i as i64), &|_| None).is_empty());
        }
        assert!(g.observe(quiet(7, 800), &s, (0, 0), &|_| None) == vec![Change::New(1)], "4 turns, 3200 tokens");
        assert!(g.observe(said(9), &s, (0, 0), &|_| None).is_empty());
        assert!(g.observe(quiet(11, 5000), &s, (0, 0), &|_| None).is_empty());
        assert!(g.observe(quiet(13, 5000), &s, (0, 0), &|_| None).is_empty());
        assert_eq!(g.observe(quiet(15, 5000), &s, (0, 0), &|_| None), vec![Change::Grew(1)], "same run: extends it");
        let f = g.findings().next().unwrap();
        assert_eq!(f.evidence["tokens"], 15000);
        assert_eq!(f.evidence["turns"], 3);
    }

    #[test]
    fn tokens_per_minute_far_above_the_agents_usual() {
        let s = GuardSettings {
            repeat: Repeat { enabled: false, calls: 5, window: 20 },
            alternate: Alternate { enabled: false, cycles: 4 },
            no_progress: NoProgress { enabled: false, turns: 3, tokens: 1 },
            token_rate: TokenRate { enabled: true, minutes: 1, factor: 10.0, min_tokens: 100_000 },
            auto_stop: false,
        };
        let turn = |seq: u64, ts: i64, tokens| Obs {
            session: "s".into(),
            seq,
            ts: Some(ts),
            step: Step::Turn { tokens, text: true, calls: vec![] },
        };
        // Feeds turns of `tokens` every `every` ms; returns the turn number of the first finding.
        let first = |every: i64, tokens: u64, baseline: Option<f64>| {
            let mut g = Guard::default();
            (1..=20u64).find(|&n| !g.observe(turn(n, n as i64 * every, tokens), &s, (0, 0), &|_| baseline).is_empty())
        };
        // Usual 5,000 per minute: 10× is 50,000, the floor 100,000: 4 turns of 30,000 (120,000).
        assert_eq!(first(5_000, 30_000, Some(5_000.0)), Some(4));
        // Usual 20,000: more than 200,000 within a minute: the 7th turn (210,000, all 7 within 35 s).
        assert_eq!(first(5_000, 30_000, Some(20_000.0)), Some(7));
        // No usual rate known: the floor alone.
        assert_eq!(first(5_000, 30_000, None), Some(4));
        // 60,000 every 61 s: never two in one minute, never 100,000.
        assert_eq!(first(61_000, 60_000, None), None);
        // Every 30 s: the 2nd turn is 30 s after the 1st, both in the minute: 120,000.
        assert_eq!(first(30_000, 60_000, None), Some(2));
    }

    #[test]
    fn idle_sessions_are_forgotten() {
        let s = GuardSettings::default();
        let mut g = Guard::default();
        g.observe(user(0), &s, (0, 1000), &|_| None);
        assert_eq!(g.watched(), 1);
        g.expire(1000 + 59_999, 60_000);
        assert_eq!(g.watched(), 1, "idle for less than the limit");
        g.expire(1000 + 60_000, 60_000);
        assert_eq!(g.watched(), 1, "looked again only 15 s later");
        g.expire(1000 + 59_999 + 15_000, 60_000);
        assert_eq!(g.watched(), 0);
    }

    #[test]
    fn settings_round_trip_and_refuse_nonsense() {
        let d = GuardSettings::default();
        assert_eq!(GuardSettings::from_json(&d.to_json()).unwrap(), d);
        assert_eq!(GuardSettings::from_json(&json!({})).unwrap(), d);
        let s = GuardSettings::from_json(&json!({"repeat": {"calls": 8}, "autoStop": true})).unwrap();
        assert_eq!((s.repeat.calls, s.repeat.window, s.auto_stop), (8, 20, true));
        for bad in [
            json!({"repeat": {"calls": 1}}),
            json!({"repeat": {"calls": 6, "window": 5}}),
            json!({"repeat": {"callz": 6}}),
            json!({"alternate": {"cycles": 101}}),
            json!({"autoStop": "yes"}),
            json!({"tokenRate": {"factor": 0.5}}),
            json!({"tokenRate": {"minutes": 0}}),
            json!({"loop": {}}),
            json!([]),
        ] {
            assert!(GuardSettings::from_json(&bad).is_err(), "{bad}");
        }
    }

    /// The guard's cost with 10,000 sessions being watched, each with a full window of calls:
    /// a tick of 100 new lines, and the (worst) tick where every session got one. A timing, so
    /// not part of `cargo test`: `cargo test --release --lib guard_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing: cargo test --release --lib guard_cost -- --ignored --nocapture"]
    fn guard_cost_at_ten_thousand_sessions() {
        let s = GuardSettings::default();
        let mut g = Guard::default();
        let obs = |i: usize, seq: u64| Obs {
            session: format!("session-{i:05}"),
            seq,
            ts: None,
            step: Step::Turn { tokens: 1000, text: true, calls: vec![call("read", &format!("{i}-{seq}"))] },
        };
        for seq in 0..KEEP_CALLS as u64 {
            for i in 0..10_000 {
                g.observe(obs(i, seq), &s, (0, 0), &|_| None);
            }
        }
        // The lines are made before the clock starts: the watcher makes them, not the guard.
        let (few, many): (Vec<Obs>, Vec<Obs>) =
            ((0..100).map(|i| obs(i * 100, 1000)).collect(), (0..10_000).map(|i| obs(i, 1001)).collect());
        let t = std::time::Instant::now();
        for o in few {
            g.observe(o, &s, (0, 0), &|_| None);
        }
        let small = t.elapsed();
        let t = std::time::Instant::now();
        for o in many {
            g.observe(o, &s, (0, 0), &|_| None);
        }
        let all = t.elapsed();
        let t = std::time::Instant::now();
        g.expire(1, 3_600_000);
        let expire = t.elapsed();
        eprintln!("guard at 10k sessions: 100 lines {small:?}, 10,000 lines {all:?}, the idle pass {expire:?}");
        assert_eq!((g.watched(), g.findings().count()), (10_000, 0));
        assert!(small < std::time::Duration::from_millis(10), "{small:?}");
    }
}
