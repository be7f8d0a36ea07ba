//! The servers under load: ours (`tus-axum`) and the peers, started as child
//! processes on a free loopback port over a fresh directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::client::Error;

/// rustus version the harness installs and compares with.
pub(crate) const RUSTUS_VERSION: &str = "0.5.10";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `tus-axum` from this repository (filesystem store, fsync per PATCH).
    Ours,
    /// npm `@tus/server` with `@tus/file-store` (`benches/peers/tus_node_server.mjs`).
    Node,
    /// crates.io `rustus`.
    Rustus,
}

/// How to start one server.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    /// An experiment row (`--variant`), not one the targets are about.
    pub(crate) variant: bool,
    program: PathBuf,
    /// Extra arguments before the per-run ones (the node script).
    leading: Vec<String>,
    /// Extra arguments after the per-run ones.
    trailing: Vec<String>,
}

/// Where the peers live: `benches/peers` (node) and `~/.cargo/bin` (rustus,
/// where `cargo install` puts it).
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) ours: PathBuf,
    pub(crate) node_dir: PathBuf,
    /// `cargo install`'s root (`$CARGO_HOME`, else `~/.cargo`).
    pub(crate) cargo_root: PathBuf,
    /// An older install location (`target/peers`), still looked at.
    pub(crate) legacy_root: PathBuf,
}

impl Paths {
    /// Defaults next to the running harness (`target/release/tus-load`).
    pub(crate) fn detect(ours: Option<PathBuf>) -> Self {
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let target = exe_dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let cargo_root = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
            .unwrap_or_else(|| target.join("peers"));
        Self {
            ours: ours.unwrap_or_else(|| exe_dir.join("tus-axum")),
            node_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("peers"),
            cargo_root,
            legacy_root: target.join("peers"),
        }
    }

    fn rustus(&self) -> PathBuf {
        let installed = self.cargo_root.join("bin").join("rustus");
        let legacy = self.legacy_root.join("bin").join("rustus");
        if !installed.is_file() && legacy.is_file() {
            return legacy;
        }
        installed
    }

    fn node_installed(&self) -> bool {
        self.node_dir.join("node_modules/@tus/server").is_dir()
            && self.node_dir.join("node_modules/@tus/file-store").is_dir()
    }
}

impl Spec {
    /// Our server, or an error if the binary is missing.
    pub(crate) fn ours(paths: &Paths) -> Result<Self, Error> {
        if !paths.ours.is_file() {
            return Err(format!(
                "{} not found: `cargo build --release -p tus-axum-example` first, or pass --server-bin",
                paths.ours.display()
            )
            .into());
        }
        Ok(Self {
            kind: Kind::Ours,
            name: "tus-rs (tus-axum)".to_owned(),
            variant: false,
            program: paths.ours.clone(),
            leading: Vec::new(),
            trailing: Vec::new(),
        })
    }

    /// A peer, installing it first when `install` is set; `None` (with a
    /// note on stderr) when it is not installed.
    pub(crate) async fn peer(kind: Kind, paths: &Paths, install: bool) -> Option<Self> {
        match kind {
            Kind::Ours => Self::ours(paths).ok(),
            Kind::Node => {
                if !paths.node_installed() && install {
                    eprintln!("installing @tus/server into {} (npm ci)", paths.node_dir.display());
                    run(Command::new("npm")
                        .arg("ci")
                        .arg("--no-audit")
                        .arg("--no-fund")
                        .current_dir(&paths.node_dir))
                    .await;
                }
                if !paths.node_installed() {
                    eprintln!(
                        "skipping @tus/server: not installed (pass --install-peers, or `npm ci` in {})",
                        paths.node_dir.display()
                    );
                    return None;
                }
                let version = node_package_version(&paths.node_dir, "@tus/server").unwrap_or_default();
                Some(Self {
                    kind,
                    variant: false,
                    name: format!("@tus/server {version}"),
                    program: "node".into(),
                    leading: vec![paths.node_dir.join("tus_node_server.mjs").display().to_string()],
                    trailing: Vec::new(),
                })
            }
            Kind::Rustus => {
                if !paths.rustus().is_file() && install {
                    eprintln!(
                        "installing rustus {RUSTUS_VERSION} into {} (cargo install, a few minutes)",
                        paths.cargo_root.display()
                    );
                    run(Command::new("cargo")
                        .args(["install", "--locked"])
                        .arg(format!("rustus@{RUSTUS_VERSION}")))
                    .await;
                }
                if !paths.rustus().is_file() {
                    eprintln!(
                        "skipping rustus: {} not installed (pass --install-peers)",
                        paths.rustus().display()
                    );
                    return None;
                }
                Some(Self {
                    kind,
                    variant: false,
                    name: format!("rustus {RUSTUS_VERSION}"),
                    program: paths.rustus(),
                    leading: Vec::new(),
                    trailing: Vec::new(),
                })
            }
        }
    }

