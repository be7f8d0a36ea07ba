//! What a server offers: limits, the extensions served, expiry. Derived
//! once from the configuration and what the store can do, then passed to
//! every decision.

use std::time::Duration;

use super::error::TusError;
use crate::checksum::Verification;
use crate::headers::Extension;
use crate::store::Store;

/// Bounds on what one final (concatenated) upload may assemble, so a small
/// request cannot make the server write a large amount of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatLimits {
    /// The most partials a final may list (repetitions counted).
    pub max_parts: usize,
    /// How often one partial may appear in a final's list.
    pub max_repeats: usize,
}

impl Default for ConcatLimits {
    fn default() -> Self {
        Self {
            max_parts: 256,
            max_repeats: 4,
        }
    }
}

/// The limits and extensions a server is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Largest upload accepted (`Tus-Max-Size`), if any.
    pub max_size: Option<u64>,
    /// Extensions served, in advertising order.
    pub extensions: Vec<Extension>,
    /// Lifetime of an unfinished upload after its last write (sliding expiration).
    pub expire_after: Option<Duration>,
    /// Bounds on final uploads.
    pub concat: ConcatLimits,
}

impl Policy {
    /// A policy serving every extension `store` supports (and `expiration`
    /// when `expire_after` is set), except those in `disabled`.
    pub fn for_store(
        store: &dyn Store,
        max_size: Option<u64>,
        expire_after: Option<Duration>,
        disabled: &[Extension],
    ) -> Self {
        Self {
            max_size,
            extensions: extensions(store, expire_after.is_some(), disabled),
            expire_after,
            concat: ConcatLimits::default(),
        }
    }

    /// Whether `extension` is served.
    pub fn supports(&self, extension: Extension) -> bool {
        self.extensions.contains(&extension)
    }

    /// `Err(MaxSizeExceeded)` if `size` is over the maximum.
    pub fn check_size(&self, size: u64) -> Result<(), TusError> {
        match self.max_size {
            Some(max) if size > max => Err(TusError::MaxSizeExceeded { max }),
            _ => Ok(()),
        }
    }

    /// What a body must be verified against, given the checksum the request
    /// announced; a checksum this server cannot verify is an error.
    pub fn verification(&self, claim: Option<&Verification>) -> Result<Option<Verification>, TusError> {
        match claim {
            None => Ok(None),
            Some(Verification::Header(_)) if self.supports(Extension::Checksum) => Ok(claim.cloned()),
            Some(Verification::Trailer) if self.supports(Extension::ChecksumTrailer) => Ok(claim.cloned()),
            Some(_) => Err(TusError::UnsupportedChecksumAlgorithm),
        }
    }
}

/// The extensions served, in advertising order: what the store supports
/// (by the capabilities it returns), `expiration` when uploads expire,
/// minus `disabled`. Every store verifies checksums (its writers are
/// all-or-nothing on request), so `checksum` and `checksum-trailer` are
/// always offered.
pub fn extensions(store: &dyn Store, expiration: bool, disabled: &[Extension]) -> Vec<Extension> {
    let mut extensions = vec![Extension::Creation, Extension::CreationWithUpload];
    if store.deferred_length().is_some() {
        extensions.push(Extension::CreationDeferLength);
    }
    if store.termination().is_some() {
        extensions.push(Extension::Termination);
    }
    extensions.extend([Extension::Checksum, Extension::ChecksumTrailer]);
    if expiration {
        extensions.push(Extension::Expiration);
    }
    if store.concatenation().is_some() {
        extensions.extend([Extension::Concatenation, Extension::ConcatenationUnfinished]);
    }
    extensions.retain(|extension| !disabled.contains(extension));
    extensions
}

#[cfg(test)]
mod tests {
    use std::ops::Range;
    use std::time::SystemTime;

    use futures::future::BoxFuture;

    use super::*;
    use crate::store::{DataStream, Durability, MemoryStore, StoreError, Writer};
    use crate::upload::{NewUpload, UploadId, UploadInfo};

    /// A store with no optional capability.
    struct Minimal;

    impl Store for Minimal {
        fn create(&self, _: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
            Box::pin(async { Err(StoreError::NotFound) })
        }
        fn info<'a>(&'a self, _: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
            Box::pin(async { Err(StoreError::NotFound) })
        }
        fn writer<'a>(
            &'a self,
            _: &'a UploadId,
            _: u64,
            _: Durability,
            _: SystemTime,
        ) -> BoxFuture<'a, Result<Writer, StoreError>> {
            Box::pin(async { Err(StoreError::NotFound) })
        }
        fn read<'a>(&'a self, _: &'a UploadId, _: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
            Box::pin(async { Err(StoreError::NotFound) })
        }
    }

    #[test]
    fn extensions_follow_the_store_capabilities() {
        use Extension::*;
        assert_eq!(
            extensions(&Minimal, false, &[]),
            [Creation, CreationWithUpload, Checksum, ChecksumTrailer]
        );
        assert_eq!(
            extensions(&MemoryStore::new(), true, &[ChecksumTrailer]),
            [
                Creation,
                CreationWithUpload,
                CreationDeferLength,
                Termination,
                Checksum,
                Expiration,
                Concatenation,
                ConcatenationUnfinished
            ]
        );
    }

    #[test]
    fn a_checksum_is_verified_only_when_served() {
        let header = Verification::Trailer;
        let mut policy = Policy::for_store(&Minimal, None, None, &[]);
        assert_eq!(policy.verification(None).ok(), Some(None));
        assert_eq!(policy.verification(Some(&header)).ok(), Some(Some(header.clone())));
        policy.extensions.retain(|e| *e != Extension::ChecksumTrailer);
        assert!(matches!(
            policy.verification(Some(&header)),
            Err(TusError::UnsupportedChecksumAlgorithm)
        ));
    }
}
