//! EXPERIMENT (issue 14, phase 1): the S3 traffic of proposed designs for
//! small PATCHes, replayed with aws-sdk-s3 against a real S3 server, beside
//! a direct multipart upload of the same bytes, in one run.
//!
//! ```text
//! s3-model --endpoint URL --bucket B [--size 64M] [--chunks 1M,256K] [--reps 3]
//! ```
//!
//! Models, each sequential per PATCH as a server answering back-to-back
//! PATCHes on one connection is:
//! - `rewrite`: today's store: per PATCH, two state loads (GetObject info ||
//!   HeadObject tail, ListParts), GetObject of the tail, PutObject of the
//!   grown tail; UploadPart when a part fills.
//! - `segments`: per PATCH, one PutObject of the PATCH's bytes as a new
//!   short object (`If-None-Match: *`, the stale-writer fence); when the
//!   segments fill a part, UploadPart from memory, an empty commit marker,
//!   one DeleteObjects of the segments.
//! - `segments-bg`: the same, with the part upload, marker and deletes done
//!   in the background (the PATCH that fills a part is answered once its
//!   segment is stored).
//! - `+unsigned`: the same with `UNSIGNED-PAYLOAD` (no SHA-256 of bodies in
//!   the client; CRC32 checksums still protect them).
//!
//! Credentials from the AWS environment. Everything is written under
//! `s3-model/` and deleted.

use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, StalledStreamProtectionConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;
use clap::Parser;
use tokio::task::JoinSet;

type Error = Box<dyn std::error::Error + Send + Sync>;

const PART: usize = 8 << 20;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    endpoint: String,
    #[arg(long)]
    bucket: String,
    #[arg(long, default_value = "64")]
    size_mib: usize,
    #[arg(long, value_delimiter = ',', default_value = "1024,256")]
    chunks_kib: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(true)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .endpoint_url(&args.endpoint)
        .build();
    let client = Client::from_conf(config);
    client.head_bucket().bucket(&args.bucket).send().await?;
    let data = Bytes::from(
        (0..args.size_mib << 20)
            .map(|i| (i * 7 + i / 4093) as u8)
            .collect::<Vec<u8>>(),
    );
    let model = Model {
        client,
        bucket: args.bucket.clone(),
    };
    // Does the server honour If-None-Match: * ?
    let probe = "s3-model/probe";
    model.put(probe, Bytes::from_static(b"x"), true, false).await?;
    let second = model.put(probe, Bytes::from_static(b"y"), true, false).await;
    println!(
        "If-None-Match: * on an existing key: {}",
        if second.is_err() { "refused (412)" } else { "IGNORED" }
    );
    model.delete_all("s3-model/").await?;
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut push = |name: String, value: f64| match rows.iter_mut().find(|(n, _)| *n == name) {
        Some((_, values)) => values.push(value),
        None => rows.push((name, vec![value])),
    };
    for rep in 0..args.reps {
        for unsigned in [false, true] {
            let tag = if unsigned { " +unsigned" } else { "" };
            let speed = model.direct(&format!("s3-model/direct-{rep}"), &data, unsigned).await?;
            push(format!("direct multipart (8 MiB parts, 4 in flight){tag}"), speed);
            for &chunk in &args.chunks_kib {
                let chunk = chunk << 10;
                for kind in [Kind::Segments, Kind::SegmentsBackground] {
                    let prefix = format!("s3-model/{rep}-{chunk}-{kind:?}-{unsigned}/");
                    let speed = model.segments(&prefix, &data, chunk, kind, unsigned).await?;
                    push(format!("{kind:?}, {} KiB PATCHes{tag}", chunk >> 10), speed);
                }
                if !unsigned {
                    let prefix = format!("s3-model/{rep}-{chunk}-rewrite/");
                    let speed = model.rewrite(&prefix, &data, chunk).await?;
                    push(format!("rewrite (today), {} KiB PATCHes", chunk >> 10), speed);
                }
            }
            model.delete_all("s3-model/").await?;
        }
        eprintln!("rep {rep} done");
    }
    let direct = median(&rows[0].1);
    println!("| model | MB/s median (all) | x direct (signed) |\n|---|---|---|");
    for (name, values) in &rows {
        let all: Vec<String> = values.iter().map(|v| format!("{:.0}", v / 1e6)).collect();
        println!(
            "| {name} | {:.0} ({}) | {:.2}x |",
            median(values) / 1e6,
            all.join(", "),
            median(values) / direct
        );
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Segments,
    SegmentsBackground,
}

#[derive(Clone)]
struct Model {
    client: Client,
    bucket: String,
}

