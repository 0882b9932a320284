//! Kernel v1: the FlashAttention-2 forward algorithm on tensor cores.
//!
//! # Algorithm
//! One block owns `BM` query rows of one (batch, head); each of its `W` warps
//! owns `16·MT` of them (`MT = BM / 16W` m-tiles of 16 rows, 1 or 2). The block
//! walks the key tiles the mask leaves visible; per tile each warp computes
//! `S = Q·Kᵀ` (16·MT × BN) with `mma.sync.m16n8k16`, masks it (only tiles that
//! cross the end of the keys or the causal diagonal), folds it into the online
//! softmax in the exp2 domain, converts `P` to the input dtype *in registers* —
//! the S accumulator layout is exactly the A-operand layout of the next mma —
//! and accumulates `O += P·V`.
//!
//! Two m-tiles per warp halve the shared-memory traffic per mma: every K and V
//! fragment a warp loads with `ldmatrix` feeds MT mmas. That costs registers
//! (O and S double), so with `MT·D > 128` Q is re-read from shared memory each
//! tile instead of being held in registers (as FlashAttention-2 does).
//!
//! # Memory
//! Q is staged through shared memory once. K and V go through a ring of
//! `STAGES` shared-memory buffers filled with 16-byte `cp.async`: while tile `n`
//! is computed, tiles up to `n + STAGES − 1` are in flight. Tiles are `[rows][D]`
//! with 16-byte chunks XOR-swizzled by `row mod 8`, so the 8 rows an `ldmatrix`
//! reads, and the rows a warp's `cp.async` writes, fall in distinct banks (no
//! padding needed).
//!
//! # Thread mapping (PTX fragment notation)
//! Lane `= 4g + t`. In each of its m-tiles a thread holds rows `g` and `g + 8`;
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
    Shared, block_idx, cp_async_16, cp_async_commit, cp_async_wait, dyn_smem, exp2, fma, grid_dim,
    lane_id, ldmatrix, ldmatrix_trans, log2, opaque_ptr, shfl_xor_f32, sync_threads, thread_idx,
    warp_id,
};
use crate::{AttnParams, Element};

/// Elements per 16-byte chunk, the unit of `cp.async` and of an `ldmatrix` row.
const CHUNK: usize = 8;
/// Register arrays are sized for the largest tiles (D ≤ 128, BN ≤ 128); loops
/// run to the variant's own bounds and the compiler drops the unused tail.
const MAX_K_STEPS: usize = 8;
const MAX_N_TILES: usize = 16;
/// At most two m-tiles (32 query rows) per warp.
const MAX_MT: usize = 2;

/// Byte offset of chunk `chunk` of row `row` in a swizzled `[rows][D]` tile.
#[inline(always)]
fn swizzled<const D: usize>(row: usize, chunk: usize) -> u32 {
    ((row * D + (chunk ^ (row & 7)) * CHUNK) * 2) as u32
}

/// Where one lane's `ldmatrix` row addresses lie in a swizzled tile: for
/// 16-row group `group` and 16-column step `step` the lane supplies row
/// `16·group + row` and chunk `2·step + half`. `row mod 8` is the same in every
/// group, so the swizzle XOR takes only four values per lane (one per
/// `step mod 4`); everything else is a constant offset.
#[derive(Clone, Copy)]
struct FragRows<const D: usize> {
    offsets: [u32; 4],
}

impl<const D: usize> FragRows<D> {
    #[inline(always)]
    fn new(row: usize, half: usize) -> Self {
        FragRows {
            offsets: core::array::from_fn(|s| swizzled::<D>(row, 2 * s + half)),
        }
    }

    /// The four per-lane bases in `tile`, opaque so that the constant part of
    /// each fragment address stays an immediate (see [`Shared::opaque`]).
    #[inline(always)]
    fn bases(&self, tile: Shared) -> [Shared; 4] {
        core::array::from_fn(|s| tile.byte_add(self.offsets[s]).opaque())
    }
}

/// The lane's row address for fragment (`group`, `step`) given [`FragRows::bases`].
#[inline(always)]
fn frag_addr<const D: usize>(bases: &[Shared; 4], group: usize, step: usize) -> Shared {
    bases[step % 4].byte_add((group * 16 * D * 2 + (step / 4) * 8 * CHUNK * 2) as u32)
}

