//! What a run measured, and the Markdown it prints: one table per kind of
//! run, then the targets of issue 14 with this run's ratios.

use std::fmt::Write as _;

use crate::servers::{Kind, Spec};
use crate::{ReportContext, mb};

/// One measured quantity over the reps (bytes/s), with the server's peak RSS.
#[derive(Debug, Default)]
pub(crate) struct Series {
    pub(crate) values: Vec<f64>,
    pub(crate) rss: Vec<u64>,
}

/// Small uploads per second over the reps, in one directory.
#[derive(Debug, Default)]
pub(crate) struct SmallSeries {
    pub(crate) per_sec: Vec<f64>,
    pub(crate) rss: Vec<u64>,
    /// Seconds one file creation took in the directory just before each rep.
    pub(crate) probe: Vec<f64>,
}

/// Which server a row is, for the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// tus-rs with its default durability (fsync before answering).
    Ours,
    /// tus-rs with `--sync never`.
    OursNoFsync,
    /// A peer server (neither fsyncs).
    Peer,
    /// tus-rs with experimental flags (`--variant`).
    Variant,
}

/// One server's results.
#[derive(Debug)]
pub(crate) struct ServerResults {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Rustus, for the target stated against it.
    pub(crate) is_rustus: bool,
    pub(crate) single: Series,
    pub(crate) chunked: Series,
    /// One per small-upload directory.
    pub(crate) small: Vec<SmallSeries>,
}

/// The S3 runs' results.
#[derive(Debug, Default)]
pub(crate) struct S3Results {
    pub(crate) direct: Vec<f64>,
    pub(crate) single: Series,
    /// PATCH size and results, in the order of `--s3-chunks`.
    pub(crate) chunk_sizes: Vec<u64>,
    pub(crate) chunked: Vec<Series>,
}

/// Everything a run measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) raw_cache: Vec<f64>,
    pub(crate) raw_sync: Vec<f64>,
    /// The plain socket-to-file receiver (no HTTP).
    pub(crate) raw_socket: Vec<f64>,
    pub(crate) servers: Vec<ServerResults>,
    pub(crate) s3: S3Results,
}

/// A target and how this run measured against it.
struct Target {
    what: String,
    measured: Option<(f64, String)>,
    threshold: f64,
}