impl Model {
    async fn put(&self, key: &str, body: Bytes, if_none_match: bool, unsigned: bool) -> Result<(), Error> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        if if_none_match {
            request = request.if_none_match("*");
        }
        let mut op = request.customize();
        if unsigned {
            op = op.disable_payload_signing();
        }
        op.send().await?;
        Ok(())
    }

    async fn part(
        &self,
        key: &str,
        upload: &str,
        number: i32,
        body: Bytes,
        unsigned: bool,
    ) -> Result<CompletedPart, Error> {
        let mut op = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .body(ByteStream::from(body))
            .customize();
        if unsigned {
            op = op.disable_payload_signing();
        }
        let output = op.send().await?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .e_tag(output.e_tag().unwrap_or_default())
            .build())
    }

    async fn create(&self, key: &str) -> Result<String, Error> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(created.upload_id().unwrap_or_default().to_owned())
    }

    async fn complete(&self, key: &str, upload: &str, mut parts: Vec<CompletedPart>) -> Result<(), Error> {
        parts.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await?;
        Ok(())
    }

    async fn direct(&self, key: &str, data: &Bytes, unsigned: bool) -> Result<f64, Error> {
        let started = Instant::now();
        let upload = self.create(key).await?;
        let mut tasks: JoinSet<Result<CompletedPart, Error>> = JoinSet::new();
        let mut parts = Vec::new();
        for (index, start) in (0..data.len()).step_by(PART).enumerate() {
            let body = data.slice(start..(start + PART).min(data.len()));
            let (model, key, upload) = (self.clone(), key.to_owned(), upload.clone());
            let number = i32::try_from(index + 1)?;
            tasks.spawn(async move { model.part(&key, &upload, number, body, unsigned).await });
            while tasks.len() >= 4 {
                parts.push(tasks.join_next().await.ok_or("no task")???);
            }
        }
        while let Some(part) = tasks.join_next().await {
            parts.push(part??);
        }
        self.complete(key, &upload, parts).await?;
        Ok(data.len() as f64 / started.elapsed().as_secs_f64())
    }

    async fn segments(
        &self,
        prefix: &str,
        data: &Bytes,
        chunk: usize,
        kind: Kind,
        unsigned: bool,
    ) -> Result<f64, Error> {
        let key = format!("{prefix}data");
        let started = Instant::now();
        let upload = self.create(&key).await?;
        let mut parts = Vec::new();
        let mut background: JoinSet<Result<CompletedPart, Error>> = JoinSet::new();
        let mut segments: Vec<String> = Vec::new();
        let mut part_start = 0usize;
        for start in (0..data.len()).step_by(chunk) {
            let end = (start + chunk).min(data.len());
            let segment = format!("{prefix}seg.{start:020}");
            self.put(&segment, data.slice(start..end), true, unsigned).await?;
            segments.push(segment);
            if end - part_start >= PART || end == data.len() {
                let number = i32::try_from(parts.len() + background.len() + 1)?;
                let (model, key, upload) = (self.clone(), key.clone(), upload.clone());
                let body = data.slice(part_start..end);
                let done = std::mem::take(&mut segments);
                let marker = format!("{prefix}parts.{number:05}");
                let compact = async move {
                    let part = model.part(&key, &upload, number, body, unsigned).await?;
                    model.put(&marker, Bytes::new(), true, false).await?;
                    model.delete_keys(&done).await?;
                    Ok(part)
                };
                match kind {
                    Kind::Segments => parts.push(compact.await?),
                    Kind::SegmentsBackground => {
                        background.spawn(compact);
                    }
                }
                part_start = end;
            }
        }
        while let Some(part) = background.join_next().await {
            parts.push(part??);
        }
        self.complete(&key, &upload, parts).await?;
        Ok(data.len() as f64 / started.elapsed().as_secs_f64())
    }

    async fn rewrite(&self, prefix: &str, data: &Bytes, chunk: usize) -> Result<f64, Error> {
        let key = format!("{prefix}data");
        let (info, tail) = (format!("{prefix}data.info"), format!("{prefix}data.part"));
        let started = Instant::now();
        let upload = self.create(&key).await?;
        self.put(&info, Bytes::from_static(b"{\"record\":1}"), false, false)
            .await?;
        self.put(&tail, Bytes::new(), false, false).await?;
        let mut parts = Vec::new();
        let mut part_start = 0usize;
        for start in (0..data.len()).step_by(chunk) {
            let end = (start + chunk).min(data.len());
            for _ in 0..2 {
                let (a, b) = futures::join!(
                    self.client.get_object().bucket(&self.bucket).key(&info).send(),
                    self.client.head_object().bucket(&self.bucket).key(&tail).send()
                );
                a?.body.collect().await?;
                b?;
                self.client
                    .list_parts()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&upload)
                    .send()
                    .await?;
            }
            if start > part_start {
                let got = self.client.get_object().bucket(&self.bucket).key(&tail).send().await?;
                got.body.collect().await?;
            }
            if end - part_start >= PART || end == data.len() {
                let number = i32::try_from(parts.len() + 1)?;
                parts.push(
                    self.part(&key, &upload, number, data.slice(part_start..end), false)
                        .await?,
                );
                self.put(&tail, Bytes::new(), false, false).await?;
                part_start = end;
            } else {
                self.put(&tail, data.slice(part_start..end), false, false).await?;
            }
        }
        self.complete(&key, &upload, parts).await?;
        Ok(data.len() as f64 / started.elapsed().as_secs_f64())
    }

    async fn delete_keys(&self, keys: &[String]) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let objects = keys
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(Delete::builder().set_objects(Some(objects)).build()?)
            .send()
            .await?;
        Ok(())
    }

    async fn delete_all(&self, prefix: &str) -> Result<(), Error> {
        for _ in 0..1000 {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await?;
            let keys: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect();
            if keys.is_empty() {
                break;
            }
            for batch in keys.chunks(1000) {
                self.delete_keys(batch).await?;
            }
        }
        let uploads = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await?;
        for upload in uploads.uploads() {
            if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                self.client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await?;
            }
        }
        Ok(())
    }
}
