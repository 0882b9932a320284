//! Kernel v2: FlashAttention-2 on Hopper's warpgroup tensor cores (sm_90a).
//!
//! # Algorithm
//! The same as v1 (tile loop, `S = Q·Kᵀ`, mask, online softmax, `O += P·V`,
//! epilogue: the shared steps are in [`crate::flash`]), with the products done
//! by `wgmma.mma_async` instead of `mma.sync`. One block owns `BM` query rows;
//! each warpgroup (4 warps) owns 64 of them and each warp 16, so the S and O
//! fragments are v1's with one m-tile per warp.
//!
//! - `S = Q·Kᵀ`: `wgmma.m64n{BN}k16`, Q and K both read by the tensor cores
//!   straight from shared memory (descriptors). Nothing goes through
//!   registers: this is what removes v1's `ldmatrix` traffic, which fed each
//!   loaded K fragment to at most two `mma`s.
//! - `O += P·V`: `wgmma.m64n{D}k16` with `P` from registers (the S
//!   accumulator layout is the A-register layout once packed to 16 bits) and V
//!   from shared memory, read transposed by the tensor cores.
//!
//! Each product is issued as chains of four k-steps that wait for their own
//! completion (see `prims`' wgmma). Warpgroups overlap one another's softmax
//! with their products; within a warpgroup the two do not overlap.
//!
//! # Memory
//! As v1: Q staged once, K and V through a ring of `STAGES` buffers filled by
//! `cp.async`. Tiles are in the 128-byte-swizzle layout the descriptors
//! describe ([`Sw128`]: 64-column blocks of 128-byte rows, chunks swizzled by
//! `row mod 8`), starting on 1024-byte boundaries. Before the barrier that
//! publishes a tile, each thread fences its writes to the async proxy through
//! which `wgmma` reads.
//!
//! # Shared memory
//! `Q [BM][D]` + `STAGES × (K [BN][D] + V [BN][D])`, 16-bit, plus up to 1024
//! bytes to align the first tile: [`crate::TileConfig::smem_bytes`] for
//! `Family::V2`.

// Index loops with const bounds over register arrays, as in v1 and `flash`.
#![allow(clippy::needless_range_loop)]

use core::f32::consts::LOG2_E;

use crate::flash::{
    Acc, MAX_MT, MAX_N_TILES, RowStats, Rows, mask_scores, p_fragment, softmax_step, write_output,
};
use crate::mask::{key_tiles, tile_needs_mask};
use crate::prims::{
    Shared, WgmmaDesc, block_idx, cp_async_wait, dyn_smem, fence_proxy_async, grid_dim, lane_id,
    sync_threads, warp_id,
};
use crate::smem_tile::{Sw128, issue_kv_tile, load_tile_async, wait_oldest_tile};
use crate::tile::SWIZZLE_ALIGN;
use crate::{AttnParams, Element};

/// Bytes of one 128-byte-swizzle row, and of its 8-row period.
pub(crate) const ROW: u32 = 128;
const PERIOD: u32 = 8 * ROW;

