//! Reaching the test S3 server: endpoint, keys and bucket from the
//! environment (`scripts/garage.sh` prints them), a fresh key prefix per test.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tus_store_s3::{S3Options, S3Store, S3StoreBuilder};

/// Where the test server is.
#[derive(Debug, Clone)]
pub struct S3Env {
    pub options: S3Options,
    pub client: aws_sdk_s3::Client,
}

/// The server from `TUS_S3_ENDPOINT` (+ `TUS_S3_BUCKET`, `TUS_S3_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), or `None` after printing why
/// the test is skipped. With `TUS_REQUIRE_S3=1` a missing server fails the test.
pub async fn s3_env(test: &str) -> Option<S3Env> {
    let endpoint = std::env::var("TUS_S3_ENDPOINT").ok().filter(|value| !value.is_empty());
    let Some(endpoint) = endpoint else {
        if std::env::var("TUS_REQUIRE_S3").as_deref() == Ok("1") {
            panic!("{test}: TUS_REQUIRE_S3=1 but TUS_S3_ENDPOINT is not set");
        }
        eprintln!(
            "SKIPPED {test}: no S3 server (set TUS_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
             TUS_S3_BUCKET; `bash scripts/garage.sh start DIR` prints them)"
        );
        return None;
    };
    let mut options = S3Options::new(std::env::var("TUS_S3_BUCKET").unwrap_or_else(|_| "tus-test".to_owned()));
    options.endpoint = Some(endpoint);
    options.region = Some(std::env::var("TUS_S3_REGION").unwrap_or_else(|_| "us-east-1".to_owned()));
    options.path_style = true;
    let client = options.client().await;
    Some(S3Env { options, client })
}

/// The id `text`.
pub fn id(text: &str) -> tus_core::upload::UploadId {
    tus_core::upload::UploadId::parse(text).expect("id")
}

/// A single upload `text` of `size`, created now.
pub fn new_upload(text: &str, size: tus_core::upload::UploadSize) -> tus_core::upload::NewUpload {
    tus_core::upload::NewUpload {
        id: id(text),
        size,
        metadata: tus_core::headers::Metadata::new(),
        kind: tus_core::upload::UploadKind::Single,
        created_at: std::time::SystemTime::now(),
    }
}

/// `len` deterministic bytes that do not repeat with any part size.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(i / 7919) % 251) as u8 ^ seed)
        .collect()
}

/// A key prefix no other test (or earlier run) uses.
pub fn fresh_prefix(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{test}-{nanos}-{}/", COUNTER.fetch_add(1, Ordering::SeqCst))
}

impl S3Env {
    /// A store builder over the test bucket under `prefix`.
    pub fn builder(&self, prefix: &str) -> S3StoreBuilder {
        S3Store::builder(self.client.clone(), &self.options.bucket).prefix(prefix)
    }

    /// Every key under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        for _ in 0..1000 {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.options.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .expect("list objects");
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// Multipart uploads still open under `prefix`.
    pub async fn open_multipart_uploads(&self, prefix: &str) -> usize {
        let page = self
            .client
            .list_multipart_uploads()
            .bucket(&self.options.bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list multipart uploads");
        page.uploads().len()
    }

    /// The sizes of the parts of the completed object `key`, in order.
    pub async fn part_sizes(&self, key: &str) -> Vec<u64> {
        let mut sizes = Vec::new();
        let first = self
            .client
            .head_object()
            .bucket(&self.options.bucket)
            .key(key)
            .part_number(1)
            .send()
            .await
            .expect("head part 1");
        let count = first.parts_count().unwrap_or(1);
        sizes.push(first.content_length().unwrap_or(0) as u64);
        for number in 2..=count {
            let part = self
                .client
                .head_object()
                .bucket(&self.options.bucket)
                .key(key)
                .part_number(number)
                .send()
                .await
                .expect("head part");
            sizes.push(part.content_length().unwrap_or(0) as u64);
        }
        sizes
    }
}
