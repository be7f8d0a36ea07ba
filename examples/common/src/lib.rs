//! What the example servers `tus-axum` and `tus-actix` share, so they take
//! the same flags and behave the same: the command line ([`Args`]), store
//! and handler construction ([`build_store`], [`build_handler`]),
//! bearer-token auth ([`Tokens`], [`User`]) and the example [`AppHooks`].
//!
//! It also holds what both serve around tus: the request id
//! ([`RequestId`], echoed as `X-Request-ID`), the CORS flags ([`Args::cors`])
//! and the demo page ([`demo`], with `--demo`).
//!
//! Only the framework glue differs between the two binaries: how a
//! request's `Authorization` header reaches [`Tokens::user`], how the
//! resulting [`User`] is put into the request extensions, and how the
//! handler, `/metrics` and the demo page are mounted.

mod auth;
pub mod limits;
pub mod log_limit;
mod request_id;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use auth::{AppHooks, BEARER_CHALLENGE, Tokens, USER_ID_KEY, User};
use clap::Parser;
pub use limits::LimitArgs;
pub use request_id::{REQUEST_ID, RequestId};
use tus_core::headers::Extension;
use tus_core::server::cors::{AllowedOrigins, Cors};
use tus_core::store::Store;
/// The demo page (`--demo`): Uppy's Dashboard, bundled at build time.
pub use tus_example_demo as demo;
use tus_lock_redis::RedisLocker;
use tus_server::{LocationStyle, TusHandler};
use tus_store_fs::{FileLocker, FileStore, SyncPolicy};
use tus_store_s3::{S3Options, S3Store};

