//! The async driver: a thin loop over `tus_core::client::UploadMachine`
//! that moves bytes, keeps time, persists the resume entry and watches for
//! pause, cancel and stalls. Every protocol decision is the machine's.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::future::try_join_all;
use http::Uri;
use tokio::sync::{Mutex as AsyncMutex, watch};
use tus_core::client::{
    Action, Answer, Capabilities, Dialect, Now, ResumePoint, Role, Tus1, UploadConfig, UploadMachine, dialect_named,
    split,
};

use crate::body;
use crate::client::{Client, Protocol};
use crate::cookies::CookieJar;
use crate::error::Error;
use crate::exchange::{Sent, build_request, send};
use crate::record::{Entry, absorb, blocking_store, notice, persist};
use crate::resume::{Fingerprint, PartEntry, ResumeEntry, unix_seconds};
use crate::source::{Source, SourceInner, SourceReader};
use crate::upload::{Control, Notice, NoticeSink, ProgressState, UploadBuilder, Uploaded};

/// Which URL of the entry a machine owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Single,
    Part(usize),
    Final,
}

impl Slot {
    pub(crate) fn part(self) -> Option<usize> {
        match self {
            Self::Part(index) => Some(index),
            _ => None,
        }
    }

    pub(crate) fn progress_index(self) -> usize {
        self.part().unwrap_or(0)
    }
}

/// What every machine of one upload shares.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) endpoint: Uri,
    pub(crate) jar: CookieJar,
    pub(crate) entry: Option<Entry>,
    pub(crate) progress: Arc<ProgressState>,
    pub(crate) control: watch::Receiver<Control>,
    pub(crate) notices: Option<NoticeSink>,
    pub(crate) capabilities: watch::Sender<Option<Capabilities>>,
    /// Every upload URL of this run (for termination).
    pub(crate) urls: std::sync::Mutex<Vec<Uri>>,
    /// The dialect of those URLs (for termination).
    pub(crate) urls_dialect: std::sync::Mutex<Option<&'static str>>,
}

pub(crate) fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

/// Runs an upload to its end.
pub(crate) async fn run(
    upload: UploadBuilder,
    progress: Arc<ProgressState>,
    control: watch::Receiver<Control>,
) -> Result<Uploaded, Error> {
    if let Some(error) = upload.metadata_error {
        return Err(Error::Config(format!("metadata: {error}")));
    }
    let settings = upload.client.inner.settings.clone();
    settings.dialect()?;
    let endpoint_text = upload.endpoint.to_string();
    let path = upload.source.path().map(ToOwned::to_owned);
    let length = upload.source.len();

    let mut entry = None;
    if let Some(store) = upload.store.clone() {
        let identity = match (&upload.fingerprint, &path) {
            (Some(key), _) => Some((key.clone(), None)),
            (None, Some(path)) => {
                let (key, identity) = Fingerprint::of_file(&endpoint_text, path)
                    .await
                    .map_err(Error::Source)?;
                Some((key, Some(identity)))
            }
            (None, None) => None,
        };
        if let Some((key, identity)) = identity {
            let loaded = blocking_store(&store, {
                let key = key.clone();
                move |store| store.load(&key)
            })
            .await?;
            let now_seconds = unix_seconds(SystemTime::now());
            let stored = loaded.unwrap_or_else(|| ResumeEntry {
                endpoint: endpoint_text.clone(),
                path: identity.as_ref().map(|id| id.path.to_string_lossy().into_owned()),
                size: identity.as_ref().map(|id| id.size).or(length),
                modified: identity.as_ref().and_then(|id| id.modified),
                created_at: now_seconds,
                ..ResumeEntry::default()
            });
            entry = Some(Entry {
                store,
                key,
                entry: AsyncMutex::new(stored),
            });
        }
    }

    let jar = match &entry {
        Some(entry) => CookieJar::from_saved(&entry.entry.lock().await.cookies),
        None => CookieJar::default(),
    };
    let (capabilities, _) = watch::channel(None);
    let shared = Arc::new(Shared {
        client: upload.client.clone(),
        endpoint: upload.endpoint.clone(),
        jar,
        entry,
        progress,
        control,
        notices: upload.notices.clone(),
        capabilities,
        urls: std::sync::Mutex::new(Vec::new()),
        urls_dialect: std::sync::Mutex::new(None),
    });

    let stored = match &shared.entry {
        Some(entry) => Some(entry.entry.lock().await.clone()),
        None => None,
    };
    let is_file = matches!(upload.source.inner, SourceInner::File { .. });
    let stored_parts = stored.as_ref().map(|entry| entry.parts.clone()).unwrap_or_default();
    let stored_single = stored
        .as_ref()
        .is_some_and(|entry| entry.parts.is_empty() && entry.upload_url.is_some());
    let parts = match length {
        Some(length)
            if is_file && !stored_parts.is_empty() && stored_parts.last().is_some_and(|part| part.end == length) =>
        {
            stored_parts
        }
        Some(length) if is_file && upload.parallel > 1 && !stored_single => {
            split(length, upload.parallel as u64, upload.min_part)
                .into_iter()
                .map(|range| PartEntry {
                    start: range.start,
                    end: range.end,
                    url: None,
                })
                .collect()
        }
        _ => Vec::new(),
    };
    if parts.len() > 1 && settings.protocol == Protocol::Ietf {
        return Err(Error::Config(
            "the IETF draft has no concatenation: a parallel upload needs tus (--protocol tus or auto)".into(),
        ));
    }
    let result = if parts.len() > 1 {
        run_parallel(
            &shared,
            upload.source,
            parts,
            upload.metadata,
            stored.and_then(|entry| entry.upload_url),
        )
        .await
    } else {
        run_single(&shared, upload.source, upload.metadata, stored).await
    };
    let control = *shared.control.borrow();
    match (&result, control) {
        (Err(Error::Cancelled), Control::Cancel { terminate: true }) => terminate(&shared).await,
        _ => Ok(()),
    }?;
    result
}

