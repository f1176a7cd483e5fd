//! Prices per model, for model calls whose transcript line carries no `usage.cost`.
//!
//! Three layers, first match wins: a user file (`--prices` or `<data-dir>/prices.json`), the
//! model costs configured in `openclaw.json` (`models.providers.<p>.models[].cost`, exact
//! `provider/id`), and the embedded table `data/prices.json` (its source and date are in the file).
//!
//! Context windows, for how full a session's context got: an agent's model catalog
//! (`agents/<id>/agent/models.json`, [`PriceTable::add_catalog`]), then the config's
//! `models.providers.<p>.models[].contextWindow`, then the embedded table's `context`.

use crate::model::Usage;
use foldhash::HashMap;
use serde_json::Value;

const EMBEDDED: &str = include_str!("../data/prices.json");

/// USD per 1M tokens, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

impl Price {
    fn from_json(v: &Value) -> Option<Price> {
        let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        v.is_object().then(|| Price {
            input: f("input"),
            output: f("output"),
            cache_read: f("cacheRead"),
            cache_write: f("cacheWrite"),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct PriceTable {
    /// Exact `provider/model` prices from the OpenClaw config.
    exact: HashMap<String, Price>,
    /// Substring keys, longest first (user file entries before embedded ones at equal length).
    fuzzy: Vec<(String, Price)>,
    pub source: String,
    /// Context windows by exact `provider/model`, with where each came from.
    windows: HashMap<String, (u64, &'static str)>,
    /// The embedded table's context windows, matched as `fuzzy` is.
    fuzzy_windows: Vec<(String, u64)>,
}

impl PriceTable {
    /// The table as 64 bits: a figure computed from the table (the cost of a model call whose
    /// line carried none) is reused from the restart checkpoint only under the same table.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = crate::codec::stable_hasher();
        let mut exact: Vec<_> = self.exact.iter().collect();
        exact.sort_by(|a, b| a.0.cmp(b.0));
        for (k, p) in exact.into_iter().chain(self.fuzzy.iter().map(|(k, p)| (k, p))) {
            k.hash(&mut h);
            for x in [p.input, p.output, p.cache_read, p.cache_write] {
                x.to_bits().hash(&mut h);
            }
        }
        h.finish()
    }

    /// The embedded table, overlaid by `user` (a prices.json text) and the config's model costs.
    pub fn load(user: Option<&str>, openclaw_config: Option<&Value>) -> Result<PriceTable, String> {
        let mut t = PriceTable::default();
        let embedded: Value = serde_json::from_str(EMBEDDED).map_err(|e| format!("embedded prices: {e}"))?;
        let mut fuzzy: Vec<(String, Price, u8)> = Vec::new();
        t.source = format!(
            "embedded table ({}, {})",
            embedded["source"].as_str().unwrap_or("?"),
            embedded["date"].as_str().unwrap_or("?")
        );
        collect(&embedded, 1, &mut fuzzy);
        let mut fw: Vec<(String, u64)> = embedded["models"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, m)| Some((k.to_ascii_lowercase(), m.get("context")?.as_u64()?)))
            .collect();
        fw.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        t.fuzzy_windows = fw;
        if let Some(text) = user {
            let v: Value = crate::sources::json5::parse(text).map_err(|e| format!("prices file: {e}"))?;
            if !v.get("models").is_some_and(Value::is_object) {
                return Err("prices file: expected {\"models\": {\"<model>\": {\"input\": …}}}".into());
            }
            collect(&v, 0, &mut fuzzy);
            t.source = format!("user file over {}", t.source);
        }
        fuzzy.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.2.cmp(&b.2)));
        t.fuzzy = fuzzy.into_iter().map(|(k, p, _)| (k, p)).collect();
        if let Some(providers) = openclaw_config.and_then(|c| c.pointer("/models/providers")).and_then(Value::as_object)
        {
            for (pid, p) in providers {
                for m in p.get("models").and_then(Value::as_array).into_iter().flatten() {
                    if let (Some(id), Some(price)) =
                        (m.get("id").and_then(Value::as_str), m.get("cost").and_then(Price::from_json))
                    {
                        t.exact.insert(format!("{pid}/{id}"), price);
                    }
                }
            }
        }
        Ok(t)
    }

    /// Context windows of an OpenClaw model catalog (`{"providers": {<p>: {"models": [{"id",
    /// "contextWindow"}]}}}`, the shape of `agents/<id>/agent/models.json` and of the config's
    /// `models`); a window already known from a source listed earlier is kept.
    pub fn add_catalog(&mut self, catalog: &Value, source: &'static str) {
        for (pid, p) in catalog.get("providers").and_then(Value::as_object).into_iter().flatten() {
            for m in p.get("models").and_then(Value::as_array).into_iter().flatten() {
                let window = m.get("contextWindow").and_then(Value::as_u64).filter(|w| *w > 0);
                if let (Some(id), Some(w)) = (m.get("id").and_then(Value::as_str), window) {
                    self.windows.entry(format!("{pid}/{id}")).or_insert((w, source));
                }
            }
        }
    }

    /// The context window of `model` (`provider/id`) in tokens, and where it came from (an
    /// agent's catalog, the config, or the embedded table), if any source knows it.
    pub fn context_window(&self, model: &str) -> Option<(u64, &'static str)> {
        if let Some(w) = self.windows.get(model) {
            return Some(*w);
        }
        let id = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        self.fuzzy_windows.iter().find(|(k, _)| id.contains(k.as_str())).map(|(_, w)| (*w, "price table"))
    }

    /// The price of `model` (`provider/id` or a bare id), if any layer knows it.
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.exact.get(model) {
            return Some(*p);
        }
        let id = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
        self.fuzzy.iter().find(|(k, _)| id.contains(k.as_str())).map(|(_, p)| *p)
    }

