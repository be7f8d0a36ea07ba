//! Resolving a `Location` (or an `Upload-Concat` reference) against the URL
//! of the request it answered, as RFC 3986 section 5.2 does: servers answer
//! absolute URLs (`http://host/files/id`), absolute paths (`/files/id`) and,
//! rarely, relative paths (`id`). Clients that forgot the relative cases
//! are a known source of bugs (eventials/go-tus PR #42).

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// Why a reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {reference:?} against {base}: {reason}")]
pub struct LocationError {
    /// The reference as the server sent it.
    pub reference: String,
    /// The URL it was resolved against.
    pub base: String,
    /// What went wrong.
    pub reason: &'static str,
}

/// Resolves `reference` against `base` (an absolute URL).
///
/// ```
/// use http::Uri;
/// use tus_core::client::resolve;
///
/// let base: Uri = "http://127.0.0.1:1080/files/".parse().unwrap();
/// assert_eq!(resolve(&base, "/files/abc").unwrap(), "http://127.0.0.1:1080/files/abc");
/// assert_eq!(resolve(&base, "abc").unwrap(), "http://127.0.0.1:1080/files/abc");
/// assert_eq!(resolve(&base, "https://cdn.example/u/1").unwrap(), "https://cdn.example/u/1");
/// ```
pub fn resolve(base: &Uri, reference: &str) -> Result<Uri, LocationError> {
    let error = |reason| LocationError {
        reference: reference.to_owned(),
        base: base.to_string(),
        reason,
    };
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(error("empty reference"));
    }
    let (Some(scheme), Some(authority)) = (base.scheme(), base.authority()) else {
        return Err(error("the base is not an absolute URL"));
    };
    if has_scheme(reference) {
        let uri: Uri = reference.parse().map_err(|_| error("not a URL"))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(error("an absolute URL without a host"));
        }
        return Ok(uri);
    }
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{scheme}://{rest}")
            .parse()
            .map_err(|_| error("not a network-path reference"));
    }
    let path = if reference.starts_with('/') {
        remove_dot_segments(reference)
    } else if let Some(query) = reference.strip_prefix('?') {
        format!("{}?{query}", base.path())
    } else {
        let directory = base.path().rsplit_once('/').map_or("", |(directory, _)| directory);
        remove_dot_segments(&format!("{directory}/{reference}"))
    };
    build(scheme, authority, &path).ok_or_else(|| error("not a valid path"))
}

fn build(scheme: &Scheme, authority: &Authority, path: &str) -> Option<Uri> {
    let path_and_query: PathAndQuery = path.parse().ok()?;
    Uri::builder()
        .scheme(scheme.clone())
        .authority(authority.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

/// Whether the reference starts with `scheme:` (RFC 3986 section 3.1).
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !scheme.contains('/')
}

/// RFC 3986 section 5.2.4, on a path that may carry a query.
fn remove_dot_segments(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    output.push("");
                }
            }
            ".." => {
                output.pop();
                if last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let mut resolved = format!("/{}", output.join("/"));
    if let Some(query) = query {
        resolved.push('?');
        resolved.push_str(query);
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_table() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("http://h:1/files/", "http://h:1/files/a", Some("http://h:1/files/a")),
            ("http://h:1/files/", "https://other/x?y=1", Some("https://other/x?y=1")),
            ("http://h:1/files/", "/files/a", Some("http://h:1/files/a")),
            ("http://h:1/files", "/files/a", Some("http://h:1/files/a")),
            ("http://h:1/files/", "a", Some("http://h:1/files/a")),
            ("http://h:1/files", "a", Some("http://h:1/a")),
            ("http://h:1/files/x/", "../a", Some("http://h:1/files/a")),
            ("http://h:1/files/", "./a/./b", Some("http://h:1/files/a/b")),
            ("http://h:1/files/", "//cdn:2/u/1", Some("http://cdn:2/u/1")),
            ("https://h/files/", "/a/../../b", Some("https://h/b")),
            ("http://h/files/", "a?x=1", Some("http://h/files/a?x=1")),
            ("http://h/files/", "", None),
            ("http://h/files/", "http:", None),
            ("/files/", "/files/a", None),
            ("http://h/files/", "a b", None),
        ];
        for (base, reference, expected) in cases {
            let base: Uri = base.parse().expect("base");
            let got = resolve(&base, reference).ok().map(|uri| uri.to_string());
            assert_eq!(got.as_deref(), *expected, "{base} + {reference:?}");
        }
    }
}