/// Where the examples serve [`Metrics`](tus_server::Metrics).
pub const METRICS_PATH: &str = "/metrics";
/// The content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Command-line flags of both example servers.
#[derive(Debug, Clone, Parser)]
#[command(version, about = "A tus 1.0.0 resumable upload server on the filesystem store")]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1080")]
    pub listen: SocketAddr,
    /// URL path of the upload collection.
    #[arg(long, default_value = "/files/")]
    pub base_path: String,
    /// Directory where uploads are stored.
    #[arg(long, default_value = "./uploads")]
    pub dir: PathBuf,
    /// Largest upload accepted, in bytes (advertised as Tus-Max-Size).
    #[arg(long)]
    pub max_size: Option<u64>,
    /// Unfinished uploads expire this many seconds after their last write
    /// (sliding); expired ones answer 410 and are removed by a background reaper.
    #[arg(long)]
    pub expire_after: Option<u64>,
    /// When to fsync: `always` (every append, sidecar and directory change
    /// before success is reported) or `never` (leave it to the OS: a machine
    /// crash may lose acknowledged bytes; for scratch storage and benchmarks).
    #[arg(long, value_enum, default_value_t = Sync::Always)]
    pub sync: Sync,
    /// Seconds to let in-flight requests finish after Ctrl-C or SIGTERM.
    #[arg(long, default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// Store uploads in this S3 bucket instead of `--dir`.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// S3-compatible endpoint URL (MinIO, R2, Garage); addressed path-style.
    #[arg(long, requires = "s3_bucket")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default: from the AWS environment, else us-east-1).
    #[arg(long, requires = "s3_bucket")]
    pub s3_region: Option<String>,
    /// Prefix for every S3 key, e.g. `uploads/`.
    #[arg(long, requires = "s3_bucket", default_value = "")]
    pub s3_prefix: String,
    /// Where upload locks live: `memory` (this process), `file` (lock files
    /// in --dir, shared by every process on the host serving it) or `redis`
    /// (shared by every server using --redis-url, on any host).
    #[arg(long, value_enum, default_value_t = LockerKind::Memory)]
    pub locker: LockerKind,
    /// Redis URL for `--locker redis`.
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    pub redis_url: String,
    /// Seconds a request waits for an upload's lock after asking the holder
    /// to release it; then 423.
    #[arg(long, default_value_t = 20)]
    pub lock_timeout: u64,
    /// Seconds a request body may send nothing before it is stopped (bytes
    /// received are kept); 0: never.
    #[arg(long, default_value_t = 60)]
    pub body_idle_timeout: u64,
    /// Seconds a client has to send a request's whole header; then the
    /// connection is closed.
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout: u64,
    /// Largest request head (request line and header lines), in bytes;
    /// larger ones get 431. (tus-actix: at most 128 KiB, actix-web's own
    /// limit, above which it closes the connection.)
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_header_bytes: usize,
    /// Largest read buffer of a connection, in bytes (tus-axum only: hyper
    /// grows each connection's buffer from 8 KiB up to this while a body
    /// arrives fast, and shrinks it again when reads get small). Request
    /// bodies arrive in frames of at most this size: 1 MiB makes a fast
    /// PATCH cost about 15 syscalls a MiB instead of 130 with 64 KiB. Worst
    /// case, every one of `--max-connections` connections holds one such
    /// buffer (1 GiB with the defaults). Raised to `--max-header-bytes` if below.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub read_buffer_bytes: usize,
    /// Most connections open at once, in all. tus-axum: at the limit, the
    /// least recently active idle connection is closed to make room for a
    /// new one; tus-actix: more wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Limits added against hostile clients.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Require `Authorization: Bearer TOKEN` to create uploads and to touch
    /// them: the upload's metadata gets `user_id` = USER, and only that user
    /// may HEAD, PATCH, GET, DELETE or concatenate it (anyone else gets 404).
    /// Repeatable. Without it, anyone may upload, and an upload's URL is a
    /// bearer capability.
    #[arg(long = "auth-token", value_name = "TOKEN=USER")]
    pub auth_tokens: Vec<String>,
    /// Build `Location` from `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto`.
    /// Enable only behind a proxy that sets (and strips client-sent) ones.
    #[arg(long, conflicts_with_all = ["public_url", "relative_location"])]
    pub trust_forwarded: bool,
    /// Public URL prefix for `Location`, e.g. `https://uploads.example` (the
    /// base path and id follow).
    #[arg(long, conflicts_with = "relative_location")]
    pub public_url: Option<String>,
    /// Answer a path-only `Location` (`/files/ID`).
    #[arg(long)]
    pub relative_location: bool,
    /// Serve a demo page at `/`: Uppy's Dashboard uploading to the tus
    /// endpoint (progress, pause/resume, resume after a reload).
    #[arg(long)]
    pub demo: bool,
    /// An origin allowed to call the server from a browser, e.g.
    /// `https://app.example` (repeatable). Default: any origin.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// A request header browsers may send beyond the tus ones, e.g.
    /// `X-CSRF-Token` (repeatable).
    #[arg(long = "cors-allow-header", value_name = "NAME")]
    pub cors_allow_headers: Vec<String>,
    /// A response header browser code may read beyond the tus ones and
    /// `X-Request-ID` (repeatable).
    #[arg(long = "cors-expose-header", value_name = "NAME")]
    pub cors_expose_headers: Vec<String>,
    /// Let browsers send cookies and credentials
    /// (`Access-Control-Allow-Credentials: true`). Needs `--cors-origin`.
    #[arg(long, requires = "cors_origins")]
    pub cors_credentials: bool,
}

/// Which [`Locker`](tus_core::lock::Locker) guards uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LockerKind {
    /// In this process only.
    Memory,
    /// Lock files in the upload directory: several processes on one host.
    File,
    /// Redis: several hosts.
    Redis,
}

/// The `--sync` values, mapped onto [`SyncPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sync {
    /// `SyncPolicy::Always`: durable before success is reported.
    Always,
    /// `SyncPolicy::Never`: the OS decides when bytes reach the disk.
    Never,
}

impl From<Sync> for SyncPolicy {
    fn from(sync: Sync) -> Self {
        match sync {
            Sync::Always => SyncPolicy::Always,
            Sync::Never => SyncPolicy::Never,
        }
    }
}

