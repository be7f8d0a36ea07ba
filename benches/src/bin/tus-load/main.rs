//! `tus-load`: starts tus servers on loopback and measures them.
//!
//! ```text
//! tus-load [--size 2G] [--chunk 8M] [--reps 3] [--small-secs 10] [--connections 32] [--small-size 4K]
//!          [--dir /tmp/tus-load] [--peers node,rustus] [--install-peers] [--server-cpu 0]
//!          [--scenarios single,chunked,raw,small] [--verify] [--no-fsync] [--server-bin PATH]
//! ```
//!
//! Runs, per repetition and per server (each on a fresh process and a fresh
//! directory under `--dir`): one upload of `--size` random bytes as a single
//! PATCH and as `--chunk` PATCHes (MB/s, server peak RSS from `VmHWM`); a raw
//! `dd conv=fdatasync` of the same bytes into the same directory; and
//! `--connections` connections doing creation-with-upload of `--small-size`
//! bytes for `--small-secs` seconds (uploads/s; only 201 with the right
//! `Upload-Offset` counts). Prints a Markdown table of medians. Exits non-zero
//! if any answer was wrong, so a short run doubles as a smoke test.

mod client;
mod scenarios;
mod sendfile;
mod servers;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::client::Error;
use crate::scenarios::{SmallUploads, Throughput, large_upload, raw_write, small_uploads, source_file};
use crate::servers::{Kind, Paths, Spec};

