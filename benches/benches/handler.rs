//! A PATCH through the whole handler (parse, lock, decide, stream, answer) on
//! the memory store, at chunk sizes clients use.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use tus_benches::{BASE_PATH, FRAME, UPLOAD_ID, body, patch};
use tus_core::headers::Metadata;
use tus_core::store::{MemoryStore, Store};
use tus_core::upload::{NewUpload, UploadId, UploadKind, UploadSize};
use tus_server::TusHandler;

fn patch_through_handler(c: &mut Criterion) {
    // The handler's timeouts run on Tokio's timer.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|error| panic!("runtime: {error}"));
    let store = Arc::new(MemoryStore::new());
    let handler = TusHandler::builder(store.clone()).base_path(BASE_PATH).build();
    let id = UploadId::parse(UPLOAD_ID).unwrap_or_else(|_| unreachable!("fixture id is valid"));

    let mut group = c.benchmark_group("handler PATCH (memory store)");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    for (label, size) in [("64 KiB", 64usize << 10), ("1 MiB", 1 << 20), ("8 MiB", 8 << 20)] {
        let data = Bytes::from(vec![0x5a; size]);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
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
                        let request = Request::from_parts(patch(0, size as u64), body(&data, FRAME));
                        let started = Instant::now();
                        let response = handler.handle(request).await;
                        total += started.elapsed();
                        assert!(response.status().is_success(), "PATCH answered {}", response.status());
                        if let Some(Err(error)) = terminate(store.as_ref(), &id).await {
                            panic!("terminate: {error}");
                        }
                    }
                    total
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, patch_through_handler);
criterion_main!(benches);

async fn terminate(store: &dyn Store, id: &UploadId) -> Option<Result<(), tus_core::store::StoreError>> {
    Some(store.termination()?.terminate(id).await)
}
