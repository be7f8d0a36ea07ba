//! The S3 side of the harness: where the bucket is, the direct multipart
//! upload the tus server is compared with, and cleaning up after each run.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;
use tus_store_s3::S3Options;

use crate::client::Error;

/// A bucket on an S3-compatible server (credentials from the AWS
/// environment, as for the server).
#[derive(Debug, Clone)]
pub(crate) struct S3Target {
    pub(crate) bucket: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) region: Option<String>,
    /// Every key the harness and the servers it starts write begins with this.
    pub(crate) prefix: String,
}

impl S3Target {
    /// A client configured like the store's (`S3Options::client`), warmed
    /// up (credentials loaded, a connection open) by one HeadBucket, which
    /// also checks that the bucket is there.
    pub(crate) async fn client(&self) -> Result<Client, Error> {
        let mut options = S3Options::new(&self.bucket);
        options.endpoint.clone_from(&self.endpoint);
        options.region.clone_from(&self.region);
        options.path_style = self.endpoint.is_some();
        let client = options.client().await;
        client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|error| format!("bucket {} not reachable: {error}", self.bucket))?;
        Ok(client)
    }

    /// The `tus-axum` flags that put a server's uploads under `prefix`.
    pub(crate) fn server_args(&self, prefix: &str) -> Vec<String> {
        let mut args = vec!["--s3-bucket".to_owned(), self.bucket.clone()];
        if let Some(endpoint) = &self.endpoint {
            args.extend(["--s3-endpoint".to_owned(), endpoint.clone()]);
        }
        if let Some(region) = &self.region {
            args.extend(["--s3-region".to_owned(), region.clone()]);
        }
        args.extend(["--s3-prefix".to_owned(), prefix.to_owned()]);
        args
    }
}

/// Uploads `size` bytes of `source` to `key` as one multipart upload of
/// `part_size` parts, at most `in_flight` at once (what the S3 store does
/// with one large PATCH), and returns bytes per second from
/// CreateMultipartUpload to CompleteMultipartUpload. The object is deleted
/// afterwards.
pub(crate) async fn direct_multipart(
    client: &Client,
    bucket: &str,
    key: &str,
    source: &Path,
    size: u64,
    part_size: u64,
    in_flight: usize,
) -> Result<f64, Error> {
    let started = Instant::now();
    let created = client.create_multipart_upload().bucket(bucket).key(key).send().await?;
    let upload_id = created
        .upload_id()
        .ok_or("CreateMultipartUpload answered no upload id")?;
    let mut uploads: JoinSet<Result<CompletedPart, Error>> = JoinSet::new();
    let mut done = Vec::new();
    let (mut offset, mut number) = (0u64, 1i32);
    while offset < size {
        let length = part_size.min(size - offset);
        let bytes = read_range(source.to_path_buf(), offset, length).await?;
        let (client, bucket, key, upload_id) =
            (client.clone(), bucket.to_owned(), key.to_owned(), upload_id.to_owned());
        uploads.spawn(async move {
            let output = client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(bytes))
                .send()
                .await?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .e_tag(output.e_tag().unwrap_or_default())
                .build())
        });
        while uploads.len() >= in_flight.max(1) {
            done.push(joined(uploads.join_next().await)?);
        }
        offset += length;
        number += 1;
    }
    while let Some(result) = uploads.join_next().await {
        done.push(joined(Some(result))?);
    }
    done.sort_by_key(|part| part.part_number());
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await?;
    let elapsed = started.elapsed();
    let head = client.head_object().bucket(bucket).key(key).send().await?;
    let stored = head.content_length().unwrap_or(0);
    client.delete_object().bucket(bucket).key(key).send().await?;
    if u64::try_from(stored).ok() != Some(size) {
        return Err(format!("direct multipart upload stored {stored} of {size} bytes").into());
    }
    Ok(size as f64 / elapsed.as_secs_f64())
}

fn joined(
    result: Option<Result<Result<CompletedPart, Error>, tokio::task::JoinError>>,
) -> Result<CompletedPart, Error> {
    match result {
        Some(Ok(part)) => part,
        Some(Err(error)) => Err(error.into()),
        None => Err("no part upload to wait for".into()),
    }
}

/// `length` bytes of `path` from `offset`, read on the blocking pool.
async fn read_range(path: PathBuf, offset: u64, length: u64) -> Result<Bytes, Error> {
    tokio::task::spawn_blocking(move || -> Result<Bytes, Error> {
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut buffer = vec![0u8; usize::try_from(length)?];
        file.read_exact(&mut buffer)?;
        Ok(Bytes::from(buffer))
    })
    .await?
}

/// Deletes every object under `prefix` and aborts every multipart upload
/// under it (bounded: at most `MAX_PAGES` pages of each).
pub(crate) async fn clean(client: &Client, bucket: &str, prefix: &str) -> Result<(), Error> {
    const MAX_PAGES: usize = 1000;
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                client.delete_object().bucket(bucket).key(key).send().await?;
            }
        }
        token = match page.is_truncated() {
            Some(true) => page.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        if token.is_none() {
            break;
        }
    }
    for _ in 0..MAX_PAGES {
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await?;
        let uploads = page.uploads();
        if uploads.is_empty() {
            break;
        }
        for upload in uploads {
            if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await?;
            }
        }
    }
    Ok(())
}
