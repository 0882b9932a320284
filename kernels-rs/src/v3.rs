//! Kernel v3: v2 with each warpgroup's softmax overlapped with its own
//! `P·V` (FlashAttention-3's intra-warpgroup pipelining).
//!
//! # Algorithm
//! In v2 a warpgroup's tensor cores wait while it runs the softmax of a tile,
//! and its softmax waits for the products. v3 shifts `P·V` by one tile.
//! Iteration `n`:
//!
//! 1. issue `S_n = Q·K_nᵀ`, then `O += P_{n−1}·V_{n−1}` behind it (two
//!    `wgmma` groups, the second empty for `n = 0`);
//! 2. wait for `S_n` only, then mask it and run its softmax (maxima, `P_n`,
//!    sums) while the tensor cores do `P_{n−1}·V_{n−1}`;
//! 3. wait for `P·V`, rescale `O` by `S_n`'s row factors (deferred from the
//!    softmax, which could not touch `O` while it was being written), and
//!    pack `P_n` to the input dtype for the next iteration.
//!
//! After the loop, `O += P_last·V_last`; the epilogue is v2's. The mask,
//! softmax and epilogue are [`crate::flash`]'s, the products v2's.
//!
//! # Memory
//! v2's layout and copies, with one more stage for the same lookahead: tile
//! `n − 1`'s V is still read during iteration `n`, so the copy of tile
//! `n + STAGES − 2` goes into the buffer of tile `n − 2`, whose `P·V` every
//! warpgroup waited for in iteration `n − 1` (the barrier at the top of `n`
//! makes that true block-wide). `STAGES = 3` keeps one tile in flight while
//! one is computed, as v2's 2 does.
//!
//! # Registers
//! `S_n` (f32), `P_{n−1}` (16-bit pairs) and `O` are live together: at head
//! dim 128 and `BN = 128`, 64 + 32 + 64 per thread, against v2's 64 + 64.

// Index loops with const bounds over register arrays, as in v1 and `flash`.
#![allow(clippy::needless_range_loop)]

use core::f32::consts::LOG2_E;

use crate::flash::{
    Acc, MAX_MT, MAX_N_TILES, RowStats, Rows, mask_scores, p_fragment, rescale, softmax_deferred,
    write_output,
};
use crate::mask::{key_tiles, tile_needs_mask};
use crate::prims::{
    Shared, block_idx, cp_async_wait, dyn_smem, fence_proxy_async, grid_dim, lane_id, sync_threads,
    warp_id, wgmma_commit, wgmma_wait,
};
use crate::smem_tile::{Sw128, issue_kv_tile, load_tile_async, wait_oldest_of};
use crate::tile::SWIZZLE_ALIGN;
use crate::v2::{ROW, pv, qk, tiles};
use crate::{AttnParams, Element};

/// `P` of one key tile as `P·V`'s A operand: one fragment per 16-key k-step.
type PFragments = [[u32; 4]; MAX_N_TILES / 2];

/// Attention forward, v3. Grid, block and shared memory as
/// [`crate::v2::attn_fwd`] (`STAGES ≥ 3`). sm_90a only.
///
/// # Safety
/// As [`crate::v1::attn_fwd`].
#[inline(always)]
pub unsafe fn attn_fwd<
    E: Element,
    const D: usize,
    const BM: usize,
    const BN: usize,
    const W: usize,
    const STAGES: usize,
    const CAUSAL: bool,