    /// Our server on the filesystem store with `--sync never`, or with
    /// `extra` flags (the S3 store), under `name`.
    pub(crate) fn ours_with(paths: &Paths, name: &str, extra: &[&str]) -> Result<Self, Error> {
        let mut spec = Self::ours(paths)?;
        spec.name = name.to_owned();
        spec.trailing = extra.iter().map(|arg| (*arg).to_owned()).collect();
        Ok(spec)
    }

    /// Starts the server over `dir`, pinned to `cpu` when given, accepting
    /// bodies of up to `max_body` bytes where the server needs to be told,
    /// with `per_run` flags last.
    pub(crate) async fn start(
        &self,
        dir: &Path,
        cpu: Option<usize>,
        max_body: u64,
        per_run: &[String],
        log: &ServerLog,
    ) -> Result<Running, Error> {
        std::fs::create_dir_all(dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut args: Vec<String> = self.leading.clone();
        match self.kind {
            Kind::Ours => args.extend(
                [
                    "--listen",
                    &addr,
                    "--base-path",
                    "/files/",
                    "--shutdown-timeout",
                    "1",
                    "--dir",
                ]
                .map(str::to_owned)
                .into_iter()
                .chain([dir.display().to_string()]),
            ),
            Kind::Node => args.extend([port.to_string(), dir.display().to_string()]),
            Kind::Rustus => args.extend(
                [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--url",
                    "/files",
                    "--log-level",
                    "WARN",
                ]
                .map(str::to_owned)
                .into_iter()
                .chain(["--data-dir".to_owned(), dir.display().to_string()])
                .chain(["--info-dir".to_owned(), dir.display().to_string()])
                .chain(["--max-body-size".to_owned(), max_body.to_string()]),
            ),
        }
        args.extend(self.trailing.iter().cloned());
        args.extend(per_run.iter().cloned());
        let mut command = match cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(&self.program);
                command
            }
            None => Command::new(&self.program),
        };
        // rustus prints a banner on stderr; our server's warnings stay visible.
        let stderr = if self.kind == Kind::Ours {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        // Our server logs to stdout: into `log.file` when given (profiling).
        let stdout = match (&log.file, self.kind) {
            (Some(file), Kind::Ours) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(file)?),
            _ => Stdio::null(),
        };
        let child = command
            .args(&args)
            .env("RUST_LOG", &log.filter)
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("starting {}: {error}", self.program.display()))?;
        let pid = child.id().ok_or("server exited at once")?;
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(Running { child, pid, addr });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("{} did not listen on {addr} within 10 s", self.name).into())
    }
}

/// What our server logs, and where.
#[derive(Debug, Clone)]
pub(crate) struct ServerLog {
    /// `RUST_LOG` for our server (and the peers, which mostly ignore it).
    pub(crate) filter: String,
    /// Our server's stdout (its log) is appended here; `None`: discarded.
    pub(crate) file: Option<PathBuf>,
}

/// A started server; killed when stopped or dropped.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    pid: u32,
    pub(crate) addr: String,
}

impl Running {
    /// Peak resident memory so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Kills the server and waits for it.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn run(command: &mut Command) {
    // Standard output carries only the report: installers print to standard error.
    if let Ok(stderr) = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() {
        command.stdout(std::process::Stdio::from(stderr));
    }
    match command.status().await {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("install command failed: {status}"),
        Err(error) => eprintln!("install command failed: {error}"),
    }
}

fn node_package_version(node_dir: &Path, package: &str) -> Option<String> {
    let text = std::fs::read_to_string(node_dir.join("node_modules").join(package).join("package.json")).ok()?;
    let start = text.find("\"version\"")?;
    let rest = &text[start + 9..];
    let rest = &rest[rest.find('"')? + 1..];
    Some(rest[..rest.find('"')?].to_owned())
}
