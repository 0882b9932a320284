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

use core::f32::consts::LOG2_E;

use crate::flash::{
    Acc, MAX_MT, MAX_N_TILES, RowStats, Rows, mask_scores, p_fragment, softmax_step, write_output,
};
use crate::mask::{key_tiles, tile_needs_mask};
use crate::prims::{
    Shared, block_idx, cp_async_wait, dyn_smem, grid_dim, lane_id, ldmatrix, ldmatrix_trans,
    sync_threads, warp_id,
};
use crate::smem_tile::{
    CHUNK, RowMajor, TileLayout, issue_kv_tile, load_tile_async, wait_oldest_tile,
};
use crate::{AttnParams, Element};

/// Q fragments per m-tile are sized for the largest head dim (D ≤ 128).
const MAX_K_STEPS: usize = 8;

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
            offsets: core::array::from_fn(|s| RowMajor::offset::<D, 0>(row, 2 * s + half)),
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
        let stage = n % STAGES;
        // SAFETY: tensors valid per the caller; stage buffers hold BN·D elements.
        unsafe {
            issue_kv_tile::<RowMajor, D, BN, W>(
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
        unsafe { load_tile_async::<RowMajor, D, BM, W>(q_s, p.q, p.q_strides, (b, h), m0, sq) };
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

    let mut o_acc: Acc = [[[0f32; 4]; MAX_N_TILES]; MAX_MT];
    let mut stats = RowStats::new();
    let rows = Rows { m0, row0, g, t };

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
            mask_scores::<BN, CAUSAL>(&mut s, mt, rows, n0, (sq, sk));
        }
        softmax_step::<D, BN>(&mut s, &mut o_acc, &mut stats, mt, scale_log2);

        // O += P V, P converted to the input dtype in registers.
        pv::<E, D, BN>(&s, mt, v_rows.bases(v_stage(n % STAGES)), &mut o_acc);
    }
    // Nothing may be left in flight when the block exits.
    cp_async_wait::<0>();

    write_output::<E, D>(&o_acc, &stats, mt, rows, p, (b, h));
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
            a[mi] = p_fragment::<E>(p, mi, kk);
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