/// Attention forward, v2. Grid `(⌈seqlen_q/BM⌉, heads_q, batch)`, block `32·W`
/// threads (`BM = 16·W`, `W` a multiple of 4), `TileConfig::smem_bytes()`
/// bytes of dynamic shared memory. sm_90a only.
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

    // Prologue: Q and the first STAGES−1 key tiles in flight (Q in the first group).
    if n_tiles > 0 {
        // SAFETY: as above; the Q tile holds BM·D elements.
        unsafe { load_tile_async::<Sw128, D, BM, W>(q_s, p.q, p.q_strides, (b, h), m0, sq) };
    }
    for n in 0..STAGES - 1 {
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

    for n in 0..n_tiles {
        wait_oldest_tile::<STAGES>();
        // Tile n (and Q) written by every thread and handed to the async
        // proxy; every warpgroup is done with tile n−1's buffers.
        fence_proxy_async();
        sync_threads();
        issue_tile(n + STAGES - 1);

        // S = Q Kᵀ for this warpgroup's 64 rows × BN keys.
        let mut s: Acc = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
        // SAFETY: the whole warpgroup, converged after the barrier that
        // published Q and the K tile; the chains wait for themselves.
        unsafe { qk::<E, D, BM, BN, true>(&mut s[0], q_rows, k_stage(n % STAGES)) };

        let n0 = (n * BN) as u32;
        if tile_needs_mask(m0, n0, BN as u32, sq, sk, CAUSAL) {
            mask_scores::<BN, CAUSAL>(&mut s, 1, rows, n0, (sq, sk));
        }
        softmax_step::<D, BN>(&mut s, &mut o_acc, &mut stats, 1, scale_log2);

        // O += P V, P converted to the input dtype in registers.
        // SAFETY: as for S, after the barrier that published the V tile.
        unsafe {
            pv::<E, D, BN, true>(
                |kk| p_fragment::<E>(&s, 0, kk),
                &mut o_acc[0],
                v_stage(n % STAGES),
            )
        };
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();
    write_output::<E, D>(&o_acc, &stats, 1, rows, p, (b, h));
}

/// The first `N8` accumulator tiles, as the fixed-size array a `wgmma` shape takes.
#[inline(always)]
pub(crate) fn tiles<const N8: usize>(acc: &mut [[f32; 4]; MAX_N_TILES]) -> &mut [[f32; 4]; N8] {
    const { assert!(N8 <= MAX_N_TILES) };
    // SAFETY: N8 ≤ MAX_N_TILES elements of the same type, contiguous.
    unsafe { &mut *(acc.as_mut_ptr() as *mut [[f32; 4]; N8]) }
}

/// `S = Q·Kᵀ`: `D/16` k-steps of `m64n{BN}k16`, both operands K-major: Q rows
/// (64 of this warpgroup) and K rows (BN keys) hold 64 head-dim values per
/// 128-byte row; k-step `kk` starts 32 bytes further into the row, and every
/// 64 columns the next column block of the tile. `WAIT`: each chain waits for
/// itself (v2); otherwise the chains are only issued (v3 commits and waits).
///
/// # Safety
/// The whole warpgroup runs it converged after the barrier that published Q
/// and the K tile; without `WAIT`, as [`crate::prims::wgmma_ss_bf16_issue`].
#[inline(always)]
pub(crate) unsafe fn qk<
    E: Element,
    const D: usize,
    const BM: usize,
    const BN: usize,
    const WAIT: bool,
>(
    s: &mut [[f32; 4]; MAX_N_TILES],
    q_rows: Shared,
    k_tile: Shared,
) {
    let (q_desc, k_desc) = (
        WgmmaDesc::sw128(q_rows, 16, PERIOD),
        WgmmaDesc::sw128(k_tile, 16, PERIOD),
    );
    for chain in 0..D / 64 {
        let step = |desc: WgmmaDesc, rows: usize, i: usize| {
            desc.byte_add(chain as u32 * rows as u32 * ROW + 32 * i as u32)
        };
        let a = core::array::from_fn(|i| step(q_desc, BM, i));
        let b = core::array::from_fn(|i| step(k_desc, BN, i));
        // SAFETY: forwarded to the caller.
        unsafe {
            match (BN == 64, WAIT) {
                (true, true) => E::wgmma_ss::<8>(tiles(s), a, b),
                (false, true) => E::wgmma_ss::<16>(tiles(s), a, b),
                (true, false) => E::wgmma_ss_issue::<8>(tiles(s), a, b),
                (false, false) => E::wgmma_ss_issue::<16>(tiles(s), a, b),
            }
        }
    }
}

/// `O += P V`: `BN/16` k-steps of `m64n{D}k16`, P from registers (`p(kk)`,
/// the A fragment of k-step `kk`), V MN-major (one key per 128-byte row, 64
/// head-dim values each): k-step `kk` starts 16 rows further, 8-key groups
/// are one period apart and 64-column blocks `BN` rows apart. `WAIT` as in
/// [`qk`].
///
/// # Safety
/// As [`qk`], for the V tile.
#[inline(always)]
pub(crate) unsafe fn pv<E: Element, const D: usize, const BN: usize, const WAIT: bool>(
    p: impl Fn(usize) -> [u32; 4],
    o: &mut [[f32; 4]; MAX_N_TILES],
    v_tile: Shared,
) {
    let v_desc = WgmmaDesc::sw128(v_tile, BN as u32 * ROW, PERIOD);
    for chain in 0..BN / 64 {
        let a = core::array::from_fn(|i| p(4 * chain + i));
        let b = core::array::from_fn(|i| v_desc.byte_add((4 * chain + i) as u32 * 16 * ROW));
        // SAFETY: forwarded to the caller.
        unsafe {
            match (D == 64, WAIT) {
                (true, true) => E::wgmma_rs::<8>(tiles(o), a, b),
                (false, true) => E::wgmma_rs::<16>(tiles(o), a, b),
                (true, false) => E::wgmma_rs_issue::<8>(tiles(o), a, b),
                (false, false) => E::wgmma_rs_issue::<16>(tiles(o), a, b),
            }
        }
    }
}
