//! Ids for new uploads, injected so tests are deterministic.

use tus_core::store::BoxError;
use tus_core::upload::UploadId;

/// Makes ids for new uploads.
pub trait IdGenerator: Send + Sync + 'static {
    /// A fresh id, unique among this server's uploads (a collision is
    /// caught by the store: the creation fails with `ERR_UPLOAD_EXISTS`).
    fn generate(&self) -> Result<UploadId, BoxError>;
}

/// 128 bits from the operating system's secure random source, as 32
/// lowercase hex characters (the same shape as tusd's ids).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn generate(&self) -> Result<UploadId, BoxError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|error| Box::new(error) as BoxError)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(UploadId::parse(&hex)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = RandomIds.generate().expect("random");
        let b = RandomIds.generate().expect("random");
        assert_eq!(a.as_str().len(), 32);
        assert!(UploadId::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
    }
}
