use super::smtp::*;
use super::*;
use crate::codec::base64;
use serde_json::{json, Value};

#[test]
fn base64_and_dates() {
    for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
        assert_eq!(base64(i.as_bytes()), o);
    }
    let t = crate::timefmt::parse_iso_ms("2026-11-24T21:06:10Z").unwrap();
    assert_eq!(rfc2822(t), "Tue, 24 Nov 2026 21:06:10 +0000");
    assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
}

#[test]
fn budget_validation_and_levels() {
    let b = Budget::from_json(
        &json!({"dailyUsd": 5, "monthlyUsd": 100, "agents": {"ops": {"dailyUsd": 1}}, "autoPause": true}),
    )
    .unwrap();
    assert_eq!(b.overall.daily_usd, Some(5.0));
    assert_eq!(b.warn_percent, 80.0);
    assert!(b.auto_pause);
    let limits = b.limits();
    assert_eq!(limits.len(), 3);
    assert_eq!(limits[2], (Some("ops"), Period::Day, 1.0));
    assert_eq!(Budget::from_json(&b.to_json()).unwrap(), b);
    for (bad, want) in [
        (json!({"dailyUsd": -1}), "dailyUsd"),
        (json!({"dailyUsd": 0}), "more than 0"),
        (json!({"dailyUsd": "5"}), "must be a number"),
        (json!({"daily": 5}), "unknown field \"daily\""),
        (json!({"warnPercent": 100}), "warnPercent"),
        (json!({"agents": []}), "agents must be an object"),
        (json!({"agents": {"x": {"weekly": 1}}}), "budget.agents.x: unknown field"),
        (json!([1]), "must be a JSON object"),
    ] {
        let e = Budget::from_json(&bad).unwrap_err();
        assert!(e.contains(want), "{bad}: {e}");
    }
    assert_eq!(level(0.79, 1.0, 80.0), Level::Ok);
    assert_eq!(level(0.8, 1.0, 80.0), Level::Warning);
    assert_eq!(level(1.0, 1.0, 80.0), Level::Over);
}

