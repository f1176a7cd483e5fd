//! What a handler answers when it refuses: [`ApiError`], a status and a message (and, for a
//! few refusals, headers such as `Retry-After` or extra fields beside the message). Handlers
//! return [`Answer`] and use `?`; the route table turns an error into its HTTP answer, the JSON
//! object `{"error": message}`, in one place (`From<ApiError> for Resp`).
//!
//! The conversions from the errors of other layers live here too: a bad query parameter
//! (`http::BadQuery`) is a 400, and each `monitor::Error` has its status.

use super::Resp;
use serde_json::{json, Value};

/// A handler's answer: the response, or why the request is refused.
pub type Answer = Result<Resp, ApiError>;

/// A refusal: sent as `{"error": message}` with `status` (and `headers`).
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    headers: Vec<(&'static str, String)>,
    /// Fields of the error object beside `error` (the gateway's own error code).
    fields: Vec<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), headers: Vec::new(), fields: Vec::new() }
    }

    /// A 400: the request itself is wrong; the message says how.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// A 404 saying "`what` not found".
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, format!("{what} not found"))
    }

    /// A 503: it cannot be done now (a file cannot be read, a thread is not ready).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, message)
    }

    /// The same refusal with a header added (`Retry-After`, `WWW-Authenticate`, ...).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    /// The same refusal with a field added to the error object.
    pub fn with_field(mut self, key: &'static str, value: impl Into<Value>) -> ApiError {
        self.fields.push((key, value.into()));
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl From<ApiError> for Resp {
    fn from(e: ApiError) -> Resp {
        let mut r = Resp::error(e.status, &e.message);
        if !e.fields.is_empty() {
            let mut body = json!({ "error": e.message });
            for (k, v) in e.fields {
                body[k] = v;
            }
            r.body = serde_json::to_vec(&body).unwrap_or_default();
        }
        r.headers.extend(e.headers);
        r
    }
}

/// A query parameter that is not a number: a 400 with the parser's message.
impl From<crate::http::BadQuery> for ApiError {
    fn from(e: crate::http::BadQuery) -> ApiError {
        ApiError::bad_request(e.0)
    }
}

/// A monitor error (budget, alert rules, channels) with its status.
impl From<crate::monitor::Error> for ApiError {
    fn from(e: crate::monitor::Error) -> ApiError {
        use crate::monitor::Error::*;
        let status = match &e {
            Invalid(_) => 400,
            NotFound(_) => 404,
            Unavailable(_) => 503,
            Timeout(_) => 504,
            Storage(_) => 500,
        };
        ApiError::new(status, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_the_json_object_of_its_message() {
        let r = Resp::from(ApiError::not_found("session \"x\"").with_header("Retry-After", "5"));
        assert_eq!(r.status, 404);
        assert_eq!(r.body, br#"{"error":"session \"x\" not found"}"#);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.headers, vec![("Cache-Control", "no-store".into()), ("Retry-After", "5".into())]);
        let r = Resp::from(ApiError::new(502, "cannot run the job: boom").with_field("gatewayCode", "E"));
        assert_eq!(r.body, br#"{"error":"cannot run the job: boom","gatewayCode":"E"}"#);
    }
}
