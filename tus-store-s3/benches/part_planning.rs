//! Part planning is on every create: it must stay a few nanoseconds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tus_store_s3::{DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, part_count, part_size};

const SIZES: [Option<u64>; 6] = [
    None,
    Some(0),
    Some(64 * 1024),
    Some(80 << 30),
    Some(1 << 40),
    Some(MAX_OBJECT_SIZE),
];

fn planning(c: &mut Criterion) {
    c.bench_function("part_size/6 sizes", |b| {
        b.iter(|| {
            for size in SIZES {
                let part = part_size(black_box(size), black_box(DEFAULT_PART_SIZE));
                black_box(part.map(|part| part_count(size.unwrap_or(0), part)).ok());
            }
        });
    });
}

criterion_group!(benches, planning);
criterion_main!(benches);
