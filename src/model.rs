//! The one event model every data source is decoded into.
//!
//! Sources (JSONL files, agent SQLite databases, later the gateway and OTLP) produce
//! [`LineSummary`] values; the index adds them up into [`Tally`] values per session. Nothing here
//! knows where an event came from or does any I/O.

use foldhash::HashSet;
use serde::Serialize;
use std::sync::{Arc, Mutex, OnceLock};

/// Token counts by kind, and cost in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    pub cost: f64,
}

/// The most one model call may claim of one token kind, and of cost (USD): a broken or hostile
/// line saying u64::MAX tokens or $1e308 is cut to these (and counted), so it cannot wrap or
/// poison the totals.
pub const MAX_EVENT_TOKENS: u64 = 1_000_000_000;
pub const MAX_EVENT_COST: f64 = 1_000_000.0;

impl Usage {
    /// This usage within what one model call can claim; true when something was cut.
    pub fn capped(&self) -> (Usage, bool) {
        let t = |n: u64| n.min(MAX_EVENT_TOKENS);
        let cost = if self.cost.is_finite() { self.cost.clamp(0.0, MAX_EVENT_COST) } else { 0.0 };
        let u = Usage {
            input: t(self.input),
            output: t(self.output),
            cache_read: t(self.cache_read),
            cache_write: t(self.cache_write),
            reasoning: t(self.reasoning),
            cost,
        };
        (u, u != *self)
    }

    /// Saturating: token counts come from transcripts and OTLP exports, and a hostile or broken
    /// one may claim u64::MAX (an overflow would panic a debug build and wrap in release).
    pub fn add(&mut self, o: &Usage) {
        self.input = self.input.saturating_add(o.input);
        self.output = self.output.saturating_add(o.output);
        self.cache_read = self.cache_read.saturating_add(o.cache_read);
        self.cache_write = self.cache_write.saturating_add(o.cache_write);
        self.reasoning = self.reasoning.saturating_add(o.reasoning);
        self.cost += o.cost;
    }
    pub fn sub(&mut self, o: &Usage) {
        self.input = self.input.saturating_sub(o.input);
        self.output = self.output.saturating_sub(o.output);
        self.cache_read = self.cache_read.saturating_sub(o.cache_read);
        self.cache_write = self.cache_write.saturating_sub(o.cache_write);
        self.reasoning = self.reasoning.saturating_sub(o.reasoning);
        self.cost -= o.cost;
        if self.cost.abs() < 1e-12 {
            self.cost = 0.0;
        }
    }
    /// Tokens the provider billed: input, output and both cache kinds (reasoning is part of
    /// output for every provider seen).
    pub fn total_tokens(&self) -> u64 {
        self.input.saturating_add(self.output).saturating_add(self.cache_read).saturating_add(self.cache_write)
    }
}

/// What one transcript line is.
#[derive(Debug, Clone, PartialEq)]
pub enum LineKind {
    /// The header line: `{"type":"session", "id", ...}`.
    Session {
        id: String,
    },
    ModelChange {
        model: String,
    },
    User,
    Assistant,
    ToolResult,
    /// `custom`, `custom_message`, compaction and the other bookkeeping lines.
    Meta,
    /// A `type` this version does not know; counted, kept in the transcript view.
    Unknown,
}

/// The aggregate-relevant content of one transcript line, decoded without keeping its text.
#[derive(Debug, Clone)]
pub struct LineSummary {
    pub kind: LineKind,
    pub ts_ms: Option<i64>,
    /// `provider/model` of an assistant message that was a real model call.
    pub model: Option<String>,
    /// Usage of a real model call; cost is `None` when the line carried no cost.
    pub usage: Option<(Usage, bool)>,
    pub tool_calls: Vec<String>,
    pub is_error: bool,
    /// A tool result whose command exited non-zero (`details.exitCode`), error or not.
    pub exit_failed: bool,
    pub stop_reason: Option<String>,
    /// OpenClaw's own injected lines (delivery mirrors): not model calls.
    pub injected: bool,
    /// First part of a user message's text (for a sub-agent's task).
    pub user_text: Option<String>,
    /// Task text of a `sessions_spawn` call made in this line.
    pub spawn_task: Option<String>,
    /// The line was not valid UTF-8: read with the bad bytes replaced (its usage still counts).
    pub lossy: bool,
    /// A compaction line: the context's size before it (`tokensBefore`, 0 when not given).
    pub compaction_before: Option<u64>,
}

impl LineSummary {
    pub fn new(kind: LineKind) -> Self {
        LineSummary {
            kind,
            ts_ms: None,
            model: None,
            usage: None,
            tool_calls: Vec::new(),
            is_error: false,
            exit_failed: false,
            stop_reason: None,
            injected: false,
            user_text: None,
            spawn_task: None,
            lossy: false,
            compaction_before: None,
        }
    }
}

