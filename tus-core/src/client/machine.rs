//! The upload state machine: given what the server last said, what to do next.
//!
//! ```text
//!             ┌──────────┐  2xx, 404, 405
//!   start ──▶ │ Discover │ ───────────────┬──────────────────────────┐
//!             └──────────┘                │ stored URL               │ none
//!                                         ▼                          ▼
//!                                    ┌───────┐  404/410/mismatch ┌────────┐
//!                                    │ Probe │ ─────────────────▶│ Create │
//!                                    └───────┘                   └────────┘
//!                                         │ offset                   │ Location (+ offset)
//!                                         ▼                          ▼
//!   ┌──────┐  failure, 409, regression ┌────────┐  offset == length ┌──────┐
//!   │ Sync │ ◀──────────────────────── │ Append │ ─────────────────▶│ Done │
//!   │(HEAD)│ ────────────────────────▶ │(PATCH) │                   └──────┘
//!   └──────┘          offset           └────────┘
//! ```
//!
//! The same machine drives every [`Dialect`]: tus 1.0.0 ends an upload when
//! its offset reaches the declared length; the IETF draft when an answer
//! says `Upload-Complete: ?1` (the last request says `?1` too), learns the
//! upload's URL from the creation's `104` ([`on_interim`]) so a creation
//! cut before its answer is resumed rather than repeated, and caps chunks
//! by its `Upload-Limit`. Discovery may switch the dialect ([`Auto`], the
//! fall back to interop 6).
//!
//! The machine never performs I/O and never reads a clock: [`poll`]
//! returns an [`Action`] (send this request, tell me how much the source
//! holds, wait until then, done, failed), and the driver feeds back
//! [`on_answer`], [`on_failure`] or [`on_read`] with the time it observed.
//! Every retry decision (the table in [`retry`](super::retry)), the chunk
//! size, the checksum and the resume rules live here, so they are tested
//! without a socket.
//!
//! [`poll`]: UploadMachine::poll
//! [`on_answer`]: UploadMachine::on_answer
//! [`on_failure`]: UploadMachine::on_failure
//! [`on_read`]: UploadMachine::on_read
//! [`on_interim`]: UploadMachine::on_interim
//! [`Auto`]: super::Auto

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, StatusCode, Uri};

use super::capabilities::Capabilities;
use super::checksum::{ChecksumError, ChecksumPlan, choose};
use super::chunk::ChunkSizer;
use super::config::{Now, ResumePoint, Role, UploadConfig};
use super::dialect::{Answer, AppendSpec, BodyPlan, CreateSpec, Dialect, Discovery, Request, RequestKind, Sent};
use super::outcome::{Action, Event, ForgetReason, UploadError};
use super::parts::final_concat;
use super::retry::{CHECKSUM_MISMATCH, RetryBudget, TransportFailure, Verdict, classify, retry_after};
use crate::headers::ietf::UploadLimit;
use crate::headers::{Extension, UploadConcat};

/// Dialect switches allowed during one upload's discovery (auto, then the
/// draft, then interop 6, then tus is the longest chain).
const MAX_SWITCHES: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Discover,
    Probe,
    Create,
    Sync,
    Append,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    step: Step,
    body: BodyPlan,
    declared: Option<u64>,
    /// The request said its content completes the upload.
    complete: bool,
}

impl InFlight {
    /// What the request carried, for answers that leave it implicit.
    fn sent(&self, offset: u64) -> Sent {
        let end = match self.body {
            BodyPlan::Range { offset, len, .. } => offset + len,
            BodyPlan::Empty => offset,
        };
        Sent {
            end,
            complete: self.complete,
        }
    }
}

/// What the source holds from an offset (answer to [`Action::Read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Available {
    offset: u64,
    len: u64,
    end: bool,
}

/// The client side of one upload (see the module docs).
#[derive(Debug)]
pub struct UploadMachine {
    dialect: Box<dyn Dialect>,
    config: UploadConfig,
    capabilities: Option<Capabilities>,
    checksum: Option<ChecksumPlan>,
    url: Option<Uri>,
    resume_expires: Option<SystemTime>,
    offset: u64,
    best_offset: u64,
    length: Option<u64>,
    length_declared: bool,
    creation_body: bool,
    sizer: ChunkSizer,
    budget: RetryBudget,
    step: Step,
    in_flight: Option<InFlight>,
    wait_until: Option<Instant>,
    available: Option<Available>,
    events: VecDeque<Event>,
    rng: u64,
    switches: u8,
    end: Option<Result<Uri, UploadError>>,
}

