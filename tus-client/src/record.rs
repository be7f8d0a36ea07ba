//! What a run leaves behind: the machine's events turned into the resume
//! entry (URLs, expiry, cookies), progress and notices.

use std::sync::Arc;
use std::time::SystemTime;

use http::Uri;
use tokio::sync::Mutex as AsyncMutex;
use tus_core::client::{Event, ForgetReason, UploadMachine};

use crate::driver::{Shared, Slot};
use crate::error::Error;
use crate::resume::{Fingerprint, ResumeEntry, ResumeStore, unix_seconds};
use crate::upload::Notice;

/// The resume entry of this upload and where it is saved.
pub(crate) struct Entry {
    pub(crate) store: Arc<dyn ResumeStore>,
    pub(crate) key: Fingerprint,
    pub(crate) entry: AsyncMutex<ResumeEntry>,
}

pub(crate) async fn blocking_store<T: Send + 'static>(
    store: &Arc<dyn ResumeStore>,
    call: impl FnOnce(&dyn ResumeStore) -> Result<T, crate::resume::StoreError> + Send + 'static,
) -> Result<T, Error> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(store.as_ref()))
        .await
        .map_err(|error| Error::Config(format!("resume store task: {error}")))?
        .map_err(Error::Store)
}

pub(crate) fn notice(shared: &Shared, make: impl FnOnce() -> Notice) {
    if let Some(sink) = &shared.notices {
        sink(&make());
    }
}

/// Records the machine's events: entry, progress, notices.
pub(crate) async fn absorb(shared: &Shared, machine: &mut UploadMachine, slot: Slot) -> Result<(), Error> {
    let mut dirty = false;
    while let Some(event) = machine.poll_event() {
        match event {
            Event::Discovered(capabilities) => {
                shared.capabilities.send_replace(Some(capabilities));
            }
            Event::ChecksumChosen(plan) if slot == Slot::Single || slot == Slot::Part(0) => {
                notice(shared, || Notice::Checksum(plan));
            }
            Event::Protocol(name) if slot == Slot::Single || slot == Slot::Part(0) => {
                notice(shared, || Notice::Protocol(name));
            }
            Event::Created { url, expires } => {
                if let Some(entry) = &shared.entry {
                    let mut entry = entry.entry.lock().await;
                    set_url(&mut entry, slot, Some(url.to_string()));
                    if slot == Slot::Single {
                        // Continued in the dialect that created it.
                        entry.protocol = protocol_to_store(machine.dialect().name());
                    }
                    merge_expiry(&mut entry, expires);
                    dirty = true;
                }
                remember(shared, &url, machine.dialect().name());
                notice(shared, || Notice::Created { url, part: slot.part() });
            }
            Event::Resumed { url, offset } => {
                remember(shared, &url, machine.dialect().name());
                notice(shared, || Notice::Resumed {
                    url,
                    offset,
                    part: slot.part(),
                });
            }
            Event::Forgotten { url, reason } => {
                if let Some(entry) = &shared.entry {
                    let mut entry = entry.entry.lock().await;
                    set_url(&mut entry, slot, None);
                    if entry.is_empty() {
                        entry.expires = None;
                    }
                    dirty = true;
                }
                let reason = match reason {
                    ForgetReason::Gone(status) => format!("the server answered {status}"),
                    ForgetReason::Expired => "it expired".to_owned(),
                    ForgetReason::Mismatch(why) => why,
                    ForgetReason::Ended(status) => format!("the server ended it with {status}"),
                };
                notice(shared, || Notice::Forgotten { url, reason });
            }
            Event::Acknowledged(offset) if slot != Slot::Final => {
                shared.progress.acknowledged(slot.progress_index(), offset);
            }
            Event::Expires(expires) => {
                if let Some(entry) = &shared.entry {
                    let mut entry = entry.entry.lock().await;
                    dirty |= merge_expiry(&mut entry, Some(expires));
                }
            }
            Event::OffsetRegressed { from, to } => notice(shared, || Notice::OffsetRegressed { from, to }),
            Event::Retrying { attempt, delay, reason } => {
                notice(shared, || Notice::Retrying { attempt, delay, reason })
            }
            Event::ChunkResized(size) => notice(shared, || Notice::ChunkResized(size)),
            Event::LengthKnown(length) => {
                shared.progress.set_total(length);
                notice(shared, || Notice::LengthKnown(length));
            }
            _ => {}
        }
    }
    if dirty && let Some(entry) = &shared.entry {
        persist(shared, entry).await?;
    }
    Ok(())
}

/// The dialect name kept in an entry: none for tus 1.0.0 (what entries
/// without one were made with).
fn protocol_to_store(name: &str) -> Option<String> {
    (name != "tus-1.0.0").then(|| name.to_owned())
}

/// Keeps a URL of this run, and the dialect speaking to it, for termination.
fn remember(shared: &Shared, url: &Uri, dialect: &'static str) {
    let mut urls = shared.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !urls.contains(url) {
        urls.push(url.clone());
    }
    *shared
        .urls_dialect
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dialect);
}

fn set_url(entry: &mut ResumeEntry, slot: Slot, url: Option<String>) {
    match slot {
        Slot::Single | Slot::Final => entry.upload_url = url,
        Slot::Part(index) => {
            if let Some(part) = entry.parts.get_mut(index) {
                part.url = url;
            }
        }
    }
}

/// Records the server's latest expiry; whether the entry should be saved
/// (moves under a minute are not worth a write: the server slides the
/// expiry on every PATCH).
fn merge_expiry(entry: &mut ResumeEntry, expires: Option<SystemTime>) -> bool {
    let Some(expires) = expires.map(unix_seconds) else {
        return false;
    };
    let changed = entry.expires.is_none_or(|known| known.abs_diff(expires) > 60);
    if changed {
        entry.expires = Some(expires);
    }
    changed
}

/// Saves the entry (with the cookie jar), or removes it when empty.
pub(crate) async fn persist(shared: &Shared, entry: &Entry) -> Result<(), Error> {
    // Held across the write, so saves never reorder.
    let mut current = entry.entry.lock().await;
    current.cookies = shared.jar.saved();
    current.updated_at = unix_seconds(SystemTime::now());
    let snapshot = current.clone();
    let key = entry.key.clone();
    let result = if snapshot.is_empty() {
        blocking_store(&entry.store, move |store| store.remove(&key)).await
    } else {
        blocking_store(&entry.store, move |store| store.save(&key, &snapshot)).await
    };
    drop(current);
    result
}
