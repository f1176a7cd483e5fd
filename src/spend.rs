//! Where the money goes, and when it goes unusually fast: what set a session off (its
//! *trigger*), the model provider of a model, a run's cost against the median of similar runs,
//! a session's cost with its sub-agent tree, and an hour's cost or tokens against a robust
//! baseline (median and MAD) of the same hour on the previous days. Pure functions, fed from the
//! index by `api/usage.rs`, `api/sessions.rs`, `api/insight.rs`, `/metrics` and the monitor.
//! Not here: reading anything, or the by-tool rule (a turn's cost is counted as the lines are
//! added up, `model::Turn`).

use foldhash::HashSet;

/// What set a session off, as the API names it:
/// - `cron:<job name>`: a run of a cron job (`…:cron:<job id>` keys; the id when the job is
///   not known); a job the heartbeat declares (`heartbeat-*`, `declarationKey` `heartbeat:…`)
///   is `heartbeat`;
/// - `heartbeat`: also the heartbeat turns inside a main session (see `model::is_heartbeat_text`;
///   the callers move their cost there);
/// - `subagent`: a sub-agent run;
/// - `message:<channel>`: a direct or channel conversation, by the session's channel (the
///   session index's `channel`, else the channel in a `agent:<a>:<channel>:<direct|group|
///   channel|dm|thread>:…` key, else `direct`);
/// - `otlp`: telemetry received over OTLP (no transcript says more).
pub fn trigger<'a>(
    kind: &str,
    key: Option<&'a str>,
    channel: Option<&'a str>,
    cron: &dyn Fn(&str) -> Option<&'a CronJob>,
) -> Trigger<'a> {
    match kind {
        "subagent" => Trigger::Subagent,
        "otlp" => Trigger::Otlp,
        "cron" => {
            let id = key.and_then(cron_job_id).unwrap_or("?");
            match cron(id) {
                Some(j) if j.heartbeat => Trigger::Heartbeat,
                Some(j) => Trigger::Cron(&j.name),
                None => Trigger::Cron(id),
            }
        }
        _ => Trigger::Message(self::channel(key, channel).unwrap_or("direct")),
    }
}

/// A trigger ([`trigger`]), borrowed from the session and the cron jobs: no allocation per
/// session; shown as `cron:<name>`, `heartbeat`, `subagent`, `message:<channel>`, `otlp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger<'a> {
    Cron(&'a str),
    Heartbeat,
    Subagent,
    Message(&'a str),
    Otlp,
}

impl Trigger<'_> {
    /// Whether this is the trigger the API names `name`.
    pub fn is(&self, name: &str) -> bool {
        match self {
            Trigger::Cron(j) => name.strip_prefix("cron:") == Some(j),
            Trigger::Message(c) => name.strip_prefix("message:") == Some(c),
            Trigger::Heartbeat => name == "heartbeat",
            Trigger::Subagent => name == "subagent",
            Trigger::Otlp => name == "otlp",
        }
    }
}

impl std::fmt::Display for Trigger<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Cron(j) => write!(f, "cron:{j}"),
            Trigger::Message(c) => write!(f, "message:{c}"),
            Trigger::Heartbeat => f.write_str("heartbeat"),
            Trigger::Subagent => f.write_str("subagent"),
            Trigger::Otlp => f.write_str("otlp"),
        }
    }
}

/// A session's channel: the session index's, else the one its key names.
pub fn channel<'a>(key: Option<&'a str>, channel: Option<&'a str>) -> Option<&'a str> {
    channel.filter(|c| !c.is_empty()).or_else(|| key.and_then(key_channel))
}

/// A cron job as [`trigger`] needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CronJob {
    pub name: String,
    pub heartbeat: bool,
}

impl CronJob {
    /// From a job as OpenClaw stores it (`cron_jobs.job_json`, `cron/jobs.json`).
    pub fn of(j: &serde_json::Value) -> Option<(String, CronJob)> {
        let id = j["id"].as_str()?.to_string();
        let name = j["name"].as_str().or(j["displayName"].as_str()).unwrap_or(&id).to_string();
        let heartbeat =
            name.starts_with("heartbeat") || j["declarationKey"].as_str().is_some_and(|k| k.starts_with("heartbeat:"));
        Some((id, CronJob { name, heartbeat }))
    }
}

