//! The FlashAttention-2 steps both tensor-core kernels share once a score tile
//! is in registers: mask, online softmax, `P` as the next A operand, and the
//! epilogue. They work on the `mma.m16n8k16` C/D fragment layout, which is
//! also `wgmma`'s (per warp, 16 rows): lane `4g + t` holds rows `g` and
//! `g + 8` of each 16-row m-tile, columns `2t` and `2t + 1` of each 8-column
//! tile. Row statistics are reduced over the 4 lanes of a quad with two
//! butterfly shuffles.
//!
//! The online softmax runs in the exp2 domain: with `c = scale·log2 e`, a
//! row's running maximum `m` is kept of `c·s`, `P = 2^(c·s − m)` and the
//! log-sum-exp is `(m + log2 l)·ln 2`.

// Loops over register arrays are index loops with const bounds on purpose:
// LLVM unrolls those fully, so every fragment index is a constant and the
// arrays live in registers (see the note at the top of v1).
#![allow(clippy::needless_range_loop)]

use core::f32::consts::LN_2;

use crate::mask::causal_key_end;
use crate::prims::{exp2, fma, log2, shfl_xor_f32};
use crate::{AttnParams, Element};

/// Register arrays are sized for the largest tiles (D ≤ 128, BN ≤ 128); loops
/// run to the variant's own bounds and the compiler drops the unused tail.
pub const MAX_N_TILES: usize = 16;
/// At most two m-tiles (32 query rows) per warp.
pub const MAX_MT: usize = 2;

/// Per m-tile, up to 16 accumulator tiles of 16 rows × 8 columns.
pub type Acc = [[[f32; 4]; MAX_N_TILES]; MAX_MT];

/// Which query rows this thread holds: `m0 + row0 + 16·mi + g + 8·r` for
/// m-tile `mi` and row half `r`, and which key columns (`2t`, `2t + 1` of
/// every 8).
#[derive(Clone, Copy)]
pub struct Rows {
    /// First row of the block's query tile.
    pub m0: u32,
    /// First row of this warp within the tile.
    pub row0: usize,
    pub g: usize,
    pub t: usize,
}

impl Rows {
    #[inline(always)]
    pub fn row(&self, mi: usize, r: usize) -> u32 {
        self.m0 + (self.row0 + 16 * mi + self.g + 8 * r) as u32
    }
}

/// Running statistics per m-tile and row half: the maximum (exp2 domain) and
/// this thread's part of the sum.
pub struct RowStats {
    pub m: [[f32; 2]; MAX_MT],
    pub l: [[f32; 2]; MAX_MT],
}

impl RowStats {
    #[inline(always)]
    pub fn new() -> Self {
        RowStats {
            m: [[f32::NEG_INFINITY; 2]; MAX_MT],
            l: [[0f32; 2]; MAX_MT],
        }
    }
}

impl Default for RowStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Sets to −∞ the scores of keys a row may not see in the key tile starting
/// at `n0`: past the end of the keys, or (causal) past the diagonal. Callers
/// skip it for tiles `mask::tile_needs_mask` clears.
#[inline(always)]
pub fn mask_scores<const BN: usize, const CAUSAL: bool>(
    s: &mut Acc,
    mt: usize,
    rows: Rows,
    n0: u32,
    (sq, sk): (u32, u32),
) {
    // This thread holds keys n0 + 2t + 8j + c (c = 0, 1). Each of its rows
    // admits keys below an end; taken relative to the first key, one small
    // integer per row and the comparisons are against constants (32-bit:
    // seqlens are far below 2^31).
    let first_key = (n0 + 2 * rows.t as u32) as i32;
    for mi in 0..mt {
        for r in 0..2 {
            let end = if CAUSAL {
                causal_key_end(rows.row(mi, r).min(sq - 1), sq, sk) as i32
            } else {
                sk as i32
            };
            let limit = end - first_key;
            for j in 0..BN / 8 {
                for c in 0..2 {
                    if (8 * j + c) as i32 >= limit {
                        s[mi][j][2 * r + c] = f32::NEG_INFINITY;
                    }
                }
            }
        }
    }
}

/// Folds a score tile into the online softmax: new row maxima, `O` and the
/// sums rescaled, and `s` replaced by `P = 2^(c·s − m)` (f32).
#[inline(always)]
pub fn softmax_step<const D: usize, const BN: usize>(
    s: &mut Acc,
    o: &mut Acc,
    stats: &mut RowStats,
    mt: usize,
    scale_log2: f32,
) {
    for mi in 0..mt {
        let tile_max = tile_row_max::<BN>(s, mi);
        let mut base = [0f32; 2];
        for r in 0..2 {
            let alpha;
            (alpha, base[r]) = fold_row_max(tile_max[r], stats, mi, r, scale_log2);
            rescale_row::<D>(o, mi, r, alpha);
        }
        exponentiate::<BN>(s, stats, mi, base, scale_log2);
    }
}

/// [`softmax_step`] without touching `O`: returns each row's factor
/// `alpha = 2^(m_old − m_new)` for the caller to apply with [`rescale`] once
/// `O` is no longer being written (v3 does it after the P·V in flight).
#[inline(always)]
pub fn softmax_deferred<const BN: usize>(
    s: &mut Acc,
    stats: &mut RowStats,
    mt: usize,
    scale_log2: f32,
) -> [[f32; 2]; MAX_MT] {
    let mut alphas = [[1f32; 2]; MAX_MT];
    for mi in 0..mt {
        let tile_max = tile_row_max::<BN>(s, mi);
        let mut base = [0f32; 2];
        for r in 0..2 {
            (alphas[mi][r], base[r]) = fold_row_max(tile_max[r], stats, mi, r, scale_log2);
        }
        exponentiate::<BN>(s, stats, mi, base, scale_log2);
    }
    alphas
}

