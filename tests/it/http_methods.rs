//! Methods (issue 13): a 405 names the methods the path takes in `Allow`, and each of those is
//! then not a 405; HEAD is GET without a body; a lower-case method is not taken for its
//! upper-case one.

use crate::common::{header, install_fixture, start};

const PATHS: [&str; 25] = [
    "/api/health",
    "/api/login",
    "/api/overview",
    "/api/sessions",
    "/api/sessions/bdfa3cc5-508a-4896-9c98-ae502491d01e",
    "/api/transcript/bdfa3cc5-508a-4896-9c98-ae502491d01e",
    "/api/usage",
    "/api/usage.csv",
    "/api/insight",
    "/api/crons",
    "/api/crons/x",
    "/api/crons/x/run",
    "/api/crons/x/toggle",
    "/api/crons/x/runs",
    "/api/budget",
    "/api/budget/resume",
    "/api/alerts",
    "/api/alerts/rules",
    "/api/alerts/rules/1",
    "/api/alerts/channels",
    "/api/alerts/test",
    "/api/history",
    "/v1/traces",
    "/metrics",
    "/",
];

#[test]
fn a_405_names_what_is_allowed_and_head_is_get_without_a_body() {
    let (_tmp, home) = install_fixture("lab-2026.9");
    let server = start(&["--openclaw-dir", home.to_str().unwrap(), "--fake-now-ms", "1795600000000"]);
    let mut checked = 0;
    for path in PATHS {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let (status, head, _) =
                server.request(method, path, &[("Content-Type", "application/json")], Some(b"{}")).unwrap();
            if status != 405 {
                continue;
            }
            let allow = header(&head, "Allow").unwrap_or_else(|| panic!("{method} {path}: 405 without Allow\n{head}"));
            assert!(!allow.split(", ").any(|m| m == method), "{method} {path}: 405 but Allow: {allow}");
            for m in allow.split(", ") {
                let (st, _, _) = server.request(m, path, &[("Content-Type", "application/json")], Some(b"{}")).unwrap();
                assert_ne!(st, 405, "{m} {path} is in Allow ({allow}) but answers 405");
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
    // HEAD: the GET's status and headers, no body.
    for path in ["/api/overview", "/api/sessions?limit=2", "/api/health", "/"] {
        let (gs, gh, gb) = server.request("GET", path, &[], None).unwrap();
        let (hs, hh, hb) = server.request("HEAD", path, &[], None).unwrap();
        assert_eq!((gs, hs), (200, 200), "{path}");
        assert!(hb.is_empty(), "HEAD {path} has a body");
        assert!(!gb.is_empty());
        assert_eq!(header(&gh, "Content-Type"), header(&hh, "Content-Type"), "{path}");
    }
    // A lower-case method is another method (RFC 9110: methods are case-sensitive).
    let (st, head, _) = server.request("get", "/api/overview", &[], None).unwrap();
    assert!(st == 405 || st == 400 || st == 501, "{st} {head}");
}
