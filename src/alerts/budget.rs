//! The budget: daily and monthly USD limits, overall and per agent, the warning percentage and
//! auto-pause; decoded from the API's JSON, stored as JSON by `history.rs`.

use super::json::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
}

impl Limits {
    fn from_obj(o: &Obj, what: &str) -> Result<Limits, String> {
        Ok(Limits { daily_usd: positive_usd(o, "dailyUsd", what)?, monthly_usd: positive_usd(o, "monthlyUsd", what)? })
    }
    fn json(&self) -> Value {
        json!({"dailyUsd": self.daily_usd, "monthlyUsd": self.monthly_usd})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub overall: Limits,
    pub agents: BTreeMap<String, Limits>,
    /// A warning alert at this share of a limit (percent).
    pub warn_percent: f64,
    /// Over a limit: suspend the gateway through its RPC (see `monitor.rs`).
    pub auto_pause: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { overall: Limits::default(), agents: BTreeMap::new(), warn_percent: 80.0, auto_pause: false }
    }
}

impl Budget {
    pub fn from_json(v: &Value) -> Result<Budget, String> {
        let o = obj(v, "budget")?;
        no_unknown(o, &["dailyUsd", "monthlyUsd", "agents", "warnPercent", "autoPause"], "budget")?;
        let mut agents = BTreeMap::new();
        match o.get("agents") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (name, l) in m {
                    if name.is_empty() || name.len() > 200 {
                        return Err("budget.agents: agent names must be 1 to 200 characters".into());
                    }
                    let what = format!("budget.agents.{name}");
                    let lo = obj(l, &what)?;
                    no_unknown(lo, &["dailyUsd", "monthlyUsd"], &what)?;
                    let lim = Limits::from_obj(lo, &what)?;
                    if lim != Limits::default() {
                        agents.insert(name.clone(), lim);
                    }
                }
            }
            Some(_) => return Err("budget.agents must be an object: {\"<agent>\": {\"dailyUsd\": 1}}".into()),
        }
        Ok(Budget {
            overall: Limits::from_obj(o, "budget")?,
            agents,
            warn_percent: opt_num(o, "warnPercent", "budget", 1.0, 99.0)?.unwrap_or(80.0),
            auto_pause: boolean(o, "autoPause", "budget", false)?,
        })
    }

    pub fn to_json(&self) -> Value {
        let agents: Map<String, Value> = self.agents.iter().map(|(k, l)| (k.clone(), l.json())).collect();
        json!({
            "dailyUsd": self.overall.daily_usd,
            "monthlyUsd": self.overall.monthly_usd,
            "agents": agents,
            "warnPercent": self.warn_percent,
            "autoPause": self.auto_pause,
        })
    }

    /// Every (scope, period, limit): scope `None` is the whole installation.
    pub fn limits(&self) -> Vec<(Option<&str>, Period, f64)> {
        let scopes =
            std::iter::once((None, &self.overall)).chain(self.agents.iter().map(|(n, l)| (Some(n.as_str()), l)));
        let mut out = Vec::new();
        for (name, l) in scopes {
            if let Some(d) = l.daily_usd {
                out.push((name, Period::Day, d));
            }
            if let Some(m) = l.monthly_usd {
                out.push((name, Period::Month, m));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Month => "monthly",
        }
    }
    pub fn start(self, now_ms: i64) -> i64 {
        match self {
            Period::Day => crate::tz::zone().day_start(now_ms),
            Period::Month => crate::tz::zone().month_start(now_ms),
        }
    }
}

/// Where spend stands against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Over,
}

pub fn level(spent: f64, limit: f64, warn_percent: f64) -> Level {
    if spent >= limit {
        Level::Over
    } else if spent >= limit * warn_percent / 100.0 {
        Level::Warning
    } else {
        Level::Ok
    }
}
