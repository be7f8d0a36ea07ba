//! `tus-load`: starts tus servers on loopback and measures them.
//!
//! ```text
//! tus-load [--size 2G] [--chunk 8M] [--reps 5] [--small-secs 10] [--small-warmup 1] [--connections 32]
//!          [--small-size 4K] [--dir /tmp/tus-load] [--small-dirs /tmp/tus-load,/dev/shm/tus-load]
//!          [--peers node,rustus] [--install-peers] [--no-fsync] [--server-cpu 0] [--harness-cpu 1]
//!          [--scenarios single,chunked,raw,small,s3] [--verify] [--server-bin PATH]
//!          [--s3-bucket B --s3-endpoint URL --s3-region R --s3-prefix P --s3-size 256M --s3-chunks 1M,256K]
//! ```
//!
//! Per repetition, each run on a fresh server process and a fresh directory
//! (or key prefix), servers interleaved so a slow minute hurts them alike:
//! - **filesystem** (`single`, `chunked`, `raw`): one upload of `--size`
//!   random bytes as one PATCH and as `--chunk` PATCHes (MB/s, server peak
//!   RSS from `VmHWM`), beside `dd bs=1M` of the same bytes into the same
//!   directory, once into the page cache and once with `conv=fdatasync`;
//! - **small uploads** (`small`), in each of `--small-dirs`: `--connections`
//!   connections doing creation-with-upload of `--small-size` bytes for
//!   `--small-secs` seconds after `--small-warmup` seconds not counted
//!   (uploads/s; only 201 with the right `Upload-Offset` counts);
//! - **S3** (`s3`, with `--s3-bucket`): our server on the S3 store taking
//!   `--s3-size` bytes as one PATCH and as each of `--s3-chunks` PATCH
//!   sizes, beside a direct multipart upload of the same bytes with
//!   aws-sdk-s3 (8 MiB parts, 4 in flight, like the store).
//!
//! Prints Markdown tables of medians, with every rep's value, the ratios the
//! targets of issue 14 are stated in, and whether each holds. Exits non-zero
//! if any answer was wrong, so a short run doubles as a smoke test.

mod client;
mod report;
mod s3;
mod scenarios;
mod sendfile;
mod servers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::client::Error;
use crate::report::{Report, Series, SmallSeries};
use crate::s3::S3Target;
use crate::scenarios::{RawWrite, large_upload, raw_write, small_uploads, socket_to_file, source_file};
use crate::servers::{Kind, Paths, ServerLog, Spec};

/// How long after removing many files a small run on a disk waits (ext4
/// without a journal avoids reusing inodes deleted in the last 60 s once
/// their inode table blocks are written, see [`Harness::small`]).
const FORGET_DELETED: Duration = Duration::from_secs(65);
/// Memory warmed before a small-upload run (see `warm_memory`).
const SMALL_WARM_BYTES: u64 = 256 << 20;
/// The S3 store's default part size, which the direct upload also uses.
const S3_PART_SIZE: u64 = 8 << 20;
/// Longest time for the direct S3 upload, or for cleaning up after a run.
const S3_CALLS_TIMEOUT: Duration = Duration::from_secs(600);
/// The S3 store's default part uploads in flight per append.
const S3_PARTS_IN_FLIGHT: usize = 4;