#[test]
fn channels_keep_secrets_hidden_and_merge_them() {
    let v = json!({
        "telegram": {"botToken": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "chatId": -1001234},
        "webhook": {"url": "https://hooks.example.com/x", "secret": "s3cret"},
        "email": {"host": "smtp.example.com", "from": "bot@example.com", "to": "a@example.com, b@example.com",
                  "username": "bot", "password": "pw"}
    });
    let c = Channels::from_json(&v, &Channels::default()).unwrap();
    assert_eq!(c.telegram.as_ref().unwrap().chat_id, "-1001234");
    assert_eq!(c.email.as_ref().unwrap().port, 587);
    assert_eq!(c.email.as_ref().unwrap().to.len(), 2);
    let public = c.public_json().to_string();
    for secret in ["ABC-DEF1234", "s3cret", "\"pw\""] {
        assert!(!public.contains(secret), "{secret} leaked: {public}");
    }
    assert!(public.contains("\"botTokenSet\":true") && public.contains("\"passwordSet\":true"));
    // A PUT of the public form keeps every secret; "" clears one.
    let mut again = c.public_json();
    again["webhook"]["secret"] = json!("");
    let c2 = Channels::from_json(&again, &c).unwrap();
    assert_eq!(c2.telegram, c.telegram);
    assert_eq!(c2.email.as_ref().unwrap().password.as_deref(), Some("pw"));
    assert_eq!(c2.webhook.as_ref().unwrap().secret, None);
    assert_eq!(Channels::from_json(&c.to_json(), &Channels::default()).unwrap(), c);
    for (bad, want) in [
        (json!({"telegram": {"chatId": 1}}), "botToken is required"),
        (json!({"telegram": {"botToken": "1:a/b", "chatId": 1}}), "does not look like"),
        (json!({"telegram": {"botToken": "1:abc", "chatId": "me"}}), "chatId"),
        (json!({"webhook": {"url": "ftp://x"}}), "http:// or https://"),
        (json!({"email": {"host": "h", "from": "x", "to": "a@b.c"}}), "from is not an e-mail"),
        (json!({"email": {"host": "h", "from": "a@b.c", "to": []}}), "1 to 20 recipient"),
        (json!({"email": {"host": "h", "from": "a@b.c", "to": "x@y.z\r\nBcc: evil@x.y"}}), "not an e-mail address"),
        (json!({"email": {"host": "h", "from": "a@b.c", "to": "x@y.z", "security": "ssl"}}), "starttls, tls or none"),
        (json!({"sms": {}}), "unknown field"),
    ] {
        let e = Channels::from_json(&bad, &Channels::default()).unwrap_err();
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn rules_decode_with_defaults_and_clear_errors() {
    let r = Rule::from_json(&json!({"kind": "token_spike", "tokens": 1000}), 4).unwrap();
    assert_eq!(r.kind, RuleKind::TokenSpike { tokens: 1000, minutes: 10 });
    assert_eq!((r.id, r.cooldown_minutes, r.enabled), (4, 30, true));
    assert_eq!(r.name, "More than 1000 tokens in 10 min");
    assert_eq!(Rule::from_json(&r.to_json(), 4).unwrap(), r);
    for k in RULE_KINDS {
        let mut v = json!({"kind": k, "tokens": 5, "percent": 50, "minutes": 5});
        let o = v.as_object_mut().unwrap();
        match *k {
            "token_spike" => o.remove("percent"),
            "error_rate" => o.remove("tokens"),
            "disk" => {
                o.remove("tokens");
                o.remove("minutes")
            }
            "gateway_down" | "cron_health" | "spend_anomaly" => {
                o.remove("tokens");
                o.remove("percent");
                o.remove("minutes")
            }
            _ => {
                o.remove("tokens");
                o.remove("percent")
            }
        };
        let r = Rule::from_json(&v, 1).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(r.kind_name(), *k);
        assert_eq!(Rule::from_json(&r.to_json(), 1).unwrap(), r);
    }
    for (bad, want) in [
        (json!({}), "kind is required"),
        (json!({"kind": "moon_phase"}), "unknown kind"),
        (json!({"kind": "token_spike"}), "tokens is required"),
        (json!({"kind": "token_spike", "tokens": 10, "percent": 5}), "unknown field \"percent\""),
        (json!({"kind": "long_session", "minutes": 0}), "from 1 to"),
        (json!({"kind": "disk", "percent": 150}), "percent must be a number from 1 to 100"),
        (json!({"kind": "disk", "percent": 90, "enabled": "yes"}), "true or false"),
    ] {
        let e = Rule::from_json(&bad, 1).unwrap_err();
        assert!(e.contains(want), "{bad}: {e}");
    }
}

fn sample(m: i64, tokens: u64, events: u64, errors: u64) -> Sample {
    Sample { mono_ms: m * 60_000, tokens, events, errors }
}

#[test]
fn windows_and_rule_evaluation() {
    let mut obs = Observations { now_ms: 10 * 3_600_000, ..Default::default() };
    obs.window.push(sample(0, 1000, 10, 0));
    obs.window.push(sample(5, 1500, 20, 1));
    // A dip (a session re-read) counts as zero, not as negative.
    obs.window.push(sample(6, 1200, 20, 1));
    obs.window.push(sample(10, 9000, 40, 9));
    let d = obs.window.delta(5).unwrap();
    assert_eq!((d.tokens, d.events, d.errors, d.covered_ms), (7800, 20, 8, 300_000));
    assert_eq!(obs.window.delta(60).unwrap().tokens, 8300);
    let rule = |v: Value| Rule::from_json(&v, 7).unwrap();
    let spike = rule(json!({"kind": "token_spike", "tokens": 5000, "minutes": 5}));
    let a = evaluate(&spike, &obs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].dedupe, "rule:7");
    assert_eq!(a[0].data["tokens"], 7800);
    assert!(evaluate(&rule(json!({"kind": "token_spike", "tokens": 9000, "minutes": 5})), &obs).is_empty());
    let mut off = spike.clone();
    off.enabled = false;
    assert!(evaluate(&off, &obs).is_empty());
    // 8 errors of 20 = 40%.
    assert_eq!(evaluate(&rule(json!({"kind": "error_rate", "percent": 30, "minutes": 5})), &obs).len(), 1);
    assert!(evaluate(&rule(json!({"kind": "error_rate", "percent": 50, "minutes": 5})), &obs).is_empty());
    assert!(
        evaluate(&rule(json!({"kind": "error_rate", "percent": 30, "minutes": 5, "minEvents": 21})), &obs).is_empty()
    );

    obs.running = vec![
        RunningSession {
            id: "s-old".into(),
            agent: "main".into(),
            label: Some("Old".into()),
            started_ms: obs.now_ms - 3_600_000,
        },
        RunningSession { id: "s-new".into(), agent: "main".into(), label: None, started_ms: obs.now_ms - 60_000 },
    ];
    let a = evaluate(&rule(json!({"kind": "long_session", "minutes": 30})), &obs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].dedupe, "rule:7:session:s-old");
    assert_eq!(a[0].title, "Session Old running for 60 min");

    let fail = |job: &str, ago_min: i64| CronFailure {
        run_id: format!("r{ago_min}"),
        job_id: job.into(),
        job_name: Some(format!("job {job}")),
        finished_ms: obs.now_ms - ago_min * 60_000,
        status: "error".into(),
        error: Some("exit 3".into()),
    };
    obs.cron_failures = vec![fail("a", 5), fail("a", 10), fail("b", 500)];
    let a = evaluate(&rule(json!({"kind": "cron_failure"})), &obs);
    assert_eq!(a.len(), 1, "job b failed too long ago");
    assert_eq!(a[0].data["failures"], 2);
    assert_eq!(a[0].severity, "critical");
    assert!(a[0].message.contains("exit 3"));

    obs.disks =
        vec![("OpenClaw dir".into(), "/home/pi/.openclaw".into(), 91.5), ("data dir".into(), "/data".into(), 40.0)];
    let a = evaluate(&rule(json!({"kind": "disk", "percent": 90})), &obs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].dedupe, "rule:7:disk:/home/pi/.openclaw");
    obs.gateway = Some((18789, false));
    assert_eq!(evaluate(&rule(json!({"kind": "gateway_down"})), &obs).len(), 1);
    obs.gateway = Some((18789, true));
    assert!(evaluate(&rule(json!({"kind": "gateway_down"})), &obs).is_empty());
}