/// Issue `cp.async` copies (by the block's `32·W` threads) of rows
/// `row0..row0+ROWS` of one head into a swizzled tile; rows at or past `seqlen`
/// are zero-filled (their source address is the head's row 0 and nothing is
/// read from it).
///
/// Each thread copies chunk `c` of rows `r, r + P, r + 2P, …` (`P` rows per
/// pass of the block). Its source pointer advances by `P` rows through
/// [`opaque_ptr`], and its destination is one opaque base plus constants:
/// computed naively, LLVM hoists every copy's address out of the tile loop
/// into its own 64-bit register.
///
/// # Safety
/// `dst` holds `ROWS·D` elements of shared memory; `src` is valid for `strides` up to `seqlen`.
#[inline(always)]
unsafe fn load_tile_async<const D: usize, const ROWS: usize, const W: usize>(
    dst: Shared,
    src: u64,
    strides: Strides,
    (b, h): (u32, u32),
    row0: u32,
    seqlen: u32,
) {
    let (chunks, threads) = (D / CHUNK, 32 * W);
    let pass_rows = threads / chunks;
    let tid = thread_idx() as usize;
    let (r, c) = (tid / chunks, tid % chunks);
    // SAFETY (pointer arithmetic): (b, row, h, c·8) is inside the tensor for
    // every row < seqlen; rows ≥ seqlen are never read.
    let head_row0 = unsafe {
        (src as *const u16).offset(strides.offset(b, 0, h) + (c * CHUNK) as isize) as *const u8
    };
    let row_bytes = strides.seq as isize * 2;
    let mut from = opaque_ptr(head_row0.wrapping_offset((row0 as usize + r) as isize * row_bytes));
    let to = dst.byte_add(swizzled::<D>(r, c)).opaque();
    let rows_left = seqlen as i64 - (row0 as usize + r) as i64;
    for k in 0..ROWS / pass_rows {
        let valid = ((k * pass_rows) as i64) < rows_left;
        // With whole groups of 8 rows per pass, every row this thread copies
        // has the same swizzle, so its destinations differ by constants.
        let dst_k = if pass_rows % 8 == 0 {
            to.byte_add((k * pass_rows * D * 2) as u32)
        } else {
            dst.byte_add(swizzled::<D>(r + k * pass_rows, c))
        };
        // SAFETY: the tile holds ROWS·D elements; a valid row is inside the tensor.
        unsafe {
            cp_async_16(
                dst_k,
                if valid { from } else { head_row0 },
                if valid { 16 } else { 0 },
            )
        };
        from = opaque_ptr(from.wrapping_offset(pass_rows as isize * row_bytes));
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
// Inlined into each generated entry point: as a called function its
// parameter block went through a 160-byte local-memory frame.
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
    let mt = BM / (16 * W); // m-tiles per warp
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

    // The launch provides smem_bytes() bytes, carved exactly so.
    let q_s = Shared::of(dyn_smem());
    let tile_bytes = (BN * D * 2) as u32;
    let k_stage = |s: usize| q_s.byte_add((BM * D * 2) as u32 + 2 * s as u32 * tile_bytes);
    let v_stage = |s: usize| k_stage(s).byte_add(tile_bytes);

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
    let row0 = 16 * mt * warp; // this warp's first row in the tile

    // Q (in the first group) has landed. With few enough fragments, keep this
    // warp's rows in registers, loaded once before the loop so the compiler
    // keeps them as plain values (an array assigned inside the loop would be
    // carried through it in local memory). With no visible key tile Q was
    // never loaded and the fragments are unused.
    wait_oldest_tile::<STAGES>();
    sync_threads();
    let mat = tid_lane / 8;
    let q_rows = FragRows::<D>::new(row0 + tid_lane % 8 + 8 * (mat & 1), mat >> 1);
    let k_rows = FragRows::<D>::new(8 * (mat >> 1) + tid_lane % 8, mat & 1);
    let v_rows = FragRows::<D>::new(8 * (mat & 1) + tid_lane % 8, mat >> 1);
    let q = QFragments::<D>::load(q_rows, q_s, mt);

    let mut o_acc = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
    // Per m-tile and row half (rows g, g+8): running max (exp2 domain) and this
    // thread's part of the running sum.
    let mut m = [[f32::NEG_INFINITY; 2]; MAX_MT];
    let mut l = [[0f32; 2]; MAX_MT];

    for n in 0..n_tiles {
        wait_oldest_tile::<STAGES>();
        // Tile n visible to all; every warp is done with tile n−1's buffers.
        sync_threads();
        issue_tile(n + STAGES - 1);

        // S = Q Kᵀ for this warp's 16·MT rows × BN keys.
        let mut s = qk::<E, D, BN>(&q, mt, k_rows.bases(k_stage(n % STAGES)));

        // Mask: only tiles crossing the end of the keys or the diagonal.
        let n0 = (n * BN) as u32;
        if tile_needs_mask(m0, n0, BN as u32, sq, sk, CAUSAL) {
            // This thread holds keys n0 + 2t + 8j + c (c = 0, 1). Each of its
            // rows admits keys below an end; taken relative to the first key,
            // one small integer per row and the comparisons are against
            // constants (32-bit: seqlens are far below 2^31).
            let first_key = (n0 + 2 * t as u32) as i32;
            for mi in 0..mt {
                for r in 0..2 {
                    let row = m0 + (row0 + 16 * mi + g + 8 * r) as u32;
                    let end = if CAUSAL {
                        causal_key_end(row.min(sq - 1), sq, sk) as i32
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

        // Online softmax: new row maxima, rescale what was accumulated, P = 2^(S·c − m).
        for mi in 0..mt {
            let mut tile_max = [f32::NEG_INFINITY; 2];
            for j in 0..BN / 8 {
                tile_max[0] = tile_max[0].max(s[mi][j][0]).max(s[mi][j][1]);
                tile_max[1] = tile_max[1].max(s[mi][j][2]).max(s[mi][j][3]);
            }
            let mut base = [0f32; 2];
            for r in 0..2 {
                let mx = quad_max(tile_max[r]);
                let m_new = m[mi][r].max(mx * scale_log2);
                // A row that has seen only masked keys keeps m = −∞; use 0 as the
                // exponent base so 2^(−∞ − base) = 0 instead of NaN.
                base[r] = if m_new == f32::NEG_INFINITY {
                    0.0
                } else {
                    m_new
                };
                let alpha = exp2(m[mi][r] - base[r]);
                m[mi][r] = m_new;
                l[mi][r] *= alpha;
                for j in 0..D / 8 {
                    o_acc[mi][j][2 * r] *= alpha;
                    o_acc[mi][j][2 * r + 1] *= alpha;
                }
            }
            for j in 0..BN / 8 {
                for i in 0..4 {
                    let x = exp2(fma(s[mi][j][i], scale_log2, -base[i / 2]));
                    s[mi][j][i] = x;
                    l[mi][i / 2] += x;
                }
            }
        }

        // O += P V, P converted to the input dtype in registers.
        pv::<E, D, BN>(&s, mt, v_rows.bases(v_stage(n % STAGES)), &mut o_acc);
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();

    // Epilogue: O = acc / l, LSE = ln Σ = (m + log2 l)·ln 2; empty rows: O = 0, LSE = −∞.
    let o = p.o as *mut u16;
    for mi in 0..mt {
        for r in 0..2 {
            let total = quad_sum(l[mi][r]);
            let (inv_l, lse) = if total > 0.0 {
                (1.0 / total, (m[mi][r] + log2(total)) * LN_2)
            } else {
                (0.0, f32::NEG_INFINITY)
            };
            let row = m0 + (row0 + 16 * mi + g + 8 * r) as u32;
            if row >= sq {
                continue;
            }
            let row_off = p.o_strides.offset(b, row, h);
            for j in 0..D / 8 {
                let acc = o_acc[mi][j];
                let pair = E::pack2(acc[2 * r] * inv_l, acc[2 * r + 1] * inv_l);
                // SAFETY: (b, row, h, 8j + 2t) is inside O; strides are multiples of 8 elements, so 4-byte aligned.
                unsafe { *(o.offset(row_off + (8 * j + 2 * t) as isize) as *mut u32) = pair };
            }
            if t == 0 {
                let idx =
                    (b as usize * p.heads_q as usize + h as usize) * sq as usize + row as usize;
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

/// The A-operand fragments of a warp's query rows: held in registers when
/// `MT·D ≤ 128` (at most 32 registers), re-read from the shared Q tile each key
/// tile otherwise. `ldmatrix.x4` matrices: (rows 0–7, k 0–7), (rows 8–15, k 0–7),
/// (rows 0–7, k 8–15), (rows 8–15, k 8–15) — the A registers a0..a3 in order.
struct QFragments<const D: usize> {
    regs: [[[u32; 4]; MAX_K_STEPS]; MAX_MT],
    rows: FragRows<D>,
    q_s: Shared,
    in_regs: bool,
}

impl<const D: usize> QFragments<D> {
    #[inline(always)]
    fn load(rows: FragRows<D>, q_s: Shared, mt: usize) -> Self {
        let mut q = QFragments {
            regs: [[[0u32; 4]; MAX_K_STEPS]; MAX_MT],
            rows,
            q_s,
            in_regs: mt * D <= 128,
        };
        if q.in_regs {
            let bases = rows.bases(q_s);
            for mi in 0..mt {
                for kk in 0..D / 16 {
                    // SAFETY: rows < BM and chunks < D/8 address inside the Q tile.
                    q.regs[mi][kk] = unsafe { ldmatrix::<4>(frag_addr::<D>(&bases, mi, kk)) };
                }
            }
        }
        q
    }

    /// Per-tile bases for [`QFragments::get`] (unused when Q is in registers).
    #[inline(always)]
    fn bases(&self) -> [Shared; 4] {
        self.rows.bases(self.q_s)
    }

    /// Fragment of m-tile `mi`, k-step `kk` (16 columns of D).
    #[inline(always)]
    fn get(&self, bases: &[Shared; 4], mi: usize, kk: usize) -> [u32; 4] {
        if self.in_regs {
            self.regs[mi][kk]
        } else {
            // SAFETY: rows < BM and chunks < D/8 address inside the Q tile.
            unsafe { ldmatrix::<4>(frag_addr::<D>(bases, mi, kk)) }
        }
    }
}

/// Per m-tile, BN/8 accumulator tiles of 16 rows × 8 columns.
type Acc = [[[f32; 4]; MAX_N_TILES]; MAX_MT];

/// `S = Q Kᵀ` for one warp: 16·MT rows × BN keys. Each K fragment feeds all
/// MT m-tiles. B fragments come from K rows with plain `ldmatrix.x4`: matrices
/// (keys 0–7, k 0–7), (keys 0–7, k 8–15), (keys 8–15, k 0–7), (keys 8–15, k 8–15)
/// give b0/b1 of two adjacent n-tiles.
#[inline(always)]
fn qk<E: Element, const D: usize, const BN: usize>(
    q: &QFragments<D>,
    mt: usize,
    k_bases: [Shared; 4],
) -> Acc {
    let mut s = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
    let q_bases = q.bases();
    for j2 in 0..BN / 16 {
        for kk in 0..D / 16 {
            // SAFETY: keys < BN and chunks < D/8 address inside the K tile.
            let kf = unsafe { ldmatrix::<4>(frag_addr::<D>(&k_bases, j2, kk)) };
            for mi in 0..mt {
                let qf = q.get(&q_bases, mi, kk);
                s[mi][2 * j2] = E::mma(qf, [kf[0], kf[1]], s[mi][2 * j2]);
                s[mi][2 * j2 + 1] = E::mma(qf, [kf[2], kf[3]], s[mi][2 * j2 + 1]);
            }
        }
    }
    s
}

/// `O += P V` for one warp. P's accumulator tiles 2kk and 2kk+1 are exactly the
/// A fragment of k-step kk once packed to the input dtype. Each V fragment
/// feeds all MT m-tiles. B fragments come from V rows with `ldmatrix.x4.trans`:
/// matrices (keys 0–7, d 0–7), (keys 8–15, d 0–7), (keys 0–7, d 8–15), (keys 8–15, d 8–15).
#[inline(always)]
fn pv<E: Element, const D: usize, const BN: usize>(
    p: &Acc,
    mt: usize,
    v_bases: [Shared; 4],
    o: &mut Acc,
) {
    for kk in 0..BN / 16 {
        let mut a = [[0u32; 4]; MAX_MT];
        for mi in 0..mt {
            let (lo, hi) = (&p[mi][2 * kk], &p[mi][2 * kk + 1]);
            a[mi] = [
                E::pack2(lo[0], lo[1]),
                E::pack2(lo[2], lo[3]),
                E::pack2(hi[0], hi[1]),
                E::pack2(hi[2], hi[3]),
            ];
        }
        for j2 in 0..D / 16 {
            // SAFETY: keys < BN and chunks < D/8 address inside the V tile.
            let vf = unsafe { ldmatrix_trans::<4>(frag_addr::<D>(&v_bases, kk, j2)) };
            for mi in 0..mt {
                o[mi][2 * j2] = E::mma(a[mi], [vf[0], vf[1]], o[mi][2 * j2]);
                o[mi][2 * j2 + 1] = E::mma(a[mi], [vf[2], vf[3]], o[mi][2 * j2 + 1]);
            }
        }
    }
}
