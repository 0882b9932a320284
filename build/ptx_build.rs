//! Compiling a generated entry crate to PTX with a nested cargo.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ptx_link::{LINKER_MODE_ENV, LLVM_BIN_ENV, UNROLL_THRESHOLD};
use crate::toolchain::Tools;
use tilespec::Arch;

/// The PTX ISA version each arch is compiled with (the minimum that knows the arch,
/// 8.0 for sm_89/sm_90 so the driver of an older CUDA 12 can JIT it).
fn ptx_feature(arch: Arch) -> &'static str {
    match arch {
        Arch::Sm80 => "+ptx70",
        Arch::Sm86 => "+ptx71",
        Arch::Sm89 | Arch::Sm90 | Arch::Sm90a => "+ptx80",
    }
}

/// A fingerprint of a source text: change detection within one pinned
/// toolchain (std's hasher is fixed per release), not a stable identifier.
fn fingerprint(text: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

pub fn compile(
    crate_dir: &Path,
    target_dir: &Path,
    arch: Arch,
    tools: &Tools,
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let me = std::env::current_exe().map_err(|e| format!("build script path: {e}"))?;
    // The link step's source goes into the flags as a hash (the linker
    // ignores the argument): cargo fingerprints flags, not the linker
    // binary, so otherwise a change to the link step would not relink.
    let rustflags = format!(
        "-C target-cpu={} -C target-feature={} -C linker={} -C llvm-args=-unroll-threshold={UNROLL_THRESHOLD} -C link-arg=--link-step={:016x}",
        arch.name(),
        ptx_feature(arch),
        me.display(),
        fingerprint(include_str!("ptx_link.rs"))
    );
    let mut cmd = Command::new(cargo);
    cmd.current_dir(crate_dir)
        .args([
            "build",
            "--release",
            "--target",
            "nvptx64-nvidia-cuda",
            "-Zbuild-std=core",
            "--target-dir",
        ])
        .arg(target_dir)
        // The outer build's flags and target must not leak into the device build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env("RUSTFLAGS", rustflags)
        .env(LINKER_MODE_ENV, "1")
        .env(LLVM_BIN_ENV, &tools.llvm_bin);
    let output = cmd
        .output()
        .map_err(|e| format!("running cargo for the {} PTX build: {e}", arch.name()))?;
    if !output.status.success() {
        return Err(format!(
            "the {} PTX build failed:\n{}",
            arch.name(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let ptx = target_dir.join("nvptx64-nvidia-cuda/release/tileattn_entries.ptx");
    if ptx.is_file() {
        Ok(ptx)
    } else {
        Err(format!(
            "the {} PTX build succeeded but {} is missing",
            arch.name(),
            ptx.display()
        ))
    }
}
