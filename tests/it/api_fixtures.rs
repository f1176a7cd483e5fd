//! The binary against copies of real OpenClaw data: every figure the API reports is checked
//! against `tests/fixtures/expected.json`, which `tests/fixtures/expected.py` computes
//! independently from the same files.

use crate::common::{self, approx, expected, install_fixture, snapshot, start};
use serde_json::Value;

/// Checks each session of `fixture` in expected.json against `/api/sessions/<id>`.
fn check_sessions(server: &common::Server, fixture: &str) {
    let exp = expected();
    let sessions = exp["fixtures"][fixture]["sessions"].as_object().unwrap();
    assert!(!sessions.is_empty());
    for (id, e) in sessions {
        let s = server.get(&format!("/api/sessions/{id}"));
        let ctx = format!("{fixture} session {id}");
        assert_eq!(s["events"], e["events"], "{ctx} events");
        assert_eq!(s["userMessages"], e["user_messages"], "{ctx} user");
        assert_eq!(s["assistantMessages"], e["assistant_messages"], "{ctx} assistant");
        assert_eq!(s["toolCalls"], e["tool_calls"], "{ctx} tool calls");
        assert_eq!(s["toolResults"], e["tool_results"], "{ctx} tool results");
        let errors = e["tool_errors"].as_u64().unwrap() + e["assistant_errors"].as_u64().unwrap();
        assert_eq!(s["errors"], errors, "{ctx} errors");
        for (api, py) in [
            ("input", "input"),
            ("output", "output"),
            ("cacheRead", "cacheRead"),
            ("cacheWrite", "cacheWrite"),
            ("reasoning", "reasoningTokens"),
        ] {
            assert_eq!(s["tokens"][api], e["tokens"][py], "{ctx} tokens.{api}");
        }
        assert!(
            approx(&s["cost"], e["cost_reported"].as_f64().unwrap()),
            "{ctx} cost {} vs {}",
            s["cost"],
            e["cost_reported"]
        );
        let mut models: Vec<Value> = s["models"].as_array().unwrap().clone();
        models.retain(|m| e["models"].as_array().unwrap().contains(m));
        assert_eq!(
            models.len(),
            e["models"].as_array().unwrap().len(),
            "{ctx} models {} vs {}",
            s["models"],
            e["models"]
        );
        if let Some(first) = e["first_ts"].as_i64() {
            assert!(s["firstMs"].as_i64().unwrap() <= first, "{ctx} firstMs");
            assert!(s["lastMs"].as_i64().unwrap() >= e["last_ts"].as_i64().unwrap(), "{ctx} lastMs");
        }
    }
}

fn check_totals(server: &common::Server, fixture: &str) {
    let exp = &expected()["fixtures"][fixture]["totals"];
    let ov = server.get("/api/overview");
    let t = &ov["usage"]["total"];
    assert_eq!(t["input"], exp["tokens"]["input"], "{fixture} input");
    assert_eq!(t["output"], exp["tokens"]["output"], "{fixture} output");
    assert_eq!(t["cacheRead"], exp["tokens"]["cacheRead"], "{fixture} cacheRead");
    assert_eq!(t["cacheWrite"], exp["tokens"]["cacheWrite"], "{fixture} cacheWrite");
    assert_eq!(t["calls"], exp["model_calls"], "{fixture} model calls");
    assert!(approx(&t["cost"], exp["cost_reported"].as_f64().unwrap()), "{fixture} cost {}", t["cost"]);
}

