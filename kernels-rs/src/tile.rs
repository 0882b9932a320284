//! Compile-time tile facts of a kernel variant, and the validity rules that
//! build.rs enforces and the host re-checks at launch.
//!
//! Everything here is `const fn` so the build script, the registry and the
//! launch path compute shared-memory sizes with literally the same code.

/// Kernel family: each is one algorithm; variants differ only in tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Scalar FMA, shared-memory tiles, online softmax: the readable baseline.
    V0,
    /// Tensor cores (`mma.sync.m16n8k16`), `ldmatrix`, `cp.async` pipeline.
    V1,
    /// Hopper's warpgroup tensor cores (`wgmma.mma_async`, operands read from
    /// shared memory by the tensor cores): sm_90a only.
    V2,
    /// v2 with each warpgroup's softmax overlapped with its own `P·V`: sm_90a
    /// only, at least three stages.
    V3,
    /// Warp-specialized: a producer warpgroup loads Q, K and V through the
    /// copy engine (TMA) into an `mbarrier`-guarded ring; two or three
    /// consumer warpgroups compute as v2. sm_90a only.
    V4,
}

impl Family {
    pub const ALL: [Family; 5] = [Family::V0, Family::V1, Family::V2, Family::V3, Family::V4];

    pub const fn name(self) -> &'static str {
        match self {
            Family::V0 => "v0",
            Family::V1 => "v1",
            Family::V2 => "v2",
            Family::V3 => "v3",
            Family::V4 => "v4",
        }
    }

    /// Whether the family has a K/V pipeline (and a `stages` knob).
    pub const fn pipelined(self) -> bool {
        !matches!(self, Family::V0)
    }

    /// Whether the family reads its operands with `wgmma` (sm_90a only).
    pub const fn wgmma(self) -> bool {
        matches!(self, Family::V2 | Family::V3 | Family::V4)
    }
}

/// GPU architectures tileattn builds PTX for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    Sm80,
    Sm86,
    Sm89,
    Sm90,
    /// sm_90 with the arch-specific features (`wgmma`): PTX for it runs on
    /// compute capability 9.0 only, not on later GPUs.
    Sm90a,
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::Sm80, Arch::Sm86, Arch::Sm89, Arch::Sm90, Arch::Sm90a];

    pub const fn name(self) -> &'static str {
        match self {
            Arch::Sm80 => "sm_80",
            Arch::Sm86 => "sm_86",
            Arch::Sm89 => "sm_89",
            Arch::Sm90 => "sm_90",
            Arch::Sm90a => "sm_90a",
        }
    }

    /// Compute capability as `major * 10 + minor`.
    pub const fn compute_capability(self) -> u32 {
        match self {
            Arch::Sm80 => 80,
            Arch::Sm86 => 86,
            Arch::Sm89 => 89,
            Arch::Sm90 | Arch::Sm90a => 90,
        }
    }

    /// Whether a device of compute capability `cc` can JIT this arch's PTX:
    /// any later device, except for arch-specific (`a`) targets.
    pub const fn runs_on(self, cc: u32) -> bool {
        match self {
            Arch::Sm90a => cc == 90,
            _ => self.compute_capability() <= cc,
        }
    }

    /// Opt-in shared memory per block (CUDA programming guide, compute capability table).
    pub const fn max_smem_per_block(self) -> usize {
        match self {
            Arch::Sm80 => 163 * 1024,
            Arch::Sm86 | Arch::Sm89 => 99 * 1024,
            Arch::Sm90 | Arch::Sm90a => 227 * 1024,
        }
    }

    /// The newest arch in [`Arch::ALL`] whose PTX a device of compute capability `cc` can JIT.
    pub fn best_for(cc: u32, available: &[Arch]) -> Option<Arch> {
        available.iter().copied().filter(|a| a.runs_on(cc)).max()
    }
}

/// Bytes of one Q/K/V/O element (f16 and bf16 alike).
pub const ELEM_BYTES: usize = 2;

/// Alignment of v2's shared tiles: the 128-byte swizzle repeats every 8 rows
/// of 128 bytes, and `wgmma` descriptors assume tiles start on that period.
pub const SWIZZLE_ALIGN: usize = 1024;

/// The compile-time parameters of one kernel variant, except dtype and causality
/// (which change code, not sizes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileConfig {
    pub family: Family,
    pub head_dim: usize,
    pub block_m: usize,
    pub block_n: usize,
    pub warps: usize,
    /// K/V pipeline depth (v1); 1 for v0, which has no pipeline.
    pub stages: usize,
}

/// A validity rule a variant can break; `describe` is the message the build prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    HeadDim,
    ThreadsPerBlock,
    RowsPerWarp,
    TileDivisibility,
    Stages,
    SharedMemory,
    Arch,
}