/// Counts and sums of a run of lines: a session's aggregates, or a delta to add to them. The
/// counts are u32 (added saturating in [`Tally::merge`]; the checkpoint and the ledger keep them
/// as u64).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub events: u32,
    pub user_messages: u32,
    pub assistant_messages: u32,
    pub tool_calls: u32,
    pub tool_results: u32,
    pub tool_errors: u32,
    /// Tool results OpenClaw did not mark as errors whose command exited non-zero: the tool
    /// ran, the work failed (a cron run "ok" with these is a silent failure).
    #[serde(default)]
    pub tool_exit_failures: u32,
    /// The largest prompt of one model call (input + cache read + cache write: what filled the
    /// context window) and its model (a position in `models`).
    #[serde(default)]
    pub max_prompt: u64,
    #[serde(default)]
    pub max_prompt_model: Option<u32>,
    /// Compactions, and the tokens they took out of the context: each one's `tokensBefore` less
    /// the prompt of the model call after it (a compaction with no call after it yet adds
    /// nothing until one comes).
    #[serde(default)]
    pub compactions: u32,
    #[serde(default)]
    pub compacted_tokens: u64,
    /// The `tokensBefore` of a compaction of these lines with no model call after it yet.
    #[serde(default)]
    pub pending_compaction: Option<u64>,
    /// The prompt of the first model call of these lines, when no compaction came before it
    /// (`lead_closed` once either was seen): what [`Tally::merge`] needs to finish an earlier
    /// delta's pending compaction.
    #[serde(default)]
    pub lead_prompt: Option<u64>,
    #[serde(default)]
    pub lead_closed: bool,
    pub assistant_errors: u32,
    pub unknown_events: u32,
    pub usage: Usage,
    /// Model calls whose cost was computed from the price table (no `usage.cost` in the line).
    pub estimated_cost_calls: u32,
    pub models: Vec<Arc<str>>,
    pub tools: ToolCounts,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub last_stop_reason: Option<Name>,
    pub last_kind_assistant: bool,
    /// A sub-agent's task, from its first message ([`subagent_task`]), redacted, at most 400
    /// bytes (ledger rows of older builds hold the message's first 400 bytes instead).
    pub first_user_text: Option<Text>,
    /// Cost of the model calls in heartbeat turns (a user message that is OpenClaw's heartbeat
    /// poll, see [`is_heartbeat_text`]): the heartbeat's share of a main session.
    pub heartbeat_cost: f64,
    /// The turn still open at the end of these lines (from the last user message on, or from
    /// the first line when `opened` is false: then it continues the turn before).
    #[serde(skip)]
    pub turn: Turn,
    /// These lines hold a user message: `turn` began here, and `head` is what came before it.
    #[serde(skip)]
    pub opened: bool,
    /// With `opened`: the lines before the first user message, which continue the turn that
    /// was open before them ([`Tally::merge`] adds them to it).
    #[serde(skip)]
    pub head: Turn,
    /// Usage by hour (epoch hour) and model, for time series.
    #[serde(skip)]
    pub hourly: Vec<HourUsage>,
}

/// A turn: a user message and every line up to the next one (the model calls, tool calls and
/// tool results it set off). The by-tool rule: a tool's cost is the sum of the costs of the
/// model calls of every turn in which it was called at least once, the calls before its first
/// use in the turn included. A turn that used two tools counts in full for each, so the
/// by-tool figures overlap and do not add up to the total.
///
/// The tools called in the turn so far are bits over the positions of the tally's
/// [`ToolCounts`] (moved along when a tool is inserted before them), so an open turn costs no
/// allocation: exact for the first 64 tools of a session (sorted by name); a tool past those
/// gets no turn cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Turn {
    pub cost: f64,
    pub tools: u64,
    pub heartbeat: bool,
}

/// The bit of tool position `i` (none past 63).
fn bit(i: usize) -> u64 {
    if i < 64 {
        1 << i
    } else {
        0
    }
}

/// `mask` after a tool was inserted at position `i`: the bits at and above it move up by one.
fn shift_up(mask: u64, i: usize) -> u64 {
    if i >= 64 {
        return mask;
    }
    let low = mask & (bit(i) - 1);
    low | ((mask & !low) << 1)
}

/// The positions set in `mask`.
fn positions(mask: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |i| mask & (1 << i) != 0)
}

/// The task in a sub-agent's first message: what follows the first `[Subagent Task]` marker
/// that begins a line (OpenClaw's context paragraph before it names the marker mid-line; a
/// task may quote it), else the first one; up to the closing `Begin.` paragraph; the whole
/// text when it has no marker.
pub fn subagent_task(text: &str) -> &str {
    const MARK: &str = "[Subagent Task]";
    let mut marks = text.match_indices(MARK).map(|(i, _)| i);
    let at_line = marks.clone().find(|&i| i == 0 || text[..i].ends_with('\n'));
    let body = at_line.or_else(|| marks.next()).map_or(text, |i| &text[i + MARK.len()..]);
    let body = body.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    body.split("\n\nBegin.").next().unwrap_or(body).trim()
}

/// Whether a user message is OpenClaw's heartbeat poll (its default prompt reads
/// HEARTBEAT.md and asks for HEARTBEAT_OK; the poll marker of newer versions).
pub fn is_heartbeat_text(t: &str) -> bool {
    t.contains("HEARTBEAT_OK") || t.contains("Read HEARTBEAT.md") || t.contains("[OpenClaw heartbeat poll]")
}

/// Makes room for one more element in a vector that stays short in most sessions (the tools,
/// models and hours of one session): its first slots are added one at a time, since doubling
/// leaves a one-element vector at capacity 4 (up to 4x its size, over 100k sessions); past
/// [`SHORT`] it grows by doubling again.
pub fn grow_short<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() && v.len() < SHORT {
        v.reserve_exact(1);
    }
}

/// See [`grow_short`].
const SHORT: usize = 8;