fn config(shared: &Shared, length: Option<u64>, metadata: tus_core::headers::Metadata, role: Role) -> UploadConfig {
    let settings = &shared.client.inner.settings;
    let mut config = UploadConfig::new(shared.endpoint.clone(), length);
    config.metadata = metadata;
    config.role = role;
    config.chunk = settings.chunk;
    config.checksum = settings.checksum;
    config.trailers = shared.client.inner.transport.supports_trailers();
    config.checksum_placement = settings.checksum_placement;
    config.creation_with_upload = settings.creation_with_upload;
    config.retry = settings.retry;
    let mut seed = [0u8; 8];
    if getrandom::fill(&mut seed).is_ok() {
        config.seed = u64::from_le_bytes(seed);
    }
    config
}

fn resume_point(url: Option<&str>, expires: Option<SystemTime>) -> Option<ResumePoint> {
    url.and_then(|url| url.parse().ok())
        .map(|url| ResumePoint { url, expires })
}

async fn run_single(
    shared: &Arc<Shared>,
    source: Source,
    metadata: tus_core::headers::Metadata,
    stored: Option<ResumeEntry>,
) -> Result<Uploaded, Error> {
    let length = source.len();
    let expires = match &shared.entry {
        Some(entry) => entry.entry.lock().await.expires_at(),
        None => None,
    };
    let resume = stored
        .as_ref()
        .and_then(|entry| resume_point(entry.upload_url.as_deref(), expires));
    // A stored upload continues in the dialect that created it.
    let dialect = match (&resume, stored.as_ref().and_then(|entry| entry.protocol.as_deref())) {
        (Some(_), Some(name)) => dialect_named(name)
            .ok_or_else(|| Error::Config(format!("the resume store names an unknown protocol {name:?}")))?,
        (Some(_), None) => Box::new(Tus1),
        (None, _) => shared.client.inner.settings.dialect()?,
    };
    let machine = UploadMachine::new(dialect, config(shared, length, metadata, Role::Single), resume);
    let mut reader = SourceReader::new(source);
    let (url, length) = drive(shared, machine, &mut reader, Slot::Single).await?;
    Ok(Uploaded { url, length })
}

