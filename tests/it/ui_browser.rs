//! The web UI in a real browser: headless Chromium, driven over the DevTools protocol, against
//! the real binary serving temp copies of the fixtures. Every view must load without console
//! errors and show the fixture's real figures; deep links and back/forward must work; a line
//! appended to a transcript must appear without a reload; the CSV download must equal the API's.
//! Screenshots of each view (light, dark, phone) go to target/screenshots/.
//!
//! Needs Chromium (`apt-get install chromium`); without it these tests fail with that advice.

use crate::browser::{self, Chrome, LAB_NOW_MS};
use crate::common::{self, install_fixture, start, start_exact};
use serde_json::Value;
use std::time::Duration;

const MAIN: &str = "bdfa3cc5-508a-4896-9c98-ae502491d01e";
const SUB: &str = "7f6a72ed-ee39-440f-9ef7-02993034ca30";
const TASK: &str = "Sub-agent job: check the host with SUBEXEC and reply with a one-line status report.";
const S: Duration = Duration::from_secs(10);

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Inner text of every element matching `sel`, in order.
fn texts(page: &browser::Page, sel: &str) -> Vec<String> {
    page.eval(&format!("[...document.querySelectorAll({})].map(e => e.innerText.trim())", js(sel)))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn card(page: &browser::Page, k: &str) -> String {
    page.text(&format!("main .card[data-k={k}]"))
}

#[test]
fn every_view_shows_the_lab_figures_without_errors() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");

    // Overview: 5 sessions, $0.5966 / 602.4k tokens this month and all time, nothing today.
    assert!(card(&page, "sessions").contains('5'), "{}", card(&page, "sessions"));
    assert!(card(&page, "sessions").contains("2 sub-agent"), "{}", card(&page, "sessions"));
    for k in ["month", "total"] {
        let c = card(&page, k);
        assert!(c.contains("$0.5966") && c.contains("602.4k tokens"), "{k} card: {c}");
    }
    assert!(card(&page, "today").contains("$0.00"), "{}", card(&page, "today"));
    let kinds = texts(&page, "table.kinds tbody tr");
    assert!(kinds[0].starts_with("input") && kinds[0].contains("151.2k"), "{kinds:?}");
    assert!(kinds[1].starts_with("output") && kinds[1].contains("529"), "{kinds:?}");
    assert!(kinds[2].starts_with("cache read") && kinds[2].contains("450.8k"), "{kinds:?}");
    // All five sessions were active in the 24 h before the fixed clock.
    assert_eq!(page.count("#active tbody tr"), 5);
    assert!(page.text("#active").contains("Automation: lab-cron"));
    assert!(page.text("#top-models").contains("fake-model") && page.text("#top-models").contains("$0.5966"));
    let top = texts(&page, "#top-sessions li");
    assert!(top[0].contains("main") && top[0].contains("$0.4086"), "{top:?}");
    assert!(page.text("#warnings").contains("No errors"), "{}", page.text("#warnings"));
    // The fullest contexts: the lab's five live sessions against fake-model's 128k window.
    assert_eq!(page.count("#contexts li"), 5, "{}", page.text("#contexts"));
    assert!(page.text("#contexts li").contains("of 128k"), "{}", page.text("#contexts"));
    assert_eq!(page.text("#live"), "live");

    // Sessions: the table, search, filters and sorting, each in the URL.
    page.show("#/sessions", "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 5);
    assert_eq!(page.text("#s-total"), "(5)");
    let first = texts(&page, "#s-table tbody tr:first-child td");
    assert!(first.iter().any(|t| t.contains("$0.4086")) && first.iter().any(|t| t == "412.9k"), "{first:?}");
    page.show("#/sessions?q=cron", "sessions");
    assert_eq!(texts(&page, "#s-table tbody td.name a"), vec!["Automation: lab-cron"]);
    assert_eq!(page.eval("document.querySelector('#s-filters input[name=q]').value"), "cron");
    page.show("#/sessions?kind=subagent", "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 2);
    assert!(page.text("#s-table").contains(TASK));
    page.show("#/sessions?sort=cost&order=asc", "sessions");
    let costs = texts(&page, "#s-table tbody tr td:nth-child(7)");
    assert_eq!(costs, vec!["$0.0335", "$0.0336", "$0.0405", "$0.0804", "$0.4086"]);
    assert_eq!(page.eval("document.querySelector('th[aria-sort=ascending]').innerText.trim()"), "Cost ▲");
    // By how full the context got: the column shows what the API says, fullest first.
    page.show("#/sessions?sort=context", "sessions");
    let api = server.get("/api/sessions?sort=context&limit=5");
    let want: Vec<String> = api["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["context"]["percent"].as_f64().map_or("–".to_string(), |p| format!("{p}%")))
        .collect();
    assert!(want[0].ends_with('%'), "{want:?}");
    assert_eq!(texts(&page, "#s-table tbody tr td:nth-child(8)"), want);
    page.show("#/sessions?agent=ops", "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 1);
    page.show("#/sessions?status=failed", "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 0);
    assert!(page.text("#s-empty").contains("No session matches"));

    // One session: header figures, the timeline with nested tool results, links to sub-agents.
    page.show(&format!("#/sessions/{MAIN}"), "session");
    page.wait_for("timeline loaded", "document.querySelectorAll('#tl .ev').length >= 40", S);
    let head = page.text(".s-head");
    assert!(head.contains("$0.4086") && head.contains("412.9k") && head.contains("6 user · 14 assistant"), "{head}");
    let ctx = server.get(&format!("/api/sessions/{MAIN}"));
    let ctx = &ctx.get("session").unwrap_or(&ctx)["context"];
    assert!(
        page.text("[data-k=context]").starts_with(&format!("{}%", ctx["percent"].as_f64().unwrap())),
        "{} vs {ctx}",
        page.text("[data-k=context]")
    );
    let tl = page.text("#tl");
    assert!(tl.contains("Hello from the lab, turn 1."), "{tl}");
    assert!(tl.contains("Model → fakellm/fake-model"));
    // exec call with its result nested inside, collapsed.
    let exec = "document.querySelector('#tl details.tool[data-call=call_b36d5a08f6bb4e5ab087]')";
    assert_eq!(page.eval(&format!("{exec}.open")), Value::Bool(false));
    assert!(page.eval(&format!("{exec}.innerText")).as_str().unwrap().contains("echo fake-exec-ok; uname -s"));
    assert!(page
        .eval(&format!("{exec}.querySelector('.tres').textContent"))
        .as_str()
        .unwrap()
        .contains("fake-exec-ok"));
    assert!(page.eval(&format!("{exec}.querySelector('.tstat').textContent")).as_str().unwrap().contains('✓'));
    // Per call and per turn usage.
    assert!(tl.contains("6.9k in · 22 out · 20.6k cached"), "per-call usage missing");
    assert!(
        page.text(".turn-sum[data-turn='1']").contains("1 call · 27.5k tokens · $0.0272"),
        "{}",
        page.text(".turn-sum[data-turn='1']")
    );
    // The long AGENTS.md read result is clipped with a "show all" button that reveals it.
    let clipped = page.count("#tl button[data-full]");
    assert!(clipped >= 1, "no clipped result");
    page.click("#tl button[data-full]");
    assert_eq!(page.count("#tl button[data-full]"), clipped - 1);
    // Both sub-agents are linked from the parent, and link back.
    assert_eq!(page.count(".s-head .children a"), 2);
    assert!(page.count("#tl a.sublink") >= 2, "spawn results link to the children");
    page.click(&format!(".s-head .children a[href='#/sessions/{SUB}']"));
    page.wait_for(
        "sub-agent page",
        &format!("location.hash === '#/sessions/{SUB}' && !!document.querySelector('.s-head')"),
        S,
    );
    page.wait_for(
        "sub-agent header",
        "document.querySelector('.s-head') && document.querySelector('.s-head').innerText.includes('Spawned by')",
        S,
    );
    assert!(page.text(".s-head").contains(TASK));
    assert!(page
        .eval(&format!("!!document.querySelector(\".s-head .rel a[href='#/sessions/{MAIN}']\")"))
        .as_bool()
        .unwrap());
    // Event filter: only tool events.
    page.show(&format!("#/sessions/{MAIN}?kind=tools"), "session");
    page.wait_for("tools filter", "document.querySelector('#tl-bar button.on') && document.querySelector('#tl-bar button.on').dataset.kind === 'tools'", S);
    page.wait_for(
        "tools only",
        "[...document.querySelectorAll('#tl > li.ev')].every(e => e.matches('.assistant, .tool_result'))",
        S,
    );
    assert!(page.count("#tl .ev.user") == 0 && page.count("#tl details.tool") >= 6);

    // Sub-agents: two cards with task, status, tools and transcript link.
    page.show("#/subagents", "subagents");
    assert_eq!(page.count("#sa-list .card"), 2);
    let cards = texts(&page, "#sa-list .card");
    for c in &cards {
        assert!(c.contains(TASK) && c.contains("done") && c.contains("exec") && c.contains("Transcript →"), "{c}");
    }
    assert!(cards.iter().any(|c| c.contains("$0.0336") && c.contains("33.7k")), "{cards:?}");
    assert!(cards.iter().all(|c| c.contains("Parent\nmain") || c.contains("Parent main")), "{cards:?}");

    // Usage: all time, both charts drawn, per-model row.
    page.show("#/usage?range=all", "usage");
    assert!(
        card(&page, "cost").contains("$0.5966") && card(&page, "cost").contains("23 model calls"),
        "{}",
        card(&page, "cost")
    );
    assert!(card(&page, "tokens").contains("602.4k"));
    assert_eq!(page.count(".uplot"), 2);
    assert_eq!(page.count(".uplot canvas"), 2);
    let by_model = texts(&page, "#u-models tbody tr");
    assert!(
        by_model[0].contains("fake-model") && by_model[0].contains("23") && by_model[0].contains("$0.5966"),
        "{by_model:?}"
    );
    // The last 24 h before the fixed clock hold the whole lab run, hour by hour.
    page.show("#/usage?range=24h", "usage");
    assert!(card(&page, "cost").contains("$0.5966"));
    assert_eq!(
        page.eval("document.querySelector('#u-form button[data-step=hour]').classList.contains('on')"),
        Value::Bool(true)
    );
    page.show("#/usage?range=custom&from=2026-10-01&to=2026-10-31", "usage");
    assert!(page.text("#u-body").contains("No model calls in this range"), "{}", page.text("#u-body"));
    assert!(page.text("#u-span").starts_with("2026-10-01 to 2026-10-31 (UTC), daily"), "{}", page.text("#u-span"));

    // Flow: the four columns with live counts.
    page.show("#/flow", "flow");
    let node = |name: &str| page.text(&format!("#f-graph g.node[data-name='{name}']"));
    assert!(node("gateway").contains("5 sessions · 23 calls"), "{}", node("gateway"));
    assert!(node("fakellm/fake-model").contains("23 calls · $0.5966"), "{}", node("fakellm/fake-model"));
    assert!(node("direct").contains("2 sessions"));
    assert!(node("sub-agent").contains("2 sessions"));
    assert!(node("exec").contains("7 calls"), "{}", node("exec"));
    assert!(page.count("#f-graph path.edge") >= 3 + 1 + 4);

    page.assert_no_errors("lab views");
}

#[test]
fn deep_links_and_back_forward() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    // A deep link straight into a filtered session view.
    page.goto(&server.url(&format!("/#/sessions/{MAIN}?kind=messages")));
    page.wait_rendered(0, "session");
    page.wait_for("messages filter on", "document.querySelector('#tl-bar button.on') && document.querySelector('#tl-bar button.on').dataset.kind === 'messages'", S);
    assert_eq!(page.eval("document.querySelector('#nav a.on').dataset.view"), "sessions");
    assert!(page.eval("document.title").as_str().unwrap().starts_with("main ·"));
    // A path deep link (no hash) also gets the app, which starts on the overview.
    page.goto(&server.url("/sessions"));
    page.wait_rendered(0, "overview");
    // Deep links to views with state in the URL.
    page.goto(&server.url("/#/sessions?kind=subagent&sort=cost"));
    page.wait_rendered(0, "sessions");
    assert_eq!(page.count("#s-table tbody tr"), 2);
    assert_eq!(page.eval("document.querySelector('#s-filters select[name=kind]').value"), "subagent");

    // Back and forward through views.
    page.show("#/subagents", "subagents");
    page.show("#/usage?range=all", "usage");
    page.show("#/flow", "flow");
    let back = |view: &str, hash: &str| {
        let before = page.eval("window.__cm.renders").as_u64().unwrap();
        page.eval("history.back()");
        page.wait_rendered(before, view);
        assert_eq!(page.eval("location.hash"), hash);
    };
    back("usage", "#/usage?range=all");
    back("subagents", "#/subagents");
    back("sessions", "#/sessions?kind=subagent&sort=cost");
    assert_eq!(page.count("#s-table tbody tr"), 2, "filters restored from the URL");
    let before = page.eval("window.__cm.renders").as_u64().unwrap();
    page.eval("history.forward()");
    page.wait_rendered(before, "subagents");
    // Clicking a row opens the session; back returns to the same filtered list.
    page.show("#/sessions?kind=subagent", "sessions");
    let before = page.eval("window.__cm.renders").as_u64().unwrap();
    page.click("#s-table tbody tr td:first-child");
    page.wait_rendered(before, "session");
    back("sessions", "#/sessions?kind=subagent");
    // An unknown session and an unknown view say so.
    page.show("#/sessions/no-such-session", "session");
    assert!(page.text("main").contains("No such session"));
    page.show("#/nowhere", "missing");
    assert!(page.text("main").contains("No such page"));
    // The only error is the browser noting the 404 this test asked for.
    assert_eq!(page.errors().len(), 1, "{:?}", page.errors());
    page.assert_errors_only("deep links", &["404 (Not Found)", "/api/sessions/no-such-session"]);
}

#[test]
fn appended_transcript_lines_appear_live() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let id = "e284ffb1-15b9-4955-bf7f-252e5a91938e";
    let chrome = Chrome::launch();
    let session = chrome.page();
    session.goto(&server.url(&format!("/#/sessions/{id}")));
    session.wait_rendered(0, "session");
    session.wait_for("timeline", "document.querySelectorAll('#tl .ev').length > 10", S);
    let overview = chrome.page();
    overview.goto(&server.url("/"));
    overview.wait_rendered(0, "overview");
    let total_before = card(&overview, "total");
    assert!(total_before.contains("$2.27"), "{total_before}");
    for p in [&session, &overview] {
        p.wait_for("event stream open", "window.__cm.live === 'live'", S);
        p.eval("window.__marker = 42");
    }
    let events_before = session.count("#tl .ev");

    // OpenClaw appends a turn: a user line, then an assistant line with usage and cost.
    let path = home.join(format!("agents/main/sessions/{id}.jsonl"));
    append(&path, &line("live0001", now_ms(), "Live check from the UI test: are you there?", None));
    session.wait_for(
        "user line shown live",
        "document.querySelector('#tl').innerText.includes('Live check from the UI test')",
        S,
    );
    append(&path, &line("live0002", now_ms() + 1000, "Yes, still here (live reply).", Some(0.5)));
    session.wait_for(
        "assistant line shown live",
        "document.querySelector('#tl').innerText.includes('Yes, still here (live reply).')",
        S,
    );
    assert_eq!(session.count("#tl .ev"), events_before + 2);
    assert!(session.count("#tl li.new") >= 2, "new events are marked");
    session.wait_for("header cost updated", "document.querySelector('.s-head').innerText.includes('$1.09')", S);
    let usage = session.eval("[...document.querySelectorAll('#tl .ev.assistant')].pop().innerText");
    assert!(
        usage.as_str().unwrap().contains("1k in · 2k out") && usage.as_str().unwrap().contains("$0.5000"),
        "{usage}"
    );
    overview.wait_for(
        "overview total updated",
        "document.querySelector('main .card[data-k=total]').innerText.includes('$2.77')",
        S,
    );
    for p in [&session, &overview] {
        assert_eq!(p.eval("window.__marker"), 42, "the page was reloaded instead of updated");
        p.assert_no_errors("live");
    }
    session.screenshot("live-session-light");
}

/// A transcript line in OpenClaw's JSONL form: a user message, or an assistant reply costing `cost`.
fn line(id: &str, ts: i64, text: &str, cost: Option<f64>) -> String {
    let message = match cost {
        None => serde_json::json!({"role": "user", "content": [{"type": "text", "text": text}], "timestamp": ts}),
        Some(c) => serde_json::json!({"role": "assistant", "content": [{"type": "text", "text": text}],
            "provider": "amazon-bedrock", "model": "us.anthropic.claude-opus-4-6-v1", "stopReason": "stop",
            "usage": {"input": 1000, "output": 2000, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 3000,
                      "cost": {"input": c / 5.0, "output": c * 0.8, "cacheRead": 0, "cacheWrite": 0, "total": c}}}),
    };
    serde_json::json!({"type": "message", "id": id, "parentId": null, "timestamp": ts, "message": message}).to_string()
        + "\n"
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn stream_drop_reconnects_and_resyncs() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let sessions = home.join("agents/main/sessions");
    let port = common::free_port();
    let dir = home.to_str().unwrap().to_string();
    let server = start(&["--port", &port.to_string(), "--openclaw-dir", &dir]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/sessions"));
    page.wait_rendered(0, "sessions");
    page.wait_for("live", "window.__cm.live === 'live'", S);
    assert_eq!(page.text("#s-total"), "(9)");
    page.eval("window.__marker = 7");
    // A few changes, so that the page's last event id is well past a fresh server's.
    let cron = sessions.join("6a5d2a19-7148-419a-8c4c-28a69f062726.jsonl");
    for i in 0..4 {
        let before = page.eval("window.__cm.refreshes").as_u64().unwrap();
        append(&cron, &line(&format!("cron{i}"), now_ms(), &format!("cron ping {i}"), None));
        page.wait_for("change applied", &format!("window.__cm.refreshes > {before}"), S);
    }
    drop(server);
    page.wait_for("drop noticed", "window.__cm.live !== 'live'", S);
    assert!(["reconnecting…", "offline"].contains(&page.text("#live").as_str()), "{}", page.text("#live"));
    // A new session is written while the dashboard is away.
    let new_id = "0badc0de-0000-4000-8000-00000000beef";
    let new_file = sessions.join(format!("{new_id}.jsonl"));
    append(&new_file, &line("n1", now_ms(), "written while the dashboard was down", None));
    let before = page.eval("window.__cm.renders").as_u64().unwrap();
    let server = start(&["--port", &port.to_string(), "--openclaw-dir", &dir]);
    page.wait_for("reconnected", "window.__cm.live === 'live'", Duration::from_secs(40));
    page.wait_rendered(before, "sessions");
    page.wait_for("resynchronised", "document.querySelector('#s-total').innerText === '(10)'", S);
    // Events after the reconnect arrive too (the restarted server's ids started over).
    append(&new_file, &line("n2", now_ms(), "and a reply after the restart", Some(0.5)));
    page.wait_for(
        "live after reconnect",
        &format!(
            "(r => r && r.innerText.includes('$0.5000'))(document.querySelector('#s-table tr[data-id=\"{new_id}\"]'))"
        ),
        S,
    );
    assert_eq!(page.eval("window.__marker"), 7, "reconnecting must not reload the page");
    drop(server);
}

#[test]
fn csv_download_matches_the_api() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let downloads = common::TempDir::new("downloads");
    chrome.allow_downloads(downloads.path());
    let page = chrome.page();
    page.goto(&server.url("/#/usage?range=month"));
    page.wait_rendered(0, "usage");
    let href = page.eval("document.querySelector('#u-csv').getAttribute('href')").as_str().unwrap().to_string();
    assert!(href.starts_with("/api/usage.csv?") && href.contains("step=day"), "{href}");
    let mark = chrome.event_count();
    page.click("#u-csv");
    let file = chrome.wait_download(mark, downloads.path(), S);
    assert!(file.file_name().unwrap().to_string_lossy().starts_with("clawmetry-usage-2026-11-01-"), "{file:?}");
    let downloaded = std::fs::read_to_string(&file).unwrap();
    let (status, _, api) = server.get_raw(&href).unwrap();
    assert_eq!(status, 200);
    assert_eq!(downloaded, String::from_utf8(api).unwrap(), "the download differs from the API");
    // And it adds up to what the page shows.
    let cost: f64 = downloaded.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap()).sum();
    assert!((cost - 0.5966346).abs() < 1e-6, "{cost}");
    assert!(card(&page, "cost").contains("$0.5966"));
    // One day (2026-11-24), one model, two agents.
    assert_eq!(downloaded.lines().count(), 3, "{downloaded}");
    page.assert_no_errors("csv");
}

#[test]
fn missing_installation_says_which_flag_to_use() {
    let tmp = common::TempDir::new("nothing");
    let missing = tmp.path().join("no-openclaw-here");
    let server = start(&["--openclaw-dir", missing.to_str().unwrap()]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");
    let main = page.text("main");
    assert!(main.contains("No OpenClaw installation found"), "{main}");
    assert!(main.contains("--openclaw-dir") && main.contains(missing.to_str().unwrap()), "{main}");
    page.show("#/sessions", "sessions");
    let banner = page.text("#banner");
    assert!(banner.contains("No OpenClaw installation found") && banner.contains("--openclaw-dir"), "{banner}");
    assert!(page.text("#s-empty").contains("No sessions yet"));
    page.show("#/subagents", "subagents");
    assert!(page.text("main").contains("No sub-agents yet"));
    page.show("#/usage", "usage");
    assert!(page.text("main").contains("No model calls in this range"));
    page.show("#/flow", "flow");
    assert!(page.text("main").contains("Nothing flowed yet"));
    page.assert_no_errors("empty install");
    page.show("#/", "overview");
    page.screenshot("empty-install-light");
}

/// Light, dark and phone screenshots of every view, on the richer legacy data; on a phone no view
/// may scroll sideways as a whole.
#[test]
fn screenshots_light_dark_and_phone() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1775640000000"]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    page.wait_rendered(0, "overview");
    let views = [
        ("overview", "#/", "overview"),
        ("sessions", "#/sessions", "sessions"),
        ("session", "#/sessions/003d9e5b-51f2-496b-911f-3564cacac047", "session"),
        ("session-tools", "#/sessions/e284ffb1-15b9-4955-bf7f-252e5a91938e?kind=tools", "session"),
        ("subagents", "#/subagents", "subagents"),
        ("usage", "#/usage?range=all", "usage"),
        ("flow", "#/flow", "flow"),
    ];
    for (dark, theme) in [(false, "light"), (true, "dark")] {
        page.color_scheme(dark);
        page.viewport(1280, 900, false);
        for (name, hash, view) in views {
            page.show("#/nowhere", "missing");
            page.show(hash, view);
            let bg = page.eval("getComputedStyle(document.body).backgroundColor");
            assert_eq!(bg == "rgb(17, 20, 24)", dark, "{name}: {theme} theme not applied ({bg})");
            page.screenshot(&format!("{name}-{theme}"));
        }
    }
    page.color_scheme(false);
    page.viewport(390, 844, true);
    for (name, hash, view) in views {
        page.show("#/nowhere", "missing");
        page.show(hash, view);
        let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth");
        assert!(overflow.as_i64().unwrap() <= 0, "{name}: the page scrolls sideways on a phone by {overflow} px");
        page.screenshot(&format!("{name}-phone"));
    }
    // The legacy data's errors and failures are flagged on the overview.
    page.viewport(1280, 900, false);
    page.show("#/", "overview");
    page.assert_no_errors("screenshots");
}

#[test]
fn login_screen_asks_for_the_token_then_shows_the_dashboard() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let token = "ui-login-token-0123456789";
    let server =
        start_exact(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS, "--token", token]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/"));
    // The overview's API call answers 401: the login form appears.
    page.wait_for("login form", "!!document.querySelector('#login form input[name=token]')", S);
    assert!(page.text("#login").contains("Log in to clawmetry"), "{}", page.text("#login"));
    // A wrong token: the API's message, still on the form.
    let submit = |t: &str| {
        page.eval(&format!(
            "(() => {{ const f = document.querySelector('#login form'); f.token.value = {}; f.requestSubmit(); return true; }})()",
            js(t)
        ));
    };
    submit("wrong");
    page.wait_for("wrong-token message", "!document.querySelector('#login-error').hidden", S);
    assert!(page.text("#login-error").contains("wrong token"), "{}", page.text("#login-error"));
    // The right one: the page reloads signed in and the overview renders, live stream on.
    submit(token);
    page.wait_rendered(0, "overview");
    assert_eq!(page.count("#login"), 0);
    page.wait_for("live stream", "window.__cm.live === 'live'", S);
    // The session cookie is HttpOnly: the page's script cannot read it.
    assert_eq!(page.eval("document.cookie"), Value::String(String::new()));
    assert!(card(&page, "sessions").contains('5'), "{}", card(&page, "sessions"));
}

#[test]
fn deleted_and_purged_sessions_show_their_state_and_profiles_filter() {
    // Two profiles: the lab after two deletions (as ~/.openclaw-lab) beside the lab fixture.
    let (_a, lab) = install_fixture("lab-2026.9");
    let (_b, archives) = install_fixture("lab-archives/step2-delete-chat");
    let parent = common::TempDir::new("ui-profiles");
    let other = parent.path().join(".openclaw-lab");
    std::fs::rename(&archives, &other).unwrap();
    let server = start(&[
        "--openclaw-dir",
        lab.to_str().unwrap(),
        "--openclaw-dir",
        other.to_str().unwrap(),
        "--fake-now-ms",
        LAB_NOW_MS,
    ]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/sessions?state=deleted"));
    page.wait_rendered(0, "sessions");
    // The two sessions OpenClaw deleted, each tagged, with their cost (expected.json).
    page.wait_for("two deleted rows", "document.querySelectorAll('#s-table tbody tr').length === 2", S);
    assert_eq!(page.count("#s-table tbody tr .tag.st-deleted"), 2);
    let rows = texts(&page, "#s-table tbody tr");
    assert!(rows.iter().any(|r| r.contains("$0.0548")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("$0.0336")), "{rows:?}");
    page.screenshot("sessions-deleted");
    // The profile filter appears with both profiles and narrows the list.
    assert_eq!(page.eval("document.querySelector('select[name=profile]').hidden"), false);
    page.show("#/sessions?profile=lab", "sessions");
    let agents = texts(&page, "#s-table tbody tr td:nth-child(2)");
    assert!(!agents.is_empty() && agents.iter().all(|a| a.starts_with("lab/")), "{agents:?}");
    // A deleted session's page shows its transcript from the archive.
    page.show("#/sessions/6247663a-45d3-447e-ab48-797c998456de", "session");
    assert!(page.text("main h1").contains("deleted"), "{}", page.text("main h1"));
    page.wait_for("archived events", "document.querySelectorAll('main li.ev').length > 0", S);
    page.screenshot("session-deleted");
    page.assert_no_errors("deleted sessions");
}

#[test]
fn activity_page_streams_rows_pauses_filters_and_links_to_the_event() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let server = start(&["--openclaw-dir", home.to_str().unwrap()]);
    let id = "e284ffb1-15b9-4955-bf7f-252e5a91938e";
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/activity"));
    page.wait_rendered(0, "activity");
    page.wait_for("event stream open", "window.__cm.live === 'live'", S);
    // The back-fill: the API's newest rows, in its order.
    let api = server.get("/api/activity?limit=200");
    let want = api["items"].as_array().unwrap();
    assert_eq!(page.count("#a-list li.act"), want.len() as u64);
    let first_kind = page.eval("document.querySelector('#a-list li.act').dataset.kind");
    assert_eq!(first_kind, want[0]["kind"]);
    assert_eq!(page.count("#a-density .bar"), 60);

    // OpenClaw appends a turn: both rows arrive on top, newest first, without a reload.
    page.eval("window.__marker = 7");
    let path = home.join(format!("agents/main/sessions/{id}.jsonl"));
    append(&path, &line("act00001", now_ms(), "Activity check: anyone home?", None));
    append(&path, &line("act00002", now_ms() + 500, "Yes, the activity page sees me.", Some(0.25)));
    page.wait_for(
        "live rows on top",
        "(() => { const t = [...document.querySelectorAll('#a-list li.act')].slice(0, 2).map(e => e.innerText);
                  return t.length == 2 && t[0].includes('the activity page sees me') && t[1].includes('anyone home'); })()",
        S,
    );
    let reply = page.text("#a-list li.act");
    assert!(reply.contains("$0.2500") && reply.contains("3k tok"), "{reply}");
    assert_eq!(page.eval("window.__marker"), 7, "the page was reloaded");
    let live_events =
        page.eval("[...document.querySelectorAll('#a-density .bar')].reduce((n, b) => n + +b.dataset.events, 0)");
    assert!(live_events.as_u64().unwrap() >= 2, "density strip: {live_events}");

    // Paused: a new row waits aside, then comes on resume.
    page.click("#a-pause");
    append(&path, &line("act00003", now_ms() + 1000, "Written while paused.", None));
    page.wait_for("held row counted", "document.querySelector('#a-held').innerText.includes('1 new')", S);
    assert!(!page.text("#a-list").contains("Written while paused."));
    page.click("#a-pause");
    page.wait_for("held row shown", "document.querySelector('#a-list').innerText.includes('Written while paused.')", S);

    // Filters: replies only (from the URL), then back to everything.
    page.show("#/activity?kind=assistant", "activity");
    let kinds = texts(&page, "#a-list li.act .icon");
    assert!(!kinds.is_empty());
    let other =
        page.eval("[...document.querySelectorAll('#a-list li.act')].filter(e => e.dataset.kind != 'assistant').length");
    assert_eq!(other, 0, "only replies are listed");
    assert_eq!(page.eval("document.querySelector('button[data-kind=user]').getAttribute('aria-pressed')"), "false");

    // A row links to its event: the session opens there with the event marked.
    page.show("#/activity", "activity");
    let before = page.eval("window.__cm.renders").as_u64().unwrap();
    page.click("#a-list li.act a.who");
    page.wait_rendered(before, "session");
    page.wait_for("event marked", "!!document.querySelector('.ev.hl')", S);
    let marked = page.text(".ev.hl");
    assert!(marked.contains("Written while paused."), "{marked}");

    // A phone: no sideways scrolling.
    page.viewport(390, 844, true);
    page.show("#/activity", "activity");
    let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth");
    assert!(overflow.as_i64().unwrap() <= 0, "the activity page scrolls sideways on a phone by {overflow} px");
    page.screenshot("activity-phone");
    page.assert_no_errors("activity");
}