/// One allocation per distinct name that recurs across sessions (tool and model names, channel,
/// status, created-via, stop reason, agent, the monitor's history cells): a session keeps a
/// pointer, not its own copy (100k sessions: ~25 MB). Up to
/// [`SHARED_NAMES`] names are kept for the life of the process; past that (a transcript
/// inventing names) a name gets an allocation of its own, so the table cannot grow unbounded.
pub fn shared_name(name: &str) -> Arc<str> {
    // The names of the last lines read, before the lock: a stop reason is set at every
    // assistant line.
    thread_local! {
        static RECENT: std::cell::RefCell<Vec<Arc<str>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(n) = RECENT.with_borrow(|r| r.iter().find(|n| &***n == name).cloned()) {
        return n;
    }
    static NAMES: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let n = {
        let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        match names.get(name) {
            Some(n) => n.clone(),
            None => {
                let n: Arc<str> = name.into();
                if names.len() >= SHARED_NAMES {
                    return n;
                }
                names.insert(n.clone());
                n
            }
        }
    };
    RECENT.with_borrow_mut(|r| {
        if r.len() >= RECENT_NAMES {
            r.remove(0);
        }
        r.push(n.clone());
    });
    n
}

/// How many names each thread keeps at hand (see [`shared_name`]).
const RECENT_NAMES: usize = 16;

/// See [`shared_name`].
const SHARED_NAMES: usize = 10_000;

/// Calls per tool name, and the cost of the turns that used the tool (the by-tool rule, see
/// [`Turn`]). A sorted vector: sessions use a handful of tools, and a map's nodes would cost
/// more than the names. Iterates and serialises like a map of calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCounts(Vec<(Arc<str>, u64, f64)>);

impl ToolCounts {
    /// From (name, calls, turn cost) rows in name order, each name once (what
    /// [`Self::with_cost`] gave); None when they are not.
    pub fn from_rows<S: AsRef<str>>(rows: impl Iterator<Item = (S, u64, f64)>) -> Option<ToolCounts> {
        let rows: Vec<_> = rows.map(|(t, n, c)| (shared_name(t.as_ref()), n, c)).collect();
        rows.windows(2).all(|w| w[0].0 < w[1].0).then_some(ToolCounts(rows))
    }
    /// The index of `name`, and whether it was added now (the tools at and after it moved up
    /// by one).
    fn slot(&mut self, name: &str) -> (usize, bool) {
        match self.0.binary_search_by(|(t, _, _)| (**t).cmp(name)) {
            Ok(i) => (i, false),
            Err(i) => {
                grow_short(&mut self.0);
                self.0.insert(i, (shared_name(name), 0, 0.0));
                (i, true)
            }
        }
    }
    /// Adds `n` calls of `name`; returns [`Self::slot`].
    pub fn add(&mut self, name: &str, n: u64) -> (usize, bool) {
        let (i, new) = self.slot(name);
        self.0[i].1 += n;
        (i, new)
    }
    /// Adds to the cost of the turns that used `name`.
    pub fn add_cost(&mut self, name: &str, cost: f64) {
        let (i, _) = self.slot(name);
        self.0[i].2 += cost;
    }
    fn add_cost_at(&mut self, i: usize, cost: f64) {
        if let Some(t) = self.0.get_mut(i) {
            t.2 += cost;
        }
    }
    fn index(&self, name: &str) -> Option<usize> {
        self.0.binary_search_by(|(t, _, _)| (**t).cmp(name)).ok()
    }
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0.binary_search_by(|(t, _, _)| (**t).cmp(name)).ok().map(|i| self.0[i].1)
    }
    /// The cost of the model calls in the turns that used `name` (USD).
    pub fn cost(&self, name: &str) -> f64 {
        self.0.binary_search_by(|(t, _, _)| (**t).cmp(name)).ok().map_or(0.0, |i| self.0[i].2)
    }
    /// (name, calls, turn cost) of every tool.
    pub fn with_cost(&self) -> impl Iterator<Item = (&str, u64, f64)> {
        self.0.iter().map(|(t, n, c)| (&**t, *n, *c))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ToolCounts {
    type Item = (&'a str, &'a u64);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (Arc<str>, u64, f64)>, fn(&'a (Arc<str>, u64, f64)) -> (&'a str, &'a u64)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(t, n, _)| (&**t, n))
    }
}

impl Serialize for ToolCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self)
    }
}

/// Usage of one model in one hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourUsage {
    pub hour: u32,
    /// Index into the owning [`Tally::models`].
    pub model: u32,
    pub usage: Usage,
    pub calls: u32,
}

/// Names (models, agents) as positions, so that time buckets stay small; each name one
/// allocation shared by the table's list and its map (and, through [`shared_name`], with
/// whoever else holds it).
#[derive(Debug, Default)]
pub struct ModelNames {
    names: Vec<Name>,
    ids: foldhash::HashMap<Name, u32>,
}

impl ModelNames {
    /// The position of `name` (added when new).
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let n = shared_name(name);
        let i = self.names.len() as u32;
        self.names.push(n.clone());
        self.ids.insert(n, i);
        i
    }
    /// The shared allocation of the name at position `id`.
    pub fn get(&self, id: u32) -> Option<&Name> {
        self.names.get(id as usize)
    }
    /// The id of a name already interned.
    pub fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
    pub fn name(&self, id: u32) -> &str {
        self.get(id).map_or("?", |n| n)
    }
}

impl Tally {
    /// Adds one decoded line. `cost_of` prices a model call that carried no cost.
    pub fn add_line(&mut self, line: &LineSummary, cost_of: &dyn Fn(&str, &Usage) -> f64) {
        self.events += 1;
        if let Some(ts) = line.ts_ms {
            self.first_ms = Some(self.first_ms.map_or(ts, |f| f.min(ts)));
            self.last_ms = Some(self.last_ms.map_or(ts, |l| l.max(ts)));
        }
        match &line.kind {
            LineKind::User => {
                self.user_messages += 1;
                let next =
                    Turn { heartbeat: line.user_text.as_deref().is_some_and(is_heartbeat_text), ..Turn::default() };
                let before = std::mem::replace(&mut self.turn, next);
                if !self.opened {
                    self.head = before;
                    self.opened = true;
                }
                // Kept only for sub-agents, and only their task; other sessions' text stays on
                // disk. Redacted before it is cut, so that no part of a secret is kept.
                if self.first_user_text.is_none() && self.user_messages == 1 {
                    self.first_user_text = line.user_text.as_deref().filter(|t| t.contains("[Subagent")).map(|t| {
                        let t = crate::redact::text(subagent_task(t));
                        let mut end = t.len().min(400);
                        while !t.is_char_boundary(end) {
                            end -= 1;
                        }
                        t[..end].into()
                    });
                }
                self.last_kind_assistant = false;
            }
            LineKind::Assistant => {
                self.assistant_messages += 1;
                self.last_kind_assistant = true;
                if !line.injected {
                    self.last_stop_reason = line.stop_reason.as_deref().map(shared_name);
                }
                if line.stop_reason.as_deref() == Some("error") {
                    self.assistant_errors += 1;
                }
            }
            LineKind::ToolResult => {
                self.tool_results += 1;
                if line.is_error {
                    self.tool_errors += 1;
                } else if line.exit_failed {
                    self.tool_exit_failures += 1;
                }
                self.last_kind_assistant = false;
            }
            LineKind::ModelChange { model } => {
                self.note_model(model);
            }
            LineKind::Unknown => self.unknown_events += 1,
            LineKind::Session { .. } | LineKind::Meta => {}
        }
        if let Some(before) = line.compaction_before {
            // An earlier compaction with no call after it: how much it removed stays unknown.
            self.compactions += 1;
            self.pending_compaction = Some(before);
            self.lead_closed = true;
        }
        if !line.injected {
            self.add_call(line, cost_of);
        }
        for t in &line.tool_calls {
            self.tool_calls += 1;
            let i = self.note_tool(t, 1);
            if i < 64 && self.turn.tools & bit(i) == 0 {
                // First use in this turn: the turn's calls so far (this line's included) count.
                self.tools.add_cost_at(i, self.turn.cost);
                self.turn.tools |= bit(i);
            }
        }
    }

