//! Part sizing: a pure function of the upload's size and the preferred part
//! size, table-tested against S3's limits.
//!
//! S3 (and every compatible server that enforces its rules) requires:
//!
//! | limit | value |
//! |---|---|
//! | smallest part but the last | 5 MiB ([`MIN_PART_SIZE`]) |
//! | largest part | 5 GiB ([`MAX_PART_SIZE`]) |
//! | parts per multipart upload | 10,000 ([`MAX_PARTS`]) |
//! | largest object | 5 TiB ([`MAX_OBJECT_SIZE`]) |
//!
//! Every part but the last of an upload has exactly the planned size, so
//! the rules hold whatever chunk sizes the client sends, and servers that
//! want equal part sizes (Cloudflare R2) are satisfied too.

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;
/// The smallest size S3 accepts for a part that is not the last.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest size S3 accepts for one part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// The most parts one multipart upload may have.
pub const MAX_PARTS: u64 = 10_000;
/// The largest object S3 stores.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// The part size used unless configured otherwise: small enough to keep
/// memory low, large enough for good throughput.
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;

/// Why no part size fits an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PartSizeError {
    /// The upload is larger than the largest object S3 stores.
    #[error("upload of {0} bytes is larger than the largest S3 object ({MAX_OBJECT_SIZE} bytes)")]
    TooLarge(u64),
}

/// The size of every part but the last of an upload of `upload_size` bytes
/// (`None` while the length is deferred), given the `preferred` part size.
///
/// The result lies within `MIN_PART_SIZE..=MAX_PART_SIZE`, is at least
/// `preferred` (clamped to that range), and splits the upload into at most
/// [`MAX_PARTS`] parts; when `preferred` is too small for that, it is the
/// smallest whole number of MiB that is large enough. A deferred upload gets
/// the preferred size, so it can grow to `MAX_PARTS` times it.
pub const fn part_size(upload_size: Option<u64>, preferred: u64) -> Result<u64, PartSizeError> {
    let preferred = clamp(preferred, MIN_PART_SIZE, MAX_PART_SIZE);
    let Some(size) = upload_size else {
        return Ok(preferred);
    };
    if size > MAX_OBJECT_SIZE {
        return Err(PartSizeError::TooLarge(size));
    }
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    Ok(clamp(
        if needed > preferred { needed } else { preferred },
        MIN_PART_SIZE,
        MAX_PART_SIZE,
    ))
}

/// How many parts an upload of `size` bytes takes with parts of `part_size`
/// (one for an empty upload: S3 completes no multipart upload without a part).
pub const fn part_count(size: u64, part_size: u64) -> u64 {
    if size == 0 || part_size == 0 {
        1
    } else {
        size.div_ceil(part_size)
    }
}

/// The most bytes a deferred-length upload can hold with parts of `part_size`.
pub const fn deferred_limit(part_size: u64) -> u64 {
    let limit = part_size.saturating_mul(MAX_PARTS);
    if limit < MAX_OBJECT_SIZE {
        limit
    } else {
        MAX_OBJECT_SIZE
    }
}

const fn clamp(value: u64, min: u64, max: u64) -> u64 {
    if value < min {
        min
    } else if value > max {
        max
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;
    const TIB: u64 = 1024 * GIB;

    #[test]
    fn part_size_table() {
        let cases: &[(Option<u64>, u64, Result<u64, PartSizeError>)] = &[
            (None, DEFAULT_PART_SIZE, Ok(8 * MIB)),
            (None, 1, Ok(MIN_PART_SIZE)),
            (None, 100 * GIB, Ok(MAX_PART_SIZE)),
            (Some(0), DEFAULT_PART_SIZE, Ok(8 * MIB)),
            (Some(1), MIN_PART_SIZE, Ok(MIN_PART_SIZE)),
            (Some(64 * 1024), 0, Ok(MIN_PART_SIZE)),
            (Some(80 * GIB), 8 * MIB, Ok(9 * MIB)),
            (Some(80_000 * MIB), 8 * MIB, Ok(8 * MIB)),
            (Some(80_000 * MIB + 1), 8 * MIB, Ok(9 * MIB)),
            (Some(48 * GIB), MIN_PART_SIZE, Ok(5 * MIB)),
            (Some(49 * GIB), MIN_PART_SIZE, Ok(6 * MIB)),
            (Some(TIB), 8 * MIB, Ok(105 * MIB)),
            (Some(MAX_OBJECT_SIZE), 8 * MIB, Ok(525 * MIB)),
            (Some(MAX_OBJECT_SIZE), 6 * GIB, Ok(MAX_PART_SIZE)),
            (
                Some(MAX_OBJECT_SIZE + 1),
                8 * MIB,
                Err(PartSizeError::TooLarge(MAX_OBJECT_SIZE + 1)),
            ),
            (Some(u64::MAX), 8 * MIB, Err(PartSizeError::TooLarge(u64::MAX))),
        ];
        for &(size, preferred, expected) in cases {
            assert_eq!(
                part_size(size, preferred),
                expected,
                "size {size:?}, preferred {preferred}"
            );
        }
    }

    #[test]
    fn every_plan_respects_the_s3_limits() {
        let sizes = [
            0,
            1,
            MIN_PART_SIZE - 1,
            MIN_PART_SIZE,
            10 * GIB + 7,
            50 * GIB,
            3 * TIB + 1,
            MAX_OBJECT_SIZE,
        ];
        let preferred = [0, MIN_PART_SIZE, 8 * MIB, 64 * MIB + 3, MAX_PART_SIZE, u64::MAX];
        for size in sizes {
            for preferred in preferred {
                let part = part_size(Some(size), preferred).expect("fits");
                assert!(
                    (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part),
                    "{size} {preferred}: {part}"
                );
                assert!(part_count(size, part) <= MAX_PARTS, "{size} {preferred}: {part}");
                assert!(part >= preferred.clamp(MIN_PART_SIZE, MAX_PART_SIZE));
            }
        }
    }

    #[test]
    fn part_counts_and_deferred_limits() {
        assert_eq!(part_count(0, MIN_PART_SIZE), 1);
        assert_eq!(part_count(1, MIN_PART_SIZE), 1);
        assert_eq!(part_count(MIN_PART_SIZE, MIN_PART_SIZE), 1);
        assert_eq!(part_count(MIN_PART_SIZE + 1, MIN_PART_SIZE), 2);
        assert_eq!(deferred_limit(8 * MIB), 80_000 * MIB);
        assert_eq!(deferred_limit(MAX_PART_SIZE), MAX_OBJECT_SIZE);
    }
}
