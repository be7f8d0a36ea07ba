use http::{HeaderValue, Method};

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// `X-HTTP-Method-Override`: the method a client meant when its environment
/// cannot send it ([spec](https://tus.io/protocols/resumable-upload#x-http-method-override)).
///
/// Only the methods the protocol uses are accepted; names are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XHttpMethodOverride(pub Method);

impl TusHeader for XHttpMethodOverride {
    const KIND: HeaderKind = HeaderKind::XHttpMethodOverride;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        let method = match ascii(value)?.trim().to_ascii_uppercase().as_str() {
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "HEAD" => Method::HEAD,
            "GET" => Method::GET,
            "POST" => Method::POST,
            "OPTIONS" => Method::OPTIONS,
            _ => return Err(HeaderError::NotAllowed("not a method of the tus protocol")),
        };
        Ok(Self(method))
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_str(self.0.as_str()).unwrap_or(HeaderValue::from_static("POST"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_override_table() {
        let cases: &[(&str, Option<Method>)] = &[
            ("PATCH", Some(Method::PATCH)),
            ("delete", Some(Method::DELETE)),
            (" HEAD ", Some(Method::HEAD)),
            ("PUT", None),
            ("CONNECT", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let got = XHttpMethodOverride::decode(&HeaderValue::from_str(input).expect("value")).ok();
            assert_eq!(got.map(|h| h.0), *expected, "input {input:?}");
        }
    }
}