#[derive(Debug, Parser)]
#[command(name = "tus-load", about = "Load harness: tus-rs and peer tus servers on loopback")]
struct Args {
    /// Size of the large filesystem upload (suffixes K, M, G are powers of 1024).
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    size: u64,
    /// PATCH size of the chunked large upload.
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    chunk: u64,
    /// Repetitions; the tables show medians.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Seconds of small uploads (measured).
    #[arg(long, default_value_t = 10.0)]
    small_secs: f64,
    /// Seconds of small uploads before the measured ones (not counted).
    #[arg(long, default_value_t = 1.0)]
    small_warmup: f64,
    /// Connections for small uploads.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Size of each small upload.
    #[arg(long, default_value = "4K", value_parser = parse_size)]
    small_size: u64,
    /// Working directory: the source file and every server's uploads go here
    /// (put it on the disk you want to measure).
    #[arg(long, default_value = "/tmp/tus-load")]
    dir: PathBuf,
    /// Directories for the small uploads (default: `--dir`), e.g. a disk
    /// path and a tmpfs one (`/dev/shm/tus-load`), which shows the
    /// servers' own overhead.
    #[arg(long, value_delimiter = ',')]
    small_dirs: Vec<PathBuf>,
    /// Peers to compare with: `node` (@tus/server + @tus/file-store), `rustus`.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Also run our server with `--sync never` (no fsync, like the peers).
    #[arg(long)]
    no_fsync: bool,
    /// Also run our server with these flags, as a row of its own named
    /// LABEL (for experiments; not used for the targets). Repeatable:
    /// `--variant 'big buffer=--sync never --max-header-bytes 1048576'`.
    #[arg(long, value_name = "LABEL=FLAGS", allow_hyphen_values = true)]
    variant: Vec<String>,
    /// Install missing peers (npm ci in benches/peers; cargo install rustus).
    #[arg(long)]
    install_peers: bool,
    /// Pin servers to this CPU (`taskset -c`).
    #[arg(long)]
    server_cpu: Option<usize>,
    /// Pin this harness (the load generator) to this CPU.
    #[arg(long)]
    harness_cpu: Option<usize>,
    /// Do not warm the page allocator before each run (see `warm_memory`).
    #[arg(long)]
    cold: bool,
    /// Which runs: single, chunked, raw, small, s3 (s3 needs --s3-bucket).
    #[arg(long, value_delimiter = ',', default_value = "single,chunked,raw,small,s3")]
    scenarios: Vec<String>,
    /// Download each large upload and compare it with the source.
    #[arg(long)]
    verify: bool,
    /// The tus-axum binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// `RUST_LOG` for our server.
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// Append our server's log (stdout) to this file.
    #[arg(long)]
    server_log_file: Option<PathBuf>,
    /// S3 bucket for the S3 runs (credentials from the AWS environment).
    #[arg(long)]
    s3_bucket: Option<String>,
    /// S3-compatible endpoint URL (Garage, MinIO); path-style addressing.
    #[arg(long, requires = "s3_bucket")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, requires = "s3_bucket")]
    s3_region: Option<String>,
    /// Key prefix for everything the S3 runs write (removed after each run).
    #[arg(long, requires = "s3_bucket", default_value = "tus-load/")]
    s3_prefix: String,
    /// Size of each S3 upload.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    s3_size: u64,
    /// PATCH sizes of the chunked S3 uploads (besides the one-PATCH upload).
    #[arg(long, value_delimiter = ',', default_value = "1M,256K", value_parser = parse_size)]
    s3_chunks: Vec<u64>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 10),
        Some((i, 'M' | 'm')) => (&text[..i], 20),
        Some((i, 'G' | 'g')) => (&text[..i], 30),
        _ => (text, 0),
    };
    let number: u64 = digits.parse().map_err(|_| format!("not a size: {text}"))?;
    number
        .checked_shl(shift)
        .filter(|n| n >> shift == number)
        .ok_or_else(|| format!("too large: {text}"))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("tus-load: some answers were wrong (see above)");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("tus-load: {error}");
            std::process::exit(2);
        }
    }
}

/// The harness's state during a run: what to run and what was measured.
struct Harness<'a> {
    args: &'a Args,
    log: ServerLog,
    report: Report,
    all_right: bool,
    /// Directories of many small files on a disk, removed after a rep's
    /// small runs (see [`Harness::small`]), or when the harness ends.
    leftovers: Vec<PathBuf>,
    /// When disk leftovers were last removed.
    removed_at: Option<Instant>,
    /// Per small-upload directory: whether it is a tmpfs.
    small_on_tmpfs: Vec<bool>,
}