    /// Adds `n` calls of tool `name`, keeping the turns' positions right; returns its position.
    fn note_tool(&mut self, name: &str, n: u64) -> usize {
        let (i, new) = self.tools.add(name, n);
        if new {
            self.turn.tools = shift_up(self.turn.tools, i);
            self.head.tools = shift_up(self.head.tools, i);
        }
        i
    }

    /// Adds the model call of a line, if it is one.
    fn add_call(&mut self, line: &LineSummary, cost_of: &dyn Fn(&str, &Usage) -> f64) {
        if let (Some(model), Some((usage, has_cost))) = (&line.model, &line.usage) {
            let id = self.note_model(model);
            let mut u = usage.capped().0;
            if !has_cost {
                u.cost = cost_of(model, &u);
                self.estimated_cost_calls += 1;
            }
            let u = u.capped().0;
            self.usage.add(&u);
            let prompt = u.input.saturating_add(u.cache_read).saturating_add(u.cache_write);
            if !self.lead_closed {
                self.lead_prompt = Some(prompt);
                self.lead_closed = true;
            }
            if let Some(before) = self.pending_compaction.take() {
                self.compacted_tokens = self.compacted_tokens.saturating_add(before.saturating_sub(prompt));
            }
            if prompt > self.max_prompt {
                self.max_prompt = prompt;
                self.max_prompt_model = Some(id);
            }
            self.turn.cost += u.cost;
            for i in positions(self.turn.tools) {
                self.tools.add_cost_at(i, u.cost);
            }
            if self.turn.heartbeat {
                self.heartbeat_cost += u.cost;
            }
            let hour = line.ts_ms.or(self.last_ms).map_or(0, |t| (t / 3_600_000) as u32);
            self.add_hourly(HourUsage { hour, model: id, usage: u, calls: 1 });
        }
    }

    /// Index of `model` in `self.models`, adding it when new.
    fn note_model(&mut self, model: &str) -> u32 {
        match self.models.iter().position(|m| &**m == model) {
            Some(i) => i as u32,
            None => {
                grow_short(&mut self.models);
                self.models.push(shared_name(model));
                (self.models.len() - 1) as u32
            }
        }
    }

    fn add_hourly(&mut self, h: HourUsage) {
        // Lines arrive mostly in time order: the matching bucket is nearly always at the end.
        if let Some(b) = self.hourly.iter_mut().rev().take(8).find(|b| b.hour == h.hour && b.model == h.model) {
            b.usage.add(&h.usage);
            b.calls += h.calls;
        } else {
            grow_short(&mut self.hourly);
            self.hourly.push(h);
        }
    }

    /// Counts `delta` more (or fewer) model calls of `model` at `ts_ms` than the lines added
    /// said: telemetry that reports its calls apart from its tokens (`otlp.rs`).
    pub fn adjust_calls(&mut self, ts_ms: i64, model: &str, delta: i64) {
        let hour = (ts_ms.max(0) / 3_600_000) as u32;
        let Some(m) = self.models.iter().position(|x| &**x == model) else { return };
        if let Some(b) = self.hourly.iter_mut().rev().find(|b| b.hour == hour && b.model == m as u32) {
            b.calls = (b.calls as i64 + delta).clamp(0, u32::MAX as i64) as u32;
        }
        self.assistant_messages = (self.assistant_messages as i64 + delta).clamp(0, u32::MAX as i64) as u32;
    }

    /// Adds a later delta of the same session.
    pub fn merge(&mut self, d: Tally) {
        // Into nothing yet (a session's first source; every session at a start): the delta as
        // it is, the same as adding it (`a_delta_merged_into_nothing_is_itself`)
        // without building its lists again under the state's write lock.
        if self.is_blank() && d.merges_as_is() {
            *self = d;
            return;
        }
        self.add_delta(d);
    }

    /// Nothing counted: `Tally::default()`. Every field is named (a field added later must be
    /// added here).
    fn is_blank(&self) -> bool {
        let Tally {
            events,
            user_messages,
            assistant_messages,
            tool_calls,
            tool_results,
            tool_errors,
            tool_exit_failures,
            max_prompt,
            max_prompt_model,
            compactions,
            compacted_tokens,
            pending_compaction,
            lead_prompt,
            lead_closed,
            assistant_errors,
            unknown_events,
            usage,
            estimated_cost_calls,
            models,
            tools,
            first_ms,
            last_ms,
            last_stop_reason,
            last_kind_assistant,
            first_user_text,
            heartbeat_cost,
            turn,
            opened,
            head,
            hourly,
        } = self;
        let counts = [
            *events,
            *user_messages,
            *assistant_messages,
            *tool_calls,
            *tool_results,
            *tool_errors,
            *tool_exit_failures,
            *compactions,
            *assistant_errors,
            *unknown_events,
            *estimated_cost_calls,
        ];
        counts.iter().all(|&n| n == 0)
            && (*max_prompt, *compacted_tokens) == (0, 0)
            && max_prompt_model.is_none()
            && (pending_compaction.is_none() && lead_prompt.is_none() && !*lead_closed)
            && *usage == Usage::default()
            && models.is_empty()
            && tools.is_empty()
            && hourly.is_empty()
            && (first_ms.is_none() && last_ms.is_none())
            && last_stop_reason.is_none()
            && !*last_kind_assistant
            && first_user_text.is_none()
            && *heartbeat_cost == 0.0
            && (*turn == Turn::default() && *head == Turn::default() && !*opened)
    }

