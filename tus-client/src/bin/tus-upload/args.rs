//! The command line of `tus-upload`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tus_client::{ChecksumAlgorithm, ChecksumPreference, Protocol};

/// Exit codes, documented in `--help`.
pub(crate) const EXIT_HELP: &str = "\
Exit codes:
  0    uploaded; the upload URL is the last line of standard output
  1    invalid configuration (a bad header, --parallel with --protocol ietf, a failing hook)
  2    invalid command line
  3    refused by the server (400, 401, 403, 404, 410, 413 at the smallest chunk, a missing extension, ...)
  4    retries exhausted: the server kept failing or could not be reached; rerun to continue
  5    local I/O error (the file, standard input or the state file)
  6    the server's TLS certificate was not accepted (see --cacert, --insecure)
  130  interrupted (Ctrl-C); the state is saved, rerun the same command to continue";

/// Uploads a file (or standard input) to a tus server and prints the
/// upload URL. Rerun the same command after a failure, a kill or a reboot
/// and it continues where the server stopped, on the same server, with the
/// same cookies.
#[derive(Debug, Parser)]
#[command(name = "tus-upload", version, after_help = EXIT_HELP, args_override_self = true)]
pub(crate) struct Args {
    /// The file to upload, or `-` for standard input (length deferred).
    #[arg(value_name = "FILE|-")]
    pub(crate) file: PathBuf,
    /// The tus creation URL, e.g. https://host/files/.
    #[arg(long, short = 'e', value_name = "URL")]
    pub(crate) endpoint: String,
    /// The resume store [default: $XDG_STATE_HOME/tus-upload/state.json, else ~/.local/state/tus-upload/state.json].
    #[arg(long, value_name = "PATH")]
    pub(crate) state: Option<PathBuf>,
    /// Neither read nor write a resume store.
    #[arg(long, conflicts_with = "state")]
    pub(crate) no_state: bool,
    /// The largest request body (K, M, G suffixes: powers of 1024).
    #[arg(long, short = 'c', value_name = "BYTES", default_value = "8M", value_parser = parse_size)]
    pub(crate) chunk_size: u64,
    /// The smallest chunk that failures and 413s may shrink it to.
    #[arg(long, value_name = "BYTES", default_value = "16K", value_parser = parse_size)]
    pub(crate) min_chunk_size: u64,
    /// Upload a file in N parts at once (concatenation extension).
    #[arg(long, short = 'p', value_name = "N", default_value_t = 1)]
    pub(crate) parallel: usize,
    /// The checksum sent with each chunk: `auto` (the best the server
    /// advertises, none if it advertises none), `none`, or an algorithm
    /// (sha1, md5, sha256, sha512, crc32), which the server must advertise.
    #[arg(long, value_name = "ALGO|auto|none", default_value = "auto", value_parser = parse_checksum)]
    pub(crate) checksum: ChecksumPreference,
    /// Send the checksum in a trailer when the server offers checksum-trailer
    /// (the file is read once; default: in a header).
    #[arg(long)]
    pub(crate) checksum_trailer: bool,
    /// Upload-Metadata pair (repeatable). `filename` and `filetype` are sent
    /// by default; give them here to override.
    #[arg(long = "metadata", short = 'm', value_name = "KEY=VALUE")]
    pub(crate) metadata: Vec<String>,
    /// Do not send the default `filename` and `filetype`.
    #[arg(long)]
    pub(crate) no_default_metadata: bool,
    /// A header sent with every request (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Accept any TLS certificate (self-signed, expired, other host). For development.
    #[arg(long, short = 'k')]
    pub(crate) insecure: bool,
    /// Trust the CA certificates in this PEM file as well (repeatable).
    #[arg(long, value_name = "PEM")]
    pub(crate) cacert: Vec<PathBuf>,
    /// Send every request through this proxy (else HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub(crate) proxy: Option<String>,
    /// Ignore every proxy, including the environment's.
    #[arg(long)]
    pub(crate) no_proxy: bool,
    /// The protocol: tus 1.0.0, the IETF draft "Resumable Uploads for
    /// HTTP", or auto (tus where the server advertises it with Tus-Version,
    /// the draft where it advertises only that, tus when it advertises
    /// nothing). A stored upload continues in the protocol that created it.
    #[arg(long, value_name = "tus|ietf|auto", default_value = "auto", value_parser = parse_protocol)]
    pub(crate) protocol: Protocol,
    /// The IETF draft's interop version; a server that answers that it does
    /// not speak 9 or 8 gets 6.
    #[arg(long, value_name = "9|8|6", default_value_t = tus_client::DEFAULT_IETF_VERSION, value_parser = parse_ietf_version)]
    pub(crate) ietf_version: u64,
    /// Failures in a row without progress before giving up.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub(crate) retries: u32,
    /// Seconds of failures without progress before giving up.
    #[arg(long, value_name = "SECS", default_value = "900", value_parser = parse_seconds)]
    pub(crate) retry_time: Duration,
    /// The first retry's delay in seconds (doubles each time, with jitter).
    #[arg(long, value_name = "SECS", default_value = "0.5", value_parser = parse_seconds)]
    pub(crate) retry_delay: Duration,
    /// The longest delay between retries, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    pub(crate) retry_max_delay: Duration,
    /// Abandon (and retry) a request that moved no byte for this many seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    pub(crate) stall_timeout: Duration,
    /// Seconds allowed to connect.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    pub(crate) connect_timeout: Duration,
    /// Send at most this many bytes per second (K, M, G suffixes).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub(crate) limit_rate: Option<u64>,
    /// The length of standard input, if known (otherwise it is deferred).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub(crate) length: Option<u64>,
    /// Never send data with the creation request (creation-with-upload).
    #[arg(long)]
    pub(crate) no_creation_with_upload: bool,
    /// No progress and no notices on standard error (errors still are).
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// Log every request and answer on standard error.
    #[arg(long, short = 'v', conflicts_with = "quiet")]
    pub(crate) verbose: bool,
}

