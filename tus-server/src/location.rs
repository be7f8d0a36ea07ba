//! The `Location` of a new upload.

use std::str::FromStr as _;

use http::HeaderValue;
use http::header::{FORWARDED, HOST};
use http::request::Parts;
use http::uri::Authority;

use tus_core::upload::UploadId;

/// How the URL in `Location` is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationStyle {
    /// `scheme://host/base/id` from the request's `Host` (the default).
    /// With `trust_forwarded`, `Forwarded` and `X-Forwarded-Host`/`-Proto`
    /// from a reverse proxy take precedence.
    FromRequest {
        /// Trust proxy headers. Enable only behind a proxy that sets them.
        trust_forwarded: bool,
    },
    /// A path-only URL (`/base/id`); clients resolve it against their endpoint.
    Relative,
    /// A fixed public prefix such as `https://uploads.example`, followed by the base path and id.
    Fixed(String),
}

impl Default for LocationStyle {
    fn default() -> Self {
        Self::FromRequest { trust_forwarded: false }
    }
}

impl LocationStyle {
    /// The URL of upload `id` under `base_path` (which starts and ends with `/`).
    pub fn location(&self, parts: &Parts, base_path: &str, id: &UploadId) -> HeaderValue {
        let path = format!("{base_path}{id}");
        let url = match self {
            Self::Relative => path,
            Self::Fixed(prefix) => format!("{}{path}", prefix.trim_end_matches('/')),
            Self::FromRequest { trust_forwarded } => match origin(parts, *trust_forwarded) {
                Some((scheme, host)) => format!("{scheme}://{host}{path}"),
                None => path,
            },
        };
        // Ids and validated authorities are URL-safe; the fallback is never expected.
        HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/"))
    }
}

fn origin(parts: &Parts, trust_forwarded: bool) -> Option<(String, String)> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (mut scheme, mut host) = (None::<String>, None::<String>);
    if trust_forwarded {
        if let Some(forwarded) = parts.headers.get(FORWARDED).and_then(|v| v.to_str().ok()) {
            // First proxy hop only: `for=..;host=..;proto=..`.
            let first = forwarded.split(',').next().unwrap_or_default();
            for pair in first.split(';') {
                if let Some((key, value)) = pair.trim().split_once('=') {
                    let value = value.trim_matches('"').to_owned();
                    match key.trim().to_ascii_lowercase().as_str() {
                        "host" => host = Some(value),
                        "proto" => scheme = Some(value),
                        _ => {}
                    }
                }
            }
        }
        host = host
            .or_else(|| header("x-forwarded-host").map(|h| h.split(',').next().unwrap_or_default().trim().to_owned()));
        scheme = scheme
            .or_else(|| header("x-forwarded-proto").map(|p| p.split(',').next().unwrap_or_default().trim().to_owned()));
    }
    let host = host
        .or_else(|| parts.headers.get(HOST).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))?;
    let authority = Authority::from_str(host.trim())
        .ok()
        .filter(|a| !a.as_str().contains('@'))?;
    let scheme = scheme
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .or_else(|| parts.uri.scheme_str().map(str::to_owned))
        .unwrap_or_else(|| "http".to_owned());
    let host = match (scheme.as_str(), authority.port_u16()) {
        ("http", Some(80)) | ("https", Some(443)) => authority.host().to_owned(),
        _ => authority.as_str().to_owned(),
    };
    Some((scheme, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(list: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri("/files/");
        for (name, value) in list {
            builder = builder.header(*name, *value);
        }
        builder.body(()).expect("request").into_parts().0
    }

    #[test]
    fn location_table() {
        let id = UploadId::parse("abc").expect("id");
        let trusted = LocationStyle::FromRequest { trust_forwarded: true };
        let direct = LocationStyle::default();
        let cases: &[(&LocationStyle, &[(&str, &str)], &str)] = &[
            (
                &direct,
                &[("host", "127.0.0.1:1080")],
                "http://127.0.0.1:1080/files/abc",
            ),
            (
                &direct,
                &[("host", "a.example"), ("x-forwarded-proto", "https")],
                "http://a.example/files/abc",
            ),
            (
                &trusted,
                &[
                    ("host", "10.0.0.1"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "a.example"),
                ],
                "https://a.example/files/abc",
            ),
            (
                &trusted,
                &[
                    ("host", "10.0.0.1"),
                    ("forwarded", "for=1.2.3.4;host=b.example:443;proto=https"),
                ],
                "https://b.example/files/abc",
            ),
            (
                &trusted,
                &[("host", "h"), ("x-forwarded-proto", "gopher")],
                "http://h/files/abc",
            ),
            (&direct, &[("host", "evil.example/x?")], "/files/abc"),
            (&direct, &[("host", "user@evil.example")], "/files/abc"),
            (&direct, &[], "/files/abc"),
            (&LocationStyle::Relative, &[("host", "a.example")], "/files/abc"),
            (
                &LocationStyle::Fixed("https://up.example/".into()),
                &[("host", "a")],
                "https://up.example/files/abc",
            ),
        ];
        for (style, headers, expected) in cases {
            assert_eq!(
                style.location(&parts(headers), "/files/", &id),
                *expected,
                "{style:?} {headers:?}"
            );
        }
    }
}
