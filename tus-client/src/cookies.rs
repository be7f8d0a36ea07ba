//! The cookies of one upload: sent with every request, taken from every
//! answer, and saved with the upload's entry, session cookies included
//! (cookie_store's default save drops them, and a sticky load balancer's
//! cookie is one).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cookie_store::{Cookie, CookieStore, RawCookie};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use url::Url;

/// A cookie jar shared by the requests (and parts) of one upload.
#[derive(Debug, Clone, Default)]
pub(crate) struct CookieJar {
    store: Arc<Mutex<CookieStore>>,
}

impl CookieJar {
    /// A jar holding the saved cookies that have not expired (malformed ones are skipped).
    pub(crate) fn from_saved(saved: &[serde_json::Value]) -> Self {
        let cookies = saved
            .iter()
            .filter_map(|value| serde_json::from_value::<Cookie<'static>>(value.clone()).ok())
            .map(Ok::<_, std::convert::Infallible>);
        let store = CookieStore::from_cookies(cookies, false).unwrap_or_default();
        Self {
            store: Arc::new(Mutex::new(store)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CookieStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the `Cookie` header for `url` to `headers` (after any the caller set).
    pub(crate) fn add_to(&self, url: &Url, headers: &mut HeaderMap) {
        let store = self.lock();
        let pairs: Vec<String> = store
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return;
        }
        let mut text = pairs.join("; ");
        if let Some(existing) = headers.get(COOKIE).and_then(|value| value.to_str().ok()) {
            text = format!("{existing}; {text}");
        }
        if let Ok(value) = HeaderValue::from_str(&text) {
            headers.insert(COOKIE, value);
        }
    }

    /// Takes the `Set-Cookie` headers of an answer from `url`; whether any
    /// was stored.
    pub(crate) fn take_from(&self, url: &Url, headers: &HeaderMap) -> bool {
        let cookies: Vec<RawCookie<'static>> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| RawCookie::parse(text.to_owned()).ok())
            .collect();
        if cookies.is_empty() {
            return false;
        }
        self.lock().store_response_cookies(cookies.into_iter(), url);
        true
    }

    /// Every cookie that has not expired, session cookies included, in
    /// cookie_store's JSON form.
    pub(crate) fn saved(&self) -> Vec<serde_json::Value> {
        self.lock()
            .iter_unexpired()
            .filter_map(|cookie| serde_json::to_value(cookie).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_survive_a_save() {
        let url = Url::parse("http://127.0.0.1:8080/files/abc").expect("url");
        let jar = CookieJar::default();
        let mut answer = HeaderMap::new();
        answer.append(SET_COOKIE, HeaderValue::from_static("SRV=s2; path=/"));
        answer.append(SET_COOKIE, HeaderValue::from_static("gone=1; Max-Age=0"));
        assert!(jar.take_from(&url, &answer));
        let saved = jar.saved();
        assert_eq!(saved.len(), 1, "{saved:?}");

        let reloaded = CookieJar::from_saved(&saved);
        let mut request = HeaderMap::new();
        request.insert(COOKIE, HeaderValue::from_static("mine=1"));
        reloaded.add_to(&url, &mut request);
        assert_eq!(request.get(COOKIE).expect("cookie"), "mine=1; SRV=s2");

        let elsewhere = Url::parse("http://127.0.0.2:8080/files/abc").expect("url");
        let mut other = HeaderMap::new();
        reloaded.add_to(&elsewhere, &mut other);
        assert!(other.get(COOKIE).is_none(), "host-only cookies stay on their host");
        assert!(
            CookieJar::from_saved(&[serde_json::json!({"bogus": 1})])
                .saved()
                .is_empty()
        );
    }
}
