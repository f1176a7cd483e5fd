//! Every OpenClaw profile (issue 12): `openclaw --profile NAME` keeps a whole second
//! installation in `~/.openclaw-<name>`. Each is found by itself (or named by further
//! `--openclaw-dir` flags), its sessions carry their profile, filters take it, and a broken or
//! missing profile hides nothing of the others. Figures: `expected.json` (tests/fixtures/expected.py).

use crate::common::{approx, expected, install_fixture, start, start_env, TempDir};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Copies a fixture's state dir to `<parent>/<dir_name>` (a profile dir name such as
/// `.openclaw-work`), keeping the copy alive with the returned guard.
fn profile_copy(fixture: &str, parent: &Path, dir_name: &str) -> (TempDir, PathBuf) {
    let (tmp, home) = install_fixture(fixture);
    let dest = parent.join(dir_name);
    std::fs::rename(&home, &dest).unwrap();
    (tmp, dest)
}

fn totals(fixtures: &[&str]) -> (u64, u64, f64) {
    let exp = expected();
    fixtures.iter().fold((0, 0, 0.0), |(c, i, cost), f| {
        let t = &exp["fixtures"][*f]["totals"];
        (
            c + t["model_calls"].as_u64().unwrap(),
            i + t["tokens"]["input"].as_u64().unwrap(),
            cost + t["cost_reported"].as_f64().unwrap(),
        )
    })
}

fn assert_total(ov: &Value, want: (u64, u64, f64), what: &str) {
    let t = &ov["usage"]["total"];
    assert_eq!(t["calls"], want.0, "{what}: calls {t}");
    assert_eq!(t["input"], want.1, "{what}: input");
    assert!(approx(&t["cost"], want.2), "{what}: cost {} vs {}", t["cost"], want.2);
}

#[test]
fn profiles_in_home_are_found_by_themselves() {
    let home = TempDir::new("profiles-home");
    let (_a, _) = profile_copy("lab-2026.9", home.path(), ".openclaw");
    let (_b, _) = profile_copy("legacy-2026.3", home.path(), ".openclaw-work");
    let server = start_env(&[], &[("HOME", home.path().to_str().unwrap())]);
    assert_total(&server.get("/api/overview"), totals(&["lab-2026.9", "legacy-2026.3"]), "both profiles");
    let h = server.get("/api/health");
    assert_eq!(h["openclaw"]["profile"], "default");
    assert_eq!(h["openclaw"]["otherProfiles"][0]["name"], "work", "{}", h["openclaw"]);
    let work = server.get("/api/sessions?profile=work&limit=200");
    let exp = expected();
    let legacy = exp["fixtures"]["legacy-2026.3"]["sessions"].as_object().unwrap();
    // The legacy fixture lists 9 sessions: 6 with transcripts (expected.json) and 3 index
    // entries without one (api_fixtures.rs).
    assert_eq!(work["total"], 9);
    let listed: Vec<&str> = work["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    for id in legacy.keys() {
        assert!(listed.contains(&id.as_str()), "{id} is listed under its profile");
    }
    for s in work["sessions"].as_array().unwrap() {
        assert_eq!(s["profile"], "work");
        assert_eq!(s["agent"], "work/main");
    }
    assert_eq!(server.get("/api/sessions?profile=default&limit=200")["total"], 5);
    // Usage by profile: the work profile alone is the legacy fixture's figures.
    let u = server.get("/api/usage?profile=work&from=2020-01-01&to=2030-01-01&step=day");
    let (calls, input, cost) = totals(&["legacy-2026.3"]);
    assert_eq!(u["totals"]["calls"], calls);
    assert_eq!(u["totals"]["input"], input);
    assert!(approx(&u["totals"]["cost"], cost));
    let d = server.get("/api/usage?profile=default&from=2020-01-01&to=2030-01-01&step=day");
    assert_eq!(d["totals"]["calls"], totals(&["lab-2026.9"]).0);
}

#[test]
fn a_broken_or_missing_profile_hides_nothing_else() {
    let parent = TempDir::new("profiles-broken");
    let (_a, a) = profile_copy("lab-2026.9", parent.path(), ".openclaw");
    let (_b, b) = profile_copy("legacy-2026.3", parent.path(), ".openclaw-work");
    let (_c, c) = profile_copy("lab-archives/before", parent.path(), ".openclaw-lab");
    // The lab profile's main agent database is garbage; its ops agent is fine.
    let db = c.join("agents/main/agent/openclaw-agent.sqlite");
    std::fs::write(&db, vec![0x5a; 64 * 1024]).unwrap();
    let missing = parent.path().join(".openclaw-gone");
    let server = start(&[
        "--openclaw-dir",
        a.to_str().unwrap(),
        "--openclaw-dir",
        b.to_str().unwrap(),
        "--openclaw-dir",
        c.to_str().unwrap(),
        "--openclaw-dir",
        missing.to_str().unwrap(),
    ]);
    let exp = expected();
    let ops = &exp["fixtures"]["lab-archives/before"]["per_agent"]["ops"];
    let (calls, input, cost) = totals(&["lab-2026.9", "legacy-2026.3"]);
    let want = (
        calls + ops["model_calls"].as_u64().unwrap(),
        input + ops["tokens"]["input"].as_u64().unwrap(),
        cost + ops["cost_reported"].as_f64().unwrap(),
    );
    assert_total(&server.get("/api/overview"), want, "three profiles, one database broken");
    let h = server.get("/api/health");
    assert!(h["index"]["sourceErrors"].as_u64().unwrap() >= 1, "{h}");
    let others = h["openclaw"]["otherProfiles"].as_array().unwrap();
    let names: Vec<&str> = others.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["work", "lab", "gone"]);
    assert_eq!(others[2]["found"], false);
    let lab = server.get("/api/sessions?profile=lab&limit=200");
    for s in lab["sessions"].as_array().unwrap() {
        assert_eq!(s["agent"], "lab/ops", "only the ops agent of the broken profile: {s}");
    }
}
