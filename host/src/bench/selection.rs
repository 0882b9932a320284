//! Which tileattn variant a bench run times on each problem: the tuning
//! cache's winner (the default), a kernel family's fastest, or variants the
//! user names. Resolved against the registry before any device is opened,
//! so a misspelt name, or a variant that computes none of the suite's
//! problems, is refused before any work (and is testable without a GPU).

use tileattn_kernels::Family;

use crate::problem::Problem;
use crate::registry::{Registry, Variant};
use crate::{Error, Result};

/// What `tileattn bench` times for tileattn.
#[derive(Clone, Debug)]
pub enum Selection {
    /// The tuning cache's winner, else a fresh exhaustive tuning over every
    /// family, whose winner is recorded in the cache.
    Tuned,
    /// The family's fastest variant: the cache's winner when it is of this
    /// family, else a fresh exhaustive tuning within the family, which is
    /// not recorded (the cache holds winners over all families).
    Family(Family),
    /// These variants, each on the problems it computes. At most one of
    /// them computes any problem: two would be two measurements of one
    /// problem, which no report or comparison could tell apart.
    Named(Vec<&'static Variant>),
}

/// A selection applied to a suite: the problems it times, and those it
/// cannot, each with the reason (listed to the user, never dropped silently).
#[derive(Debug)]
pub struct Plan {
    pub problems: Vec<Problem>,
    pub skipped: Vec<(Problem, String)>,
}

impl Selection {
    /// `--variant NAME…` (looked up in `registry`) or `--family F`, else the
    /// tuned default.
    pub fn new(registry: &Registry, names: &[String], family: Option<Family>) -> Result<Selection> {
        match (names, family) {
            ([], None) => Ok(Selection::Tuned),
            ([], Some(f)) => Ok(Selection::Family(f)),
            (names, None) => {
                let mut variants: Vec<&'static Variant> = Vec::new();
                for name in names {
                    let v = registry.find(name).ok_or_else(|| {
                        Error::Invalid(format!("no variant `{name}` (see `tileattn variants`)"))
                    })?;
                    if !variants.iter().any(|w| w.name == v.name) {
                        variants.push(v);
                    }
                }
                Ok(Selection::Named(variants))
            }
            (_, Some(_)) => Err(Error::Invalid(
                "--variant and --family: give one or the other".into(),
            )),
        }
    }

    /// The named variant that computes `p` (None for the other selections,
    /// or when none does).
    pub fn named_for(&self, p: &Problem) -> Option<&'static Variant> {
        match self {
            Selection::Named(vs) => vs.iter().copied().find(|v| v.serves(p)),
            _ => None,
        }
    }

    /// The problems of `suite` this selection times. Refused: a problem two
    /// named variants compute, a named variant that computes none of the
    /// problems (surely a mistake), and a plan with nothing left to time.
    pub fn plan(&self, registry: &Registry, suite: Vec<Problem>) -> Result<Plan> {
        let mut plan = Plan {
            problems: Vec::new(),
            skipped: Vec::new(),
        };
        for p in suite {
            match self.reason_to_skip(registry, &p)? {
                Some(why) => plan.skipped.push((p, why)),
                None => plan.problems.push(p),
            }
        }
        if let Selection::Named(vs) = self
            && let Some(idle) = vs
                .iter()
                .find(|v| !plan.problems.iter().any(|p| v.serves(p)))
        {
            return Err(Error::Invalid(format!(
                "{} computes none of the suite's problems (it computes {})",
                idle.name,
                computes(idle)
            )));
        }
        if plan.problems.is_empty() {
            return Err(Error::Invalid(match plan.skipped.first() {
                Some((_, why)) => format!(
                    "nothing to benchmark: each of the suite's {} problems is one {why}",
                    plan.skipped.len()
                ),
                None => "nothing to benchmark: the suite has no problem".into(),
            }));
        }
        Ok(plan)
    }

    /// Why `p` cannot be timed under this selection, if it cannot.
    fn reason_to_skip(&self, registry: &Registry, p: &Problem) -> Result<Option<String>> {
        Ok(match self {
            Selection::Tuned => None,
            Selection::Family(f) => registry
                .candidates(p, Some(*f))
                .next()
                .is_none()
                .then(|| format!("which no {} variant of this build computes", f.name())),
            Selection::Named(vs) => {
                let serving: Vec<&str> =
                    vs.iter().filter(|v| v.serves(p)).map(|v| v.name).collect();
                match serving.as_slice() {
                    [] => Some("which none of the named variants computes".into()),
                    [_] => None,
                    [a, b, ..] => {
                        return Err(Error::Invalid(format!(
                            "{a} and {b} both compute {p}: name one variant per dtype, head dim \
                             and causality, and compare two runs with `tileattn compare`"
                        )));
                    }
                }
            }
        })
    }

    /// Refuse, before anything is measured, a selection this device cannot
    /// run (compute capability `cc`): a named variant built only for other
    /// archs, or a family none of whose variants runs here.
    pub fn check_device(&self, registry: &Registry, cc: u32) -> Result<()> {
        match self {
            Selection::Tuned => Ok(()),
            Selection::Family(f) => {
                let runs = registry
                    .variants
                    .iter()
                    .any(|v| v.tile.family == *f && v.runs_on(Some(cc)));
                if runs {
                    Ok(())
                } else {
                    Err(Error::Invalid(format!(
                        "no {} variant runs on this GPU (compute capability {}.{})",
                        f.name(),
                        cc / 10,
                        cc % 10
                    )))
                }
            }
            Selection::Named(vs) => match vs.iter().find(|v| !v.runs_on(Some(cc))) {
                None => Ok(()),
                Some(v) => Err(Error::Invalid(format!(
                    "{} is built for {} only, which this GPU (compute capability {}.{}) cannot run",
                    v.name,
                    v.archs
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    cc / 10,
                    cc % 10
                ))),
            },
        }
    }
}

/// What a variant computes, as the user reads it: `D=64 bf16 causal`.
fn computes(v: &Variant) -> String {
    format!(
        "D={} {}{}",
        v.tile.head_dim,
        v.dtype.name(),
        if v.causal { " causal" } else { " non-causal" }
    )
}
