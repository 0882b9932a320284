//! FlashAttention-3's intra-warpgroup pipelining, the consumer step v3 and v4
//! share: a warpgroup's softmax of key tile `n` runs while its own tensor
//! cores do `P·V` of tile `n − 1`.
//!
//! Per key tile `n`, in this order:
//!
//! 1. [`Overlap::issue`]: `S_n = Q·K_nᵀ`, then `O += P_{n−1}·V_{n−1}` behind it,
//!    two committed `wgmma` groups (the second empty for `n = 0`, so that
//!    `S_n`'s group is always the older of two);
//! 2. [`Overlap::wait_scores`], then [`Overlap::softmax`]: `S_n` masked and
//!    folded into the online softmax; `O`'s rescaling is deferred, since `O`
//!    is still being written;
//! 3. [`Overlap::wait_pv`], then [`Overlap::finish`]: `O` rescaled by `S_n`'s
//!    row factors, and `P_n` packed to the input dtype for tile `n + 1`;
//!
//! and after the last tile [`Overlap::last_pv`]. The caller sits between the
//! steps: it may release `K_n` once `S_n` has landed and `V_{n−1}` once `P·V`
//! has, and hand the tensor cores to another warpgroup after the issue.
//!
//! # Registers
//! `S_n` (f32), `P_{n−1}` (16-bit pairs) and `O` are live together: at head
//! dim 128 and `BN = 128`, 64 + 32 + 64 per thread, against 64 + 64 without
//! the overlap.

// Index loops with const bounds over register arrays, as in `flash`.
#![allow(clippy::needless_range_loop)]

use crate::flash::{
    Acc, MAX_MT, MAX_N_TILES, RowStats, Rows, mask_scores, p_fragment, rescale, softmax_deferred,
    write_output,
};
use crate::mask::tile_needs_mask;
use crate::prims::{Shared, wgmma_commit, wgmma_wait};
use crate::v2::{pv, qk, tiles};
use crate::{AttnParams, Element};

/// `P` of one key tile as `P·V`'s A operand: one fragment per 16-key k-step.
type PFragments = [[u32; 4]; MAX_N_TILES / 2];

/// One warpgroup's 64 query rows through the key tiles: the score tile in
/// flight, the output accumulator, the softmax statistics and the previous
/// tile's `P`. The accumulators are read by the tensor cores between an
/// issue and its wait, so an `Overlap` stays in place (it is never moved)
/// while a step is in flight.
pub struct Overlap<E: Element, const D: usize, const BM: usize, const BN: usize, const CAUSAL: bool>
{
    s: Acc,
    o: Acc,
    stats: RowStats,
    p_prev: PFragments,
    rows: Rows,
    scale_log2: f32,
    _element: core::marker::PhantomData<E>,
}