impl UploadMachine {
    /// A machine for one upload; `resume` is the upload stored for this
    /// source, if any.
    pub fn new(dialect: Box<dyn Dialect>, config: UploadConfig, resume: Option<ResumePoint>) -> Self {
        let capabilities = config.capabilities.clone();
        let (url, resume_expires) = resume.map_or((None, None), |point| (Some(point.url), point.expires));
        let mut machine = Self {
            dialect,
            sizer: ChunkSizer::new(config.chunk),
            length: config.length,
            creation_body: config.creation_with_upload,
            rng: config.seed | 1,
            capabilities: None,
            checksum: None,
            url,
            resume_expires,
            offset: 0,
            best_offset: 0,
            length_declared: false,
            budget: RetryBudget::default(),
            step: Step::Discover,
            in_flight: None,
            wait_until: None,
            available: None,
            events: VecDeque::new(),
            switches: 0,
            end: None,
            config,
        };
        if let Some(capabilities) = capabilities {
            machine.discovered(capabilities);
        }
        machine
    }

    /// The upload URL, once created or resumed.
    pub fn url(&self) -> Option<&Uri> {
        self.url.as_ref()
    }

    /// The offset the server acknowledged last.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The length, once known.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// The server's capabilities, once discovered.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// The current chunk size.
    pub fn chunk_size(&self) -> u64 {
        self.sizer.size()
    }

    /// The next event to record, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The dialect in use (for requests outside the upload, like termination).
    pub fn dialect(&self) -> &dyn Dialect {
        self.dialect.as_ref()
    }

    /// What to do next. Must not be called while a request is in flight.
    pub fn poll(&mut self, now: Now) -> Action {
        if self.end.is_some() {
            return self.poll_end();
        }
        if self.in_flight.is_some() {
            return Action::Failed(UploadError::Protocol(
                "driver polled while a request was in flight".into(),
            ));
        }
        if let Some(until) = self.wait_until {
            if until > now.instant {
                return Action::Wait(until);
            }
            self.wait_until = None;
        }
        match self.step {
            Step::Discover => self.send(Step::Discover, self.dialect.discover(&self.config.endpoint), None),
            Step::Probe => self.probe(now),
            Step::Create => self.create(),
            Step::Sync => match self.url.clone() {
                Some(url) => self.send(Step::Sync, self.dialect.head(&url), None),
                None => self.goto_create(),
            },
            Step::Append => self.append(),
        }
    }

    /// Stops waiting for the request in flight without counting a failure
    /// (pause, cancel): the next [`poll`](Self::poll) re-reads the offset.
    pub fn interrupt(&mut self) {
        if let Some(in_flight) = self.in_flight.take()
            && matches!(in_flight.step, Step::Append | Step::Sync)
        {
            self.step = Step::Sync;
        }
        self.wait_until = None;
    }

    /// Reports how much of the source is available (answer to [`Action::Read`]).
    pub fn on_read(&mut self, offset: u64, len: u64, end: bool) {
        self.available = Some(Available { offset, len, end });
        if end && self.length.is_none() {
            let length = offset.saturating_add(len);
            self.length = Some(length);
            self.events.push_back(Event::LengthKnown(length));
        }
        if let Some(max) = self.capabilities.as_ref().and_then(|caps| caps.max_size) {
            let seen = offset.saturating_add(len);
            if seen > max {
                self.fail(UploadError::TooLarge { length: seen, max });
            }
        }
    }

    /// Reports the answer to the request in flight.
    pub fn on_answer(&mut self, answer: &Answer<'_>, now: Now) {
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        if answer.status.is_success() {
            self.on_success(in_flight, answer, now);
        } else {
            self.on_refusal(in_flight, answer, now);
        }
    }

