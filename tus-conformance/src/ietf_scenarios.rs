//! The IETF draft's scenarios as data, one table per interop version (9, 8,
//! 6), plus the cases where the dialects meet (an upload created in one and
//! continued or read in the other). They run wherever the tus scenarios run
//! ([`crate::scenarios::all`] includes them): on the memory store and over
//! HTTP against both examples.

use crate::scenarios::{EXPIRE_AFTER_SECS, MAX_SIZE, Scenario, Step, Target, scenario};

use Target::{Collection, Created};

const PARTIAL_UPLOAD: &str = "application/partial-upload";

/// Every draft scenario, for each interop version, then the cross-dialect ones.
pub fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    for version in [9, 8, 6] {
        all.extend(per_version(version));
    }
    all.extend(across_dialects());
    all
}

fn named(version: u64, name: &str) -> &'static str {
    Box::leak(format!("IETF interop {version}: {name}").into_boxed_str())
}

/// A creation with `Upload-Complete: ?{complete}`.
fn create(version: u64, complete: bool, status: u16) -> Step {
    Step::draft("POST", Collection, version, status).header("upload-complete", if complete { "?1" } else { "?0" })
}

/// An append at `offset` with `Upload-Complete: ?{complete}`.
fn append(version: u64, target: Target, offset: u64, complete: bool, status: u16) -> Step {
    Step::draft("PATCH", target, version, status)
        .header("content-type", PARTIAL_UPLOAD)
        .header("upload-offset", offset.to_string())
        .header("upload-complete", if complete { "?1" } else { "?0" })
}

/// The status of an append that leaves the upload incomplete.
fn incomplete(version: u64) -> u16 {
    if version == 6 { 201 } else { 204 }
}

/// Offset retrieval expecting `offset` and completeness.
fn head(version: u64, offset: u64, complete: bool) -> Step {
    Step::draft("HEAD", Created, version, 204)
        .expect("upload-offset", offset.to_string())
        .expect("upload-complete", if complete { "?1" } else { "?0" })
        .expect("cache-control", "no-store")
        .expect_present("upload-limit")
}

