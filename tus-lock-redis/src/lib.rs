//! # tus-lock-redis
//!
//! A [`Locker`] over Redis, for tus servers on several hosts (instances
//! behind a load balancer sharing one store): at most one request in the
//! whole fleet mutates an upload, and a request on any instance can steal the
//! lock from a request on any other.
//!
//! ```no_run
//! # async fn run() -> Result<(), tus_lock_redis::RedisLockError> {
//! use std::sync::Arc;
//! use tus_server::TusHandler;
//! use tus_core::store::MemoryStore;
//! use tus_lock_redis::RedisLocker;
//!
//! let locker = RedisLocker::connect("redis://127.0.0.1:6379/").await?;
//! let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
//!     .locker(Arc::new(locker))
//!     .build();
//! # let _ = handler;
//! # Ok(())
//! # }
//! ```
//!
//! ## How it works
//!
//! ```text
//!   lock:    SET tus:lock:{id} <token> NX PX <ttl>        (busy: PUBLISH tus:release:{id} <token>, sleep(poll), again)
//!   held:    every ttl/3: PEXPIRE if the value is still <token>   (a crashed holder's lock expires after ttl)
//!   steal:   every instance PSUBSCRIBEs tus:release:* and completes its local holder's release_requested
//!   release: DEL if the value is still <token>
//! ```
//!
//! Pub/sub delivers at most once, so a waiter publishes again on every poll
//! until it gets the lock.
//!
//! **Leases are short** ([`DEFAULT_TTL`], 3 s, renewed every second), so the
//! lock of an instance that died mid-PATCH is free again within the ttl and
//! the client's retry goes on through another instance within a few seconds.
//!
//! **It fails closed.** Every Redis command has a response timeout
//! ([`DEFAULT_RESPONSE_TIMEOUT`]); a lock that cannot be taken because Redis
//! is unreachable is an error (the handler answers `423` with
//! `ERR_LOCK_UNAVAILABLE`, which tus clients retry). A holder is asked to
//! release at once when a renewal fails or finds the lock gone, and every
//! local holder is asked when the pub/sub connection drops (a restarted,
//! empty Redis would otherwise let another instance lock an upload being
//! written here). The store's atomic append at an offset stays the last
//! fence against a late writer (it gets a mismatched-offset error instead
//! of corrupting the upload). The connection is re-established in the
//! background (redis' `ConnectionManager`), so the locker works again as soon
//! as Redis is back.
//!
//! Uses Tokio (the Redis client, the renewal task, the poll timer): use it
//! inside a Tokio runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tus_core::lock::{LockError, LockGuard, Locker};
use tus_core::upload::UploadId;

/// Default [`RedisLocker::ttl`]: how long the lock of a dead holder blocks
/// its upload.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3);
/// How long a Redis command may take before it counts as failed (default of
/// [`RedisLocker::connect`]).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`RedisLocker::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Renews the lock's expiry only if this holder still owns it.
const RENEW: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/// Deletes the lock only if this holder still owns it.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Why the locker could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLockError {
    /// Connecting or subscribing to Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The local holders: upload id → (its token, its release trigger).
type Holders = Arc<Mutex<HashMap<String, (String, oneshot::Sender<()>)>>>;

fn locked(holders: &Holders) -> MutexGuard<'_, HashMap<String, (String, oneshot::Sender<()>)>> {
    // Every critical section is one insert or remove: a poisoned map is consistent.
    holders.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A [`Locker`] shared by every server using the same Redis (see the crate docs).
#[derive(Clone)]
pub struct RedisLocker {
    conn: ConnectionManager,
    holders: Holders,
    prefix: String,
    ttl: Duration,
    poll: Duration,
    _listener: Arc<Listener>,
}

/// Stops the pub/sub listener when the last clone of the locker is dropped.
#[derive(Debug)]
struct Listener(AbortHandle);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for RedisLocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLocker")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl RedisLocker {
    /// Connects to Redis at `url` (`redis://host:port/db`) and subscribes to
    /// release requests. Keys and channels start with `tus:`. Commands time
    /// out after [`DEFAULT_RESPONSE_TIMEOUT`]; a lost connection is
    /// re-established in the background.
    pub async fn connect(url: &str) -> Result<Self, RedisLockError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(DEFAULT_RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(DEFAULT_RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await?;
        let prefix = "tus:".to_owned();
        let holders = Holders::default();
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(format!("{prefix}release:*")).await?;
        let listener = tokio::spawn(listen(client, pubsub, prefix.clone(), holders.clone()));
        Ok(Self {
            conn,
            holders,
            prefix,
            ttl: DEFAULT_TTL,
            poll: DEFAULT_POLL_INTERVAL,
            _listener: Arc::new(Listener(listener.abort_handle())),
        })
    }

    /// How long a lock outlives a holder that stopped renewing it, e.g.
    /// because its process died (default [`DEFAULT_TTL`]; at least 300 ms).
    /// Holders renew every ttl/3.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(300));
        self
    }

    /// How often a waiter retries and asks again (default [`DEFAULT_POLL_INTERVAL`]).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }
}

