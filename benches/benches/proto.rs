//! Parsing realistic request heads and deciding on them: the per-request cost
//! of the protocol layer, without I/O.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tus_benches::{BASE_PATH, UPLOAD_ID, head, patch, post};
use tus_core::headers::{Extension, Metadata};
use tus_core::server::decide::{plan_append, plan_creation};
use tus_core::server::policy::{ConcatLimits, Policy};
use tus_core::server::request::{TusRequest, effective_method};
use tus_core::upload::{NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

fn policy() -> Policy {
    Policy {
        max_size: Some(1 << 40),
        extensions: vec![
            Extension::Creation,
            Extension::CreationWithUpload,
            Extension::CreationDeferLength,
            Extension::Termination,
            Extension::Checksum,
            Extension::ChecksumTrailer,
            Extension::Expiration,
            Extension::Concatenation,
            Extension::ConcatenationUnfinished,
        ],
        concat: ConcatLimits::default(),
        expire_after: Some(Duration::from_secs(86_400)),
    }
}

fn upload(offset: u64) -> UploadInfo {
    let mut info = UploadInfo::new(NewUpload {
        id: UploadId::parse(UPLOAD_ID).unwrap_or_else(|_| unreachable!("fixture id is valid")),
        size: UploadSize::Known(1 << 30),
        metadata: Metadata::default(),
        kind: UploadKind::Single,
        created_at: SystemTime::now(),
    });
    info.offset = offset;
    info
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for pairs in [1, 10, 50] {
        let head = post(1 << 30, pairs);
        group.bench_with_input(
            BenchmarkId::new("POST", format!("{pairs} metadata pairs")),
            &head,
            |b, head| b.iter(|| TusRequest::parse(&head.method, head.uri.path(), black_box(&head.headers), BASE_PATH)),
        );
    }
    let patch = patch(8 << 20, 8 << 20);
    group.bench_function("PATCH", |b| {
        b.iter(|| TusRequest::parse(&patch.method, patch.uri.path(), black_box(&patch.headers), BASE_PATH))
    });
    let head = head();
    group.bench_function("HEAD", |b| {
        b.iter(|| TusRequest::parse(&head.method, head.uri.path(), black_box(&head.headers), BASE_PATH))
    });
    group.finish();
}

fn decide(c: &mut Criterion) {
    let policy = policy();
    let now = SystemTime::now();
    let mut group = c.benchmark_group("decide");

    let info = upload(8 << 20);
    let patch = patch(8 << 20, 8 << 20);
    let Ok(TusRequest::Append(append)) = TusRequest::parse(&patch.method, patch.uri.path(), &patch.headers, BASE_PATH)
    else {
        unreachable!("the PATCH fixture parses")
    };
    group.bench_function("PATCH plan_append", |b| {
        b.iter(|| plan_append(black_box(&info), black_box(&append), &policy, now))
    });
    let post = post(1 << 30, 10);
    let Ok(TusRequest::Create(create)) = TusRequest::parse(&post.method, post.uri.path(), &post.headers, BASE_PATH)
    else {
        unreachable!("the POST fixture parses")
    };
    group.bench_function("POST plan_creation", |b| {
        b.iter(|| plan_creation(black_box(&create), &policy, BASE_PATH))
    });

    // What the handler does with a PATCH head before touching the store:
    // method override, parse, decide. The target is < 1 us.
    group.bench_function("PATCH parse + decide", |b| {
        b.iter(|| {
            let headers = black_box(&patch.headers);
            let method = effective_method(&patch.method, headers).unwrap_or_else(|_| unreachable!());
            match TusRequest::parse(&method, patch.uri.path(), headers, BASE_PATH) {
                Ok(TusRequest::Append(request)) => plan_append(&info, &request, &policy, now).is_ok(),
                _ => false,
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse, decide);
criterion_main!(benches);
