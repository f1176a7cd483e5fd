//! `GET /api/usage` (per model, provider, agent, session, trigger and tool, the most
//! expensive runs against runs like them, and a time series by hour or day between `from` and
//! `to`) and `GET /api/usage.csv` (the same cells as CSV, for billing). Both take the same
//! combinable filters: `agent`, `profile`, `model`, `provider`, `channel`, `tool`, `trigger`.
//! Everything is added up from the sessions' own hourly cells, so that a filter on what a
//! session is (channel, tool, trigger) applies to every figure alike. The arithmetic of the
//! breakdowns is in `crate::spend`.

use super::{Answer, ApiError, Ctx};
use super::{Req, Resp};
use crate::model::{HourUsage, Usage};
use crate::spend::{self, CronJob, Trigger};
use crate::state::{round_cost, usage_json, Cell, Session, State};
use crate::timefmt;
use foldhash::HashMap;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Sessions listed in `bySession` (the most expensive first).
const SESSIONS_SHOWN: usize = 200;
/// Runs listed in `topRuns`.
const TOP_RUNS: usize = 10;

/// What a usage answer covers: the time range, its step and the filters.
pub struct Range {
    pub from: i64,
    pub to: i64,
    step: &'static str,
    /// The buckets' starts: local midnights (`tz.rs`) by day, epoch hours by hour.
    starts: Vec<i64>,
    pub filter: Filter,
}

/// The usage view's filters; each one given narrows the selection, and they combine.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub agent: Option<String>,
    /// Only the agents of this OpenClaw profile.
    pub profile: Option<String>,
    /// Only the model calls of this model (`provider/model`) / of this provider.
    pub model: Option<String>,
    pub provider: Option<String>,
    /// Only sessions on this channel (the session index's channel, or the one in the key).
    pub channel: Option<String>,
    /// Only sessions that called this tool at least once.
    pub tool: Option<String>,
    /// Only sessions with this trigger (`crate::spend::trigger`); `heartbeat` also keeps the
    /// conversations with heartbeat turns, whole.
    pub trigger: Option<String>,
}

const FILTERS: [&str; 7] = ["agent", "profile", "model", "provider", "channel", "tool", "trigger"];

impl Filter {
    fn parse(req: &Req) -> Result<Filter, ApiError> {
        let mut v: [Option<String>; 7] = Default::default();
        for (slot, name) in v.iter_mut().zip(FILTERS) {
            if let Some(x) = req.q(name) {
                if x.is_empty() || x.len() > 300 || x.chars().any(char::is_control) {
                    return Err(ApiError::bad_request(format!(
                        "{name}: give a non-empty value of at most 300 characters, or leave the filter out"
                    )));
                }
                *slot = Some(x.to_string());
            }
        }
        let [agent, profile, model, provider, channel, tool, trigger] = v;
        if let Some(t) = &trigger {
            let known = matches!(t.as_str(), "heartbeat" | "subagent" | "otlp")
                || ["cron:", "message:"].iter().any(|p| t.len() > p.len() && t.starts_with(p));
            if !known {
                return Err(ApiError::bad_request(format!(
                    "trigger={t:?}: use cron:<job name>, heartbeat, subagent, message:<channel> or otlp"
                )));
            }
        }
        Ok(Filter { agent, profile, model, provider, channel, tool, trigger })
    }

    /// The filters as query parameters (for the answer and the CSV link).
    fn to_json(&self) -> Value {
        let v = [&self.agent, &self.profile, &self.model, &self.provider, &self.channel, &self.tool, &self.trigger];
        Value::Object(FILTERS.iter().zip(v).filter_map(|(k, v)| Some((k.to_string(), json!(v.as_ref()?)))).collect())
    }

    /// A filter on what a session is (channel, tool, trigger): the figures must then come from
    /// the selected sessions' own cells, not from the index's cells per model and agent.
    fn session_level(&self) -> bool {
        self.channel.is_some() || self.tool.is_some() || self.trigger.is_some()
    }

    fn model_ok(&self, model: &str) -> bool {
        self.model.as_deref().is_none_or(|m| m == model)
            && self.provider.as_deref().is_none_or(|p| p == spend::provider(model))
    }
}

