//! Dashboard auth and cross-site protection (SECURITY.md), against the real binary started
//! WITHOUT `--no-auth`: tokens, the login cookie, the failed-login limit, cross-origin writes,
//! the public endpoints and `--public-overview`, and the redaction of secrets in everything the
//! API shows (fixture copies with secrets planted in labels, tasks, crons, OTLP exports and fleet
//! reports). Every call comes from loopback.

use crate::common::{self, install_fixture, start_exact, Server, TempDir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const TOKEN: &str = "s3cret-dashboard-token-0123456789";

/// One HTTP/1.0 request: (status, head, body).
fn send(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let host = format!("127.0.0.1:{}", s.port);
    let mut all = vec![("Host", host.as_str())];
    all.extend_from_slice(headers);
    let (status, head, body) = common::http_request(s.port, method, path, &all, Some(body.as_bytes())).unwrap();
    (status, head, String::from_utf8_lossy(&body).to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn start_with(extra: &[&str]) -> (TempDir, Server) {
    let (tmp, home) = install_fixture("legacy-2026.3");
    let mut args = vec!["--openclaw-dir", home.to_str().unwrap(), "--token", TOKEN];
    args.extend_from_slice(extra);
    let s = start_exact(&args);
    (tmp, s)
}

#[test]
fn sensitive_endpoints_need_the_token() {
    let (_tmp, s) = start_with(&[]);
    let bearer = format!("Bearer {TOKEN}");
    for path in [
        "/api/overview",
        "/api/sessions",
        "/api/transcript/6a5d2a19-7148-419a-8c4c-28a69f062726",
        "/api/timeline",
        "/api/memory",
        "/api/logs",
        "/api/crons",
        "/api/budget",
        "/api/alerts/channels",
        "/api/nodes",
        "/api/events",
        "/metrics",
        "//api//sessions",
    ] {
        let (st, head, body) = send(&s, "GET", path, &[], "");
        assert_eq!(st, 401, "{path}: {body}");
        assert!(header(&head, "WWW-Authenticate").is_some_and(|v| v.starts_with("Bearer")), "{path}: {head}");
        assert!(body.contains("authentication required"), "{path}: {body}");
    }
    for (m, path) in
        [("POST", "/v1/traces"), ("PUT", "/api/budget"), ("POST", "/api/crons"), ("POST", "/api/alerts/test")]
    {
        let (st, _, body) = send(&s, m, path, &[("Content-Type", "application/json")], "{}");
        assert_eq!(st, 401, "{m} {path}: {body}");
    }
    for path in ["/api/sessions", "/api/overview", "/metrics", "/api/nodes"] {
        let (st, _, body) = send(&s, "GET", path, &[("Authorization", &bearer)], "");
        assert_eq!(st, 200, "{path}: {body}");
    }
    let (st, _, _) = send(&s, "GET", "/api/sessions", &[("Authorization", "Bearer wrong")], "");
    assert_eq!(st, 401);
    // The UI itself and the health check are public; health shows no token.
    let (st, _, body) = send(&s, "GET", "/", &[], "");
    assert_eq!(st, 200);
    assert!(body.contains("<script"), "{body}");
    let (st, _, body) = send(&s, "GET", "/js/login.js", &[], "");
    assert_eq!(st, 200);
    assert!(body.contains("/api/login"));
    let (st, _, body) = send(&s, "GET", "/api/health", &[], "");
    assert_eq!(st, 200, "{body}");
    assert!(!body.contains(TOKEN), "{body}");
    assert!(!body.to_lowercase().contains("\"token\""), "{body}");
}

#[test]
fn login_cookie_logout_and_the_failed_login_limit() {
    let (_tmp, s) = start_with(&[]);
    let json = [("Content-Type", "application/json")];
    let (st, head, body) = send(&s, "POST", "/api/login", &json, &format!("{{\"token\":\"{TOKEN}\"}}"));
    assert_eq!(st, 200, "{body}");
    let set = header(&head, "Set-Cookie").unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    assert!(!set.contains(TOKEN), "the cookie must not carry the token: {set}");
    let pair = set.split(';').next().unwrap().to_string();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "clawmetry_session");
    assert!(value.len() >= 32, "{value}");
    let cookie = [("Cookie", pair.as_str())];
    let (st, _, body) = send(&s, "GET", "/api/sessions", &cookie, "");
    assert_eq!(st, 200, "{body}");
    // A made-up session id is not a session.
    let (st, _, _) = send(&s, "GET", "/api/sessions", &[("Cookie", "clawmetry_session=00ff")], "");
    assert_eq!(st, 401);
    // Logout ends the session and clears the cookie.
    let (st, head, _) = send(&s, "POST", "/api/logout", &cookie, "");
    assert_eq!(st, 200);
    assert!(header(&head, "Set-Cookie").is_some_and(|c| c.contains("Max-Age=0")), "{head}");
    let (st, _, _) = send(&s, "GET", "/api/sessions", &cookie, "");
    assert_eq!(st, 401);
    // Wrong tokens: 401 five times, then 429 with Retry-After (even for the right one).
    for i in 0..5 {
        let (st, head, body) = send(&s, "POST", "/api/login", &json, "{\"token\":\"guess\"}");
        assert_eq!(st, 401, "try {i}: {body}");
        assert!(header(&head, "Set-Cookie").is_none());
    }
    let (st, head, body) = send(&s, "POST", "/api/login", &json, &format!("{{\"token\":\"{TOKEN}\"}}"));
    assert_eq!(st, 429, "{body}");
    let wait: u64 = header(&head, "Retry-After").and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!((1..=60).contains(&wait), "{head}");
    // The Bearer header still works: the limit is on guessing through the login form.
    let (st, _, _) = send(&s, "GET", "/api/sessions", &[("Authorization", &format!("Bearer {TOKEN}"))], "");
    assert_eq!(st, 200);
    // Guessing Bearer tokens is limited the same way (its own count): 401 five times, then 429
    // even for the right one, from that address.
    for i in 0..5 {
        let (st, _, body) = send(&s, "GET", "/api/sessions", &[("Authorization", "Bearer guess")], "");
        assert_eq!(st, 401, "try {i}: {body}");
    }
    let (st, head, body) = send(&s, "GET", "/api/sessions", &[("Authorization", &format!("Bearer {TOKEN}"))], "");
    assert_eq!(st, 429, "{body}");
    assert!(header(&head, "Retry-After").is_some(), "{head}");
}

#[test]
fn cross_origin_writes_are_refused() {
    let (_tmp, s) = start_with(&[]);
    let bearer = format!("Bearer {TOKEN}");
    let own = format!("http://127.0.0.1:{}", s.port);
    for (m, path) in
        [("POST", "/api/login"), ("PUT", "/api/budget"), ("POST", "/api/logout"), ("DELETE", "/api/crons/x")]
    {
        for origin in ["http://evil.example", "null", &format!("http://127.0.0.1:{}", s.port + 1)] {
            let (st, _, body) = send(
                &s,
                m,
                path,
                &[("Origin", origin), ("Authorization", &bearer), ("Content-Type", "application/json")],
                "{}",
            );
            assert_eq!(st, 403, "{m} {path} from {origin}: {body}");
            assert!(body.contains("cross-origin"), "{body}");
        }
    }
    // The dashboard's own origin is fine; GETs are not affected.
    let (st, _, body) = send(&s, "POST", "/api/logout", &[("Origin", &own)], "");
    assert_eq!(st, 200, "{body}");
    let (st, _, _) =
        send(&s, "GET", "/api/sessions", &[("Origin", "http://evil.example"), ("Authorization", &bearer)], "");
    assert_eq!(st, 200);
    // No wildcard CORS anywhere.
    for path in ["/", "/api/health", "/api/sessions"] {
        let (_, head, _) = send(&s, "GET", path, &[("Origin", "http://evil.example"), ("Authorization", &bearer)], "");
        assert!(header(&head, "Access-Control-Allow-Origin").is_none(), "{path}: {head}");
    }
}

#[test]
fn public_overview_opens_only_the_overview() {
    let (_tmp, s) = start_with(&["--public-overview"]);
    let (st, _, body) = send(&s, "GET", "/api/overview", &[], "");
    assert_eq!(st, 200, "{body}");
    for path in ["/api/sessions", "/api/timeline", "/api/logs", "/metrics"] {
        let (st, _, _) = send(&s, "GET", path, &[], "");
        assert_eq!(st, 401, "{path}");
    }
}

#[test]
fn without_any_token_loopback_still_works() {
    // An empty state dir: no openclaw.json, so no gateway token either.
    let tmp = TempDir::new("sec-empty");
    let s = start_exact(&["--openclaw-dir", tmp.path().to_str().unwrap()]);
    let (st, _, body) = send(&s, "GET", "/api/sessions", &[], "");
    assert_eq!(st, 200, "{body}");
    let (st, _, body) = send(&s, "POST", "/api/login", &[], "{\"token\":\"x\"}");
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("--token"), "{body}");
}

#[test]
fn secrets_are_redacted_in_transcripts_and_logs() {
    const SK: &str = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA-0123456789";
    const TG: &str = "7012345678:AAFbq-3xZ_9kLmNoPqRsTuVwXyZaBcDeFgH";
    let (tmp, home) = install_fixture("legacy-2026.3");
    let id = "6a5d2a19-7148-419a-8c4c-28a69f062726";
    let file = home.join(format!("agents/main/sessions/{id}.jsonl"));
    let line = serde_json::json!({"type": "message", "id": "5ec7e75e", "parentId": "9f80a768",
        "timestamp": "2026-04-08T03:09:00.000Z",
        "message": {"role": "user", "content": [{"type": "text",
            "text": format!("use ANTHROPIC_API_KEY={SK} and the bot {TG}")}]}});
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("{line}\n"));
    std::fs::write(&file, text).unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("openclaw-2026-04-08.log"),
        format!("{{\"time\":\"2026-04-08T03:09:01Z\",\"level\":\"INFO\",\"message\":\"telegram GET https://api.telegram.org/bot{TG}/getMe with Bearer {SK}\"}}\nplain line AKIAIOSFODNN7EXAMPLE\n"),
    )
    .unwrap();
    let s =
        start_exact(&["--openclaw-dir", home.to_str().unwrap(), "--log-dir", logs.to_str().unwrap(), "--token", TOKEN]);
    let auth = [("Authorization", format!("Bearer {TOKEN}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for path in [format!("/api/transcript/{id}?limit=1000"), format!("/api/timeline?session={id}")] {
        let (st, _, body) = send(&s, "GET", &path, &auth, "");
        assert_eq!(st, 200, "{path}: {body}");
        assert!(body.contains("use ANTHROPIC_API_KEY=[REDACTED] and the bot [REDACTED]"), "{path}: {body}");
        assert!(!body.contains(SK) && !body.contains(TG), "{path}: {body}");
    }
    let (st, _, body) = send(&s, "GET", "/api/logs", &auth, "");
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("bot[REDACTED]/getMe with Bearer [REDACTED]"), "{body}");
    assert!(body.contains("plain line [REDACTED]"), "{body}");
    assert!(!body.contains(SK) && !body.contains(TG) && !body.contains("AKIAIOSFODNN7EXAMPLE"), "{body}");
}

