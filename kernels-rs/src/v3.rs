//! Kernel v3: v2 with each warpgroup's softmax overlapped with its own
//! `P·V` (FlashAttention-3's intra-warpgroup pipelining).
//!
//! # Algorithm
//! In v2 a warpgroup's tensor cores wait while it runs the softmax of a tile,
//! and its softmax waits for the products. v3 shifts `P·V` by one tile: the
//! softmax of tile `n` runs while the tensor cores do `P_{n−1}·V_{n−1}`, in
//! the steps of [`crate::overlap`]. The loads are v2's, with a block barrier
//! per tile.
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
//! `S_n`, `P_{n−1}` and `O` live together ([`crate::overlap`]).

// Index loops with const bounds over register arrays, as in v1 and `flash`.
#![allow(clippy::needless_range_loop)]

use core::f32::consts::LOG2_E;

use crate::flash::Rows;
use crate::mask::key_tiles;
use crate::overlap::Overlap;
use crate::prims::{
    Shared, block_idx, cp_async_wait, dyn_smem, fence_proxy_async, grid_dim, lane_id, sync_threads,
    warp_id,
};
use crate::smem_tile::{Sw128, issue_kv_tile, load_tile_async, wait_oldest_of};
use crate::tile::SWIZZLE_ALIGN;
use crate::v2::ROW;
use crate::{AttnParams, Element};

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

    let rows = Rows {
        m0,
        row0: 16 * warp,
        g,
        t,
    };
    // This warpgroup's 64 rows of Q, as the A operand of every S product.
    let q_rows = q_s.byte_add((warp / 4) as u32 * 64 * ROW);
    let mut tile = Overlap::<E, D, BM, BN, CAUSAL>::new(rows, p.softmax_scale * LOG2_E);

    for n in 0..n_tiles {
        wait_oldest_of(ahead);
        // Tile n (and Q) written by every thread and handed to the async
        // proxy; every warpgroup is done with tile n−2's buffers.
        fence_proxy_async();
        sync_threads();
        issue_tile(n + ahead);

        // SAFETY: the whole warpgroup, converged after the barrier that
        // published Q and K_n (V_{n−1} was published one iteration earlier
        // and is not overwritten before the wait for P·V below).
        unsafe {
            tile.issue(
                q_rows,
                k_stage(n % STAGES),
                (n > 0).then(|| v_stage((n - 1) % STAGES)),
            );
            tile.wait_scores();
        }
        // Mask and softmax of S_n while the tensor cores run P·V.
        let alphas = tile.softmax(n, (sq, sk));
        // SAFETY: as above.
        unsafe { tile.wait_pv() };
        tile.finish(alphas);
    }
    if n_tiles > 0 {
        // SAFETY: the whole warpgroup; the last V tile is still in its buffer.
        unsafe { tile.last_pv(v_stage((n_tiles - 1) % STAGES)) };
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();
    tile.write(p, (b, h));
}
