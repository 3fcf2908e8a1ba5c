//! Extractors whose rejections are [`ApiError`]s, so malformed input always gets a
//! problem+json answer naming what is wrong: JSON bodies, query strings, path segments,
//! the `X-Session-Token` and `If-Match` headers and the client address.
//!
//! Status rules: a body that is not JSON, a wrong content type, a bad header or query
//! string is 400; JSON of the wrong shape or a field failing validation is 422 with
//! `field` set; a body over the limit is 413.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{HeaderMap, HeaderName, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sessiondb_engine::{reserved_member_within, SessionData, SessionToken, RESERVED_MEMBER};
use sha2::{Digest, Sha256};

use crate::client_addr::client_addr;
use crate::error::ApiError;
use crate::state::AppState;
use crate::strict::Strict;

/// The header that carries the session token (never the URL, so it stays out of access
/// logs, proxy logs and browser history).
pub(crate) const X_SESSION_TOKEN: HeaderName = HeaderName::from_static("x-session-token");
/// Longest accepted `X-Session-Token`, in bytes.
pub(crate) const MAX_TOKEN_HEADER_LEN: usize = 512;

/// A JSON body (`application/json` or any `application/*+json`, e.g.
/// `application/merge-patch+json`).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body with a free-form `data` object (a session's data), which can be large:
/// `data` is moved out of the parsed document instead of copied, and `T` is read from
/// the rest. `data` is `None` when the body has no `data` object; a `data` that is not an
/// object stays in the document, so reading `T` rejects it as it would any field.
#[derive(Debug)]
pub(crate) struct ApiJsonData<T> {
    pub(crate) body: T,
    pub(crate) data: Option<SessionData>,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJsonData<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(req, state).await?;
        let mut document = parse_document(&bytes)?;
        let data = document
            .as_object_mut()
            .and_then(|members| match members.remove("data") {
                Some(serde_json::Value::Object(data)) => Some(data),
                Some(other) => {
                    members.insert("data".to_owned(), other);
                    None
                }
                None => None,
            });
        let body = read_document(&document)?;
        Ok(Self { body, data })
    }
}

/// The body of a request that must be JSON (see [`is_json`]), within the size limit.
async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers()) {
        return Err(ApiError::bad_request(
            Some("Content-Type".to_owned()),
            "Content-Type must be application/json",
        ));
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                detail: "the request body exceeds the size limit".to_owned(),
            }
        } else {
            ApiError::bad_request(None, "the request body could not be read")
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes a JSON document, reporting the path of a field of the wrong shape.
///
/// The document is parsed first (syntax errors are 400) and then read through
/// [`Strict`], so an array is never taken for an object (shape errors are 422).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    read_document(&parse_document(bytes)?)
}

/// Parses a JSON document (syntax errors are 400). An object that uses serde_json's
/// reserved member name among other members is refused (422) here, before [`Strict`]
/// reads the document: reading it again would keep only the number and drop the rest.
fn parse_document(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    let document: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| json_error(".", &e))?;
    if reserved_member_within([&document]) {
        return Err(ApiError::Invalid {
            field: None,
            detail: format!(
                "the member name `{RESERVED_MEMBER}` is reserved (it carries exact numbers)"
            ),
        });
    }
    Ok(document)
}

/// Reads a parsed document through [`Strict`] (shape errors are 422, with the path).
fn read_document<T: DeserializeOwned>(document: &serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Strict(document)).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        json_error(&path, &inner)
    })
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    if !error.is_data() {
        return ApiError::bad_request(None, format!("the body is not valid JSON: {message}"));
    }
    let field = if path == "." {
        // `missing field `x`` and `unknown field `x`, expected …` name it in backticks.
        message.split('`').nth(1).map(str::to_owned)
    } else {
        Some(path.to_owned())
    };
    match field {
        Some(field) if path != "." => {
            ApiError::invalid(field.clone(), format!("{field}: {message}"))
        }
        Some(field) => ApiError::invalid(field, message.to_owned()),
        None => ApiError::Invalid {
            field: None,
            detail: message.to_owned(),
        },
    }
}

/// Whether every `%` in `raw` starts a `%XX` escape (two hex digits). Decoders pass a
/// malformed escape through literally (`%ZZ` would become the text `%ZZ`); the API
/// rejects it instead.
fn percent_encoding_is_valid(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        match bytes.get(at + 1..at + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return false,
        }
    }
    true
}

/// A query string; unknown or malformed parameters are 400.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if !percent_encoding_is_valid(parts.uri.query().unwrap_or_default()) {
            return Err(ApiError::bad_request(
                Some("query".to_owned()),
                "the query string has an invalid percent-encoding (a % not followed by two hex digits)",
            ));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|r| ApiError::bad_request(Some("query".to_owned()), r.body_text()))
    }
}

/// Path segments.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // The route's literal segments hold no `%`, so any `%` is in a parameter.
        if !percent_encoding_is_valid(parts.uri.path()) {
            return Err(ApiError::bad_request(
                Some("path".to_owned()),
                "the path has an invalid percent-encoding (a % not followed by two hex digits)",
            ));
        }
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|r| ApiError::bad_request(Some("path".to_owned()), r.body_text()))
    }
}

/// The session token from `X-Session-Token`. The first 8 hex characters of its SHA-256
/// go into the request span, never the token.
#[derive(Debug)]
pub(crate) struct SessionTokenHeader(pub(crate) SessionToken);