/// `O *= alpha` row by row, for the factors [`softmax_deferred`] returned.
#[inline(always)]
pub fn rescale<const D: usize>(o: &mut Acc, alphas: &[[f32; 2]; MAX_MT], mt: usize) {
    for mi in 0..mt {
        for r in 0..2 {
            rescale_row::<D>(o, mi, r, alphas[mi][r]);
        }
    }
}

/// This thread's maximum score of each of m-tile `mi`'s two rows.
#[inline(always)]
fn tile_row_max<const BN: usize>(s: &Acc, mi: usize) -> [f32; 2] {
    let mut tile_max = [f32::NEG_INFINITY; 2];
    for j in 0..BN / 8 {
        tile_max[0] = tile_max[0].max(s[mi][j][0]).max(s[mi][j][1]);
        tile_max[1] = tile_max[1].max(s[mi][j][2]).max(s[mi][j][3]);
    }
    tile_max
}

/// The new running maximum of row half `r` of m-tile `mi` from this
/// thread's `tile_max`: updates `m`, scales the sum `l` by
/// `alpha = 2^(m_old − m_new)`, and returns `alpha` and the exponent base of
/// the row's `P`.
#[inline(always)]
fn fold_row_max(
    tile_max: f32,
    stats: &mut RowStats,
    mi: usize,
    r: usize,
    scale_log2: f32,
) -> (f32, f32) {
    let mx = quad_max(tile_max);
    let m_old = stats.m[mi][r];
    let m_new = m_old.max(mx * scale_log2);
    // A row that has seen only masked keys keeps m = −∞; use 0 as the
    // exponent base so 2^(−∞ − base) = 0 instead of NaN.
    let base = if m_new == f32::NEG_INFINITY {
        0.0
    } else {
        m_new
    };
    let alpha = exp2(m_old - base);
    stats.m[mi][r] = m_new;
    stats.l[mi][r] *= alpha;
    (alpha, base)
}

/// `O`'s row half `r` of m-tile `mi` times `alpha`.
#[inline(always)]
fn rescale_row<const D: usize>(o: &mut Acc, mi: usize, r: usize, alpha: f32) {
    for j in 0..D / 8 {
        o[mi][j][2 * r] *= alpha;
        o[mi][j][2 * r + 1] *= alpha;
    }
}

/// `s` replaced by `P = 2^(c·s − base)` for m-tile `mi`, added to the sums.
#[inline(always)]
fn exponentiate<const BN: usize>(
    s: &mut Acc,
    stats: &mut RowStats,
    mi: usize,
    base: [f32; 2],
    scale_log2: f32,
) {
    for j in 0..BN / 8 {
        for i in 0..4 {
            let x = exp2(fma(s[mi][j][i], scale_log2, -base[i / 2]));
            s[mi][j][i] = x;
            stats.l[mi][i / 2] += x;
        }
    }
}

/// The A fragment of k-step `kk` (keys `16kk..16kk+16`) of m-tile `mi` of
/// `P`: accumulator tiles `2kk` and `2kk + 1` are exactly that fragment once
/// packed to the input dtype.
#[inline(always)]
pub fn p_fragment<E: Element>(p: &Acc, mi: usize, kk: usize) -> [u32; 4] {
    let (lo, hi) = (&p[mi][2 * kk], &p[mi][2 * kk + 1]);
    [
        E::pack2(lo[0], lo[1]),
        E::pack2(lo[2], lo[3]),
        E::pack2(hi[0], hi[1]),
        E::pack2(hi[2], hi[3]),
    ]
}

/// Epilogue: `O = acc / l` to the output tensor and `LSE = (m + log2 l)·ln 2`
/// per row; rows that saw no key get `O = 0` and `LSE = −∞`.
#[inline(always)]
pub fn write_output<E: Element, const D: usize>(
    o_acc: &Acc,
    stats: &RowStats,
    mt: usize,
    rows: Rows,
    p: &AttnParams,
    (b, h): (u32, u32),
) {
    let o = p.o as *mut u16;
    for mi in 0..mt {
        for r in 0..2 {
            let total = quad_sum(stats.l[mi][r]);
            let (inv_l, lse) = if total > 0.0 {
                (1.0 / total, (stats.m[mi][r] + log2(total)) * LN_2)
            } else {
                (0.0, f32::NEG_INFINITY)
            };
            let row = rows.row(mi, r);
            if row >= p.seqlen_q {
                continue;
            }
            let row_off = p.o_strides.offset(b, row, h);
            for j in 0..D / 8 {
                let acc = o_acc[mi][j];
                let pair = E::pack2(acc[2 * r] * inv_l, acc[2 * r + 1] * inv_l);
                // SAFETY: (b, row, h, 8j + 2t) is inside O; strides are
                // multiples of 8 elements, so 4-byte aligned.
                unsafe { *(o.offset(row_off + (8 * j + 2 * rows.t) as isize) as *mut u32) = pair };
            }
            if rows.t == 0 {
                let idx = (b as usize * p.heads_q as usize + h as usize) * p.seqlen_q as usize
                    + row as usize;
                // SAFETY: idx < batch · heads_q · seqlen_q.
                unsafe { *(p.lse as *mut f32).add(idx) = lse };
            }
        }
    }
}

/// Max over the 4 lanes of a quad (the threads sharing a row).
#[inline(always)]
fn quad_max(x: f32) -> f32 {
    let x = x.max(shfl_xor_f32(x, 1));
    x.max(shfl_xor_f32(x, 2))
}

/// Sum over the 4 lanes of a quad.
#[inline(always)]
fn quad_sum(x: f32) -> f32 {
    let x = x + shfl_xor_f32(x, 1);
    x + shfl_xor_f32(x, 2)
}
