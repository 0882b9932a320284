//! An attention problem and its validation: the one place that decides what
//! tileattn can compute, used by the CLI, the emulator and the GPU launch alike.

use tileattn_kernels::DType;

use crate::operand_values::OperandValues;
use crate::problem_key::ProblemKey;
use crate::{Error, Result};

/// Head dimensions the kernels are instantiated for.
pub const HEAD_DIMS: [u32; 2] = [64, 128];

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Problem {
    pub batch: u32,
    pub heads_q: u32,
    pub heads_kv: u32,
    pub seqlen_q: u32,
    pub seqlen_k: u32,
    pub head_dim: u32,
    pub dtype: DType,
    /// Bottom-right aligned causal mask (FlashAttention ≥ 2.1).
    pub causal: bool,
    pub softmax_scale: f32,
    /// Which values the random inputs take (default: the dtype's own); a
    /// no-op for bf16 problems, whose key then records the default.
    pub operand_values: OperandValues,
}

impl Problem {
    /// A problem with the default softmax scale 1/√d and default operand
    /// values. One argument per field of the problem, in the order every
    /// report prints them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        batch: u32,
        heads_q: u32,
        heads_kv: u32,
        seqlen_q: u32,
        seqlen_k: u32,
        head_dim: u32,
        dtype: DType,
        causal: bool,
    ) -> Self {
        Problem {
            batch,
            heads_q,
            heads_kv,
            seqlen_q,
            seqlen_k,
            head_dim,
            dtype,
            causal,
            softmax_scale: 1.0 / (head_dim as f32).sqrt(),
            operand_values: OperandValues::default(),
        }
    }

    /// The same problem on inputs of `values`.
    pub fn with_operand_values(self, values: OperandValues) -> Problem {
        Problem {
            operand_values: values,
            ..self
        }
    }

    /// Reject anything the kernels cannot compute, with a message that says why.
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("batch", self.batch),
            ("heads_q", self.heads_q),
            ("heads_kv", self.heads_kv),
            ("seqlen_q", self.seqlen_q),
            ("seqlen_k", self.seqlen_k),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(Error::Invalid(format!(
                "{name} is 0: empty tensors have nothing to compute"
            )));
        }
        if !HEAD_DIMS.contains(&self.head_dim) {
            return Err(Error::Invalid(format!(
                "head dim {} is not supported (supported: 64, 128)",
                self.head_dim
            )));
        }
        if !self.heads_q.is_multiple_of(self.heads_kv) {
            return Err(Error::Invalid(format!(
                "heads_q = {} is not a multiple of heads_kv = {} (GQA/MQA need whole groups)",
                self.heads_q, self.heads_kv
            )));
        }
        if !self.softmax_scale.is_finite() || self.softmax_scale == 0.0 {
            return Err(Error::Invalid(format!(
                "softmax scale {} must be finite and non-zero",
                self.softmax_scale
            )));
        }
        // Element offsets are computed in i64 on the device; keep every tensor under 2^31 rows·heads
        // so per-dimension u32 indices cannot overflow.
        let rows =
            self.batch as u64 * self.seqlen_q.max(self.seqlen_k) as u64 * self.heads_q as u64;
        if rows > i32::MAX as u64 {
            return Err(Error::Invalid(format!(
                "{rows} rows × heads exceed the 2^31 the kernels index"
            )));
        }
        Ok(())
    }

    pub fn key(&self) -> ProblemKey {
        ProblemKey {
            batch: self.batch,
            heads_q: self.heads_q,
            heads_kv: self.heads_kv,
            seqlen_q: self.seqlen_q,
            seqlen_k: self.seqlen_k,
            head_dim: self.head_dim,
            dtype: self.dtype.name().to_string(),
            causal: self.causal,
            operand_values: self.operand_values.effective_for(self.dtype),
        }
    }

    pub fn from_key(key: &ProblemKey) -> Result<Problem> {
        let dtype = DType::parse(&key.dtype)
            .ok_or_else(|| Error::Invalid(format!("unknown dtype `{}` (f16, bf16)", key.dtype)))?;
        let p = Problem::new(
            key.batch,
            key.heads_q,
            key.heads_kv,
            key.seqlen_q,
            key.seqlen_k,
            key.head_dim,
            dtype,
            key.causal,
        )
        .with_operand_values(key.operand_values);
        p.validate()?;
        Ok(p)
    }

    /// `B,Hq[,Hkv],Sq[,Sk],D`, as the CLI's `--shape` takes it.
    pub fn parse_shape(s: &str, dtype: DType, causal: bool) -> Result<Problem> {
        let nums = s
            .split(',')
            .map(|x| {
                x.trim().parse::<u32>().map_err(|_| {
                    Error::Invalid(format!("shape `{s}`: `{x}` is not a whole number"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (b, hq, hkv, sq, sk, d) = match nums[..] {
            [b, hq, sq, d] => (b, hq, hq, sq, sq, d),
            [b, hq, hkv, sq, d] => (b, hq, hkv, sq, sq, d),
            [b, hq, hkv, sq, sk, d] => (b, hq, hkv, sq, sk, d),
            _ => {
                return Err(Error::Invalid(format!(
                    "shape `{s}`: expected B,Hq,S,D or B,Hq,Hkv,S,D or B,Hq,Hkv,Sq,Sk,D"
                )));
            }
        };
        let p = Problem::new(b, hq, hkv, sq, sk, d, dtype, causal);
        p.validate()?;
        Ok(p)
    }
}

impl std::fmt::Display for Problem {
    /// As its [`ProblemKey`] prints, so run files, reports and the CLI agree.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.key().fmt(f)
    }
}

/// Every problem of a suite on inputs of `values`, whatever the suite said
/// (the command line's `--operand-values`). Refused if two problems that
/// differed only in their values become the same problem.
pub fn set_operand_values(problems: &[Problem], values: OperandValues) -> Result<Vec<Problem>> {
    let mut out: Vec<Problem> = Vec::with_capacity(problems.len());
    for (i, p) in problems.iter().enumerate() {
        let p = p.with_operand_values(values);
        if let Some(j) = out.iter().position(|q| q.key() == p.key()) {
            return Err(Error::Invalid(format!(
                "with operand values `{}`, problem {} of the suite is problem {} ({p}): \
                 drop the flag to measure both as the suite lists them",
                values.name(),
                i + 1,
                j + 1
            )));
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_kernels_cannot_compute() {
        let ok = Problem::new(1, 4, 2, 10, 12, 64, DType::F16, true);
        assert!(ok.validate().is_ok());
        for (bad, needle) in [
            (Problem { batch: 0, ..ok }, "batch is 0"),
            (Problem { seqlen_k: 0, ..ok }, "seqlen_k is 0"),
            (Problem { head_dim: 96, ..ok }, "head dim 96"),
            (Problem { heads_kv: 3, ..ok }, "not a multiple"),
            (
                Problem {
                    softmax_scale: f32::NAN,
                    ..ok
                },
                "softmax scale",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn parses_shapes() {
        let p = Problem::parse_shape("2,8,2,100,300,128", DType::Bf16, false).unwrap();
        assert_eq!(
            (
                p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k, p.head_dim
            ),
            (2, 8, 2, 100, 300, 128)
        );
        let p = Problem::parse_shape("4,16,4096,128", DType::Bf16, false).unwrap();
        assert_eq!((p.heads_kv, p.seqlen_k), (16, 4096));
        assert!(Problem::parse_shape("4,x,1,1", DType::F16, false).is_err());
        assert!(Problem::parse_shape("4,1,1", DType::F16, false).is_err());
    }

    #[test]
    fn a_whole_suite_is_set_to_one_kind_of_values_unless_problems_merge() {
        let f16 = Problem::new(2, 8, 8, 256, 256, 64, DType::F16, false);
        let bf16 = Problem {
            dtype: DType::Bf16,
            ..f16
        };
        let set = set_operand_values(&[f16, bf16], OperandValues::Bf16).unwrap();
        assert!(set.iter().all(|p| p.operand_values == OperandValues::Bf16));
        assert_eq!(set[0], f16.with_operand_values(OperandValues::Bf16));
        let on_bf16 = f16.with_operand_values(OperandValues::Bf16);
        let back = set_operand_values(&[on_bf16, bf16], OperandValues::Dtype).unwrap();
        assert_eq!(back, [f16, bf16]);
        let e = set_operand_values(&[bf16, f16, on_bf16], OperandValues::Bf16)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("with operand values `bf16`, problem 3 of the suite is problem 2"),
            "{e}"
        );
    }
}
