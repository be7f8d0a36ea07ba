//! Cross-origin resource sharing for browser clients (tus-js-client, Uppy).
//!
//! On by default for any origin: preflights are answered, every tus header is
//! allowed in requests and exposed in responses.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD,
    ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

use super::error::TusError;
use super::response::ALLOWED_METHODS;

const ALLOWED_HEADERS: &str = "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, \
    Content-Type, Content-Disposition, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, \
    Upload-Defer-Length, Upload-Concat, Upload-Checksum, Upload-Complete, Upload-Draft-Interop-Version";

const EXPOSED_HEADERS: &str = "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, \
    Tus-Extension, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, Tus-Checksum-Algorithm, \
    Upload-Complete, Upload-Limit, Upload-Draft-Interop-Version, Content-Disposition, Content-Range";

/// Which origins may call the server from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin.
    Any,
    /// Exactly these origins (for example `https://app.example`), compared case-insensitively.
    List(Vec<String>),
}

/// CORS configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Whether CORS headers are sent at all.
    pub enabled: bool,
    /// Allowed origins.
    pub origins: AllowedOrigins,
    /// Whether browsers may send cookies and credentials (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
    /// Extra request headers to allow beyond the tus ones (comma-separated).
    pub extra_allowed_headers: Option<String>,
    /// Extra response headers to expose beyond the tus ones (comma-separated),
    /// for example a request id that middleware adds.
    pub extra_exposed_headers: Option<String>,
    /// How long browsers may cache a preflight.
    pub max_age: Duration,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            enabled: true,
            origins: AllowedOrigins::Any,
            allow_credentials: false,
            extra_allowed_headers: None,
            extra_exposed_headers: None,
            max_age: Duration::from_secs(86_400),
        }
    }
}

/// The CORS role of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsRequest {
    /// Not a cross-origin request (no `Origin`), or CORS disabled.
    None,
    /// A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin.
    Preflight(HeaderValue),
    /// An actual request from an allowed origin.
    Actual(HeaderValue),
}

impl Cors {
    /// Classifies a request; an origin that is not allowed is an error (403).
    pub fn classify(&self, method: &Method, headers: &HeaderMap) -> Result<CorsRequest, TusError> {
        let Some(origin) = headers.get(ORIGIN).filter(|_| self.enabled) else {
            return Ok(CorsRequest::None);
        };
        if !self.allows(origin) {
            return Err(TusError::OriginNotAllowed);
        }
        if *method == Method::OPTIONS && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
            Ok(CorsRequest::Preflight(origin.clone()))
        } else {
            Ok(CorsRequest::Actual(origin.clone()))
        }
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => origin
                .to_str()
                .is_ok_and(|origin| list.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))),
        }
    }

    /// Adds the CORS headers for `request` to a response.
    pub fn apply(&self, request: &CorsRequest, headers: &mut HeaderMap) {
        let (origin, preflight) = match request {
            CorsRequest::None => return,
            CorsRequest::Preflight(origin) => (origin, true),
            CorsRequest::Actual(origin) => (origin, false),
        };
        if self.origins == AllowedOrigins::Any && !self.allow_credentials {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        } else {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        if self.allow_credentials {
            headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if preflight {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                header_list(ALLOWED_HEADERS, self.extra_allowed_headers.as_deref()),
            );
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(self.max_age.as_secs()));
        } else {
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                header_list(EXPOSED_HEADERS, self.extra_exposed_headers.as_deref()),
            );
        }
    }
}

/// `base`, then `extra` (comma-separated names); `base` alone if `extra`
/// is not a valid header value.
fn header_list(base: &'static str, extra: Option<&str>) -> HeaderValue {
    extra
        .and_then(|extra| HeaderValue::from_str(&format!("{base}, {extra}")).ok())
        .unwrap_or(HeaderValue::from_static(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, list: &[(&str, &str)]) -> (Method, HeaderMap) {
        let mut headers = HeaderMap::new();
        for (name, value) in list {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        (method, headers)
    }

    #[test]
    fn default_allows_any_origin_and_answers_preflight() {
        let cors = Cors::default();
        let (method, headers) = request(
            Method::OPTIONS,
            &[
                ("origin", "https://a.example"),
                ("access-control-request-method", "PATCH"),
            ],
        );
        let role = cors.classify(&method, &headers).expect("allowed");
        assert!(matches!(role, CorsRequest::Preflight(_)));
        let mut out = HeaderMap::new();
        cors.apply(&role, &mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            out[ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .expect("ascii")
                .contains("Upload-Offset")
        );
        assert!(
            out[ACCESS_CONTROL_ALLOW_METHODS]
                .to_str()
                .expect("ascii")
                .contains("PATCH")
        );
    }

    #[test]
    fn actual_requests_expose_tus_headers() {
        let cors = Cors::default();
        let (method, headers) = request(Method::POST, &[("origin", "https://a.example")]);
        let role = cors.classify(&method, &headers).expect("allowed");
        let mut out = HeaderMap::new();
        cors.apply(&role, &mut out);
        let exposed = out[ACCESS_CONTROL_EXPOSE_HEADERS].to_str().expect("ascii");
        for header in [
            "Location",
            "Upload-Offset",
            "Upload-Length",
            "Tus-Resumable",
            "Upload-Metadata",
        ] {
            assert!(exposed.contains(header), "{header}");
        }
    }

    #[test]
    fn origin_list_and_credentials_echo_the_origin() {
        let cors = Cors {
            origins: AllowedOrigins::List(vec!["https://app.example".into()]),
            allow_credentials: true,
            ..Cors::default()
        };
        let (method, headers) = request(Method::PATCH, &[("origin", "https://evil.example")]);
        assert!(matches!(
            cors.classify(&method, &headers),
            Err(TusError::OriginNotAllowed)
        ));
        let (method, headers) = request(Method::PATCH, &[("origin", "https://app.example")]);
        let role = cors.classify(&method, &headers).expect("allowed");
        let mut out = HeaderMap::new();
        cors.apply(&role, &mut out);
        assert_eq!(out[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(out[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(out[VARY], "Origin");
    }

    #[test]
    fn extra_headers_are_allowed_and_exposed() {
        let cors = Cors {
            extra_allowed_headers: Some("X-CSRF-Token".into()),
            extra_exposed_headers: Some("X-Request-ID".into()),
            ..Cors::default()
        };
        let (method, headers) = request(
            Method::OPTIONS,
            &[
                ("origin", "https://a.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        let mut out = HeaderMap::new();
        cors.apply(&cors.classify(&method, &headers).expect("allowed"), &mut out);
        let allowed = out[ACCESS_CONTROL_ALLOW_HEADERS].to_str().expect("ascii");
        assert!(
            allowed.ends_with(", X-CSRF-Token") && allowed.contains("Upload-Length"),
            "{allowed}"
        );
        let (method, headers) = request(Method::POST, &[("origin", "https://a.example")]);
        let mut out = HeaderMap::new();
        cors.apply(&cors.classify(&method, &headers).expect("allowed"), &mut out);
        let exposed = out[ACCESS_CONTROL_EXPOSE_HEADERS].to_str().expect("ascii");
        assert!(
            exposed.ends_with(", X-Request-ID") && exposed.contains("Location"),
            "{exposed}"
        );
    }

    #[test]
    fn no_origin_means_no_cors() {
        let (method, headers) = request(Method::POST, &[]);
        assert_eq!(
            Cors::default().classify(&method, &headers).expect("ok"),
            CorsRequest::None
        );
    }
}