    /// Reports an interim (1xx) response to the request in flight, as it
    /// arrives. The draft's `104 (Upload Resumption Supported)` to a
    /// creation names the upload: it is recorded at once
    /// ([`Event::Created`]), so a creation cut before its final answer is
    /// resumed (`HEAD`, then appends) rather than made again.
    pub fn on_interim(&mut self, status: StatusCode, headers: &HeaderMap, now: Now) {
        let Some(in_flight) = self.in_flight else {
            return;
        };
        let request_uri = match (&self.url, in_flight.step) {
            (_, Step::Create) | (None, _) => self.config.endpoint.clone(),
            (Some(url), _) => url.clone(),
        };
        let Some(interim) = self.dialect.read_interim(&request_uri, status, headers) else {
            return;
        };
        if let Some(limit) = interim.limit {
            self.apply_limit(&limit, now);
        }
        if in_flight.step == Step::Create
            && self.url.is_none()
            && let Some(url) = interim.location
        {
            self.events.push_back(Event::Created {
                url: url.clone(),
                expires: None,
            });
            self.url = Some(url);
        }
    }

    /// Reports that the request in flight got no answer.
    pub fn on_failure(&mut self, failure: TransportFailure, message: &str, now: Now) {
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        let reason = format!("{:?}: {message}", failure);
        self.after_failure(in_flight, now, None, reason);
    }

    fn send(&mut self, step: Step, request: Request, declared: Option<u64>) -> Action {
        self.send_part(step, request, declared, false)
    }

    fn send_part(&mut self, step: Step, request: Request, declared: Option<u64>, complete: bool) -> Action {
        self.in_flight = Some(InFlight {
            step,
            body: request.body,
            declared,
            complete,
        });
        Action::Send(request)
    }

    fn probe(&mut self, now: Now) -> Action {
        let Some(url) = self.url.clone() else {
            return self.goto_create();
        };
        if self.resume_expires.is_some_and(|expires| expires <= now.wall) {
            self.forget(ForgetReason::Expired);
            return self.goto_create();
        }
        self.send(Step::Probe, self.dialect.head(&url), None)
    }

    fn goto_create(&mut self) -> Action {
        self.step = Step::Create;
        self.create()
    }

    fn create(&mut self) -> Action {
        let final_parts = match &self.config.role {
            Role::Final(parts) => Some(final_concat(parts)),
            _ => None,
        };
        // Learn what a stream holds first: a short one gets a known length.
        if self.length.is_none() && final_parts.is_none() {
            match self.available {
                Some(available) if available.offset == 0 => {}
                _ => {
                    return Action::Read {
                        offset: 0,
                        max: self.sizer.size(),
                    };
                }
            }
        }
        let caps = self.capabilities.clone().unwrap_or_default();
        if self.length.is_none() && final_parts.is_none() && !caps.may_defer_length() {
            self.fail(UploadError::Unsupported(
                "creation-defer-length (a source longer than one chunk, of unknown length)".into(),
            ));
            return self.poll_end();
        }
        let with_body = self.creation_body
            && final_parts.is_none()
            && self.checksum.is_none()
            && caps.supports(Extension::CreationWithUpload);
        let body_len = if with_body { self.next_len(0) } else { 0 };
        let complete = final_parts.is_none() && self.length == Some(body_len);
        let body = BodyPlan::part(0, body_len, None);
        let concat = match (&self.config.role, &final_parts) {
            (_, Some(concat)) => Some(concat.clone()),
            (Role::Partial, None) => Some(UploadConcat::Partial),
            _ => None,
        };
        let spec = CreateSpec {
            length: if final_parts.is_some() { None } else { self.length },
            metadata: &self.config.metadata,
            concat: concat.as_ref(),
            body,
            complete,
        };
        let request = self.dialect.create(&self.config.endpoint, &spec);
        self.send_part(Step::Create, request, self.length, complete)
    }

    /// The body length of the next request from `offset`.
    fn next_len(&self, offset: u64) -> u64 {
        let size = self.sizer.size();
        match (self.length, self.available) {
            (Some(length), _) => size.min(length.saturating_sub(offset)),
            (None, Some(available)) if available.offset == offset => size.min(available.len),
            (None, _) => 0,
        }
    }

