//! The S3 calls the store makes, as small methods over one bucket, with the
//! SDK's errors reduced to what the store acts on: absent or failed.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tag, Tagging};
use bytes::Bytes;
use tus_core::store::{BoxError, StoreError};

use crate::S3Timeouts;
use crate::layout::Listed;
use crate::state::Keys;

/// The tag on the info object, segments and markers of an unfinished upload,
/// for a lifecycle rule that expires abandoned uploads.
pub(crate) const UNFINISHED_TAG: &str = "tus-upload=unfinished";
/// The tag that replaces it on the info object once the upload is complete.
pub(crate) const COMPLETE_TAG: &str = "tus-upload=complete";

/// An S3 call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum S3Error {
    /// The object or multipart upload does not exist.
    #[error("no such object or multipart upload")]
    Missing,
    /// A conditional write found the object already there.
    #[error("object already exists")]
    Exists,
    /// The server could not be reached or asked to retry later (connection
    /// refused or reset, timeout, 500/503 `SlowDown`).
    #[error("S3 {operation} failed: server unavailable")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// Anything else: permissions, invalid requests, unexpected answers.
    #[error("S3 {operation} failed")]
    Failed {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl From<S3Error> for StoreError {
    fn from(error: S3Error) -> Self {
        match error {
            S3Error::Missing => StoreError::NotFound,
            S3Error::Exists => StoreError::AlreadyExists,
            unavailable @ S3Error::Unavailable { .. } => StoreError::Unavailable(Box::new(unavailable)),
            failed @ S3Error::Failed { .. } => StoreError::backend(failed),
        }
    }
}

/// Classifies an SDK error: 404s and the "no such" codes are [`S3Error::Missing`].
fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let missing_code = matches!(error.code(), Some("NoSuchKey" | "NoSuchUpload" | "NotFound"));
    // HEAD answers carry no error code, only the status.
    let status_404 = matches!(&error, SdkError::ServiceError(_))
        && error.raw_response().is_some_and(|raw| raw.status().as_u16() == 404);
    if missing_code || status_404 {
        return S3Error::Missing;
    }
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    if matches!(error.code(), Some("PreconditionFailed")) || status == Some(412) {
        return S3Error::Exists;
    }
    let unreachable = matches!(&error, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    let retry_later = matches!(status, Some(500 | 502 | 503 | 504))
        || matches!(error.code(), Some("SlowDown" | "ServiceUnavailable" | "InternalError"));
    if unreachable || retry_later {
        return S3Error::Unavailable {
            operation,
            source: Box::new(error),
        };
    }
    S3Error::Failed {
        operation,
        source: Box::new(error),
    }
}

/// One finished part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartRef {
    pub(crate) number: i32,
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) modified: Option<SystemTime>,
}

/// What a HEAD of an object says.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) metadata: HashMap<String, String>,
}

/// A bucket and the client that reaches it.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) client: Client,
    pub(crate) name: String,
    /// Whether objects are tagged for lifecycle rules ([`UNFINISHED_TAG`], [`COMPLETE_TAG`]).
    pub(crate) lifecycle_tags: bool,
    /// Per-call timeouts of the transfers (the client's own cover the rest).
    pub(crate) timeouts: S3Timeouts,
}

fn time(value: Option<&DateTime>) -> Option<SystemTime> {
    value.and_then(|time| SystemTime::try_from(*time).ok())
}

/// An ETag without its quotes, as PutObject and ListObjectsV2 both give it.
fn etag(value: Option<&str>) -> String {
    value.unwrap_or_default().trim_matches('"').to_owned()
}

fn len(value: Option<i64>) -> u64 {
    value.and_then(|len| u64::try_from(len).ok()).unwrap_or(0)
}

