//! Which values a problem's Q, K and V take, beyond being rounded to its dtype.
//!
//! By default the inputs are standard-normal draws rounded to the problem's
//! dtype. With [`OperandValues::Bf16`] each draw is first rounded to the
//! nearest bf16 value and then stored in the dtype. An f16 problem then
//! computes on the numbers its bf16 twin computes on (the same seed draws the
//! same values), and the two differ only in how those numbers are encoded for
//! the tensor cores. That separates what the operand bits cost (power, hence
//! clock) from what the kernel does: `suites/dtype-parity-grid.toml`.
//!
//! Storing a bf16 value in f16 is exact from 2^-17 up to f16's largest value
//! (a bf16 value has 8 significant bits; f16 keeps 11 down to 2^-14, and one
//! fewer per halving below, as subnormals). Standard-normal draws under 2^-17
//! in magnitude (about 6 in a million) are stored as f16's rounding of their
//! bf16 value: a coarser value that is still a bf16 value, so every stored
//! element is representable in both types.

use serde::{Deserialize, Serialize};
use tileattn_kernels::DType;

use crate::element::{from_bits, to_bits};

/// The values of a problem's inputs. Run files, suite files and tuning caches
/// write only a value other than the default, so files that predate it read
/// (and write back) unchanged.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OperandValues {
    /// Rounded to the problem's dtype only.
    #[default]
    Dtype,
    /// Rounded to the nearest bf16 value (ties to even), then stored in the
    /// problem's dtype. A no-op for bf16 problems.
    Bf16,
}

impl OperandValues {
    pub const ALL: [OperandValues; 2] = [OperandValues::Dtype, OperandValues::Bf16];