    /// Whether [`Tally::add_delta`] to a blank tally gives this delta unchanged: what lines give
    /// (a guard against a delta that holds what adding ignores: a stop reason without events,
    /// a largest prompt's model without a prompt, a head or heartbeat without a turn opened).
    fn merges_as_is(&self) -> bool {
        (self.max_prompt > 0 || self.max_prompt_model.is_none())
            && (self.events > 0 || (self.last_stop_reason.is_none() && !self.last_kind_assistant))
            && !self.head.heartbeat
            && (self.opened || (self.head == Turn::default() && !self.turn.heartbeat))
            && self.models.iter().enumerate().all(|(i, m)| !self.models[..i].contains(m))
    }

    /// [`Tally::merge`] field by field.
    fn add_delta(&mut self, d: Tally) {
        self.events = self.events.saturating_add(d.events);
        self.user_messages = self.user_messages.saturating_add(d.user_messages);
        self.assistant_messages = self.assistant_messages.saturating_add(d.assistant_messages);
        self.tool_calls = self.tool_calls.saturating_add(d.tool_calls);
        self.tool_results = self.tool_results.saturating_add(d.tool_results);
        self.tool_errors = self.tool_errors.saturating_add(d.tool_errors);
        self.tool_exit_failures = self.tool_exit_failures.saturating_add(d.tool_exit_failures);
        // A compaction pending here ends at the delta's first call, or stays unknown when the
        // delta begins with another compaction.
        if self.pending_compaction.is_some() && d.lead_closed {
            let before = self.pending_compaction.take().unwrap_or(0);
            if let Some(p) = d.lead_prompt {
                self.compacted_tokens = self.compacted_tokens.saturating_add(before.saturating_sub(p));
            }
        }
        if d.pending_compaction.is_some() {
            self.pending_compaction = d.pending_compaction;
        }
        if !self.lead_closed {
            self.lead_prompt = d.lead_prompt;
            self.lead_closed = d.lead_closed;
        }
        self.compactions = self.compactions.saturating_add(d.compactions);
        self.compacted_tokens = self.compacted_tokens.saturating_add(d.compacted_tokens);
        self.assistant_errors = self.assistant_errors.saturating_add(d.assistant_errors);
        self.unknown_events = self.unknown_events.saturating_add(d.unknown_events);
        self.usage.add(&d.usage);
        self.estimated_cost_calls = self.estimated_cost_calls.saturating_add(d.estimated_cost_calls);
        let remap: Vec<u32> = d.models.iter().map(|m| self.note_model(m)).collect();
        if d.max_prompt > self.max_prompt {
            self.max_prompt = d.max_prompt;
            self.max_prompt_model = d.max_prompt_model.and_then(|i| remap.get(i as usize).copied());
        }
        for (t, n, c) in d.tools.with_cost() {
            let i = self.note_tool(t, n);
            self.tools.add_cost_at(i, c);
        }
        // The delta's turn bits, at this tally's positions of the same tools.
        let at: Vec<u64> = d.tools.with_cost().map(|(t, _, _)| self.tools.index(t).map_or(0, bit)).collect();
        let rebit = |t: &Turn| Turn {
            tools: positions(t.tools).map(|j| at.get(j).copied().unwrap_or(0)).fold(0, |a, b| a | b),
            ..*t
        };
        let (head, turn) = (rebit(&d.head), rebit(&d.turn));
        self.heartbeat_cost += d.heartbeat_cost;
        self.continue_turn(if d.opened { &head } else { &turn });
        if d.opened {
            if !self.opened {
                self.head = std::mem::take(&mut self.turn);
                self.opened = true;
            }
            self.turn = turn;
        }
        if let Some(f) = d.first_ms {
            self.first_ms = Some(self.first_ms.map_or(f, |x| x.min(f)));
        }
        if let Some(l) = d.last_ms {
            self.last_ms = Some(self.last_ms.map_or(l, |x| x.max(l)));
        }
        if d.events > 0 {
            if d.last_stop_reason.is_some() {
                self.last_stop_reason = d.last_stop_reason;
            }
            self.last_kind_assistant = d.last_kind_assistant;
        }
        if self.first_user_text.is_none() {
            self.first_user_text = d.first_user_text;
        }
        for mut h in d.hourly {
            h.model = remap[h.model as usize];
            self.add_hourly(h);
        }
    }

    /// Lines of a later delta that continue the open turn: each side's tools get the other
    /// side's part of the turn (what the delta counted for a tool it saw is its own part only).
    fn continue_turn(&mut self, more: &Turn) {
        for i in positions(self.turn.tools & !more.tools) {
            self.tools.add_cost_at(i, more.cost);
        }
        for i in positions(more.tools & !self.turn.tools) {
            self.tools.add_cost_at(i, self.turn.cost);
        }
        self.turn.tools |= more.tools;
        if self.turn.heartbeat {
            self.heartbeat_cost += more.cost;
        }
        self.turn.cost += more.cost;
    }

