//! One alert per incident. A rule's alert key (its dedupe key: the rule, and the session, cron
//! job, disk or hour it is about) opens an incident the first time the rule finds it; the
//! incident stays open while every check finds it again, and resolves at the first check that
//! does not. While it is open nothing is sent again, except a reminder once the rule's
//! `repeatMinutes` have passed since its last alert (0: never). A new incident of a key whose
//! last alert is younger than the rule's `cooldownMinutes` opens quietly (a flapping condition
//! alerts once per cooldown, not once per flap). Pure: the monitor records, sends and marks
//! alerts resolved (`history.rs` `alert_resolved`).

use foldhash::{HashMap, HashSet};

/// What to do with an alert a rule raised at this check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A new incident: record and send it.
    Open,
    /// The incident is still open and its reminder is due.
    Remind,
    /// Nothing to send (still open, or a new incident inside the cooldown).
    Quiet,
}

#[derive(Debug, Clone, Default)]
struct Open {
    /// The alerts recorded for it (the first and any reminders), to mark resolved.
    ids: Vec<i64>,
    /// Its last alert (or, when it opened quietly, the key's last alert before it).
    last_alert_ms: i64,
}

/// The open incidents, carried from one check to the next.
#[derive(Debug, Default)]
pub struct Incidents {
    open: HashMap<String, Open>,
    seen: HashSet<String>,
}

impl Incidents {
    /// The incidents open when clawmetry last stopped (`History::open_incidents`): each key with
    /// its alerts `(id, ts)`. A condition still true after the restart is the same incident.
    pub fn restore(open: Vec<crate::history::OpenIncident>) -> Incidents {
        let open = open
            .into_iter()
            .map(|(key, alerts)| {
                let last_alert_ms = alerts.iter().map(|a| a.1).max().unwrap_or(0);
                (key, Open { ids: alerts.into_iter().map(|a| a.0).collect(), last_alert_ms })
            })
            .collect();
        Incidents { open, seen: HashSet::default() }
    }

    /// A rule raised `key` at `now_ms`. `last_fired` is asked (only for a new incident) when an
    /// alert with this key was last recorded.
    pub fn step(
        &mut self,
        key: &str,
        now_ms: i64,
        cooldown_ms: i64,
        repeat_ms: i64,
        last_fired: impl FnOnce() -> Option<i64>,
    ) -> Step {
        self.seen.insert(key.to_string());
        if let Some(o) = self.open.get(key) {
            return if repeat_ms > 0 && now_ms - o.last_alert_ms >= repeat_ms { Step::Remind } else { Step::Quiet };
        }
        match last_fired() {
            Some(last) if now_ms - last < cooldown_ms => {
                self.open.insert(key.to_string(), Open { ids: Vec::new(), last_alert_ms: last });
                Step::Quiet
            }
            _ => Step::Open,
        }
    }

    /// The alert for `key` was recorded at `now_ms` (after [`Step::Open`] or [`Step::Remind`])
    /// as `id`, or could not be stored (`None`: the incident is open all the same, so that a
    /// failing history does not raise it again at every check).
    pub fn recorded(&mut self, key: &str, id: Option<i64>, now_ms: i64) {
        let o = self.open.entry(key.to_string()).or_default();
        o.ids.extend(id);
        o.last_alert_ms = now_ms;
    }

    /// Ends the check: every open incident no rule raised at it is resolved. Returns each with
    /// its alert ids.
    pub fn end_check(&mut self) -> Vec<(String, Vec<i64>)> {
        let seen = std::mem::take(&mut self.seen);
        let gone: Vec<String> = self.open.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        gone.into_iter()
            .map(|k| {
                let o = self.open.remove(&k).expect("listed");
                (k, o.ids)
            })
            .collect()
    }

    /// How many incidents are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn one_alert_while_the_condition_holds_then_resolved() {
        let mut inc = Incidents::default();
        assert_eq!(inc.step("rule:1", 0, 30 * MIN, 0, || None), Step::Open);
        inc.recorded("rule:1", Some(7), 0);
        assert!(inc.end_check().is_empty());
        // Two hours of checks every minute, all still firing: nothing more (no repeat).
        for m in 1..=120 {
            assert_eq!(inc.step("rule:1", m * MIN, 30 * MIN, 0, || panic!("not asked while open")), Step::Quiet);
            assert!(inc.end_check().is_empty());
        }
        // The first check that does not find it resolves it, with its alert.
        assert_eq!(inc.end_check(), vec![("rule:1".to_string(), vec![7])]);
        assert_eq!(inc.open_count(), 0);
    }

    #[test]
    fn reminders_after_the_repeat_period() {
        let mut inc = Incidents::default();
        assert_eq!(inc.step("k", 0, 0, 60 * MIN, || None), Step::Open);
        inc.recorded("k", Some(1), 0);
        inc.end_check();
        assert_eq!(inc.step("k", 59 * MIN, 0, 60 * MIN, || None), Step::Quiet);
        inc.end_check();
        assert_eq!(inc.step("k", 60 * MIN, 0, 60 * MIN, || None), Step::Remind);
        inc.recorded("k", Some(2), 60 * MIN);
        inc.end_check();
        assert_eq!(inc.step("k", 119 * MIN, 0, 60 * MIN, || None), Step::Quiet);
        inc.end_check();
        assert_eq!(inc.end_check(), vec![("k".to_string(), vec![1, 2])], "both alerts resolve together");
    }

    #[test]
    fn flapping_inside_the_cooldown_opens_quietly() {
        let mut inc = Incidents::default();
        assert_eq!(inc.step("k", 0, 30 * MIN, 0, || None), Step::Open);
        inc.recorded("k", Some(1), 0);
        inc.end_check();
        assert_eq!(inc.end_check().len(), 1, "resolved at 1 min");
        // Back at 10 min: last alert 10 min ago, cooldown 30: quiet, but open again.
        assert_eq!(inc.step("k", 10 * MIN, 30 * MIN, 0, || Some(0)), Step::Quiet);
        inc.end_check();
        assert_eq!(inc.open_count(), 1);
        assert_eq!(inc.end_check(), vec![("k".to_string(), vec![])], "a quiet incident has no alert to resolve");
        // Back at 31 min: a new incident alerts.
        assert_eq!(inc.step("k", 31 * MIN, 30 * MIN, 0, || Some(0)), Step::Open);
    }

    #[test]
    fn restored_incidents_continue_after_a_restart() {
        let mut inc = Incidents::restore(vec![("a".into(), vec![(3, 100), (9, 500)]), ("b".into(), vec![(4, 200)])]);
        assert_eq!(inc.open_count(), 2);
        // "a" still fires: the same incident; its reminder counts from the last alert (500).
        assert_eq!(inc.step("a", 1000, 0, 600, || panic!("open")), Step::Quiet);
        assert_eq!(inc.step("a", 1100, 0, 600, || panic!("open")), Step::Remind);
        // "b" no longer does: resolved at the first check.
        assert_eq!(inc.end_check(), vec![("b".to_string(), vec![4])]);
        // Independent keys do not share anything.
        assert_eq!(inc.step("c", 1200, 0, 0, || None), Step::Open);
    }
}
