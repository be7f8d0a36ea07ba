//! Bearer-token auth and the hooks that use it.

use std::collections::HashMap;

use futures::future::BoxFuture;
use http::StatusCode;
use tus_server::upload::UploadInfo;
use tus_server::{Access, HookContext, Hooks, PreCreate, Rejection};

/// The metadata key holding the id of the user who created an upload.
pub const USER_ID_KEY: &str = "user_id";

/// The `WWW-Authenticate` challenge the servers add to a 401 (RFC 9110
/// requires one): a bearer token is expected.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"tus\"";

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

/// The example servers' hooks. With auth on (`--auth-token`), every request
/// on an upload is authorized, not only its creation:
///
/// - creating needs a [`User`] (401 otherwise), who is recorded as
///   `user_id` in the metadata (a client-sent `user_id` is overwritten);
/// - HEAD, PATCH, GET, DELETE of an upload, and a final upload naming it as
///   a partial, need a [`User`] (401 otherwise) who is its owner: anyone else
///   is answered exactly as if the upload did not exist
///   ([`Rejection::not_found`]: 404, or 400 `ERR_CONCAT_PARTIAL_NOT_FOUND`
///   for a partial), so an upload id is never confirmed to another user.
///   An upload without a `user_id` (created while auth was off) is nobody's.
///
/// Without auth, anyone may create, and an upload's URL is a bearer
/// capability. A finished upload is logged either way.
#[derive(Debug, Clone)]
pub struct AppHooks {
    auth: bool,
}

impl AppHooks {
    /// The hooks; `auth`: require a user to create and to touch an upload.
    pub fn new(auth: bool) -> Self {
        Self { auth }
    }
}

/// Whether `user` may touch an upload owned by `owner` (its `user_id`).
fn owner_only(user: Option<&User>, owner: Option<&[u8]>) -> Result<(), Rejection> {
    match user {
        None => Err(unauthorized()),
        Some(User(user)) if owner == Some(user.as_bytes()) => Ok(()),
        Some(_) => Err(Rejection::not_found()),
    }
}

fn unauthorized() -> Rejection {
    Rejection::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
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
                None if self.auth => Err(unauthorized()),
                None => Ok(()),
            }
        })
    }

    fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            if !self.auth {
                return Ok(());
            }
            owner_only(cx.extensions().get::<User>(), access.upload().metadata.get(USER_ID_KEY))
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

    #[test]
    fn only_the_owner_may_touch_an_upload() {
        let alice = User("alice".to_owned());
        let bob = User("bob".to_owned());
        let cases: &[(Option<&User>, Option<&[u8]>, Option<StatusCode>)] = &[
            (Some(&alice), Some(b"alice"), None),
            (Some(&bob), Some(b"alice"), Some(StatusCode::NOT_FOUND)),
            (Some(&alice), None, Some(StatusCode::NOT_FOUND)),
            (Some(&alice), Some(b"alice2"), Some(StatusCode::NOT_FOUND)),
            (None, Some(b"alice"), Some(StatusCode::UNAUTHORIZED)),
            (None, None, Some(StatusCode::UNAUTHORIZED)),
        ];
        for (user, owner, refused) in cases {
            let verdict = owner_only(*user, *owner);
            assert_eq!(
                verdict.as_ref().err().map(Rejection::status),
                *refused,
                "{user:?} on {owner:?}"
            );
            if let Err(rejection) = verdict {
                assert_eq!(rejection.hides_upload(), rejection.status() == StatusCode::NOT_FOUND);
            }
        }
    }
}