    pub fn errors(&self) -> u64 {
        u64::from(self.tool_errors) + u64::from(self.assistant_errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assistant(model: &str, ts: i64, input: u64, cost: Option<f64>) -> LineSummary {
        let mut l = LineSummary::new(LineKind::Assistant);
        l.ts_ms = Some(ts);
        l.model = Some(model.into());
        l.usage = Some((Usage { input, output: 10, cost: cost.unwrap_or(0.0), ..Default::default() }, cost.is_some()));
        l.stop_reason = Some("stop".into());
        l
    }

    /// Real transcripts (file era, OpenClaw 2026.9's lab, a compaction) cut into every run of
    /// lines: each run's tally merged into a blank one (the fast path, `*self = d`) is what
    /// adding it field by field gives, and every real run takes the fast path.
    #[test]
    fn a_delta_merged_into_nothing_is_itself() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let files = [
            "legacy-2026.3/home/agents/main/sessions/003d9e5b-51f2-496b-911f-3564cacac047.jsonl",
            "legacy-2026.3/home/agents/main/sessions/e284ffb1-15b9-4955-bf7f-252e5a91938e.jsonl",
            "legacy-2026.3/home/agents/main/sessions/eeeeeeee-0000-4000-8000-000000000001.jsonl",
            "moltbot-2026.1/home/agents/main/sessions/76cc5ab5-0425-4038-b41f-0af9f313d594.jsonl",
            "lines/tool-loop.lab-2026.9.6.jsonl",
            "lines/session-v3.all-entry-types.synthetic.jsonl",
            "lines/pi-mono_v1-session_before-compaction.excerpt.jsonl",
        ];
        let price = |_: &str, u: &Usage| u.input as f64 * 1e-6 + 0.001;
        let (mut runs, mut fast) = (0, 0);
        for f in files {
            let text = std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
            assert!(lines.len() > 5, "{f}");
            for a in 0..lines.len() {
                for b in a + 1..=lines.len() {
                    let mut d = Tally::default();
                    for l in &lines[a..b] {
                        if let Ok(s) = crate::sources::transcript::summarize(l) {
                            d.add_line(&s, &price);
                        }
                    }
                    let mut added = Tally::default();
                    added.add_delta(d.clone());
                    let mut merged = Tally::default();
                    merged.merge(d.clone());
                    assert_eq!(format!("{merged:?}"), format!("{added:?}"), "{f} lines {a}..{b}");
                    runs += 1;
                    fast += usize::from(d.merges_as_is());
                }
            }
        }
        assert_eq!(fast, runs, "every real run merges as it is");
        // Deltas the fast path must not take: adding them to a blank tally changes them.
        let turn = |heartbeat| Turn { cost: 0.5, tools: 0, heartbeat };
        let odd = [
            Tally { last_stop_reason: Some("stop".into()), ..Tally::default() },
            Tally { last_kind_assistant: true, ..Tally::default() },
            Tally { max_prompt_model: Some(0), models: vec!["m".into()], ..Tally::default() },
            Tally { head: turn(true), opened: true, ..Tally::default() },
            Tally { head: turn(false), ..Tally::default() },
            Tally { turn: turn(true), ..Tally::default() },
            Tally { models: vec!["m".into(), "m".into()], ..Tally::default() },
        ];
        for d in odd {
            assert!(!d.merges_as_is(), "{d:?}");
            let (mut merged, mut added) = (Tally::default(), Tally::default());
            merged.merge(d.clone());
            added.add_delta(d.clone());
            assert_eq!(format!("{merged:?}"), format!("{added:?}"));
            assert_ne!(format!("{merged:?}"), format!("{d:?}"), "adding changes it: the guard is needed");
        }
        // Blank is the default and nothing else.
        assert!(Tally::default().is_blank());
        let counted = [
            Tally { events: 1, ..Tally::default() },
            Tally { heartbeat_cost: 0.1, ..Tally::default() },
            Tally { opened: true, ..Tally::default() },
            Tally { head: turn(false), ..Tally::default() },
            Tally { first_ms: Some(1), ..Tally::default() },
            Tally { lead_closed: true, ..Tally::default() },
            Tally { pending_compaction: Some(9), ..Tally::default() },
            Tally { usage: Usage { reasoning: 1, ..Usage::default() }, ..Tally::default() },
            Tally { first_user_text: Some("x".into()), ..Tally::default() },
        ];
        assert!(counted.iter().all(|t| !t.is_blank()));
    }

    #[test]
    fn a_subagents_task_follows_the_first_marker_that_begins_a_line() {
        // OpenClaw 2026.9: the context paragraph names the marker before the task's own.
        let new = "[Subagent Context] You are running as a subagent (depth 1/5). Complete the current \
                   [Subagent Task]; inherited conversation is background context, not your assignment.\n\n\
                   [Subagent Task]\n\nSub-agent job: check the host.\n\nBegin. Execute the assigned task to completion.";
        assert_eq!(subagent_task(new), "Sub-agent job: check the host.");
        // The file era's form, a text without a marker, and a task taken out already.
        assert_eq!(
            subagent_task("[Subagent Context] x\n\n[Subagent Task]: Name it. Two words."),
            "Name it. Two words."
        );
        assert_eq!(subagent_task("  just text \n"), "just text");
        assert_eq!(subagent_task(subagent_task(new)), "Sub-agent job: check the host.");
        // A task that quotes the marker keeps what comes before the quote.
        let quoting = new.replace("check the host.", "explain the [Subagent Task] header.");
        assert_eq!(subagent_task(&quoting), "Sub-agent job: explain the [Subagent Task] header.");
        // Indexed: only the task is kept, redacted, at most 400 bytes.
        let price = |_: &str, _: &Usage| 0.0;
        let mut line = LineSummary::new(LineKind::User);
        let long = format!("check the host. ghp_16C7e42F292c6912E7710c838347Ae178B4a {}", "é".repeat(300));
        line.user_text = Some(new.replace("check the host.", &long));
        let mut t = Tally::default();
        t.add_line(&line, &price);
        let kept = t.first_user_text.as_deref().unwrap();
        assert!(kept.starts_with("Sub-agent job: check the host.") && !kept.contains("ghp_"), "{kept}");
        assert!(kept.len() == 399 || kept.len() == 400, "{}", kept.len());
    }

    #[test]
    fn reported_cost_wins_and_missing_cost_is_priced() {
        let price = |_: &str, u: &Usage| u.input as f64 * 0.001;
        let mut t = Tally::default();
        t.add_line(&assistant("a/x", 3_600_000, 100, Some(0.5)), &price);
        t.add_line(&assistant("a/x", 3_600_001, 200, None), &price);
        assert_eq!(t.usage.input, 300);
        assert!((t.usage.cost - 0.7).abs() < 1e-9);
        assert_eq!(t.estimated_cost_calls, 1);
        assert_eq!(t.hourly.len(), 1);
        assert_eq!(t.hourly[0].calls, 2);
    }

    #[test]
    fn merge_equals_adding_all_lines() {
        let price = |_: &str, _: &Usage| 0.0;
        let lines: Vec<_> =
            (0..6).map(|i| assistant(if i % 2 == 0 { "a/x" } else { "b/y" }, i * 2_000_000, 7, Some(0.1))).collect();
        let mut whole = Tally::default();
        for l in &lines {
            whole.add_line(l, &price);
        }
        let mut a = Tally::default();
        let mut b = Tally::default();
        for l in &lines[..3] {
            a.add_line(l, &price);
        }
        for l in &lines[3..] {
            b.add_line(l, &price);
        }
        a.merge(b);
        assert_eq!(a.usage.input, whole.usage.input);
        assert!((a.usage.cost - whole.usage.cost).abs() < 1e-12);
        assert_eq!(a.models, whole.models);
        let mut ha = a.hourly.clone();
        let mut hw = whole.hourly.clone();
        ha.sort_by_key(|h| (h.hour, h.model));
        hw.sort_by_key(|h| (h.hour, h.model));
        assert_eq!(ha, hw);
    }

    #[test]
    fn largest_prompt_and_what_compactions_removed_at_every_split() {
        let price = |_: &str, _: &Usage| 0.0;
        let call = |model: &str, input: u64, cache_read: u64| {
            let mut l = assistant(model, 1_000, input, Some(0.0));
            l.usage.as_mut().unwrap().0.cache_read = cache_read;
            l.usage.as_mut().unwrap().0.cache_write = 5;
            l
        };
        let compaction = |before: u64| {
            let mut l = LineSummary::new(LineKind::Meta);
            l.compaction_before = Some(before);
            l
        };
        // Prompts 1005, 60005 (b/y), 40005; a compaction at 61000 followed by a 9005 call
        // (removed 51995); two compactions in a row (the first one's removal unknown), the
        // second at 30000 followed by 2005 (removed 27995); a last compaction with no call yet.
        let lines = vec![
            call("a/x", 1000, 0),
            call("b/y", 20_000, 40_000),
            call("a/x", 40_000, 0),
            compaction(61_000),
            call("a/x", 9_000, 0),
            compaction(50_000),
            compaction(30_000),
            call("a/x", 2_000, 0),
            compaction(7_000),
        ];
        let mut whole = Tally::default();
        for l in &lines {
            whole.add_line(l, &price);
        }
        assert_eq!(
            (whole.max_prompt, whole.max_prompt_model.map(|i| &*whole.models[i as usize])),
            (60_005, Some("b/y"))
        );
        assert_eq!((whole.compactions, whole.compacted_tokens), (4, 51_995 + 27_995));
        // The same split anywhere, in two and in three deltas.
        for i in 0..=lines.len() {
            for j in i..=lines.len() {
                let mut parts = [Tally::default(), Tally::default(), Tally::default()];
                for (k, l) in lines.iter().enumerate() {
                    parts[if k < i {
                        0
                    } else if k < j {
                        1
                    } else {
                        2
                    }]
                    .add_line(l, &price);
                }
                let [mut a, b, c] = parts;
                a.merge(b);
                a.merge(c);
                let model = a.max_prompt_model.map(|m| a.models[m as usize].clone());
                assert_eq!((a.max_prompt, model.as_deref()), (60_005, Some("b/y")), "split {i}/{j}");
                assert_eq!((a.compactions, a.compacted_tokens), (4, 51_995 + 27_995), "split {i}/{j}");
                // The pending compaction at the end finishes with a later call.
                a.add_line(&call("a/x", 1_000, 0), &price);
                assert_eq!(a.compacted_tokens, 51_995 + 27_995 + 5_995, "split {i}/{j}");
            }
        }
    }

    #[test]
    fn tool_counts_stay_sorted_and_serialise_as_a_map() {
        let mut t = ToolCounts::default();
        for name in ["read", "exec", "read", "write", "exec", "read"] {
            t.add(name, 1);
        }
        assert_eq!(t.get("read"), Some(3));
        assert_eq!(t.len(), 3);
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"exec":2,"read":3,"write":1}"#);
    }