impl Drop for Harness<'_> {
    fn drop(&mut self) {
        for dir in self.leftovers.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs everything and prints the tables; `Ok(false)` if an answer was wrong.
async fn run(args: &Args) -> Result<bool, Error> {
    if let Some(cpu) = args.harness_cpu {
        pin_self(cpu).await?;
    }
    let load_at_start = load_average();
    let wants = |name: &str| args.scenarios.iter().any(|s| s == name);
    let paths = Paths::detect(args.server_bin.clone());
    let mut specs = vec![Spec::ours(&paths)?];
    if args.no_fsync {
        specs.push(Spec::ours_with(
            &paths,
            "tus-rs (tus-axum --sync never)",
            &["--sync", "never"],
        )?);
    }
    for variant in &args.variant {
        let (label, flags) = variant
            .split_once('=')
            .ok_or_else(|| format!("--variant {variant:?}: expected LABEL=FLAGS"))?;
        let flags: Vec<&str> = flags.split_whitespace().collect();
        let mut spec = Spec::ours_with(&paths, &format!("tus-rs ({label})"), &flags)?;
        spec.variant = true;
        specs.push(spec);
    }
    for peer in &args.peers {
        let kind = match peer.as_str() {
            "node" => Kind::Node,
            "rustus" => Kind::Rustus,
            other => return Err(format!("unknown peer {other} (node, rustus)").into()),
        };
        if let Some(spec) = Spec::peer(kind, &paths, args.install_peers).await {
            specs.push(spec);
        }
    }
    let s3 = match (&args.s3_bucket, wants("s3")) {
        (Some(bucket), true) => Some(S3Target {
            bucket: bucket.clone(),
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            prefix: args.s3_prefix.clone(),
        }),
        _ => None,
    };
    let small_dirs = if args.small_dirs.is_empty() {
        vec![args.dir.clone()]
    } else {
        args.small_dirs.clone()
    };
    let mut harness = Harness {
        args,
        log: ServerLog {
            filter: args.server_log.clone(),
            file: args.server_log_file.clone(),
        },
        report: Report::new(&specs, &small_dirs, &args.s3_chunks),
        all_right: true,
        leftovers: Vec::new(),
        removed_at: None,
        small_on_tmpfs: Vec::new(),
    };
    for dir in &small_dirs {
        harness.small_on_tmpfs.push(fs_type(dir).await == "tmpfs");
    }
    let fs_source = if wants("single") || wants("chunked") || wants("raw") {
        Some(source_file(args.dir.join(format!("source-{}.bin", args.size)), args.size).await?)
    } else {
        None
    };
    let s3_source = match &s3 {
        Some(_) => Some(source_file(args.dir.join(format!("source-{}.bin", args.s3_size)), args.s3_size).await?),
        None => None,
    };
    let s3_client = match &s3 {
        Some(target) => Some(target.client().await?),
        None => None,
    };
    let ours_s3 = match &s3 {
        Some(_) => Some(Spec::ours_with(&paths, "tus-rs (tus-axum, S3 store)", &[])?),
        None => None,
    };
    for rep in 0..args.reps {
        if let Some(source) = &fs_source {
            if wants("raw") {
                harness.raw(rep, source).await?;
            }
            for index in rotated(specs.len(), rep) {
                harness.filesystem(rep, index, &specs[index], source, &wants).await?;
            }
        }
        if wants("small") {
            for (dir_index, dir) in small_dirs.iter().enumerate() {
                for index in rotated(specs.len(), rep) {
                    harness.small(rep, dir_index, dir, index, &specs[index]).await?;
                }
            }
            harness.remove_leftovers().await;
        }
        if let (Some(target), Some(source), Some(client), Some(spec)) = (&s3, &s3_source, &s3_client, &ours_s3) {
            harness.s3(rep, target, client, spec, source).await?;
        }
    }
    harness
        .report
        .print(&ReportContext::new(args, &small_dirs, load_at_start).await);
    Ok(harness.all_right)
}

/// The indices `0..n`, starting at `rep % n`: each rep runs the servers in
/// another order, so none is always the first after a pause or the last
/// after everyone's writes.
fn rotated(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| (rep + k) % n.max(1))
}

/// What the tables' captions say about the run.
pub(crate) struct ReportContext {
    pub(crate) reps: usize,
    pub(crate) size: u64,
    pub(crate) chunk: u64,
    pub(crate) dir: String,
    pub(crate) small_size: u64,
    pub(crate) connections: usize,
    pub(crate) small_secs: f64,
    pub(crate) small_warmup: f64,
    pub(crate) small_dirs: Vec<String>,
    pub(crate) s3_size: u64,
    pub(crate) s3_endpoint: Option<String>,
    pub(crate) pinning: String,
    /// The machine: cores, load average at the start and the end, memory warming.
    pub(crate) machine: String,
}