    /// Cost in USD of `u` at `model`'s price; 0 for unknown models.
    pub fn cost(&self, model: &str, u: &Usage) -> f64 {
        let Some(p) = self.price(model) else { return 0.0 };
        (u.input as f64 * p.input
            + u.output as f64 * p.output
            + u.cache_read as f64 * p.cache_read
            + u.cache_write as f64 * p.cache_write)
            / 1_000_000.0
    }
}

fn collect(v: &Value, layer: u8, out: &mut Vec<(String, Price, u8)>) {
    for (k, p) in v.get("models").and_then(Value::as_object).into_iter().flatten() {
        if let Some(price) = Price::from_json(p) {
            out.push((k.to_ascii_lowercase(), price, layer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_windows_catalog_then_config_then_table() {
        let mut t = PriceTable::load(None, None).unwrap();
        assert_eq!(t.context_window("anthropic/claude-sonnet-4-5-20250929"), Some((200_000, "price table")));
        assert_eq!(t.context_window("openai/gpt-4.1-mini"), Some((1_047_576, "price table")));
        assert_eq!(t.context_window("fakellm/fake-model"), None);
        let catalog =
            serde_json::json!({"providers": {"fakellm": {"models": [{"id": "fake-model", "contextWindow": 64000}]}}});
        let config = serde_json::json!({"providers": {
            "fakellm": {"models": [{"id": "fake-model", "contextWindow": 128000}, {"id": "other", "contextWindow": 0}]},
            "anthropic": {"models": [{"id": "claude-sonnet-4-5-20250929", "contextWindow": 1000000}]}}});
        t.add_catalog(&catalog, "agent catalog");
        t.add_catalog(&config, "config");
        assert_eq!(t.context_window("fakellm/fake-model"), Some((64_000, "agent catalog")));
        assert_eq!(t.context_window("anthropic/claude-sonnet-4-5-20250929"), Some((1_000_000, "config")));
        assert_eq!(t.context_window("fakellm/other"), None, "a zero window is no window");
    }

    #[test]
    fn longest_key_wins_and_prefixes_are_ignored() {
        let t = PriceTable::load(None, None).unwrap();
        let mini = t.price("openai/gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(mini.input, 0.15);
        let opus = t.price("amazon-bedrock/us.anthropic.claude-opus-4-6-v1").unwrap();
        assert_eq!(opus.output, 25.0);
        assert!(t.price("fakellm/fake-model").is_none());
        let u = Usage { input: 1_000_000, output: 1_000_000, ..Default::default() };
        assert!((t.cost("anthropic/claude-sonnet-4-5", &u) - 18.0).abs() < 1e-9);
    }

    #[test]
    fn config_and_user_file_override() {
        let cfg: Value = serde_json::json!({"models": {"providers": {"fakellm": {"models": [
            {"id": "fake-model", "cost": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}}]}}}});
        let user = r#"{ models: { "gpt-4o": { input: 1, output: 1 } } }"#;
        let t = PriceTable::load(Some(user), Some(&cfg)).unwrap();
        assert_eq!(t.price("fakellm/fake-model").unwrap().output, 15.0);
        assert_eq!(t.price("openai/gpt-4o").unwrap().input, 1.0);
        assert!(PriceTable::load(Some("[1]"), None).is_err());
    }
}