impl Rule {
    pub const fn describe(self) -> &'static str {
        match self {
            Rule::HeadDim => "head_dim must be 64 or 128",
            Rule::ThreadsPerBlock => "warps * 32 must be between 32 and 1024 threads per block",
            Rule::RowsPerWarp => {
                "v1 gives each warp 16 or 32 query rows: block_m must equal 16 * warps or 32 * warps; \
                 v2 and v3 give each warpgroup (4 warps) 64 rows: block_m = 16 * warps, warps a \
                 multiple of 4; v4 has a producer warpgroup and two or three consumer ones: \
                 warps = 12 or 16, block_m = 16 * (warps - 4)"
            }
            Rule::TileDivisibility => {
                "tiles must divide evenly: v0 needs (warps*32) % block_m == 0 and head_dim, block_n \
                 divisible by the threads per row; v1 needs block_n % 16 == 0 and every tile load \
                 to split into whole 16-byte chunks per thread; v2, v3 and v4 also need block_n of 64 or \
                 128 (the wgmma shapes they instantiate)"
            }
            Rule::Stages => {
                "stages must be 1 for v0, between 2 and 4 for v1, v2 and v4, and 3 or 4 for v3 (its \
                 P·V lags one tile behind, so one more tile stays resident)"
            }
            Rule::SharedMemory => "shared memory per block exceeds the arch's opt-in limit",
            Rule::Arch => {
                "v2, v3 and v4 use wgmma, which only sm_90a PTX has (archs = [\"sm_90a\"])"
            }
        }
    }
}

impl TileConfig {
    pub const fn threads(&self) -> usize {
        self.warps * 32
    }

    /// Dynamic shared memory the kernel asks for, in bytes. The kernels carve
    /// their buffers out of this same arithmetic (see `v0::Smem`, `v1::Smem`).
    pub const fn smem_bytes(&self) -> usize {
        let (d, bm, bn) = (self.head_dim, self.block_m, self.block_n);
        match self.family {
            // Q, K, V tiles of elements and the f32 score tile.
            Family::V0 => (bm * d + 2 * bn * d) * ELEM_BYTES + bm * bn * 4,
            // Q staging tile, and `stages` K and V tiles (swizzled, unpadded).
            Family::V1 => (bm * d + 2 * self.stages * bn * d) * ELEM_BYTES,
            // The same buffers, plus slack to align them to the 1024-byte
            // period of the 128-byte swizzle the tensor cores decode.
            Family::V2 | Family::V3 => {
                (bm * d + 2 * self.stages * bn * d) * ELEM_BYTES + SWIZZLE_ALIGN
            }
            // v2's, written by the copy engine, and the mbarriers: Q's, and a
            // full and an empty one per stage for K and for V.
            Family::V4 => {
                (bm * d + 2 * self.stages * bn * d) * ELEM_BYTES
                    + SWIZZLE_ALIGN
                    + 8 * (1 + 4 * self.stages)
            }
        }
    }

    /// Check every rule that does not depend on the arch, then shared memory against `arch`.
    pub const fn check(&self, arch: Arch) -> Result<(), Rule> {
        if let Err(r) = self.check_shape() {
            return Err(r);
        }
        if self.family.wgmma() && !matches!(arch, Arch::Sm90a) {
            return Err(Rule::Arch);
        }
        if self.smem_bytes() > arch.max_smem_per_block() {
            return Err(Rule::SharedMemory);
        }
        Ok(())
    }