impl ReportContext {
    async fn new(args: &Args, small_dirs: &[PathBuf], load_at_start: Option<f64>) -> Self {
        let mut labels = Vec::new();
        for dir in small_dirs {
            labels.push(format!("`{}` ({})", dir.display(), fs_type(dir).await));
        }
        let pinning = match (args.server_cpu, args.harness_cpu) {
            (None, None) => "not pinned".to_owned(),
            (server, harness) => format!(
                "servers on CPU {}, harness on CPU {}",
                server.map_or_else(|| "any".to_owned(), |c| c.to_string()),
                harness.map_or_else(|| "any".to_owned(), |c| c.to_string())
            ),
        };
        let load = |value: Option<f64>| value.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"));
        let machine = format!(
            "{} CPUs, load average (1 min) {} at the start and {} at the end; {}",
            std::thread::available_parallelism().map_or(0, usize::from),
            load(load_at_start),
            load(load_average()),
            if args.cold {
                "memory not warmed (`--cold`)"
            } else {
                "memory warmed before each run"
            }
        );
        Self {
            machine,
            reps: args.reps,
            size: args.size,
            chunk: args.chunk,
            dir: format!("`{}` ({})", args.dir.display(), fs_type(&args.dir).await),
            small_size: args.small_size,
            connections: args.connections,
            small_secs: args.small_secs,
            small_warmup: args.small_warmup,
            small_dirs: labels,
            s3_size: args.s3_size,
            s3_endpoint: args.s3_endpoint.clone(),
            pinning,
        }
    }
}

