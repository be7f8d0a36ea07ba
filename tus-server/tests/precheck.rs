//! `TusHandler::precheck`: what a server answers instead of `100 Continue`.

use std::sync::Arc;

use http::{Request, StatusCode};
use tus_core::server::cors::{AllowedOrigins, Cors};
use tus_core::store::MemoryStore;
use tus_server::TusHandler;

fn handler() -> TusHandler {
    TusHandler::builder(Arc::new(MemoryStore::new()))
        .base_path("/files/")
        .max_size(100)
        .cors(Cors {
            origins: AllowedOrigins::List(vec!["https://app.example".into()]),
            ..Cors::default()
        })
        .build()
}

fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("request").into_parts().0
}

#[test]
fn refusals_before_the_body_and_passes() {
    let handler = handler();
    let tus = ("tus-resumable", "1.0.0");
    let octets = ("content-type", "application/offset+octet-stream");
    let cases: &[(&str, &str, Vec<(&str, &str)>, Option<StatusCode>)] = &[
        (
            "POST",
            "/files/",
            vec![tus, ("upload-length", "101"), octets],
            Some(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        ("POST", "/files/", vec![tus, ("upload-length", "100"), octets], None),
        (
            "POST",
            "/files/",
            vec![tus, ("upload-length", "x")],
            Some(StatusCode::BAD_REQUEST),
        ),
        (
            "POST",
            "/files/",
            vec![("tus-resumable", "0.1.0"), ("upload-length", "1")],
            Some(StatusCode::PRECONDITION_FAILED),
        ),
        (
            "POST",
            "/files/",
            vec![tus, ("upload-length", "1"), ("origin", "https://evil.example")],
            Some(StatusCode::FORBIDDEN),
        ),
        (
            "POST",
            "/files/",
            vec![tus, ("upload-length", "1"), ("origin", "https://app.example")],
            None,
        ),
        // The store decides on appends (offset, length): nothing refused up front.
        ("PATCH", "/files/abc", vec![tus, ("upload-offset", "5"), octets], None),
        ("PATCH", "/files/abc", vec![tus, octets], Some(StatusCode::BAD_REQUEST)),
    ];
    for (method, uri, headers, expected) in cases {
        let answer = handler.precheck(&head(method, uri, headers));
        assert_eq!(
            answer.as_ref().map(|r| r.status()),
            *expected,
            "{method} {uri} {headers:?}"
        );
        if let Some(response) = answer {
            assert_eq!(response.headers()["tus-resumable"], "1.0.0");
        }
    }
}
