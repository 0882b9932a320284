//! Kernel v0: tiled attention forward with scalar FMAs and an online softmax.
//!
//! The readable baseline every faster kernel is measured against; it stays in
//! the registry for good.
//!
//! # Tiling
//! One block computes `BM` query rows of one (batch, head). It walks the key
//! tiles of width `BN` that the mask leaves visible; for each it stages K and
//! V in shared memory, writes the `BM × BN` scores to shared memory, and folds
//! them into per-row running max `m`, running sum `l` and output accumulator
//! (the online softmax: `acc ← acc·2^(m_old−m_new) + Σ_j 2^(s_j−m_new)·v_j`).
//! Scores are kept in the exp2 domain (`scale·log2 e` folded in once).
//!
//! # Thread mapping
//! `TPR = 32W / BM` threads share a query row: each computes every TPR-th score
//! of the row and owns `D / TPR` consecutive output columns.
//!
//! # Shared memory
//! `Q [BM][D]`, `K [BN][D]`, `V [BN][D]` (16-bit), `S [BM][BN]` (f32): exactly
//! [`crate::TileConfig::smem_bytes`] for `Family::V0`.

// Index loops over the accumulator on purpose: see the note at the top of v1.rs.
#![allow(clippy::needless_range_loop)]

use core::f32::consts::{LN_2, LOG2_E};

use crate::mask::{causal_key_end, key_tiles};
use crate::params::Strides;
use crate::prims::{block_idx, dyn_smem, exp2, log2, sync_threads, thread_idx};
use crate::{AttnParams, Element};

/// Copy rows `row0..row0+ROWS` of one head into a dense `[ROWS][D]` tile (by
/// the block's `32·W` threads), writing zeros past `seqlen` so ragged tails
/// compute on defined data.
///
/// # Safety
/// `dst` holds `ROWS * D` elements; `src` is a valid tensor for `strides` up to `seqlen`.
#[inline(always)]
unsafe fn load_tile<const D: usize, const ROWS: usize, const W: usize>(
    dst: *mut u16,
    src: u64,
    strides: Strides,
    (b, h): (u32, u32),
    row0: u32,
    seqlen: u32,
) {
    let mut i = thread_idx() as usize;
    while i < ROWS * D {
        let (r, c) = (i / D, i % D);
        let s = row0 + r as u32;
        let value = if s < seqlen {
            // SAFETY: (b, s, h, c) is inside the tensor (caller's contract).
            unsafe { *(src as *const u16).offset(strides.offset(b, s, h) + c as isize) }
        } else {
            0
        };
        // SAFETY: i < ROWS * D.
        unsafe { *dst.add(i) = value };
        i += 32 * W;
    }
}

/// Attention forward, v0. Grid `(⌈seqlen_q/BM⌉, heads_q, batch)`, block `32·W`
/// threads, `TileConfig::smem_bytes()` bytes of dynamic shared memory.
///
/// # Safety
/// The launch geometry above, and `p` describing valid tensors: Q, O
/// `[batch, seqlen_q, heads_q, D]`, K, V `[batch, seqlen_k, heads_kv, D]` under
/// their strides, LSE `[batch, heads_q, seqlen_q]` contiguous.
// Inlined into each generated entry point: as a called function its
// parameter block went through a 160-byte local-memory frame.
#[inline(always)]
pub unsafe fn attn_fwd<
    E: Element,
    const D: usize,
    const BM: usize,
    const BN: usize,
    const W: usize,
    const CAUSAL: bool,
