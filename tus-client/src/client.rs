//! The [`Client`]: a transport plus the settings every upload shares
//! (custom headers, the before-request hook, chunk size, retries,
//! checksums, protocol, rate limit).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tus_core::client::{
    Auto, ChecksumPreference, ChunkPolicy, Dialect, Ietf, RequestKind, RetryPolicy, TrailerPreference, Tus1,
};
use tus_core::headers::ietf::InteropVersion;

use crate::body::RateLimiter;
use crate::error::{BoxError, Error};
use crate::source::Source;
use crate::transport::{NetworkOptions, ReqwestTransport, Transport};
use crate::upload::UploadBuilder;

/// Which protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// tus 1.0.0 where the server advertises it (`Tus-Version`: every tus
    /// server), the IETF draft where it advertises only that, tus when it
    /// advertises nothing; decided by discovery (see [`Auto`]).
    #[default]
    Auto,
    /// tus 1.0.0.
    Tus,
    /// The IETF draft "Resumable Uploads for HTTP" at the client's interop
    /// version ([`ClientBuilder::ietf_version`]; 6 when the server does not
    /// speak it).
    Ietf,
}

/// The interop version spoken by default: the newest.
pub const DEFAULT_IETF_VERSION: u64 = 9;

impl Protocol {
    /// The dialect implementing this protocol, speaking the draft at
    /// interop `ietf_version` (9, 8 or 6) where it speaks the draft.
    pub fn dialect(self, ietf_version: u64) -> Result<Box<dyn Dialect>, Error> {
        let draft = Ietf::new(InteropVersion(ietf_version)).ok_or_else(|| {
            Error::Config(format!(
                "IETF draft interop version {ietf_version}: this client speaks 9, 8 and 6"
            ))
        })?;
        Ok(match self {
            Self::Auto => Box::new(Auto::new(draft)),
            Self::Tus => Box::new(Tus1),
            Self::Ietf => Box::new(draft),
        })
    }
}

/// What a before-request hook learns about the request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// What the request is for.
    pub kind: RequestKind,
    /// Its method.
    pub method: Method,
    /// Its URL.
    pub url: Uri,
}

/// An async hook run before every request (to refresh a token, sign a
/// request): the headers it returns are set on the request, replacing
/// earlier values. Any `Fn(RequestInfo) -> impl Future<Output =
/// Result<HeaderMap, BoxError>>` is one.
pub trait BeforeRequest: Send + Sync + 'static {
    /// Headers to set on the request described by `info`.
    fn headers(&self, info: RequestInfo) -> BoxFuture<'static, Result<HeaderMap, BoxError>>;
}

impl<F, Fut> BeforeRequest for F
where
    F: Fn(RequestInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HeaderMap, BoxError>> + Send + 'static,
{
    fn headers(&self, info: RequestInfo) -> BoxFuture<'static, Result<HeaderMap, BoxError>> {
        Box::pin(self(info))
    }
}

/// Settings shared by every upload of a client.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) chunk: ChunkPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) checksum: ChecksumPreference,
    pub(crate) checksum_placement: TrailerPreference,
    pub(crate) protocol: Protocol,
    pub(crate) ietf_version: u64,
    pub(crate) stall_timeout: Duration,
    pub(crate) creation_with_upload: bool,
    pub(crate) limiter: Option<Arc<RateLimiter>>,
}

impl Settings {
    /// The dialect new uploads speak.
    pub(crate) fn dialect(&self) -> Result<Box<dyn Dialect>, Error> {
        self.protocol.dialect(self.ietf_version)
    }
}

pub(crate) struct ClientInner {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) headers: HeaderMap,
    pub(crate) hook: Option<Arc<dyn BeforeRequest>>,
    pub(crate) settings: Settings,
}

