//! `tileattn info`: the GPU as the driver describes it.

use std::process::ExitCode;

use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Also measure copy bandwidth and bf16 mma.sync throughput with tileattn's
    /// own kernels (the ceilings every report's percentages refer to).
    #[arg(long)]
    ceilings: bool,
    #[command(flatten)]
    timing: super::measure_args::TimingArgs,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Info {
    name: String,
    compute_capability: String,
    sm_count: u32,
    l2_bytes: u64,
    smem_optin_bytes: u64,
    sm_clock_mhz: u32,
    mem_clock_mhz: u32,
    mem_bus_bits: u32,
    theoretical_bandwidth_gbs: f64,
    total_mem_bytes: u64,
    driver: String,
    tileattn_commit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ceilings: Option<tileattn::host::ceilings::CeilingDetail>,
}

pub fn run(args: Args) -> tileattn::host::Result<ExitCode> {
    let dev = super::common::open_device()?;
    let i = &dev.info;
    let info = Info {
        name: i.name.clone(),
        compute_capability: format!("{}.{}", i.compute_capability.0, i.compute_capability.1),
        sm_count: i.sm_count,
        l2_bytes: i.l2_bytes,
        smem_optin_bytes: i.smem_optin_bytes,
        sm_clock_mhz: i.sm_clock_mhz,
        mem_clock_mhz: i.mem_clock_mhz,
        mem_bus_bits: i.mem_bus_bits,
        theoretical_bandwidth_gbs: i.theoretical_bandwidth_gbs(),
        total_mem_bytes: i.total_mem_bytes,
        driver: i.driver_version_string(),
        tileattn_commit: tileattn::COMMIT,
        ceilings: None,
    };
    let mut info = info;
    if args.ceilings {
        let mut timer = tileattn::host::timing::Timer::new(&dev)?;
        let cfg = args.timing.config()?;
        let (_, detail) = super::common::measure_ceilings(&mut timer, &cfg)?;
        info.ceilings = Some(detail);
    }
    if args.json {
        super::common::print_json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("GPU                 {}", info.name);
    println!("compute capability  {}", info.compute_capability);
    println!("SMs                 {}", info.sm_count);
    println!(
        "L2                  {:.1} MiB",
        info.l2_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "shared mem / block  {} KiB (opt-in)",
        info.smem_optin_bytes / 1024
    );
    println!("SM clock (rated)    {} MHz", info.sm_clock_mhz);
    println!(
        "memory clock        {} MHz, {}-bit bus",
        info.mem_clock_mhz, info.mem_bus_bits
    );
    println!(
        "DRAM bandwidth      {:.0} GB/s theoretical",
        info.theoretical_bandwidth_gbs
    );
    println!(
        "memory              {:.1} GiB",
        info.total_mem_bytes as f64 / (1u64 << 30) as f64
    );
    println!("CUDA driver         {}", info.driver);
    println!("tileattn            {}", info.tileattn_commit);
    if let Some(c) = &info.ceilings {
        for (what, r, unit) in [
            ("copy", &c.copy, "GB/s"),
            ("bf16 mma.sync", &c.mma, "TFLOP/s"),
        ] {
            println!(
                "ceiling: {what:<14} {:>8.1} {unit:<8} (median {:.4} ms over {} samples, SM clock {:.0} MHz, {} low-clock samples)",
                r.value, r.median_ms, r.samples, r.median_clock_mhz, r.low_clock_samples
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
