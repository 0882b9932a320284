//! The request/reply format `scripts/sdpa_baseline.py` speaks: one JSON
//! object per line each way, versioned by [`PROTOCOL`].

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::runfile::{CacheMode, Warmup};
use crate::timing::WarmupRule;

/// Version of the request/reply format; the script's `hello` must say the same.
pub const PROTOCOL: u32 = 2;
/// GPU busy-wait queued before each timed launch. Python needs tens of µs to
/// dispatch an SDPA call; the lead keeps the GPU busy meanwhile, so the start
/// event does not fire early and count host time as kernel time. It is timed
/// by events too and doubles as the clock probe: a known number of SM cycles
/// over the time they took.
pub const DEFAULT_LEAD_US: f64 = 200.0;

/// A PyTorch SDPA backend, forced with `torch.nn.attention.sdpa_kernel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// FlashAttention-2 as vendored in torch.
    Flash,
    /// The memory-efficient (xFormers/CUTLASS) kernels.
    Efficient,
    /// cuDNN's fused attention.
    Cudnn,
    /// The unfused composite: materialises the scores, so it runs only where they fit.
    Math,
}

impl Backend {
    pub const ALL: [Backend; 4] = [
        Backend::Flash,
        Backend::Efficient,
        Backend::Cudnn,
        Backend::Math,
    ];

    /// The name on the wire and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Flash => "flash",
            Backend::Efficient => "efficient",
            Backend::Cudnn => "cudnn",
            Backend::Math => "math",
        }
    }

    /// `Measurement::implementation` in run files.
    pub const fn implementation(self) -> &'static str {
        match self {
            Backend::Flash => "torch-flash",
            Backend::Efficient => "torch-efficient",
            Backend::Cudnn => "torch-cudnn",
            Backend::Math => "torch-math",
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// What the script says about its torch and GPU.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Hello {
    pub protocol: u32,
    /// `torch.__version__`, e.g. `2.11.0+cu130`.
    pub torch: String,
    /// CUDA version torch was built for (None for a ROCm build).
    pub cuda: Option<String>,
    pub gpu: String,
    /// `"9.0"` style, as `Environment::compute_capability`.
    pub capability: String,
    /// Backends compiled into this torch build.
    pub backends: Vec<Backend>,
}

/// The inputs are on the GPU.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Loaded {
    /// Q, K and V in the problem's dtype.
    pub input_bytes: u64,
    /// Query rows per (batch, head) that see no key (bottom-right causal with Sq > Sk):
    /// tileattn writes zeros there, which not every backend does.
    pub fully_masked_rows: u32,
}

/// How a backend computes the loaded problem: worth a line in every report,
/// because "torch" is several different programs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Plan {
    /// The torch entry point, e.g. `F.scaled_dot_product_attention`.
    pub call: String,
    /// `none`, `native` (`enable_gqa`) or `repeat_interleave` (K/V copied per query head).
    pub gqa: String,
    /// `none`, `is_causal`, `flash_bottom_right`, `efficient_lower_right` or `materialized_lower_right`.
    pub mask: String,
}

#[derive(Clone, Debug, Deserialize)]
pub(super) struct RunReply {
    pub(super) plan: Plan,
}

/// One batch of timings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Samples {
    /// One CUDA-event time per launch, in request order.
    pub samples_ms: Vec<f64>,
    /// The SM clock the lead measured before each launch (None: no reading,
    /// as where this torch has no `torch.cuda._sleep`).
    pub clock_mhz: Vec<Option<f64>>,
    /// The warm-up, in the reply to a measurement's first request only.
    pub warmup: Option<Warmup>,
    /// The lead actually queued (0 where this torch has no `torch.cuda._sleep`).
    pub lead_us: f64,
    pub plan: Plan,
}

impl Samples {
    /// Clock readings with NaN for "none", as [`crate::timing::Timed`] holds them.
    pub fn clock_or_nan(&self) -> impl Iterator<Item = f64> + '_ {
        self.clock_mhz.iter().map(|c| c.unwrap_or(f64::NAN))
    }
}