impl Range {
    /// The epoch hours of the range: `[h0, h1)`.
    fn hours(&self) -> (u32, u32) {
        ((self.from.max(0) / 3_600_000) as u32, ((self.to.max(0) + 3_599_999) / 3_600_000) as u32)
    }

    /// `[from, to)` as one bucket, no filter (for `/metrics`).
    pub fn between(from: i64, to: i64) -> Range {
        Range { from, to, step: "day", starts: vec![from], filter: Filter::default() }
    }

    /// The bucket holding `t` (ms).
    fn bucket(&self, t: i64) -> Option<usize> {
        crate::tz::bucket_of(&self.starts, t)
    }
}

fn range(req: &Req, now: i64) -> Result<Range, ApiError> {
    let t = |k: &str, default: i64| match req.q(k) {
        None => Ok(default),
        Some(v) => timefmt::parse_user_time(v).ok_or_else(|| {
            ApiError::bad_request(format!("{k}={v:?}: use epoch ms, YYYY-MM-DD or an ISO time between 1970 and 9999"))
        }),
    };
    let to = t("to", now)?;
    let z = crate::tz::zone();
    let from = t("from", z.add_days(now, -29))?;
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let (step, step_ms) = match req.q("step").unwrap_or("day") {
        "hour" | "1h" => ("hour", 3_600_000),
        "day" | "1d" => ("day", 86_400_000),
        s => return Err(ApiError::bad_request(format!("step={s:?}: use hour or day"))),
    };
    let too_long = || ApiError::bad_request("range too long for this step: at most 20000 buckets");
    if to.checked_sub(from).is_none_or(|span| span / step_ms > 20_000) {
        return Err(too_long());
    }
    // Days are the user's (local midnights; a DST day is 23 or 25 hours), hours epoch hours.
    let starts = if step == "day" {
        z.day_buckets(from, to, 1, 20_001).filter(|b| b.len() <= 20_000).ok_or_else(too_long)?
    } else {
        let first = from.div_euclid(step_ms) * step_ms;
        (0..(to - first + step_ms - 1) / step_ms).map(|i| first + i * step_ms).collect()
    };
    Ok(Range { from, to, step, starts, filter: Filter::parse(req)? })
}

/// Cron jobs by id, as [`spend::trigger`] names them; read from OpenClaw's store at most every
/// 10 s (a job is renamed rarely, and the read is a database open). Call it before taking the
/// index's lock: no lock is held while the store is read.
pub fn cron_jobs(ctx: &Ctx) -> std::sync::Arc<HashMap<String, CronJob>> {
    type Jobs = Option<(std::time::Instant, std::sync::Arc<HashMap<String, CronJob>>)>;
    static JOBS: Mutex<Jobs> = Mutex::new(None);
    if let Some((at, jobs)) = crate::sync::lock(&JOBS).as_ref() {
        if at.elapsed() < std::time::Duration::from_secs(10) {
            return jobs.clone();
        }
    }
    let (db, file) = {
        let st = ctx.index.read();
        (st.install.state_db.clone(), st.install.cron_jobs_file.clone())
    };
    let store = match (&db, &file) {
        (Some(db), _) => crate::sources::crons::read_state_db(db, 0),
        (None, Some(f)) => crate::sources::crons::read_legacy(f, 0),
        _ => Ok(Default::default()),
    };
    let jobs: HashMap<String, CronJob> =
        store.map(|s| s.jobs.iter().filter_map(CronJob::of).collect()).unwrap_or_default();
    let jobs = std::sync::Arc::new(jobs);
    *crate::sync::lock(&JOBS) = Some((std::time::Instant::now(), jobs.clone()));
    jobs
}

/// The trigger of a session (`crate::spend::trigger`).
pub fn trigger_of<'a>(s: &'a Session, jobs: &'a HashMap<String, CronJob>) -> Trigger<'a> {
    spend::trigger(s.kind(), s.meta.key.as_deref(), s.meta.channel.as_deref(), &|id| jobs.get(id))
}

/// A session the filters keep, with its trigger and its hourly cells inside the range that
/// the model filters keep.
pub struct Selected<'a> {
    pub session: &'a Session,
    pub trigger: Trigger<'a>,
    pub usage: Usage,
    pub calls: u64,
}

