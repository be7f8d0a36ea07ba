//! The tus 1.0.0 dialect ([protocol](https://tus.io/protocols/resumable-upload)),
//! rendered with the same typed headers the server parses, so both sides
//! agree byte for byte.

use std::time::SystemTime;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Uri};

use super::capabilities::Capabilities;
use super::checksum::{ChecksumMode, announce_trailer};
use super::dialect::{
    Answer, AppendSpec, Appended, BodyPlan, CreateSpec, Created, Dialect, Discovery, RemoteState, Request, RequestKind,
    Sent, Violation,
};
use super::location::resolve;
use crate::headers::{
    self, TUS_VERSION_1_0_0, TusResumable, UploadDeferLength, UploadExpires, UploadLength, UploadOffset,
};
use crate::server::request::OFFSET_OCTET_STREAM;

/// tus 1.0.0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tus1;

impl Tus1 {
    fn request(kind: RequestKind, method: Method, uri: &Uri, body: BodyPlan) -> Request {
        let mut headers = HeaderMap::new();
        // Every request but OPTIONS carries Tus-Resumable (spec, "Tus-Resumable").
        if kind != RequestKind::Discover {
            headers::encode(&mut headers, &TusResumable(TUS_VERSION_1_0_0));
        }
        match body {
            BodyPlan::Empty => {
                if matches!(kind, RequestKind::Create | RequestKind::Append) {
                    headers.insert(CONTENT_LENGTH, HeaderValue::from(0u64));
                }
            }
            BodyPlan::Range { len, checksum, .. } => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(OFFSET_OCTET_STREAM));
                match checksum {
                    // A trailer needs chunked framing: no Content-Length.
                    Some(plan) if plan.mode == ChecksumMode::Trailer => announce_trailer(&mut headers),
                    _ => {
                        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                    }
                }
            }
        }
        Request {
            kind,
            method,
            uri: uri.clone(),
            headers,
            body,
        }
    }
}

fn expires(headers: &HeaderMap) -> Option<SystemTime> {
    // Informational: a malformed date is ignored rather than failing an upload.
    headers::decode::<UploadExpires>(headers)
        .ok()
        .flatten()
        .map(|expires| expires.0)
}

fn offset(headers: &HeaderMap) -> Result<Option<u64>, Violation> {
    headers::decode::<UploadOffset>(headers)
        .map(|offset| offset.map(|offset| offset.0))
        .map_err(|(_, error)| Violation(format!("invalid Upload-Offset: {error}")))
}

