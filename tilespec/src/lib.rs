//! `tiles.toml`: the tile search space.
//!
//! The file lists target archs, tile *families* (lists of values for every
//! knob, expanded as a product) and explicit *variants*. Expansion applies the
//! kernels' own validity rules ([`TileConfig::check`]): a product member that
//! breaks a rule is dropped (and reported once per family and rule); an
//! explicit variant that breaks one is an error naming the variant and the rule.
//! The same expansion feeds build.rs (entry points, registry) and the tests.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
pub use tileattn_kernels::{Arch, DType, Family, Rule, TileConfig};

/// One kernel variant: everything that is fixed at compile time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VariantSpec {
    pub dtype: DType,
    pub causal: bool,
    pub tile: TileConfig,
    /// Archs whose PTX contains this variant (those whose limits it fits).
    pub archs: Vec<Arch>,
}

impl VariantSpec {
    /// The entry-point name: every compile-time parameter, in a fixed order.
    /// `attn_fwd_{family}_d{D}_{dtype}_bm{BM}_bn{BN}_w{W}[_s{stages}]_{causal|noncausal}`
    /// (`_s` only for families with a pipeline).
    pub fn entry_name(&self) -> String {
        let t = &self.tile;
        let stages = if t.family.pipelined() {
            format!("_s{}", t.stages)
        } else {
            String::new()
        };
        format!(
            "attn_fwd_{}_d{}_{}_bm{}_bn{}_w{}{}_{}",
            t.family.name(),
            t.head_dim,
            self.dtype.name(),
            t.block_m,
            t.block_n,
            t.warps,
            stages,
            if self.causal { "causal" } else { "noncausal" }
        )
    }
}

/// Why `tiles.toml` was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    Parse(String),
    UnknownArch(String),
    UnknownFamily(String),
    UnknownDType(String),
    Empty(String),
    /// An explicit variant breaks a validity rule.
    InvalidVariant {
        name: String,
        rule: Rule,
        detail: String,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Parse(m) => write!(f, "tiles.toml: {m}"),
            SpecError::UnknownArch(a) => write!(
                f,
                "tiles.toml: unknown arch `{a}` (known: sm_80, sm_86, sm_89, sm_90, sm_90a)"
            ),
            SpecError::UnknownFamily(k) => {
                write!(
                    f,
                    "tiles.toml: unknown kernel family `{k}` (known: v0, v1, v2)"
                )
            }
            SpecError::UnknownDType(d) => {
                write!(f, "tiles.toml: unknown dtype `{d}` (known: f16, bf16)")
            }
            SpecError::Empty(what) => write!(f, "tiles.toml: {what} is empty"),
            SpecError::InvalidVariant { name, rule, detail } => {
                write!(
                    f,
                    "tiles.toml: variant {name} is invalid: {} ({detail})",
                    rule.describe()
                )
            }
        }
    }
}

impl std::error::Error for SpecError {}

/// A family or variant dropped from a product expansion, counted per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// 1-based index of the `[[family]]` table.
    pub family_index: usize,
    pub rule: Rule,
    pub count: usize,
    /// One dropped variant's name, to make the message concrete.
    pub example: String,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tiles.toml: family #{} — dropped {} combination(s) that break a rule: {} (e.g. {})",
            self.family_index,
            self.count,
            self.rule.describe(),
            self.example
        )
    }
}

/// The expanded search space.
#[derive(Debug, Clone)]
pub struct Expansion {
    pub archs: Vec<Arch>,
    /// Unique, sorted by entry name.
    pub variants: Vec<VariantSpec>,
    pub dropped: Vec<Dropped>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default = "default_archs")]
    archs: Vec<String>,
    #[serde(default)]
    family: Vec<RawFamily>,
    #[serde(default)]
    variant: Vec<RawVariant>,
}

