//! Kernel v1: the FlashAttention-2 forward algorithm on tensor cores.
//!
//! # Algorithm
//! One block owns `BM` query rows of one (batch, head); each of its `W` warps
//! owns 16 of them (`BM = 16·W`). The block walks the key tiles the mask leaves
//! visible; per tile each warp computes `S = Q·Kᵀ` (16 × BN) with
//! `mma.sync.m16n8k16`, masks it (only tiles that cross the end of the keys or
//! the causal diagonal), folds it into the online softmax in the exp2 domain,
//! converts `P` to the input dtype *in registers* — the S accumulator layout
//! is exactly the A-operand layout of the next mma — and accumulates `O += P·V`.
//!
//! # Memory
//! Q is staged through shared memory once and kept in registers. K and V go
//! through a ring of `STAGES` shared-memory buffers filled with 16-byte
//! `cp.async`: while tile `n` is computed, tiles up to `n + STAGES − 1` are in
//! flight. Tiles are `[rows][D]` with 16-byte chunks XOR-swizzled by `row mod 8`,
//! so the 8 rows an `ldmatrix` reads, and the rows a warp's `cp.async` writes,
//! fall in distinct banks (no padding needed).
//!
//! # Thread mapping (PTX fragment notation)
//! Lane `= 4g + t`. A thread holds rows `g` and `g + 8` of its warp's 16 rows;
//! of each 8-column n-tile it holds columns `2t` and `2t + 1`. Row statistics
//! are reduced over the 4 lanes of a quad with two butterfly shuffles.
//!
//! # Shared memory
//! `Q [BM][D]` + `STAGES × (K [BN][D] + V [BN][D])`, 16-bit: exactly
//! [`crate::TileConfig::smem_bytes`] for `Family::V1`.

// Loops over register arrays are index loops with const bounds on purpose:
// LLVM unrolls those fully, so every fragment index is a constant and the
// arrays live in registers. Iterator adapters (`iter().enumerate().take(n)`)
// were left rolled, which indexes the arrays dynamically and puts them in
// local memory (640 bytes of stack per thread and a ~15× slowdown, measured
// on the H100 on 2026-11-24; see docs/perf-notes.md).
#![allow(clippy::needless_range_loop)]

use core::f32::consts::{LN_2, LOG2_E};

use crate::mask::{causal_key_end, key_tiles, tile_needs_mask};
use crate::params::Strides;
use crate::prims::{
    block_idx, cp_async_16, cp_async_commit, cp_async_wait, dyn_smem, exp2, grid_dim, lane_id,
    ldmatrix, ldmatrix_trans, log2, shfl_xor_f32, sync_threads, thread_idx, warp_id,
};
use crate::{AttnParams, Element};

/// Elements per 16-byte chunk, the unit of `cp.async` and of an `ldmatrix` row.
const CHUNK: usize = 8;
/// Register arrays are sized for the largest tiles (D ≤ 128, BN ≤ 128); loops
/// run to the variant's own bounds and the compiler drops the unused tail.
const MAX_K_STEPS: usize = 8;
const MAX_N_TILES: usize = 16;

/// Element offset of chunk `chunk` of row `row` in a swizzled `[rows][D]` tile.
#[inline(always)]
fn swizzled<const D: usize>(row: usize, chunk: usize) -> usize {
    row * D + (chunk ^ (row & 7)) * CHUNK
}

/// Issue `cp.async` copies (by the block's `32·W` threads) of rows `row0..row0+ROWS` of one head into a swizzled
/// tile; rows at or past `seqlen` are zero-filled (their source address is
/// clamped to a valid row and nothing is read from it).
///
/// # Safety
/// `dst` holds `ROWS·D` elements of shared memory; `src` is valid for `strides` up to `seqlen`.
#[inline(always)]
unsafe fn load_tile_async<const D: usize, const ROWS: usize, const W: usize>(
    dst: *mut u16,
    src: u64,
    strides: Strides,
    (b, h): (u32, u32),
    row0: u32,
    seqlen: u32,
) {
    let (chunks, threads) = (D / CHUNK, 32 * W);
    for k in 0..ROWS * chunks / threads {
        let i = thread_idx() as usize + k * threads;
        let (r, c) = (i / chunks, i % chunks);
        let row = row0 + r as u32;
        let valid = row < seqlen;
        let src_row = if valid { row } else { seqlen - 1 };
        // SAFETY: (b, src_row, h, c·8) is inside the tensor; the tile holds ROWS·D elements.
        unsafe {
            let from =
                (src as *const u16).offset(strides.offset(b, src_row, h) + (c * CHUNK) as isize);
            cp_async_16(
                dst.add(swizzled::<D>(r, c)) as *mut u8,
                from as *const u8,
                if valid { 16 } else { 0 },
            );
        }
    }
}

