//! The checkpoint's rows in binary: a source's [`Saved`] as a Protocol Buffers message (prost,
//! already here for OTLP). A restart at 100k sessions decodes 150k rows; as JSON through
//! `serde_json::Value` that was half of its time, as protobuf it is a few percent. The
//! messages are declared here, not compiled from a `.proto`: nobody else reads this file.
//!
//! Decoding checks what a tally's positions point at (an hour's model, the largest prompt's
//! model), how many counts and health counters there are, that the tools are in name order and
//! that a database's seqs pair up: a row that does not hold together is not taken (its source
//! is read; one that fails its checksum refuses the whole checkpoint).

use super::{DbResume, Resume, Saved};
use crate::model::{HourUsage, SessionMeta, Tally, ToolCounts, Turn, Usage};
use crate::state::IndexHealth;
use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct SavedRow {
    #[prost(message, optional, tag = "1")]
    tally: Option<TallyRow>,
    /// The health counters, in the order of [`health_counts`].
    #[prost(uint64, repeated, tag = "2")]
    health: Vec<u64>,
    #[prost(message, optional, tag = "3")]
    resume: Option<ResumeRow>,
    #[prost(message, optional, tag = "4")]
    db: Option<DbRow>,
    #[prost(message, repeated, tag = "5")]
    metas: Vec<MetaRow>,
}

/// A session's index record ([`SessionMeta`]).
#[derive(Clone, PartialEq, Message)]
struct MetaRow {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, optional, tag = "2")]
    key: Option<String>,
    #[prost(string, optional, tag = "3")]
    label: Option<String>,
    #[prost(string, optional, tag = "4")]
    channel: Option<String>,
    #[prost(string, optional, tag = "5")]
    model: Option<String>,
    #[prost(string, optional, tag = "6")]
    status: Option<String>,
    #[prost(string, optional, tag = "7")]
    created_via: Option<String>,
    #[prost(string, optional, tag = "8")]
    parent_key: Option<String>,
    #[prost(int64, optional, tag = "9")]
    started_ms: Option<i64>,
    #[prost(int64, optional, tag = "10")]
    ended_ms: Option<i64>,
    #[prost(int64, optional, tag = "11")]
    updated_ms: Option<i64>,
    #[prost(int64, optional, tag = "12")]
    archived_ms: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct TallyRow {
    /// The counts, in the order of [`counts`].
    #[prost(uint64, repeated, tag = "1")]
    counts: Vec<u64>,
    #[prost(message, optional, tag = "2")]
    usage: Option<UsageRow>,
    #[prost(string, repeated, tag = "3")]
    models: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    tools: Vec<ToolRow>,
    #[prost(uint32, optional, tag = "5")]
    max_prompt_model: Option<u32>,
    #[prost(uint64, optional, tag = "6")]
    pending_compaction: Option<u64>,
    #[prost(uint64, optional, tag = "7")]
    lead_prompt: Option<u64>,
    #[prost(bool, tag = "8")]
    lead_closed: bool,
    #[prost(double, tag = "9")]
    heartbeat_cost: f64,
    #[prost(int64, optional, tag = "10")]
    first_ms: Option<i64>,
    #[prost(int64, optional, tag = "11")]
    last_ms: Option<i64>,
    #[prost(string, optional, tag = "12")]
    last_stop_reason: Option<String>,
    #[prost(bool, tag = "13")]
    last_kind_assistant: bool,
    #[prost(string, optional, tag = "14")]
    first_user_text: Option<String>,
    #[prost(message, repeated, tag = "15")]
    hourly: Vec<HourRow>,
    #[prost(bool, tag = "16")]
    opened: bool,
    #[prost(message, optional, tag = "17")]
    turn: Option<TurnRow>,
    #[prost(message, optional, tag = "18")]
    head: Option<TurnRow>,
}

#[derive(Clone, PartialEq, Message)]
struct UsageRow {
    #[prost(uint64, tag = "1")]
    input: u64,
    #[prost(uint64, tag = "2")]
    output: u64,
    #[prost(uint64, tag = "3")]
    cache_read: u64,
    #[prost(uint64, tag = "4")]
    cache_write: u64,
    #[prost(uint64, tag = "5")]
    reasoning: u64,
    #[prost(double, tag = "6")]
    cost: f64,
}

#[derive(Clone, PartialEq, Message)]
struct ToolRow {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint64, tag = "2")]
    calls: u64,
    #[prost(double, tag = "3")]
    cost: f64,
}