impl<'a> Selected<'a> {
    /// The share of the session's cost that the selection holds (the proration of the
    /// per-session figures that have no time: tool and heartbeat costs).
    pub fn share(&self) -> f64 {
        let all = self.session.tally.usage.cost;
        if all > 0.0 {
            (self.usage.cost / all).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
    /// The session's cells in the range that the model filters keep.
    pub fn cells<'r>(&self, r: &'r Range) -> impl Iterator<Item = &'a HourUsage> + 'r
    where
        'a: 'r,
    {
        let s: &'a Session = self.session;
        let (h0, h1) = r.hours();
        s.tally.hourly.iter().filter(move |h| {
            h.hour >= h0 && h.hour < h1 && r.filter.model_ok(s.tally.models.get(h.model as usize).map_or("?", |m| &**m))
        })
    }
}

/// Visits the cells of the selection: (epoch hour, model id in `st.models`, agent index in
/// `st.agents`, usage, calls). From the index's cells per model and agent unless a filter
/// needs the sessions' own (`Filter::session_level`): the index's are far fewer.
pub fn each_cell(st: &State, r: &Range, sel: &[Selected], mut f: impl FnMut(u32, u32, u16, &Usage, u64)) {
    let fl = &r.filter;
    if fl.session_level() {
        for x in sel {
            let s: &Session = x.session;
            let ids: Vec<u32> = s.tally.models.iter().map(|m| st.models.find(m).unwrap_or(u32::MAX)).collect();
            let ai = st.agents.iter().position(|a| *a == s.agent).map_or(u16::MAX, |i| i as u16);
            for h in x.cells(r) {
                f(h.hour, ids.get(h.model as usize).copied().unwrap_or(u32::MAX), ai, &h.usage, h.calls as u64);
            }
        }
        return;
    }
    let (h0, h1) = r.hours();
    let agent_ix = fl.agent.as_ref().map(|a| st.agents.iter().position(|x| &**x == a.as_str()));
    let agent_ok: Vec<bool> = st
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            agent_ix.is_none_or(|w| w == Some(i)) && fl.profile.as_deref().is_none_or(|p| p == st.profile_of(a))
        })
        .collect();
    let mut model_ok: HashMap<u32, bool> = HashMap::default();
    for (&(h, m, a), c) in st.hourly.range((h0, 0, 0)..(h1, 0, 0)) {
        if !agent_ok.get(a as usize).copied().unwrap_or(false)
            || !*model_ok.entry(m).or_insert_with(|| fl.model_ok(st.models.name(m)))
        {
            continue;
        }
        f(h, m, a, &c.usage, c.calls);
    }
}

/// The values each filter can take in the range (under the agent and profile filters only), so
/// that a filtered view still offers the others.
#[derive(Default)]
pub struct Choices<'a> {
    model: std::collections::BTreeSet<&'a str>,
    provider: std::collections::BTreeSet<&'a str>,
    channel: std::collections::BTreeSet<&'a str>,
    tool: std::collections::BTreeSet<&'a str>,
    trigger: std::collections::BTreeSet<Trigger<'a>>,
}

impl<'a> Choices<'a> {
    fn add(&mut self, s: &'a Session, trigger: Trigger<'a>) {
        for m in &s.tally.models {
            self.model.insert(m);
            self.provider.insert(spend::provider(m));
        }
        self.channel.extend(spend::channel(s.meta.key.as_deref(), s.meta.channel.as_deref()));
        self.tool.extend(s.tally.tools.with_cost().map(|t| t.0));
        if s.tally.heartbeat_cost > 0.0 {
            self.trigger.insert(Trigger::Heartbeat);
        }
        self.trigger.insert(trigger);
    }
    fn to_json(&self) -> Value {
        let mut triggers: Vec<String> = self.trigger.iter().map(Trigger::to_string).collect();
        triggers.sort();
        json!({"model": self.model, "provider": self.provider, "channel": self.channel, "tool": self.tool,
            "trigger": triggers})
    }
}