impl<S: Send + Sync> FromRequestParts<S> for SessionTokenHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let bad = |detail: &str| ApiError::bad_request(Some("X-Session-Token".to_owned()), detail);
        let value = parts
            .headers
            .get(X_SESSION_TOKEN)
            .ok_or_else(|| bad("the X-Session-Token header is required"))?;
        if value.len() > MAX_TOKEN_HEADER_LEN {
            return Err(bad("X-Session-Token is too long"));
        }
        let raw = value
            .to_str()
            .map_err(|_| bad("X-Session-Token is not a valid session token"))?;
        let span = tracing::Span::current();
        let token = SessionToken::parse(raw).map_err(|_| {
            record_token(&span, || token_log_prefix(raw));
            bad("X-Session-Token is not a valid session token")
        })?;
        record_token(&span, || token.log_id());
        Ok(Self(token))
    }
}

/// Records a token's log id in the request span, computing it only when the span is
/// recorded at all.
pub(crate) fn record_token(span: &tracing::Span, log_id: impl FnOnce() -> String) {
    if !span.is_disabled() {
        span.record("token", log_id());
    }
}

/// First 8 hex characters of a token's SHA-256: enough to trace, useless to an attacker.
pub(crate) fn token_log_prefix(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..4])
}

/// The expected version from `If-Match: "<version>"`; absent or `*` is no condition.
#[derive(Debug)]
pub(crate) struct IfMatch(pub(crate) Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IF_MATCH).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        let bad = || {
            ApiError::bad_request(
                Some("If-Match".to_owned()),
                "If-Match must be one strong ETag, e.g. \"3\", or *",
            )
        };
        if values.next().is_some() {
            return Err(bad());
        }
        let value = value.to_str().map_err(|_| bad())?.trim();
        if value == "*" {
            return Ok(Self(None));
        }
        parse_etag(value).map(|v| Self(Some(v))).ok_or_else(bad)
    }
}

/// `"<digits>"` → the number.
fn parse_etag(value: &str) -> Option<u64> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    if inner.is_empty() || inner.len() > 20 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok()
}

/// The ETag of a session version.
pub(crate) fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The client's address: the peer address, or behind `server.trusted_proxies` the
/// rightmost untrusted `X-Forwarded-For` hop (see [`client_addr`]).
#[derive(Debug)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                addr.ip()
            });
        Ok(Self(client_addr(
            peer,
            &parts.headers,
            &app.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn field_of(json: &str) -> (u16, Option<String>, String) {
        let err = parse_json::<Body>(json.as_bytes()).expect_err("invalid");
        let p = err.problem();
        (p.status, p.field, p.detail)
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422_naming_the_field() {
        assert_eq!(field_of("{").0, 400);
        assert_eq!(field_of(r#"{"name":"a"} trailing"#).0, 400);
        assert_eq!(
            field_of("{}"),
            (
                422,
                Some("name".to_owned()),
                "missing field `name`".to_owned()
            )
        );
        assert_eq!(field_of(r#"{"name":"a","x":1}"#).1.as_deref(), Some("x"));
        let (status, field, detail) = field_of(r#"{"name":"a","inner":{"n":300}}"#);
        assert_eq!((status, field.as_deref()), (422, Some("inner.n")));
        assert!(detail.starts_with("inner.n: "), "{detail}");
        assert!(!detail.contains("line"), "{detail}");
    }

    #[test]
    fn percent_escapes_need_two_hex_digits() {
        for ok in [
            "",
            "/v1/users/a/sessions",
            "a%20b",
            "%2F%2f",
            "%41%42%43",
            "100%25",
        ] {
            assert!(percent_encoding_is_valid(ok), "{ok}");
        }
        for bad in [
            "%",
            "%Z",
            "%ZZ",
            "a%2",
            "%2G",
            "ok%20then%",
            "%%41",
            "%\u{e9}9",
        ] {
            assert!(!percent_encoding_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn etags_are_strong_decimal_versions() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("W/\"3\""), None);
        assert_eq!(parse_etag("\"\""), None);
        assert_eq!(parse_etag("\"99999999999999999999999\""), None);
        assert_eq!(etag(7), "\"7\"");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WithData {
        name: String,
        #[serde(default)]
        data: SessionData,
    }

    async fn with_data(json: &str) -> Result<ApiJsonData<WithData>, ApiError> {
        let req = Request::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(json.to_owned()))
            .expect("request");
        ApiJsonData::from_request(req, &()).await
    }

    #[tokio::test]
    async fn a_data_object_is_moved_out_and_anything_else_rejected_in_place() {
        let read = with_data(r#"{"name":"a","data":{"k":[1,2.50,"x"],"n":{}}}"#)
            .await
            .expect("valid");
        assert_eq!(read.body.name, "a");
        assert!(read.body.data.is_empty());
        let data = read.data.expect("the data object");
        assert_eq!(
            serde_json::to_string(&data).expect("serializes"),
            r#"{"k":[1,2.50,"x"],"n":{}}"#
        );
        let none = with_data(r#"{"name":"a"}"#).await.expect("valid");
        assert!(none.data.is_none() && none.body.data.is_empty());
        for bad in [r#"{"name":"a","data":[1]}"#, r#"{"name":"a","data":null}"#] {
            let p = with_data(bad).await.expect_err("not an object").problem();
            assert_eq!((p.status, p.field.as_deref()), (422, Some("data")), "{bad}");
        }
        let p = with_data(r#"{"data":{}}"#)
            .await
            .expect_err("no name")
            .problem();
        assert_eq!((p.status, p.field.as_deref()), (422, Some("name")));
        let p = with_data(r#"[{"data":{}}]"#)
            .await
            .expect_err("an array")
            .problem();
        assert_eq!(p.status, 422);
    }

    #[test]
    fn json_content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, ct.parse().expect("header"));
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
