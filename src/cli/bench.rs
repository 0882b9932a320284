//! `tileattn bench`: a suite, tileattn's tuned variant and optionally torch's
//! SDPA backends, one protocol, one versioned run file.

use std::path::PathBuf;
use std::process::ExitCode;

use tileattn::host::bench::{self, BenchConfig};
use tileattn::host::output::FilePlan;
use tileattn::host::run_record;
use tileattn::host::runfile::CacheMode;
use tileattn::host::timing::Timer;
use tileattn::host::torch_side::{self, Backend, Started, Timeouts};
use tileattn::host::tune_cache::{self, BuildIdentity, TuneCache};
use tileattn::host::{Error, Result, ceilings};

use super::measure_args::TimingArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Built-in suite: seed, fa2, cliff, gqa.
    #[arg(
        long,
        required_unless_present = "suite_file",
        conflicts_with = "suite_file"
    )]
    suite: Option<String>,
    #[arg(long, value_name = "PATH", help = super::measure_args::SUITE_FILE_HELP)]
    suite_file: Option<PathBuf>,
    #[arg(long, value_name = "VALUES", help = super::measure_args::OPERAND_VALUES_HELP)]
    operand_values: Option<String>,
    /// Also measure PyTorch's SDPA backends on the same inputs (`torch`).
    #[arg(long)]
    compare: Option<String>,
    /// Torch backends to compare with, comma-separated.
    #[arg(long, default_value = "flash,efficient,cudnn,math")]
    backends: String,
    /// Cache modes, comma-separated (default: cold; the cliff suite: cold,hot).
    #[arg(long)]
    modes: Option<String>,
    /// Directory for the run file (SUITE.json), its report (SUITE.md) and figures (SUITE-*.svg).
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// Tuning cache (default: $TILEATTN_TUNE_CACHE, else ~/.cache/tileattn/tune.json).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Skip measuring the device's ceilings.
    #[arg(long)]
    no_ceilings: bool,
    #[command(flatten)]
    timing: TimingArgs,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let values = super::measure_args::parse_operand_values(args.operand_values.as_deref())?;
    let (suite, problems) =
        super::measure_args::suite(args.suite.as_deref(), args.suite_file.as_deref(), values)?
            .ok_or_else(|| Error::Invalid("--suite or --suite-file is required".into()))?;
    let backends: Vec<Backend> = match args.compare.as_deref() {
        None => Vec::new(),
        Some("torch") => args
            .backends
            .split(',')
            .map(|b| {
                Backend::parse(b.trim()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "backend `{b}`: expected flash, efficient, cudnn or math"
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(x) => {
            return Err(Error::Invalid(format!(
                "--compare {x}: only `torch` is known"
            )));
        }
    };
    let default_modes = if suite == "cliff" { "cold,hot" } else { "cold" };
    let modes = args
        .modes
        .as_deref()
        .unwrap_or(default_modes)
        .split(',')
        .map(|m| match m.trim() {
            "cold" => Ok(CacheMode::Cold),
            "hot" => Ok(CacheMode::Hot),
            x => Err(Error::Invalid(format!("mode `{x}`: expected cold or hot"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let timing = args.timing.config()?;
    let cache_path = args.cache.clone().unwrap_or_else(tune_cache::default_path);
    let mut files = FilePlan::new();
    if let Some(s) = &args.suite_file {
        files.input(s);
    }
    files
        .update(&cache_path)?
        .output(&args.out.join(format!("{suite}.json")))?
        .output(&args.out.join(format!("{suite}.md")))?;
    for f in tileattn::host::plot::Figure::ALL {
        files.output(&f.path(&args.out, &suite))?;
    }
    let dev = super::common::open_device()?;
    let reg = tileattn::registry();
    let mut cache = {
        let path = cache_path;
        let (cache, notices) = TuneCache::load(path, BuildIdentity::of(&dev.info, &reg))?;
        for n in notices {
            eprintln!("tileattn: {n}");
        }
        cache
    };
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut torch = None;
    if !backends.is_empty() {
        match torch_side::TorchSide::spawn(
            &torch_side::default_python(),
            &torch_side::default_script(),
            Timeouts::default(),
        )? {
            Started::Ready(t) => torch = Some(t),
            Started::Unavailable(why) => {
                eprintln!("tileattn: no torch baseline ({why}); measuring tileattn alone")
            }
        }
    }
    let torch_version = torch.as_ref().map(|t| t.hello().torch.clone());

    let mut timer = Timer::new(&dev)?;
    let measured_ceilings = if args.no_ceilings {
        None
    } else {
        eprintln!("measuring the device's ceilings");
        Some(ceilings::measure(&mut timer, &timing)?.0)
    };
    let cfg = BenchConfig {
        problems,
        modes,
        timing,
        backends,
        seed: args.seed,
    };
    let started = std::time::SystemTime::now();
    let (measurements, tuning) = bench::run(
        &mut timer,
        &reg,
        &cfg,
        Some(&mut cache),
        torch.as_deref_mut(),
        scratch.path(),
        &|line| eprintln!("{line}"),
    )?;
    cache.save()?;
    let mut env = run_record::environment(&dev, tileattn::COMMIT, measured_ceilings);
    env.torch_version = torch_version;
    let run = run_record::run_file(&suite, started, env, measurements, tuning);
    let path = args.out.join(format!("{suite}.json"));
    run.save(&path)?;
    println!("wrote {}", path.display());
    if let Some(t) = torch {
        t.quit()?;
    }
    // The report and figures are computed from the run alone; if drawing fails,
    // the measurements are already safe and `tileattn plot`/`report` can retry.
    let outputs = super::report::write(&run, &args.out.join(format!("{suite}.md")))
        .and_then(|()| super::plot::write(&run, &args.out, &suite));
    if let Err(e) = outputs {
        eprintln!(
            "tileattn: the run is saved in {}; `tileattn report` and `tileattn plot` redo what failed",
            path.display()
        );
        return Err(e);
    }
    let failed = run
        .measurements
        .iter()
        .any(|m| m.correctness.as_ref().is_some_and(|c| !c.passed));
    Ok(if failed {
        eprintln!("tileattn: some compared output failed the reference check (see the run file)");
        ExitCode::from(super::common::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
