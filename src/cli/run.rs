//! `tileattn run`: attention on the user's own tensors from `.npy` files.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use tileattn::host::device::Device;
use tileattn::host::npy::{self, Array};
use tileattn::host::output::{Batch, FilePlan};
use tileattn::host::problem_key::ProblemKey;
use tileattn::host::tensor::Layout;
use tileattn::host::{Error, emulate, inputs, tune_cache};

use super::written::Written;

#[derive(clap::Args)]
pub struct Args {
    /// Queries, float16 or float32 `.npy`, shape [batch, seqlen_q, heads_q, head_dim] (BSHD).
    #[arg(long)]
    q: PathBuf,
    /// Keys, [batch, seqlen_k, heads_kv, head_dim].
    #[arg(long)]
    k: PathBuf,
    /// Values, [batch, seqlen_k, heads_kv, head_dim].
    #[arg(long)]
    v: PathBuf,
    /// Bottom-right aligned causal mask (FlashAttention ≥ 2.1; equals PyTorch's `is_causal` when seqlen_q = seqlen_k).
    #[arg(long)]
    causal: bool,
    /// Softmax scale (default 1/√head_dim).
    #[arg(long)]
    scale: Option<f32>,
    /// Compute dtype the inputs are rounded to: f16 or bf16.
    #[arg(long, default_value = super::measure_args::DEFAULT_DTYPE)]
    dtype: String,
    /// `bf16`: round every input value to the nearest bf16 value before storing
    /// it in --dtype (for f16, the numbers a bf16 run computes on); `dtype`
    /// (the default): round to --dtype only.
    #[arg(long, value_name = "VALUES")]
    operand_values: Option<String>,
    /// Variant to run (default: the documented heuristic, see docs/cli.md).
    #[arg(long)]
    variant: Option<String>,
    /// Output O, float32 `.npy`, [batch, seqlen_q, heads_q, head_dim].
    #[arg(long)]
    out: PathBuf,
    /// Also write the log-sum-exp, float32 `.npy`, [batch, heads_q, seqlen_q].
    #[arg(long)]
    lse: Option<PathBuf>,
    /// Run on the CPU emulator instead of the GPU.
    #[arg(long)]
    emulate: bool,
    /// Print what ran and what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Ran {
    problem: ProblemKey,
    variant: &'static str,
    /// How the variant was chosen: named, tuning cache, or the default heuristic.
    chosen_by: &'static str,
    /// `GPU` or `CPU emulator`.
    executor: &'static str,
    #[serde(flatten)]
    written: Written,
}

fn shape4(name: &str, path: &std::path::Path, a: &Array) -> tileattn::host::Result<[u32; 4]> {
    let dims: Vec<u32> = a
        .shape
        .iter()
        .map(|&d| u32::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::format(path, "dimension too large"))?;
    <[u32; 4]>::try_from(dims).map_err(|_| {
        Error::format(
            path,
            format!(
                "{name} must have rank 4 [batch, seq, heads, head_dim], it has shape {:?}",
                a.shape
            ),
        )
    })
}

pub fn run(args: Args) -> tileattn::host::Result<ExitCode> {
    let dtype = super::measure_args::parse_dtype(&args.dtype)?;
    let values = super::measure_args::parse_operand_values(args.operand_values.as_deref())?
        .unwrap_or_default();
    let mut files = FilePlan::new();
    files.input(&args.q).input(&args.k).input(&args.v);
    if !args.emulate {
        files.input(&tune_cache::default_path());
    }
    files.output(&args.out)?;
    if let Some(lse) = &args.lse {
        files.output(lse)?;
    }
    let (mut qa, mut ka, mut va) = (
        npy::read(&args.q)?,
        npy::read(&args.k)?,
        npy::read(&args.v)?,
    );
    let (qs, ks, vs) = (
        shape4("q", &args.q, &qa)?,
        shape4("k", &args.k, &ka)?,
        shape4("v", &args.v, &va)?,
    );
    let p =
        inputs::problem(qs, ks, vs, dtype, args.causal, args.scale)?.with_operand_values(values);
    for x in [&mut qa, &mut ka, &mut va]
        .into_iter()
        .flat_map(|a| a.data.iter_mut())
    {
        *x = values.round(*x);
    }
    let [q, k, v] = inputs::tensors(&p, &qa.data, &ka.data, &va.data)?;

    let device = if args.emulate {
        None
    } else {
        Some(super::common::open_device()?)
    };
    let (variant, rule) =
        super::common::pick_variant(device.as_ref(), &p, args.variant.as_deref())?;
    let executor = if device.is_some() {
        "GPU"
    } else {
        "CPU emulator"
    };
    let (o, lse) = super::progress::spinning(
        format!("running {} on the {executor}", variant.name),
        || match &device {
            Some(d) => Device::run(d, variant, &p, &q, &k, &v),
            None => emulate::run(variant, &p, &q, &k, &v, Layout::Bshd),
        },
    )?;
    let o_f32 = inputs::bshd_f32(&o);
    // O and LSE are one result: both new files or both old ones.
    let mut batch = Batch::new();
    batch.add(
        &args.out,
        &npy::encode_f32(
            &[
                p.batch as usize,
                p.seqlen_q as usize,
                p.heads_q as usize,
                p.head_dim as usize,
            ],
            &o_f32,
        ),
    )?;
    if let Some(path) = &args.lse {
        batch.add(
            path,
            &npy::encode_f32(
                &[p.batch as usize, p.heads_q as usize, p.seqlen_q as usize],
                &lse,
            ),
        )?;
    }
    let written = Written {
        written: batch.commit()?,
        figures_skipped: Vec::new(),
    };
    eprintln!("{p}: ran {} on the {executor}", variant.name);
    if args.json {
        super::common::print_json(&Ran {
            problem: p.key(),
            variant: variant.name,
            chosen_by: rule.describe(),
            executor,
            written,
        })?;
    } else {
        written.print();
    }
    Ok(ExitCode::SUCCESS)
}