    fn append(&mut self) -> Action {
        let Some(url) = self.url.clone() else {
            return self.goto_create();
        };
        if self.length.is_none() && self.available.is_none_or(|available| available.offset != self.offset) {
            return Action::Read {
                offset: self.offset,
                max: self.sizer.size(),
            };
        }
        if self.finished_by_length() {
            return self.finish(url);
        }
        let len = self.next_len(self.offset);
        let complete = self.length == Some(self.offset + len);
        let declare_length = match self.length {
            Some(length) if !self.length_declared && complete => Some(length),
            _ => None,
        };
        let spec = AppendSpec {
            offset: self.offset,
            len,
            declare_length,
            checksum: self.checksum.filter(|_| len > 0),
            complete,
        };
        let request = self.dialect.append(&url, &spec);
        self.send_part(Step::Append, request, declare_length, complete)
    }

    /// Whether the upload is complete by tus's rule: the offset reached the
    /// declared length. (The draft's server says so itself, and is told by
    /// a request with `Upload-Complete: ?1`, even an empty one.)
    fn finished_by_length(&self) -> bool {
        !self.dialect.explicit_completion()
            && self.length_declared
            && self.length.is_some_and(|length| self.offset >= length)
    }

    fn poll_end(&self) -> Action {
        match &self.end {
            Some(Ok(url)) => Action::Done(url.clone()),
            Some(Err(error)) => Action::Failed(error.clone()),
            None => Action::Failed(UploadError::Protocol("no outcome".into())),
        }
    }

    fn finish(&mut self, url: Uri) -> Action {
        self.end = Some(Ok(url.clone()));
        Action::Done(url)
    }

    fn fail(&mut self, error: UploadError) {
        if self.end.is_none() {
            self.end = Some(Err(error));
        }
    }

    fn forget(&mut self, reason: ForgetReason) {
        if let Some(url) = self.url.take() {
            self.events.push_back(Event::Forgotten { url, reason });
        }
        self.offset = 0;
        self.best_offset = 0;
        self.length_declared = false;
    }

    fn discovered(&mut self, capabilities: Capabilities) {
        self.events.push_back(Event::Discovered(capabilities.clone()));
        if let (Some(length), Some(max)) = (self.length, capabilities.max_size)
            && length > max
        {
            self.fail(UploadError::TooLarge { length, max });
        }
        if self
            .sizer
            .bound(capabilities.min_append_size, capabilities.max_append_size)
        {
            self.events.push_back(Event::ChunkResized(self.sizer.size()));
        }
        let needs_concat = !matches!(self.config.role, Role::Single);
        if needs_concat && capabilities.advertised && !capabilities.supports(Extension::Concatenation) {
            self.fail(UploadError::Unsupported("concatenation (parallel uploads)".into()));
        }
        match choose(
            self.config.checksum,
            &capabilities,
            self.config.trailers,
            self.config.checksum_placement,
        ) {
            Ok(plan) => {
                self.checksum = plan;
                self.events.push_back(Event::ChecksumChosen(plan));
            }
            Err(ChecksumError::NotAdvertised) => {
                self.fail(UploadError::Unsupported(
                    "checksums (the checksum extension is not advertised)".into(),
                ));
            }
            Err(ChecksumError::AlgorithmNotListed(algorithm)) => {
                self.fail(UploadError::Unsupported(format!(
                    "the {} checksum algorithm",
                    algorithm.name()
                )));
            }
        }
        self.events.push_back(Event::Protocol(self.dialect.name()));
        self.capabilities = Some(capabilities);
        self.step = if self.url.is_some() { Step::Probe } else { Step::Create };
    }

    /// Reads discovery's answer (success or a refusal not retried): the
    /// capabilities, or another dialect to speak.
    fn on_discovery(&mut self, answer: &Answer<'_>) {
        match self.dialect.read_discovery(answer) {
            Discovery::Capabilities(capabilities) => self.discovered(capabilities),
            Discovery::Switch(dialect, capabilities) => {
                self.switches += 1;
                self.dialect = dialect;
                match capabilities {
                    Some(capabilities) => self.discovered(capabilities),
                    None if self.switches > MAX_SWITCHES => self.discovered(Capabilities::unknown()),
                    // Discover again, in the new dialect.
                    None => self.step = Step::Discover,
                }
            }
        }
    }

