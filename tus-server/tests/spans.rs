//! Every request runs in a `tus` span that records the upload id once known.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::Request;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tus_core::store::MemoryStore;
use tus_server::RequestBody;
use tus_server::TusHandler;

/// Remembers, per `tus` span, the `id` recorded on it; tracks the entered
/// spans so that `Span::current()` works (single-threaded executor).
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    spans: Mutex<Vec<(u64, Option<String>)>>,
    metadata: Mutex<Vec<(u64, &'static tracing::Metadata<'static>)>>,
    entered: Mutex<Vec<u64>>,
}

struct IdVisitor<'a>(&'a mut Option<String>);

impl Visit for IdVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "id" {
            *self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.metadata
            .lock()
            .expect("metadata")
            .push((id, attributes.metadata()));
        if attributes.metadata().name() == "tus" {
            let mut recorded = None;
            attributes.record(&mut IdVisitor(&mut recorded));
            self.spans.lock().expect("spans").push((id, recorded));
        }
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().expect("spans");
        if let Some((_, recorded)) = spans.iter_mut().find(|(id, _)| *id == span.into_u64()) {
            values.record(&mut IdVisitor(recorded));
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &tracing::Event<'_>) {}

    fn enter(&self, span: &Id) {
        self.entered.lock().expect("entered").push(span.into_u64());
    }

    fn exit(&self, _span: &Id) {
        self.entered.lock().expect("entered").pop();
    }

    fn current_span(&self) -> tracing_core::span::Current {
        let Some(&id) = self.entered.lock().expect("entered").last() else {
            return tracing_core::span::Current::none();
        };
        let metadata = self.metadata.lock().expect("metadata");
        match metadata.iter().find(|(span, _)| *span == id) {
            Some((_, metadata)) => tracing_core::span::Current::new(Id::from_u64(id), metadata),
            None => tracing_core::span::Current::none(),
        }
    }
}

#[test]
fn request_spans_carry_the_upload_id() {
    let recorder = Arc::new(Recorder::default());
    let handler = TusHandler::builder(Arc::new(MemoryStore::new())).build();
    let request = |method: &str, uri: &str, length: Option<&str>| {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("tus-resumable", "1.0.0");
        if let Some(length) = length {
            builder = builder.header("upload-length", length);
        }
        builder.body(RequestBody::empty()).expect("request")
    };
    let location = tracing::subscriber::with_default(recorder.clone(), || {
        block_on(async {
            let created = handler.handle(request("POST", "/files/", Some("3"))).await;
            let location = created.headers()["location"].to_str().expect("ascii").to_owned();
            handler.handle(request("HEAD", &location, None)).await;
            handler.handle(request("OPTIONS", "/files/", None)).await;
            location
        })
    });
    let id = location.rsplit('/').next().expect("id").to_owned();
    let recorded: Vec<Option<String>> = recorder
        .spans
        .lock()
        .expect("spans")
        .iter()
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(recorded, vec![Some(id.clone()), Some(id), None]);
}

/// Runs `future` to completion on a fresh single-threaded Tokio runtime
/// (the handler's default timer needs Tokio's time driver).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(future)
}