/// `cp.async.wait_group STAGES−2`: the oldest in-flight tile has landed.
#[inline(always)]
fn wait_oldest_tile<const STAGES: usize>() {
    match STAGES {
        2 => cp_async_wait::<0>(),
        3 => cp_async_wait::<1>(),
        _ => cp_async_wait::<2>(),
    }
}

/// Attention forward, v1. Grid `(⌈seqlen_q/BM⌉, heads_q, batch)`, block `32·W`
/// threads, `TileConfig::smem_bytes()` bytes of dynamic shared memory.
///
/// # Safety
/// The launch geometry above; `p` describing valid tensors (see `v0::attn_fwd`)
/// whose strides are multiples of 8 elements and whose bases are 16-byte aligned.
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
    let tid_lane = lane_id() as usize;
    let (g, t) = (tid_lane / 4, tid_lane % 4);
    let warp = warp_id() as usize;
    let [bx, h, b] = block_idx();
    // Causal: the last query tiles see the most keys; start them first so the
    // long blocks do not end up as a tail on a few SMs.
    let mb = if CAUSAL { grid_dim()[0] - 1 - bx } else { bx };
    let m0 = mb * BM as u32;
    let kv_head = h / p.gqa_group();
    let (sq, sk) = (p.seqlen_q, p.seqlen_k);

    // SAFETY: the launch provides smem_bytes() bytes, carved exactly so.
    let (q_s, kv_s) = unsafe {
        let q_s = dyn_smem() as *mut u16;
        (q_s, q_s.add(BM * D))
    };
    let k_stage = |s: usize| unsafe { kv_s.add(s * 2 * BN * D) };
    let v_stage = |s: usize| unsafe { kv_s.add(s * 2 * BN * D + BN * D) };

    let n_tiles = key_tiles(m0, BM as u32, BN as u32, sq, sk, CAUSAL) as usize;
    let issue_tile = |n: usize| {
        if n < n_tiles {
            let n0 = (n * BN) as u32;
            // SAFETY: tensors valid per the caller; stage buffers hold BN·D elements.
            unsafe {
                load_tile_async::<D, BN, W>(
                    k_stage(n % STAGES),
                    p.k,
                    p.k_strides,
                    (b, kv_head),
                    n0,
                    sk,
                );
                load_tile_async::<D, BN, W>(
                    v_stage(n % STAGES),
                    p.v,
                    p.v_strides,
                    (b, kv_head),
                    n0,
                    sk,
                );
            }
        }
        // Commit even when empty, so group counting is the same every iteration.
        cp_async_commit();
    };

    // Prologue: Q and the first STAGES−1 key tiles in flight (Q in the first group).
    if n_tiles > 0 {
        // SAFETY: as above; the Q tile holds BM·D elements.
        unsafe { load_tile_async::<D, BM, W>(q_s, p.q, p.q_strides, (b, h), m0, sq) };
    }
    for n in 0..STAGES - 1 {
        issue_tile(n);
    }

    let scale_log2 = p.softmax_scale * LOG2_E;
    let row0 = 16 * warp; // this warp's first row in the tile

    // Q (in the first group) has landed: keep this warp's rows in registers.
    // Loaded once, before the loop, so the fragments are plain values the
    // compiler keeps in registers (an array assigned inside the loop would be
    // carried through it in local memory). With no visible key tile Q was never
    // loaded and the fragments are unused.
    wait_oldest_tile::<STAGES>();
    sync_threads();
    let q_frag = load_q_fragments::<D>(q_s, row0, tid_lane);

    let mut o_acc = [[0f32; 4]; MAX_N_TILES];
    let mut m = [f32::NEG_INFINITY; 2]; // running max (exp2 domain) of rows g, g+8
    let mut l = [0f32; 2]; // this thread's part of the running sums

    for n in 0..n_tiles {
        wait_oldest_tile::<STAGES>();
        // Tile n visible to all; every warp is done with tile n−1's buffers.
        sync_threads();
        issue_tile(n + STAGES - 1);

        // S = Q Kᵀ for this warp's 16 rows × BN keys.
        let mut s = qk::<E, D, BN>(&q_frag, k_stage(n % STAGES), tid_lane);

        // Mask: only tiles crossing the end of the keys or the diagonal.
        let n0 = (n * BN) as u32;
        if tile_needs_mask(m0, n0, BN as u32, sq, sk, CAUSAL) {
            for j in 0..BN / 8 {
                for i in 0..4 {
                    let x = &mut s[j][i];
                    let row = (m0 as usize + row0 + g + 8 * (i / 2)) as u32;
                    let key = (n0 as usize + 8 * j + 2 * t + (i & 1)) as i64;
                    let end = if CAUSAL {
                        causal_key_end(row.min(sq - 1), sq, sk)
                    } else {
                        sk as i64
                    };
                    if key >= end {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
        }

        // Online softmax: new row maxima, rescale what was accumulated, P = 2^(S·c − m).
        let mut tile_max = [f32::NEG_INFINITY; 2];
        for tile in &s[..BN / 8] {
            tile_max[0] = tile_max[0].max(tile[0]).max(tile[1]);
            tile_max[1] = tile_max[1].max(tile[2]).max(tile[3]);
        }
        let mut base = [0f32; 2];
        for r in 0..2 {
            let mx = quad_max(tile_max[r]);
            let m_new = m[r].max(mx * scale_log2);
            // A row that has seen only masked keys keeps m = −∞; use 0 as the
            // exponent base so 2^(−∞ − base) = 0 instead of NaN.
            base[r] = if m_new == f32::NEG_INFINITY {
                0.0
            } else {
                m_new
            };
            let alpha = exp2(m[r] - base[r]);
            m[r] = m_new;
            l[r] *= alpha;
            for j in 0..D / 8 {
                o_acc[j][2 * r] *= alpha;
                o_acc[j][2 * r + 1] *= alpha;
            }
        }
        for j in 0..BN / 8 {
            for i in 0..4 {
                let x = exp2(s[j][i] * scale_log2 - base[i / 2]);
                s[j][i] = x;
                l[i / 2] += x;
            }
        }

        // O += P V, P converted to the input dtype in registers.
        pv::<E, D, BN>(&s, v_stage(n % STAGES), tid_lane, &mut o_acc);
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();

    // Epilogue: O = acc / l, LSE = ln Σ = (m + log2 l)·ln 2; empty rows: O = 0, LSE = −∞.
    let mut inv_l = [0f32; 2];
    let mut lse = [f32::NEG_INFINITY; 2];
    for r in 0..2 {
        let total = quad_sum(l[r]);
        if total > 0.0 {
            inv_l[r] = 1.0 / total;
            lse[r] = (m[r] + log2(total)) * LN_2;
        }
    }
    let o = p.o as *mut u16;
    for r in 0..2 {
        let row = m0 + (row0 + g + 8 * r) as u32;
        if row >= sq {
            continue;
        }
        let row_off = p.o_strides.offset(b, row, h);
        for j in 0..D / 8 {
            let acc = o_acc[j];
            let pair = E::pack2(acc[2 * r] * inv_l[r], acc[2 * r + 1] * inv_l[r]);
            // SAFETY: (b, row, h, 8j + 2t) is inside O; strides are multiples of 8 elements, so 4-byte aligned.
            unsafe { *(o.offset(row_off + (8 * j + 2 * t) as isize) as *mut u32) = pair };
        }
        if t == 0 {
            let idx = (b as usize * p.heads_q as usize + h as usize) * sq as usize + row as usize;
            // SAFETY: idx < batch · heads_q · seqlen_q.
            unsafe { *(p.lse as *mut f32).add(idx) = lse[r] };
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

/// A-operand fragments of this warp's 16 query rows for each 16-wide k-step of
/// D. `ldmatrix.x4` matrices: (rows 0–7, k 0–7), (rows 8–15, k 0–7),
/// (rows 0–7, k 8–15), (rows 8–15, k 8–15) — the A registers a0..a3 in order.
#[inline(always)]
fn load_q_fragments<const D: usize>(
    q_s: *const u16,
    row0: usize,
    lane: usize,
) -> [[u32; 4]; MAX_K_STEPS] {
    let mut frag = [[0u32; 4]; MAX_K_STEPS];
    let mat = lane / 8;
    let row = row0 + lane % 8 + 8 * (mat & 1);
    for kk in 0..D / 16 {
        // SAFETY: row < BM and chunk < D/8 address inside the Q tile.
        frag[kk] =
            unsafe { ldmatrix::<4>(q_s.add(swizzled::<D>(row, 2 * kk + (mat >> 1))) as *const u8) };
    }
    frag
}

/// `S = Q Kᵀ` for one warp: 16 rows × BN keys as BN/8 accumulator tiles.
/// B fragments come from K rows with plain `ldmatrix.x4`: matrices
/// (keys 0–7, k 0–7), (keys 0–7, k 8–15), (keys 8–15, k 0–7), (keys 8–15, k 8–15)
/// give b0/b1 of two adjacent n-tiles.
#[inline(always)]
fn qk<E: Element, const D: usize, const BN: usize>(
    q: &[[u32; 4]; MAX_K_STEPS],
    k_s: *const u16,
    lane: usize,
) -> [[f32; 4]; MAX_N_TILES] {
    let mut s = [[0f32; 4]; MAX_N_TILES];
    let mat = lane / 8;
    for j2 in 0..BN / 16 {
        let key = 16 * j2 + 8 * (mat >> 1) + lane % 8;
        for kk in 0..D / 16 {
            let qf = &q[kk];
            // SAFETY: key < BN and chunk < D/8 address inside the K tile.
            let kf = unsafe {
                ldmatrix::<4>(k_s.add(swizzled::<D>(key, 2 * kk + (mat & 1))) as *const u8)
            };
            s[2 * j2] = E::mma(*qf, [kf[0], kf[1]], s[2 * j2]);
            s[2 * j2 + 1] = E::mma(*qf, [kf[2], kf[3]], s[2 * j2 + 1]);
        }
    }
    s
}

/// `O += P V` for one warp. P's accumulator tiles 2kk and 2kk+1 are exactly the
/// A fragment of k-step kk once packed to the input dtype. B fragments come
/// from V rows with `ldmatrix.x4.trans`: matrices (keys 0–7, d 0–7),
/// (keys 8–15, d 0–7), (keys 0–7, d 8–15), (keys 8–15, d 8–15).
#[inline(always)]
fn pv<E: Element, const D: usize, const BN: usize>(
    p: &[[f32; 4]; MAX_N_TILES],
    v_s: *const u16,
    lane: usize,
    o: &mut [[f32; 4]; MAX_N_TILES],
) {
    let mat = lane / 8;
    for kk in 0..BN / 16 {
        let (lo, hi) = (&p[2 * kk], &p[2 * kk + 1]);
        let a = [
            E::pack2(lo[0], lo[1]),
            E::pack2(lo[2], lo[3]),
            E::pack2(hi[0], hi[1]),
            E::pack2(hi[2], hi[3]),
        ];
        let key = 16 * kk + 8 * (mat & 1) + lane % 8;
        for j2 in 0..D / 16 {
            // SAFETY: key < BN and chunk < D/8 address inside the V tile.
            let vf = unsafe {
                ldmatrix_trans::<4>(v_s.add(swizzled::<D>(key, 2 * j2 + (mat >> 1))) as *const u8)
            };
            o[2 * j2] = E::mma(a, [vf[0], vf[1]], o[2 * j2]);
            o[2 * j2 + 1] = E::mma(a, [vf[2], vf[3]], o[2 * j2 + 1]);
        }
    }
}
