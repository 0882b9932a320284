//! `tileattn variants`: the registry, optionally with ptxas resource reports
//! and the occupancy they allow.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use tileattn::host::occupancy::{Occupancy, occupancy};
use tileattn::host::ptxas::{self, Resources};
use tileattn::host::registry::Variant;
use tileattn::kernels::Arch;

#[derive(clap::Args)]
pub struct Args {
    /// Assemble every variant with ptxas (sm_89 and sm_90; sm_90a variants
    /// for sm_90a) and report registers, stack, spills and the blocks per SM
    /// they allow; ptxas runs on every core, minutes on two.
    #[arg(long)]
    resources: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Entries per ptxas run. ptxas parses the whole module (12 MB of PTX) on
/// every run, about 2 s of CPU each: 16 entries a run keeps that under a
/// fifth of the total, while giving 14 runs for the progress bar and the
/// cores to share.
const ENTRIES_PER_RUN: usize = 16;

#[derive(Serialize)]
struct Row {
    name: &'static str,
    family: &'static str,
    dtype: &'static str,
    head_dim: usize,
    causal: bool,
    block_m: usize,
    block_n: usize,
    warps: usize,
    stages: usize,
    threads: usize,
    smem_bytes: usize,
    archs: Vec<&'static str>,
    resources: Vec<Assembled>,
}

/// ptxas's report of a variant on one target, and the occupancy it allows there.
#[derive(Serialize)]
struct Assembled {
    #[serde(flatten)]
    resources: Resources,
    #[serde(flatten)]
    occupancy: Option<Occupancy>,
}

impl Assembled {
    fn of(v: &Variant, resources: Resources) -> Assembled {
        let occupancy = Arch::ALL
            .into_iter()
            .find(|a| a.name() == resources.arch)
            .map(|arch| {
                occupancy(
                    arch,
                    v.tile.threads() as u32,
                    resources.registers,
                    v.tile.smem_bytes() + resources.static_smem_bytes as usize,
                )
            });
        Assembled {
            resources,
            occupancy,
        }
    }
}

/// The ptxas reports of every variant, by name, with a progress bar and a
/// summary line on stderr.
fn assemble_all() -> tileattn::host::Result<HashMap<&'static str, Vec<Resources>>> {
    let reg = tileattn::registry();
    let total: usize = reg
        .modules
        .iter()
        .map(|m| {
            let n = reg.variants.iter().filter(|v| v.archs.contains(&m.arch));
            n.count() * ptxas::report_targets(m.arch).len()
        })
        .sum();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bar = super::progress::bar(total as u64, "reports");
    bar.set_message(format!("ptxas, {workers} at a time"));
    let started = Instant::now();
    let all = ptxas::assemble_variants(&reg, &|_| true, ENTRIES_PER_RUN, workers, &|n| {
        bar.inc(n as u64)
    });
    bar.finish_and_clear();
    let all = all?;
    let count = |f: &dyn Fn(&Resources) -> bool| all.iter().filter(|r| f(r)).count();
    eprintln!(
        "ptxas: {} reports in {:.0} s; {} with spills, {} with a stack frame, {} with serialized wgmma",
        all.len(),
        started.elapsed().as_secs_f64(),
        count(&|r| r.spill_store_bytes + r.spill_load_bytes > 0),
        count(&|r| r.stack_bytes > 0),
        count(&|r| r.wgmma_serialized),
    );
    let mut by_name: HashMap<&'static str, Vec<Resources>> = HashMap::new();
    for r in all {
        if let Some(v) = reg.find(&r.entry) {
            by_name.entry(v.name).or_default().push(r);
        }
    }
    Ok(by_name)
}

pub fn run(args: Args) -> tileattn::host::Result<ExitCode> {
    let reg = tileattn::registry();
    let mut resources = if args.resources {
        assemble_all()?
    } else {
        HashMap::new()
    };
    let rows: Vec<Row> = reg
        .variants
        .iter()
        .map(|v| Row {
            name: v.name,
            family: v.tile.family.name(),
            dtype: v.dtype.name(),
            head_dim: v.tile.head_dim,
            causal: v.causal,
            block_m: v.tile.block_m,
            block_n: v.tile.block_n,
            warps: v.tile.warps,
            stages: v.tile.stages,
            threads: v.tile.threads(),
            smem_bytes: v.tile.smem_bytes(),
            archs: v.archs.iter().map(|a| a.name()).collect(),
            resources: resources
                .remove(v.name)
                .unwrap_or_default()
                .into_iter()
                .map(|r| Assembled::of(v, r))
                .collect(),
        })
        .collect();
    if args.json {
        super::common::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<48} {:>6} {:>6} {:>6} {:>7} {:>8}  archs",
        "variant", "bm", "bn", "warps", "stages", "smem B"
    );
    if args.resources {
        println!(
            "    {:<7} {:>9} {:>8} {:>19}  blocks/SM (limited by)",
            "target", "registers", "stack B", "spills B (st/ld)"
        );
    }
    for r in &rows {
        println!(
            "{:<48} {:>6} {:>6} {:>6} {:>7} {:>8}  {}",
            r.name,
            r.block_m,
            r.block_n,
            r.warps,
            r.stages,
            r.smem_bytes,
            r.archs.join(",")
        );
        for a in &r.resources {
            let res = &a.resources;
            let blocks = a.occupancy.map_or("-".into(), |o| {
                format!("{} ({})", o.blocks_per_sm, o.limited_by.name())
            });
            println!(
                "    {:<7} {:>9} {:>8} {:>19}  {blocks}{}",
                res.arch,
                res.registers,
                res.stack_bytes,
                format!("{}/{}", res.spill_store_bytes, res.spill_load_bytes),
                if res.wgmma_serialized {
                    "; wgmma serialized by ptxas"
                } else {
                    ""
                }
            );
        }
    }
    println!(
        "{} variants; kernel build {}",
        rows.len(),
        &reg.build_hash()[..16]
    );
    Ok(ExitCode::SUCCESS)
}