#[derive(Clone, PartialEq, Message)]
struct HourRow {
    #[prost(uint32, tag = "1")]
    hour: u32,
    #[prost(uint32, tag = "2")]
    model: u32,
    #[prost(uint32, tag = "3")]
    calls: u32,
    #[prost(message, optional, tag = "4")]
    usage: Option<UsageRow>,
}

#[derive(Clone, PartialEq, Message)]
struct TurnRow {
    #[prost(double, tag = "1")]
    cost: f64,
    #[prost(uint64, tag = "2")]
    tools: u64,
    #[prost(bool, tag = "3")]
    heartbeat: bool,
}

#[derive(Clone, PartialEq, Message)]
struct ResumeRow {
    #[prost(uint64, tag = "1")]
    size: u64,
    #[prost(int64, tag = "2")]
    mtime_ns: i64,
    #[prost(uint64, tag = "3")]
    lines: u64,
    #[prost(uint64, tag = "4")]
    tail_len: u64,
    #[prost(fixed64, tag = "5")]
    tail_hash: u64,
}

#[derive(Clone, PartialEq, Message)]
struct DbRow {
    #[prost(int64, tag = "1")]
    max_rowid: i64,
    #[prost(uint64, tag = "2")]
    rows: u64,
    /// `seqs` as two lists: the session ids and their highest seq.
    #[prost(string, repeated, tag = "3")]
    seq_ids: Vec<String>,
    #[prost(int64, repeated, tag = "4")]
    seq_values: Vec<i64>,
    /// The database's sessions (their tallies are rows of their own, `Checkpoint::take`).
    #[prost(string, repeated, tag = "5")]
    sessions: Vec<String>,
    /// Where its session metadata was read to (`DbResume::meta_since`, `window_rowid`).
    #[prost(int64, tag = "6")]
    meta_since: i64,
    #[prost(int64, tag = "7")]
    window_rowid: i64,
}

/// A tally's counts, in their order in [`TallyRow::counts`] (and [`set_counts`]'s).
fn counts(t: &Tally) -> Vec<u64> {
    vec![
        u64::from(t.events),
        u64::from(t.user_messages),
        u64::from(t.assistant_messages),
        u64::from(t.tool_calls),
        u64::from(t.tool_results),
        u64::from(t.tool_errors),
        u64::from(t.tool_exit_failures),
        t.max_prompt,
        u64::from(t.compactions),
        t.compacted_tokens,
        u64::from(t.assistant_errors),
        u64::from(t.unknown_events),
        u64::from(t.estimated_cost_calls),
    ]
}

/// [`counts`] back into a tally; false when there are not as many (or a count does not fit).
fn set_counts(t: &mut Tally, c: &[u64]) -> bool {
    let [events, user, assistant, tool_calls, results, errors, exit_failures, max_prompt, compactions, compacted, assistant_errors, unknown, estimated] =
        c
    else {
        return false;
    };
    let small = [
        (&mut t.events, events),
        (&mut t.user_messages, user),
        (&mut t.assistant_messages, assistant),
        (&mut t.tool_calls, tool_calls),
        (&mut t.tool_results, results),
        (&mut t.tool_errors, errors),
        (&mut t.tool_exit_failures, exit_failures),
        (&mut t.compactions, compactions),
        (&mut t.assistant_errors, assistant_errors),
        (&mut t.unknown_events, unknown),
        (&mut t.estimated_cost_calls, estimated),
    ];
    for (slot, &v) in small {
        let Ok(v) = u32::try_from(v) else { return false };
        *slot = v;
    }
    t.max_prompt = *max_prompt;
    t.compacted_tokens = *compacted;
    true
}

/// Sets `slots` to `values`, one each; false when there are not as many.
fn fill<const N: usize>(slots: [&mut u64; N], values: &[u64]) -> bool {
    if values.len() != N {
        return false;
    }
    for (slot, v) in slots.into_iter().zip(values) {
        *slot = *v;
    }
    true
}

/// The health counters reading a source adds, in their order in [`SavedRow::health`] (and
/// [`set_health`]'s).
fn health_counts(h: &IndexHealth) -> Vec<u64> {
    vec![
        h.files,
        h.bytes_read,
        h.lines,
        h.malformed_lines,
        h.non_utf8_lines,
        h.capped_events,
        h.huge_lines,
        h.bad_rows,
        h.archives,
        h.bad_archives,
        h.duplicate_source_lines,
    ]
}

/// [`health_counts`] back; None when there are not as many.
fn set_health(c: &[u64]) -> Option<IndexHealth> {
    let mut h = IndexHealth::default();
    let slots = [
        &mut h.files,
        &mut h.bytes_read,
        &mut h.lines,
        &mut h.malformed_lines,
        &mut h.non_utf8_lines,
        &mut h.capped_events,
        &mut h.huge_lines,
        &mut h.bad_rows,
        &mut h.archives,
        &mut h.bad_archives,
        &mut h.duplicate_source_lines,
    ];
    fill(slots, c).then_some(h)
}