/// Secrets in the text OpenClaw and clients hand in, one kind per place they are shown.
const KEYS: [&str; 10] = [
    "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz_12-34567890abcd",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "AKIAIOSFODNN7EXAMPLE",
    "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA-0123456789",
    "7012345678:AAFbq-3xZ_9kLmNoPqRsTuVwXyZaBcDeFgH",
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8Pb",
];

/// Rewrites a JSON file of the fixture copy.
fn edit_json(path: &std::path::Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Replaces `from` (which must be there) in a text file of the fixture copy.
fn edit_text(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{}: no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn authed(s: &Server, method: &str, path: &str, body: &str) -> String {
    let bearer = format!("Bearer {TOKEN}");
    let (st, _, text) =
        send(s, method, path, &[("Authorization", &bearer), ("Content-Type", "application/json")], body);
    assert_eq!(st, 200, "{method} {path}: {text}");
    text
}

fn assert_no_secret(path: &str, body: &str) {
    for k in KEYS {
        assert!(!body.contains(k), "{path} shows {k}: {body}");
    }
}

#[test]
fn secrets_are_redacted_in_labels_tasks_crons_and_otlp() {
    let (tmp, home) = install_fixture("legacy-2026.3");
    let sessions = home.join("agents/main/sessions");
    // A session label, a sub-agent's first message (its task when no run record has one),
    // a run record's task, a cron job's prompt and a cron run's summary.
    edit_json(&sessions.join("sessions.json"), |v| {
        v["agent:main:main"]["label"] = format!("main chat with {}", KEYS[1]).into();
    });
    edit_text(
        &sessions.join("8bda3b15-d404-4ab9-a427-d4c89c251a7b.jsonl"),
        "[Subagent Task]: You are a PRODUCT NAMING",
        &format!("[Subagent Task]: Pull with {} first. You are a PRODUCT NAMING", KEYS[3]),
    );
    edit_json(&home.join("subagents/runs.json"), |v| {
        let t = &mut v["runs"]["1c61d358-0f3c-4637-a335-e1ff99da3b5f"]["task"];
        *t = format!("Push with {} when done. {}", KEYS[2], t.as_str().unwrap()).into();
    });
    edit_json(&home.join("cron/jobs.json"), |v| {
        let job = &mut v["jobs"][0];
        assert_eq!(job["name"], "auto-dream");
        job["name"] = format!("auto-dream {}", KEYS[7]).into();
        job["payload"]["message"] = format!("Dream with aws key {} tonight", KEYS[4]).into();
        job["description"] = format!("posts to https://hooks.slack.com/services/{}", KEYS[8]).into();
    });
    let runs = home.join("cron/runs/b9110520-e052-4b6e-a8cf-3112bb46e172.jsonl");
    edit_text(
        &runs,
        "\"summary\":\"**Dream Consolidation Summary",
        &format!("\"summary\":\"posted via {} **Dream Consolidation Summary", KEYS[0]),
    );
    let s = start_exact(&["--openclaw-dir", home.to_str().unwrap(), "--token", TOKEN]);

    // OTLP: a span with a secret in its name, an attribute and the conversation id (which
    // becomes a session), and a log record with one in its body and attributes.
    let traces = serde_json::json!({"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot-svc"}}]},
    "scopeSpans": [{"spans": [{
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "name": format!("GET /bot{}/getMe", KEYS[6]), "kind": 3,
        "startTimeUnixNano": "1775617200000000000", "endTimeUnixNano": "1775617201000000000",
        "attributes": [
            {"key": "http.request.header.authorization", "value": {"stringValue": format!("Bearer {}", KEYS[5])}},
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "3"}},
            {"key": "gen_ai.conversation.id", "value": {"stringValue": format!("conv/{}", KEYS[0])}}
        ]}]}]}]});
    authed(&s, "POST", "/v1/traces", &traces.to_string());
    let logs = serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot-svc"}}]},
    "scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1775617200000000000", "severityText": "INFO",
        "body": {"stringValue": format!("configured OPENAI_API_KEY={} for the run", KEYS[0])},
        "attributes": [{"key": "env", "value": {"kvlistValue": {"values": [
            {"key": "GITHUB_TOKEN", "value": {"stringValue": KEYS[2]}}]}}}]
    }, {
        "timeUnixNano": "1775617200000000000", "severityText": "WARN",
        "body": {"stringValue": format!("read deploy.pem:\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n", KEYS[9])}
    }]}]}]});
    authed(&s, "POST", "/v1/logs", &logs.to_string());

    let job = "b9110520-e052-4b6e-a8cf-3112bb46e172";
    let main = "003d9e5b-51f2-496b-911f-3564cacac047";
    let mut seen = String::new();
    for path in [
        "/api/sessions?limit=1000".to_string(),
        "/api/sessions?limit=1000&sort=label".to_string(),
        format!("/api/sessions/{main}"),
        "/api/sessions/8bda3b15-d404-4ab9-a427-d4c89c251a7b".to_string(),
        "/api/subagents".to_string(),
        "/api/overview".to_string(),
        "/api/usage".to_string(),
        "/api/usage.csv".to_string(),
        "/api/flow".to_string(),
        "/api/crons".to_string(),
        format!("/api/crons/{job}/runs"),
        "/api/otlp".to_string(),
        "/api/gateway".to_string(),
        "/api/nodes".to_string(),
        "/api/alerts".to_string(),
        "/metrics".to_string(),
    ] {
        let body = authed(&s, "GET", &path, "");
        assert_no_secret(&path, &body);
        seen.push_str(&body);
    }
    // The text around each secret is still there.
    for want in [
        "main chat with [REDACTED]",
        "Pull with [REDACTED] first. You are a PRODUCT NAMING",
        "Push with [REDACTED] when done. You are Michael",
        "auto-dream [REDACTED]",
        "Dream with aws key [REDACTED] tonight",
        "posted via [REDACTED] **Dream Consolidation Summary",
        "GET /bot[REDACTED]/getMe",
        "Bearer [REDACTED]",
        "conv/[REDACTED]",
        "configured OPENAI_API_KEY=[REDACTED] for the run",
        "posts to https://hooks.slack.com/services/[REDACTED]",
        "read deploy.pem:\\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----",
    ] {
        assert!(seen.contains(want), "{want:?} is missing");
    }
    // A search cannot find a session by its secret either (the index keeps the label redacted).
    let found = authed(&s, "GET", &format!("/api/sessions?q={}", &KEYS[1][..12]), "");
    assert!(found.contains("\"total\":0"), "{found}");
    drop(tmp);
}