async fn run_parallel(
    shared: &Arc<Shared>,
    source: Source,
    parts: Vec<PartEntry>,
    metadata: tus_core::headers::Metadata,
    stored_final: Option<String>,
) -> Result<Uploaded, Error> {
    let SourceInner::File { path, len } = source.inner else {
        return Err(Error::Config("parallel uploads need a file".into()));
    };
    shared.progress.set_parts(parts.len());
    let expires = match &shared.entry {
        Some(entry) => {
            let mut entry = entry.entry.lock().await;
            entry.parts = parts.clone();
            entry.expires_at()
        }
        None => None,
    };
    if let Some(entry) = &shared.entry {
        persist(shared, entry).await?;
    }
    // Concatenation is tus's.
    let dialect = || Ok::<_, Error>(Box::new(Tus1) as Box<dyn Dialect>);
    // A stored final upload: check that it exists (or build it again from
    // the stored parts), and be done.
    let stored_urls: Option<Vec<Uri>> = parts
        .iter()
        .map(|part| part.url.as_deref().and_then(|url| url.parse().ok()))
        .collect();
    if let (Some(point), Some(urls)) = (resume_point(stored_final.as_deref(), expires), stored_urls) {
        let machine = UploadMachine::new(
            dialect()?,
            config(shared, None, metadata.clone(), Role::Final(urls)),
            Some(point),
        );
        let mut reader = SourceReader::File {
            path: path.clone(),
            base: 0,
        };
        match drive(shared, machine, &mut reader, Slot::Final).await {
            Ok((url, _)) => {
                shared.progress.set_parts(1);
                shared.progress.acknowledged(0, len);
                return Ok(Uploaded { url, length: len });
            }
            // The parts are gone too: upload them again below.
            Err(Error::Upload(_)) => {}
            Err(error) => return Err(error),
        }
    }
    // Part 0 discovers the server; the others start once it has.
    let mut capabilities = shared.capabilities.subscribe();
    let tasks = parts.iter().enumerate().map(|(index, part)| {
        let mut part_metadata = tus_core::headers::Metadata::new();
        // tuspyserver answers HEAD only with both; harmless elsewhere.
        for key in ["filename", "filetype"] {
            if let Some(value) = metadata.get(key) {
                let _ = part_metadata.set(key, value.to_vec());
            }
        }
        let mut reader = SourceReader::File {
            path: path.clone(),
            base: part.start,
        };
        let part_url = part.url.clone();
        let part_length = part.end - part.start;
        let mut capabilities = capabilities.clone();
        async move {
            let mut config = config(shared, Some(part_length), part_metadata, Role::Partial);
            if index > 0 {
                let known = capabilities
                    .wait_for(Option::is_some)
                    .await
                    .map_err(|_| Error::Config("discovery ended without an answer".into()))?
                    .clone();
                config.capabilities = known;
            }
            let machine = UploadMachine::new(dialect()?, config, resume_point(part_url.as_deref(), expires));
            drive(shared, machine, &mut reader, Slot::Part(index))
                .await
                .map(|(url, _)| url)
        }
    });
    let urls = try_join_all(tasks).await?;
    let known = capabilities.borrow_and_update().clone();
    let mut config = config(shared, None, metadata, Role::Final(urls));
    config.capabilities = known;
    let machine = UploadMachine::new(dialect()?, config, None);
    let mut reader = SourceReader::File { path, base: 0 };
    let (url, _) = drive(shared, machine, &mut reader, Slot::Final).await?;
    Ok(Uploaded { url, length: len })
}

/// Deletes what this upload created or resumed, after a `terminate()`,
/// and forgets it.
async fn terminate(shared: &Shared) -> Result<(), Error> {
    let urls = shared
        .urls
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let dialect = match shared
        .urls_dialect
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_deref()
    {
        Some(name) => dialect_named(name).unwrap_or_else(|| Box::new(Tus1)),
        None => Box::new(Tus1),
    };
    for url in urls.iter().rev() {
        let request = dialect.terminate(url);
        let http = build_request(shared, &request, body::RequestBody::empty()).await?;
        // Best effort: an unfinished upload expires on the server anyway.
        let _ = shared.client.inner.transport.send(http).await;
    }
    if let Some(entry) = &shared.entry {
        let key = entry.key.clone();
        blocking_store(&entry.store, move |store| store.remove(&key)).await?;
    }
    Ok(())
}

/// Drives one machine to its end: `(url, length)`.
async fn drive(
    shared: &Shared,
    mut machine: UploadMachine,
    reader: &mut SourceReader,
    slot: Slot,
) -> Result<(Uri, u64), Error> {
    let mut control = shared.control.clone();
    loop {
        wait_while_paused(&mut control, &mut machine).await?;
        let action = machine.poll(now());
        absorb(shared, &mut machine, slot).await?;
        match action {
            Action::Send(request) => {
                match send(shared, request.clone(), reader, &mut control, &mut machine, slot).await? {
                    Sent::Answer(response) => {
                        let (parts, body) = response.into_parts();
                        notice(shared, || Notice::Answer {
                            kind: request.kind,
                            status: parts.status,
                        });
                        machine.on_answer(
                            &Answer {
                                status: parts.status,
                                headers: &parts.headers,
                                body: &body,
                            },
                            now(),
                        );
                    }
                    Sent::Failure(failure) => machine.on_failure(failure.failure, &failure.message, now()),
                    Sent::Interrupted => machine.interrupt(),
                }
            }
            Action::Read { offset, max } => {
                let (len, end) = reader.fill(offset, max).await?;
                machine.on_read(offset, len, end);
            }
            Action::Wait(until) => {
                let sleep = tokio::time::sleep_until(until.into());
                tokio::select! {
                    () = sleep => {}
                    changed = control.changed() => if changed.is_err() { tokio::time::sleep_until(until.into()).await },
                }
            }
            Action::Done(url) => {
                absorb(shared, &mut machine, slot).await?;
                return Ok((url, machine.length().unwrap_or(machine.offset())));
            }
            Action::Failed(error) => {
                absorb(shared, &mut machine, slot).await?;
                return Err(error.into());
            }
        }
    }
}

async fn wait_while_paused(control: &mut watch::Receiver<Control>, machine: &mut UploadMachine) -> Result<(), Error> {
    loop {
        let state = *control.borrow_and_update();
        match state {
            Control::Run => return Ok(()),
            Control::Cancel { .. } => return Err(Error::Cancelled),
            Control::Pause => {
                machine.interrupt();
                if control.changed().await.is_err() {
                    return Err(Error::Cancelled);
                }
            }
        }
    }
}
