//! Small JSON readers with clear errors, for decoding the settings users send.

use serde_json::{Map, Value};

pub(super) type Obj = Map<String, Value>;

pub(super) fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, String> {
    v.as_object().ok_or_else(|| format!("{what} must be a JSON object"))
}

pub(super) fn no_unknown(o: &Obj, allowed: &[&str], what: &str) -> Result<(), String> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("{what}: unknown field {k:?} (allowed: {})", allowed.join(", ")));
        }
    }
    Ok(())
}

pub(super) fn opt_num(o: &Obj, k: &str, what: &str, min: f64, max: f64) -> Result<Option<f64>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n >= min && n <= max => Ok(Some(n)),
            _ => Err(format!("{what}.{k} must be a number from {min} to {max}, not {v}")),
        },
    }
}

pub(super) fn positive_usd(o: &Obj, k: &str, what: &str) -> Result<Option<f64>, String> {
    match opt_num(o, k, what, 0.0, 1e9)? {
        Some(n) if n <= 0.0 => Err(format!("{what}.{k} must be more than 0 (use null for no limit)")),
        x => Ok(x),
    }
}

pub(super) fn int(o: &Obj, k: &str, what: &str, min: u64, max: u64, default: Option<u64>) -> Result<u64, String> {
    match o.get(k) {
        None | Some(Value::Null) => default.ok_or_else(|| format!("{what}: {k} is required")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min && n <= max => Ok(n),
            _ => Err(format!("{what}.{k} must be a whole number from {min} to {max}, not {v}")),
        },
    }
}

pub(super) fn boolean(o: &Obj, k: &str, what: &str, default: bool) -> Result<bool, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("{what}.{k} must be true or false, not {v}")),
    }
}

pub(super) fn string(o: &Obj, k: &str, what: &str, max: usize) -> Result<Option<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => {
            if s.chars().any(|c| c.is_control()) {
                return Err(format!("{what}.{k} must not contain control characters"));
            }
            Ok(Some(s.trim().to_string()))
        }
        Some(Value::String(_)) => Err(format!("{what}.{k} is longer than {max} characters")),
        Some(v) => Err(format!("{what}.{k} must be a string, not {v}")),
    }
}

pub(super) fn required(o: &Obj, k: &str, what: &str, max: usize) -> Result<String, String> {
    match string(o, k, what, max)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{what}: {k} is required")),
    }
}