    #[test]
    fn injected_lines_are_not_model_calls() {
        let mut l = assistant("openclaw/delivery-mirror", 1, 5, Some(0.0));
        l.injected = true;
        let mut t = Tally::default();
        t.add_line(&l, &|_, _| 1.0);
        assert_eq!(t.usage.input, 0);
        assert!(t.models.is_empty());
        assert_eq!(t.assistant_messages, 1);
    }

    fn user(text: &str) -> LineSummary {
        let mut l = LineSummary::new(LineKind::User);
        l.user_text = Some(text.into());
        l
    }

    /// A model call of `cost` USD that calls `tools`.
    fn call(cost: f64, tools: &[&str]) -> LineSummary {
        let mut l = assistant("a/x", 1, 1, Some(cost));
        l.tool_calls = tools.iter().map(|t| t.to_string()).collect();
        l
    }

    /// Two turns, hand-computed:
    /// turn 1 ("fix it"): calls 1.0 (exec), 2.0 (read), 4.0 (no tool) → the turn cost 7.0
    ///   counts for exec and for read (read's first use came after the first call: still all);
    /// turn 2 (heartbeat poll): calls 0.5 (exec), 0.25 → 0.75 for exec and for the heartbeat;
    /// before any user message: 8.0 (read), in no turn of these lines (a continuation).
    /// exec = 7.0 + 0.75 = 7.75, read = 8.0 + 7.0 = 15.0, heartbeat = 0.75.
    fn tool_lines() -> Vec<LineSummary> {
        vec![
            call(8.0, &["read"]),
            user("fix it"),
            call(1.0, &["exec"]),
            call(2.0, &["read"]),
            call(4.0, &[]),
            user("[OpenClaw heartbeat poll]"),
            call(0.5, &["exec", "exec"]),
            call(0.25, &[]),
        ]
    }