/// The sessions with usage in the range that the filters keep; `choices` collects what the
/// sessions in the range under the agent and profile filters offer.
pub fn select<'a>(
    st: &'a State,
    r: &Range,
    jobs: &'a HashMap<String, CronJob>,
    mut choices: Option<&mut Choices<'a>>,
) -> Vec<Selected<'a>> {
    let f = &r.filter;
    let (h0, h1) = r.hours();
    let in_range = |h: &HourUsage| h.hour >= h0 && h.hour < h1;
    let mut out = Vec::new();
    for s in st.sessions.values() {
        if f.agent.as_deref().is_some_and(|a| a != &*s.agent)
            || f.profile.as_deref().is_some_and(|p| p != st.profile_of(&s.agent))
            || !s.tally.hourly.iter().any(in_range)
        {
            continue;
        }
        let trigger = trigger_of(s, jobs);
        if let Some(c) = choices.as_deref_mut() {
            c.add(s, trigger);
        }
        // `heartbeat` also keeps the conversations the heartbeat ran in (whole sessions: their
        // heartbeat turns have no hourly cells of their own).
        let heartbeat_in = |t: &str| t == "heartbeat" && s.tally.heartbeat_cost > 0.0;
        if f.trigger.as_deref().is_some_and(|t| !trigger.is(t) && !heartbeat_in(t))
            || f.tool.as_deref().is_some_and(|t| s.tally.tools.get(t).is_none())
            || f.channel
                .as_deref()
                .is_some_and(|c| spend::channel(s.meta.key.as_deref(), s.meta.channel.as_deref()) != Some(c))
        {
            continue;
        }
        let models = &s.tally.models;
        let mut usage = Usage::default();
        let mut calls = 0u64;
        for h in s.tally.hourly.iter().filter(|h| in_range(h)) {
            if f.model.is_none() && f.provider.is_none()
                || f.model_ok(models.get(h.model as usize).map_or("?", |m| &**m))
            {
                usage.add(&h.usage);
                calls += h.calls as u64;
            }
        }
        if calls == 0 {
            continue;
        }
        out.push(Selected { session: s, trigger, usage, calls });
    }
    out
}

fn add(map_cell: &mut Cell, u: &Usage, calls: u64) {
    map_cell.usage.add(u);
    map_cell.calls += calls;
}

/// Cost and sessions of one row of a breakdown.
#[derive(Default, Clone, Copy)]
pub struct Part {
    pub cost: f64,
    pub sessions: u64,
}

/// Cost by trigger: each session's trigger, except the heartbeat turns of a conversation,
/// which move to `heartbeat` (prorated like the tools, see [`Selected::share`]).
pub fn by_trigger<'a>(sel: &[Selected<'a>]) -> HashMap<Trigger<'a>, Part> {
    let mut m: HashMap<Trigger, Part> = HashMap::default();
    for x in sel {
        let hb = match x.trigger {
            Trigger::Message(_) => x.session.tally.heartbeat_cost * x.share(),
            _ => 0.0,
        };
        let p = m.entry(x.trigger).or_default();
        p.cost += x.usage.cost - hb;
        p.sessions += 1;
        if hb > 0.0 {
            let p = m.entry(Trigger::Heartbeat).or_default();
            p.cost += hb;
            p.sessions += 1;
        }
    }
    m
}

/// Rows of a breakdown, the most expensive first, `name` under `field`.
fn part_rows<K: std::fmt::Display>(m: HashMap<K, Part>, field: &str) -> Vec<Value> {
    let mut rows: Vec<(String, Part)> = m.into_iter().map(|(k, p)| (k.to_string(), p)).collect();
    rows.sort_by(|a, b| b.1.cost.total_cmp(&a.1.cost).then_with(|| a.0.cmp(&b.0)));
    rows.into_iter().map(|(k, p)| json!({field: k, "cost": round_cost(p.cost), "sessions": p.sessions})).collect()
}

