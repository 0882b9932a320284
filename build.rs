//! Build script: turns `tiles.toml` and the kernel crate into embedded PTX and
//! a typed variant registry.
//!
//! 1. Expand `tiles.toml` (tilespec), print dropped combinations once, fail on
//!    an invalid explicit variant.
//! 2. For each target arch, generate a tiny `no_std` crate of entry points —
//!    thin monomorphic `extern "ptx-kernel"` wrappers around the generic
//!    kernels — and compile it for `nvptx64-nvidia-cuda` with
//!    `-Zbuild-std=core`, this same build script acting as the linker
//!    (llvm-link → opt → llc, see `build/ptx_link.rs`).
//! 3. Generate `registry.rs`: one `Variant` per entry (name, tile, dtype,
//!    causality, archs, CPU-emulator function) and the PTX per arch.
//!
//! It reruns only when `tiles.toml`, the kernel crate or the build files change.

#[path = "build/entries.rs"]
mod entries;
#[path = "build/launch_bounds.rs"]
mod launch_bounds;
#[path = "build/ptx_build.rs"]
mod ptx_build;
#[path = "build/ptx_link.rs"]
mod ptx_link;
#[path = "build/toolchain.rs"]
mod toolchain;

use std::path::PathBuf;

fn main() {
    if std::env::var_os(ptx_link::LINKER_MODE_ENV).is_some() {
        // rustc is calling us as the nvptx64 linker.
        if let Err(e) = ptx_link::run(std::env::args().skip(1).collect()) {
            eprintln!("tileattn ptx linker: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = build() {
        // A panic would bury the message under a backtrace hint; this prints it plainly.
        eprintln!("\nerror: {e}\n");
        std::process::exit(1);
    }
}

fn build() -> Result<(), String> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    for path in [
        "tiles.toml",
        "kernels-rs/src",
        "kernels-rs/Cargo.toml",
        "build",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    toolchain::emit_commit(&root);

    let tiles_path = root.join("tiles.toml");
    let text = std::fs::read_to_string(&tiles_path)
        .map_err(|e| format!("{}: {e}", tiles_path.display()))?;
    let expansion = tilespec::expand(&text).map_err(|e| e.to_string())?;
    for d in &expansion.dropped {
        println!("cargo:warning={d}");
    }

    let tools = toolchain::check()?;
    // One nested cargo per arch, all at once: each is mostly a single-threaded
    // build of `core` (codegen-units = 1), so on two cores the archs overlap
    // instead of queueing. Each has its own crate and target directory, and the
    // modules are listed in arch order as before: the PTX is the same.
    let modules = std::thread::scope(|s| {
        let builds: Vec<_> = expansion
            .archs
            .iter()
            .map(|&arch| {
                let (root, out, tools) = (&root, &out, &tools);
                let in_arch: Vec<_> = expansion
                    .variants
                    .iter()
                    .filter(|v| v.archs.contains(&arch))
                    .collect();
                s.spawn(move || -> Result<_, String> {
                    let crate_dir = out.join(format!("entries-{}", arch.name()));
                    entries::write_entry_crate(&crate_dir, &root.join("kernels-rs"), &in_arch)?;
                    let ptx = ptx_build::compile(
                        &crate_dir,
                        &out.join(format!("ptx-target-{}", arch.name())),
                        arch,
                        tools,
                    )?;
                    let ptx_path = out.join(format!("tileattn-{}.ptx", arch.name()));
                    let capped: Vec<(String, usize)> = in_arch
                        .iter()
                        .filter(|v| v.tile.family == tilespec::Family::V4)
                        .map(|v| (v.entry_name(), v.tile.threads()))
                        .collect();
                    let text = std::fs::read_to_string(&ptx)
                        .map_err(|e| format!("{}: {e}", ptx.display()))?;
                    let text = launch_bounds::cap_entries(&text, &capped)?;
                    std::fs::write(&ptx_path, text)
                        .map_err(|e| format!("{}: {e}", ptx_path.display()))?;
                    Ok((arch, ptx_path))
                })
            })
            .collect();
        builds
            .into_iter()
            .map(|b| {
                b.join()
                    .map_err(|_| "a PTX build thread panicked".to_string())?
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    entries::write_registry(&out.join("registry.rs"), &expansion.variants, &modules)
}
