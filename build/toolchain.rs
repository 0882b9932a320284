//! Locating (and insisting on) the pinned toolchain's pieces the PTX build needs.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PINNED: &str = "nightly-2026-05-20";

/// The llvm-tools binaries and the rust-src check.
pub struct Tools {
    pub llvm_bin: PathBuf,
}

fn install_hint() -> String {
    format!(
        "the PTX build needs the pinned toolchain with rust-src and llvm-tools; install them with:\n    \
         rustup toolchain install {PINNED} --component rust-src,llvm-tools"
    )
}

pub fn check() -> Result<Tools, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("running {rustc}: {e}\n{}", install_hint()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let version = Command::new(&rustc)
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.contains("nightly") {
        return Err(format!(
            "rustc is `{}`, not a nightly: {}",
            version.trim(),
            install_hint()
        ));
    }
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        return Err(format!(
            "component rust-src is missing from {}: {}",
            sysroot.display(),
            install_hint()
        ));
    }
    let llvm_bin = sysroot
        .join("lib/rustlib")
        .join(host_triple(&rustc))
        .join("bin");
    for tool in ["llvm-link", "opt", "llc", "llvm-ar"] {
        if !llvm_bin.join(tool).is_file() {
            return Err(format!(
                "{} not found (component llvm-tools): {}",
                llvm_bin.join(tool).display(),
                install_hint()
            ));
        }
    }
    Ok(Tools { llvm_bin })
}

fn host_triple(rustc: &str) -> String {
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or("x86_64-unknown-linux-gnu")
        .to_string()
}

/// `TILEATTN_COMMIT` for the binary: `git describe --always --dirty`.
///
/// Reruns when HEAD, the branch it names or the index moves (a commit), and when
/// any source of the workspace changes (so `-dirty` appears with the first
/// uncommitted edit). A rerun of this script is cheap when the kernels did not
/// change: the nested PTX build finds everything fresh and rebuilds nothing.
pub fn emit_commit(root: &Path) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            // `describe --dirty` would otherwise refresh and rewrite the index,
            // which this script watches: every build would rerun it.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["describe", "--always", "--dirty", "--abbrev=12"])
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TILEATTN_COMMIT={commit}");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = PathBuf::from(dir);
        let mut watched = vec![dir.join("HEAD"), dir.join("index"), dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(dir.join(branch));
        }
        // A watched file that does not exist counts as changed on every build.
        for p in watched.into_iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", p.display());
        }
        for src in ["src", "host", "tilespec", "benches", "Cargo.toml"] {
            println!("cargo:rerun-if-changed={}", root.join(src).display());
        }
    }
}