pub fn get(req: &Req, ctx: &Ctx) -> Answer {
    let r = range(req, ctx.index.now_ms())?;
    let jobs = cron_jobs(ctx);
    let st = ctx.index.read();
    // Unfiltered (but for agent and profile), the choices are what the answer holds: no second
    // look at every session.
    let f = &r.filter;
    let narrowed = [&f.model, &f.provider, &f.channel, &f.tool, &f.trigger].iter().any(|x| x.is_some());
    let mut choices = Choices::default();
    let mut sel = select(&st, &r, &jobs, if narrowed { Some(&mut choices) } else { None });
    // Dense rows: a slot per model and a bucket per step.
    let buckets = r.starts.len();
    // Per model id: its cell and its cost per bucket.
    let mut models: HashMap<u32, (Cell, Vec<f64>)> = HashMap::default();
    let mut series: Vec<Cell> = vec![Cell::default(); buckets];
    let mut by_agent: HashMap<u16, Cell> = HashMap::default();
    each_cell(&st, &r, &sel, |hour, m, a, u, calls| {
        let idx = r.bucket(hour as i64 * 3_600_000).unwrap_or(usize::MAX);
        let e = models.entry(m).or_insert_with(|| (Cell::default(), vec![0.0; buckets]));
        add(&mut e.0, u, calls);
        add(by_agent.entry(a).or_default(), u, calls);
        if let (Some(c), Some(v)) = (series.get_mut(idx), e.1.get_mut(idx)) {
            add(c, u, calls);
            *v += u.cost;
        }
    });
    let mut total = Cell::default();
    let mut by_tool: HashMap<&str, Part> = HashMap::default();
    let mut groups: HashMap<(&str, Trigger), Vec<f64>> = HashMap::default();
    for x in &sel {
        let s: &Session = x.session;
        add(&mut total, &x.usage, x.calls);
        let share = x.share();
        for (tool, _, cost) in s.tally.tools.with_cost() {
            let p = by_tool.entry(tool).or_default();
            p.cost += cost * share;
            p.sessions += 1;
        }
        groups.entry((&*s.agent, x.trigger)).or_default().push(x.usage.cost);
    }
    let mut by_model: HashMap<&str, Cell> = HashMap::default();
    let mut by_provider: HashMap<&str, Cell> = HashMap::default();
    for (m, (c, _)) in &models {
        let name = st.models.name(*m);
        add(by_model.entry(name).or_default(), &c.usage, c.calls);
        add(by_provider.entry(spend::provider(name)).or_default(), &c.usage, c.calls);
    }
    let by_agent: HashMap<&str, Cell> =
        by_agent.into_iter().map(|(a, c)| (st.agents.get(a as usize).map_or("?", |n| &**n), c)).collect();
    let triggers = by_trigger(&sel);
    if !narrowed {
        choices.model.extend(by_model.keys());
        choices.provider.extend(by_provider.keys());
        choices.tool.extend(by_tool.keys());
        choices.trigger.extend(triggers.keys());
        for x in &sel {
            let s: &Session = x.session;
            choices.channel.extend(spend::channel(s.meta.key.as_deref(), s.meta.channel.as_deref()));
        }
    }
    let medians: HashMap<(&str, Trigger), (f64, usize)> =
        groups.into_iter().map(|(k, mut v)| (k, (spend::median(&mut v).unwrap_or(0.0), v.len()))).collect();

    let order = |a: &Selected, b: &Selected| {
        b.usage.cost.total_cmp(&a.usage.cost).then_with(|| a.session.id.cmp(&b.session.id))
    };
    let sessions_total = sel.len();
    super::top_n(&mut sel, SESSIONS_SHOWN, order);
    let session_row = |x: &Selected| {
        let s = x.session;
        let mut j = usage_json(&x.usage, x.calls);
        j["id"] = json!(s.id);
        j["agent"] = json!(s.agent);
        j["profile"] = json!(st.profile_of(&s.agent));
        j["label"] = json!(s.meta.label.as_deref().or(s.meta.key.as_deref()));
        j["trigger"] = json!(x.trigger.to_string());
        j
    };
    let top_runs: Vec<Value> = sel
        .iter()
        .take(TOP_RUNS)
        .map(|x| {
            let (median, n) = medians.get(&(&*x.session.agent, x.trigger)).copied().unwrap_or((0.0, 0));
            let mut j = session_row(x);
            j["similarRuns"] = json!(n);
            j["medianCost"] = json!(round_cost(median));
            j["timesMedian"] = json!(spend::times_median(x.usage.cost, median, n).map(|t| (t * 1e4).round() / 1e4));
            j
        })
        .collect();
    let cell_rows = |v: HashMap<&str, Cell>, field: &str| {
        let mut rows: Vec<(&str, Cell)> = v.into_iter().collect();
        rows.sort_by(|a, b| b.1.usage.cost.total_cmp(&a.1.usage.cost).then_with(|| a.0.cmp(b.0)));
        rows.into_iter()
            .map(|(k, c)| {
                let mut j = usage_json(&c.usage, c.calls);
                j[field] = json!(k);
                j
            })
            .collect::<Vec<_>>()
    };
    // A dense series: one point per bucket, zeros included, so charts need no gap filling.
    let points: Vec<Value> = series
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut j = usage_json(&c.usage, c.calls);
            j["t"] = json!(r.starts[i]);
            j
        })
        .collect();
    let per_model: BTreeMap<&str, Vec<f64>> =
        models.into_iter().filter(|m| m.1 .0.calls > 0).map(|(m, (_, v))| (st.models.name(m), v)).collect();
    let f = &r.filter;
    let v = json!({
        "from": r.from, "to": r.to, "step": r.step, "tz": super::tz_json(r.to), "agent": f.agent, "profile": f.profile,
        "filters": f.to_json(),
        "choices": choices.to_json(),
        "totals": usage_json(&total.usage, total.calls),
        "byModel": cell_rows(by_model, "model"),
        "byProvider": cell_rows(by_provider, "provider"),
        "byAgent": cell_rows(by_agent, "agent"),
        "byTrigger": part_rows(triggers, "trigger"),
        "byTool": part_rows(by_tool, "tool"),
        "rules": {"byTool": TOOL_RULE, "byTrigger": TRIGGER_RULE, "topRuns": RUNS_RULE},
        "topRuns": top_runs,
        "bySession": sel.iter().map(session_row).collect::<Vec<_>>(),
        "sessionsWithUsage": sessions_total,
        "series": points,
        "costByModel": per_model,
    });
    drop(st);
    Ok(Resp::json(&v))
}

