//! The demo page of `tus-axum --demo` and `tus-actix --demo`: Uppy's
//! Dashboard uploading to the server's tus endpoint, with progress,
//! pause/resume and resume after a reload.
//!
//! The assets are bundled from the npm packages pinned in
//! `examples/demo/package-lock.json` by `build.rs` (npm ci + esbuild) and
//! embedded in the binary, so the page needs no CDN. Without Node.js and
//! npm at build time the page explains how to get the real one.
//!
//! Routes: [`INDEX_PATH`] (the page) and [`ASSETS_PREFIX`]`demo.js`,
//! [`ASSETS_PREFIX`]`demo.css`; [`respond`] answers all three.

use std::borrow::Cow;

/// Where the page is served.
pub const INDEX_PATH: &str = "/";
/// Where the bundled assets are served.
pub const ASSETS_PREFIX: &str = "/demo/";

/// Whether the build bundled the real assets (npm and Node.js were there).
pub const BUNDLED: bool = matches!(env!("TUS_DEMO_BUNDLED").as_bytes(), b"1");

const INDEX_HTML: &str = include_str!("../web/index.html");
const DEMO_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/demo.js"));
const DEMO_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/demo.css"));

const NOT_BUNDLED_HTML: &str = "<!doctype html><meta charset=utf-8><title>tus-rs demo</title>\
<h1>tus-rs demo</h1><p>The demo page's assets were not bundled when this binary was built: \
bundling needs Node.js and npm (it runs <code>npm ci</code> and esbuild in <code>examples/demo</code>). \
Install them, then build again (<code>cargo build</code>). The tus endpoint works without the page.</p>";

/// One answer: a content type and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: Cow<'static, [u8]>,
}

/// The answer for a GET of `path`, or `None` when the path is not the
/// demo's. `endpoint` is the tus endpoint the page uploads to (the base path).
pub fn respond(path: &str, endpoint: &str) -> Option<Page> {
    let html = "text/html; charset=utf-8";
    match path.strip_prefix(ASSETS_PREFIX) {
        _ if path == INDEX_PATH && !BUNDLED => Some(Page {
            content_type: html,
            body: Cow::Borrowed(NOT_BUNDLED_HTML.as_bytes()),
        }),
        _ if path == INDEX_PATH => Some(Page {
            content_type: html,
            body: Cow::Owned(INDEX_HTML.replace("{{ENDPOINT}}", &escape_html(endpoint)).into_bytes()),
        }),
        Some("demo.js") => Some(Page {
            content_type: "text/javascript; charset=utf-8",
            body: Cow::Borrowed(DEMO_JS),
        }),
        Some("demo.css") => Some(Page {
            content_type: "text/css; charset=utf-8",
            body: Cow::Borrowed(DEMO_CSS),
        }),
        _ => None,
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let index = respond("/", "/files/").expect("index");
        assert!(index.content_type.starts_with("text/html"));
        if BUNDLED {
            let text = String::from_utf8(index.body.into_owned()).expect("utf-8");
            assert!(text.contains(r#"<meta name="tus-endpoint" content="/files/">"#));
            assert!(respond("/demo/demo.js", "/files/").expect("js").body.len() > 10_000);
        }
        assert!(respond("/demo/other.js", "/files/").is_none());
        assert!(respond("/files/", "/files/").is_none());
        assert_eq!(escape_html(r#"/a"<b>"#), "/a&quot;&lt;b&gt;");
    }
}