impl Report {
    /// An empty report for these servers, small-upload directories and S3 PATCH sizes.
    pub(crate) fn new(specs: &[Spec], small_dirs: &[std::path::PathBuf], s3_chunks: &[u64]) -> Self {
        let servers = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| ServerResults {
                name: spec.name.clone(),
                role: match (spec.kind, index) {
                    _ if spec.variant => Role::Variant,
                    (Kind::Ours, 0) => Role::Ours,
                    (Kind::Ours, _) => Role::OursNoFsync,
                    _ => Role::Peer,
                },
                is_rustus: spec.kind == Kind::Rustus,
                single: Series::default(),
                chunked: Series::default(),
                small: small_dirs.iter().map(|_| SmallSeries::default()).collect(),
            })
            .collect();
        Self {
            raw_cache: Vec::new(),
            raw_sync: Vec::new(),
            raw_socket: Vec::new(),
            servers,
            s3: S3Results {
                chunk_sizes: s3_chunks.to_vec(),
                chunked: s3_chunks.iter().map(|_| Series::default()).collect(),
                ..S3Results::default()
            },
        }
    }

    /// Prints every table that has data, then the targets.
    pub(crate) fn print(&self, cx: &ReportContext) {
        let mut out = String::new();
        let _ = writeln!(out, "\nMachine: {}.", cx.machine);
        self.filesystem_table(cx, &mut out);
        self.small_table(cx, &mut out);
        self.s3_table(cx, &mut out);
        self.targets_table(cx, &mut out);
        println!("{out}");
    }

    fn filesystem_table(&self, cx: &ReportContext, out: &mut String) {
        let any = !self.raw_cache.is_empty()
            || self
                .servers
                .iter()
                .any(|s| !s.single.values.is_empty() || !s.chunked.values.is_empty());
        if !any {
            return;
        }
        let size = format!("{} MiB", cx.size >> 20);
        let _ = writeln!(
            out,
            "\n**Filesystem**: {size} of random bytes into {}, on one keep-alive connection; MB/s = 10^6 bytes/s from the POST to the last answer; medians of {} reps (every rep in parentheses); {}.\n",
            cx.dir, cx.reps, cx.pinning
        );
        let _ = writeln!(
            out,
            "| writer | {size} in one PATCH | in {} PATCHes | server peak RSS |",
            size_label(cx.chunk)
        );
        let _ = writeln!(out, "|---|---|---|---|");
        let cache = median(&self.raw_cache);
        let sync = median(&self.raw_sync);
        for (label, values) in [
            ("`dd bs=1M` into the page cache (no flush), same dir", &self.raw_cache),
            ("`dd bs=1M conv=fdatasync`, same dir", &self.raw_sync),
            (
                "no HTTP: `sendfile` over loopback to a `recv` (1 MiB) + `write` loop, same dir",
                &self.raw_socket,
            ),
        ] {
            if values.is_empty() {
                continue;
            }
            let cell = speed_cell(values);
            let _ = writeln!(out, "| {label} | {cell} | {cell} | - |");
        }
        for server in &self.servers {
            let ratios = |values: &[f64]| {
                let Some(value) = median(values) else {
                    return String::new();
                };
                let mut text = String::new();
                if let Some(cache) = cache {
                    let _ = write!(text, ", {:.2}x cache dd", value / cache);
                }
                if let Some(sync) = sync {
                    let _ = write!(text, ", {:.2}x fdatasync dd", value / sync);
                }
                text
            };
            let rss = self.peak(&[&server.single.rss, &server.chunked.rss]);
            let _ = writeln!(
                out,
                "| {} | {}{} | {}{} | {rss} |",
                server.name,
                speed_cell(&server.single.values),
                ratios(&server.single.values),
                speed_cell(&server.chunked.values),
                ratios(&server.chunked.values),
            );
        }
    }

    fn small_table(&self, cx: &ReportContext, out: &mut String) {
        if !self
            .servers
            .iter()
            .any(|s| s.small.iter().any(|d| !d.per_sec.is_empty()))
        {
            return;
        }
        let _ = writeln!(
            out,
            "\n**Small uploads**: {} B creation-with-upload on {} keep-alive connections, {} s measured after a {} s warm-up, each rep on a fresh server and a fresh directory; uploads/s (only 201 with the right offset counts), median of {} reps [lowest - highest]; {}.\n",
            cx.small_size, cx.connections, cx.small_secs, cx.small_warmup, cx.reps, cx.pinning
        );
        let mut head = "| server |".to_owned();
        let mut rule = "|---|".to_owned();
        for dir in &cx.small_dirs {
            let _ = write!(head, " {dir} | peak RSS |");
            rule.push_str("---|---|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        let mut probe_row = "| creating an empty file just before each run: µs, median [lowest - highest] |".to_owned();
        for index in 0..cx.small_dirs.len() {
            let probes: Vec<f64> = self
                .servers
                .iter()
                .flat_map(|s| s.small[index].probe.iter().map(|p| p * 1e6))
                .collect();
            let _ = write!(probe_row, " {} | - |", spread_cell(&probes));
        }
        for server in &self.servers {
            let mut row = format!("| {} |", server.name);
            for (index, series) in server.small.iter().enumerate() {
                let mut cell = spread_cell(&series.per_sec);
                if server.role != Role::Peer
                    && let (Some(ours), Some(peer)) = (median(&series.per_sec), self.best_small_peer(index))
                {
                    let _ = write!(cell, ", {:.2}x best peer", ours / peer);
                }
                let _ = write!(row, " {cell} | {} |", self.peak(&[&series.rss]));
            }
            let _ = writeln!(out, "{row}");
        }
        let _ = writeln!(out, "{probe_row}");
    }

    fn s3_table(&self, cx: &ReportContext, out: &mut String) {
        if self.s3.direct.is_empty() {
            return;
        }
        let endpoint = cx.s3_endpoint.as_deref().unwrap_or("AWS");
        let _ = writeln!(
            out,
            "\n**S3** ({endpoint}): {} MiB of random bytes; the direct upload is one multipart upload with aws-sdk-s3 (8 MiB parts, 4 in flight, as the store uploads them); tus-rs runs `tus-axum` on the S3 store (default part size 8 MiB); MB/s from the first request to the last answer, medians of {} reps (every rep in parentheses).\n",
            cx.s3_size >> 20,
            cx.reps
        );
        let _ = writeln!(out, "| upload | MB/s | x direct | server peak RSS |");
        let _ = writeln!(out, "|---|---|---|---|");
        let direct = median(&self.s3.direct);
        let _ = writeln!(
            out,
            "| direct multipart upload (aws-sdk-s3) | {} | 1.00x | - |",
            speed_cell(&self.s3.direct)
        );
        let rows = std::iter::once(("tus-rs, one PATCH".to_owned(), &self.s3.single)).chain(
            self.s3
                .chunk_sizes
                .iter()
                .zip(&self.s3.chunked)
                .map(|(size, series)| (format!("tus-rs, {} PATCHes", size_label(*size)), series)),
        );
        for (label, series) in rows {
            let ratio = match (median(&series.values), direct) {
                (Some(value), Some(direct)) => format!("{:.2}x", value / direct),
                _ => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {label} | {} | {ratio} | {} |",
                speed_cell(&series.values),
                self.peak(&[&series.rss])
            );
        }
    }

    fn targets_table(&self, cx: &ReportContext, out: &mut String) {
        let targets = self.targets(cx);
        if targets.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n**Targets** (issue 14), from the medians above:\n");
        let _ = writeln!(out, "| target | this run | holds |");
        let _ = writeln!(out, "|---|---|---|");
        for target in targets {
            let (measured, holds) = match &target.measured {
                Some((ratio, detail)) => (
                    format!("{ratio:.2}x ({detail})"),
                    if *ratio >= target.threshold { "yes" } else { "**no**" },
                ),
                None => ("not measured".to_owned(), "-"),
            };
            let _ = writeln!(out, "| {} | {measured} | {holds} |", target.what);
        }
    }

    fn targets(&self, cx: &ReportContext) -> Vec<Target> {
        let mut targets = Vec::new();
        let ratio = |ours: Option<f64>, base: Option<f64>, unit: &str| -> Option<(f64, String)> {
            match (ours, base) {
                (Some(ours), Some(base)) if base > 0.0 => {
                    Some((ours / base, format!("{} / {}", fmt(ours, unit), fmt(base, unit))))
                }
                _ => None,
            }
        };
        let direct = median(&self.s3.direct);
        if direct.is_some() {
            for (size, threshold) in [(1u64 << 20, 0.5), (256 << 10, 0.25)] {
                if let Some(index) = self.s3.chunk_sizes.iter().position(|c| *c == size) {
                    targets.push(Target {
                        what: format!("S3, {} PATCHes >= {threshold}x direct multipart", size_label(size)),
                        measured: ratio(median(&self.s3.chunked[index].values), direct, "MB/s"),
                        threshold,
                    });
                }
            }
        }
        let ours = self.servers.iter().find(|s| s.role == Role::Ours);
        let no_fsync = self.servers.iter().find(|s| s.role == Role::OursNoFsync);
        let rustus = self.servers.iter().find(|s| s.is_rustus);
        let best_peer = |pick: fn(&ServerResults) -> &Series| -> Option<f64> {
            self.servers
                .iter()
                .filter(|s| s.role == Role::Peer)
                .filter_map(|s| median(&pick(s).values))
                .reduce(f64::max)
        };
        if let Some(no_fsync) = no_fsync
            && !self.raw_cache.is_empty()
        {
            targets.push(Target {
                what: "filesystem, one PATCH with `--sync never` >= 0.7x `dd` into the page cache".to_owned(),
                measured: ratio(median(&no_fsync.single.values), median(&self.raw_cache), "MB/s"),
                threshold: 0.7,
            });
        }
        if let (Some(no_fsync), Some(rustus)) = (no_fsync, rustus) {
            targets.push(Target {
                what: format!(
                    "filesystem, {} PATCHes with `--sync never` >= 1.3x rustus",
                    size_label(cx.chunk)
                ),
                measured: ratio(median(&no_fsync.chunked.values), median(&rustus.chunked.values), "MB/s"),
                threshold: 1.3,
            });
        }
        if let Some(ours) = ours {
            for (label, pick) in [
                (
                    "one PATCH",
                    (|s: &ServerResults| &s.single) as fn(&ServerResults) -> &Series,
                ),
                ("chunked", |s: &ServerResults| &s.chunked),
            ] {
                let label = if label == "chunked" {
                    format!("{} PATCHes", size_label(cx.chunk))
                } else {
                    label.to_owned()
                };
                let peer = best_peer(pick);
                if peer.is_some() {
                    targets.push(Target {
                        what: format!("filesystem, {label} with fsync >= the best peer (no fsync)"),
                        measured: ratio(median(&pick(ours).values), peer, "MB/s"),
                        threshold: 1.0,
                    });
                }
            }
            for (index, dir) in cx.small_dirs.iter().enumerate() {
                let peer = self.best_small_peer(index);
                if peer.is_some() {
                    targets.push(Target {
                        what: format!("small uploads in {dir} >= 2x the best peer (tus-rs with fsync)"),
                        measured: ratio(median(&ours.small[index].per_sec), peer, "/s"),
                        threshold: 2.0,
                    });
                }
            }
        }
        targets
    }

    /// The highest median of small uploads among the peers in directory `index`.
    fn best_small_peer(&self, index: usize) -> Option<f64> {
        self.servers
            .iter()
            .filter(|s| s.role == Role::Peer)
            .filter_map(|s| median(&s.small[index].per_sec))
            .reduce(f64::max)
    }

    fn peak(&self, series: &[&Vec<u64>]) -> String {
        let peak = series.iter().flat_map(|values| values.iter()).max().copied();
        match peak {
            Some(_) => crate::mib(peak),
            None => "-".to_owned(),
        }
    }
}

/// The median (the upper one of an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted[sorted.len() / 2])
}

