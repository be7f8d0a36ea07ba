//! Two `RedisLocker`s, as on two hosts, against a real Redis
//! (`TUS_TEST_REDIS_URL`, started by `scripts/test.d/25-redis.sh`).

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tus_core::lock::Locker as _;
use tus_core::upload::UploadId;
use tus_lock_redis::RedisLocker;

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
