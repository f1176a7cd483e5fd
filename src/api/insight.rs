//! `GET /api/insight`: burn rates, comparison windows, the month-end projection, when each
//! budget limit is crossed at the current rate, and the prompt cache (hit rate, money saved,
//! write overhead) in total, per model, agent and session and per day. Optional `agent`. The
//! formulas and their methods in words are in `crate::insight`; this file only feeds them from
//! the index. Also [`month_gauges`], the figures `/metrics` exports.

use super::{Answer, Ctx};
use super::{Req, Resp};
use crate::insight::{self, first_hour, CacheFigures, Crossing, Spend, HOUR};
use crate::pricing::Price;
use crate::state::{round_cost, State};
use foldhash::HashMap;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Sessions listed in `cache.topSessions` (the most cache-read tokens first).
const TOP_SESSIONS: usize = 10;
/// Days of the cache's daily series and of its breakdowns (today included).
const CACHE_DAYS: i64 = 30;

fn money(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |v| json!(round_cost(v)))
}

fn cache_json(c: &CacheFigures) -> Value {
    json!({
        "input": c.input, "cacheRead": c.cache_read, "cacheWrite": c.cache_write,
        "hitRate": c.hit_rate(), "saved": money(c.saved), "writeOverhead": money(c.write_overhead),
        "unpricedCacheRead": c.unpriced_cache_read,
    })
}

/// The price of each model id, looked up once per answer.
struct Prices<'a> {
    st: &'a State,
    by_id: HashMap<u32, Option<Price>>,
    by_name: HashMap<&'a str, Option<Price>>,
}

impl<'a> Prices<'a> {
    fn new(st: &'a State) -> Self {
        Prices { st, by_id: HashMap::default(), by_name: HashMap::default() }
    }
    fn of_id(&mut self, m: u32) -> Option<Price> {
        let st = self.st;
        *self.by_id.entry(m).or_insert_with(|| st.prices.price(st.models.name(m)))
    }
    fn of_name(&mut self, name: &'a str) -> Option<Price> {
        let st = self.st;
        *self.by_name.entry(name).or_insert_with(|| st.prices.price(name))
    }
}

/// The agent index asked for: None = all agents; Some(None) = an agent the index has not seen.
fn agent_filter(st: &State, agent: Option<&str>) -> Option<Option<u16>> {
    agent.map(|a| st.agents.iter().position(|x| &**x == a).map(|i| i as u16))
}

/// This month's figures for `/metrics`: burn (USD/h over 1 h and 24 h), the projection, and
/// the cache's hit rate and savings this month.
pub struct MonthGauges {
    pub burn_1h: f64,
    pub burn_24h: f64,
    pub projected: f64,
    pub cache: CacheFigures,
}

pub fn month_gauges(st: &State, now: i64) -> MonthGauges {
    let z = crate::tz::zone();
    let month = z.month_start(now);
    let from = month.min(z.add_days(now, -7));
    let h_month = first_hour(month);
    let mut sp = Spend::default();
    let mut prices = Prices::new(st);
    let mut cache = CacheFigures::default();
    for (&(h, m, _), c) in st.hourly.range(((from.max(0) / HOUR) as u32, 0, 0)..) {
        sp.add(h, c.usage.cost);
        if h >= h_month {
            cache.add(&CacheFigures::of(&c.usage, prices.of_id(m)));
        }
    }
    MonthGauges {
        burn_1h: insight::burn(&sp, now, 1),
        burn_24h: insight::burn(&sp, now, 24),
        projected: insight::projection(z, &sp, now).projected,
        cache,
    }
}

/// Hours of `anomalies.hours` (the current one included).
const ANOMALY_HOURS: u32 = 24;

/// An hour's check as the API shows it.
pub fn hour_check_json(c: &crate::spend::HourCheck) -> Value {
    let one = |x: &crate::spend::Check, money: bool| {
        let r = |v: f64| if money { json!(round_cost(v)) } else { json!(v.round()) };
        json!({"value": r(x.value), "median": x.baseline.map(|b| r(b.median)), "mad": x.baseline.map(|b| r(b.mad)),
            "threshold": x.baseline.map(|b| r(b.threshold)), "anomalous": x.anomalous})
    };
    json!({"t": c.hour as i64 * HOUR, "partial": c.partial, "cost": one(&c.cost, true), "tokens": one(&c.tokens, false)})
}

