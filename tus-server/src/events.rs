//! Events for observers, delivered through bounded queues that never block an upload.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use futures::channel::mpsc;

use tus_core::server::event::Event;

/// A subscriber's stream of [`Event`]s: what happened to which upload,
/// delivered through a bounded queue that never blocks an upload. Ends
/// when the handler is dropped.
///
/// [`TusHandler::subscribe`](crate::TusHandler::subscribe) returns an
/// [`Events`] stream. Events of one upload arrive in the order they
/// happened. A subscriber that falls behind loses the events that do not
/// fit its queue (counted by [`Events::dropped`]); the upload goes on.
///
/// ```
/// # use std::sync::Arc;
/// # use tus_server::{Event, TusHandler, store::MemoryStore};
/// use futures::StreamExt as _;
///
/// # async fn run() {
/// let handler = TusHandler::builder(Arc::new(MemoryStore::new())).build();
/// let mut events = handler.subscribe(1024);
/// // On your runtime: tokio::spawn(async move { ... });
/// while let Some(event) = events.next().await {
///     if let Event::Finished(info) = event {
///         println!("{} finished", info.id);
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::Receiver<Event>,
    dropped: Arc<AtomicU64>,
}

impl Events {
    /// How many events did not fit this subscriber's queue and were lost.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.receiver).poll_next(cx)
    }
}

struct Subscriber {
    sender: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

/// Fans events out to the subscribers without ever waiting.
#[derive(Default)]
pub(crate) struct Broadcaster {
    subscribers: Mutex<Vec<Subscriber>>,
    /// How many subscribers there are, readable without the lock.
    active: std::sync::atomic::AtomicUsize,
}

impl Broadcaster {
    fn subscribers(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new subscriber whose queue holds `capacity` events (at least 1).
    pub(crate) fn subscribe(&self, capacity: usize) -> Events {
        // A futures channel holds `buffer + 1` messages per sender.
        let (sender, receiver) = mpsc::channel(capacity.max(1) - 1);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut subscribers = self.subscribers();
        subscribers.push(Subscriber {
            sender,
            dropped: Arc::clone(&dropped),
        });
        self.active.store(subscribers.len(), Ordering::Relaxed);
        Events { receiver, dropped }
    }

    /// Whether anyone listens (so callers can skip building an event).
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Offers `event` to every subscriber; full queues lose it, closed ones are removed.
    pub(crate) fn emit(&self, event: &Event) {
        let mut subscribers = self.subscribers();
        subscribers.retain_mut(|subscriber| match subscriber.sender.try_send(event.clone()) {
            Ok(()) => true,
            Err(error) if error.is_full() => {
                subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        });
        self.active.store(subscribers.len(), Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("subscribers", &self.subscribers().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use tus_core::upload::UploadId;

    use super::*;

    fn terminated(id: &str) -> Event {
        Event::Terminated(UploadId::parse(id).expect("id"))
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        let broadcaster = Broadcaster::default();
        let mut slow = broadcaster.subscribe(2);
        for id in ["a", "b", "c", "d"] {
            broadcaster.emit(&terminated(id));
        }
        assert_eq!(slow.dropped(), 2);
        let first: Vec<Event> = futures::executor::block_on((&mut slow).take(2).collect());
        assert_eq!(first, vec![terminated("a"), terminated("b")]);
    }

    #[test]
    fn closed_subscribers_are_removed() {
        let broadcaster = Broadcaster::default();
        let events = broadcaster.subscribe(4);
        assert!(broadcaster.is_active());
        drop(events);
        broadcaster.emit(&terminated("a"));
        assert!(!broadcaster.is_active());
    }
}
