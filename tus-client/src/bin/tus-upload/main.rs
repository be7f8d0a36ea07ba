//! `tus-upload`: uploads a file or standard input to a tus server, and
//! continues after a kill, a reboot or an outage when rerun with the same
//! command. See `tus-upload --help` (exit codes included) and
//! `docs/src/client.md`.

mod args;
mod output;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use http::{HeaderName, HeaderValue};
use tus_client::{Client, Error, ErrorKind, JsonFileStore, RetryPolicy, Source};

use crate::args::Args;
use crate::output::Output;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tus-upload: starting the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let output = Arc::new(Output::new(
        !args.quiet && std::io::stderr().is_terminal(),
        args.quiet,
        args.verbose,
    ));
    match runtime.block_on(upload(&args, output.clone())) {
        Ok(url) => {
            output.finish();
            println!("{url}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            output.finish();
            let code = exit_code(error.kind());
            match error.kind() {
                ErrorKind::Cancelled => {
                    eprintln!("tus-upload: interrupted; the state is saved, rerun the same command to continue")
                }
                ErrorKind::RetriesExhausted => {
                    eprintln!("tus-upload: {error}\ntus-upload: the state is saved; rerun the same command to continue")
                }
                _ => eprintln!("tus-upload: {error}"),
            }
            ExitCode::from(code)
        }
    }
}

/// The documented exit code of each kind of failure (see `args::EXIT_HELP`).
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config => 1,
        ErrorKind::Refused => 3,
        ErrorKind::RetriesExhausted => 4,
        ErrorKind::LocalIo => 5,
        ErrorKind::Tls => 6,
        ErrorKind::Cancelled => 130,
    }
}

async fn upload(args: &Args, output: Arc<Output>) -> Result<String, Error> {
    let client = client(args)?;
    let endpoint: http::Uri = args
        .endpoint
        .parse()
        .map_err(|error| Error::Config(format!("--endpoint {}: {error}", args.endpoint)))?;
    if endpoint.scheme().is_none() || endpoint.authority().is_none() {
        return Err(Error::Config(format!(
            "--endpoint {} is not an absolute URL",
            args.endpoint
        )));
    }
    let stdin = args.file.as_os_str() == "-";
    let source = if stdin {
        Source::reader(tokio::io::stdin(), args.length)
    } else {
        Source::file(&args.file).await.map_err(|error| {
            Error::Source(std::io::Error::new(
                error.kind(),
                format!("{}: {error}", args.file.display()),
            ))
        })?
    };
    let mut builder = client.upload(endpoint, source).parallel(args.parallel);
    if !args.no_default_metadata {
        let name = if stdin {
            "stdin".to_owned()
        } else {
            args.file
                .file_name()
                .map_or_else(|| "upload".to_owned(), |name| name.to_string_lossy().into_owned())
        };
        builder = builder
            .metadata("filetype", output::media_type(&name))
            .metadata("filename", name);
    }
    for pair in &args.metadata {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Config(format!("--metadata {pair:?}: expected KEY=VALUE")))?;
        builder = builder.metadata(key, value);
    }
    if !args.no_state && !stdin {
        match args.state.clone().or_else(JsonFileStore::default_path) {
            Some(path) => builder = builder.resume_store(JsonFileStore::new(path)),
            None => output.notice("no state directory ($HOME is not set): this upload cannot be resumed by a rerun"),
        }
    }
    let sink = output.clone();
    let handle = builder.on_notice(move |notice| sink.on_notice(notice)).start();
    let controller = handle.controller();
    let ticker = output.clone().follow(controller.clone());
    // Ctrl-C: stop, keeping the upload and its state for a rerun.
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            controller.cancel();
        }
    });
    let result = handle.finish().await;
    interrupt.abort();
    ticker.abort();
    result.map(|uploaded| uploaded.url.to_string())
}

fn client(args: &Args) -> Result<Client, Error> {
    let mut builder = Client::builder()
        .chunk_size(args.chunk_size)
        .min_chunk_size(args.min_chunk_size.min(args.chunk_size))
        .checksum(args.checksum)
        .checksum_trailer(args.checksum_trailer)
        .protocol(args.protocol)
        .ietf_version(args.ietf_version)
        .stall_timeout(args.stall_timeout)
        .connect_timeout(args.connect_timeout)
        .creation_with_upload(!args.no_creation_with_upload)
        .insecure(args.insecure)
        .retry(RetryPolicy {
            base_delay: args.retry_delay,
            max_delay: args.retry_max_delay,
            max_attempts: args.retries,
            max_elapsed: args.retry_time,
            ..RetryPolicy::default()
        })
        .user_agent(concat!("tus-upload/", env!("CARGO_PKG_VERSION")));
    for path in &args.cacert {
        builder = builder.ca_certificate(path.clone());
    }
    if let Some(proxy) = &args.proxy {
        builder = builder.proxy(proxy.clone());
    }
    if args.no_proxy {
        builder = builder.no_proxy();
    }
    if let Some(rate) = args.limit_rate {
        builder = builder.limit_rate(rate);
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| Error::Config(format!("--header {header:?}: expected 'Name: value'")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|error| Error::Config(format!("--header {header:?}: {error}")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|error| Error::Config(format!("--header {header:?}: {error}")))?;
        builder = builder.header(name, value);
    }
    builder.build()
}
