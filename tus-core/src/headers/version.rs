use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// A tus protocol version such as `1.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Patch version.
    pub patch: u16,
}

/// Version 1.0.0, the only version this crate speaks.
pub const TUS_VERSION_1_0_0: Version = Version {
    major: 1,
    minor: 0,
    patch: 0,
};

impl Version {
    fn parse(text: &str) -> Result<Self, HeaderError> {
        let mut parts = text.split('.');
        let mut next = || -> Result<u16, HeaderError> {
            let part = parts
                .next()
                .ok_or(HeaderError::Malformed("expected MAJOR.MINOR.PATCH"))?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HeaderError::Malformed("expected MAJOR.MINOR.PATCH"));
            }
            part.parse()
                .map_err(|_| HeaderError::Malformed("version part too large"))
        };
        let version = Self {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return Err(HeaderError::Malformed("expected MAJOR.MINOR.PATCH"));
        }
        Ok(version)
    }
}

impl std::str::FromStr for Version {
    type Err = HeaderError;

    /// Parses `MAJOR.MINOR.PATCH`, as in `Tus-Version` lists.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `Tus-Resumable`: the protocol version of a request or response
/// ([spec](https://tus.io/protocols/resumable-upload#tus-resumable)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TusResumable(pub Version);

impl TusHeader for TusResumable {
    const KIND: HeaderKind = HeaderKind::TusResumable;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        Version::parse(ascii(value)?.trim()).map(Self)
    }

    fn encode(&self) -> HeaderValue {
        version_value(&self.0.to_string())
    }
}

/// `Tus-Version`: the versions a server supports, most preferred first
/// ([spec](https://tus.io/protocols/resumable-upload#tus-version)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusVersion(pub Vec<Version>);

impl TusHeader for TusVersion {
    const KIND: HeaderKind = HeaderKind::TusVersion;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        let versions = ascii(value)?
            .split(',')
            .map(|part| Version::parse(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(versions))
    }

    fn encode(&self) -> HeaderValue {
        let list: Vec<String> = self.0.iter().map(Version::to_string).collect();
        version_value(&list.join(","))
    }
}

fn version_value(text: &str) -> HeaderValue {
    // Digits, dots and commas only: always a valid header value.
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("1.0.0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tus_resumable_table() {
        let cases: &[(&str, Option<Version>)] = &[
            ("1.0.0", Some(TUS_VERSION_1_0_0)),
            (
                "0.2.2",
                Some(Version {
                    major: 0,
                    minor: 2,
                    patch: 2,
                }),
            ),
            (" 1.0.0 ", Some(TUS_VERSION_1_0_0)),
            ("1.0", None),
            ("1.0.0.0", None),
            ("v1.0.0", None),
            ("1..0", None),
            ("", None),
            ("99999.0.0", None),
        ];
        for (input, expected) in cases {
            let got = TusResumable::decode(&HeaderValue::from_str(input).expect("value")).ok();
            assert_eq!(got.map(|v| v.0), *expected, "input {input:?}");
        }
    }

    #[test]
    fn tus_version_round_trips() {
        let header = TusVersion(vec![
            TUS_VERSION_1_0_0,
            Version {
                major: 0,
                minor: 2,
                patch: 2,
            },
        ]);
        assert_eq!(header.encode(), "1.0.0,0.2.2");
        assert_eq!(TusVersion::decode(&header.encode()), Ok(header));
        assert!(TusVersion::decode(&HeaderValue::from_static("1.0.0,,")).is_err());
    }
}
