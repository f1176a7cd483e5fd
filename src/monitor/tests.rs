use super::budget::*;
use super::run::*;
use super::*;
use crate::alerts::Period;
use crate::history::UsageRow;

#[test]
fn failed_cron_runs() {
    let jobs = vec![json!({"id": "j1", "name": "nightly"})];
    assert!(failed_run(&json!({"ts": 1, "jobId": "j1", "status": "ok"}), &jobs).is_none());
    let f =
        failed_run(&json!({"ts": 7, "jobId": "j1", "status": "error", "error": "exit 3", "sessionId": "s9"}), &jobs)
            .unwrap();
    assert_eq!((f.job_id.as_str(), f.run_id.as_str(), f.finished_ms), ("j1", "s9", 7));
    assert_eq!((f.job_name.as_deref(), f.error.as_deref()), (Some("nightly"), Some("exit 3")));
    let g = failed_run(&json!({"ts": 8, "jobId": "j2", "status": "interrupted"}), &jobs).unwrap();
    assert_eq!((g.run_id.as_str(), g.job_name), ("j2@8", None));
    assert!(failed_run(&json!({"jobId": "j2", "status": "error"}), &jobs).is_none(), "no time");
}

#[test]
fn spend_sums_by_period_and_agent() {
    let now = crate::timefmt::parse_iso_ms("2026-11-24T21:00:00Z").unwrap();
    let h = |iso: &str| (crate::timefmt::parse_iso_ms(iso).unwrap() / 3_600_000) as u32;
    let row = |cost: f64| UsageRow { cost, calls: 1, ..Default::default() };
    let known = super::cells::Cells::from_rows(vec![
        ((h("2026-11-24T10:00:00Z"), "m".into(), "main".into()), row(1.0)),
        ((h("2026-11-24T11:00:00Z"), "m".into(), "ops".into()), row(0.5)),
        ((h("2026-11-02T11:00:00Z"), "m".into(), "ops".into()), row(2.0)),
        ((h("2026-10-31T11:00:00Z"), "m".into(), "ops".into()), row(9.0)),
    ]);
    let s = spend(&known, now);
    assert_eq!(s[&(None, Period::Day)], 1.5);
    assert_eq!(s[&(None, Period::Month)], 3.5);
    assert_eq!(s[&(Some("ops".into()), Period::Month)], 2.5);
    assert_eq!(s[&(Some("main".into()), Period::Day)], 1.0);
    assert_eq!(crate::timefmt::iso(period_end(now, true)), "2026-12-01T00:00:00.000Z");
    assert_eq!(crate::timefmt::iso(period_end(now, false)), "2026-11-25T00:00:00.000Z");
}

#[test]
fn pause_state_round_trips() {
    let p = Pause {
        active: true,
        suspension_id: Some("s1".into()),
        since_ms: Some(5),
        override_until_ms: Some(9),
        ..Default::default()
    };
    let q = Pause::from_json(&p.json());
    assert_eq!(q.json(), p.json());
}