/// A gateway log line as OpenClaw's logger writes it (the lab log's shape).
fn gateway_line(level: &str, text: &str) -> String {
    let b = r#"{"subsystem":"gateway"}"#;
    format!(
        "{}\n",
        serde_json::json!({"0": b, "1": text, "_meta": {"logLevelName": level, "name": b},
            "time": "2026-11-25T09:00:00.000+00:00", "message": text})
    )
}

#[test]
fn logs_page_tails_the_gateway_log_filters_by_level_and_pauses() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let log = home.parent().unwrap().join("logs/openclaw.log");
    let raw = std::fs::read_to_string(&log).unwrap();
    let levels: Vec<String> = raw
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["_meta"]["logLevelName"].as_str().unwrap().to_string())
        .collect();
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/logs"));
    page.wait_rendered(0, "logs");
    assert_eq!(page.count("#l-list li.log"), levels.len() as u64);
    assert_eq!(page.text("#l-file"), "openclaw.log");
    // The lab's sub-agent announce lines name its session key: they link to the session.
    let named = raw.lines().filter(|l| l.contains("announce:v1:agent:")).count() as u64;
    assert!(named > 0);
    assert_eq!(page.count("#l-list a.to-session[href^='#/sessions/']"), named);

    // The gateway writes a line: it shows at the bottom within about a second, without a reload.
    page.eval("window.__marker = 7");
    let t0 = std::time::Instant::now();
    common_append(&log, &gateway_line("INFO", "browser tail check"));
    page.wait_for(
        "appended line at the bottom",
        "document.querySelector('#l-list li.log:last-child').innerText.includes('browser tail check')",
        Duration::from_secs(3),
    );
    assert!(t0.elapsed() < Duration::from_millis(2500), "took {:?}", t0.elapsed());
    assert_eq!(page.eval("window.__marker"), 7, "the page was reloaded");

    // Level filter: warn and above, as the fixture's levels say.
    let warn = levels.iter().filter(|l| matches!(l.as_str(), "WARN" | "ERROR" | "FATAL")).count() as u64;
    assert!(warn > 0);
    page.show("#/logs?level=warn", "logs");
    assert_eq!(page.count("#l-list li.log"), warn);
    assert_eq!(page.eval("document.querySelector('#l-filters select').value"), "warn");
    common_append(&log, &gateway_line("ERROR", "an error shows under warn"));
    common_append(&log, &gateway_line("DEBUG", "a debug line does not"));
    page.wait_for("error line", "document.querySelector('#l-list').innerText.includes('an error shows under warn')", S);
    assert!(!page.text("#l-list").contains("a debug line does not"));

    // Pause: a new line waits aside, then comes on resume.
    page.show("#/logs", "logs");
    page.click("#l-pause");
    common_append(&log, &gateway_line("INFO", "written while paused"));
    page.wait_for("held line counted", "document.querySelector('#l-held').innerText.includes('1 new')", S);
    assert!(!page.text("#l-list").contains("written while paused"));
    page.click("#l-pause");
    page.wait_for("held line shown", "document.querySelector('#l-list').innerText.includes('written while paused')", S);

    // The log renamed away (rotated) and a new one started in its place: the tail goes on there.
    std::fs::rename(&log, log.with_extension("log.1")).unwrap();
    std::fs::write(&log, gateway_line("INFO", "first line of the new file")).unwrap();
    page.wait_for(
        "new file's line after a divider",
        "(() => { const l = [...document.querySelectorAll('#l-list li.log')].slice(-2);
                  return l[0].classList.contains('restart') && l[1].innerText.includes('first line of the new file'); })()",
        S,
    );

    // 360 px wide, dark: no sideways scrolling.
    page.viewport(360, 800, true);
    page.color_scheme(true);
    page.show("#/logs?level=info", "logs");
    let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth");
    assert!(overflow.as_i64().unwrap() <= 0, "the logs page scrolls sideways on a phone by {overflow} px");
    page.screenshot("logs-phone-dark");
    page.assert_no_errors("logs");
}

