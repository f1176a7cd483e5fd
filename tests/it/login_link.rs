//! The first five minutes on a Pi (issue 19): the start-up lines name the addresses to open and a
//! one-time login link; opening it logs the browser in and drops the code from the address bar;
//! the code works once and for 15 minutes (the server's clock moved with `--fake-now-ms`);
//! `clawmetry login-link` makes another for the running instance; a missing login shows the
//! login form alone, and after it the view asked for. The token is never printed.

use crate::browser::{Chrome, LAB_NOW_MS};
use crate::common::{http_request, install_fixture, start_exact, Server, TempDir};
use std::time::Duration;

const TOKEN: &str = "pi-login-token-0123456789abcdef";
const S: Duration = Duration::from_secs(10);

/// The login link the server printed (the first one: `--host 127.0.0.1` gives one address).
fn printed_link(server: &Server) -> String {
    let (link, _) = server.wait_for(S, |s| {
        s.stdout.lock().unwrap().iter().find_map(|l| {
            l.trim().strip_prefix("http://").filter(|u| u.contains("/login/")).map(|u| format!("http://{u}"))
        })
    });
    link
}

fn path_of(link: &str) -> String {
    link.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap()
}

fn get(server: &Server, path: &str) -> (u16, String) {
    let (st, head, _) = http_request(server.port, "GET", path, &[], None).unwrap();
    (st, head)
}

fn location(head: &str) -> String {
    crate::common::header(head, "location").unwrap_or_default()
}

#[test]
fn the_printed_link_logs_in_once_and_expires() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let data = TempDir::new("login-data");
    let args = |now: &str| {
        vec![
            "--openclaw-dir".to_string(),
            home.display().to_string(),
            "--token".into(),
            TOKEN.into(),
            "--fake-now-ms".into(),
            now.into(),
            "--data-dir".into(),
            data.path().display().to_string(),
        ]
    };
    let a = args(LAB_NOW_MS);
    let server = start_exact(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = server.stdout.lock().unwrap().join("\n");
    assert!(out.contains(&format!("clawmetry: open http://127.0.0.1:{}", server.port)), "{out}");
    assert!(!out.contains(TOKEN), "the token is never printed: {out}");
    let link = printed_link(&server);
    assert!(link.starts_with(&format!("http://127.0.0.1:{}/login/", server.port)), "{link}");

    // Opened in a browser: logged in, at `/`, the code gone from the address bar.
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&link);
    page.wait_rendered(0, "overview");
    assert_eq!(page.eval("location.pathname + location.search"), "/");
    assert_eq!(page.count("#login"), 0);
    assert_eq!(page.eval("document.cookie"), "", "the session cookie is HttpOnly");
    page.assert_no_errors("overview after the login link");

    // The code again: refused, and the login form says why.
    let (st, head) = get(&server, &path_of(&link));
    assert_eq!((st, location(&head)), (303, "/?login=expired".to_string()), "{head}");
    assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
    let other = Chrome::launch();
    let page2 = other.page();
    page2.goto(&link);
    page2.wait_for("login form", "!!document.querySelector('#login form')", S);
    assert!(page2.text("#login-link-note").contains("used already or has expired"), "{}", page2.text("#login"));

    // `clawmetry login-link` makes another for this instance.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["login-link", "--data-dir", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = String::from_utf8(run.stdout).unwrap();
    let fresh = text.lines().find_map(|l| l.trim().strip_prefix("http://")).map(|u| format!("http://{u}")).unwrap();
    assert!(fresh.starts_with(&format!("http://127.0.0.1:{}/login/", server.port)), "{text}");
    assert_ne!(fresh, link);
    let (st, head) = get(&server, &path_of(&fresh));
    assert_eq!((st, location(&head)), (303, "/".to_string()), "{head}");
    let cookie = crate::common::header(&head, "set-cookie").unwrap();
    assert!(cookie.starts_with("clawmetry_session=") && cookie.contains("HttpOnly"), "{cookie}");
    // The session works for the API.
    let id = cookie.split(';').next().unwrap();
    let (st, _, _) = http_request(server.port, "GET", "/api/overview", &[("Cookie", id)], None).unwrap();
    assert_eq!(st, 200);
    drop(server);
    // No instance running: the command says so.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_clawmetry"))
        .args(["login-link", "--data-dir", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is not running"), "{run:?}");

    // 15 minutes: a link printed at start is refused 16 minutes later.
    let server = start_exact(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let link = printed_link(&server);
    drop(server);
    let later = (LAB_NOW_MS.parse::<i64>().unwrap() + 16 * 60_000).to_string();
    let b = args(&later);
    let server = start_exact(&b.iter().map(String::as_str).collect::<Vec<_>>());
    let (st, head) = get(&server, &path_of(&link));
    assert_eq!((st, location(&head)), (303, "/?login=expired".to_string()), "{head}");
}

#[test]
fn a_missing_login_shows_the_login_form_alone_then_the_view_asked_for() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server =
        start_exact(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS, "--token", TOKEN]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url("/#/sessions?kind=subagent"));
    page.wait_for("login form", "!!document.querySelector('#login form')", S);
    page.wait_for("login state", "document.documentElement.dataset.state === 'login'", S);
    assert_eq!(page.count("#main .error"), 0, "no error card behind the login form");
    assert!(page.text("#main").contains("Log in to see this page"), "{}", page.text("#main"));
    assert!(page.text("#login").contains("login link"), "{}", page.text("#login"));
    page.eval(&format!(
        "(() => {{ const f = document.querySelector('#login form'); f.token.value = {}; f.requestSubmit(); return 1; }})()",
        serde_json::json!(TOKEN)
    ));
    page.wait_rendered(0, "sessions");
    assert_eq!(page.eval("location.hash"), "#/sessions?kind=subagent");
    assert_eq!(page.count("#s-table tbody tr"), 2, "the two sub-agents");
    page.assert_errors_only("login then the view asked for", &["401 (Unauthorized)"]);
}