impl Harness<'_> {
    async fn raw(&mut self, rep: usize, source: &std::path::Path) -> Result<(), Error> {
        let args = self.args;
        for (how, label) in [
            (RawWrite::PageCache, "dd bs=1M (page cache)"),
            (RawWrite::Fdatasync, "dd bs=1M conv=fdatasync"),
        ] {
            self.settle(args.size).await;
            let speed = raw_write(source, &args.dir.join("raw"), args.size, how).await?;
            eprintln!("rep {rep}: {label} {}", mb(speed));
            match how {
                RawWrite::PageCache => self.report.raw_cache.push(speed),
                RawWrite::Fdatasync => self.report.raw_sync.push(speed),
            }
        }
        self.settle(args.size).await;
        let speed = socket_to_file(source, &args.dir.join("raw"), args.size).await?;
        eprintln!("rep {rep}: sendfile -> recv + write (no HTTP) {}", mb(speed));
        self.report.raw_socket.push(speed);
        Ok(())
    }

    async fn filesystem(
        &mut self,
        rep: usize,
        index: usize,
        spec: &Spec,
        source: &std::path::Path,
        wants: &impl Fn(&str) -> bool,
    ) -> Result<(), Error> {
        let args = self.args;
        // Room for the whole body (rustus buffers it) plus headers.
        let max_body = args.size + (1 << 20);
        for (name, chunk) in [("single", None), ("chunked", Some(args.chunk))] {
            if !wants(name) {
                continue;
            }
            let dir = args.dir.join(format!("run-{rep}-{index}-{}-{name}", spec.kind_slug()));
            let _ = std::fs::remove_dir_all(&dir);
            let server = spec.start(&dir, args.server_cpu, max_body, &[], &self.log).await?;
            self.settle(args.size).await;
            let outcome = large_upload(&server, source, args.size, chunk, args.verify).await;
            server.stop().await;
            let _ = std::fs::remove_dir_all(&dir);
            let into = match chunk {
                None => &mut self.report.servers[index].single,
                Some(_) => &mut self.report.servers[index].chunked,
            };
            self.all_right &= record(&format!("rep {rep}: {} {name}", spec.name), outcome, into);
        }
        Ok(())
    }

    async fn small(
        &mut self,
        rep: usize,
        dir_index: usize,
        dir: &std::path::Path,
        index: usize,
        spec: &Spec,
    ) -> Result<(), Error> {
        let args = self.args;
        // On a disk, the files of the small runs stay until all of this rep's
        // small runs are done, and the next small run on a disk starts at
        // least `FORGET_DELETED` after they were removed: on ext4 without a
        // journal (this project's CI machines), inodes deleted in the last
        // 60 s (300 s while their inode table block is dirty) are skipped,
        // one by one, by every file creation in the same block group, so
        // deleting one run's 100,000 files right before the next run slowed
        // its creations from ~15 µs to milliseconds (`recently_deleted` in
        // fs/ext4/ialloc.c). A tmpfs has no such memory: its files go at once
        // (they hold RAM). The probe shows what creating a file costs now.
        let on_tmpfs = self.small_on_tmpfs.get(dir_index).copied().unwrap_or(false);
        if !on_tmpfs {
            self.wait_for_forgotten_inodes().await;
        }
        let run_dir = dir.join(format!("run-{rep}-{index}-{}-small", spec.kind_slug()));
        let probe_dir = dir.join(format!("probe-{rep}-{index}"));
        let _ = std::fs::remove_dir_all(&run_dir);
        let _ = std::fs::remove_dir_all(&probe_dir);
        self.leftovers.push(run_dir.clone());
        self.leftovers.push(probe_dir.clone());
        let probe = create_probe(&probe_dir).await?;
        let server = spec.start(&run_dir, args.server_cpu, 1 << 20, &[], &self.log).await?;
        self.settle(SMALL_WARM_BYTES).await;
        let outcome = small_uploads(
            &server,
            args.connections,
            usize::try_from(args.small_size)?,
            Duration::from_secs_f64(args.small_warmup),
            Duration::from_secs_f64(args.small_secs),
        )
        .await;
        server.stop().await;
        if on_tmpfs {
            for dir in [&run_dir, &probe_dir] {
                let _ = std::fs::remove_dir_all(dir);
            }
            self.leftovers.retain(|left| left != &run_dir && left != &probe_dir);
        }
        let result = outcome?;
        eprintln!(
            "rep {rep}: {} small in {}: {:.0}/s ({} ok, {} wrong, peak RSS {}; creating a file took {:.0} µs before)",
            spec.name,
            dir.display(),
            result.per_sec,
            result.ok,
            result.bad,
            mib(result.peak_rss),
            probe * 1e6
        );
        if result.bad > 0 || result.ok == 0 {
            self.all_right = false;
        }
        let series: &mut SmallSeries = &mut self.report.servers[index].small[dir_index];
        series.per_sec.push(result.per_sec);
        series.probe.push(probe);
        series.rss.extend(result.peak_rss);
        Ok(())
    }

    async fn s3(
        &mut self,
        rep: usize,
        target: &S3Target,
        client: &aws_sdk_s3::Client,
        spec: &Spec,
        source: &std::path::Path,
    ) -> Result<(), Error> {
        let args = self.args;
        let key = format!("{}direct-{rep}", target.prefix);
        self.settle(args.s3_size).await;
        let direct = s3::direct_multipart(
            client,
            &target.bucket,
            &key,
            source,
            args.s3_size,
            S3_PART_SIZE,
            S3_PARTS_IN_FLIGHT,
        );
        // Bounded like every run: an S3 server that stops answering fails it.
        let direct = tokio::time::timeout(S3_CALLS_TIMEOUT, direct)
            .await
            .map_err(|_| "the direct multipart upload did not finish in time")??;
        eprintln!("rep {rep}: S3 direct multipart {}", mb(direct));
        self.report.s3.direct.push(direct);
        let chunks: Vec<Option<u64>> = std::iter::once(None)
            .chain(args.s3_chunks.iter().copied().map(Some))
            .collect();
        for (index, chunk) in chunks.into_iter().enumerate() {
            let prefix = format!("{}run-{rep}-{index}/", target.prefix);
            let dir = args.dir.join(format!("run-{rep}-s3-{index}"));
            let per_run = target.server_args(&prefix);
            let server = spec
                .start(&dir, args.server_cpu, args.s3_size, &per_run, &self.log)
                .await?;
            self.settle(args.s3_size).await;
            let outcome = large_upload(&server, source, args.s3_size, chunk, args.verify).await;
            server.stop().await;
            let _ = std::fs::remove_dir_all(&dir);
            tokio::time::timeout(S3_CALLS_TIMEOUT, s3::clean(client, &target.bucket, &prefix))
                .await
                .map_err(|_| "cleaning the S3 prefix did not finish in time")??;
            let label = match chunk {
                None => "one PATCH".to_owned(),
                Some(chunk) => format!("{} KiB PATCHes", chunk >> 10),
            };
            let into = match chunk {
                None => &mut self.report.s3.single,
                Some(_) => &mut self.report.s3.chunked[index - 1],
            };
            self.all_right &= record(&format!("rep {rep}: S3 {label}"), outcome, into);
        }
        Ok(())
    }
}

/// Adds a large upload's result to `into` and logs it; `false` if it failed.
fn record(label: &str, outcome: Result<scenarios::Throughput, Error>, into: &mut Series) -> bool {
    match outcome {
        Ok(result) => {
            eprintln!(
                "{label}: {} (peak RSS {})",
                mb(result.bytes_per_sec),
                mib(result.peak_rss)
            );
            into.values.push(result.bytes_per_sec);
            into.rss.extend(result.peak_rss);
            true
        }
        Err(error) => {
            eprintln!("{label}: FAILED: {error}");
            false
        }
    }
}

impl Spec {
    fn kind_slug(&self) -> &'static str {
        match self.kind {
            Kind::Ours => "ours",
            Kind::Node => "node",
            Kind::Rustus => "rustus",
        }
    }
}