/// The answer, cached like `/api/overview`; the budget limits are part of the cache key (a
/// change of limits does not change the index).
pub fn cached_get(req: &Req, ctx: &Ctx) -> Answer {
    let budget = ctx.monitor.config().budget;
    let key = budget.to_json().to_string();
    super::cache::cached_with(req, ctx, &key, || get(req, ctx, &budget))
}

fn get(req: &Req, ctx: &Ctx, budget: &crate::alerts::Budget) -> Answer {
    let now = ctx.index.now_ms();
    let agent = req.q("agent");
    let st = ctx.index.read();
    let want = agent_filter(&st, agent);
    let keep = |a: u16| want.is_none_or(|w| w == Some(a));

    let z = crate::tz::zone();
    let today = z.day_start(now);
    let month = z.month_start(now);
    let from = z.month_start(month - 1).min(z.add_days(now, -90)).min(z.add_days(z.week_start(now), -7));
    let cache_from = z.add_days(now, -(CACHE_DAYS - 1));
    let (h_month, h_cache) = (first_hour(month), first_hour(cache_from));

    // The agents whose own limits are shown, with their spend per hour.
    let limits = budget.limits();
    let mut agent_spend: HashMap<u16, Spend> = HashMap::default();
    for (scope, _, _) in &limits {
        if let Some(i) = scope.and_then(|a| st.agents.iter().position(|x| &**x == a)) {
            agent_spend.entry(i as u16).or_default();
        }
    }

    let mut sp = Spend::default();
    let mut prices = Prices::new(&st);
    let mut cache_month = CacheFigures::default();
    let mut cache_total = CacheFigures::default();
    let mut by_model: HashMap<u32, CacheFigures> = HashMap::default();
    let mut by_agent: HashMap<u16, CacheFigures> = HashMap::default();
    let mut daily: BTreeMap<i64, CacheFigures> = BTreeMap::new();
    for (&(h, m, a), c) in st.hourly.range(((from.max(0) / HOUR) as u32, 0, 0)..) {
        if let Some(s) = agent_spend.get_mut(&a) {
            s.add(h, c.usage.cost);
        }
        if !keep(a) {
            continue;
        }
        sp.add(h, c.usage.cost);
        if h < h_month && h < h_cache {
            continue;
        }
        let f = CacheFigures::of(&c.usage, prices.of_id(m));
        if h >= h_month {
            cache_month.add(&f);
        }
        if h >= h_cache {
            cache_total.add(&f);
            by_model.entry(m).or_default().add(&f);
            by_agent.entry(a).or_default().add(&f);
            daily.entry(z.day_start(h as i64 * HOUR)).or_default().add(&f);
        }
    }

    // Per session: its own hourly cells in the cache window, each priced by its model.
    let mut sessions: Vec<(&crate::state::Session, CacheFigures)> = Vec::new();
    for s in st.sessions.values() {
        if agent.is_some_and(|a| a != &*s.agent) {
            continue;
        }
        let mut f = CacheFigures::default();
        for hu in s.tally.hourly.iter().filter(|hu| hu.hour >= h_cache) {
            let name = s.tally.models.get(hu.model as usize).map_or("?", |m| &**m);
            f.add(&CacheFigures::of(&hu.usage, prices.of_name(name)));
        }
        if f.cache_read + f.cache_write > 0 {
            sessions.push((&**s, f));
        }
    }
    let order = |a: &(&crate::state::Session, CacheFigures), b: &(&crate::state::Session, CacheFigures)| {
        b.1.cache_read.cmp(&a.1.cache_read).then_with(|| a.0.id.cmp(&b.0.id))
    };
    let sessions_with_cache = sessions.len();
    super::top_n(&mut sessions, TOP_SESSIONS, order);
    let top_sessions: Vec<Value> = sessions
        .iter()
        .map(|(s, f)| {
            let mut j = cache_json(f);
            j["id"] = json!(s.id);
            j["agent"] = json!(s.agent);
            j["label"] = json!(s.meta.label.as_deref().or(s.meta.key.as_deref()));
            j
        })
        .collect();
    let mut model_rows: Vec<(u64, Value)> = by_model
        .iter()
        .map(|(&m, f)| {
            let mut j = cache_json(f);
            j["model"] = json!(st.models.name(m));
            j["priced"] = json!(prices.of_id(m).is_some());
            (f.cache_read, j)
        })
        .collect();
    model_rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1["model"].as_str().cmp(&b.1["model"].as_str())));
    let mut agent_rows: Vec<(u64, Value)> = by_agent
        .iter()
        .map(|(&a, f)| {
            let mut j = cache_json(f);
            j["agent"] = json!(st.agents.get(a as usize));
            (f.cache_read, j)
        })
        .collect();
    agent_rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1["agent"].as_str().cmp(&b.1["agent"].as_str())));

    let checks = st.hour_checks(now, ANOMALY_HOURS, &keep);

    // Budget limits: spend in the period and the crossing at the scope's 7-day mean.
    let mut budgets = Vec::new();
    for (scope, period, limit) in &limits {
        if agent.is_some_and(|a| *scope != Some(a)) {
            continue;
        }
        let empty = Spend::default();
        let ssp = match scope {
            None => &sp,
            Some(a) => {
                st.agents.iter().position(|x| &**x == *a).and_then(|i| agent_spend.get(&(i as u16))).unwrap_or(&empty)
            }
        };
        let start = period.start(now);
        let end = match period {
            crate::alerts::Period::Day => z.add_days(now, 1),
            crate::alerts::Period::Month => z.next_month_start(now),
        };
        let spent = ssp.between(start, insight::hour_start(now) + HOUR);
        let rate = insight::daily_mean(z, ssp, now, 7);
        let (status, at) = match insight::crossing(spent, *limit, rate, now, end) {
            Crossing::Over => ("over", None),
            Crossing::At(t) => ("crosses", Some(t)),
            Crossing::Holds => ("holds", None),
        };
        budgets.push(json!({
            "agent": scope, "period": period.name(), "limitUsd": limit, "spentUsd": round_cost(spent),
            "ratePerDayUsd": round_cost(rate), "periodEndMs": end, "status": status,
            "crossesAtMs": at, "crossesOn": at.map(|t| z.date(t)),
        }));
    }
    drop(st);

    let w = insight::windows(z, &sp, now);
    let p = insight::projection(z, &sp, now);
    let win = |x: &insight::Window| {
        json!({"startMs": x.start_ms, "current": round_cost(x.current),
            "previousStartMs": x.previous_start_ms, "previous": round_cost(x.previous)})
    };
    let mut series = Vec::new();
    let mut t = cache_from;
    while t <= today {
        let mut j = cache_json(&daily.get(&t).copied().unwrap_or_default());
        j["t"] = json!(t);
        series.push(j);
        t = z.add_days(t, 1);
    }
    let v = json!({
        "nowMs": now,
        "agent": agent,
        "burn": {
            "method": insight::BURN_METHOD,
            "perHour1h": round_cost(insight::burn(&sp, now, 1)),
            "perHour24h": round_cost(insight::burn(&sp, now, 24)),
            "perHour7d": round_cost(insight::burn(&sp, now, 168)),
        },
        "windows": {
            "day": win(&w.day), "week": win(&w.week), "month": win(&w.month),
            "dailyMean": {"d7": round_cost(w.mean7), "d30": round_cost(w.mean30), "d90": round_cost(w.mean90)},
        },
        "projection": {
            "method": insight::PROJECTION_METHOD,
            "monthSoFar": round_cost(p.month_so_far),
            "dailyRate": round_cost(p.daily_rate),
            "daysLeft": p.days_left,
            "projected": round_cost(p.projected),
            "monthEndMs": p.month_end_ms,
        },
        "budgets": {"rateMethod": insight::RATE_METHOD, "limits": budgets},
        "anomalies": {
            "method": crate::spend::ANOMALY_METHOD,
            "costFloorUsd": crate::spend::COST_FLOOR_USD,
            "tokenFloor": crate::spend::TOKEN_FLOOR,
            "hours": checks.iter().map(hour_check_json).collect::<Vec<_>>(),
            "anomalous": checks.iter().filter(|c| c.cost.anomalous || c.tokens.anomalous).map(hour_check_json).collect::<Vec<_>>(),
        },
        "cache": {
            "month": cache_json(&cache_month),
            "days": CACHE_DAYS,
            "fromMs": cache_from,
            "total": cache_json(&cache_total),
            "byModel": model_rows.into_iter().map(|r| r.1).collect::<Vec<_>>(),
            "byAgent": agent_rows.into_iter().map(|r| r.1).collect::<Vec<_>>(),
            "topSessions": top_sessions,
            "sessionsWithCache": sessions_with_cache,
            "daily": series,
        },
    });
    Ok(Resp::json(&v))
}
