//! `tileattn time`: one variant on one shape, verified, then measured with the
//! full statistics of the timing protocol.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use tileattn::host::output::FilePlan;
use tileattn::host::registry::Variant;
use tileattn::host::run_record;
use tileattn::host::runfile::{Ceilings, Measurement};
use tileattn::host::timing::Timer;
use tileattn::host::workload::{Verdict, Workload, verify_and_time};
use tileattn::host::{Error, Result, tune_cache};

use super::measure_args::{ProblemArgs, TimingArgs};
use super::tables::{measurement_table, print_ceilings};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    problem: ProblemArgs,
    /// The variant to time (default: the documented heuristic's choice).
    #[arg(long)]
    variant: Option<String>,
    #[command(flatten)]
    timing: TimingArgs,
    /// Also measure this device's ceilings and report percentages of them.
    #[arg(long)]
    ceilings: bool,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the run (environment, summary, every sample) as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the measurement as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let p = args.problem.problem()?;
    let cfg = args.timing.config()?;
    if let Some(out) = &args.out {
        FilePlan::new()
            .input(&tune_cache::default_path())
            .output(out)?;
    }
    let dev = super::common::open_device()?;
    let (v, _): (&'static Variant, _) =
        super::common::pick_variant(Some(&dev), &p, args.variant.as_deref())?;
    let mut timer = Timer::new(&dev)?;
    let ceilings: Option<Ceilings> = if args.ceilings {
        let (c, detail) = super::common::measure_ceilings(&mut timer, &cfg)?;
        if !args.json {
            print_ceilings(&c, &detail);
        }
        Some(c)
    } else {
        None
    };
    let sets = Workload::sets_for(&dev, &p, cfg.mode);
    let mut w = Workload::new(&dev, &p, sets, args.seed)?;
    let verdict = super::progress::spinning(format!("verifying, then timing {}", v.name), || {
        verify_and_time(&mut timer, &mut w, v, &cfg, None)
    })?;
    let m: Measurement = match verdict {
        Verdict::Timed(m) => *m,
        Verdict::Pruned { .. } => {
            return Err(Error::Invalid(
                "a variant was pruned without a cut-off".into(),
            ));
        }
        Verdict::Wrong(c) => {
            eprintln!(
                "tileattn: {} is wrong on {p}: rel L2 {:.3e} > {:.0e} on {} reference rows; not timed",
                v.name,
                c.rel_l2_err,
                c.tolerance,
                w.check_rows()
            );
            return Ok(ExitCode::from(super::common::EXIT_FAILED));
        }
    };
    if args.json {
        super::common::print_json(&m)?;
    } else {
        println!("{p}, {} input set(s), {:?} L2", w.input_sets(), m.mode);
        print!("{}", measurement_table(&[&m], ceilings.as_ref()));
    }
    if let Some(path) = &args.out {
        let env = run_record::environment(&dev, tileattn::COMMIT, ceilings);
        let run = run_record::run_file("adhoc", SystemTime::now(), env, vec![m], Vec::new());
        run.save(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