fn default_archs() -> Vec<String> {
    vec!["sm_89".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamily {
    kernel: String,
    dtypes: Vec<String>,
    head_dims: Vec<usize>,
    causal: Vec<bool>,
    block_m: Vec<usize>,
    block_n: Vec<usize>,
    warps: Vec<usize>,
    #[serde(default = "one")]
    stages: Vec<usize>,
    /// Overrides the file's `archs` for this family (v2 is sm_90a-only, and
    /// building every other family for sm_90a too would double the build).
    archs: Option<Vec<String>>,
}

fn one() -> Vec<usize> {
    vec![1]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    kernel: String,
    dtype: String,
    head_dim: usize,
    causal: bool,
    block_m: usize,
    block_n: usize,
    warps: usize,
    #[serde(default = "one_stage")]
    stages: usize,
}

fn one_stage() -> usize {
    1
}

fn parse_arch(s: &str) -> Result<Arch, SpecError> {
    Arch::ALL
        .into_iter()
        .find(|a| a.name() == s)
        .ok_or_else(|| SpecError::UnknownArch(s.into()))
}

fn parse_family(s: &str) -> Result<Family, SpecError> {
    Family::ALL
        .into_iter()
        .find(|f| f.name() == s)
        .ok_or_else(|| SpecError::UnknownFamily(s.into()))
}

fn parse_dtype(s: &str) -> Result<DType, SpecError> {
    DType::parse(s).ok_or_else(|| SpecError::UnknownDType(s.into()))
}

/// Where a variant is valid: the archs it fits, or the rule that rules it out everywhere.
fn placement(tile: &TileConfig, archs: &[Arch]) -> Result<Vec<Arch>, Rule> {
    let mut fits = Vec::new();
    let mut last_err = Rule::SharedMemory;
    for &arch in archs {
        match tile.check(arch) {
            Ok(()) => fits.push(arch),
            Err(rule) => last_err = rule,
        }
    }
    if fits.is_empty() {
        Err(last_err)
    } else {
        Ok(fits)
    }
}

/// A list of arch names, sorted and deduplicated; empty is an error.
fn parse_archs(names: &[String]) -> Result<Vec<Arch>, SpecError> {
    let mut archs = names
        .iter()
        .map(|a| parse_arch(a))
        .collect::<Result<Vec<_>, _>>()?;
    archs.sort();
    archs.dedup();
    if archs.is_empty() {
        return Err(SpecError::Empty("archs".into()));
    }
    Ok(archs)
}

/// Parse and expand the text of a `tiles.toml`.
pub fn expand(text: &str) -> Result<Expansion, SpecError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| SpecError::Parse(e.to_string()))?;
    let archs = parse_archs(&raw.archs)?;
    // Every arch some family is built for gets a PTX module.
    let mut all_archs = archs.clone();
    let mut variants = BTreeMap::new();
    let mut dropped = Vec::new();

    for (i, fam) in raw.family.iter().enumerate() {
        let family = parse_family(&fam.kernel)?;
        let fam_archs = match &fam.archs {
            Some(list) => parse_archs(list)?,
            None => archs.clone(),
        };
        all_archs.extend(&fam_archs);
        let dtypes = fam
            .dtypes
            .iter()
            .map(|d| parse_dtype(d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut dropped_here: BTreeMap<String, Dropped> = BTreeMap::new();
        for &dtype in &dtypes {
            for &head_dim in &fam.head_dims {
                for &causal in &fam.causal {
                    for &block_m in &fam.block_m {
                        for &block_n in &fam.block_n {
                            for &warps in &fam.warps {
                                for &stages in &fam.stages {
                                    let tile = TileConfig {
                                        family,
                                        head_dim,
                                        block_m,
                                        block_n,
                                        warps,
                                        stages,
                                    };
                                    let mut v = VariantSpec {
                                        dtype,
                                        causal,
                                        tile,
                                        archs: Vec::new(),
                                    };
                                    match placement(&tile, &fam_archs) {
                                        Ok(fits) => {
                                            v.archs = fits;
                                            variants.insert(v.entry_name(), v);
                                        }
                                        Err(rule) => {
                                            let d = dropped_here
                                                .entry(format!("{rule:?}"))
                                                .or_insert(Dropped {
                                                    family_index: i + 1,
                                                    rule,
                                                    count: 0,
                                                    example: v.entry_name(),
                                                });
                                            d.count += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        dropped.extend(dropped_here.into_values());
    }

    for rv in &raw.variant {
        let tile = TileConfig {
            family: parse_family(&rv.kernel)?,
            head_dim: rv.head_dim,
            block_m: rv.block_m,
            block_n: rv.block_n,
            warps: rv.warps,
            stages: rv.stages,
        };
        let mut v = VariantSpec {
            dtype: parse_dtype(&rv.dtype)?,
            causal: rv.causal,
            tile,
            archs: Vec::new(),
        };
        match placement(&tile, &archs) {
            Ok(fits) => v.archs = fits,
            Err(rule) => {
                let detail = format!(
                    "{} threads, {} bytes of shared memory; archs: {}",
                    tile.threads(),
                    tile.smem_bytes(),
                    archs
                        .iter()
                        .map(|a| format!("{} ≤ {} bytes", a.name(), a.max_smem_per_block()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Err(SpecError::InvalidVariant {
                    name: v.entry_name(),
                    rule,
                    detail,
                });
            }
        }
        variants.insert(v.entry_name(), v);
    }

    if variants.is_empty() {
        return Err(SpecError::Empty("the expanded variant set".into()));
    }
    all_archs.sort();
    all_archs.dedup();
    Ok(Expansion {
        archs: all_archs,
        variants: variants.into_values().collect(),
        dropped,
    })
}
