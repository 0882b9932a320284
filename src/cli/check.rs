//! `tileattn check`: the random-shape correctness sweep, every variant or one.

use std::process::ExitCode;

use tileattn::host::check::{self, CaseSpace, Cases, Executor};
use tileattn::host::{Error, memory};

#[derive(clap::Args)]
pub struct Args {
    /// Random cases per variant.
    #[arg(long, default_value_t = 20)]
    cases: u32,
    /// Run on the CPU emulator even if a GPU is present.
    #[arg(long)]
    emulate: bool,
    /// Check only this variant (see `tileattn variants`).
    #[arg(long)]
    variant: Option<String>,
    /// Check only this kernel family (v0, v1, v2, v3).
    #[arg(long)]
    family: Option<String>,
    /// Fixed shapes instead of random ones: `B,Hq,Hkv,Sq,Sk;...` (each run in BSHD and BHSD).
    #[arg(long)]
    shapes: Option<String>,
    #[arg(long, value_name = "VALUES", help = super::measure_args::OPERAND_VALUES_HELP)]
    operand_values: Option<String>,
    /// Largest seqlen drawn (default: 1024 on the GPU, 300 on the emulator).
    #[arg(long)]
    max_seqlen: Option<u32>,
    /// Seed of the case generator (printed, so a failure can be replayed).
    #[arg(long)]
    seed: Option<u64>,
    /// Cases run at once (default: one per core; the f64 reference dominates).
    /// Use 1 under compute-sanitizer, whose tools track launches best from one thread.
    #[arg(long)]
    workers: Option<usize>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> tileattn::host::Result<ExitCode> {
    let reg = tileattn::registry();
    let family = args
        .family
        .as_deref()
        .map(super::common::parse_family)
        .transpose()?;
    let variants: Vec<_> = match &args.variant {
        Some(name) => vec![reg.find(name).ok_or_else(|| {
            Error::Invalid(format!("no variant `{name}` (see `tileattn variants`)"))
        })?],
        None => reg.variants.iter().collect(),
    }
    .into_iter()
    .filter(|v| family.is_none_or(|f| v.tile.family == f))
    .collect();
    if variants.is_empty() {
        return Err(Error::Invalid(
            "no variant matches --variant and --family together".into(),
        ));
    }
    if args.cases == 0 && args.shapes.is_none() {
        return Err(Error::Invalid(
            "--cases must be at least 1: a sweep of no case checks nothing".into(),
        ));
    }
    if args.workers == Some(0) {
        return Err(Error::Invalid("--workers must be at least 1".into()));
    }
    let values = super::measure_args::parse_operand_values(args.operand_values.as_deref())?
        .unwrap_or_default();
    let shapes = args.shapes.as_deref().map(parse_shapes).transpose()?;
    if shapes.as_ref().is_some_and(Vec::is_empty) {
        return Err(Error::Invalid(
            "--shapes names no shape: a sweep of no case checks nothing".into(),
        ));
    }
    let device = if args.emulate {
        None
    } else {
        match super::common::open_device() {
            Ok(d) => Some(d),
            Err(Error::NoDevice(why)) => {
                eprintln!("tileattn: no GPU ({why}); checking on the CPU emulator");
                None
            }
            Err(e) => return Err(e),
        }
    };
    let exec = device.as_ref().map_or(Executor::Emulator, Executor::Gpu);
    let max_seqlen = args
        .max_seqlen
        .unwrap_or(if device.is_some() { 1024 } else { 300 });
    if max_seqlen == 0 {
        return Err(Error::Invalid("--max-seqlen must be at least 1".into()));
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    // The workers to use (the f64 reference dominates; one per core).
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if shapes.is_none() {
        for v in &variants {
            let p = CaseSpace { max_seqlen }.largest(v);
            p.validate()
                .and_then(|()| memory::check_host(&p, workers))
                .map_err(|e| in_context(&format!("--max-seqlen {max_seqlen}"), e))?;
        }
    }
    // Every fixed shape, for every variant, is checked before anything runs:
    // an invalid or too large one is invalid input, not a failed case.
    for &shape @ [b, hq, hkv, sq, sk] in shapes.iter().flatten() {
        for v in &variants {
            let p = v.problem(shape);
            p.validate()
                .and_then(|()| memory::check_host(&p, workers))
                .map_err(|e| in_context(&format!("--shapes `{b},{hq},{hkv},{sq},{sk}`"), e))?;
        }
    }
    let cases_for = |i: usize| match &shapes {
        Some(s) => Cases::Shapes(s.clone()),
        None => Cases::Random {
            count: args.cases,
            space: CaseSpace { max_seqlen },
            seed: seed.wrapping_add(i as u64),
        },
    };
    let per_variant = cases_for(0).len();
    eprintln!(
        "checking {} variant(s) × {per_variant} cases on the {} (seed {seed}, seqlen ≤ {max_seqlen}{})",
        variants.len(),
        exec.name(),
        if values.is_default() {
            String::new()
        } else {
            format!(", inputs on {} values", values.name())
        }
    );

    let bar = super::progress::bar(variants.len() as u64 * per_variant as u64, "cases");
    // Each variant's row is printed as soon as it is known, so a sweep that is
    // interrupted (a time limit, Ctrl-C) still leaves every finished verdict.
    if !args.json {
        println!(
            "{:<48} {:>9} {:>12} {:>12}",
            "variant", "passed", "worst rel L2", "worst LSE"
        );
    }
    let mut summaries = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        bar.set_message(v.name);
        let s = check::sweep_variant(exec, v, &cases_for(i), values, workers, || bar.inc(1));
        if !args.json {
            // Not `bar.println`: indicatif drops those when stdout is not a terminal.
            bar.suspend(|| println!("{}", verdict_lines(&s)));
        }
        summaries.push(s);
    }
    bar.finish_and_clear();

    let failed: u32 = summaries.iter().map(|s| s.cases - s.passed).sum();
    if args.json {
        super::common::print_json(
            &serde_json::json!({ "executor": exec.name(), "seed": seed, "max_seqlen": max_seqlen, "variants": summaries }),
        )?;
    } else {
        let total: u32 = summaries.iter().map(|s| s.cases).sum();
        println!(
            "{} passed, {} failed ({}, seed {seed})",
            total - failed,
            failed,
            exec.name()
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::common::EXIT_FAILED)
    })
}

