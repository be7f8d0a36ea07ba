//! Bearer-token auth (`--auth-token TOKEN=USER`): creation needs a user, who
//! is recorded as the upload's owner, and every later request on the upload
//! (HEAD, PATCH, GET, DELETE, a final upload naming it) is the owner's only.
//! Another user is answered exactly as if the upload did not exist; an
//! anonymous request gets 401 with a `WWW-Authenticate` challenge.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use tokio::io::AsyncWriteExt as _;

use super::{HyperTransport, fingerprint, patch_request, read_head, send_empty, start, start_partial_patch};

/// Two users: alice (`s3cret`) and bob (`t2`).
const FLAGS: [&str; 4] = ["--auth-token", "s3cret=alice", "--auth-token", "t2=bob"];
const ALICE: &str = "Bearer s3cret";
const BOB: &str = "Bearer t2";
/// An upload id no upload has.
const ABSENT: &str = "/files/0123456789abcdef0123456789abcdef";
/// The challenge a 401 carries.
const CHALLENGE: &str = "Bearer realm=\"tus\"";

/// `method` on `path` as `authorization` (`None`: anonymous); a PATCH
/// sends `data` at `offset`, other methods an empty body.
async fn send_as(
    transport: &HyperTransport,
    method: &Method,
    path: &str,
    authorization: Option<&str>,
    (offset, data): (u64, &'static [u8]),
) -> http::Response<Bytes> {
    let mut request = if method == Method::PATCH {
        patch_request(path, offset, data)
    } else {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("tus-resumable", "1.0.0")
            .header("content-length", "0")
            .body(Vec::new())
            .expect("request")
    };
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().expect("header value"));
    }
    transport.send_request(request).await.expect("response")
}

/// Creates an upload as `authorization` with `headers`; returns its path.
async fn create_as(transport: &HyperTransport, authorization: &str, headers: &[(&str, &str)]) -> String {
    let mut request = http::Request::post("/files/").header("authorization", authorization);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let created = send_empty(transport, request).await;
    assert_eq!(created.status(), 201, "creation by {authorization}");
    let location = created.headers()["location"].to_str().expect("ascii");
    location.parse::<http::Uri>().expect("uri").path().to_owned()
}

/// Everything an answer tells about the upload: status, headers and body,
/// but the per-request `Date` and `X-Request-ID` and the connection
/// management (`Connection`, `Keep-Alive`: whether the server kept a
/// connection whose body it did not read may depend on timing).
fn observable(response: &http::Response<Bytes>) -> String {
    const PER_REQUEST: [&str; 4] = ["date", "x-request-id", "connection", "keep-alive"];
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .filter(|(name, _)| !PER_REQUEST.contains(&name.as_str()))
        .map(|(name, value)| format!("{name}: {value:?}"))
        .collect();
    headers.sort();
    format!(
        "{} {headers:?} {:?}",
        response.status(),
        String::from_utf8_lossy(response.body())
    )
}

/// A 401 with its `WWW-Authenticate` challenge.
fn assert_unauthorized(response: &http::Response<Bytes>, what: &str) {
    assert_eq!(response.status(), 401, "{what}");
    assert_eq!(
        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some(CHALLENGE),
        "{what}: the 401 names the scheme"
    );
}

/// Waits (10 s at most) until the file at `path` holds `length` bytes.
async fn wait_for_length(path: &Path, length: u64) {
    for _ in 0..400 {
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= length) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} never reached {length} bytes", path.display());
}

/// With `--auth-token`, an anonymous or wrongly authenticated creation is
/// answered 401 and creates nothing; an authenticated upload carries the
/// user id in its metadata (a client-sent one is overwritten).
pub async fn auth_rejects_anonymous_and_records_the_user(binary: &str) {
    let (dir, _server, transport) = start(binary, &FLAGS).await;
    let files_before = std::fs::read_dir(dir.path()).expect("read dir").count();
    for authorization in [None, Some("Bearer wrong"), Some("Basic s3cret")] {
        let mut request = http::Request::post("/files/").header("upload-length", "5");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = send_empty(&transport, request).await;
        assert_unauthorized(&response, &format!("creation with {authorization:?}"));
        assert!(response.headers().get("location").is_none());
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("read dir").count(),
        files_before,
        "a refused creation stores nothing"
    );

    // "mallory" as a client-sent user_id is replaced by the token's user.
    let path = create_as(
        &transport,
        ALICE,
        &[
            ("upload-length", "5"),
            ("upload-metadata", "user_id bWFsbG9yeQ==,filename YS50eHQ="),
        ],
    )
    .await;
    let head = send_as(&transport, &Method::HEAD, &path, Some(ALICE), (0, b"")).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["upload-metadata"], "user_id YWxpY2U=,filename YS50eHQ=");
    // OPTIONS (CORS preflights, discovery) needs no token.
    let options = send_empty(&transport, http::Request::options("/files/")).await;
    assert_eq!(options.status(), 204);
}