fn usage_row(u: &Usage) -> UsageRow {
    UsageRow {
        input: u.input,
        output: u.output,
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        reasoning: u.reasoning,
        cost: u.cost,
    }
}

fn usage_from(u: Option<&UsageRow>) -> Usage {
    let u = u.cloned().unwrap_or_default();
    Usage {
        input: u.input,
        output: u.output,
        cache_read: u.cache_read,
        cache_write: u.cache_write,
        reasoning: u.reasoning,
        cost: u.cost,
    }
}

fn turn_row(t: &Turn) -> TurnRow {
    TurnRow { cost: t.cost, tools: t.tools, heartbeat: t.heartbeat }
}

fn turn_from(t: Option<&TurnRow>) -> Turn {
    t.map_or_else(Turn::default, |t| Turn { cost: t.cost, tools: t.tools, heartbeat: t.heartbeat })
}

fn tally_row(t: &Tally) -> TallyRow {
    TallyRow {
        counts: counts(t),
        usage: Some(usage_row(&t.usage)),
        models: t.models.iter().map(|m| m.to_string()).collect(),
        tools: t.tools.with_cost().map(|(name, calls, cost)| ToolRow { name: name.to_string(), calls, cost }).collect(),
        max_prompt_model: t.max_prompt_model,
        pending_compaction: t.pending_compaction,
        lead_prompt: t.lead_prompt,
        lead_closed: t.lead_closed,
        heartbeat_cost: t.heartbeat_cost,
        first_ms: t.first_ms,
        last_ms: t.last_ms,
        last_stop_reason: t.last_stop_reason.as_deref().map(str::to_string),
        last_kind_assistant: t.last_kind_assistant,
        first_user_text: t.first_user_text.as_deref().map(str::to_string),
        hourly: t
            .hourly
            .iter()
            .map(|h| HourRow { hour: h.hour, model: h.model, calls: h.calls, usage: Some(usage_row(&h.usage)) })
            .collect(),
        opened: t.opened,
        turn: Some(turn_row(&t.turn)),
        head: Some(turn_row(&t.head)),
    }
}

/// `r` as a tally, read in place (see [`decode`]).
fn tally_from(r: &TallyRow) -> Option<Tally> {
    let mut t = Tally::default();
    if !set_counts(&mut t, &r.counts) {
        return None;
    }
    let models = r.models.len();
    if r.max_prompt_model.is_some_and(|m| m as usize >= models) || r.hourly.iter().any(|h| h.model as usize >= models) {
        return None;
    }
    t.usage = usage_from(r.usage.as_ref());
    t.models = r.models.iter().map(|m| crate::model::shared_name(m)).collect();
    t.tools = ToolCounts::from_rows(r.tools.iter().map(|x| (&x.name, x.calls, x.cost)))?;
    t.max_prompt_model = r.max_prompt_model;
    t.pending_compaction = r.pending_compaction;
    t.lead_prompt = r.lead_prompt;
    t.lead_closed = r.lead_closed;
    t.heartbeat_cost = r.heartbeat_cost;
    t.first_ms = r.first_ms;
    t.last_ms = r.last_ms;
    t.last_stop_reason = r.last_stop_reason.as_deref().map(crate::model::shared_name);
    t.last_kind_assistant = r.last_kind_assistant;
    t.first_user_text = r.first_user_text.as_deref().map(Into::into);
    t.hourly = r
        .hourly
        .iter()
        .map(|h| HourUsage { hour: h.hour, model: h.model, calls: h.calls, usage: usage_from(h.usage.as_ref()) })
        .collect();
    t.opened = r.opened;
    t.turn = turn_from(r.turn.as_ref());
    t.head = turn_from(r.head.as_ref());
    Some(t)
}

fn meta_row(m: &SessionMeta) -> MetaRow {
    let text = |s: Option<&str>| s.map(str::to_string);
    MetaRow {
        id: m.id.clone(),
        key: text(m.key.as_deref()),
        label: text(m.label.as_deref()),
        channel: text(m.channel.as_deref()),
        model: text(m.model.as_deref()),
        status: text(m.status.as_deref()),
        created_via: text(m.created_via.as_deref()),
        parent_key: text(m.parent_key.as_deref()),
        started_ms: m.started_ms,
        ended_ms: m.ended_ms,
        updated_ms: m.updated_ms,
        archived_ms: m.archived_ms,
    }
}

