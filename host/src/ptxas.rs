//! `ptxas` resource reports: registers, stack, spills of every entry point,
//! read without a GPU (ptxas ships in the PyPI wheel `nvidia-cuda-nvcc-cu12`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tileattn_kernels::Arch;

use crate::registry::{Registry, Variant};
use crate::{Error, Result};

/// What ptxas says about one entry point for one arch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resources {
    pub entry: String,
    pub arch: String,
    pub registers: u32,
    pub stack_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
    /// Static shared memory only; the kernels' dynamic shared memory is the variant's `smem_bytes`.
    pub static_smem_bytes: u32,
    /// ptxas made every `wgmma` wait for the previous one (its C7515 note,
    /// "wgmma.mma_async instructions are serialized"): the asynchronous
    /// products of such a kernel do not overlap anything.
    pub wgmma_serialized: bool,
}

/// Find ptxas: `$TILEATTN_PTXAS`, `ptxas` on PATH, or the `nvidia-cuda-nvcc-cu12` wheel of `python3`.
pub fn find() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TILEATTN_PTXAS") {
        return Ok(PathBuf::from(p));
    }
    if Command::new("ptxas")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(PathBuf::from("ptxas"));
    }
    let probe = "import os, nvidia.cuda_nvcc as m; print(os.path.join(list(m.__path__)[0], 'bin', 'ptxas'))";
    if let Ok(o) = Command::new("python3").args(["-c", probe]).output() {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if o.status.success() && p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::Tool {
        tool: "ptxas".into(),
        message:
            "not found: install it with `pip install nvidia-cuda-nvcc-cu12` (or set TILEATTN_PTXAS)"
                .into(),
    })
}

/// The ptxas targets a module compiled for `arch` is reported for: the
/// default build's sm_89 and the H100's sm_90, where the module's PTX can be
/// assembled for them; arch-specific PTX (sm_90a) only for its own arch.
pub fn report_targets(arch: Arch) -> Vec<&'static str> {
    match arch {
        Arch::Sm90a => vec![arch.name()],
        _ => [Arch::Sm89, Arch::Sm90]
            .into_iter()
            .filter(|t| arch.compute_capability() <= t.compute_capability())
            .map(Arch::name)
            .collect(),
    }
}

/// Assemble `ptx` for `arch` (e.g. `sm_90`) and parse the `-v` report, for
/// the named entry points only (all of them if `entries` is empty): ptxas's
/// time grows with the entries it compiles.
pub fn assemble_entries(ptx: &str, arch: &str, entries: &[&str]) -> Result<Vec<Resources>> {
    let ptxas = find()?;
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let input = dir.path().join("in.ptx");
    std::fs::write(&input, ptx).map_err(|e| Error::io(&input, e))?;
    let mut cmd = Command::new(&ptxas);
    cmd.arg(format!("-arch={arch}")).arg("-v");
    if !entries.is_empty() {
        cmd.arg("--entry").arg(entries.join(","));
    }
    let out = cmd
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.cubin"))
        .output()
        .map_err(|e| Error::Tool {
            tool: "ptxas".into(),
            message: format!("{}: {e}", ptxas.display()),
        })?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(Error::Tool {
            tool: "ptxas".into(),
            message: format!("assembling for {arch} failed:\n{log}"),
        });
    }
    Ok(parse_report(&log, arch))
}