    /// Applies limits the server sent: the upload's size, chunk bounds, the
    /// upload's remaining lifetime.
    fn apply_limit(&mut self, limit: &UploadLimit, now: Now) {
        if let Some(lifetime) = limit.lifetime {
            self.events
                .push_back(Event::Expires(now.wall + Duration::from_secs(lifetime.seconds())));
        }
        if let Some(capabilities) = self.capabilities.as_mut() {
            capabilities.max_size = limit.max_size.or(capabilities.max_size);
            capabilities.max_append_size = limit.max_append_size.or(capabilities.max_append_size);
        }
        if let (Some(length), Some(max)) = (self.length, limit.max_size)
            && length > max
        {
            self.fail(UploadError::TooLarge { length, max });
        }
        if self.sizer.bound(limit.min_append_size, limit.max_append_size) {
            self.events.push_back(Event::ChunkResized(self.sizer.size()));
        }
    }

    fn progressed(&mut self, offset: u64) {
        self.offset = offset;
        self.events.push_back(Event::Acknowledged(offset));
        if offset > self.best_offset {
            self.best_offset = offset;
            self.budget.reset();
            if self.sizer.succeeded() {
                self.events.push_back(Event::ChunkResized(self.sizer.size()));
            }
        }
    }

    fn expires(&mut self, expires: Option<SystemTime>) {
        if let Some(expires) = expires {
            self.events.push_back(Event::Expires(expires));
        }
    }

    fn complete_or_append(&mut self) {
        self.step = Step::Append;
        if self.finished_by_length()
            && let Some(url) = self.url.clone()
        {
            self.end = Some(Ok(url));
        }
    }

    /// The server says the upload is complete at `offset` (the draft).
    fn completed(&mut self, offset: u64) {
        match self.length {
            Some(length) if offset < length => {
                return self.fail(UploadError::Protocol(format!(
                    "the server says the upload is complete at offset {offset} of {length}"
                )));
            }
            Some(_) => {}
            None => {
                self.length = Some(offset);
                self.events.push_back(Event::LengthKnown(offset));
            }
        }
        self.length_declared = true;
        self.progressed(offset);
        match self.url.clone() {
            Some(url) => self.end = Some(Ok(url)),
            None => self.fail(UploadError::Protocol("completed without an upload URL".into())),
        }
    }

    fn on_success(&mut self, in_flight: InFlight, answer: &Answer<'_>, now: Now) {
        match in_flight.step {
            Step::Discover => self.on_discovery(answer),
            Step::Create => match self
                .dialect
                .read_created(&self.config.endpoint, answer, in_flight.sent(0))
            {
                Ok(created) => {
                    let Some(url) = created.url.clone().or_else(|| self.url.clone()) else {
                        return self.fail(UploadError::Protocol(
                            "creation answered without a Location header".into(),
                        ));
                    };
                    // Announced by the 104 already: recorded then.
                    if self.url.as_ref() != Some(&url) || created.expires.is_some() {
                        self.events.push_back(Event::Created {
                            url: url.clone(),
                            expires: created.expires,
                        });
                    }
                    self.url = Some(url.clone());
                    self.budget.reset();
                    if let Some(limit) = &created.limit {
                        self.apply_limit(limit, now);
                    }
                    if let Role::Final(_) = self.config.role {
                        self.end = Some(Ok(url));
                        return;
                    }
                    self.length_declared = in_flight.declared.is_some();
                    if created.complete {
                        return self.completed(created.offset.unwrap_or(in_flight.body.len()));
                    }
                    match (created.offset, in_flight.body.len()) {
                        (_, 0) => self.progressed(0),
                        (Some(offset), sent) if offset <= sent => self.progressed(offset),
                        (Some(offset), sent) => {
                            return self.fail(UploadError::Protocol(format!(
                                "creation with {sent} bytes answered Upload-Offset {offset}"
                            )));
                        }
                        (None, _) => {
                            self.step = Step::Sync;
                            return;
                        }
                    }
                    self.complete_or_append();
                }
                Err(violation) => self.fail(UploadError::Protocol(violation.0)),
            },
            Step::Probe | Step::Sync => match self.dialect.read_head(answer) {
                Ok(state) => {
                    self.expires(state.expires);
                    if let Some(limit) = &state.limit {
                        self.apply_limit(limit, now);
                    }
                    if let Some(reason) = self.mismatch(state.offset, state.length) {
                        if in_flight.step == Step::Probe {
                            self.forget(ForgetReason::Mismatch(reason));
                            self.step = Step::Create;
                        } else {
                            self.fail(UploadError::Protocol(reason));
                        }
                        return;
                    }
                    if in_flight.step == Step::Probe
                        && let Some(url) = self.url.clone()
                    {
                        self.events.push_back(Event::Resumed {
                            url,
                            offset: state.offset,
                        });
                    }
                    if state.offset < self.best_offset {
                        self.events.push_back(Event::OffsetRegressed {
                            from: self.best_offset,
                            to: state.offset,
                        });
                    }
                    if let (Role::Final(_), Some(url)) = (&self.config.role, self.url.clone()) {
                        self.end = Some(Ok(url));
                        return;
                    }
                    self.length_declared = state.length.is_some();
                    if state.complete {
                        return self.completed(state.offset);
                    }
                    self.progressed(state.offset);
                    self.complete_or_append();
                }
                Err(violation) => self.fail(UploadError::Protocol(violation.0)),
            },
            Step::Append => match self.dialect.read_appended(answer, in_flight.sent(self.offset)) {
                Ok(appended) => {
                    self.expires(appended.expires);
                    let (start, sent) = match in_flight.body {
                        BodyPlan::Range { offset, len, .. } => (offset, len),
                        BodyPlan::Empty => (self.offset, 0),
                    };
                    if appended.offset > start + sent {
                        return self.fail(UploadError::Protocol(format!(
                            "PATCH of {sent} bytes at {start} answered Upload-Offset {}",
                            appended.offset
                        )));
                    }
                    if in_flight.declared.is_some() {
                        self.length_declared = true;
                    }
                    if appended.offset < start {
                        // Acknowledged less than it held: re-read it.
                        self.events.push_back(Event::OffsetRegressed {
                            from: start,
                            to: appended.offset,
                        });
                        let reason = format!("offset went back from {start} to {}", appended.offset);
                        return self.after_failure(in_flight, now, None, reason);
                    }
                    if appended.complete {
                        return self.completed(appended.offset);
                    }
                    self.progressed(appended.offset);
                    self.complete_or_append();
                }
                Err(violation) => self.fail(UploadError::Protocol(violation.0)),
            },
        }
    }