/// How to take samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub mode: CacheMode,
    /// Bytes zeroed before every cold sample: at least twice the device's L2.
    pub flush_bytes: u64,
    pub lead_us: f64,
    /// The warm-up before a measurement's first samples.
    pub warmup: WarmupRule,
}

impl Sampling {
    /// L2 flushed before every sample by zeroing `flush_bytes`.
    pub fn cold(flush_bytes: u64, warmup: WarmupRule) -> Sampling {
        Sampling {
            mode: CacheMode::Cold,
            flush_bytes,
            lead_us: DEFAULT_LEAD_US,
            warmup,
        }
    }

    /// Back-to-back samples; inputs may stay in L2.
    pub fn hot(warmup: WarmupRule) -> Sampling {
        Sampling {
            mode: CacheMode::Hot,
            flush_bytes: 0,
            ..Sampling::cold(0, warmup)
        }
    }
}

/// A [`WarmupRule`] on the wire, in milliseconds.
#[derive(Serialize)]
pub(super) struct WireWarmup {
    min_ms: f64,
    max_ms: f64,
    tolerance: f64,
    batch_ms: f64,
}

impl From<&WarmupRule> for WireWarmup {
    fn from(r: &WarmupRule) -> Self {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        WireWarmup {
            min_ms: ms(r.min),
            max_ms: ms(r.max),
            tolerance: r.tolerance,
            batch_ms: ms(r.batch),
        }
    }
}

/// The answer to a request the script understood.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<T> {
    Done(T),
    /// This backend cannot compute this problem (mask alignment, GQA, head dim...):
    /// a row in the report, not an error.
    Unsupported(String),
    /// Not enough GPU memory (MATH at long sequences); the script freed what it could.
    OutOfMemory(String),
}

impl<T> Outcome<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(t) => Outcome::Done(f(t)),
            Outcome::Unsupported(m) => Outcome::Unsupported(m),
            Outcome::OutOfMemory(m) => Outcome::OutOfMemory(m),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub(super) enum Request<'a> {
    Hello,
    Load {
        problem: WireProblem,
        q: &'a Path,
        k: &'a Path,
        v: &'a Path,
    },
    Run {
        backend: Backend,
        out: &'a Path,
    },
    Sample {
        backend: Backend,
        n: u32,
        /// The first request of a measurement: warm up, then start its stream.
        first: bool,
        mode: CacheMode,
        flush_bytes: u64,
        lead_us: f64,
        warmup: WireWarmup,
        filler_ms: f64,
    },
    /// The measurement is over: wait for its filler.
    End,
    Free,
    Quit,
}

impl Request<'_> {
    /// For messages: `load`, `run flash`...
    pub(super) fn describe(&self) -> String {
        match self {
            Request::Hello => "hello".into(),
            Request::Load { .. } => "load".into(),
            Request::Run { backend, .. } => format!("run {}", backend.name()),
            Request::Sample { backend, .. } => format!("sample {}", backend.name()),
            Request::End => "end".into(),
            Request::Free => "free".into(),
            Request::Quit => "quit".into(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct WireProblem {
    batch: u32,
    heads_q: u32,
    heads_kv: u32,
    seqlen_q: u32,
    seqlen_k: u32,
    head_dim: u32,
    dtype: &'static str,
    causal: bool,
    /// The f32 scale widened exactly, so every backend multiplies by the value tileattn uses.
    scale: f64,
}

impl From<&Problem> for WireProblem {
    fn from(p: &Problem) -> Self {
        WireProblem {
            batch: p.batch,
            heads_q: p.heads_q,
            heads_kv: p.heads_kv,
            seqlen_q: p.seqlen_q,
            seqlen_k: p.seqlen_k,
            head_dim: p.head_dim,
            dtype: p.dtype.name(),
            causal: p.causal,
            scale: f64::from(p.softmax_scale),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct FailureReply {
    pub(super) kind: String,
    pub(super) error: String,
}

/// A reply the script could give: its result, or a failure it owns up to.
pub(super) enum Reply<T> {
    Ok(T),
    Failed { kind: String, error: String },
}
