//! `tileattn variants`: the registry, optionally with ptxas resource reports.

use std::collections::HashMap;
use std::process::ExitCode;

use serde::Serialize;
use tileattn::host::ptxas::{self, Resources};

#[derive(clap::Args)]
pub struct Args {
    /// Assemble every variant with ptxas (sm_89 and sm_90; sm_90a variants for sm_90a) and report registers, stack and spills.
    #[arg(long)]
    resources: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

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
    resources: Vec<Resources>,
}

pub fn run(args: Args) -> tileattn::host::Result<ExitCode> {
    let reg = tileattn::registry();
    let mut resources: HashMap<&str, Vec<Resources>> = HashMap::new();
    if args.resources {
        for module in reg.modules {
            for arch in ptxas::report_targets(module.arch) {
                for r in ptxas::assemble(module.ptx, arch)? {
                    if let Some(v) = reg.find(&r.entry) {
                        resources.entry(v.name).or_default().push(r);
                    }
                }
            }
        }
    }
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
            resources: resources.remove(v.name).unwrap_or_default(),
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
        for res in &r.resources {
            println!(
                "    {}: {} registers, {} B stack, {} B spill stores, {} B spill loads{}",
                res.arch,
                res.registers,
                res.stack_bytes,
                res.spill_store_bytes,
                res.spill_load_bytes,
                if res.wgmma_serialized {
                    ", wgmma serialized by ptxas"
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
