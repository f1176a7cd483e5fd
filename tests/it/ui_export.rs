//! The export controls in a real browser (issue 15): the session page's Export menu points at
//! the four formats, "Copy as Markdown" puts the session's Markdown on the clipboard, or in a
//! text box to copy by hand where the clipboard API is missing (plain http://), and the sessions
//! list's export links carry its filters.

use crate::browser::{Chrome, LAB_NOW_MS};
use crate::common::{install_fixture, start};
use std::time::Duration;

const MAIN: &str = "bdfa3cc5-508a-4896-9c98-ae502491d01e";
const S: Duration = Duration::from_secs(10);

#[test]
fn export_menu_copy_as_markdown_and_list_links() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", LAB_NOW_MS]);
    let chrome = Chrome::launch();
    let page = chrome.page();
    page.goto(&server.url(&format!("/#/sessions/{MAIN}")));
    page.wait_rendered(0, "session");

    let hrefs = page.eval("[...document.querySelectorAll('#tl-export a')].map(a => a.getAttribute('href'))");
    let want: Vec<String> =
        ["json", "jsonl", "md", "csv"].iter().map(|f| format!("/api/sessions/{MAIN}/export?format={f}")).collect();
    assert_eq!(hrefs, serde_json::json!(want));

    // The clipboard API, captured.
    page.eval("window.__copied = null; navigator.clipboard.writeText = async (t) => { window.__copied = t; }; 1");
    page.click("#tl-copy");
    page.wait_for("copied", "document.querySelector('#tl-copied').textContent === 'Copied'", S);
    let md = page.eval("window.__copied").as_str().unwrap().to_string();
    let (_, _, api_md) = server.get_raw(&format!("/api/sessions/{MAIN}/export?format=md")).unwrap();
    assert_eq!(md.as_bytes(), api_md.as_slice());
    assert!(md.contains("> Hello from the lab, turn 1.") && md.contains("<summary>🔧 exec</summary>"));

    // No clipboard API (http:// on another host): the text in a box, selected.
    page.eval("Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }); 1");
    page.click("#tl-copy");
    let boxed = page.wait_for("copy box", "(a => a && a.value)(document.querySelector('#tl-copybox textarea'))", S);
    assert_eq!(boxed.as_str().unwrap(), md);
    page.click("#tl-copyclose");
    assert_eq!(page.count("#tl-copybox textarea"), 0);

    page.show("#/sessions?kind=subagent&sort=cost", "sessions");
    let csv = page.eval("document.querySelector('#s-csv').getAttribute('href')");
    let csv = csv.as_str().unwrap();
    assert!(csv.contains("kind=subagent") && csv.contains("sort=cost") && csv.contains("format=csv"), "{csv}");
    let lines = page.eval(&format!(
        "fetch({}).then(r => r.text()).then(t => t.trim().split('\\n').length)",
        serde_json::json!(csv)
    ));
    assert_eq!(lines, 3, "a header and the two sub-agents");
    let json = page.eval("document.querySelector('#s-json').getAttribute('href')");
    assert!(json.as_str().unwrap().contains("format=json"));
    page.assert_no_errors("export controls");
}