/// Asks every local holder to release (the locker can no longer tell them
/// when another instance wants their lock).
fn release_all(holders: &Holders, why: &str) {
    let released: Vec<_> = locked(holders).drain().collect();
    if !released.is_empty() {
        tracing::warn!(
            count = released.len(),
            why,
            "asking every upload lock holder to release"
        );
    }
    for (_, (_, trigger)) in released {
        let _ = trigger.send(());
    }
}

/// Completes local holders' release requests for every message on
/// `{prefix}release:{id}`, resubscribing after a lost connection (and asking
/// every local holder to release then: fail closed). Runs until aborted.
async fn listen(client: redis::Client, pubsub: redis::aio::PubSub, prefix: String, holders: Holders) {
    let channel_prefix = format!("{prefix}release:");
    let mut pubsub = Some(pubsub);
    loop {
        if let Some(subscribed) = pubsub.take() {
            let mut messages = subscribed.into_on_message();
            while let Some(message) = messages.next().await {
                let Some(id) = message.get_channel_name().strip_prefix(&channel_prefix) else {
                    continue;
                };
                let requester: String = message.get_payload().unwrap_or_default();
                let mut local = locked(&holders);
                // A holder never steals from itself (its own requests may arrive late).
                if local.get(id).is_some_and(|(token, _)| *token != requester)
                    && let Some((_, trigger)) = local.remove(id)
                {
                    let _ = trigger.send(());
                }
            }
            tracing::warn!("redis pub/sub connection lost; release requests are not received until it is back");
            release_all(&holders, "redis pub/sub connection lost");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        match client.get_async_pubsub().await {
            Ok(mut fresh) => match fresh.psubscribe(format!("{channel_prefix}*")).await {
                Ok(()) => pubsub = Some(fresh),
                Err(error) => tracing::warn!(%error, "redis psubscribe failed"),
            },
            Err(error) => tracing::warn!(%error, "redis pub/sub reconnect failed"),
        }
    }
}

fn backend(error: redis::RedisError) -> LockError {
    LockError::Backend(Box::new(error))
}

fn token() -> Result<String, LockError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| LockError::Backend(Box::new(std::io::Error::other(error))))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

impl Locker for RedisLocker {
    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>> {
        Box::pin(async move {
            let key = format!("{}lock:{id}", self.prefix);
            let channel = format!("{}release:{id}", self.prefix);
            let token = token()?;
            let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
            let mut conn = self.conn.clone();
            // Bounded by the handler's lock timeout, which drops this future.
            loop {
                let set: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                if set.is_some() {
                    break;
                }
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(&token)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                tokio::time::sleep(self.poll).await;
            }
            let (trigger, requested) = oneshot::channel::<()>();
            locked(&self.holders).insert(id.to_string(), (token.clone(), trigger));
            let renewal = tokio::spawn(renew(
                self.conn.clone(),
                key.clone(),
                token.clone(),
                self.ttl,
                self.holders.clone(),
                id.to_string(),
                Arc::downgrade(&self._listener),
            ));
            let held = Held {
                conn: self.conn.clone(),
                holders: self.holders.clone(),
                id: id.to_string(),
                key,
                token,
                renewal: renewal.abort_handle(),
            };
            Ok(LockGuard::with_release_request(held, requested.map(|_| ())))
        })
    }
}

/// Extends the lock every ttl/3 while it is ours; if it is not (expired and
/// taken), or a renewal fails (Redis unreachable or too slow), asks the local
/// holder to stop at once: fail closed, well before the ttl lets another
/// instance in. Stops without a word once the locker itself is gone
/// (`alive`), as a crashed process would.
async fn renew(
    mut conn: ConnectionManager,
    key: String,
    token: String,
    ttl: Duration,
    holders: Holders,
    id: String,
    alive: Weak<Listener>,
) {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    loop {
        tokio::time::sleep(ttl / 3).await;
        if alive.strong_count() == 0 {
            return;
        }
        let renewed: Result<i64, _> = redis::cmd("EVAL")
            .arg(RENEW)
            .arg(1)
            .arg(&key)
            .arg(&token)
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(%key, "upload lock lost (expired and taken); asking its holder to stop");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, %key, "could not renew an upload lock; asking its holder to stop");
                break;
            }
        }
    }
    let mut local = locked(&holders);
    if local.get(&id).is_some_and(|(held, _)| *held == token)
        && let Some((_, trigger)) = local.remove(&id)
    {
        let _ = trigger.send(());
    }
}

/// A held lock: on drop, stops renewing and deletes the key if still ours.
struct Held {
    conn: ConnectionManager,
    holders: Holders,
    id: String,
    key: String,
    token: String,
    renewal: AbortHandle,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewal.abort();
        {
            let mut local = locked(&self.holders);
            if local.get(&self.id).is_some_and(|(token, _)| *token == self.token) {
                local.remove(&self.id);
            }
        }
        let (mut conn, key, token) = (self.conn.clone(), self.key.clone(), self.token.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%key, "no Tokio runtime to release an upload lock; it expires after its ttl");
            return;
        };
        runtime.spawn(async move {
            let released: Result<i64, _> = redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&key)
                .arg(&token)
                .query_async(&mut conn)
                .await;
            if let Err(error) = released {
                tracing::warn!(%error, %key, "could not release an upload lock; it expires after its ttl");
            }
        });
    }
}

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
