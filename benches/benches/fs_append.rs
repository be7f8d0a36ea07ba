//! Appends to the filesystem store, with and without `fsync` at the end of
//! each append (`SyncPolicy::Always` / `Never`). The directory is a temporary
//! one under `$TMPDIR` (set it to a disk or a tmpfs path to choose).

#![allow(missing_docs)]

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::SinkExt as _;
use tus_benches::{FRAME, UPLOAD_ID, frames};
use tus_core::headers::Metadata;
use tus_core::store::{Durability, Store, StoreError};
use tus_core::upload::{NewUpload, UploadId, UploadKind, UploadSize};
use tus_store_fs::{FileStore, SyncPolicy};

fn fs_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap_or_else(|error| panic!("runtime: {error}"));
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let id = UploadId::parse(UPLOAD_ID).unwrap_or_else(|_| unreachable!("fixture id is valid"));

    let mut group = c.benchmark_group("fs append");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for (sync_label, sync) in [("fsync", SyncPolicy::Always), ("no fsync", SyncPolicy::Never)] {
        let store = FileStore::new(dir.path())
            .unwrap_or_else(|error| panic!("store: {error}"))
            .with_sync_policy(sync);
        for (label, size) in [("1 MiB", 1usize << 20), ("8 MiB", 8 << 20)] {
            let data = Bytes::from(vec![0xa5; size]);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new(sync_label, label), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iterations {
                            let upload = NewUpload {
                                id: id.clone(),
                                size: UploadSize::Known(size as u64),
                                metadata: Metadata::default(),
                                kind: UploadKind::Single,
                                created_at: SystemTime::now(),
                            };
                            if let Err(error) = store.create(upload).await {
                                panic!("create: {error}");
                            }
                            let chunks = frames(&data, FRAME);
                            let started = Instant::now();
                            let offset = write(&store, &id, chunks).await;
                            total += started.elapsed();
                            assert_eq!(offset.ok(), Some(size as u64));
                            if let Err(error) = terminate(&store, &id).await {
                                panic!("terminate: {error}");
                            }
                        }
                        total
                    })
                });
            });
        }
    }
    group.finish();
}

/// Pushes `chunks` into a keep-prefix writer at offset 0 and commits.
async fn write(store: &FileStore, id: &UploadId, chunks: Vec<Bytes>) -> Result<u64, StoreError> {
    let mut writer = store.writer(id, 0, Durability::KeepPrefix, SystemTime::now()).await?;
    for chunk in chunks {
        writer.feed(chunk).await?;
    }
    writer.commit().await
}

async fn terminate(store: &FileStore, id: &UploadId) -> Result<(), StoreError> {
    match store.termination() {
        Some(terminator) => terminator.terminate(id).await,
        None => Ok(()),
    }
}

criterion_group!(benches, fs_append);
criterion_main!(benches);