impl Bucket {
    /// Writes `body` to `key` with user `metadata`; returns the new ETag.
    /// The body goes unsigned (`UNSIGNED-PAYLOAD`): the SDK's CRC32 checksum
    /// header, which is signed, still lets S3 reject a corrupted body, and
    /// neither side hashes every byte with SHA-256.
    pub(crate) async fn put(&self, key: &str, body: Bytes, metadata: &[(&str, String)]) -> Result<String, S3Error> {
        let size = body.len() as u64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(body));
        for (name, value) in metadata {
            request = request.metadata(*name, value);
        }
        if self.lifecycle_tags {
            request = request.tagging(UNFINISHED_TAG);
        }
        let output = request
            .customize()
            .config_override(self.timeouts.transfer_override(size))
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| classify("PutObject", e))?;
        Ok(etag(output.e_tag()))
    }

    /// Writes `body` to `key` only if no object is there (`If-None-Match: *`):
    /// [`S3Error::Exists`] otherwise. Atomic on servers that support
    /// conditional writes (AWS since 2024, Garage, MinIO).
    pub(crate) async fn put_if_absent(&self, key: &str, body: Bytes) -> Result<(), S3Error> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(body));
        if self.lifecycle_tags {
            request = request.tagging(UNFINISHED_TAG);
        }
        request.send().await.map_err(|e| classify("PutObject", e))?;
        Ok(())
    }

    /// The whole object, which the caller knows to be small.
    pub(crate) async fn get_small(&self, key: &str) -> Result<(Bytes, Option<SystemTime>), S3Error> {
        let output = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("GetObject", e))?;
        let modified = time(output.last_modified());
        let body = output.body.collect().await.map_err(|e| S3Error::Failed {
            operation: "GetObject",
            source: Box::new(e),
        })?;
        Ok((body.into_bytes(), modified))
    }

    /// A streaming body of `range` (end exclusive, not empty) of the object.
    pub(crate) async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<ByteStream, S3Error> {
        let output = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(|e| classify("GetObject", e))?;
        Ok(output.body)
    }

    pub(crate) async fn head(&self, key: &str) -> Result<Head, S3Error> {
        let output = self
            .client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("HeadObject", e))?;
        Ok(Head {
            len: len(output.content_length()),
            modified: time(output.last_modified()),
            metadata: output.metadata().cloned().unwrap_or_default(),
        })
    }

    /// Deletes the object; an absent one is not an error.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), S3Error> {
        match self.client.delete_object().bucket(&self.name).key(key).send().await {
            Ok(_) => Ok(()),
            Err(error) => match classify("DeleteObject", error) {
                S3Error::Missing => Ok(()),
                other => Err(other),
            },
        }
    }

    pub(crate) async fn create_multipart(&self, key: &str) -> Result<String, S3Error> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("CreateMultipartUpload", e))?;
        output.upload_id().map(str::to_owned).ok_or_else(|| S3Error::Failed {
            operation: "CreateMultipartUpload",
            source: "answer without an upload id".into(),
        })
    }

    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload: &str,
        number: i32,
        body: Bytes,
    ) -> Result<PartRef, S3Error> {
        let size = body.len() as u64;
        let output = self
            .client
            .upload_part()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .body(ByteStream::from(body))
            .customize()
            .config_override(self.timeouts.transfer_override(size))
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| classify("UploadPart", e))?;
        Ok(PartRef {
            number,
            size,
            etag: output.e_tag().unwrap_or_default().to_owned(),
            modified: Some(SystemTime::now()),
        })
    }

    /// Copies `range` (end exclusive) of object `source` into part `number`.
    pub(crate) async fn copy_part(
        &self,
        key: &str,
        upload: &str,
        number: i32,
        source: &str,
        start: u64,
        end: u64,
    ) -> Result<PartRef, S3Error> {
        let output = self
            .client
            .upload_part_copy()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload)
            .part_number(number)
            .copy_source(format!("{}/{}", self.name, source))
            .copy_source_range(format!("bytes={start}-{}", end - 1))
            .customize()
            .config_override(self.timeouts.transfer_override(end - start))
            .send()
            .await
            .map_err(|e| classify("UploadPartCopy", e))?;
        let result = output.copy_part_result();
        Ok(PartRef {
            number,
            size: end - start,
            etag: result.and_then(|r| r.e_tag()).unwrap_or_default().to_owned(),
            modified: time(result.and_then(|r| r.last_modified())),
        })
    }

    /// Every part of the multipart upload, in order, following pagination
    /// (at most `MAX_PARTS` parts, so a bounded number of pages).
    pub(crate) async fn list_parts(&self, key: &str, upload: &str) -> Result<Vec<PartRef>, S3Error> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        // 10,000 parts at no fewer than one per page: the bound is generous.
        for _ in 0..=crate::plan::MAX_PARTS {
            let mut request = self.client.list_parts().bucket(&self.name).key(key).upload_id(upload);
            if let Some(marker) = &marker {
                request = request.part_number_marker(marker);
            }
            let output = request.send().await.map_err(|e| classify("ListParts", e))?;
            for part in output.parts() {
                parts.push(PartRef {
                    number: part.part_number().unwrap_or(0),
                    size: len(part.size()),
                    etag: part.e_tag().unwrap_or_default().to_owned(),
                    modified: time(part.last_modified()),
                });
            }
            match (output.is_truncated(), output.next_part_number_marker()) {
                (Some(true), Some(next)) if Some(next) != marker.as_deref() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|part| part.number);
        Ok(parts)
    }

    pub(crate) async fn complete(&self, key: &str, upload: &str, parts: &[PartRef]) -> Result<(), S3Error> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|part| {
                        CompletedPart::builder()
                            .part_number(part.number)
                            .e_tag(&part.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload)
            .multipart_upload(completed)
            .customize()
            .config_override(
                self.timeouts
                    .transfer_override(parts.iter().map(|part| part.size).sum()),
            )
            .send()
            .await
            .map_err(|e| classify("CompleteMultipartUpload", e))?;
        Ok(())
    }

    /// Completes the upload: CompleteMultipartUpload with `parts`, then
    /// deletes the objects that held its tail (`leftovers`: segments,
    /// commit markers, an old-layout incomplete part) and retags the info
    /// object as complete.
    pub(crate) async fn finish(
        &self,
        keys: &Keys,
        upload: &str,
        parts: &[PartRef],
        leftovers: &[String],
    ) -> Result<(), S3Error> {
        self.complete(&keys.data, upload, parts).await?;
        self.delete_many(leftovers).await?;
        self.tag_complete(&keys.info).await
    }

    /// Completes an upload of zero bytes: one empty part, or, where the
    /// server refuses that, an empty object in place of the multipart upload.
    pub(crate) async fn finish_empty(&self, keys: &Keys, upload: &str, leftovers: &[String]) -> Result<(), S3Error> {
        let completed = match self.upload_part(&keys.data, upload, 1, Bytes::new()).await {
            Ok(part) => self.complete(&keys.data, upload, &[part]).await,
            Err(error) => Err(error),
        };
        if let Err(error) = completed {
            tracing::debug!(key = %keys.data, %error, "empty multipart upload refused; writing an empty object");
            self.abort(&keys.data, upload).await?;
            self.client
                .put_object()
                .bucket(&self.name)
                .key(&keys.data)
                .body(ByteStream::from(Bytes::new()))
                .send()
                .await
                .map_err(|e| classify("PutObject", e))?;
        }
        self.delete_many(leftovers).await?;
        self.tag_complete(&keys.info).await
    }

    /// With lifecycle tags, marks the object as belonging to a complete upload.
    pub(crate) async fn tag_complete(&self, key: &str) -> Result<(), S3Error> {
        if !self.lifecycle_tags {
            return Ok(());
        }
        let (name, value) = COMPLETE_TAG.split_once('=').unwrap_or((COMPLETE_TAG, ""));
        let tag = Tag::builder()
            .key(name)
            .value(value)
            .build()
            .map_err(|e| S3Error::Failed {
                operation: "PutObjectTagging",
                source: Box::new(e),
            })?;
        let tagging = Tagging::builder().tag_set(tag).build().map_err(|e| S3Error::Failed {
            operation: "PutObjectTagging",
            source: Box::new(e),
        })?;
        self.client
            .put_object_tagging()
            .bucket(&self.name)
            .key(key)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| classify("PutObjectTagging", e))?;
        Ok(())
    }

    /// Aborts the multipart upload; an absent one is not an error.
    pub(crate) async fn abort(&self, key: &str, upload: &str) -> Result<(), S3Error> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match classify("AbortMultipartUpload", error) {
                S3Error::Missing => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Deletes `keys` with DeleteObjects (1,000 a request); absent keys are
    /// not an error.
    pub(crate) async fn delete_many(&self, keys: &[String]) -> Result<(), S3Error> {
        for batch in keys.chunks(1000) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| S3Error::Failed {
                    operation: "DeleteObjects",
                    source: Box::new(e),
                })?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| S3Error::Failed {
                    operation: "DeleteObjects",
                    source: Box::new(e),
                })?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| classify("DeleteObjects", e))?;
            if let Some(error) = output.errors().iter().find(|e| e.code() != Some("NoSuchKey")) {
                return Err(S3Error::Failed {
                    operation: "DeleteObjects",
                    source: format!(
                        "{}: {}",
                        error.key().unwrap_or_default(),
                        error.message().unwrap_or_default()
                    )
                    .into(),
                });
            }
        }
        Ok(())
    }

    /// The upload's objects: its data object (once complete) and every
    /// object directly under `{prefix}{id}.` (not below a further `/`), with
    /// size and ETag, all pages. The data object is listed too so that a
    /// completion changes the listing even after its segments and markers
    /// are gone (the listing would otherwise look as it did before the
    /// first byte).
    pub(crate) async fn list_upload(&self, keys: &Keys) -> Result<Vec<Listed>, S3Error> {
        let mut listed = self.list_objects(&keys.data).await?;
        // Keys of other uploads whose ids start with this one's.
        listed.retain(|object| object.key == keys.data || object.key.starts_with(&keys.stem));
        Ok(listed)
    }

    /// Every object directly under `stem` (not below a further `/`), with
    /// size and ETag, all pages.
    async fn list_objects(&self, stem: &str) -> Result<Vec<Listed>, S3Error> {
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        // A part's worth of 1-byte segments is 5,000 pages at most; the
        // bound only stops a server that never ends its listing.
        for _ in 0..100_000 {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(stem)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify("ListObjectsV2", e))?;
            for object in output.contents() {
                if let Some(key) = object.key() {
                    listed.push(Listed {
                        key: key.to_owned(),
                        size: len(object.size()),
                        etag: etag(object.e_tag()),
                        modified: time(object.last_modified()),
                    });
                }
            }
            match (output.is_truncated(), output.next_continuation_token()) {
                (Some(true), Some(next)) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(listed)
    }

    /// One page of keys under `prefix`, and the token of the next page.
    pub(crate) async fn list_keys(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), S3Error> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| classify("ListObjectsV2", e))?;
        let keys = output
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect();
        let next = match output.is_truncated() {
            Some(true) => output.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        Ok((keys, next))
    }
}
