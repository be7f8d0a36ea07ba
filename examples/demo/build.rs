//! Bundles the demo page's assets from npm packages at build time.
//!
//! `npm ci` installs the pinned packages (package-lock.json) into
//! `examples/demo/node_modules` (once; a stamp records what was installed),
//! then `node build.mjs OUT_DIR` bundles Uppy and its CSS with esbuild into
//! `OUT_DIR/demo.js` and `OUT_DIR/demo.css`, which `src/lib.rs` embeds.
//!
//! Without Node.js and npm (or when the install fails) the build still
//! succeeds: a warning says why, and the page the binaries serve says how to
//! get the real one (install Node.js and npm, then build again).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const INPUTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "build.mjs",
    "web/demo.js",
    "web/index.html",
];
const STAMP: &str = "node_modules/.tus-rs-demo.stamp";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for input in INPUTS {
        println!("cargo::rerun-if-changed={input}");
    }
    let bundled = match bundle(&manifest, &out) {
        Ok(()) => true,
        Err(reason) => {
            println!(
                "cargo::warning=the demo page is not bundled ({reason}); install Node.js and npm, then build again"
            );
            // A path that never exists: cargo reruns this script on every
            // build until bundling works (e.g. once Node.js is installed).
            println!("cargo::rerun-if-changed=.retry-bundling-until-it-works");
            for name in ["demo.js", "demo.css"] {
                fs::write(out.join(name), "").expect("write placeholder asset");
            }
            false
        }
    };
    println!("cargo::rustc-env=TUS_DEMO_BUNDLED={}", u8::from(bundled));
}

fn bundle(manifest: &Path, out: &Path) -> Result<(), String> {
    let node = run(Command::new("node").arg("--version").current_dir(manifest))?;
    // One `npm ci` at a time (cargo may run this script for several profiles at once).
    let lock = fs::File::create(manifest.join(".npm-ci.lock")).map_err(|e| format!("lock file: {e}"))?;
    lock.lock().map_err(|e| format!("lock: {e}"))?;
    let mut want = Vec::new();
    for pin in ["package.json", "package-lock.json"] {
        want.extend(fs::read(manifest.join(pin)).map_err(|e| format!("{pin}: {e}"))?);
    }
    want.extend(&node.stdout);
    if fs::read(manifest.join(STAMP)).ok().as_deref() != Some(want.as_slice()) {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(manifest))?;
        fs::write(manifest.join(STAMP), &want).map_err(|e| format!("stamp: {e}"))?;
    }
    drop(lock);
    run(Command::new("node").arg("build.mjs").arg(out).current_dir(manifest))?;
    Ok(())
}

/// Runs `command`, its output captured (a build script's stdout is for cargo only).
fn run(command: &mut Command) -> Result<Output, String> {
    let name = format!("{:?}", command.get_program());
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{name} could not run: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "{name} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    Ok(output)
}
