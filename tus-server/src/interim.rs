//! Interim (1xx) responses, framework-neutral: an adapter that can write
//! them on a request's connection puts an [`Interim`] into the request's
//! extensions, and the handler calls it when an interim response is ready
//! (the IETF draft's `104 Upload Resumption Supported`, sent once an upload
//! is created and before its content is read).
//!
//! Neither hyper nor actix-web has a server API for 1xx responses other
//! than `100 Continue`; the axum example shows one way to add it over
//! HTTP/1.1 (its connection loop writes the bytes of
//! [`Interim::encode_http1`] before hyper writes the final response).
//! Without an `Interim` in the request, no interim response is sent, and
//! clients learn the upload's URL from the final response.

use std::sync::Arc;

use http::Response;

/// Sends interim responses on the connection of the request that carries
/// it (a request extension). Cheap to clone.
#[derive(Clone)]
pub struct Interim {
    send: Arc<dyn Fn(&Response<()>) -> bool + Send + Sync>,
}

impl std::fmt::Debug for Interim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interim").finish_non_exhaustive()
    }
}

impl Interim {
    /// An `Interim` that hands each response head to `send`, which returns
    /// whether it will be written (`false` once the request's final
    /// response has started, or the connection is gone).
    pub fn new(send: impl Fn(&Response<()>) -> bool + Send + Sync + 'static) -> Self {
        Self { send: Arc::new(send) }
    }

    /// Sends `response` (a 1xx status, no body); whether it will be written.
    pub fn send(&self, response: &Response<()>) -> bool {
        response.status().is_informational() && (self.send)(response)
    }

    /// The HTTP/1.1 bytes of an interim response head: status line, fields,
    /// empty line. Fields whose values are not visible ASCII are skipped.
    pub fn encode_http1(response: &Response<()>) -> Vec<u8> {
        let status = response.status();
        let reason = match status.as_u16() {
            104 => "Upload Resumption Supported",
            _ => status.canonical_reason().unwrap_or("Informational"),
        };
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", status.as_u16()).into_bytes();
        for (name, value) in response.headers() {
            if value
                .as_bytes()
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
            {
                out.extend_from_slice(name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn encodes_a_104_and_refuses_final_statuses() {
        let mut response = Response::new(());
        *response.status_mut() = http::StatusCode::from_u16(104).expect("status");
        response
            .headers_mut()
            .insert("location", http::HeaderValue::from_static("/files/a"));
        assert_eq!(
            Interim::encode_http1(&response),
            b"HTTP/1.1 104 Upload Resumption Supported\r\nlocation: /files/a\r\n\r\n"
        );
        let seen = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&seen);
        let interim = Interim::new(move |_| {
            *counter.lock().expect("lock") += 1;
            true
        });
        assert!(interim.send(&response));
        assert!(!interim.send(&Response::new(())), "200 is not an interim response");
        assert_eq!(*seen.lock().expect("lock"), 1);
    }
}