#[test]
fn secrets_are_redacted_in_the_sqlite_era_stores() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    for a in ["main", "ops"] {
        std::fs::create_dir_all(home.join(format!("agents/{a}/sessions"))).unwrap();
    }
    let agent = rusqlite::Connection::open(home.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    let sub = "agent:main:subagent:74079b11-b0d7-499c-8b76-408f4c765fc9";
    let n = agent
        .execute("UPDATE session_nodes SET label = ?1 WHERE session_key = ?2", (format!("fake-sub {}", KEYS[6]), sub))
        .unwrap();
    assert_eq!(n, 1);
    drop(agent);
    let state = rusqlite::Connection::open(home.join("state/openclaw.sqlite")).unwrap();
    let n = state
        .execute(
            "UPDATE subagent_runs SET payload_json = json_set(payload_json, '$.task', ?1) \
             WHERE json_extract(payload_json, '$.childSessionKey') = ?2",
            (format!("Deploy with {} now", KEYS[7]), sub),
        )
        .unwrap();
    assert_eq!(n, 1);
    let n = state
        .execute(
            "UPDATE cron_jobs SET job_json = json_set(job_json, '$.description', ?1) WHERE job_id = ?2",
            (format!("promote with {}", KEYS[4]), "2be29d26-bec1-419d-8502-4eecd8cf3b77"),
        )
        .unwrap();
    assert_eq!(n, 1);
    let n = state
        .execute(
            "UPDATE task_runs SET terminal_summary = ?1, \
             detail_json = json_set(coalesce(detail_json, '{}'), '$.summary', ?1) WHERE runtime = 'cron'",
            (format!("Done. Used {} once.", KEYS[2]),),
        )
        .unwrap();
    assert!(n >= 1);
    drop(state);
    let s = start_exact(&["--openclaw-dir", home.to_str().unwrap(), "--token", TOKEN]);
    let mut seen = String::new();
    for path in ["/api/sessions?limit=1000", "/api/subagents", "/api/overview", "/api/usage", "/api/crons"] {
        let body = authed(&s, "GET", path, "");
        assert_no_secret(path, &body);
        seen.push_str(&body);
    }
    for want in
        ["fake-sub [REDACTED]", "Deploy with [REDACTED] now", "promote with [REDACTED]", "Done. Used [REDACTED] once."]
    {
        assert!(seen.contains(want), "{want:?} is missing");
    }
}

