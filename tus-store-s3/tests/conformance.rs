//! The store conformance suite against S3 (Garage in CI), reopening the
//! store over the same bucket and prefix to simulate a restart.

mod support;

use tus_store_s3::MIN_PART_SIZE;

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_passes_the_suite() {
    let Some(env) = support::s3_env("s3_store_passes_the_suite").await else {
        return;
    };
    let prefix = support::fresh_prefix("conformance");
    tus_conformance::run_store_suite(|| {
        let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
        async move { store }
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn s3_store_passes_the_suite_with_one_part_in_flight() {
    let Some(env) = support::s3_env("s3_store_passes_the_suite_with_one_part_in_flight").await else {
        return;
    };
    let prefix = support::fresh_prefix("conformance-serial");
    tus_conformance::run_store_suite(|| {
        let store = env
            .builder(&prefix)
            .part_size(MIN_PART_SIZE)
            .parts_in_flight(1)
            .max_buffered_parts(1)
            .build();
        async move { store }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_passes_the_suite_as_the_sole_writer() {
    let Some(env) = support::s3_env("s3_store_passes_the_suite_as_the_sole_writer").await else {
        return;
    };
    let prefix = support::fresh_prefix("conformance-sole");
    tus_conformance::run_store_suite(|| {
        let store = env.builder(&prefix).part_size(MIN_PART_SIZE).sole_writer(true).build();
        async move { store }
    })
    .await;
}
