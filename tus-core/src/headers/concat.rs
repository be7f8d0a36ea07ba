use http::{HeaderValue, Uri};

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// `Upload-Concat`: marks a partial upload, or a final upload made of
/// partials ([spec](https://tus.io/protocols/resumable-upload#upload-concat)).
///
/// A final upload's references are kept exactly as received (relative or
/// absolute URLs); resolving them to uploads is the handler's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadConcat {
    /// `partial`.
    Partial,
    /// `final;URL URL ...`: at least one reference, in order.
    Final(Vec<String>),
}

impl TusHeader for UploadConcat {
    const KIND: HeaderKind = HeaderKind::UploadConcat;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        let text = ascii(value)?.trim();
        if text == "partial" {
            return Ok(Self::Partial);
        }
        let Some(list) = text.strip_prefix("final;") else {
            return Err(HeaderError::Malformed("expected `partial` or `final;URL ...`"));
        };
        let references: Vec<String> = list.split_ascii_whitespace().map(str::to_owned).collect();
        if references.is_empty() {
            return Err(HeaderError::Malformed(
                "a final upload needs at least one partial upload",
            ));
        }
        for reference in &references {
            if reference.parse::<Uri>().is_err() || !valid_percent_escapes(reference) {
                return Err(HeaderError::Malformed("a partial upload reference is not a URL"));
            }
        }
        Ok(Self::Final(references))
    }

    fn encode(&self) -> HeaderValue {
        let text = match self {
            Self::Partial => "partial".to_owned(),
            Self::Final(references) => format!("final;{}", references.join(" ")),
        };
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("partial"))
    }
}

/// Whether every `%` starts a two-hex-digit escape (RFC 3986).
fn valid_percent_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().filter(|(_, b)| **b == b'%').all(|(i, _)| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_table() {
        let final_of = |list: &[&str]| Some(UploadConcat::Final(list.iter().map(|s| (*s).to_owned()).collect()));
        let cases: &[(&str, Option<UploadConcat>)] = &[
            ("partial", Some(UploadConcat::Partial)),
            ("final;/files/a /files/b", final_of(&["/files/a", "/files/b"])),
            ("final; /files/a  /files/a ", final_of(&["/files/a", "/files/a"])),
            (
                "final;https://host/files/a http://h:1/files/b",
                final_of(&["https://host/files/a", "http://h:1/files/b"]),
            ),
            ("final;", None),
            ("final", None),
            ("bogus", None),
            ("Partial", None),
            ("final;/files/a%zz", None),
        ];
        for (input, expected) in cases {
            let got = UploadConcat::decode(&HeaderValue::from_str(input).expect("value")).ok();
            assert_eq!(&got, expected, "input {input:?}");
        }
    }

    #[test]
    fn concat_round_trips() {
        let header = UploadConcat::Final(vec!["/files/a".into(), "/files/b".into()]);
        assert_eq!(header.encode(), "final;/files/a /files/b");
        assert_eq!(UploadConcat::decode(&header.encode()), Ok(header));
        assert_eq!(UploadConcat::Partial.encode(), "partial");
    }
}