/// A variant's row of the verdict table, and one line per failed case.
/// An invalid-input error with the option that caused it in front.
fn in_context(option: &str, e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(format!("{option}: {m}")),
        e => e,
    }
}

fn verdict_lines(s: &check::VariantSummary) -> String {
    let mut out = format!(
        "{:<48} {:>4}/{:<4} {:>12.3e} {:>12.3e}",
        s.variant, s.passed, s.cases, s.worst_rel_l2, s.worst_lse_abs
    );
    for f in &s.failures {
        let error = f
            .error
            .as_deref()
            .map(|e| format!(", error: {e}"))
            .unwrap_or_default();
        out += &format!(
            "\n    FAIL {} ({} inputs, seed {}): rel L2 {:.3e}, LSE {:.3e}{error}",
            f.problem, f.input_layout, f.seed, f.rel_l2, f.lse_max_abs
        );
    }
    out
}

/// `B,Hq,Hkv,Sq,Sk;B,Hq,Hkv,Sq,Sk;...`
fn parse_shapes(text: &str) -> tileattn::host::Result<Vec<[u32; 5]>> {
    text.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let n: Vec<u32> = s
                .split(',')
                .map(|x| x.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| Error::Invalid(format!("shape `{s}`: not whole numbers")))?;
            <[u32; 5]>::try_from(n)
                .map_err(|_| Error::Invalid(format!("shape `{s}`: expected B,Hq,Hkv,Sq,Sk")))
        })
        .collect()
}
