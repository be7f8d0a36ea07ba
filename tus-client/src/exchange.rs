//! One request on the wire: the body read from the source (hashed for a
//! checksum header), custom headers, the before-request hook and cookies
//! added, then sent while a watchdog looks for stalls and the caller's
//! pause or cancel, and interim responses (the draft's 104) reach the
//! machine, and the resume store, as they arrive.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tokio::sync::{mpsc, watch};
use tus_core::client::{BodyPlan, ChecksumMode, Request, UploadMachine};

use crate::body::{self, Activity, BodyOptions, LocalError, Meter, spawn_body};
use crate::client::RequestInfo;
use crate::driver::{Shared, Slot, now};
use crate::error::Error;
use crate::record::{absorb, persist};
use crate::source::SourceReader;
use crate::transport::{InterimResponses, TransportError};
use crate::upload::{Control, Notice};

/// How one request ended.
pub(crate) enum Sent {
    Answer(http::Response<bytes::Bytes>),
    Failure(TransportError),
    Interrupted,
}

/// The next interim response, if the request reads them (else never).
async fn next_interim(
    interims: &mut Option<mpsc::UnboundedReceiver<(StatusCode, HeaderMap)>>,
) -> Option<(StatusCode, HeaderMap)> {
    match interims {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// Builds the HTTP request: custom headers, protocol headers, hook, cookies.
pub(crate) async fn build_request(
    shared: &Shared,
    request: &Request,
    body: body::RequestBody,
) -> Result<http::Request<body::RequestBody>, Error> {
    let inner = &shared.client.inner;
    let mut headers = inner.headers.clone();
    for (name, value) in &request.headers {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(hook) = &inner.hook {
        let extra = hook
            .headers(RequestInfo {
                kind: request.kind,
                method: request.method.clone(),
                url: request.uri.clone(),
            })
            .await
            .map_err(Error::Hook)?;
        let mut last = None;
        for (name, value) in extra {
            let name = match name {
                Some(name) => {
                    headers.remove(&name);
                    last = Some(name.clone());
                    name
                }
                None => match &last {
                    Some(name) => name.clone(),
                    None => continue,
                },
            };
            headers.append(name, value);
        }
    }
    if let Ok(url) = url::Url::parse(&request.uri.to_string()) {
        shared.jar.add_to(&url, &mut headers);
    }
    let mut http = http::Request::new(body);
    *http.method_mut() = request.method.clone();
    *http.uri_mut() = request.uri.clone();
    *http.headers_mut() = headers;
    Ok(http)
}

/// Sends one request of `machine`'s, watching for stalls and for pause or
/// cancel, and handing interim responses to the machine (when its dialect
/// reads them).
pub(crate) async fn send(
    shared: &Shared,
    mut request: Request,
    reader: &mut SourceReader,
    control: &mut watch::Receiver<Control>,
    machine: &mut UploadMachine,
    slot: Slot,
) -> Result<Sent, Error> {
    let inner = &shared.client.inner;
    let activity = Arc::new(Activity::new());
    let local_error = LocalError::default();
    let mut producer = None;
    let body = match request.body {
        BodyPlan::Empty => body::RequestBody::empty(),
        BodyPlan::Range { offset, len, checksum } => {
            let data = reader.data(offset, len).await?;
            let trailer = match checksum {
                Some(plan) if plan.mode == ChecksumMode::Header => {
                    let digest = body::digest(&data, plan.algorithm).await.map_err(Error::Source)?;
                    request.set_checksum(plan.algorithm, digest);
                    None
                }
                Some(plan) => Some(plan.algorithm),
                None => None,
            };
            let (body, handle) = spawn_body(
                data,
                BodyOptions {
                    trailer,
                    limiter: inner.settings.limiter.clone(),
                    meter: Meter::new(shared.progress.sent.clone(), activity.clone()),
                    local_error: local_error.clone(),
                },
            );
            producer = Some(handle);
            body
        }
    };
    let mut http = build_request(shared, &request, body).await?;
    let mut interims = None;
    if machine.dialect().interim_responses(request.kind) {
        let (sender, receiver) = mpsc::unbounded_channel::<(StatusCode, HeaderMap)>();
        http.extensions_mut()
            .insert(InterimResponses::new(move |status, headers| {
                let _ = sender.send((status, headers.clone()));
            }));
        interims = Some(receiver);
    }
    crate::record::notice(shared, || Notice::Request {
        kind: request.kind,
        method: request.method.clone(),
        url: request.uri.clone(),
        len: request.body.len(),
    });
    activity.touch();
    let stall = inner.settings.stall_timeout;
    let mut response = inner.transport.send(http);
    let mut tick = tokio::time::interval(Duration::from_millis(250).min(stall));
    let mut control_alive = true;
    let outcome = loop {
        tokio::select! {
            result = &mut response => break result,
            Some((status, headers)) = next_interim(&mut interims) => {
                crate::record::notice(shared, || Notice::Answer { kind: request.kind, status });
                machine.on_interim(status, &headers, now());
                // Saved now: a creation cut from here on is resumed, not repeated.
                absorb(shared, machine, slot).await?;
            }
            _ = tick.tick() => {
                if activity.idle() > stall {
                    break Err(TransportError::new(
                        tus_core::client::TransportFailure::Stalled,
                        format!("no progress for {} s", stall.as_secs_f32()),
                    ));
                }
            }
            changed = control.changed(), if control_alive => {
                if changed.is_err() {
                    control_alive = false;
                } else if *control.borrow() != Control::Run {
                    if let Some(producer) = &producer {
                        producer.abort();
                    }
                    return Ok(Sent::Interrupted);
                }
            }
        }
    };
    // The answer is in (or the request failed): stop feeding the body.
    if let Some(producer) = producer {
        producer.abort();
    }
    let local = local_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(message) = local {
        return Err(Error::Source(std::io::Error::other(message)));
    }
    match outcome {
        Ok(response) => {
            if let Ok(url) = url::Url::parse(&request.uri.to_string()) {
                shared.jar.take_from(&url, response.headers());
                // Cookies are saved with the next entry change; a new
                // sticky cookie is worth a save on its own.
                if response.headers().contains_key(http::header::SET_COOKIE)
                    && let Some(entry) = &shared.entry
                    && !entry.entry.lock().await.is_empty()
                {
                    persist(shared, entry).await?;
                }
            }
            Ok(Sent::Answer(response))
        }
        Err(failure) if failure.tls => Err(Error::Tls(failure.message)),
        Err(failure) => Ok(Sent::Failure(failure)),
    }
}