/// The job id in `agent:<a>:cron:<job id>[:run:<run id>]`.
pub fn cron_job_id(key: &str) -> Option<&str> {
    let rest = &key[key.find(":cron:")? + 6..];
    Some(rest.split(':').next().unwrap_or(rest)).filter(|s| !s.is_empty())
}

/// The channel in `agent:<a>:<channel>:<direct|dm|group|channel|thread>:<peer>`.
fn key_channel(key: &str) -> Option<&str> {
    let mut p = key.splitn(5, ':');
    let (agent, _, channel, peer, rest) = (p.next()?, p.next()?, p.next()?, p.next()?, p.next()?);
    (agent == "agent" && !rest.is_empty() && matches!(peer, "direct" | "dm" | "group" | "channel" | "thread"))
        .then_some(channel)
}

/// The provider of `provider/model` (the part before the first `/`), else `unknown`.
pub fn provider(model: &str) -> &str {
    match model.split_once('/') {
        Some((p, _)) if !p.is_empty() => p,
        _ => "unknown",
    }
}

/// The median of `xs` (sorted in place); None when empty.
pub fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

/// A run's cost against the runs like it: `times` = cost ÷ median of the group's costs (the
/// run included); None when the group has no other run or its median is 0.
pub fn times_median(cost: f64, median: f64, group_size: usize) -> Option<f64> {
    (group_size > 1 && median > 0.0).then(|| cost / median)
}

/// A session's cost with its sub-agent tree: its own plus every descendant's, each counted
/// once (a cycle or a child reached twice adds nothing more). `children` gives a session's
/// direct children; returns (cost, sessions in the tree, root included).
pub fn tree_cost<'a>(
    root: &'a str,
    own: &dyn Fn(&str) -> f64,
    children: &dyn Fn(&str) -> Vec<&'a str>,
) -> (f64, usize) {
    let mut seen: HashSet<&str> = HashSet::default();
    let mut stack = vec![root];
    let mut cost = 0.0;
    while let Some(s) = stack.pop() {
        if !seen.insert(s) {
            continue;
        }
        cost += own(s);
        stack.extend(children(s));
    }
    (cost, seen.len())
}

/// How an hour compares with the same hour on the previous days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// Above this the hour is anomalous: median + max(K × 1.4826 × MAD, floor).
    pub threshold: f64,
}

/// Robust z-score bound: 1.4826 × MAD estimates a standard deviation for normal data, and an
/// hour more than 4 of those above the median is unusual.
pub const ANOMALY_K: f64 = 4.0;
/// Days of the rolling baseline.
pub const BASELINE_DAYS: usize = 7;
pub const ANOMALY_METHOD: &str = "an hour is anomalous when its value exceeds the median of the same local hour on \
     the 7 previous days by more than max(4 × 1.4826 × MAD, floor); MAD = median absolute deviation; hours without usage \
     count as 0; the floor (USD 1 for cost, 200,000 tokens) keeps small amounts from alarming";
pub const COST_FLOOR_USD: f64 = 1.0;
pub const TOKEN_FLOOR: f64 = 200_000.0;

/// The baseline of `history` (the same hour on each previous day, zeros included); None when
/// there is no history at all.
pub fn baseline(history: &[f64], floor: f64) -> Option<Baseline> {
    let mut h = history.to_vec();
    let m = median(&mut h)?;
    let mut dev: Vec<f64> = history.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev).unwrap_or(0.0);
    Some(Baseline { median: m, mad, threshold: m + (ANOMALY_K * 1.4826 * mad).max(floor) })
}

/// One figure of an hour against its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub value: f64,
    /// None when fewer than [`MIN_BASELINE_DAYS`] previous days are covered by the index.
    pub baseline: Option<Baseline>,
    pub anomalous: bool,
}