fn meta_from(r: MetaRow) -> SessionMeta {
    use crate::model::name;
    SessionMeta {
        id: r.id,
        key: r.key.map(Into::into),
        label: r.label.map(Into::into),
        channel: r.channel.map(name),
        model: r.model.map(name),
        status: r.status.map(name),
        created_via: r.created_via.map(name),
        parent_key: r.parent_key.map(Into::into),
        started_ms: r.started_ms,
        ended_ms: r.ended_ms,
        updated_ms: r.updated_ms,
        archived_ms: r.archived_ms,
    }
}

/// A source's row.
#[cfg(test)]
pub(super) fn encode(s: &Saved) -> Vec<u8> {
    let mut out = Vec::new();
    encode_to(s, &mut out);
    out
}

/// A source's row, appended to `out`.
pub(super) fn encode_to(s: &Saved, out: &mut Vec<u8>) {
    let row = SavedRow {
        tally: Some(tally_row(&s.tally)),
        health: health_counts(&s.health),
        resume: s.resume.map(|r| ResumeRow {
            size: r.size,
            mtime_ns: r.mtime_ns,
            lines: r.lines,
            tail_len: r.tail_len,
            tail_hash: r.tail_hash,
        }),
        db: s.db.as_ref().map(|d| DbRow {
            max_rowid: d.max_rowid,
            rows: d.rows,
            seq_ids: d.seqs.iter().map(|(id, _)| id.clone()).collect(),
            seq_values: d.seqs.iter().map(|(_, s)| *s).collect(),
            sessions: d.sessions.iter().map(|(id, _)| id.clone()).collect(),
            meta_since: d.meta_since,
            window_rowid: d.window_rowid,
        }),
        metas: s.metas.iter().map(meta_row).collect(),
    };
    // Into a `Vec`, which grows as needed: cannot fail.
    let _ = row.encode(out);
}

/// [`encode`]'s bytes back; None when they are not a row that holds together.
///
/// Decoded into one message per thread, reused: its short lists (counts, health counters,
/// hours, tools, models) keep their room from one row to the next instead of growing from nothing in every
/// row (a third of the decoding's time, 150k rows at a restart at 100k sessions).
pub(super) fn decode(bytes: &[u8]) -> Option<Saved> {
    thread_local! {
        static ROW: std::cell::RefCell<SavedRow> = std::cell::RefCell::new(SavedRow::default());
    }
    ROW.with_borrow_mut(|row| {
        // Cleared in place: `clear` would drop the tally message with its lists. A row without
        // a tally leaves it empty, and no counts do not make a tally.
        let mut tally = row.tally.take().unwrap_or_default();
        tally.clear();
        row.clear();
        row.tally = Some(tally);
        row.merge(bytes).ok()?;
        decode_row(row)
    })
}