#[test]
fn current_sqlite_store_2026_9() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let before = snapshot(&home);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);

    // Figures computed by hand from the fake provider's request log (see tests/fixtures/README.md):
    // 23 model calls, 151,158 input + 450,752 cache-read tokens, 529 output, $0.5966346.
    let ov = server.get("/api/overview");
    assert_eq!(ov["usage"]["total"]["calls"], 23);
    assert_eq!(ov["usage"]["total"]["input"], 151_158);
    assert_eq!(ov["usage"]["total"]["output"], 529);
    assert_eq!(ov["usage"]["total"]["cacheRead"], 450_752);
    assert!(approx(&ov["usage"]["total"]["cost"], 0.5966346));
    // The fake clock is 2026-11-25T07:06Z: the lab ran yesterday, in this month.
    assert_eq!(ov["usage"]["today"]["calls"], 0);
    assert_eq!(ov["usage"]["month"]["calls"], 23);
    assert_eq!(ov["sessions"]["total"], 5);
    assert_eq!(ov["sessions"]["done"], 5);
    assert_eq!(ov["sessions"]["byKind"]["subagent"], 2);
    assert_eq!(ov["topModels"]["total"][0]["model"], "fakellm/fake-model");
    assert_eq!(ov["topSessions"][0]["id"], "bdfa3cc5-508a-4896-9c98-ae502491d01e");
    check_totals(&server, "lab-2026.9");
    check_sessions(&server, "lab-2026.9");

    // Sub-agents link both ways, with the task from subagent_runs.
    let subs = server.get("/api/subagents");
    assert_eq!(subs["total"], 2);
    for s in subs["subagents"].as_array().unwrap() {
        assert_eq!(s["parentId"], "bdfa3cc5-508a-4896-9c98-ae502491d01e");
        assert_eq!(s["label"], "fake-sub");
        assert_eq!(s["task"], "Sub-agent job: check the host with SUBEXEC and reply with a one-line status report.");
        assert_eq!(s["status"], "done");
        assert_eq!(s["tools"]["exec"], 1);
    }
    let main = server.get("/api/sessions/agent:main:main");
    assert_eq!(main["id"], "bdfa3cc5-508a-4896-9c98-ae502491d01e");
    assert_eq!(main["children"].as_array().unwrap().len(), 2);
    assert_eq!(main["statusSource"], "openclaw session index");
    assert_eq!(main["store"], "sqlite");
    let cron = server.get("/api/sessions/1250dc9e-9c22-434b-83fe-f77bcc3b84e6");
    assert_eq!(cron["kind"], "cron");
    assert_eq!(cron["label"], "Automation: lab-cron");

    // Per agent and per model usage, and the CSV adds up to the same figures.
    let usage = server.get("/api/usage?from=2026-11-01&to=2026-12-01&step=day");
    assert!(approx(&usage["byAgent"][0]["cost"], 0.5162046), "{}", usage["byAgent"]);
    assert_eq!(usage["byAgent"][0]["agent"], "main");
    assert_eq!(usage["byAgent"][1]["calls"], 3);
    assert_eq!(usage["series"].as_array().unwrap().len(), 30);
    let day = usage["series"].as_array().unwrap().iter().find(|p| p["calls"].as_u64() > Some(0)).unwrap();
    assert_eq!(day["t"], 1_795_478_400_000i64); // 2026-11-24
    let (status, head, csv) = server.get_raw("/api/usage.csv?from=2026-11-01&to=2026-12-01").unwrap();
    assert_eq!(status, 200);
    assert!(head.contains("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let (mut cost, mut input) = (0.0, 0u64);
    for row in csv.lines().skip(1) {
        let cols: Vec<&str> = row.split(',').collect();
        input += cols[4].parse::<u64>().unwrap();
        cost += cols[10].parse::<f64>().unwrap();
    }
    assert_eq!(input, usage["totals"]["input"].as_u64().unwrap());
    assert!((cost - usage["totals"]["cost"].as_f64().unwrap()).abs() < 1e-6);

    // Transcripts: all 49 rows of the main session, including the zstd-compressed ones.
    let t = server.get("/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e?limit=1000");
    assert_eq!(t["total"], 49);
    assert_eq!(t["malformed"], 0);
    let events = t["events"].as_array().unwrap();
    let read_result = events.iter().find(|e| e["kind"] == "tool_result" && e["toolName"] == "read");
    assert!(read_result.is_some(), "the zstd-compressed `read` result is missing");
    let tools = server.get("/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e?kind=tools&limit=1000");
    assert_eq!(tools["total"], 12); // 6 assistant turns with tool calls + 6 results
    let page = server.get("/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e?limit=10&offset=40");
    assert_eq!(page["events"].as_array().unwrap().len(), 9);
    assert_eq!(page["events"][0]["seq"], 40);
    let tl = server.get("/api/timeline?session=bb15634a-9820-48ac-af1a-2c596384781c");
    assert_eq!(tl["total"], 9);
    assert!(tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["summary"].as_str().unwrap().contains("sub-agent-exec-ok")));

    // Memory files and logs.
    let mem = server.get("/api/memory");
    let names: Vec<&str> = mem["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"MEMORY.md") && names.contains(&"memory/2026-11-24.md"), "{names:?}");
    let one = server.get("/api/memory?agent=main&file=USER.md");
    assert!(one["text"].as_str().unwrap().len() > 100);
    let logs = server.get("/api/logs?limit=500");
    assert_eq!(logs["lines"].as_array().unwrap().len(), 80);
    let warn = server.get("/api/logs?limit=500&level=warn");
    assert_eq!(warn["lines"].as_array().unwrap().len(), 7);

    // Health: what was found and read.
    let h = server.get("/api/health");
    assert_eq!(h["openclaw"]["found"], true);
    assert_eq!(h["sources"]["databases"], 2);
    assert_eq!(h["index"]["lines"], 89);
    assert_eq!(h["index"]["malformedLines"], 0);

    // Nothing was written under the OpenClaw dir.
    drop(server);
    assert_eq!(before, snapshot(&home), "clawmetry changed files under the OpenClaw dir");
}

#[test]
fn a_subagents_task_without_its_run_record_comes_from_its_first_message() {
    // OpenClaw 2026.9's first message of a sub-agent names `[Subagent Task]` in its context
    // paragraph before the task's own marker; with the run records gone, the task shown is
    // still the one the run record had.
    let (_tmp, home) = install_fixture("lab-2026.9");
    let state_db = home.join("state/openclaw.sqlite");
    let conn = rusqlite::Connection::open(&state_db).unwrap();
    assert_eq!(conn.execute("DELETE FROM subagent_runs", []).unwrap(), 2);
    drop(conn);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    let subs = server.get("/api/subagents");
    assert_eq!(subs["total"], 2, "{subs}");
    for s in subs["subagents"].as_array().unwrap() {
        assert_eq!(s["task"], "Sub-agent job: check the host with SUBEXEC and reply with a one-line status report.");
    }
}

#[test]
fn legacy_jsonl_store_2026_3() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let before = snapshot(&home);
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    check_totals(&server, "legacy-2026.3");
    check_sessions(&server, "legacy-2026.3");
    let h = server.get("/api/health");
    assert_eq!(h["index"]["ignoredFiles"], 1, "the .bak.1 copy must not count");
    assert_eq!(h["sources"]["jsonlFiles"], 6);
    assert_eq!(h["index"]["filesTotal"], 6);
    assert_eq!(h["index"]["files"], 6);
    // sessions.json says the main session failed; the sub-agent links to it by key.
    let main = server.get("/api/sessions/003d9e5b-51f2-496b-911f-3564cacac047");
    assert_eq!(main["status"], "failed");
    assert_eq!(main["channel"], "telegram");
    let sub = server.get("/api/sessions/8bda3b15-d404-4ab9-a427-d4c89c251a7b");
    assert_eq!(sub["kind"], "subagent");
    assert_eq!(sub["parentId"], "003d9e5b-51f2-496b-911f-3564cacac047");
    assert_eq!(sub["label"], "naming-agent");
    assert!(sub["task"].as_str().is_some_and(|t| !t.is_empty()), "{}", sub["task"]);
    // Cron: one session under two keys.
    let cron = server.get("/api/sessions/6a5d2a19-7148-419a-8c4c-28a69f062726");
    assert_eq!(cron["kind"], "cron");
    assert_eq!(cron["label"], "Cron: auto-dream");
    // Sessions listed in sessions.json without a transcript still show, with no usage.
    let list = server.get("/api/sessions?limit=100");
    assert_eq!(list["total"], 9);
    let failed = server.get("/api/sessions?status=failed&kind=subagent");
    assert!(failed["sessions"].as_array().unwrap().iter().any(|s| s["id"] == "e5717e1d-8cf4-4443-9970-bcde9087f4c7"));
    // Filters, sorting and pagination.
    let by_cost = server.get("/api/sessions?sort=cost&limit=2");
    assert_eq!(by_cost["sessions"][0]["id"], "eeeeeeee-0000-4000-8000-000000000001");
    assert_eq!(by_cost["sessions"].as_array().unwrap().len(), 2);
    let asc = server.get("/api/sessions?sort=cost&order=asc&limit=100");
    let costs: Vec<f64> = asc["sessions"].as_array().unwrap().iter().map(|s| s["cost"].as_f64().unwrap()).collect();
    assert!(costs.windows(2).all(|w| w[0] <= w[1]));
    // Pages of any size, in either order and by any key, are slices of the whole list (a page
    // sorts only its own rows).
    for sort in ["cost", "last", "started", "messages", "label", "status"] {
        for order in ["asc", "desc"] {
            let ids = |v: &Value| -> Vec<String> {
                v["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
            };
            let all = ids(&server.get(&format!("/api/sessions?sort={sort}&order={order}&limit=100")));
            assert_eq!(all.len(), 9);
            for size in [1, 2, 4] {
                let paged: Vec<String> = (0..9)
                    .step_by(size)
                    .flat_map(|off| {
                        ids(&server.get(&format!("/api/sessions?sort={sort}&order={order}&limit={size}&offset={off}")))
                    })
                    .collect();
                assert_eq!(paged, all, "sort={sort} order={order} pages of {size}");
            }
        }
    }
    let q = server.get("/api/sessions?q=naming");
    assert_eq!(q["total"], 1);
    let tr = server.get("/api/transcript/e284ffb1-15b9-4955-bf7f-252e5a91938e?kind=tools&limit=1000");
    assert_eq!(tr["total"], 30); // 15 assistant turns with a tool call + 15 results
    drop(server);
    assert_eq!(before, snapshot(&home));
}

#[test]
fn moltbot_2026_1_install() {
    let (_tmp, home) = install_fixture("moltbot-2026.1");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    check_totals(&server, "moltbot-2026.1");
    check_sessions(&server, "moltbot-2026.1");
    let h = server.get("/api/health");
    assert!(h["openclaw"]["configPath"].as_str().unwrap().ends_with("moltbot.json"));
}

#[test]
fn errors_are_json_with_the_right_status() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    server.get_error("/api/sessions/does-not-exist", 404);
    server.get_error("/api/transcript/does-not-exist", 404);
    server.get_error("/api/transcript/..%2F..%2Fetc%2Fpasswd", 404);
    server.get_error("/api/timeline", 400);
    server.get_error("/api/timeline?session=nope", 404);
    server.get_error("/api/sessions?limit=abc", 400);
    server.get_error("/api/sessions?sort=bogus", 400);
    server.get_error("/api/sessions?status=sleeping", 400);
    server.get_error("/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e?kind=bogus", 400);
    server.get_error("/api/usage?from=yesterday", 400);
    server.get_error("/api/usage?step=week", 400);
    server.get_error("/api/usage?from=2026-11-02&to=2026-11-01", 400);
    server.get_error("/api/memory?file=../../openclaw.json", 404);
    server.get_error("/api/nothing-here", 404);
    let (status, _, body) = server.get_raw("/").unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<title>clawmetry</title>"));
}