/// With `--auth-token`, only an upload's owner may HEAD, PATCH, GET or
/// DELETE it. Another user is answered exactly as for an upload that does
/// not exist (404, same headers and body), so the id is not confirmed; an
/// anonymous request or an unknown token gets 401. None of these refused
/// requests changes a byte in the upload directory, and none interrupts the
/// owner's PATCH in flight (which they would, by taking the upload's lock,
/// if they were let in).
pub async fn auth_keeps_each_upload_to_its_owner(binary: &str) {
    let (dir, server, transport) = start(binary, &FLAGS).await;
    let path = create_as(&transport, ALICE, &[("upload-length", "8192")]).await;
    let id = path.rsplit('/').next().expect("id").to_owned();
    // Alice's PATCH sends half its body, then waits: it holds the upload's lock.
    // (4 KiB: more than the minimum body rate asks of its first window.)
    let mut live = start_partial_patch(
        &server.addr,
        &path,
        "Authorization: Bearer s3cret\r\n",
        8192,
        &[b'a'; 4096],
    )
    .await;
    wait_for_length(&dir.path().join(format!("{id}.bin")), 4096).await;
    let before = fingerprint(dir.path());

    let methods = [Method::HEAD, Method::PATCH, Method::GET, Method::DELETE];
    for method in &methods {
        let refused = send_as(&transport, method, &path, Some(BOB), (4096, b"evil")).await;
        let absent = send_as(&transport, method, ABSENT, Some(BOB), (4096, b"evil")).await;
        assert_eq!(refused.status(), 404, "{method} of alice's upload by bob");
        assert_eq!(
            observable(&refused),
            observable(&absent),
            "{method} of alice's upload by bob is answered as for no upload"
        );
        for authorization in [None, Some("Bearer wrong")] {
            let refused = send_as(&transport, method, &path, authorization, (4096, b"evil")).await;
            assert_unauthorized(&refused, &format!("{method} of alice's upload with {authorization:?}"));
        }
    }
    assert_eq!(
        fingerprint(dir.path()),
        before,
        "refused requests change nothing stored"
    );

    // Alice's PATCH was not interrupted: the rest of its body completes the upload.
    live.write_all(&[b'b'; 4096]).await.expect("write the rest");
    live.flush().await.expect("flush");
    let answer = read_head(&mut live).await;
    assert!(answer.starts_with("HTTP/1.1 204"), "alice's PATCH completes: {answer}");
    assert!(answer.to_ascii_lowercase().contains("upload-offset: 8192"), "{answer}");

    // The owner reads it; bob still cannot, nor delete it.
    let head = send_as(&transport, &Method::HEAD, &path, Some(ALICE), (0, b"")).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["upload-offset"], "8192");
    let get = send_as(&transport, &Method::GET, &path, Some(ALICE), (0, b"")).await;
    assert_eq!(get.status(), 200);
    assert!(get.body().len() == 8192 && get.body()[..4096].iter().all(|&b| b == b'a'));
    assert!(get.body()[4096..].iter().all(|&b| b == b'b'));
    for method in [Method::GET, Method::DELETE] {
        let refused = send_as(&transport, &method, &path, Some(BOB), (0, b"")).await;
        assert_eq!(refused.status(), 404, "{method} of the finished upload by bob");
    }
    let delete = send_as(&transport, &Method::DELETE, &path, Some(ALICE), (0, b"")).await;
    assert_eq!(delete.status(), 204, "alice deletes her upload");
    let gone = send_as(&transport, &Method::HEAD, &path, Some(ALICE), (0, b"")).await;
    assert_eq!(gone.status(), 404);
}

/// With `--auth-token`, a final upload may name only its creator's
/// partials: one naming another user's partial is answered as if that
/// partial did not exist (400 `ERR_CONCAT_PARTIAL_NOT_FOUND`, same body),
/// anonymously 401, and creates nothing; the owner concatenates them.
pub async fn auth_keeps_partials_to_their_owner(binary: &str) {
    let (dir, _server, transport) = start(binary, &FLAGS).await;
    let partial = |authorization: &'static str, data: &'static [u8]| {
        let transport = &transport;
        async move {
            let length = data.len().to_string();
            let path = create_as(
                transport,
                authorization,
                &[("upload-length", &length), ("upload-concat", "partial")],
            )
            .await;
            let patched = send_as(transport, &Method::PATCH, &path, Some(authorization), (0, data)).await;
            assert_eq!(patched.status(), 204, "{authorization} fills its partial");
            path
        }
    };
    let alices = partial(ALICE, b"abc").await;
    let bobs = partial(BOB, b"def").await;
    let final_of = |authorization: Option<&'static str>, partials: [&str; 2]| {
        let mut request =
            http::Request::post("/files/").header("upload-concat", format!("final;{}", partials.join(" ")));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        send_empty(&transport, request)
    };
    let before = fingerprint(dir.path());

    let refused = final_of(Some(BOB), [&bobs, &alices]).await;
    let absent = final_of(Some(BOB), [&bobs, ABSENT]).await;
    assert_eq!(refused.status(), 400, "bob's final naming alice's partial");
    let text = String::from_utf8_lossy(refused.body()).into_owned();
    assert!(text.starts_with("ERR_CONCAT_PARTIAL_NOT_FOUND"), "{text}");
    assert_eq!(
        observable(&refused).replace(&alices, ABSENT),
        observable(&absent),
        "alice's partial is answered as a missing one"
    );
    assert_unauthorized(&final_of(None, [&alices, &alices]).await, "an anonymous final");
    let refused = final_of(Some(ALICE), [&alices, &bobs]).await;
    assert_eq!(refused.status(), 400, "alice's final naming bob's partial");
    assert_eq!(fingerprint(dir.path()), before, "no refused final is created");

    let created = final_of(Some(ALICE), [&alices, &alices]).await;
    assert_eq!(created.status(), 201, "alice concatenates her own partials");
    let location = created.headers()["location"].to_str().expect("ascii");
    let final_path = location.parse::<http::Uri>().expect("uri").path().to_owned();
    let get = send_as(&transport, &Method::GET, &final_path, Some(ALICE), (0, b"")).await;
    assert_eq!(get.status(), 200);
    assert_eq!(&get.body()[..], b"abcabc");
    let get = send_as(&transport, &Method::GET, &final_path, Some(BOB), (0, b"")).await;
    assert_eq!(get.status(), 404, "the final is alice's too");
}
