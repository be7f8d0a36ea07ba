//! Two `RedisLocker`s, as on two hosts, against a real Redis
//! (`TUS_TEST_REDIS_URL`, started by `scripts/test.d/25-redis.sh`).

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tus_core::lock::{LockError, Locker as _};
use tus_core::upload::UploadId;
use tus_lock_redis::{DEFAULT_TTL, RedisLocker};

/// The Redis URL, or `None` (the test is skipped) when no Redis was started
/// and `TUS_REQUIRE_REDIS` is not set.
fn redis_url() -> Option<String> {
    match std::env::var("TUS_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("TUS_REQUIRE_REDIS").is_some() => {
            panic!("TUS_REQUIRE_REDIS is set but TUS_TEST_REDIS_URL is not")
        }
        Err(_) => {
            eprintln!("skipped: no TUS_TEST_REDIS_URL (bash scripts/test.sh starts a Redis)");
            None
        }
    }
}

fn unique_id() -> UploadId {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    UploadId::parse(&format!("t{nanos}")).expect("id")
}

async fn locker(url: &str) -> RedisLocker {
    RedisLocker::connect(url)
        .await
        .expect("connect")
        .poll_interval(Duration::from_millis(20))
        .ttl(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_on_another_host_steals_the_lock() {
    let Some(url) = redis_url() else { return };
    let (first, second) = (locker(&url).await, locker(&url).await);
    let id = unique_id();
    let held = first.lock(&id).await.expect("free");
    let requested = held.release_requested();
    assert!(requested.clone().now_or_never().is_none(), "nobody asked yet");

    let started = Instant::now();
    let waiter = tokio::spawn({
        let id = id.clone();
        async move { second.lock(&id).await }
    });
    tokio::time::timeout(Duration::from_secs(5), requested)
        .await
        .expect("the holder on the other host is asked to release");
    assert!(!waiter.is_finished(), "the waiter waits while the lock is held");
    drop(held);
    let second_held = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("task")
        .expect("lock");
    eprintln!("cross-host steal took {:?}", started.elapsed());
    assert!(
        second_held.release_requested().now_or_never().is_none(),
        "the new holder is not asked by its own earlier requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_is_renewed_while_held_and_expires_when_its_holder_is_gone() {
    let Some(url) = redis_url() else { return };
    let (first, second) = (locker(&url).await, locker(&url).await);
    let id = unique_id();
    let held = first.lock(&id).await.expect("free");
    // Held for twice the ttl: renewals keep it, so the other host still waits.
    let mut waiter = Box::pin(second.lock(&id));
    let waited = tokio::time::timeout(Duration::from_secs(4), &mut waiter).await;
    assert!(waited.is_err(), "the lock must survive its ttl while renewed");
    drop(waiter);
    // A crashed holder: its renewals stop (the locker and its tasks are gone)
    // but it never releases; the lock expires after the ttl.
    std::mem::forget(held);
    drop(first);
    let started = Instant::now();
    let third = locker(&url).await;
    let taken = tokio::time::timeout(Duration::from_secs(8), third.lock(&id)).await;
    assert!(taken.is_ok_and(|lock| lock.is_ok()), "the lock expires");
    eprintln!("an abandoned lock was taken over after {:?}", started.elapsed());
}

/// A TCP forwarder in front of Redis that can cut every connection and
/// refuse new ones, as if Redis went down, and let them through again.
struct Outage {
    addr: std::net::SocketAddr,
    down: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Outage {
    async fn in_front_of(redis_url: &str) -> Self {
        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let down = Arc::new(AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn({
            let (down, cut) = (down.clone(), cut.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let target = target.clone();
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Self { addr, down, cut, task }
    }

    fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_goes_away_holders_are_told_to_stop_and_locking_fails_promptly_until_it_is_back() {
    let Some(url) = redis_url() else { return };
    let outage = Outage::in_front_of(&url).await;
    let locker = RedisLocker::connect(&outage.url()).await.expect("connect");
    let id = unique_id();
    let held = locker.lock(&id).await.expect("free");
    let requested = held.release_requested();
    assert!(requested.clone().now_or_never().is_none());

    outage.go_down();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), requested)
        .await
        .expect("the holder is asked to release when Redis goes away (fail closed)");
    eprintln!("holder asked to release {:?} after Redis went away", started.elapsed());
    drop(held);

    // No lock while Redis is unreachable: an error, promptly, never a guard.
    let other = unique_id();
    let started = Instant::now();
    let refused = tokio::time::timeout(Duration::from_secs(5), locker.lock(&other))
        .await
        .expect("refused within the response timeout, not left hanging");
    assert!(matches!(refused, Err(LockError::Backend(_))), "{refused:?}");
    eprintln!("lock refused in {:?} while Redis is down", started.elapsed());

    // Back: the connection is re-established and locks work again.
    outage.come_back();
    let started = Instant::now();
    let mut relocked = None;
    for _ in 0..100 {
        if let Ok(Ok(guard)) = tokio::time::timeout(Duration::from_secs(2), locker.lock(&other)).await {
            relocked = Some(guard);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let relocked = relocked.expect("locking works again once Redis is back");
    eprintln!("locking worked again {:?} after Redis came back", started.elapsed());
    // And stealing too: the pub/sub listener resubscribed.
    let second = locker_at(&url).await;
    let requested = relocked.release_requested();
    let waiter = tokio::spawn({
        let other = other.clone();
        async move { second.lock(&other).await.map(drop) }
    });
    tokio::time::timeout(Duration::from_secs(5), requested)
        .await
        .expect("release requests arrive again after the reconnect");
    drop(relocked);
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("task")
        .expect("lock");
}

async fn locker_at(url: &str) -> RedisLocker {
    RedisLocker::connect(url).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_ttl_a_dead_holders_lock_is_free_within_the_ttl() {
    let Some(url) = redis_url() else { return };
    let first = locker_at(&url).await;
    let id = unique_id();
    let held = first.lock(&id).await.expect("free");
    // A crash: no release, no more renewals.
    std::mem::forget(held);
    drop(first);
    let died = Instant::now();
    let second = locker_at(&url).await;
    let taken = tokio::time::timeout(DEFAULT_TTL + Duration::from_secs(2), second.lock(&id)).await;
    let waited = died.elapsed();
    assert!(taken.is_ok_and(|lock| lock.is_ok()), "the lock expires");
    eprintln!("a dead holder's lock was taken over after {waited:?} (ttl {DEFAULT_TTL:?})");
    assert!(waited <= DEFAULT_TTL + Duration::from_millis(500), "{waited:?}");
}