/// A tus client: cheap to clone, shared by any number of uploads.
///
/// ```no_run
/// # async fn example() -> Result<(), tus_client::Error> {
/// use tus_client::{Client, JsonFileStore, Source};
///
/// let client = Client::builder().chunk_size(8 << 20).build()?;
/// let url = client
///     .upload("https://uploads.example/files/".parse().unwrap(), Source::file("video.mp4").await.map_err(tus_client::Error::Source)?)
///     .metadata("filename", "video.mp4")
///     .resume_store(JsonFileStore::new("uploads.json"))
///     .start()
///     .finish()
///     .await?
///     .url;
/// println!("{url}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.inner.transport)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with default settings.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Settings first.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client over a caller's reqwest client (its TLS, proxy and timeout
    /// settings apply; turn its redirects off).
    pub fn from_reqwest(client: reqwest::Client) -> ClientBuilder {
        Self::builder().transport(ReqwestTransport::from_reqwest(client))
    }

    /// An upload of `source` to the creation URL `endpoint`; configure it,
    /// then [`start`](UploadBuilder::start) it.
    pub fn upload(&self, endpoint: Uri, source: Source) -> UploadBuilder {
        UploadBuilder::new(self.clone(), endpoint, source)
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    network: NetworkOptions,
    transport: Option<Arc<dyn Transport>>,
    headers: HeaderMap,
    hook: Option<Arc<dyn BeforeRequest>>,
    chunk: ChunkPolicy,
    retry: RetryPolicy,
    checksum: ChecksumPreference,
    checksum_placement: TrailerPreference,
    protocol: Protocol,
    ietf_version: u64,
    stall_timeout: Duration,
    creation_with_upload: bool,
    limit_rate: Option<u64>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("network", &self.network)
            .field("chunk", &self.chunk)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            network: NetworkOptions::default(),
            transport: None,
            headers: HeaderMap::new(),
            hook: None,
            chunk: ChunkPolicy::default(),
            retry: RetryPolicy::default(),
            checksum: ChecksumPreference::Auto,
            checksum_placement: TrailerPreference::Header,
            protocol: Protocol::Auto,
            ietf_version: DEFAULT_IETF_VERSION,
            stall_timeout: Duration::from_secs(60),
            creation_with_upload: true,
            limit_rate: None,
        }
    }
}

impl ClientBuilder {
    /// A header sent with every request (authentication, tracing).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The async hook run before every request.
    pub fn before_request(mut self, hook: impl BeforeRequest) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The largest request body (default 8 MiB). Smaller chunks lose less
    /// when a connection breaks; a `413` halves it automatically.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk.initial = bytes;
        self
    }

    /// The smallest chunk size retries and `413`s may shrink to (default 16 KiB).
    pub fn min_chunk_size(mut self, bytes: u64) -> Self {
        self.chunk.min = bytes;
        self
    }

    /// How hard to retry.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Which checksum to send (default: the best the server advertises).
    pub fn checksum(mut self, preference: ChecksumPreference) -> Self {
        self.checksum = preference;
        self
    }

    /// Sends the checksum in a trailer when the server offers
    /// checksum-trailer (the source is then read once; the server may hash
    /// with every algorithm it knows). Default: a header when offered.
    pub fn checksum_trailer(mut self, prefer: bool) -> Self {
        self.checksum_placement = if prefer {
            TrailerPreference::Trailer
        } else {
            TrailerPreference::Header
        };
        self
    }

    /// Which protocol to speak (default [`Protocol::Auto`]).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The IETF draft's interop version to speak: 9 (the default), 8 or 6.
    /// A server that answers that it does not speak 9 or 8 gets 6.
    pub fn ietf_version(mut self, version: u64) -> Self {
        self.ietf_version = version;
        self
    }

    /// A request that moves no byte for this long is abandoned and retried
    /// (default 60 s).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Whether the first bytes may ride on the creation request when the
    /// server offers creation-with-upload (default yes).
    pub fn creation_with_upload(mut self, enabled: bool) -> Self {
        self.creation_with_upload = enabled;
        self
    }

    /// Sends at most this many bytes per second, over all uploads of the client.
    pub fn limit_rate(mut self, bytes_per_second: u64) -> Self {
        self.limit_rate = Some(bytes_per_second);
        self
    }

    /// Trusts the CA certificates in this PEM file, besides the system's.
    pub fn ca_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.network.ca_certificates.push(path.into());
        self
    }

    /// Accepts any server certificate. For development only.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.network.insecure = insecure;
        self
    }

    /// Sends every request through this proxy.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.network.proxy = Some(url.into());
        self
    }

    /// Ignores every proxy, including `HTTP(S)_PROXY` from the environment.
    pub fn no_proxy(mut self) -> Self {
        self.network.no_proxy = true;
        self
    }

    /// Time allowed to connect (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.network.connect_timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.network.user_agent = Some(user_agent.into());
        self
    }

    /// Uses this transport instead of building one (the network options
    /// are then ignored).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, Error> {
        self.protocol.dialect(self.ietf_version)?;
        let transport: Arc<dyn Transport> = match self.transport {
            Some(transport) => transport,
            None => Arc::new(ReqwestTransport::new(&self.network)?),
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                transport,
                headers: self.headers,
                hook: self.hook,
                settings: Settings {
                    chunk: self.chunk,
                    retry: self.retry,
                    checksum: self.checksum,
                    checksum_placement: self.checksum_placement,
                    protocol: self.protocol,
                    ietf_version: self.ietf_version,
                    stall_timeout: self.stall_timeout,
                    creation_with_upload: self.creation_with_upload,
                    limiter: self.limit_rate.map(|rate| Arc::new(RateLimiter::new(rate))),
                },
            }),
        })
    }
}