fn decode_row(row: &mut SavedRow) -> Option<Saved> {
    let tally = tally_from(row.tally.as_ref()?)?;
    let health = set_health(&row.health)?;
    let resume = row.resume.as_ref().map(|r| Resume {
        size: r.size,
        mtime_ns: r.mtime_ns,
        lines: r.lines,
        tail_len: r.tail_len,
        tail_hash: r.tail_hash,
    });
    let db = match row.db.take() {
        None => None,
        Some(d) => {
            if d.seq_ids.len() != d.seq_values.len() {
                return None;
            }
            Some(DbResume {
                max_rowid: d.max_rowid,
                rows: d.rows,
                seqs: d.seq_ids.into_iter().zip(d.seq_values).collect(),
                sessions: d.sessions.into_iter().map(|id| (id, Tally::default())).collect(),
                meta_since: d.meta_since,
                window_rowid: d.window_rowid,
            })
        }
    };
    // Taken, not drained: a `sessions.json` read on the watcher thread (which lives as long
    // as the process) may hold 100k records, and their room would be kept for good.
    let metas = std::mem::take(&mut row.metas).into_iter().map(meta_from).collect();
    Some(Saved { tally, health, resume, db, metas })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source with every field set, and set apart from the others (a count written in
    /// another's place shows).
    fn full() -> Saved {
        let mut t = Tally::default();
        let n = counts(&t).len();
        assert!(set_counts(&mut t, &(1..=n as u64).map(|i| i * 1000 + i).collect::<Vec<_>>()));
        t.usage = Usage { input: 11, output: 12, cache_read: 13, cache_write: 14, reasoning: 15, cost: 0.1 + 0.2 };
        t.models = vec!["a/x".into(), "b/ÿ \"q\"".into()];
        t.tools.add("read", 3);
        t.tools.add("exec", 2);
        t.tools.add_cost("exec", 1.0 / 3.0);
        t.max_prompt_model = Some(1);
        t.pending_compaction = Some(77);
        t.lead_prompt = Some(0);
        t.lead_closed = true;
        t.heartbeat_cost = 2.5e-7;
        t.first_ms = Some(-5);
        t.last_ms = Some(i64::MAX);
        t.last_stop_reason = Some("toolUse".into());
        t.last_kind_assistant = true;
        t.first_user_text = Some("[Subagent] task\n\u{1F600}".into());
        t.hourly = vec![
            HourUsage { hour: 7, model: 1, calls: 2, usage: t.usage },
            HourUsage { hour: 8, model: 0, calls: 1, usage: Usage { cost: 1e-9, ..Usage::default() } },
        ];
        t.opened = true;
        t.turn = Turn { cost: 0.3, tools: 0b101, heartbeat: true };
        t.head = Turn { cost: 0.7, tools: 1 << 63, heartbeat: false };
        let mut health = set_health(&(1..=11).map(|i| i * 7).collect::<Vec<_>>()).unwrap();
        health.last_error = None;
        let resume = Some(Resume { size: 10, mtime_ns: -3, lines: 4, tail_len: 2, tail_hash: u64::MAX });
        let db = Some(DbResume {
            max_rowid: -9,
            rows: 12,
            seqs: vec![("s1".into(), 11), ("s2".into(), -1)],
            sessions: vec![("s1".into(), Tally::default()), ("s2".into(), Tally::default())],
            meta_since: i64::MIN,
            window_rowid: 31,
        });
        let metas = vec![
            SessionMeta {
                id: "s1".into(),
                key: Some("agent:main:cron:x".into()),
                label: Some("nightly \u{1F600}".into()),
                channel: Some("telegram".into()),
                model: Some("a/x".into()),
                status: Some("done".into()),
                created_via: Some("cron".into()),
                parent_key: Some("agent:main:main".into()),
                started_ms: Some(-1),
                ended_ms: Some(i64::MAX),
                updated_ms: Some(0),
                archived_ms: Some(5),
            },
            SessionMeta { id: "s2".into(), ..SessionMeta::default() },
        ];
        Saved { tally: t, health, resume, db, metas }
    }

    #[test]
    fn every_field_round_trips() {
        let want = full();
        let got = decode(&encode(&want)).expect("decodes");
        assert_eq!(format!("{:?}", got.tally), format!("{:?}", want.tally));
        assert_eq!(format!("{:?}", got.health), format!("{:?}", want.health));
        assert_eq!(got.resume, want.resume);
        let (g, w) = (got.db.unwrap(), want.db.unwrap());
        assert_eq!((g.max_rowid, g.rows, &g.seqs), (w.max_rowid, w.rows, &w.seqs));
        assert_eq!((g.meta_since, g.window_rowid), (i64::MIN, 31));
        assert_eq!(got.metas, want.metas);
        assert_eq!(g.sessions.iter().map(|s| &s.0).collect::<Vec<_>>(), ["s1", "s2"]);
        // An empty source too.
        let empty = decode(&encode(&Saved::default())).expect("decodes");
        assert_eq!(format!("{:?}", empty.tally), format!("{:?}", Tally::default()));
        assert!(empty.resume.is_none() && empty.db.is_none() && empty.metas.is_empty());
    }

    #[test]
    fn a_row_that_does_not_hold_together_is_refused() {
        let row = |f: &dyn Fn(&mut SavedRow)| {
            let mut r = SavedRow::decode(encode(&full()).as_slice()).unwrap();
            f(&mut r);
            decode(&r.encode_to_vec())
        };
        assert!(row(&|_| {}).is_some());
        assert!(row(&|r| r.tally = None).is_none());
        assert!(row(&|r| r.health.pop().map_or((), drop)).is_none());
        assert!(row(&|r| r.tally.as_mut().unwrap().counts.push(1)).is_none());
        assert!(row(&|r| r.tally.as_mut().unwrap().hourly[0].model = 2).is_none());
        assert!(row(&|r| r.tally.as_mut().unwrap().max_prompt_model = Some(2)).is_none());
        assert!(row(&|r| r.tally.as_mut().unwrap().tools.reverse()).is_none());
        assert!(row(&|r| r.db.as_mut().unwrap().seq_values.pop().map_or((), drop)).is_none());
        // Not a message at all.
        assert!(decode(b"{\"tally\": {}}").is_none());
        assert!(decode(&[0xff; 16]).is_none());
    }
}
