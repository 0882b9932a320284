//! The problem as run files, tuning caches and reports write it: plain fields
//! and the dtype by name, so a file reads back without this build's types.

use serde::{Deserialize, Serialize};

use crate::operand_values::OperandValues;

/// The problem, without anything about how it is solved.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProblemKey {
    pub batch: u32,
    pub heads_q: u32,
    pub heads_kv: u32,
    pub seqlen_q: u32,
    pub seqlen_k: u32,
    pub head_dim: u32,
    /// `f16` or `bf16`.
    pub dtype: String,
    pub causal: bool,
    /// Which values the inputs took: written only when not the default, so
    /// older run files read and write back unchanged.
    #[serde(default, skip_serializing_if = "OperandValues::is_default")]
    pub operand_values: OperandValues,
}

impl std::fmt::Display for ProblemKey {
    /// `B=4 Hq=16 Hkv=16 Sq=4096 Sk=4096 D=128 bf16 causal`: also how a `Problem` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "B={} Hq={} Hkv={} Sq={} Sk={} D={} {}{}",
            self.batch,
            self.heads_q,
            self.heads_kv,
            self.seqlen_q,
            self.seqlen_k,
            self.head_dim,
            self.dtype_label(),
            if self.causal { " causal" } else { "" }
        )
    }
}

impl ProblemKey {
    /// The dtype as labels show it: `f16`, or `f16 (bf16 values)`, so rows
    /// that differ only in their inputs' values can be told apart.
    pub fn dtype_label(&self) -> String {
        self.operand_values.dtype_label(&self.dtype)
    }

    /// `B=32 H=8 S=512 D=64 f16 causal`: the compact form tables and figures
    /// use; heads and sequence lengths are written once when equal.
    pub fn label(&self) -> String {
        let heads = if self.heads_q == self.heads_kv {
            format!("H={}", self.heads_q)
        } else {
            format!("Hq={} Hkv={}", self.heads_q, self.heads_kv)
        };
        let lens = if self.seqlen_q == self.seqlen_k {
            format!("S={}", self.seqlen_q)
        } else {
            format!("Sq={} Sk={}", self.seqlen_q, self.seqlen_k)
        };
        format!(
            "B={} {heads} {lens} D={} {}{}",
            self.batch,
            self.head_dim,
            self.dtype_label(),
            if self.causal { " causal" } else { "" }
        )
    }
}