#[test]
fn email_message_is_dot_stuffed_and_encoded() {
    let e = Email {
        enabled: true,
        host: "h".into(),
        port: 25,
        security: Security::None,
        username: None,
        password: None,
        from: "bot@example.com".into(),
        to: vec!["a@example.com".into()],
    };
    let m = email_message(&e, "[clawmetry] Disk", "line\n.dot first\nend", 0, "pi");
    assert!(m.contains("\r\n..dot first\r\n"), "{m}");
    assert!(m.ends_with("end\r\n.\r\n"));
    assert!(m.contains("Subject: [clawmetry] Disk\r\n"));
    let m = email_message(&e, "Budget 🔴", "über", 0, "pi");
    assert!(m.contains("Subject: =?UTF-8?B?"));
    assert!(m.contains("Content-Transfer-Encoding: base64"));
    assert!(m.contains(&base64("über".as_bytes())));
    assert!(
        is_loopback("127.0.0.1")
            && is_loopback("[::1]")
            && is_loopback("localhost")
            && !is_loopback("mail.example.com")
    );
}

#[test]
fn spend_anomaly_alerts_once_per_hour_and_metric() {
    let rule = Rule::from_json(&json!({"kind": "spend_anomaly"}), 9).unwrap();
    assert_eq!(rule.name, "Unusual hourly cost or tokens");
    // Hour 1000 cost USD 6 against USD 0.50 on each of the 7 days before (threshold 1.50);
    // tokens as usual. Hour 999: nothing at all.
    let usage = |h: u32| match h {
        1000 => (6.0, 10_000.0),
        h if (1000 - h) % 24 == 0 => (0.5, 10_000.0),
        _ => (0.0, 0.0),
    };
    let obs = Observations {
        hours: crate::spend::hour_checks(&crate::tz::Zone::utc(), &usage, 1000, 2, 0),
        ..Default::default()
    };
    let a = evaluate(&rule, &obs);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].dedupe, "rule:9:cost:1000");
    assert_eq!(a[0].data["threshold"], json!(1.5));
    assert_eq!(a[0].data["partial"], json!(true));
    assert!(a[0].title.contains("USD 6.00"), "{}", a[0].title);
    // USD 1.40 in that hour stays under the floor: no alert.
    let calm = |h: u32| if h == 1000 { (1.4, 10_000.0) } else { usage(h) };
    let obs = Observations {
        hours: crate::spend::hour_checks(&crate::tz::Zone::utc(), &calm, 1000, 2, 0),
        ..Default::default()
    };
    assert!(evaluate(&rule, &obs).is_empty());
}