impl Args {
    /// Parses the process arguments, naming the program `name` in help and errors.
    pub fn parse_as(name: &'static str) -> Self {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let matches = Self::command().name(name).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }

    /// The bearer tokens of `--auth-token`.
    pub fn tokens(&self) -> Result<Tokens, String> {
        Tokens::parse(&self.auth_tokens)
    }

    /// The CORS configuration of the `--cors-*` flags. `X-Request-ID` is
    /// always exposed, since both servers answer it.
    pub fn cors(&self) -> Result<Cors, String> {
        let origins = self
            .cors_origins
            .iter()
            .map(|origin| parse_origin(origin))
            .collect::<Result<Vec<_>, _>>()?;
        let headers = |flag: &str, names: &[String]| -> Result<Option<String>, String> {
            for name in names {
                http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("{flag} {name:?}: not a header name"))?;
            }
            Ok((!names.is_empty()).then(|| names.join(", ")))
        };
        let mut exposed = vec!["X-Request-ID".to_owned()];
        exposed.extend(self.cors_expose_headers.iter().cloned());
        Ok(Cors {
            origins: if origins.is_empty() {
                AllowedOrigins::Any
            } else {
                AllowedOrigins::List(origins)
            },
            allow_credentials: self.cors_credentials,
            extra_allowed_headers: headers("--cors-allow-header", &self.cors_allow_headers)?,
            extra_exposed_headers: headers("--cors-expose-header", &exposed)?,
            ..Cors::default()
        })
    }

    fn location(&self) -> LocationStyle {
        match (&self.public_url, self.relative_location) {
            (Some(url), _) => LocationStyle::Fixed(url.clone()),
            (None, true) => LocationStyle::Relative,
            (None, false) => LocationStyle::FromRequest {
                trust_forwarded: self.trust_forwarded,
            },
        }
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after
/// (a trailing `/` is dropped).
fn parse_origin(origin: &str) -> Result<String, String> {
    let trimmed = origin.strip_suffix('/').unwrap_or(origin);
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| format!("--cors-origin {origin:?}: expected scheme://host[:port]"))?;
    match (uri.scheme(), uri.authority(), uri.path_and_query().map(|p| p.as_str())) {
        (Some(_), Some(_), None | Some("" | "/")) => Ok(trimmed.to_owned()),
        _ => Err(format!("--cors-origin {origin:?}: expected scheme://host[:port]")),
    }
}

/// Logs to stdout, filtered by `RUST_LOG` (default `info`), at most
/// [`log_limit::DEFAULT_LOG_LINES_PER_SECOND`] lines a second per call site.
pub fn init_tracing() {
    init_tracing_limited(log_limit::DEFAULT_LOG_LINES_PER_SECOND);
}

/// [`init_tracing`] with at most `lines_per_second` lines a second from
/// each call site (`--log-rate-limit`; 0: no limit), see [`log_limit`].
pub fn init_tracing_limited(lines_per_second: u32) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tus_core=info".into());
    let output = tracing_subscriber::fmt::layer().with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    tracing_subscriber::registry()
        .with(filter)
        .with(output.with_filter(log_limit::LogRateLimit::new(lines_per_second)))
        .init();
}

/// The store the flags ask for. Every store flag is read here, and only here.
pub async fn build_store(args: &Args) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let Some(bucket) = &args.s3_bucket else {
        return Ok(Arc::new(FileStore::new(&args.dir)?.with_sync_policy(args.sync.into())));
    };
    let mut options = S3Options::new(bucket);
    options.endpoint.clone_from(&args.s3_endpoint);
    options.region.clone_from(&args.s3_region);
    options.path_style = args.s3_endpoint.is_some();
    // With the in-process locker this process is the only writer of the
    // uploads (several instances need `--locker redis`), so the store may
    // use its cached upload states without a listing per request.
    let store = S3Store::builder(options.client().await, bucket)
        .prefix(&args.s3_prefix)
        .timeouts(options.timeouts)
        .sole_writer(args.locker == LockerKind::Memory)
        .build();
    Ok(Arc::new(store))
}