#[derive(Debug, Parser)]
#[command(name = "tus-load", about = "Load harness: tus-rs and peer tus servers on loopback")]
struct Args {
    /// Size of the large upload (suffixes K, M, G are powers of 1024).
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    size: u64,
    /// PATCH size of the chunked large upload.
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    chunk: u64,
    /// Repetitions; the table shows medians.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Seconds of small uploads.
    #[arg(long, default_value_t = 10.0)]
    small_secs: f64,
    /// Connections for small uploads.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Size of each small upload.
    #[arg(long, default_value = "4K", value_parser = parse_size)]
    small_size: u64,
    /// Working directory: the source file and every server's uploads go here
    /// (put it on the disk or tmpfs you want to measure).
    #[arg(long, default_value = "/tmp/tus-load")]
    dir: PathBuf,
    /// Peers to compare with: `node` (@tus/server + @tus/file-store), `rustus`.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Also run our server with `--sync never` (no fsync, like the peers).
    #[arg(long)]
    no_fsync: bool,
    /// Install missing peers (npm ci in benches/peers; cargo install rustus).
    #[arg(long)]
    install_peers: bool,
    /// Pin servers to this CPU (`taskset -c`); pin the harness elsewhere yourself.
    #[arg(long)]
    server_cpu: Option<usize>,
    /// Which runs: single, chunked, raw, small.
    #[arg(long, value_delimiter = ',', default_value = "single,chunked,raw,small")]
    scenarios: Vec<String>,
    /// Download each large upload and compare it with the source.
    #[arg(long)]
    verify: bool,
    /// The tus-axum binary (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
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

/// Every repetition's result for one server.
#[derive(Debug, Default)]
struct Results {
    single: Vec<Throughput>,
    chunked: Vec<Throughput>,
    small: Vec<SmallUploads>,
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

/// Runs everything and prints the table; `Ok(false)` if an answer was wrong.
async fn run(args: &Args) -> Result<bool, Error> {
    let wants = |name: &str| args.scenarios.iter().any(|s| s == name);
    let paths = Paths::detect(args.server_bin.clone());
    let mut specs = vec![Spec::ours(&paths)?];
    if args.no_fsync {
        specs.push(Spec::ours_without_fsync(&paths)?);
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
    let source = if wants("single") || wants("chunked") || wants("raw") {
        Some(source_file(args.dir.join(format!("source-{}.bin", args.size)), args.size).await?)
    } else {
        None
    };
    // Room for the whole body (rustus buffers it) plus headers.
    let max_body = args.size + (1 << 20);
    let mut results: Vec<Results> = specs.iter().map(|_| Results::default()).collect();
    let mut raw = Vec::new();
    let mut all_right = true;
    for rep in 0..args.reps {
        if let Some(source) = &source {
            if wants("raw") {
                settle().await;
                let speed = raw_write(source, &args.dir.join("raw"), args.size).await?;
                eprintln!("rep {rep}: raw dd conv=fdatasync {}", mb(speed));
                raw.push(speed);
            }
            for (index, (spec, results)) in specs.iter().zip(&mut results).enumerate() {
                for (name, chunk, into) in [
                    ("single", None, &mut results.single),
                    ("chunked", Some(args.chunk), &mut results.chunked),
                ] {
                    if !wants(name) {
                        continue;
                    }
                    let dir = args.dir.join(format!("run-{rep}-{index}-{}-{name}", spec.kind_slug()));
                    settle().await;
                    let server = spec.start(&dir, args.server_cpu, max_body).await?;
                    let outcome = large_upload(&server, source, args.size, chunk, args.verify).await;
                    server.stop().await;
                    let _ = std::fs::remove_dir_all(&dir);
                    match outcome {
                        Ok(result) => {
                            eprintln!(
                                "rep {rep}: {} {name}: {} (peak RSS {})",
                                spec.name,
                                mb(result.bytes_per_sec),
                                mib(result.peak_rss)
                            );
                            into.push(result);
                        }
                        Err(error) => {
                            eprintln!("rep {rep}: {} {name}: FAILED: {error}", spec.name);
                            all_right = false;
                        }
                    }
                }
            }
        }
        if wants("small") {
            for (index, (spec, results)) in specs.iter().zip(&mut results).enumerate() {
                let dir = args.dir.join(format!("run-{rep}-{index}-{}-small", spec.kind_slug()));
                settle().await;
                let server = spec.start(&dir, args.server_cpu, max_body).await?;
                let outcome = small_uploads(
                    &server,
                    args.connections,
                    args.small_size as usize,
                    Duration::from_secs_f64(args.small_secs),
                )
                .await;
                server.stop().await;
                let _ = std::fs::remove_dir_all(&dir);
                let result = outcome?;
                eprintln!(
                    "rep {rep}: {} small: {:.0}/s ({} ok, {} wrong, peak RSS {})",
                    spec.name,
                    result.per_sec,
                    result.ok,
                    result.bad,
                    mib(result.peak_rss)
                );
                if result.bad > 0 || result.ok == 0 {
                    all_right = false;
                }
                results.small.push(result);
            }
        }
    }
    print_table(args, &specs, &results, &raw).await;
    Ok(all_right)
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

/// Flushes dirty pages so one run's writeback does not land in the next.
async fn settle() {
    let _ = tokio::process::Command::new("sync").status().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

fn mb(bytes_per_sec: f64) -> String {
    format!("{:.0} MB/s", bytes_per_sec / 1e6)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".to_owned(), |b| format!("{:.0} MiB", b as f64 / (1 << 20) as f64))
}

/// `median (all values)` of a throughput column, and the highest peak RSS.
fn column(values: &[Throughput]) -> (Option<f64>, String, String) {
    let mut speeds: Vec<f64> = values.iter().map(|t| t.bytes_per_sec).collect();
    let all = speeds
        .iter()
        .map(|s| format!("{:.0}", s / 1e6))
        .collect::<Vec<_>>()
        .join(", ");
    let median = median(&mut speeds);
    let peak = values.iter().filter_map(|t| t.peak_rss).max();
    let cell = median.map_or_else(|| "-".to_owned(), |m| format!("{} ({all})", mb(m)));
    (median, cell, if values.is_empty() { "-".to_owned() } else { mib(peak) })
}

async fn print_table(args: &Args, specs: &[Spec], results: &[Results], raw: &[f64]) {
    let fs_type = tokio::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&args.dir)
        .output()
        .await
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let size = format!("{} MiB", args.size >> 20);
    println!();
    println!(
        "{} reps, medians (all reps in parentheses); {size} upload, {} KiB PATCHes, dir {} ({fs_type}); small: {} B uploads, {} connections, {} s",
        args.reps,
        args.chunk >> 10,
        args.dir.display(),
        args.small_size,
        args.connections,
        args.small_secs
    );
    println!();
    println!(
        "| server | {size} in one PATCH | peak RSS | in {} KiB PATCHes | peak RSS | {} B creation-with-upload /s | peak RSS |",
        args.chunk >> 10,
        args.small_size
    );
    println!("|---|---|---|---|---|---|---|");
    let mut raw_values = raw.to_vec();
    let raw_median = median(&mut raw_values);
    if let Some(raw_median) = raw_median {
        let all = raw
            .iter()
            .map(|s| format!("{:.0}", s / 1e6))
            .collect::<Vec<_>>()
            .join(", ");
        let cell = format!("{} ({all})", mb(raw_median));
        println!("| raw `dd bs=1M conv=fdatasync`, same dir | {cell} | - | {cell} | - | - | - |");
    }
    let mut small_medians = Vec::new();
    for (spec, result) in specs.iter().zip(results) {
        let (single, single_cell, single_rss) = column(&result.single);
        let (chunked, chunked_cell, chunked_rss) = column(&result.chunked);
        let mut per_sec: Vec<f64> = result.small.iter().map(|s| s.per_sec).collect();
        let all = per_sec.iter().map(|s| format!("{s:.0}")).collect::<Vec<_>>().join(", ");
        let small = median(&mut per_sec);
        small_medians.push(small);
        let small_cell = small.map_or_else(|| "-".to_owned(), |m| format!("{m:.0} ({all})"));
        let small_rss = result.small.iter().filter_map(|s| s.peak_rss).max();
        let ratio = |value: Option<f64>| match (value, raw_median) {
            (Some(value), Some(raw)) => format!(", {:.2}x raw", value / raw),
            _ => String::new(),
        };
        println!(
            "| {} | {single_cell}{} | {single_rss} | {chunked_cell}{} | {chunked_rss} | {small_cell} | {} |",
            spec.name,
            ratio(single),
            ratio(chunked),
            if result.small.is_empty() {
                "-".to_owned()
            } else {
                mib(small_rss)
            },
        );
    }
    let best_peer = specs
        .iter()
        .zip(&small_medians)
        .filter(|(spec, _)| spec.kind != Kind::Ours)
        .filter_map(|(_, median)| *median)
        .fold(None, |best: Option<f64>, v| Some(best.map_or(v, |b| b.max(v))));
    if let (Some(Some(ours)), Some(peer)) = (small_medians.first(), best_peer) {
        println!();
        println!("small uploads: tus-rs / fastest peer = {:.2}x", ours / peer);
    }
}
