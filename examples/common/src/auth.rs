//! Bearer-token auth and the hooks that use it.

use std::collections::HashMap;

use futures::future::BoxFuture;
use http::StatusCode;
use tus_core::upload::UploadInfo;
use tus_server::{HookContext, Hooks, PreCreate, Rejection};

/// The metadata key holding the id of the user who created an upload.
pub const USER_ID_KEY: &str = "user_id";

/// The authenticated user. The auth middleware puts it into the request
/// extensions; the hooks read it from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User(pub String);

/// Bearer tokens and the users they stand for (`--auth-token TOKEN=USER`).
#[derive(Debug, Clone, Default)]
pub struct Tokens(HashMap<String, String>);

impl Tokens {
    /// Parses `TOKEN=USER` pairs.
    pub fn parse(pairs: &[String]) -> Result<Self, String> {
        let mut tokens = HashMap::new();
        for pair in pairs {
            match pair.split_once('=') {
                Some((token, user)) if !token.is_empty() && !user.is_empty() => {
                    tokens.insert(token.to_owned(), user.to_owned());
                }
                _ => return Err(format!("--auth-token {pair:?}: expected TOKEN=USER")),
            }
        }
        Ok(Self(tokens))
    }

    /// Whether no token is configured (auth is off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The user of an `Authorization` header value `Bearer TOKEN`, if the
    /// token is known.
    pub fn user(&self, authorization: &[u8]) -> Option<User> {
        let text = std::str::from_utf8(authorization).ok()?;
        let (scheme, token) = text.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.0.get(token.trim()).map(|user| User(user.clone()))
    }
}

/// The example servers' hooks: with auth on, creating needs a [`User`]
/// (401 otherwise), who is recorded as `user_id` in the metadata, and only
/// that user may terminate the upload. A finished upload is logged.
#[derive(Debug, Clone)]
pub struct AppHooks {
    auth: bool,
}

impl AppHooks {
    /// The hooks; `auth`: require a user to create.
    pub fn new(auth: bool) -> Self {
        Self { auth }
    }
}

impl Hooks for AppHooks {
    fn pre_create<'a>(
        &'a self,
        cx: &'a HookContext,
        upload: &'a mut PreCreate,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            match cx.extensions().get::<User>() {
                // Overwrites a client-sent user_id: the metadata says who really uploaded.
                Some(User(user)) => upload
                    .metadata_mut()
                    .set(USER_ID_KEY, user.as_bytes())
                    .map_err(Rejection::internal),
                None if self.auth => Err(Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "a valid bearer token is required to upload",
                )),
                None => Ok(()),
            }
        })
    }

    fn pre_terminate<'a>(&'a self, cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            if !self.auth {
                return Ok(());
            }
            let owner = info.metadata.get(USER_ID_KEY);
            match cx.extensions().get::<User>() {
                Some(User(user)) if owner == Some(user.as_bytes()) => Ok(()),
                Some(_) => Err(Rejection::new(StatusCode::FORBIDDEN, "only the uploader may terminate")),
                None => Err(Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "a valid bearer token is required",
                )),
            }
        })
    }

    fn post_finish<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            tracing::info!(
                id = %info.id,
                size = info.offset,
                user = info.metadata.get_str(USER_ID_KEY),
                filename = info.metadata.get_str("filename"),
                "upload finished"
            );
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_table() {
        let tokens = Tokens::parse(&["s3cret=alice".to_owned(), "t2=bob".to_owned()]).expect("tokens");
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"Bearer s3cret", Some("alice")),
            (b"bearer t2", Some("bob")),
            (b"Bearer nope", None),
            (b"Basic s3cret", None),
            (b"s3cret", None),
            (b"Bearer \xff", None),
        ];
        for (header, user) in cases {
            assert_eq!(
                tokens.user(header),
                user.map(|u| User(u.to_owned())),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
        assert!(Tokens::parse(&["novalue".to_owned()]).is_err());
        assert!(Tokens::parse(&["=x".to_owned()]).is_err());
    }
}