impl<E: Element, const D: usize, const BM: usize, const BN: usize, const CAUSAL: bool>
    Overlap<E, D, BM, BN, CAUSAL>
{
    /// Before the first key tile: `O = 0`, no maximum, no sum.
    #[inline(always)]
    pub fn new(rows: Rows, scale_log2: f32) -> Self {
        Overlap {
            s: [[[0f32; 4]; MAX_N_TILES]; MAX_MT],
            o: [[[0f32; 4]; MAX_N_TILES]; MAX_MT],
            stats: RowStats::new(),
            p_prev: [[0; 4]; MAX_N_TILES / 2],
            rows,
            scale_log2,
            _element: core::marker::PhantomData,
        }
    }

    /// Step 1: issue `S_n = Q·K_nᵀ` (`q_rows`: this warpgroup's 64 rows of Q)
    /// and, when `v_prev` is the previous tile's V, `O += P_{n−1}·V_{n−1}`.
    ///
    /// # Safety
    /// The whole warpgroup, converged; Q, `k_tile` and `v_prev` have landed in
    /// shared memory and stay until [`Self::wait_scores`] (K) and
    /// [`Self::wait_pv`] (V); no other `wgmma` group of this warpgroup is in
    /// flight.
    #[inline(always)]
    pub unsafe fn issue(&mut self, q_rows: Shared, k_tile: Shared, v_prev: Option<Shared>) {
        self.s = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
        let p_prev = &self.p_prev;
        // SAFETY: forwarded to the caller; neither accumulator is touched
        // before its wait.
        unsafe {
            qk::<E, D, BM, BN, false>(&mut self.s[0], q_rows, k_tile);
            wgmma_commit();
            if let Some(v) = v_prev {
                pv::<E, D, BN, false>(|kk| p_prev[kk], &mut self.o[0], v);
            }
            // Empty for the first tile, so that S's group is always the older of two.
            wgmma_commit();
        }
    }

    /// Wait for `S_n`, the older of the two groups [`Self::issue`] committed.
    ///
    /// # Safety
    /// The whole warpgroup, converged, after [`Self::issue`].
    #[inline(always)]
    pub unsafe fn wait_scores(&mut self) {
        // SAFETY: forwarded to the caller.
        unsafe { wait_acc::<1, BN>(&mut self.s[0]) };
    }

    /// Step 2: mask `S_n` (key tile `n`) and fold it into the online
    /// softmax; returns the row factors `O` is to be rescaled by.
    #[inline(always)]
    pub fn softmax(&mut self, n: usize, (sq, sk): (u32, u32)) -> [[f32; 2]; MAX_MT] {
        let n0 = (n * BN) as u32;
        if tile_needs_mask(self.rows.m0, n0, BN as u32, sq, sk, CAUSAL) {
            mask_scores::<BN, CAUSAL>(&mut self.s, 1, self.rows, n0, (sq, sk));
        }
        softmax_deferred::<BN>(&mut self.s, &mut self.stats, 1, self.scale_log2)
    }

    /// Wait for `P·V`, the newer of the two groups.
    ///
    /// # Safety
    /// As [`Self::wait_scores`].
    #[inline(always)]
    pub unsafe fn wait_pv(&mut self) {
        // SAFETY: forwarded to the caller.
        unsafe { wait_acc::<0, D>(&mut self.o[0]) };
    }

    /// Step 3: `O` rescaled by `alphas` (from [`Self::softmax`]) and `P_n`
    /// packed for the next tile's `P·V`.
    #[inline(always)]
    pub fn finish(&mut self, alphas: [[f32; 2]; MAX_MT]) {
        rescale::<D>(&mut self.o, &alphas, 1);
        let s = &self.s;
        self.p_prev = core::array::from_fn(|kk| {
            if kk < BN / 16 {
                p_fragment::<E>(s, 0, kk)
            } else {
                [0; 4]
            }
        });
    }

    /// After the last tile: `O += P_last·V_last`, waited for.
    ///
    /// # Safety
    /// The whole warpgroup, converged; `v_last` has landed and stays until
    /// this returns; no `wgmma` group of this warpgroup is in flight.
    #[inline(always)]
    pub unsafe fn last_pv(&mut self, v_last: Shared) {
        let p_prev = &self.p_prev;
        // SAFETY: forwarded to the caller.
        unsafe { pv::<E, D, BN, true>(|kk| p_prev[kk], &mut self.o[0], v_last) };
    }

    /// The epilogue: this warpgroup's rows of O and the LSE of head `h` of
    /// batch `b`.
    #[inline(always)]
    pub fn write(&self, p: &AttnParams, (b, h): (u32, u32)) {
        write_output::<E, D>(&self.o, &self.stats, 1, self.rows, p, (b, h));
    }
}

/// [`wgmma_wait`] on the first `COLS/8` tiles of an accumulator (`COLS` 64 or
/// 128: BN for S, D for O).
///
/// # Safety
/// As [`wgmma_wait`].
#[inline(always)]
unsafe fn wait_acc<const PENDING: usize, const COLS: usize>(acc: &mut [[f32; 4]; MAX_N_TILES]) {
    // SAFETY: forwarded to the caller.
    unsafe {
        if COLS == 64 {
            wgmma_wait::<PENDING, 8>(tiles(acc))
        } else {
            wgmma_wait::<PENDING, 16>(tiles(acc))
        }
    }
}