fn common_append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

#[test]
fn memory_page_lists_the_files_and_shows_html_in_them_as_text() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let ws = home.join("workspace");
    let planted = "# Planted note\n\n<script>window.__pwned = 1</script>\n<img src=x onerror=\"window.__pwned = 2\">\n\n## Second heading\ntext\n";
    std::fs::write(ws.join("memory/2026-11-25.md"), planted).unwrap();
    let mut want: Vec<String> = ["MEMORY.md", "USER.md"].iter().map(|s| s.to_string()).collect();
    let mut notes: Vec<String> = std::fs::read_dir(ws.join("memory"))
        .unwrap()
        .map(|e| format!("memory/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    notes.sort();
    notes.reverse();
    want.extend(notes);
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/memory?agent=main"));
    page.wait_rendered(0, "memory");
    assert_eq!(texts(&page, "#m-files .m-name"), want);
    let sizes = texts(&page, "#m-files li .muted");
    let memory_size = std::fs::metadata(ws.join("MEMORY.md")).unwrap().len();
    assert!(memory_size < 1000 && sizes[0].starts_with(&format!("{memory_size} B")), "{sizes:?}");
    // The first file shows by default, its headings as headings.
    let first = std::fs::read_to_string(ws.join("MEMORY.md")).unwrap();
    let h1 = first.lines().find_map(|l| l.strip_prefix("# ")).unwrap();
    assert_eq!(page.text("#m-text h3.md-h"), h1);

    let scripts = page.count("script");
    page.show("#/memory?agent=main&file=memory%2F2026-11-25.md", "memory");
    let text = page.text("#m-text");
    assert!(text.contains("<script>window.__pwned = 1</script>"), "{text}");
    assert!(text.contains("<img src=x onerror="), "{text}");
    assert_eq!(page.count("script"), scripts, "a script element was added");
    assert_eq!(page.count("#m-text img"), 0);
    assert_eq!(page.eval("window.__pwned === undefined"), true);
    assert_eq!(texts(&page, "#m-text .md-h"), vec!["Planted note", "Second heading"]);
    assert_eq!(page.count("#m-text h4.md-h"), 1);

    // A file changed on disk shows without a reload (the page looks every 3 s).
    std::fs::write(ws.join("memory/2026-11-25.md"), format!("{planted}\n## Added later\n")).unwrap();
    page.wait_for(
        "the changed file shown",
        "[...document.querySelectorAll('#m-text .md-h')].some(h => h.textContent === 'Added later')",
        Duration::from_secs(8),
    );

    // The filter box: only files holding the words (as read here) stay listed.
    page.eval("(f => { f.value = 'Planted'; f.dispatchEvent(new Event('input')); })(document.querySelector('#m-filters input'))");
    page.wait_for("filtered", "document.querySelectorAll('#m-files li').length === 1", S);
    assert_eq!(texts(&page, "#m-files .m-name"), vec!["memory/2026-11-25.md"]);

    page.viewport(360, 800, true);
    page.color_scheme(true);
    page.show("#/memory?agent=main", "memory");
    let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth");
    assert!(overflow.as_i64().unwrap() <= 0, "the memory page scrolls sideways on a phone by {overflow} px");
    page.screenshot("memory-phone-dark");
    page.assert_no_errors("memory");
}