>(
    p: &AttnParams,
) {
    let threads = 32 * W;
    let tpr = threads / BM;
    let cols = D / tpr;
    let tid = thread_idx() as usize;
    let (row, part) = (tid / tpr, tid % tpr);
    let [mb, h, b] = block_idx();
    let m0 = mb * BM as u32;
    let kv_head = h / p.gqa_group();
    let q_row = m0 + row as u32;

    // SAFETY: the launch provides smem_bytes() of shared memory, carved exactly so.
    let (q_s, k_s, v_s, s_s) = unsafe {
        let q_s = dyn_smem() as *mut u16;
        let k_s = q_s.add(BM * D);
        let v_s = k_s.add(BN * D);
        (q_s, k_s, v_s, v_s.add(BN * D) as *mut f32)
    };

    // SAFETY: tensors valid per the caller's contract; tiles sized as carved.
    unsafe { load_tile::<D, BM, W>(q_s, p.q, p.q_strides, (b, h), m0, p.seqlen_q) };

    let scale_log2 = p.softmax_scale * LOG2_E;
    let key_end = if CAUSAL {
        causal_key_end(q_row.min(p.seqlen_q - 1), p.seqlen_q, p.seqlen_k)
    } else {
        p.seqlen_k as i64
    };
    let mut m = f32::NEG_INFINITY;
    let mut l = 0f32;
    let mut acc = [0f32; D];

    for n in 0..key_tiles(m0, BM as u32, BN as u32, p.seqlen_q, p.seqlen_k, CAUSAL) {
        let n0 = n * BN as u32;
        // SAFETY: as for Q.
        unsafe {
            load_tile::<D, BN, W>(k_s, p.k, p.k_strides, (b, kv_head), n0, p.seqlen_k);
            load_tile::<D, BN, W>(v_s, p.v, p.v_strides, (b, kv_head), n0, p.seqlen_k);
        }
        sync_threads();

        // S = Q Kᵀ · scale·log2e, masked to −∞ past the keys or the causal diagonal.
        let mut j = part;
        while j < BN {
            let key = (n0 as usize + j) as i64;
            let score = if key < key_end {
                let mut dot = 0f32;
                for c in 0..D {
                    // SAFETY: row < BM, j < BN, c < D.
                    unsafe {
                        dot += E::to_f32(*q_s.add(row * D + c)) * E::to_f32(*k_s.add(j * D + c))
                    };
                }
                dot * scale_log2
            } else {
                f32::NEG_INFINITY
            };
            // SAFETY: row < BM, j < BN.
            unsafe { *s_s.add(row * BN + j) = score };
            j += tpr;
        }
        sync_threads();

        // Online softmax: new running max, rescale what was accumulated.
        let mut m_new = m;
        for j in 0..BN {
            // SAFETY: row < BM, j < BN.
            m_new = m_new.max(unsafe { *s_s.add(row * BN + j) });
        }
        // A row that has seen only masked keys keeps m = −∞; use 0 as the
        // exponent base so 2^(−∞ − base) = 0 instead of NaN.
        let base = if m_new == f32::NEG_INFINITY {
            0.0
        } else {
            m_new
        };
        let alpha = exp2(m - base);
        l *= alpha;
        for c in 0..cols {
            acc[c] *= alpha;
        }
        // O += P V over this thread's columns.
        for j in 0..BN {
            // SAFETY: row < BM, j < BN.
            let pj = exp2(unsafe { *s_s.add(row * BN + j) } - base);
            l += pj;
            for c in 0..cols {
                // SAFETY: j < BN, part * cols + c < D.
                acc[c] += pj * E::to_f32(unsafe { *v_s.add(j * D + part * cols + c) });
            }
        }
        m = m_new;
        sync_threads();
    }

    // Epilogue: O = acc / l; rows that saw no key get O = 0 and LSE = −∞.
    if q_row < p.seqlen_q {
        let inv_l = if l > 0.0 { 1.0 / l } else { 0.0 };
        let o = p.o as *mut u16;
        let o_row = p.o_strides.offset(b, q_row, h) + (part * cols) as isize;
        for c in 0..cols {
            // SAFETY: (b, q_row, h, part*cols + c) is inside O.
            unsafe { *o.offset(o_row + c as isize) = E::from_f32(acc[c] * inv_l) };
        }
        if part == 0 {
            let lse = if l > 0.0 {
                (m + log2(l)) * LN_2
            } else {
                f32::NEG_INFINITY
            };
            let idx = (b as usize * p.heads_q as usize + h as usize) * p.seqlen_q as usize
                + q_row as usize;
            // SAFETY: idx < batch * heads_q * seqlen_q.
            unsafe { *(p.lse as *mut f32).add(idx) = lse };
        }
    }
}