/// Previous days the index must cover before an hour is judged at all (a fresh install has no
/// normal yet).
pub const MIN_BASELINE_DAYS: usize = 3;

pub fn check(value: f64, history: &[f64], floor: f64) -> Check {
    let baseline = if history.len() >= MIN_BASELINE_DAYS { baseline(history, floor) } else { None };
    Check { value, baseline, anomalous: baseline.is_some_and(|b| value > b.threshold) }
}

/// An hour's cost and tokens against the same hour on the previous days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourCheck {
    /// Epoch hour.
    pub hour: u32,
    /// The current hour, not over yet (it can only grow: an anomaly already counts).
    pub partial: bool,
    pub cost: Check,
    pub tokens: Check,
}

/// The last `hours` hours up to `now_hour` (included, partial) against the same hour on each
/// of the [`BASELINE_DAYS`] days before, from `usage(hour)` = (cost, tokens); days before
/// `first_hour` (the index's first usage) are not part of the history.
pub fn hour_checks(
    z: &crate::tz::Zone,
    usage: &dyn Fn(u32) -> (f64, f64),
    now_hour: u32,
    hours: u32,
    first_hour: u32,
) -> Vec<HourCheck> {
    (0..hours.min(now_hour + 1))
        .rev()
        .map(|back| {
            let h = now_hour - back;
            let days = (1..=BASELINE_DAYS as u32).filter_map(|d| same_local_hour(z, h, d)).filter(|&p| p >= first_hour);
            let (cost_h, tok_h): (Vec<f64>, Vec<f64>) = days.map(usage).unzip();
            let (cost, tokens) = usage(h);
            HourCheck {
                hour: h,
                partial: back == 0,
                cost: check(cost, &cost_h, COST_FLOOR_USD),
                tokens: check(tokens, &tok_h, TOKEN_FLOOR),
            }
        })
        .collect()
}