    const fn check_shape(&self) -> Result<(), Rule> {
        let (d, bm, bn, t) = (self.head_dim, self.block_m, self.block_n, self.threads());
        if d != 64 && d != 128 {
            return Err(Rule::HeadDim);
        }
        if self.warps == 0 || t > 1024 {
            return Err(Rule::ThreadsPerBlock);
        }
        match self.family {
            Family::V0 => {
                if self.stages != 1 {
                    return Err(Rule::Stages);
                }
                if bm == 0 || bn == 0 || t % bm != 0 {
                    return Err(Rule::TileDivisibility);
                }
                let per_row = t / bm;
                if d % per_row != 0 || bn % per_row != 0 {
                    return Err(Rule::TileDivisibility);
                }
            }
            Family::V1 | Family::V2 | Family::V3 | Family::V4 => {
                let wgmma = self.family.wgmma();
                let rows_ok = match self.family {
                    Family::V2 | Family::V3 => {
                        self.warps.is_multiple_of(4) && bm == 16 * self.warps
                    }
                    // One producer and two or three consumer warpgroups.
                    Family::V4 => {
                        (self.warps == 12 || self.warps == 16) && bm == 16 * (self.warps - 4)
                    }
                    _ => bm == 16 * self.warps || bm == 32 * self.warps,
                };
                if !rows_ok {
                    return Err(Rule::RowsPerWarp);
                }
                // v3 keeps one more tile resident (see `v3`).
                let min_stages = if matches!(self.family, Family::V3) {
                    3
                } else {
                    2
                };
                if self.stages < min_stages || self.stages > 4 {
                    return Err(Rule::Stages);
                }
                let chunks_per_row = d * ELEM_BYTES / 16;
                if bn == 0
                    || bn % 16 != 0
                    || bn > 128
                    || (wgmma && bn != 64 && bn != 128)
                    // cp.async loads split into whole chunks per thread; the
                    // copy engine (v4) has no such constraint.
                    || (!matches!(self.family, Family::V4)
                        && (!(bn * chunks_per_row).is_multiple_of(t)
                            || !(bm * chunks_per_row).is_multiple_of(t)))
                {
                    return Err(Rule::TileDivisibility);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v0(d: usize, bm: usize, bn: usize, w: usize) -> TileConfig {
        TileConfig {
            family: Family::V0,
            head_dim: d,
            block_m: bm,
            block_n: bn,
            warps: w,
            stages: 1,
        }
    }
    fn v1(d: usize, bm: usize, bn: usize, w: usize, s: usize) -> TileConfig {
        TileConfig {
            family: Family::V1,
            head_dim: d,
            block_m: bm,
            block_n: bn,
            warps: w,
            stages: s,
        }
    }

    #[test]
    fn each_rule_fires() {
        assert_eq!(v0(96, 64, 32, 4).check(Arch::Sm89), Err(Rule::HeadDim));
        assert_eq!(
            v0(64, 64, 32, 0).check(Arch::Sm89),
            Err(Rule::ThreadsPerBlock)
        );
        assert_eq!(
            v0(64, 64, 32, 33).check(Arch::Sm89),
            Err(Rule::ThreadsPerBlock)
        );
        assert_eq!(
            v0(64, 48, 32, 4).check(Arch::Sm89),
            Err(Rule::TileDivisibility)
        );
        assert_eq!(
            v1(64, 64, 64, 1, 2).check(Arch::Sm89),
            Err(Rule::RowsPerWarp)
        );
        assert_eq!(v1(64, 64, 64, 2, 2).check(Arch::Sm89), Ok(()));
        assert_eq!(
            v1(64, 64, 40, 4, 2).check(Arch::Sm89),
            Err(Rule::TileDivisibility)
        );
        assert_eq!(v1(64, 64, 64, 4, 1).check(Arch::Sm89), Err(Rule::Stages));
        assert_eq!(
            v1(128, 128, 128, 8, 3).check(Arch::Sm89),
            Err(Rule::SharedMemory)
        );
        assert_eq!(v1(128, 128, 128, 8, 3).check(Arch::Sm90), Ok(()));
        assert_eq!(v0(128, 64, 32, 4).check(Arch::Sm89), Ok(()));
        let v2 = |bn, w| TileConfig {
            family: Family::V2,
            ..v1(128, 16 * w, bn, w, 2)
        };
        assert_eq!(v2(128, 8).check(Arch::Sm90a), Ok(()));
        assert_eq!(v2(128, 8).check(Arch::Sm90), Err(Rule::Arch));
        assert_eq!(v2(128, 6).check(Arch::Sm90a), Err(Rule::RowsPerWarp));
        assert_eq!(v2(96, 8).check(Arch::Sm90a), Err(Rule::TileDivisibility));
        let v3 = |head_dim, stages| TileConfig {
            family: Family::V3,
            head_dim,
            stages,
            ..v2(128, 8)
        };
        assert_eq!(v3(128, 2).check(Arch::Sm90a), Err(Rule::Stages));
        assert_eq!(v3(128, 3).check(Arch::Sm90a), Ok(()));
        assert_eq!(v3(128, 3).check(Arch::Sm90), Err(Rule::Arch));
        // Four stages of 128×128 K and V tiles do not fit beside Q.
        assert_eq!(v3(128, 4).check(Arch::Sm90a), Err(Rule::SharedMemory));
        assert_eq!(v3(64, 4).check(Arch::Sm90a), Ok(()));
    }

    #[test]
    fn smem_formula_counts_every_buffer() {
        // v1, d=64, bm=64, bn=64, 2 stages: Q 64*64 + 2 stages * (K + V) 64*64 each, 2 bytes.
        assert_eq!(
            v1(64, 64, 64, 4, 2).smem_bytes(),
            (64 * 64 + 4 * 64 * 64) * 2
        );
        assert_eq!(
            v0(64, 64, 32, 4).smem_bytes(),
            (64 * 64 + 2 * 32 * 64) * 2 + 64 * 32 * 4
        );
    }

    #[test]
    fn best_arch_is_newest_not_above_device() {
        let avail = [Arch::Sm80, Arch::Sm89];
        assert_eq!(Arch::best_for(90, &avail), Some(Arch::Sm89));
        assert_eq!(Arch::best_for(86, &avail), Some(Arch::Sm80));
        assert_eq!(Arch::best_for(75, &avail), None);
        // sm_90a PTX runs on compute capability 9.0 only.
        let hopper = [Arch::Sm89, Arch::Sm90a];
        assert_eq!(Arch::best_for(90, &hopper), Some(Arch::Sm90a));
        assert_eq!(Arch::best_for(100, &hopper), Some(Arch::Sm89));
    }
}
