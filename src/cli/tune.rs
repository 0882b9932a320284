//! `tileattn tune`: verify, time and rank every valid variant for a shape or a
//! suite of shapes; record the winners in the tuning cache.

use std::path::PathBuf;
use std::process::ExitCode;

use tileattn::host::output::FilePlan;
use tileattn::host::problem::Problem;
use tileattn::host::timing::Timer;
use tileattn::host::tune::{self, Outcome, TuneConfig, Tuned};
use tileattn::host::tune_cache::{self, BuildIdentity, Strategy, TuneCache};
use tileattn::host::{Error, Result};

use super::measure_args::{ProblemArgs, TimingArgs, seconds};
use super::tables::measurement_table;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    problem: ProblemArgs,
    /// Tune every shape of a built-in suite (seed, fa2, cliff, gqa) instead of --shape.
    #[arg(long, conflicts_with_all = ["shape", "suite_file", "causal", "dtype"])]
    suite: Option<String>,
    #[arg(long, value_name = "PATH", conflicts_with_all = ["shape", "causal", "dtype"], help = super::measure_args::SUITE_FILE_HELP)]
    suite_file: Option<PathBuf>,
    /// exhaustive (every candidate to full precision) or halving (successive halving).
    #[arg(long, default_value = "exhaustive")]
    strategy: String,
    /// Time limit per shape, seconds (candidates not reached are reported as skipped).
    #[arg(long)]
    budget: Option<f64>,
    /// Only this kernel family.
    #[arg(long)]
    family: Option<String>,
    #[command(flatten)]
    timing: TimingArgs,
    /// Tuning cache file (default: $TILEATTN_TUNE_CACHE, else ~/.cache/tileattn/tune.json).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Do not record the winners in the tuning cache.
    #[arg(long)]
    no_save: bool,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let values = super::measure_args::parse_operand_values(args.problem.operand_values.as_deref())?;
    let suite =
        super::measure_args::suite(args.suite.as_deref(), args.suite_file.as_deref(), values)?;
    let problems: Vec<Problem> = match suite {
        Some((_, problems)) => problems,
        None => vec![args.problem.problem()?],
    };
    let strategy = match args.strategy.as_str() {
        "exhaustive" => Strategy::Exhaustive,
        "halving" => Strategy::Halving,
        s => {
            return Err(Error::Invalid(format!(
                "strategy `{s}`: expected exhaustive or halving"
            )));
        }
    };
    let cfg = TuneConfig {
        strategy,
        budget: args.budget.map(|b| seconds("--budget", b)).transpose()?,
        timing: args.timing.config()?,
        family: args
            .family
            .as_deref()
            .map(super::common::parse_family)
            .transpose()?,
        seed: args.seed,
    };
    let cache_path = args.cache.clone().unwrap_or_else(tune_cache::default_path);
    let mut files = FilePlan::new();
    if let Some(s) = &args.suite_file {
        files.input(s);
    }
    if !args.no_save {
        files.update(&cache_path)?;
    }
    let dev = super::common::open_device()?;
    let reg = tileattn::registry();
    let mut cache = if args.no_save {
        None
    } else {
        let path = cache_path;
        let (cache, notices) = TuneCache::load(path, BuildIdentity::of(&dev.info, &reg))?;
        for n in notices {
            eprintln!("tileattn: {n}");
        }
        Some(cache)
    };
    let mut timer = Timer::new(&dev)?;
    let mut results: Vec<Tuned> = Vec::new();
    for (n, p) in problems.iter().enumerate() {
        let bar = super::progress::bar(reg.candidates(p, cfg.family).count() as u64, "candidates");
        bar.set_prefix(format!("[{}/{}] {p} ", n + 1, problems.len()));
        let t = tune::tune(&mut timer, &reg, p, &cfg, &|done, _, name| {
            bar.set_position(done as u64);
            bar.set_message(name.to_string());
        })?;
        bar.finish_and_clear();
        if let (Some(c), Some(entry)) = (cache.as_mut(), t.cache_entry(p)) {
            c.record(entry)?;
        }
        if !args.json {
            print_tuned(p, &t);
        }
        results.push(t);
    }
    if let Some(c) = cache.as_mut() {
        c.save()?;
        eprintln!("tuning cache: {}", c.path().display());
    }
    if args.json {
        super::common::print_json(&results)?;
    }
    let nothing_timed = results.iter().any(|t| t.winner().is_none());
    Ok(if nothing_timed {
        ExitCode::from(super::common::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_tuned(p: &Problem, t: &Tuned) {
    println!(
        "\n{p}: {} strategy, {:.1} s, each candidate verified on {} reference rows first",
        match t.strategy {
            Strategy::Exhaustive => "exhaustive",
            Strategy::Halving => "halving",
        },
        t.elapsed_s,
        t.verified_rows
    );
    let timed: Vec<_> = t.timed().map(|(_, m)| m).collect();
    print!("{}", measurement_table(&timed, None));
    for c in &t.candidates {
        match &c.outcome {
            Outcome::Timed { .. } => {}
            Outcome::Wrong { correctness } => println!(
                "  EXCLUDED {}: wrong output (rel L2 {:.3e} > {:.0e})",
                c.variant, correctness.rel_l2_err, correctness.tolerance
            ),
            Outcome::Failed { error } => println!("  EXCLUDED {}: {error}", c.variant),
            Outcome::Pruned {
                first_run_ms,
                leader_ms,
            } => println!(
                "  PRUNED {}: correct, but its first run took {first_run_ms:.3} ms, over {:.0}× the leader's {leader_ms:.3} ms",
                c.variant,
                tune::PRUNE_FACTOR
            ),
            Outcome::Skipped => println!("  SKIPPED {}: the time budget ran out", c.variant),
        }
    }
    if let Some(po) = &t.playoff {
        let ratios: Vec<String> = po.ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "playoff: {} and {} were not distinguishable, so each was timed again in {} rounds \
             (back to back, alternating which went first): second/first = {}; round {} (the median) \
             decides{} and its medians are the ones above",
            po.variants[0],
            po.variants[1],
            ratios.len(),
            ratios.join(", "),
            po.deciding_round() + 1,
            if po.reversed() {
                ", reversing the first ranking,"
            } else {
                ""
            }
        );
    }
    match (&t.margin, t.winner()) {
        (Some(m), Some((w, _))) => println!(
            "winner {w}: runner-up/winner = {:.3} (95% CI {:.3}–{:.3}) — {}",
            m.ratio,
            m.lo,
            m.hi,
            if t.distinguishable {
                "distinguishable"
            } else {
                "NOT distinguishable from the runner-up"
            }
        ),
        (None, Some((w, _))) => println!("winner {w} (the only timed candidate)"),
        _ => println!("no candidate could be timed"),
    }
}