    /// Why a server's state cannot be this upload's, if it cannot.
    fn mismatch(&self, offset: u64, length: Option<u64>) -> Option<String> {
        match (self.length, length) {
            (Some(ours), Some(theirs)) if ours != theirs => {
                Some(format!("the server's upload has length {theirs}, the source {ours}"))
            }
            (Some(ours), _) if offset > ours => {
                Some(format!("the server holds {offset} bytes of a {ours}-byte source"))
            }
            _ => None,
        }
    }

    fn on_refusal(&mut self, in_flight: InFlight, answer: &Answer<'_>, now: Now) {
        let status = answer.status;
        let message = String::from_utf8_lossy(answer.body)
            .trim()
            .chars()
            .take(200)
            .collect::<String>();
        let checksummed = matches!(in_flight.body, BodyPlan::Range { checksum: Some(_), .. });
        let refused = |request| UploadError::Refused {
            request,
            status,
            message: message.clone(),
        };
        let status_text = match (status.as_u16(), status.canonical_reason()) {
            (_, Some(reason)) => format!("{} {reason}", status.as_u16()),
            (CHECKSUM_MISMATCH, None) => format!("{CHECKSUM_MISMATCH} Checksum Mismatch"),
            (code, None) => code.to_string(),
        };
        let reason = if message.is_empty() {
            status_text
        } else {
            format!("{status_text}: {message}")
        };
        let wait = retry_after(answer.headers, now.wall);
        let refusal = self.dialect.read_refusal(answer);
        if let Some(limit) = &refusal.limit {
            self.apply_limit(limit, now);
        }
        if let (Step::Create, Some(dialect)) = (in_flight.step, refusal.fallback)
            && self.switches < MAX_SWITCHES
            && self.url.is_none()
        {
            // The server does not speak this interop version: create again in the older one.
            self.switches += 1;
            self.dialect = dialect;
            self.events.push_back(Event::Protocol(self.dialect.name()));
            return;
        }
        if refusal.final_answer {
            // The draft's final answer: the upload is over; resuming cannot help.
            self.forget(ForgetReason::Ended(status));
            return self.fail(refused(request_kind(in_flight.step)));
        }
        let verdict = classify(status, checksummed);
        if let (Step::Append, Verdict::Conflict, Some(offset)) = (in_flight.step, verdict, refusal.offset) {
            return self.conflict_at(in_flight, offset, now, wait, reason);
        }
        match (in_flight.step, verdict) {
            // Some routers answer OPTIONS with 404 or 405: the dialect decides.
            (Step::Discover, verdict) if !matches!(verdict, Verdict::Retry | Verdict::Conflict) => {
                self.on_discovery(answer);
            }
            (Step::Probe, Verdict::Gone) => {
                self.forget(ForgetReason::Gone(status));
                self.step = Step::Create;
            }
            (Step::Sync | Step::Append, Verdict::Gone) => {
                self.forget(ForgetReason::Gone(status));
                self.fail(UploadError::Gone { status });
            }
            (Step::Create | Step::Append, Verdict::TooLarge) if !in_flight.body.is_empty() => {
                // Nothing was stored: resend at once, smaller (or, for a
                // creation, without a body). Limits sent with the 413 were
                // applied above; halve only if they did not shrink it.
                let limited = self.sizer.size() < in_flight.body.len();
                if limited {
                    // Resent at the limit's size.
                } else if self.sizer.too_large(in_flight.body.len()) {
                    self.events.push_back(Event::ChunkResized(self.sizer.size()));
                } else if in_flight.step == Step::Create {
                    self.creation_body = false;
                } else {
                    self.fail(refused(RequestKind::Append));
                }
                if in_flight.step == Step::Create && self.url.is_some() {
                    // The 104 named the upload: continue it rather than create another.
                    self.step = Step::Sync;
                }
            }
            (_, Verdict::ChecksumMismatch) => {
                self.budget.checksum_failures += 1;
                if self.budget.checksum_failures > self.config.retry.max_checksum_failures {
                    self.fail(UploadError::RetriesExhausted {
                        attempts: self.budget.checksum_failures,
                        last: reason,
                    });
                } else {
                    self.after_failure(in_flight, now, wait, reason);
                }
            }
            (_, Verdict::Retry | Verdict::Conflict) => self.after_failure(in_flight, now, wait, reason),
            (step, _) => self.fail(refused(request_kind(step))),
        }
    }