>(
    p: &AttnParams,
) {
    const {
        assert!(
            STAGES >= 3,
            "v3 keeps tile n−1 while tile n is used and n+1 loads"
        )
    };
    let lane = lane_id() as usize;
    let (g, t) = (lane / 4, lane % 4);
    let warp = warp_id() as usize;
    let [bx, h, b] = block_idx();
    // Causal: the longest query tiles first (see v1).
    let mb = if CAUSAL { grid_dim()[0] - 1 - bx } else { bx };
    let m0 = mb * BM as u32;
    let kv_head = h / p.gqa_group();
    let (sq, sk) = (p.seqlen_q, p.seqlen_k);

    // The launch provides smem_bytes() bytes: the tiles plus alignment slack.
    let q_s = Shared::of(dyn_smem()).align_up(SWIZZLE_ALIGN as u32);
    let tile_bytes = (BN * D * 2) as u32;
    let k_stage = |s: usize| q_s.byte_add((BM * D * 2) as u32 + 2 * s as u32 * tile_bytes);
    let v_stage = |s: usize| k_stage(s).byte_add(tile_bytes);

    let n_tiles = key_tiles(m0, BM as u32, BN as u32, sq, sk, CAUSAL) as usize;
    // Tiles in flight while one is computed on.
    let ahead = STAGES - 2;
    let issue_tile = |n: usize| {
        let stage = n % STAGES;
        // SAFETY: tensors valid per the caller; stage buffers hold BN·D elements.
        unsafe {
            issue_kv_tile::<Sw128, D, BN, W>(
                (k_stage(stage), v_stage(stage)),
                p,
                (b, kv_head),
                n,
                n_tiles,
            )
        };
    };

    // Prologue: Q and the first `ahead` key tiles in flight (Q in the first group).
    if n_tiles > 0 {
        // SAFETY: as above; the Q tile holds BM·D elements.
        unsafe { load_tile_async::<Sw128, D, BM, W>(q_s, p.q, p.q_strides, (b, h), m0, sq) };
    }
    for n in 0..ahead {
        issue_tile(n);
    }

    let scale_log2 = p.softmax_scale * LOG2_E;
    let rows = Rows {
        m0,
        row0: 16 * warp,
        g,
        t,
    };
    // This warpgroup's 64 rows of Q, as the A operand of every S product.
    let q_rows = q_s.byte_add((warp / 4) as u32 * 64 * ROW);

    let mut o_acc: Acc = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
    let mut stats = RowStats::new();
    let mut p_prev: PFragments = [[0; 4]; MAX_N_TILES / 2];

    for n in 0..n_tiles {
        wait_oldest_of(ahead);
        // Tile n (and Q) written by every thread and handed to the async
        // proxy; every warpgroup is done with tile n−2's buffers.
        fence_proxy_async();
        sync_threads();
        issue_tile(n + ahead);

        // S = Q Kᵀ, then O += P V of the previous tile behind it.
        let mut s: Acc = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
        // SAFETY: the whole warpgroup, converged after the barrier that
        // published Q and K_n (V_{n−1} was published one iteration earlier
        // and is not overwritten before the wait below). Neither accumulator
        // is touched before its wait.
        unsafe {
            qk::<E, D, BM, BN, false>(&mut s[0], q_rows, k_stage(n % STAGES));
            wgmma_commit();
            if n > 0 {
                pv::<E, D, BN, false>(|kk| p_prev[kk], &mut o_acc[0], v_stage((n - 1) % STAGES));
            }
            // Empty for n = 0, so that S's group is always the older of two.
            wgmma_commit();
            wait_acc::<1, BN>(&mut s[0]);
        }

        // Mask and softmax of S_n while the tensor cores run P·V.
        let n0 = (n * BN) as u32;
        if tile_needs_mask(m0, n0, BN as u32, sq, sk, CAUSAL) {
            mask_scores::<BN, CAUSAL>(&mut s, 1, rows, n0, (sq, sk));
        }
        let alphas = softmax_deferred::<BN>(&mut s, &mut stats, 1, scale_log2);

        // SAFETY: the whole warpgroup; O's group is the newest.
        unsafe { wait_acc::<0, D>(&mut o_acc[0]) };
        rescale::<D>(&mut o_acc, &alphas, 1);
        p_prev = core::array::from_fn(|kk| {
            if kk < BN / 16 {
                p_fragment::<E>(&s, 0, kk)
            } else {
                [0; 4]
            }
        });
    }
    if n_tiles > 0 {
        // SAFETY: the whole warpgroup; the last V tile is still in its buffer.
        unsafe {
            pv::<E, D, BN, true>(
                |kk| p_prev[kk],
                &mut o_acc[0],
                v_stage((n_tiles - 1) % STAGES),
            )
        };
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();
    write_output::<E, D>(&o_acc, &stats, 1, rows, p, (b, h));
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
