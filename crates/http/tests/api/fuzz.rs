//! Random methods, paths, headers and bodies never produce a 5xx while Redis is healthy.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::helpers::{spawn_app, Created, TestApp};

#[derive(Debug, Clone)]
enum Auth {
    None,
    Valid,
    Unknown,
    Raw(String),
}

#[derive(Debug, Clone)]
enum Token {
    None,
    Valid,
    Raw(String),
}

#[derive(Debug, Clone)]
struct Case {
    method: String,
    path: String,
    auth: Auth,
    token: Token,
    if_match: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Printable ASCII header values (what an HTTP client can send at all).
fn header_text() -> impl Strategy<Value = String> {
    "[ -~]{0,80}"
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~-]{0,30}",
        "(%[0-9A-Fa-f]{2}|[a-z]){1,12}",
        "%[G-Z%]{0,3}",
        Just("u".repeat(300)),
        Just("0a1xxxxxxxxxxxxxxxxxxxxxx".to_owned()),
    ]
}

/// The API's routes, so most cases reach a handler rather than the router's 404/405.
const ROUTES: [(&str, &str); 13] = [
    ("POST", "/v1/sessions"),
    ("GET", "/v1/sessions/current"),
    ("PUT", "/v1/sessions/current"),
    ("PATCH", "/v1/sessions/current"),
    ("DELETE", "/v1/sessions/current"),
    ("POST", "/v1/sessions/current/rotate"),
    ("POST", "/v1/sessions/refresh"),
    ("GET", "/v1/users/{}/sessions"),
    ("DELETE", "/v1/users/{}/sessions"),
    ("DELETE", "/v1/users/{}/sessions/{}"),
    ("POST", "/v1/users/{}/deletion-tokens"),
    ("POST", "/v1/deletion-tokens/redeem"),
    ("GET", "/v1/openapi.json"),
];

fn method_and_path() -> impl Strategy<Value = (String, String)> {
    let route =
        prop::sample::select(ROUTES.to_vec()).prop_map(|(m, p)| (m.to_owned(), p.to_owned()));
    let random = (
        prop_oneof![
            prop::sample::select(vec![
                "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"
            ])
            .prop_map(str::to_owned),
            "[A-Z]{1,8}",
        ],
        prop_oneof![
            prop::sample::select(ROUTES.to_vec()).prop_map(|(_, p)| p.to_owned()),
            Just("/{}".to_owned()),
            Just("/v1/{}/{}".to_owned()),
        ],
    );
    let query = prop::option::of(prop_oneof![
        Just("touch=false".to_owned()),
        Just("touch=maybe".to_owned()),
        "except=[a-zA-Z0-9%]{0,30}",
        "[a-z=&%]{0,20}",
    ]);
    (
        prop_oneof![4 => route, 1 => random],
        segment(),
        segment(),
        query,
    )
        .prop_map(|((method, template), a, b, query)| {
            let path = template.replacen("{}", &a, 1).replacen("{}", &b, 1);
            match query {
                Some(q) => (method, format!("{path}?{q}")),
                None => (method, path),
            }
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("x".repeat(600))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "user_id",
            "data",
            "metadata",
            "idle_ttl_seconds",
            "ip",
            "user_agent",
            "device",
            "refresh_token",
            "deletion_token",
            "scope",
            "session_id",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (".{0,20}", json_value()).prop_map(|(user, data)| {
            serde_json::json!({"user_id": user, "data": data})
                .to_string()
                .into_bytes()
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        method_and_path(),
        prop_oneof![
            1 => Just(Auth::None),
            6 => Just(Auth::Valid),
            1 => Just(Auth::Unknown),
            1 => header_text().prop_map(Auth::Raw),
        ],
        prop_oneof![
            1 => Just(Token::None),
            3 => Just(Token::Valid),
            1 => header_text().prop_map(Token::Raw),
        ],
        prop_oneof![
            3 => Just(None),
            1 => Just(Some("\"1\"".to_owned())),
            1 => header_text().prop_map(Some),
        ],
        prop_oneof![
            4 => Just(Some("application/json".to_owned())),
            1 => Just(Some("application/merge-patch+json".to_owned())),
            1 => Just(None),
            1 => header_text().prop_map(Some),
        ],
        body(),
    )
        .prop_map(
            |((method, path), auth, token, if_match, content_type, body)| Case {
                method,
                path,
                auth,
                token,
                if_match,
                content_type,
                body,
            },
        )
}

async fn send(app: &TestApp, session: &Created, case: &Case) -> Result<u16, String> {
    let method = Method::from_bytes(case.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = app.client.request(method, app.url(&case.path));
    req = match &case.auth {
        Auth::None => req,
        Auth::Valid => req.bearer_auth(&app.keys.all),
        Auth::Unknown => req.bearer_auth("sdb_k1_unknown"),
        Auth::Raw(v) => req.header("Authorization", v),
    };
    req = match &case.token {
        Token::None => req,
        Token::Valid => req.header("X-Session-Token", &session.session_token),
        Token::Raw(v) => req.header("X-Session-Token", v),
    };
    if let Some(v) = &case.if_match {
        req = req.header("If-Match", v);
    }
    if let Some(v) = &case.content_type {
        req = req.header("Content-Type", v);
    }
    let response = req
        .body(case.body.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    Ok(response.status().as_u16())
}

#[test]
fn random_requests_never_get_a_5xx_while_redis_is_healthy() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, session) = rt.block_on(async {
        let app = spawn_app().await;
        let session = app.create_session("fuzz-user").await;
        (app, session)
    });
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| {
            let status = rt
                .block_on(send(&app, &session, &case))
                .map_err(TestCaseError::fail)?;
            prop_assert!(status < 500, "{case:?} got {status}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    drop(app);
}
