//! `cargo bench`: the `fa2` suite on this machine's GPU (tileattn alone, cold L2,
//! the tuning cache or a fresh tuning per shape), printed as a table. Without
//! a GPU it prints one skip line and succeeds, so `cargo bench` is safe in CI.
//! For the side-by-side run with torch and the run file, use
//! `tileattn bench --suite fa2 --compare torch`.

use tileattn::host::bench::{self, BenchConfig, Selection};
use tileattn::host::device::Device;
use tileattn::host::runfile::CacheMode;
use tileattn::host::timing::{Timer, TimingConfig};
use tileattn::host::{Error, suites};

fn main() {
    if let Err(e) = run() {
        eprintln!("fa2 bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> tileattn::host::Result<()> {
    let dev = match Device::open(0, tileattn::registry()) {
        Ok(d) => d,
        Err(Error::NoDevice(why)) => {
            println!("fa2 bench: skipped, no GPU ({why})");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let cfg = BenchConfig {
        problems: suites::builtin("fa2")?,
        selection: Selection::Tuned,
        modes: vec![CacheMode::Cold],
        timing: TimingConfig::default(),
        backends: Vec::new(),
        seed: 1,
    };
    let scratch = std::env::temp_dir();
    let mut timer = Timer::new(&dev)?;
    let (ms, _) = bench::run(
        &mut timer,
        &tileattn::registry(),
        &cfg,
        None,
        None,
        &scratch,
        &|event| eprintln!("{event}"),
    )?;
    println!(
        "{:<44} {:>10} {:>21} {:>8}",
        "problem", "median ms", "95% CI ms", "TFLOP/s"
    );
    for m in &ms {
        let p = &m.problem;
        let name = format!(
            "B={} H={} S={} D={} {}{}",
            p.batch,
            p.heads_q,
            p.seqlen_q,
            p.head_dim,
            p.dtype,
            if p.causal { " causal" } else { "" }
        );
        let s = &m.summary;
        println!(
            "{name:<44} {:>10.4} {:>10.4}–{:<10.4} {:>8.1}",
            s.median_ms, s.ci_low_ms, s.ci_high_ms, m.tflops
        );
    }
    Ok(())
}