/// `median MB/s (every rep)`, or `-`.
fn speed_cell(values: &[f64]) -> String {
    match median(values) {
        Some(median) => {
            let all: Vec<String> = values.iter().map(|v| format!("{:.0}", v / 1e6)).collect();
            format!("{} ({})", mb(median), all.join(", "))
        }
        None => "-".to_owned(),
    }
}

/// `median [lowest - highest]`, or `-`.
fn spread_cell(values: &[f64]) -> String {
    match median(values) {
        Some(median) => {
            let low = values.iter().copied().reduce(f64::min).unwrap_or(median);
            let high = values.iter().copied().reduce(f64::max).unwrap_or(median);
            format!("{median:.0} [{low:.0} - {high:.0}]")
        }
        None => "-".to_owned(),
    }
}

fn fmt(value: f64, unit: &str) -> String {
    if unit == "MB/s" {
        mb(value)
    } else {
        format!("{value:.0}{unit}")
    }
}

/// `8 MiB`, `256 KiB`.
fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_cells() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(spread_cell(&[10.0, 30.0, 20.0]), "20 [10 - 30]");
        assert_eq!(speed_cell(&[2e6, 1e6, 3e6]), "2 MB/s (2, 1, 3)");
        assert_eq!(size_label(8 << 20), "8 MiB");
        assert_eq!(size_label(256 << 10), "256 KiB");
    }
}