    /// The name in suite files, run files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            OperandValues::Dtype => "dtype",
            OperandValues::Bf16 => "bf16",
        }
    }

    /// The value named `s`, or a message that lists the names there are.
    pub fn parse(s: &str) -> std::result::Result<OperandValues, String> {
        OperandValues::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                format!(
                    "operand values `{s}`: expected `dtype` (the default: values rounded to the \
                     problem's dtype only) or `bf16` (values rounded to bf16 first)"
                )
            })
    }

    /// For serde's `skip_serializing_if`: the default is not written.
    pub fn is_default(&self) -> bool {
        *self == OperandValues::default()
    }

    /// What these values amount to for a `dtype` problem: the default wherever
    /// rounding to them changes nothing (bf16 values of a bf16 problem), so
    /// such a problem is recorded, labelled and deduplicated as the plain one.
    pub fn effective_for(self, dtype: DType) -> OperandValues {
        match (self, dtype) {
            (OperandValues::Bf16, DType::Bf16) => OperandValues::Dtype,
            (v, _) => v,
        }
    }

    /// `x` rounded to these values, before the dtype's own rounding.
    pub fn round(self, x: f32) -> f32 {
        match self {
            OperandValues::Dtype => x,
            OperandValues::Bf16 => from_bits(DType::Bf16, to_bits(DType::Bf16, x)),
        }
    }

    /// The stored `dtype` element for the draw `x`.
    pub fn to_bits(self, dtype: DType, x: f32) -> u16 {
        to_bits(dtype, self.round(x))
    }

    /// What a problem's dtype reads as in labels: `f16`, or `f16 (bf16 values)`.
    pub fn dtype_label(self, dtype: &str) -> String {
        match self {
            OperandValues::Dtype => dtype.to_string(),
            v => format!("{dtype} ({} values)", v.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use half::{bf16, f16};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, StandardNormal};

    use super::*;

    /// bf16 round-to-nearest-even of a finite `x`, by its bits: an oracle
    /// written independently of the `half` crate the code under test uses.
    fn bf16_rne(x: f32) -> f32 {
        let b = x.to_bits();
        let lsb = (b >> 16) & 1;
        f32::from_bits(b.wrapping_add(0x7fff + lsb) & 0xffff_0000)
    }

    fn is_bf16(x: f32) -> bool {
        x.to_bits() & 0xffff == 0
    }

    /// Every finite bf16 value, the f32 values halfway to its upper neighbour
    /// (the ties), one f32 ulp either side of them, and standard-normal draws.
    fn draws() -> Vec<f32> {
        let mut xs = Vec::new();
        for hi in 0..=u16::MAX {
            let b = u32::from(hi) << 16;
            if !f32::from_bits(b).is_finite() {
                continue;
            }
            for low in [0u32, 0x7fff, 0x8000, 0x8001] {
                xs.push(f32::from_bits(b | low));
            }
        }
        let mut rng = StdRng::seed_from_u64(11);
        xs.extend((0..200_000).map(|_| -> f32 { StandardNormal.sample(&mut rng) }));
        xs
    }

    #[test]
    fn bf16_values_stored_in_f16_are_bf16_and_its_nearest_value() {
        let f16_max = f16::MAX.to_f32();
        let exact_from = 2f32.powi(-17);
        let (mut exact, mut tiny) = (0, 0);
        for x in draws() {
            let want = bf16_rne(x);
            if !want.is_finite() || want.abs() > f16_max {
                continue; // f16 has no such value: an infinity, never drawn from N(0, 1)
            }
            let stored = f16::from_bits(OperandValues::Bf16.to_bits(DType::F16, x)).to_f32();
            assert!(
                is_bf16(stored),
                "{x:e} stored as {stored:e}, not a bf16 value"
            );
            if want == 0.0 || want.abs() >= exact_from {
                assert_eq!(stored, want, "{x:e}: bf16 {want:e}, stored {stored:e}");
                exact += 1;
            } else {
                // Below 2^-17 f16 keeps fewer bits than bf16: its rounding of the bf16 value.
                assert_eq!(stored, f16::from_f32(want).to_f32(), "{x:e}");
                tiny += 1;
            }
        }
        // Both branches ran on many values: the ties, the normals and the tiny ones.
        assert!(
            exact > 200_000 && tiny > 100_000,
            "{exact} exact, {tiny} tiny"
        );
    }

    #[test]
    fn bf16_values_of_a_bf16_problem_are_its_plain_values() {
        for x in draws() {
            assert_eq!(
                OperandValues::Bf16.to_bits(DType::Bf16, x),
                OperandValues::Dtype.to_bits(DType::Bf16, x),
                "{x:e}"
            );
            if bf16_rne(x).is_finite() {
                assert_eq!(
                    bf16::from_bits(to_bits(DType::Bf16, x)).to_f32(),
                    bf16_rne(x)
                );
            }
        }
        assert_eq!(
            OperandValues::Bf16.effective_for(DType::Bf16),
            OperandValues::Dtype
        );
        assert_eq!(
            OperandValues::Bf16.effective_for(DType::F16),
            OperandValues::Bf16
        );
    }

    #[test]
    fn the_default_rounds_to_the_dtype_alone() {
        for x in draws() {
            assert_eq!(OperandValues::Dtype.round(x).to_bits(), x.to_bits());
            for dtype in DType::ALL {
                assert_eq!(OperandValues::Dtype.to_bits(dtype, x), to_bits(dtype, x));
            }
        }
        // f16 keeps bits bf16 does not: the two values differ on most draws.
        let differ = draws()
            .into_iter()
            .filter(|&x| OperandValues::Bf16.to_bits(DType::F16, x) != to_bits(DType::F16, x))
            .count();
        assert!(differ > 100_000, "{differ}");
    }

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        for v in OperandValues::ALL {
            assert_eq!(OperandValues::parse(v.name()), Ok(v));
        }
        assert_eq!(OperandValues::default(), OperandValues::Dtype);
        for bad in ["fp16", "BF16", "", "f16"] {
            let e = OperandValues::parse(bad).unwrap_err();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("`dtype`") && e.contains("`bf16`"),
                "{e}"
            );
        }
        assert_eq!(OperandValues::Bf16.dtype_label("f16"), "f16 (bf16 values)");
        assert_eq!(OperandValues::Dtype.dtype_label("f16"), "f16");
    }
}