/// `512`, `64K`, `8M`, `1.5G`, `2GiB`: bytes, suffixes are powers of 1024.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| format!("{text:?} is not a size"))?;
    let power = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 1,
        "M" | "MB" | "MIB" => 2,
        "G" | "GB" | "GIB" => 3,
        "T" | "TB" | "TIB" => 4,
        _ => return Err(format!("{text:?}: unknown unit (use K, M, G or T)")),
    };
    let bytes = number * 1024f64.powi(power);
    if !(0.0..=9.0e18).contains(&bytes) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

fn parse_checksum(text: &str) -> Result<ChecksumPreference, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(ChecksumPreference::Auto),
        "none" | "off" => Ok(ChecksumPreference::Off),
        name => ChecksumAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
            .map(ChecksumPreference::Algorithm)
            .ok_or_else(|| format!("{text:?}: use auto, none, sha1, md5, sha256, sha512 or crc32")),
    }
}

fn parse_ietf_version(text: &str) -> Result<u64, String> {
    match text.trim() {
        "9" => Ok(9),
        "8" => Ok(8),
        "6" => Ok(6),
        _ => Err(format!("{text:?}: use 9, 8 or 6")),
    }
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Protocol::Auto),
        "tus" => Ok(Protocol::Tus),
        "ietf" => Ok(Protocol::Ietf),
        _ => Err(format!("{text:?}: use tus, ietf or auto")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("512", Some(512)),
            ("64K", Some(65_536)),
            ("8M", Some(8 << 20)),
            ("8m", Some(8 << 20)),
            ("1.5G", Some(3 << 29)),
            ("2GiB", Some(2 << 30)),
            ("1T", Some(1 << 40)),
            ("", None),
            ("M", None),
            ("-1", None),
            ("3X", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_size(text).ok(), *expected, "{text:?}");
        }
    }

    #[test]
    fn the_command_line_of_the_issue_parses() {
        let args = Args::try_parse_from([
            "tus-upload",
            "--endpoint",
            "http://127.0.0.1:1/files/",
            "--state",
            "s.json",
            "--chunk-size",
            "4M",
            "--parallel",
            "3",
            "--checksum",
            "sha256",
            "--metadata",
            "user=42",
            "--header",
            "Authorization: Bearer x",
            "--insecure",
            "--cacert",
            "ca.pem",
            "--protocol",
            "tus",
            "--ietf-version",
            "6",
            "--quiet",
            "-",
        ])
        .expect("parses");
        assert_eq!(args.chunk_size, 4 << 20);
        assert_eq!(args.checksum, ChecksumPreference::Algorithm(ChecksumAlgorithm::Sha256));
        assert_eq!(args.protocol, Protocol::Tus);
        assert_eq!(args.ietf_version, 6);
        let rejected = Args::try_parse_from(["tus-upload", "-e", "http://h/", "--ietf-version", "7", "f"]);
        assert!(rejected.is_err(), "interop 7 is not spoken");
        assert_eq!(args.file, PathBuf::from("-"));
        assert!(
            Args::try_parse_from(["tus-upload", "file"]).is_err(),
            "--endpoint is required"
        );
    }
}
