//! Parallel uploads (concatenation extension): the source is cut into
//! ranges, each uploaded as a partial upload of its own (resumable on its
//! own), then joined by a final upload that names them in order.

use std::ops::Range;

use http::Uri;

use crate::headers::UploadConcat;

/// Splits `length` bytes into at most `parts` contiguous ranges of at
/// least `min_part` bytes each (fewer parts when the source is small;
/// always at least one range, possibly empty).
pub fn split(length: u64, parts: u64, min_part: u64) -> Vec<Range<u64>> {
    let by_size = length.checked_div(min_part.max(1)).unwrap_or(0).max(1);
    let count = parts.clamp(1, by_size);
    let base = length / count;
    let extra = length % count;
    let mut start = 0;
    (0..count)
        .map(|index| {
            let len = base + u64::from(index < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// The `Upload-Concat: final;…` header naming `parts` in order, exactly as
/// their creation answered (absolute URLs: tuspyserver refuses relative ones).
pub fn final_concat(parts: &[Uri]) -> UploadConcat {
    UploadConcat::Final(parts.iter().map(Uri::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn split_table() {
        let cases: &[(u64, u64, u64, &[Range<u64>])] = &[
            (10, 1, 1, &[0..10]),
            (10, 3, 1, &[0..4, 4..7, 7..10]),
            (10, 3, 4, &[0..5, 5..10]),
            (10, 3, 100, &[0..10]),
            (0, 4, 1, &[0..0]),
            (9, 0, 0, &[0..9]),
            (8, 4, 2, &[0..2, 2..4, 4..6, 6..8]),
        ];
        for (length, parts, min_part, expected) in cases {
            assert_eq!(
                split(*length, *parts, *min_part),
                expected.to_vec(),
                "{length} {parts} {min_part}"
            );
        }
    }

    #[test]
    fn final_concat_keeps_urls_as_given() {
        let parts: Vec<Uri> = vec![
            "http://127.0.0.1:1/files/a".parse().expect("uri"),
            "http://127.0.0.1:1/files/b".parse().expect("uri"),
        ];
        assert_eq!(
            final_concat(&parts),
            UploadConcat::Final(vec![
                "http://127.0.0.1:1/files/a".into(),
                "http://127.0.0.1:1/files/b".into()
            ])
        );
    }
}