    /// A `409` that says where the server is (the draft): continue from
    /// there without asking; a backoff only when that is no progress.
    fn conflict_at(&mut self, in_flight: InFlight, offset: u64, now: Now, wait: Option<Duration>, reason: String) {
        if let Some(reason) = self.mismatch(offset, None) {
            return self.fail(UploadError::Protocol(reason));
        }
        if offset < self.best_offset {
            self.events.push_back(Event::OffsetRegressed {
                from: self.best_offset,
                to: offset,
            });
        }
        let moved = offset > self.best_offset;
        self.progressed(offset);
        if !moved {
            self.backoff(in_flight, now, wait, reason);
        }
        self.step = Step::Append;
    }

    fn after_failure(&mut self, in_flight: InFlight, now: Now, wait: Option<Duration>, reason: String) {
        self.step = match in_flight.step {
            Step::Append => Step::Sync,
            // The 104 named the upload: ask how much of it arrived.
            Step::Create if self.url.is_some() => Step::Sync,
            step => step,
        };
        self.backoff(in_flight, now, wait, reason);
    }

    /// Counts a failure and waits before the next attempt (or gives up).
    fn backoff(&mut self, in_flight: InFlight, now: Now, wait: Option<Duration>, reason: String) {
        let attempt = self.budget.record(now.instant);
        let random = self.random();
        let delay = self.config.retry.delay(attempt, random, wait);
        if !self.budget.allows(&self.config.retry, now.instant, delay) {
            return self.fail(UploadError::RetriesExhausted {
                attempts: attempt,
                last: reason,
            });
        }
        if in_flight.step == Step::Append && attempt >= 2 && self.sizer.shrink() {
            self.events.push_back(Event::ChunkResized(self.sizer.size()));
        }
        self.events.push_back(Event::Retrying { attempt, delay, reason });
        self.wait_until = Some(now.instant + delay);
    }

    /// xorshift64*: jitter only, never security.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn request_kind(step: Step) -> RequestKind {
    match step {
        Step::Discover => RequestKind::Discover,
        Step::Create => RequestKind::Create,
        Step::Probe | Step::Sync => RequestKind::Head,
        Step::Append => RequestKind::Append,
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