/// The epoch hour at the same local wall-clock time as hour `h`, `days` local days before: 24
/// hours a day back, one more or less across a DST change (23:00–24:00 local stays that, not
/// 22:00 or 00:00). None before 1970.
pub fn same_local_hour(z: &crate::tz::Zone, h: u32, days: u32) -> Option<u32> {
    const HOUR: i64 = 3_600_000;
    let t = h as i64 * HOUR;
    let guess = t - days as i64 * 24 * HOUR;
    let at = guess + (z.offset_s(t) - z.offset_s(guess)) * 1000;
    u32::try_from(at.div_euclid(HOUR)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cron(_: &str) -> Option<&'static CronJob> {
        None
    }

    fn trigger<'a>(
        kind: &str,
        key: Option<&'a str>,
        channel: Option<&'a str>,
        cron: &dyn Fn(&str) -> Option<&'a CronJob>,
    ) -> String {
        let t = super::trigger(kind, key, channel, cron);
        assert!(t.is(&t.to_string()), "{t} names itself");
        t.to_string()
    }

    #[test]
    fn triggers_from_kind_key_and_channel() {
        static J1: std::sync::LazyLock<CronJob> =
            std::sync::LazyLock::new(|| CronJob { name: "nightly".into(), heartbeat: false });
        static HB: std::sync::LazyLock<CronJob> =
            std::sync::LazyLock::new(|| CronJob { name: "heartbeat-main".into(), heartbeat: true });
        let jobs = |id: &str| match id {
            "j1" => Some(&*J1),
            "hb" => Some(&*HB),
            _ => None,
        };
        assert_eq!(trigger("cron", Some("agent:main:cron:j1"), None, &jobs), "cron:nightly");
        assert_eq!(trigger("cron", Some("agent:main:cron:j1:run:r9"), None, &jobs), "cron:nightly");
        assert_eq!(trigger("cron", Some("agent:main:cron:hb"), None, &jobs), "heartbeat");
        assert_eq!(trigger("cron", Some("agent:main:cron:gone"), None, &jobs), "cron:gone");
        assert_eq!(trigger("subagent", Some("agent:main:subagent:x"), Some("telegram"), &no_cron), "subagent");
        assert_eq!(trigger("main", Some("agent:main:main"), Some("telegram"), &no_cron), "message:telegram");
        assert_eq!(trigger("chat", Some("agent:main:discord:channel:42"), None, &no_cron), "message:discord");
        assert_eq!(trigger("main", Some("agent:main:main"), None, &no_cron), "message:direct");
        assert_eq!(trigger("main", None, Some(""), &no_cron), "message:direct");
        assert_eq!(trigger("otlp", None, None, &no_cron), "otlp");
        assert_eq!(trigger("chat", Some("agent:main:discord:channel:"), None, &no_cron), "message:direct");
        let t = super::trigger("chat", Some("agent:main:discord:channel:42"), None, &no_cron);
        assert!(!t.is("message:discor") && !t.is("cron:discord") && !t.is("subagent"));
    }

    #[test]
    fn providers() {
        assert_eq!(provider("anthropic/claude-x"), "anthropic");
        assert_eq!(provider("openrouter/meta/llama"), "openrouter");
        assert_eq!(provider("gpt-5"), "unknown");
        assert_eq!(provider("/x"), "unknown");
    }

    #[test]
    fn median_and_times_median() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        // Runs of one agent and trigger cost 1, 2, 2, 10: median 2, the 10 is 5×.
        let mut g = [1.0, 2.0, 2.0, 10.0];
        let m = median(&mut g).unwrap();
        assert_eq!(m, 2.0);
        assert_eq!(times_median(10.0, m, 4), Some(5.0));
        assert_eq!(times_median(10.0, 10.0, 1), None, "a run alone has nothing to compare with");
        assert_eq!(times_median(1.0, 0.0, 3), None, "free runs have no ratio");
    }

    #[test]
    fn tree_cost_counts_each_descendant_once() {
        let own = |s: &str| match s {
            "root" => 1.0,
            "a" => 0.5,
            "b" => 0.25,
            "a1" => 2.0,
            _ => 100.0,
        };
        let mut ch: foldhash::HashMap<&str, Vec<&str>> = Default::default();
        ch.insert("root", vec!["a", "b"]);
        ch.insert("a", vec!["a1", "root"]); // a cycle back to the root adds nothing
        ch.insert("b", vec!["a1"]); // reached twice, counted once
        let children = |s: &str| ch.get(s).cloned().unwrap_or_default();
        assert_eq!(tree_cost("root", &own, &children), (3.75, 4));
        assert_eq!(tree_cost("b", &own, &children), (2.25, 2));
        assert_eq!(tree_cost("lonely", &own, &children), (100.0, 1));
    }

    #[test]
    fn baseline_median_mad_and_floor() {
        assert_eq!(baseline(&[], 1.0), None);
        // Same hour on 7 days: 2, 3, 3, 4, 5, 3, 2 → sorted 2 2 3 3 3 4 5, median 3;
        // deviations 1 0 0 1 2 0 1 → sorted 0 0 0 1 1 1 2, MAD 1;
        // threshold 3 + max(4 × 1.4826 × 1, 1) = 8.9304.
        let b = baseline(&[2.0, 3.0, 3.0, 4.0, 5.0, 3.0, 2.0], 1.0).unwrap();
        assert_eq!((b.median, b.mad), (3.0, 1.0));
        assert!((b.threshold - 8.9304).abs() < 1e-9);
        // A flat history of cents: MAD 0, so the floor decides — 3 cents more never alarm.
        let b = baseline(&[0.02; 7], COST_FLOOR_USD).unwrap();
        assert_eq!(b.mad, 0.0);
        assert!((b.threshold - 1.02).abs() < 1e-12);
        assert!(0.05 < b.threshold);
        // Mostly idle hours: median 0, MAD 0 → floor.
        let b = baseline(&[0.0, 0.0, 0.0, 0.0, 0.0, 7.0, 9.0], COST_FLOOR_USD).unwrap();
        assert_eq!((b.median, b.mad, b.threshold), (0.0, 0.0, 1.0));
    }

    #[test]
    fn hours_against_the_same_hour_of_previous_days() {
        // Hour 1000 and its predecessors at 24 h steps: 976, 952, ..., 832.
        // Usage: USD 0.50 at that hour on each previous day (and 10,000 tokens), USD 6 now.
        let usage = |h: u32| match h {
            1000 => (6.0, 10_000.0),
            h if h < 1000 && (1000 - h) % 24 == 0 => (0.5, 10_000.0),
            _ => (0.0, 0.0),
        };
        let c = hour_checks(&crate::tz::Zone::utc(), &usage, 1000, 2, 0);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].hour, c[0].partial, c[1].hour, c[1].partial), (999, false, 1000, true));
        // Hour 1000: median 0.5, MAD 0 → threshold 0.5 + 1 (floor) = 1.5 < 6: anomalous.
        let b = c[1].cost.baseline.unwrap();
        assert_eq!((b.median, b.mad, b.threshold), (0.5, 0.0, 1.5));
        assert!(c[1].cost.anomalous);
        // Tokens as usual: 10,000 against 10,000 + 200,000.
        assert!(!c[1].tokens.anomalous);
        // Hour 999: 0 against 0: nothing.
        assert!(!c[0].cost.anomalous);
        // Only two previous days in the index: no judgement (a fresh install has no normal).
        let c = hour_checks(&crate::tz::Zone::utc(), &usage, 1000, 1, 1000 - 48);
        assert_eq!(c[0].cost.baseline, None);
        assert!(!c[0].cost.anomalous);
        // Exactly three: judged, median of 0.5 × 3.
        let c = hour_checks(&crate::tz::Zone::utc(), &usage, 1000, 1, 1000 - 72);
        assert!(c[0].cost.anomalous);
        // No data at all, hour 0: no history, nothing to say.
        let c = hour_checks(&crate::tz::Zone::utc(), &|_| (0.0, 0.0), 0, 24, 0);
        assert_eq!(c.len(), 1);
        assert!(!c[0].cost.anomalous && c[0].cost.baseline.is_none());
    }

    #[test]
    fn the_same_local_hour_across_a_dst_change() {
        let hour = |s: &str| (crate::timefmt::parse_iso_ms(s).unwrap() / 3_600_000) as u32;
        let berlin = crate::tz::load("Europe/Berlin").expect("tzdata: Europe/Berlin");
        // Monday 2026-10-26 11:00 CET (10:00 UTC). Sunday 11:00 was CET too (the change was at
        // 01:00 UTC): 24 h back; Saturday 11:00 was CEST (09:00 UTC): 49 h back.
        let h = hour("2026-10-26T10:00:00Z");
        assert_eq!(same_local_hour(&berlin, h, 1), Some(hour("2026-10-25T10:00:00Z")));
        assert_eq!(same_local_hour(&berlin, h, 2), Some(hour("2026-10-24T09:00:00Z")));
        assert_eq!(same_local_hour(&crate::tz::Zone::utc(), h, 2), Some(h - 48));
        assert_eq!(same_local_hour(&crate::tz::Zone::utc(), 10, 1), None);
        // The baseline of that hour reads those hours: USD 1 at 09:00 UTC each day before the
        // change (11:00 CEST) and at 10:00 UTC after it; USD 5 at 10:00 UTC on Saturday
        // (12:00 CEST, another hour). Median 1, not 5.
        let usage = |x: u32| {
            let sat_noon = hour("2026-10-24T10:00:00Z");
            if x == sat_noon {
                (5.0, 0.0)
            } else if x == hour("2026-10-25T10:00:00Z") || (x < sat_noon && (h - x - 1) % 24 == 0) {
                (1.0, 0.0)
            } else {
                (0.0, 0.0)
            }
        };
        let c = hour_checks(&berlin, &usage, h, 1, 0);
        assert_eq!(c[0].cost.baseline.unwrap().median, 1.0);
    }
}