#[test]
fn fleet_node_reports_are_shown_redacted() {
    let (_tmp, home) = install_fixture("legacy-2026.3");
    let fleet_key = "fleet-key-0123456789";
    let s = common::start_exact_env(
        &["--openclaw-dir", home.to_str().unwrap(), "--token", TOKEN],
        &[("CLAWMETRY_FLEET_KEY", fleet_key)],
    );
    let node = serde_json::json!({"nodeId": "pi-1", "name": format!("pi {}", KEYS[2]), "host": "pi.local",
        "sessions": {"total": 1, "running": 0, "recent": [{"label": format!("deploy with {} today", KEYS[0])}]}});
    for path in ["/api/nodes/register", "/api/nodes/report"] {
        let (st, _, body) = send(
            &s,
            "POST",
            path,
            &[("X-Clawmetry-Fleet-Key", fleet_key), ("Content-Type", "application/json")],
            &node.to_string(),
        );
        assert_eq!(st, 200, "{path}: {body}");
    }
    let body = authed(&s, "GET", "/api/nodes", "");
    assert_no_secret("/api/nodes", &body);
    assert!(body.contains("deploy with [REDACTED] today") && body.contains("pi [REDACTED]"), "{body}");
}

/// One request naming `host` as its `Host` (or none): (status, body).
fn send_host(s: &Server, host: Option<&str>, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nConnection: close\r\n");
    if let Some(h) = host {
        req.push_str(&format!("Host: {h}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    c.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body.to_string())
}

#[test]
fn dns_rebinding_names_are_refused_where_loopback_needs_no_token() {
    let tmp = TempDir::new("sec-rebind");
    // Both ways a loopback request is let in without a token: --no-auth, and no token at all.
    for extra in [&["--no-auth"][..], &[][..]] {
        let mut args = vec!["--openclaw-dir", tmp.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        let s = start_exact(&args);
        let p = s.port;
        for host in [format!("127.0.0.1:{p}"), format!("localhost:{p}"), format!("[::1]:{p}"), "app.localhost".into()] {
            assert_eq!(send_host(&s, Some(&host), "GET", "/api/sessions", &[]).0, 200, "{host} {extra:?}");
        }
        assert_eq!(send_host(&s, None, "GET", "/api/sessions", &[]).0, 200, "no Host (HTTP/1.0 tool)");
        // A page of evil.example re-pointed at 127.0.0.1: reading transcripts, arming a budget.
        let evil = format!("evil.example:{p}");
        let (st, body) = send_host(&s, Some(&evil), "GET", "/api/sessions", &[]);
        assert_eq!(st, 403, "{body}");
        assert!(body.contains("--allow-host evil.example"), "{body}");
        let origin = format!("http://{evil}");
        let (st, _) = send_host(
            &s,
            Some(&evil),
            "PUT",
            "/api/budget",
            &[("Origin", &origin), ("Content-Type", "application/json")],
        );
        assert_eq!(st, 403);
        for sneaky in [format!("127.0.0.1.evil.example:{p}"), "localhost.evil.example".into(), "0.0.0.0".into()] {
            assert_eq!(send_host(&s, Some(&sneaky), "GET", "/api/sessions", &[]).0, 403, "{sneaky}");
        }
        // The static UI itself holds nothing secret: it still loads.
        assert_eq!(send_host(&s, Some(&evil), "GET", "/", &[]).0, 200);
    }
    // --allow-host names another name for this machine.
    let s = start_exact(&["--openclaw-dir", tmp.path().to_str().unwrap(), "--no-auth", "--allow-host", "pi.lan"]);
    assert_eq!(send_host(&s, Some(&format!("pi.lan:{}", s.port)), "GET", "/api/sessions", &[]).0, 200);
    assert_eq!(send_host(&s, Some("other.lan"), "GET", "/api/sessions", &[]).0, 403);
}