pub const TOOL_RULE: &str = "a tool's cost is the cost of the model calls of every turn (a user message and what \
     it set off, up to the next one) in which the tool was called at least once; a turn that used several tools \
     counts for each, so the rows overlap; a session only partly inside the selection counts with the share of its \
     cost that is inside";
pub const TRIGGER_RULE: &str = "cron:<job> a cron run, heartbeat the heartbeat's cron runs and the heartbeat turns of \
     a conversation, subagent a sub-agent run, message:<channel> a conversation by channel, otlp telemetry";
pub const RUNS_RULE: &str = "a run is a session; timesMedian = its cost in the selection over the median cost of the \
     selected runs of the same agent and trigger (itself included), null when it is the only one or the median is 0";

/// One row per (bucket, model, agent) with usage in the range, under the same filters.
pub fn csv(req: &Req, ctx: &Ctx) -> Answer {
    let r = range(req, ctx.index.now_ms())?;
    let jobs = cron_jobs(ctx);
    let st = ctx.index.read();
    let sel = if r.filter.session_level() { select(&st, &r, &jobs, None) } else { Vec::new() };
    let mut rows: BTreeMap<(i64, u32, u16), Cell> = BTreeMap::new();
    each_cell(&st, &r, &sel, |hour, m, a, u, calls| {
        if let Some(i) = r.bucket(hour as i64 * 3_600_000) {
            add(rows.entry((r.starts[i], m, a)).or_default(), u, calls);
        }
    });
    let mut rows: Vec<((i64, &str, &str), Cell)> = rows
        .into_iter()
        .map(|((t, m, a), c)| ((t, st.models.name(m), st.agents.get(a as usize).map_or("?", |n| &**n)), c))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let z = crate::tz::zone();
    let mut out = String::from("period_start,model,agent,calls,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,total_tokens,cost_usd\n");
    for ((t, model, agent), c) in rows {
        let u = &c.usage;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{:.9}\n",
            z.iso(t),
            csv_field(model),
            csv_field(agent),
            c.calls,
            u.input,
            u.output,
            u.cache_read,
            u.cache_write,
            u.reasoning,
            u.total_tokens(),
            u.cost
        ));
    }
    let name = format!("clawmetry-usage-{}-{}.csv", z.date(r.from), z.date(r.to));
    Ok(Resp {
        status: 200,
        content_type: "text/csv; charset=utf-8",
        body: out.into_bytes(),
        headers: vec![
            ("Content-Disposition", format!("attachment; filename=\"{name}\"")),
            ("Cache-Control", "no-store".into()),
        ],
    })
}

/// Quotes a CSV field when needed; a leading formula character is neutralised so that a
/// spreadsheet never evaluates a model name.
pub(super) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a/b"), "a/b");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd"), "'=cmd");
        assert_eq!(csv_field("x\"y"), "\"x\"\"y\"");
    }
}