impl Dialect for Tus1 {
    fn name(&self) -> &'static str {
        "tus-1.0.0"
    }

    fn discover(&self, endpoint: &Uri) -> Request {
        Self::request(RequestKind::Discover, Method::OPTIONS, endpoint, BodyPlan::Empty)
    }

    fn read_discovery(&self, answer: &Answer<'_>) -> Discovery {
        // Some routers answer OPTIONS with 404 or 405: carry on without capabilities.
        Discovery::Capabilities(if answer.status.is_success() {
            Capabilities::from_headers(answer.headers)
        } else {
            Capabilities::unknown()
        })
    }

    fn create(&self, endpoint: &Uri, spec: &CreateSpec<'_>) -> Request {
        let mut request = Self::request(RequestKind::Create, Method::POST, endpoint, spec.body);
        let headers = &mut request.headers;
        match (spec.length, spec.concat) {
            (Some(length), _) => headers::encode(headers, &UploadLength(length)),
            // A final concatenation's length is the sum of its parts.
            (None, Some(headers::UploadConcat::Final(_))) => {}
            (None, _) => headers::encode(headers, &UploadDeferLength),
        }
        if !spec.metadata.is_empty() {
            headers::encode(headers, spec.metadata);
        }
        if let Some(concat) = spec.concat {
            headers::encode(headers, concat);
        }
        request
    }

    fn read_created(&self, request_uri: &Uri, answer: &Answer<'_>, _: Sent) -> Result<Created, Violation> {
        let location = answer
            .headers
            .get(LOCATION)
            .ok_or_else(|| Violation("creation answered without a Location header".into()))?
            .to_str()
            .map_err(|_| Violation("the Location header is not ASCII".into()))?;
        let url = resolve(request_uri, location).map_err(|error| Violation(error.to_string()))?;
        Ok(Created {
            url: Some(url),
            offset: offset(answer.headers)?,
            expires: expires(answer.headers),
            complete: false,
            limit: None,
        })
    }

    fn head(&self, url: &Uri) -> Request {
        Self::request(RequestKind::Head, Method::HEAD, url, BodyPlan::Empty)
    }

    fn read_head(&self, answer: &Answer<'_>) -> Result<RemoteState, Violation> {
        let offset = offset(answer.headers)?.ok_or_else(|| Violation("HEAD answered without Upload-Offset".into()))?;
        // A malformed length is treated as unknown: the offset is what matters.
        let length = headers::decode::<UploadLength>(answer.headers)
            .ok()
            .flatten()
            .map(|length| length.0);
        Ok(RemoteState {
            offset,
            length,
            expires: expires(answer.headers),
            complete: false,
            limit: None,
        })
    }

    fn append(&self, url: &Uri, spec: &AppendSpec) -> Request {
        let body = BodyPlan::part(spec.offset, spec.len, spec.checksum);
        let mut request = Self::request(RequestKind::Append, Method::PATCH, url, body);
        let headers = &mut request.headers;
        headers::encode(headers, &UploadOffset(spec.offset));
        if body == BodyPlan::Empty {
            // An empty PATCH (the deferred length's last word) still says what it carries.
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(OFFSET_OCTET_STREAM));
        }
        if let Some(length) = spec.declare_length {
            headers::encode(headers, &UploadLength(length));
        }
        request
    }

    fn read_appended(&self, answer: &Answer<'_>, _: Sent) -> Result<Appended, Violation> {
        let offset = offset(answer.headers)?.ok_or_else(|| Violation("PATCH answered without Upload-Offset".into()))?;
        Ok(Appended {
            offset,
            expires: expires(answer.headers),
            complete: false,
        })
    }

    fn terminate(&self, url: &Uri) -> Request {
        Self::request(RequestKind::Terminate, Method::DELETE, url, BodyPlan::Empty)
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::client::checksum::ChecksumPlan;
    use crate::headers::{ChecksumAlgorithm, Metadata, UploadConcat};
    use crate::server::request::TusRequest;

    fn uri(text: &str) -> Uri {
        text.parse().expect("uri")
    }

    /// Renders a client request and parses it with the server's parser.
    fn server_view(request: &Request) -> TusRequest {
        TusRequest::parse(&request.method, request.uri.path(), &request.headers, "/files/")
            .expect("the server accepts what the client sends")
    }

    #[test]
    fn requests_are_what_the_server_parses() {
        let mut metadata = Metadata::new();
        metadata.insert("filename", "a b.txt").expect("key");
        let endpoint = uri("http://127.0.0.1:1080/files/");
        let create = Tus1.create(
            &endpoint,
            &CreateSpec {
                length: Some(100),
                metadata: &metadata,
                concat: Some(&UploadConcat::Partial),
                body: BodyPlan::Range {
                    offset: 0,
                    len: 10,
                    checksum: None,
                },
                complete: false,
            },
        );
        assert_eq!(create.headers.get(CONTENT_LENGTH).expect("length"), "10");
        let TusRequest::Create(parsed) = server_view(&create) else {
            panic!("not a creation")
        };
        assert_eq!(parsed.metadata, metadata);
        assert_eq!(parsed.concat, Some(UploadConcat::Partial));
        assert!(parsed.with_upload);

        let deferred = Tus1.create(
            &endpoint,
            &CreateSpec {
                length: None,
                metadata: &Metadata::new(),
                concat: None,
                body: BodyPlan::Empty,
                complete: false,
            },
        );
        assert_eq!(deferred.headers.get("upload-defer-length").expect("defer"), "1");
        assert!(deferred.headers.get("upload-metadata").is_none());
        assert!(matches!(server_view(&deferred), TusRequest::Create(_)));

        let url = uri("http://127.0.0.1:1080/files/abc");
        let patch = Tus1.append(
            &url,
            &AppendSpec {
                offset: 5,
                len: 7,
                declare_length: Some(12),
                checksum: Some(ChecksumPlan {
                    algorithm: ChecksumAlgorithm::Sha1,
                    mode: ChecksumMode::Trailer,
                }),
                complete: true,
            },
        );
        assert!(
            patch.headers.get(CONTENT_LENGTH).is_none(),
            "a trailer needs chunked framing"
        );
        let TusRequest::Append(parsed) = server_view(&patch) else {
            panic!("not an append")
        };
        assert_eq!(
            (parsed.offset, parsed.length, parsed.checksum),
            (5, Some(12), Some(crate::checksum::Verification::Trailer))
        );

        let empty = Tus1.append(
            &url,
            &AppendSpec {
                offset: 12,
                len: 0,
                declare_length: Some(12),
                checksum: None,
                complete: true,
            },
        );
        assert_eq!(empty.body, BodyPlan::Empty);
        assert!(matches!(server_view(&empty), TusRequest::Append(_)));
        assert!(matches!(server_view(&Tus1.head(&url)), TusRequest::Head(_)));
        assert!(matches!(server_view(&Tus1.terminate(&url)), TusRequest::Terminate(_)));
        assert!(Tus1.discover(&endpoint).headers.get("tus-resumable").is_none());
    }

    #[test]
    fn final_concatenation_declares_no_length() {
        let concat = UploadConcat::Final(vec!["http://h/files/a".into(), "http://h/files/b".into()]);
        let request = Tus1.create(
            &uri("http://h/files/"),
            &CreateSpec {
                length: None,
                metadata: &Metadata::new(),
                concat: Some(&concat),
                body: BodyPlan::Empty,
                complete: false,
            },
        );
        assert!(request.headers.get("upload-defer-length").is_none());
        assert!(request.headers.get("upload-length").is_none());
        assert_eq!(
            request.headers.get("upload-concat").expect("concat"),
            "final;http://h/files/a http://h/files/b"
        );
    }

    #[test]
    fn answers_table() {
        let answer = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                    HeaderValue::from_str(value).expect("value"),
                );
            }
            map
        };
        let ok = |headers: &HeaderMap| {
            Tus1.read_head(&Answer {
                status: StatusCode::OK,
                headers,
                body: b"",
            })
        };
        let head = answer(&[
            ("upload-offset", "5"),
            ("upload-length", "9"),
            ("upload-expires", "Wed, 25 Jun 2014 16:00:00 GMT"),
        ]);
        let state = ok(&head).expect("state");
        assert_eq!((state.offset, state.length), (5, Some(9)));
        assert!(state.expires.is_some());
        assert!(ok(&answer(&[("upload-length", "9")])).is_err());
        assert!(ok(&answer(&[("upload-offset", "-1")])).is_err());
        let deferred = ok(&answer(&[("upload-offset", "3"), ("upload-defer-length", "1")])).expect("state");
        assert_eq!(deferred.length, None);

        let base = uri("http://127.0.0.1:9/files/");
        let sent = Sent {
            end: 4,
            complete: false,
        };
        let created = |headers: &HeaderMap| {
            Tus1.read_created(
                &base,
                &Answer {
                    status: StatusCode::CREATED,
                    headers,
                    body: b"",
                },
                sent,
            )
        };
        let relative = created(&answer(&[("location", "/files/x"), ("upload-offset", "4")])).expect("created");
        assert_eq!(relative.url.expect("url"), "http://127.0.0.1:9/files/x");
        assert_eq!(relative.offset, Some(4));
        assert!(created(&answer(&[])).is_err());
        let appended = |headers: &HeaderMap| {
            Tus1.read_appended(
                &Answer {
                    status: StatusCode::NO_CONTENT,
                    headers,
                    body: b"",
                },
                Sent { end: 8, complete: true },
            )
        };
        assert_eq!(appended(&answer(&[("upload-offset", "8")])).map(|a| a.offset), Ok(8));
        assert!(
            appended(&answer(&[])).is_err(),
            "tus never infers an offset from what was sent"
        );
    }
}