/// Assemble the variants of `registry` that `pick` selects, for every target
/// their module is reported for ([`report_targets`]): ptxas runs of at most
/// `per_run` entries each (ptxas reads the whole module every run, so fewer
/// runs cost less in all, and more give progress to watch and work to
/// share), `workers` runs at a time (each ptxas uses one core).
/// `progress(entries)` is called as each run ends. On an error the runs not
/// yet started are not started, and the first error is returned.
pub fn assemble_variants(
    registry: &Registry,
    pick: &(dyn Fn(&Variant) -> bool + Sync),
    per_run: usize,
    workers: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Resources>> {
    let mut runs: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for m in registry.modules {
        let entries: Vec<&str> = registry
            .variants
            .iter()
            .filter(|v| v.archs.contains(&m.arch) && pick(v))
            .map(|v| v.name)
            .collect();
        for arch in report_targets(m.arch) {
            for chunk in entries.chunks(per_run.max(1)) {
                runs.push((m.ptx, arch, chunk.to_vec()));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Result<Vec<Resources>>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, runs.len().max(1)) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some((ptx, arch, entries)) = runs.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        break;
                    };
                    let r = assemble_entries(ptx, arch, entries);
                    failed.fetch_or(r.is_err(), Ordering::Relaxed);
                    progress(entries.len());
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    let mut all = Vec::new();
    for r in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        all.extend(r?);
    }
    // Runs end in any order; reports do not.
    all.sort_by(|a, b| (&a.entry, &a.arch).cmp(&(&b.entry, &b.arch)));
    Ok(all)
}

/// Parse `ptxas -v` output (one "Compiling entry function" block per entry).
///
/// The stack/spill line belongs to the function named by the "Function
/// properties for" line just before it; ptxas prints those blocks for
/// non-entry functions (panic helpers) between entries too, and they must not
/// overwrite the entry's numbers.
pub fn parse_report(log: &str, arch: &str) -> Vec<Resources> {
    let mut all: Vec<Resources> = Vec::new();
    let mut properties_of_entry = false;
    // The note names its function and may come before the function's report.
    let mut serialized = Vec::new();
    let num_before = |line: &str, unit: &str| -> Option<u32> {
        let i = line.find(unit)?;
        line[..i].split_whitespace().last()?.parse().ok()
    };
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let entry = rest.split('\'').next().unwrap_or_default().to_string();
            all.push(Resources {
                entry,
                arch: arch.into(),
                registers: 0,
                stack_bytes: 0,
                spill_store_bytes: 0,
                spill_load_bytes: 0,
                static_smem_bytes: 0,
                wgmma_serialized: false,
            });
            continue;
        }
        if line.contains("wgmma.mma_async instructions are serialized") {
            let named = line.split("in the function '").nth(1);
            if let Some(name) = named.and_then(|rest| rest.split('\'').next()) {
                serialized.push(name.to_string());
            }
            continue;
        }
        let Some(r) = all.last_mut() else { continue };
        if let Some(name) = line.split("Function properties for ").nth(1) {
            properties_of_entry = name.trim() == r.entry;
            continue;
        }
        if line.contains("bytes stack frame") && properties_of_entry {
            r.stack_bytes = num_before(line, "bytes stack frame").unwrap_or(0);
            r.spill_store_bytes = num_before(line, "bytes spill stores").unwrap_or(0);
            r.spill_load_bytes = num_before(line, "bytes spill loads").unwrap_or(0);
        }
        if line.contains("Used") && line.contains("registers") {
            r.registers = num_before(line, "registers").unwrap_or(0);
            r.static_smem_bytes = num_before(line, "bytes smem").unwrap_or(0);
        }
    }
    for r in &mut all {
        r.wgmma_serialized = serialized.contains(&r.entry);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_reported_for_the_targets_that_can_assemble_them() {
        assert_eq!(report_targets(Arch::Sm80), ["sm_89", "sm_90"]);
        assert_eq!(report_targets(Arch::Sm89), ["sm_89", "sm_90"]);
        assert_eq!(report_targets(Arch::Sm90), ["sm_90"]);
        // ptxas refuses sm_90a PTX for plain sm_90 ("cannot be compiled for architecture 'sm_90'").
        assert_eq!(report_targets(Arch::Sm90a), ["sm_90a"]);
    }

    #[test]
    fn parses_a_ptxas_report() {
        let log = "ptxas info    : 0 bytes gmem\n\
                   ptxas info    : Compiling entry function 'k1' for 'sm_90'\n\
                   ptxas info    : Function properties for k1\n    \
                   512 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
                   ptxas info    : Used 168 registers, used 1 barriers, 16 bytes smem\n\
                   ptxas info    : Function properties for panic_helper\n    \
                   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are \
                   serialized due to non wgmma instructions defining accumulator registers of a wgmma \
                   between start and end of the pipeline stage in the function 'k2'\n\
                   ptxas info    : Compiling entry function 'k2' for 'sm_90'\n\
                   ptxas info    : Function properties for k2\n    \
                   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : Used 40 registers, used 1 barriers\n";
        let r = parse_report(log, "sm_90");
        assert_eq!(r.len(), 2);
        assert_eq!(
            (
                r[0].entry.as_str(),
                r[0].registers,
                r[0].stack_bytes,
                r[0].spill_store_bytes,
                r[0].spill_load_bytes,
                r[0].static_smem_bytes
            ),
            ("k1", 168, 512, 8, 4, 16)
        );
        assert_eq!(
            (r[1].entry.as_str(), r[1].registers, r[1].spill_store_bytes),
            ("k2", 40, 0)
        );
        assert_eq!(
            (r[0].wgmma_serialized, r[1].wgmma_serialized),
            (false, true)
        );
    }
}
