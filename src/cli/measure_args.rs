//! Options shared by the commands that measure: the problem and the timing protocol.

use std::path::Path;
use std::time::Duration;

use tileattn::host::operand_values::OperandValues;
use tileattn::host::problem::{self, Problem};
use tileattn::host::runfile::CacheMode;
use tileattn::host::stats::StopRule;
use tileattn::host::suite_file::UserSuite;
use tileattn::host::suites;
use tileattn::host::timing::{TimingConfig, WarmupRule};
use tileattn::host::{Error, Result};
use tileattn::kernels::DType;

#[derive(clap::Args, Clone)]
pub struct ProblemArgs {
    /// `B,Hq,S,D`, `B,Hq,Hkv,S,D` or `B,Hq,Hkv,Sq,Sk,D`.
    #[arg(long)]
    pub shape: Option<String>,
    /// Bottom-right aligned causal mask.
    #[arg(long)]
    pub causal: bool,
    /// f16 or bf16.
    #[arg(long, default_value = DEFAULT_DTYPE)]
    pub dtype: String,
    #[arg(long, value_name = "VALUES", help = OPERAND_VALUES_HELP)]
    pub operand_values: Option<String>,
}

impl ProblemArgs {
    pub fn problem(&self) -> Result<Problem> {
        let shape = self
            .shape
            .as_deref()
            .ok_or_else(|| Error::Invalid("--shape is required".into()))?;
        let p = Problem::parse_shape(shape, parse_dtype(&self.dtype)?, self.causal)?;
        Ok(p.with_operand_values(
            parse_operand_values(self.operand_values.as_deref())?.unwrap_or_default(),
        ))
    }
}

/// The dtype of every command that takes `--dtype`, when it is not given.
pub const DEFAULT_DTYPE: &str = "bf16";

pub fn parse_dtype(s: &str) -> Result<DType> {
    DType::parse(s).ok_or_else(|| Error::Invalid(format!("dtype `{s}`: expected f16 or bf16")))
}

/// Help shown for `--operand-values`.
pub const OPERAND_VALUES_HELP: &str = "Values of Q, K and V: `dtype` (standard-normal draws \
rounded to the dtype; the default) or `bf16` (each draw rounded to the nearest bf16 value first, \
then stored in the dtype: f16 on the numbers of its bf16 twin; a no-op for bf16). On a suite \
(bench, tune) it sets every problem's values, whatever the suite file says.";

/// `--operand-values`, if given.
pub fn parse_operand_values(flag: Option<&str>) -> Result<Option<OperandValues>> {
    flag.map(|s| {
        OperandValues::parse(s).map_err(|m| Error::Invalid(format!("--operand-values: {m}")))
    })
    .transpose()
}

#[derive(clap::Args, Clone)]
pub struct TimingArgs {
    /// Keep L2 warm between samples (default: flush L2 before every sample).
    #[arg(long)]
    pub hot: bool,
    /// Stop when the 95% CI of the median is within ± this fraction of it.
    #[arg(long, default_value_t = 0.01)]
    pub rel_ci: f64,
    /// Samples taken whatever the CI or the budget says (at least 2).
    #[arg(long, default_value_t = 10)]
    pub min_samples: usize,
    /// Most samples per measurement, converged or not.
    #[arg(long, default_value_t = 2000)]
    pub max_samples: usize,
    /// Sampling time limit per measurement, seconds.
    #[arg(long, default_value_t = 2.0)]
    pub sample_budget: f64,
    /// Least warm-up before the first sample, milliseconds (default 200). The
    /// warm-up runs the sample sequence until the probed SM clock settles (two
    /// batches within 1%).
    #[arg(long)]
    pub warmup_ms: Option<u64>,
    /// Most warm-up, milliseconds (default 1000 or --warmup-ms if larger).
    /// Equal to --warmup-ms, the warm-up lasts that long whatever the clock does.
    #[arg(long)]
    pub warmup_max_ms: Option<u64>,
}

impl TimingArgs {
    /// The protocol for measurements.
    pub fn config(&self) -> Result<TimingConfig> {
        self.config_from(WarmupRule::MEASURE)
    }

    fn config_from(&self, defaults: WarmupRule) -> Result<TimingConfig> {
        let budget = seconds("--sample-budget", self.sample_budget)?;
        let min = self.warmup_ms.map_or(defaults.min, Duration::from_millis);
        let max = self
            .warmup_max_ms
            .map_or(defaults.max.max(min), Duration::from_millis);
        let warmup = WarmupRule {
            min,
            max,
            ..defaults
        };
        warmup.validate()?;
        let rule = StopRule {
            rel_half_width: self.rel_ci,
            min_samples: self.min_samples,
            max_samples: self.max_samples,
            budget,
            ..StopRule::default()
        };
        rule.validate()?;
        Ok(TimingConfig {
            mode: if self.hot {
                CacheMode::Hot
            } else {
                CacheMode::Cold
            },
            rule,
            warmup,
        })
    }
}

/// A positive, finite number of seconds that a `Duration` holds.
pub fn seconds(flag: &str, s: f64) -> Result<Duration> {
    (s.is_finite() && s > 0.0)
        .then(|| Duration::try_from_secs_f64(s).ok())
        .flatten()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{flag} must be a positive number of seconds (at most {:e}), got {s}",
                Duration::MAX.as_secs_f64()
            ))
        })
}

/// Help shown for `--suite-file`: the format, in short.
pub const SUITE_FILE_HELP: &str = "A suite of your own: a TOML file with optional top-level \
`name`, `dtype`, `causal`, `operand_values` and one [[problem]] table per problem (batch, heads_q, \
seqlen_q, head_dim; optional heads_kv, seqlen_k, dtype, causal, operand_values). See \
suites/example.toml.";

/// The name and problems of `--suite NAME` (built in) or `--suite-file PATH`,
/// every problem on inputs of `values` if given; None when neither suite
/// option was given.
pub fn suite(
    name: Option<&str>,
    file: Option<&Path>,
    values: Option<OperandValues>,
) -> Result<Option<(String, Vec<Problem>)>> {
    let (name, problems) = match (name, file) {
        (Some(_), Some(_)) => {
            return Err(Error::Invalid(
                "--suite and --suite-file: give one or the other".into(),
            ));
        }
        (Some(n), None) => (n.to_string(), suites::builtin(n)?),
        (None, Some(f)) => {
            let s = UserSuite::load(f)?;
            (s.name, s.problems)
        }
        (None, None) => return Ok(None),
    };
    let problems = match values {
        Some(v) => problem::set_operand_values(&problems, v)?,
        None => problems,
    };
    Ok(Some((name, problems)))
}