/// Pins this process (all its threads) to `cpu` with `taskset`.
async fn pin_self(cpu: usize) -> Result<(), Error> {
    let status = tokio::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .await?;
    if !status.success() {
        return Err(format!("taskset could not pin the harness to CPU {cpu}").into());
    }
    Ok(())
}

/// The 1-minute load average (`/proc/loadavg`), where there is one.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Seconds per file creation in a fresh directory `dir` (200 empty files,
/// kept: deleting them would slow the next creations, see [`Harness::small`]).
async fn create_probe(dir: &std::path::Path) -> Result<f64, Error> {
    const FILES: u32 = 200;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<f64, Error> {
        std::fs::create_dir_all(&dir)?;
        let started = Instant::now();
        for index in 0..FILES {
            std::fs::File::create_new(dir.join(format!("probe-{index}")))?;
        }
        Ok(started.elapsed().as_secs_f64() / f64::from(FILES))
    })
    .await?
}

/// Flushes dirty pages so one run's writeback does not land in the next.
async fn settle() {
    let _ = tokio::process::Command::new("sync").status().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Touches `bytes` of fresh memory and frees it, so the next run's writes
/// into the page cache find warm free pages.
///
/// On a VM whose balloon reports free pages to the host (virtio-balloon
/// free page reporting, as on this project's CI machines), memory freed for
/// more than about two seconds is handed back to the host, and the next
/// guest to touch it pays a host page fault per page: `dd` into the page
/// cache then runs at 0.3-0.5 GB/s instead of 2-3 GB/s. Whichever writer
/// comes first after a pause would pay that, so every run is preceded by
/// this, which bare metal does not need and does not mind.
fn warm_memory(bytes: u64) {
    let Ok(len) = usize::try_from(bytes) else { return };
    // Non-zero, so the allocation is filled (every page touched) rather
    // than mapped lazily as zeroes.
    let buffer = vec![1u8; len];
    std::hint::black_box(&buffer);
}

impl Harness<'_> {
    /// Removes the small runs' files on disks, and flushes, so their inode
    /// table blocks are clean and ext4 forgets them after 60 s.
    async fn remove_leftovers(&mut self) {
        if self.leftovers.is_empty() {
            return;
        }
        let dirs = std::mem::take(&mut self.leftovers);
        let _ = tokio::task::spawn_blocking(move || {
            for dir in dirs {
                let _ = std::fs::remove_dir_all(dir);
            }
        })
        .await;
        settle().await;
        self.removed_at = Some(Instant::now());
    }

    /// Waits (bounded by [`FORGET_DELETED`]) until the last removal of many
    /// files is old enough not to slow file creation on ext4 without a journal.
    async fn wait_for_forgotten_inodes(&self) {
        let Some(removed_at) = self.removed_at else { return };
        let left = FORGET_DELETED.saturating_sub(removed_at.elapsed());
        if !left.is_zero() {
            eprintln!(
                "waiting {:.0} s for the file system to forget the inodes just deleted",
                left.as_secs_f64()
            );
            tokio::time::sleep(left).await;
        }
    }

    /// [`settle`], then (unless `--cold`) [`warm_memory`] for a run that
    /// writes about `bytes`: the last thing before the run starts.
    async fn settle(&self, bytes: u64) {
        settle().await;
        if !self.args.cold {
            let bytes = bytes + (256 << 20);
            let _ = tokio::task::spawn_blocking(move || warm_memory(bytes)).await;
        }
    }
}

/// The filesystem type of `dir` (`findmnt`, else `stat -f`), or `?`.
async fn fs_type(dir: &std::path::Path) -> String {
    let _ = std::fs::create_dir_all(dir);
    let run = |program: &str, args: &[&str]| {
        let mut command = tokio::process::Command::new(program);
        command.args(args).arg(dir);
        async move {
            command
                .output()
                .await
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned))
                .map(|kind| kind.trim().to_owned())
                .filter(|kind| !kind.is_empty())
        }
    };
    match run("findmnt", &["-n", "-o", "FSTYPE", "-T"]).await {
        Some(kind) => kind,
        None => run("stat", &["-f", "-c", "%T"]).await.unwrap_or_else(|| "?".to_owned()),
    }
}

pub(crate) fn mb(bytes_per_sec: f64) -> String {
    format!("{:.0} MB/s", bytes_per_sec / 1e6)
}

pub(crate) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".to_owned(), |b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64))
}