    #[test]
    fn by_tool_rule_counts_whole_turns() {
        let mut t = Tally::default();
        for l in tool_lines() {
            t.add_line(&l, &|_, _| 0.0);
        }
        assert!((t.tools.cost("exec") - 7.75).abs() < 1e-12);
        assert!((t.tools.cost("read") - 15.0).abs() < 1e-12);
        assert_eq!(t.tools.get("exec"), Some(3));
        assert!((t.heartbeat_cost - 0.75).abs() < 1e-12);
        assert_eq!(t.tools.cost("write"), 0.0);
        // A session with no tool and no price: nothing to count, nothing invented.
        let mut free = Tally::default();
        free.add_line(&user("hi"), &|_, _| 0.0);
        let mut unpriced = assistant("new/model", 1, 1000, None);
        unpriced.tool_calls = vec!["exec".into()];
        free.add_line(&unpriced, &|_, _| 0.0);
        assert_eq!(free.tools.cost("exec"), 0.0);
        assert_eq!(free.tools.get("exec"), Some(1));
    }

    #[test]
    fn turn_bits_follow_inserted_tools() {
        assert_eq!(shift_up(0b101, 1), 0b1001);
        assert_eq!(shift_up(0b1, 0), 0b10);
        assert_eq!(shift_up(0b1, 5), 0b1);
        assert_eq!(shift_up(1 << 63, 3), 0, "a tool pushed past position 63 leaves the turn");
        assert_eq!(positions(0b1010).collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn by_tool_rule_survives_any_split_into_deltas() {
        let lines = tool_lines();
        // A turn open before the lines: "go" with a write call of 16.0. The lines' first call
        // (8.0, read) continues it: the turn costs 24.0, for write and for read; then read gets
        // 7.0 more from turn "fix it": write 24.0, read 31.0, exec 7.75 (as above).
        let mut prefix = Tally::default();
        prefix.add_line(&user("go"), &|_, _| 0.0);
        prefix.add_line(&call(16.0, &["write"]), &|_, _| 0.0);
        for cut1 in 0..=lines.len() {
            for cut2 in cut1..=lines.len() {
                let mut whole = prefix.clone();
                for part in [&lines[..cut1], &lines[cut1..cut2], &lines[cut2..]] {
                    let mut d = Tally::default();
                    for l in part {
                        d.add_line(l, &|_, _| 0.0);
                    }
                    whole.merge(d);
                }
                let at = format!("cut at {cut1}, {cut2}");
                assert!((whole.tools.cost("write") - 24.0).abs() < 1e-12, "{at}: {}", whole.tools.cost("write"));
                assert!((whole.tools.cost("read") - 31.0).abs() < 1e-12, "{at}: {}", whole.tools.cost("read"));
                assert!((whole.tools.cost("exec") - 7.75).abs() < 1e-12, "{at}");
                assert!((whole.heartbeat_cost - 0.75).abs() < 1e-12, "{at}");
            }
        }
    }

    /// Found by fuzzing (fuzz/regressions/transcript/usage-u64-max.jsonl): two lines claiming
    /// u64::MAX tokens overflowed the tally.
    #[test]
    fn huge_token_counts_saturate() {
        let l = assistant("a/x", 1, u64::MAX, Some(0.0));
        let mut t = Tally::default();
        t.add_line(&l, &|_, _| 0.0);
        t.add_line(&l, &|_, _| 0.0);
        // Each line is cut to what one model call can claim (issue 13)...
        assert_eq!(t.usage.input, 2 * MAX_EVENT_TOKENS);
        assert_eq!(t.usage.output, 20);
        // ...and the sums saturate all the same.
        let mut u = Usage { input: u64::MAX, ..Usage::default() };
        u.add(&Usage { input: 5, ..Usage::default() });
        assert_eq!(u.input, u64::MAX);
        assert_eq!(u.total_tokens(), u64::MAX);
    }
}

/// A string kept for long (per session): no spare capacity, 16 bytes instead of 24.
pub type Text = Box<str>;

/// A word many sessions share (channel, model, status): one allocation per distinct word, see
/// [`shared_name`].
pub type Name = Arc<str>;

/// A session key: one allocation shared by the session's record, `State::by_key` and the
/// records of its children that name it as their parent (`SessionMeta::parent_key`).
pub type Key = Arc<str>;

/// [`shared_name`] of anything string-like (for `Option::map`).
pub fn name<S: AsRef<str>>(s: S) -> Name {
    shared_name(s.as_ref())
}

/// What OpenClaw's session index says about a session (legacy `sessions.json` entry, or
/// `session_nodes` + `session_windows`). Every field is optional: old installs write few.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionMeta {
    pub id: String,
    pub key: Option<Key>,
    pub label: Option<Text>,
    pub channel: Option<Name>,
    pub model: Option<Name>,
    /// OpenClaw's own status word: running, done, failed, killed, timeout.
    pub status: Option<Name>,
    pub created_via: Option<Name>,
    pub parent_key: Option<Key>,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub updated_ms: Option<i64>,
    /// When the user archived it in OpenClaw (`openclaw sessions archive`: the transcript stays).
    pub archived_ms: Option<i64>,
}

impl SessionMeta {
    /// Fills the fields `self` lacks from `other` (a second key of the same session).
    pub fn fill_from(&mut self, other: &SessionMeta) {
        fn fill<T: Clone>(a: &mut Option<T>, b: &Option<T>) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
        fill(&mut self.key, &other.key);
        fill(&mut self.label, &other.label);
        fill(&mut self.channel, &other.channel);
        fill(&mut self.model, &other.model);
        fill(&mut self.status, &other.status);
        fill(&mut self.created_via, &other.created_via);
        fill(&mut self.parent_key, &other.parent_key);
        fill(&mut self.started_ms, &other.started_ms);
        fill(&mut self.ended_ms, &other.ended_ms);
        fill(&mut self.updated_ms, &other.updated_ms);
        fill(&mut self.archived_ms, &other.archived_ms);
    }
}

/// A sub-agent run record (`subagent_runs.payload_json` or the file era's `subagents/runs.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubagentRun {
    pub run_id: String,
    pub child_key: String,
    pub requester_key: Option<String>,
    pub task: Option<String>,
    pub label: Option<String>,
    pub model: Option<String>,
    pub outcome: Option<String>,
    pub ended_reason: Option<String>,
    pub created_ms: Option<i64>,
    pub ended_ms: Option<i64>,
}
