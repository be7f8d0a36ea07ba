//! What `tus-upload` writes to standard error: a progress bar on a
//! terminal, one line per notable event (unless `--quiet`), every request
//! with `--verbose`. Standard output only ever gets the upload URL.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;
use tus_client::{ChecksumMode, Notice, UploadController};

pub(crate) struct Output {
    bar: Option<ProgressBar>,
    quiet: bool,
    verbose: bool,
}

impl Output {
    pub(crate) fn new(bar: bool, quiet: bool, verbose: bool) -> Self {
        let bar = bar.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(unknown_length_style());
            bar
        });
        Self { bar, quiet, verbose }
    }

    /// A line on standard error, above the bar.
    pub(crate) fn notice(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(format!("tus-upload: {line}")),
            None => eprintln!("tus-upload: {line}"),
        }
    }

    pub(crate) fn on_notice(&self, notice: &Notice) {
        let part = |part: &Option<usize>| part.map_or_else(String::new, |index| format!(" (part {})", index + 1));
        let line = match notice {
            Notice::Created { url, part: index } => format!("created {url}{}", part(index)),
            Notice::Resumed {
                url,
                offset,
                part: index,
            } => format!("resuming {url} at offset {offset}{}", part(index)),
            Notice::Forgotten { url, reason } => format!("forgot {url}: {reason}"),
            Notice::Protocol(name) => format!("protocol: {}", protocol_name(name)),
            Notice::Retrying { attempt, delay, reason } => {
                format!("retry {attempt} in {:.1} s: {reason}", delay.as_secs_f64())
            }
            Notice::OffsetRegressed { from, to } => format!("the server went back from offset {from} to {to}"),
            Notice::ChunkResized(size) => format!("chunk size is now {size} bytes"),
            Notice::Checksum(Some(plan)) => format!(
                "checksum: {} in {}",
                plan.algorithm.name(),
                match plan.mode {
                    ChecksumMode::Header => "a header",
                    ChecksumMode::Trailer => "a trailer",
                }
            ),
            Notice::Checksum(None) if self.verbose => {
                "checksum: none (the server advertises none, or --checksum none)".into()
            }
            Notice::LengthKnown(length) if self.verbose => format!("the source ended at {length} bytes"),
            Notice::Request { method, url, len, .. } if self.verbose => format!("> {method} {url} ({len} bytes)"),
            Notice::Answer { status, .. } if self.verbose => format!("< {status}"),
            _ => return,
        };
        self.notice(&line);
    }

    /// Keeps the bar up to date until aborted.
    pub(crate) fn follow(self: Arc<Self>, controller: UploadController) -> JoinHandle<()> {
        tokio::spawn(async move {
            let Some(bar) = &self.bar else {
                return;
            };
            let mut known = false;
            loop {
                let progress = controller.progress();
                if let (Some(total), false) = (progress.total, known) {
                    bar.set_length(total);
                    bar.set_style(known_length_style());
                    known = true;
                }
                bar.set_position(progress.acknowledged);
                if progress.sent > progress.acknowledged {
                    bar.set_message(format!("({} sent)", indicatif::HumanBytes(progress.sent)));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn known_length_style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn unknown_length_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {bytes} acknowledged, {bytes_per_sec} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The `filetype` metadata for a file name, as browsers would send it.
pub(crate) fn media_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("gz" | "tgz") => "application/gzip",
        Some("tar") => "application/x-tar",
        Some("zst") => "application/zstd",
        Some("xz") => "application/x-xz",
        Some("7z") => "application/x-7z-compressed",
        Some("iso") => "application/x-iso9660-image",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("flac") => "audio/flac",
        _ => "application/octet-stream",
    }
}

/// A dialect's name for people.
fn protocol_name(name: &str) -> String {
    match name.strip_prefix("ietf-") {
        Some(version) => format!("IETF draft \"Resumable Uploads for HTTP\", interop {version}"),
        None => name.replace("tus-", "tus "),
    }
}
