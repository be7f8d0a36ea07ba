//! Stored bytes flowing out: an S3 response body as a [`DataStream`].

use std::io;

use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt as _;
use tus_core::store::DataStream;

/// The chunks of `body` as they arrive from S3.
pub(crate) fn stream(body: ByteStream) -> DataStream {
    futures::stream::unfold(Some(body), |body| async move {
        let mut body = body?;
        match body.next().await? {
            Ok(chunk) => Some((Ok(chunk), Some(body))),
            Err(error) => {
                // The response is cut short: say why on the server's side.
                tracing::warn!(%error, "an S3 read stopped mid-body");
                Some((Err(io::Error::other(error)), None))
            }
        }
    })
    .boxed()
}