fn per_version(version: u64) -> Vec<Scenario> {
    let lifetime = if version == 6 { "expires" } else { "max-age" };
    let limit = format!("max-size={MAX_SIZE}, {lifetime}={EXPIRE_AFTER_SECS}");
    let mismatch = {
        let step = append(version, Created, 1, false, 409)
            .body("x")
            .expect("upload-offset", "3")
            .expect("content-type", "application/problem+json");
        if version == 6 {
            step
        } else {
            step.expect("upload-complete", "?0")
        }
    };
    vec![
        scenario(
            named(version, "OPTIONS announces the limits"),
            vec![
                Step::draft("OPTIONS", Collection, version, 204)
                    .expect("upload-limit", limit.clone())
                    .expect("accept-patch", PARTIAL_UPLOAD),
            ],
        ),
        scenario(
            named(version, "a whole upload in one request, then offset retrieval and GET"),
            vec![
                create(version, true, 201)
                    .header("upload-length", "5")
                    .body("hello")
                    .expect_present("location")
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "5"),
                head(version, 5, true).expect("upload-length", "5"),
                Step::new("GET", Created, 200)
                    .without("tus-resumable")
                    .expect_body("hello"),
                Step::new("HEAD", Created, 200)
                    .expect("upload-offset", "5")
                    .expect("upload-length", "5"),
            ],
        ),
        scenario(
            named(
                version,
                "an upload in parts: creation with a part, appends, the last one with ?1",
            ),
            vec![
                create(version, false, 201)
                    .header("upload-length", "11")
                    .body("hello")
                    .expect("upload-complete", "?0")
                    .expect("upload-offset", "5")
                    .expect("upload-limit", limit.clone()),
                append(version, Created, 5, false, incomplete(version))
                    .body(" wor")
                    .expect("upload-complete", "?0")
                    .expect("upload-offset", "9"),
                head(version, 9, false).expect("upload-length", "11"),
                append(version, Created, 9, true, 201)
                    .body("ld")
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "11"),
                Step::draft("GET", Created, version, 200)
                    .expect_body("hello world")
                    .expect("upload-complete", "?1"),
            ],
        ),
        scenario(
            named(version, "an unknown length, chunked; the ?1 request declares it"),
            vec![
                create(version, false, 201)
                    .chunked(&[b"ab", b"cd"])
                    .expect("upload-offset", "4"),
                head(version, 4, false).expect_absent("upload-length"),
                Step::draft("GET", Created, version, 204).expect("upload-offset", "4"),
                append(version, Created, 4, true, 201)
                    .chunked(&[b"e", b"f"])
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "6"),
                head(version, 6, true).expect("upload-length", "6"),
                Step::new("GET", Created, 200)
                    .without("tus-resumable")
                    .expect_body("abcdef"),
            ],
        ),
        scenario(
            named(version, "a ?1 creation of unknown length, chunked, and an empty one"),
            vec![
                create(version, true, 201)
                    .chunked(&[b"ab", b"c"])
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "3"),
                head(version, 3, true).expect("upload-length", "3"),
                create(version, true, 201).expect("upload-offset", "0"),
                head(version, 0, true).expect("upload-length", "0"),
            ],
        ),
        scenario(
            named(
                version,
                "an empty file announced with ?0 and Upload-Length: 0 is complete (tus-js-client)",
            ),
            vec![
                create(version, false, 201)
                    .header("upload-length", "0")
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "0"),
                head(version, 0, true).expect("upload-length", "0"),
                append(version, Created, 0, true, 201).expect("upload-complete", "?1"),
            ],
        ),
        scenario(
            named(
                version,
                "a mismatching offset is 409 with the offset and a problem document",
            ),
            vec![
                create(version, false, 201).header("upload-length", "10").body("abc"),
                mismatch,
                head(version, 3, false),
            ],
        ),
        scenario(
            named(version, "inconsistent lengths are 400 problems and change nothing"),
            vec![
                create(version, true, 400)
                    .header("upload-length", "5")
                    .body("abc")
                    .expect("content-type", "application/problem+json")
                    .expect_absent("location"),
                create(version, false, 201).header("upload-length", "5").body("ab"),
                append(version, Created, 2, true, 400)
                    .body("c")
                    .expect("content-type", "application/problem+json"),
                append(version, Created, 2, false, 400)
                    .header("upload-length", "6")
                    .body("c"),
                append(version, Created, 2, false, 400).body("cdefg"),
                head(version, 2, false).expect("upload-length", "5"),
            ],
        ),
        scenario(
            named(
                version,
                "a completed upload: the empty ?1 append is answered again, data is refused",
            ),
            vec![
                create(version, true, 201).body("abc"),
                append(version, Created, 3, true, 201)
                    .expect("upload-complete", "?1")
                    .expect("upload-offset", "3"),
                append(version, Created, 3, false, 400)
                    .body("x")
                    .expect("content-type", "application/problem+json"),
                head(version, 3, true),
            ],
        ),
        scenario(
            named(
                version,
                "an append needs application/partial-upload, Upload-Offset and (from 8) Upload-Complete",
            ),
            vec![
                create(version, false, 201).header("upload-length", "3"),
                append(version, Created, 0, false, 415)
                    .header("content-type", "application/offset+octet-stream")
                    .body("a"),
                append(version, Created, 0, false, 400)
                    .without("upload-offset")
                    .body("a"),
                if version == 6 {
                    append(version, Created, 0, false, 201)
                        .without("upload-complete")
                        .body("a")
                        .expect("upload-offset", "1")
                } else {
                    append(version, Created, 0, false, 400)
                        .without("upload-complete")
                        .body("a")
                },
            ],
        ),
        scenario(
            named(version, "cancellation"),
            vec![
                create(version, false, 201).header("upload-length", "3"),
                Step::draft("DELETE", Created, version, 204),
                Step::draft("HEAD", Created, version, 404),
                append(version, Created, 0, false, 404).body("a"),
            ],
        ),
        scenario(
            named(version, "a creation above the maximum size is 413 with the limits"),
            vec![
                create(version, false, 413)
                    .header("upload-length", (MAX_SIZE + 1).to_string())
                    .expect("upload-limit", limit.clone())
                    .expect_absent("location"),
            ],
        ),
        scenario(
            named(version, "offset retrieval and cancellation of a missing upload are 404"),
            vec![
                Step::draft("HEAD", Target::Path("/files/nonexistent"), version, 404),
                Step::draft("DELETE", Target::Path("/files/nonexistent"), version, 404),
            ],
        ),
        if version == 6 {
            scenario(
                named(version, "offset retrieval and cancellation must not carry upload state"),
                vec![
                    create(version, false, 201).header("upload-length", "3"),
                    Step::draft("HEAD", Created, version, 400).header("upload-offset", "0"),
                    Step::draft("DELETE", Created, version, 400).header("upload-complete", "?1"),
                    head(version, 0, false),
                    // Every answer about an active upload carries its offset.
                    append(version, Created, 0, true, 400)
                        .body("ab")
                        .expect("upload-offset", "0"),
                ],
            )
        } else {
            scenario(
                named(version, "a ?0 request that reaches the length completes the upload"),
                vec![
                    create(version, false, 201).header("upload-length", "3").body("ab"),
                    append(version, Created, 2, false, 201)
                        .body("c")
                        .expect("upload-complete", "?1"),
                    head(version, 3, true),
                ],
            )
        },
    ]
}

fn across_dialects() -> Vec<Scenario> {
    vec![
        scenario(
            "IETF: an upload created with tus is continued with the draft, and back",
            vec![
                Step::new("POST", Collection, 201).header("upload-length", "6"),
                append(9, Created, 0, false, 204)
                    .body("abc")
                    .expect("upload-offset", "3"),
                Step::new("HEAD", Created, 200).expect("upload-offset", "3"),
                Step::patch(Created, 3, "de", 204).expect("upload-offset", "5"),
                append(6, Created, 5, true, 201)
                    .body("f")
                    .expect("upload-complete", "?1"),
                Step::new("GET", Created, 200)
                    .without("tus-resumable")
                    .expect_body("abcdef"),
            ],
        ),
        scenario(
            "IETF: versions other than 9, 8, 6 are refused, or served as tus when the request is one",
            vec![
                create(7, true, 400).body("x").expect_absent("location"),
                create(5, true, 400).body("x"),
                Step::draft("POST", Collection, 3, 201)
                    .header("tus-resumable", "1.0.0")
                    .header("upload-length", "1")
                    .expect("tus-resumable", "1.0.0"),
                Step::draft("OPTIONS", Collection, 10, 204).expect("tus-version", "1.0.0"),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_version_has_its_table() {
        let all = super::all();
        for version in [9, 8, 6] {
            let prefix = format!("IETF interop {version}:");
            assert!(
                all.iter().filter(|s| s.name.starts_with(&prefix)).count() >= 12,
                "{prefix}"
            );
        }
    }
}