/// The handler the flags ask for, with [`AppHooks`] installed, serving no
/// extension in `without` (what the framework cannot carry). Assembles the final uploads an earlier run left unassembled, then starts
/// the background sweep (expired uploads, such finals) on the current tokio runtime.
pub async fn build_handler(args: &Args, without: &[Extension]) -> Result<TusHandler, Box<dyn std::error::Error>> {
    let tokens = args.tokens()?;
    let cors = args.cors()?;
    if args.demo && args.base_path.trim_matches('/').is_empty() {
        return Err("--demo serves its page at /: give the uploads another --base-path".into());
    }
    let store = build_store(args).await?;
    let idle = (args.body_idle_timeout > 0).then(|| Duration::from_secs(args.body_idle_timeout));
    let mut builder = TusHandler::builder(store)
        .base_path(&args.base_path)
        .location(args.location())
        .cors(cors)
        .hooks(Arc::new(AppHooks::new(!tokens.is_empty())))
        .lock_timeout(Duration::from_secs(args.lock_timeout))
        .body_idle_timeout(idle)
        .min_body_rate(args.limits.min_body_rate());
    match args.locker {
        LockerKind::Memory => {}
        LockerKind::File => builder = builder.locker(Arc::new(FileLocker::new(&args.dir)?)),
        LockerKind::Redis => builder = builder.locker(Arc::new(RedisLocker::connect(&args.redis_url).await?)),
    }
    if let Some(max_size) = args.max_size {
        builder = builder.max_size(max_size);
    }
    for extension in without {
        builder = builder.without_extension(*extension);
    }
    if let Some(seconds) = args.expire_after {
        builder = builder.expire_after(Duration::from_secs(seconds));
    }
    let handler = builder.build();
    // Finals whose assembly a crash interrupted are assembled before the
    // first request, then swept for (with expired uploads) in the background.
    match handler.assemble_ready_finals().await {
        Ok(0) => {}
        Ok(assembled) => tracing::info!(assembled, "assembled final uploads left by an earlier run"),
        Err(error) => tracing::warn!(code = error.code(), %error, "could not sweep final uploads at start"),
    }
    // Sweep at least once a minute, and at least twice per upload lifetime.
    let every = Duration::from_secs(args.expire_after.map_or(60, |seconds| (seconds / 2).clamp(1, 60)));
    tus_server::spawn_reaper(handler.clone(), every);
    Ok(handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_flags() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["tus"];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv).map(|args| args.location())
        };
        assert_eq!(
            parse(&[]).ok(),
            Some(LocationStyle::FromRequest { trust_forwarded: false })
        );
        assert_eq!(
            parse(&["--trust-forwarded"]).ok(),
            Some(LocationStyle::FromRequest { trust_forwarded: true })
        );
        assert_eq!(parse(&["--relative-location"]).ok(), Some(LocationStyle::Relative));
        assert_eq!(
            parse(&["--public-url", "https://up.example"]).ok(),
            Some(LocationStyle::Fixed("https://up.example".into()))
        );
        assert!(parse(&["--trust-forwarded", "--relative-location"]).is_err());
    }

    #[test]
    fn cors_flags() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["tus"];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv)
                .map_err(|e| e.to_string())
                .and_then(|args| args.cors())
        };
        let default = parse(&[]).expect("default");
        assert_eq!(default.origins, AllowedOrigins::Any);
        assert!(!default.allow_credentials);
        assert_eq!(default.extra_allowed_headers, None);
        assert_eq!(default.extra_exposed_headers.as_deref(), Some("X-Request-ID"));

        let cors = parse(&[
            "--cors-origin",
            "https://app.example/",
            "--cors-origin",
            "http://127.0.0.1:8080",
            "--cors-allow-header",
            "X-CSRF-Token",
            "--cors-allow-header",
            "X-Other",
            "--cors-expose-header",
            "X-Trace",
            "--cors-credentials",
        ])
        .expect("flags");
        assert_eq!(
            cors.origins,
            AllowedOrigins::List(vec!["https://app.example".into(), "http://127.0.0.1:8080".into()])
        );
        assert!(cors.allow_credentials);
        assert_eq!(cors.extra_allowed_headers.as_deref(), Some("X-CSRF-Token, X-Other"));
        assert_eq!(cors.extra_exposed_headers.as_deref(), Some("X-Request-ID, X-Trace"));

        for bad in [
            &["--cors-credentials"][..],
            &["--cors-origin", "app.example"],
            &["--cors-origin", "https://app.example/path"],
            &["--cors-allow-header", "bad header"],
            &["--cors-expose-header", "x:y"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
