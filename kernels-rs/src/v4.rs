//! Kernel v4: warp-specialized FlashAttention on Hopper (sm_90a), towards
//! FlashAttention-3: a producer warpgroup feeds consumer warpgroups through
//! the copy engine; each consumer's softmax runs under its own `P·V`, and two
//! consumer warpgroups take turns at the tensor cores.
//!
//! # Algorithm
//! v2's per-tile mathematics (`S = Q·Kᵀ`, mask, online softmax, `O += P·V`
//! with `wgmma`), in the pipelined steps of [`crate::overlap`], with the loads
//! taken off the consumers:
//!
//! ```text
//! warpgroup 0 (producer, setmaxnreg.dec 24): one elected thread
//!     Q tile      → TMA → q_full
//!     for each key tile n:  wait k_empty[n % S];  K tile → TMA → k_full[n % S]
//!                           wait v_empty[n % S];  V tile → TMA → v_full[n % S]
//! warpgroups 1.. (consumers, setmaxnreg.inc, 64 query rows each)
//!     wait q_full
//!     for each key tile n:  wait k_full[n], v_full[n − 1];  take turn
//!                           issue S_n = Q·K_nᵀ, then O += P_{n−1}·V_{n−1};  pass turn
//!                           wait S_n;  release k_empty[n]
//!                           mask, online softmax of S_n (O's rescaling deferred)
//!                           wait P·V;  release v_empty[n − 1];  rescale O;  pack P_n
//!     take turn;  O += P_last·V_last;  pass turn;  release the last V
//!     O / l and the LSE to global memory
//! ```
//!
//! The turns ([`crate::turns`], FlashAttention-3's ping-pong) make one
//! consumer's softmax run under the other's products. Three consumers
//! (D = 64, BM = 192) neither take turns nor overlap: each key tile's
//! `P·V` follows its softmax, as at step 2 (a round of three turns was 15%
//! slower on the H100, and the overlap did not pay there either).
//!
//! K and V have their own barriers: a stage's K is released when its `S`
//! has landed and can be refilled while its V waits for the next tile's
//! `P·V`.
//!
//! # Memory
//! Tiles in the 128-byte-swizzle layout `wgmma` reads ([`crate::smem_tile::Sw128`]),
//! written there by the copy engine (`Swizzle::B128` boxes of 64 columns):
//! `Q [BM][D]`, then `STAGES × (K [BN][D], V [BN][D])`, then the barriers.
//! Rows past the sequence are zero-filled by the copy engine.
//!
//! # Launch
//! Grid `(⌈seqlen_q/BM⌉, heads_q, batch)`, block `32·W` threads with
//! `BM = 16·(W − 4)`, `TileConfig::smem_bytes()` bytes of dynamic shared
//! memory, `AttnParams::tma` the address of the [`TmaMaps`] of Q, K and V,
//! and an entry capped at `32·W` threads and one block per SM (`.maxntid`,
//! `.minnctapersm`), without which `setmaxnreg` is ignored.

#![allow(clippy::needless_range_loop)]

use core::f32::consts::LOG2_E;

use crate::flash::Rows;
use crate::mask::key_tiles;
use crate::overlap::Overlap;
use crate::params::TmaMaps;
use crate::pipeline::{PipelineState, StageBarriers};
use crate::prims::{
    MBarrier, Shared, TensorMap, block_idx, dyn_smem, elect_one, fence_mbarrier_init, grid_dim,
    lane_id, prefetch_tensormap, setmaxnreg_dec, setmaxnreg_inc, sync_threads, thread_idx,
    tma_load, warp_id,
};
use crate::tile::SWIZZLE_ALIGN;
use crate::turns::Turns;
use crate::v2::ROW;
use crate::{AttnParams, Element};

/// Warps of the producer warpgroup.
const PRODUCER_WARPS: usize = 4;

/// The block's shared memory: tiles, then the barriers.
struct Smem<const D: usize, const BM: usize, const BN: usize, const STAGES: usize> {
    q: Shared,
    q_full: MBarrier,
    k: StageBarriers<STAGES>,
    v: StageBarriers<STAGES>,
}

impl<const D: usize, const BM: usize, const BN: usize, const STAGES: usize>
    Smem<D, BM, BN, STAGES>
{
    const Q_BYTES: u32 = (BM * D * 2) as u32;
    const KV_BYTES: u32 = (BN * D * 2) as u32;

    #[inline(always)]
    fn carve() -> Self {
        let q = Shared::of(dyn_smem()).align_up(SWIZZLE_ALIGN as u32);
        let bars = q.byte_add(Self::Q_BYTES + 2 * STAGES as u32 * Self::KV_BYTES);
        Smem {
            q,
            q_full: MBarrier::at(bars),
            k: StageBarriers::at(bars.byte_add(8)),
            v: StageBarriers::at(bars.byte_add(8 + StageBarriers::<STAGES>::BYTES)),
        }
    }

    #[inline(always)]
    fn k_tile(&self, stage: usize) -> Shared {
        self.q
            .byte_add(Self::Q_BYTES + 2 * stage as u32 * Self::KV_BYTES)
    }

    #[inline(always)]
    fn v_tile(&self, stage: usize) -> Shared {
        self.k_tile(stage).byte_add(Self::KV_BYTES)
    }
}

/// Attention forward, v4. See the module documentation for the launch.
///
/// # Safety
/// As [`crate::v2::attn_fwd`], and `p.tma` holds the tensor maps of Q, K
/// and V described by `TmaMaps`.
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
            W == 12 || W == 16,
            "one producer and two or three consumer warpgroups"
        )
    };
    const { assert!(BM == 16 * (W - PRODUCER_WARPS)) };
    let warp = warp_id() as usize;
    let [bx, h, b] = block_idx();
    // Causal: the longest query tiles first (see v1).
    let mb = if CAUSAL { grid_dim()[0] - 1 - bx } else { bx };
    let m0 = mb * BM as u32;
    let n_tiles = key_tiles(m0, BM as u32, BN as u32, p.seqlen_q, p.seqlen_k, CAUSAL) as usize;
    let smem = Smem::<D, BM, BN, STAGES>::carve();

    if thread_idx() == 0 {
        // SAFETY: one thread, before the barrier below publishes them.
        unsafe {
            smem.q_full.init(1);
            smem.k.init((W - PRODUCER_WARPS) as u32);
            smem.v.init((W - PRODUCER_WARPS) as u32);
        }
        fence_mbarrier_init();
    }
    sync_threads();

    if warp < PRODUCER_WARPS {
        // SAFETY: the whole warpgroup, converged; the entry is capped (see Launch).
        unsafe { setmaxnreg_dec::<24>() };
        if warp == 0 && elect_one() {
            let maps = p.tma as *const TmaMaps;
            // SAFETY: per the caller, p.tma holds the maps; smem as carved.
            unsafe {
                produce::<D, BM, BN, STAGES>(&*maps, &smem, [m0, h, b], h / p.gqa_group(), n_tiles)
            };
        }
    } else {
        // SAFETY: as for the producer; 4 + 8 warps at 240 and 4 + 12 at 160
        // registers fit the 64K-register file with the producer at 24.
        unsafe {
            if W == 12 {
                setmaxnreg_inc::<240>()
            } else {
                setmaxnreg_inc::<160>()
            }
        };
        consume::<E, D, BM, BN, STAGES, CAUSAL>(
            p,
            &smem,
            warp - PRODUCER_WARPS,
            [m0, h, b],
            n_tiles,
        );
    }
}

/// The producer: Q once, then every key tile's K and V into the ring.
///
/// # Safety
/// One thread; `maps` describe Q, K and V; `smem` as carved for this variant.
#[inline(always)]
unsafe fn produce<const D: usize, const BM: usize, const BN: usize, const STAGES: usize>(
    maps: &TmaMaps,
    smem: &Smem<D, BM, BN, STAGES>,
    [m0, h, b]: [u32; 3],
    kv_head: u32,
    n_tiles: usize,
) {
    // Three calls, not a loop over an array of references: ptxas kept such
    // an array in local memory (a 40-byte stack frame, tests/registry_ptx.rs).
    prefetch_tensormap(&maps.q);
    prefetch_tensormap(&maps.k);
    prefetch_tensormap(&maps.v);
    if n_tiles == 0 {
        return;
    }
    // One tile: `rows` rows of one head, as D/64 boxes of 64 columns.
    let load = |tile: Shared, rows: usize, map: &TensorMap, row0: u32, head: u32, bar: MBarrier| {
        bar.arrive_expect_tx((rows * D * 2) as u32);
        for c in 0..D / 64 {
            let coords = [64 * c as i32, row0 as i32, head as i32, b as i32];
            // SAFETY: the boxes fill the 1024-byte aligned tile exactly; the
            // phase expects exactly their bytes; no consumer reads the tile
            // before the phase completes, and the producer refills it only
            // after the consumers released it (the waits on `empty`).
            unsafe { tma_load::<4>(tile.byte_add((c * rows) as u32 * ROW), map, coords, bar) };
        }
    };
    load(smem.q, BM, &maps.q, m0, h, smem.q_full);
    let mut stage = PipelineState::<STAGES>::producer();
    for n in 0..n_tiles {
        let (s, row0) = (stage.index(), (n * BN) as u32);
        smem.k.empty(s).wait(stage.phase());
        load(smem.k_tile(s), BN, &maps.k, row0, kv_head, smem.k.full(s));
        smem.v.empty(s).wait(stage.phase());
        load(smem.v_tile(s), BN, &maps.v, row0, kv_head, smem.v.full(s));
        stage.advance();
    }
}

/// One consumer warpgroup's 64 query rows over every key tile, and its part
/// of the output. `cw`: this warp's index among the consumer warps.
///
/// The steps are [`Overlap`]'s: the products of tile `n` (`S_n`, and
/// `P_{n−1}·V_{n−1}` behind it) are issued in one turn, so this warpgroup's
/// softmax of `S_n` runs under its own `P·V` and under the other
/// warpgroup's products.
#[inline(always)]
fn consume<
    E: Element,
    const D: usize,
    const BM: usize,
    const BN: usize,
    const STAGES: usize,
    const CAUSAL: bool,
>(
    p: &AttnParams,
    smem: &Smem<D, BM, BN, STAGES>,
    cw: usize,
    [m0, h, b]: [u32; 3],
    n_tiles: usize,
) {
    let lane = lane_id() as usize;
    let rows = Rows {
        m0,
        row0: 16 * cw,
        g: lane / 4,
        t: lane % 4,
    };
    let q_rows = smem.q.byte_add((cw / 4) as u32 * 64 * ROW);
    let mut tile = Overlap::<E, D, BM, BN, CAUSAL>::new(rows, p.softmax_scale * LOG2_E);
    if n_tiles == 0 {
        tile.write(p, (b, h));
        return;
    }
    smem.q_full.wait(0);
    // Two consumer warpgroups take turns and overlap each softmax with their
    // own P·V; three run free and in sequence: at step 3 on the H100 both
    // made the three-consumer tiles slower (perf-notes, v4 steps 2 and 3).
    let two = BM / 64 == 2;
    let turns = Turns::new(cw / 4, if two { 2 } else { 1 });
    turns.start();
    // `O += P·V` of the key tile at `stage`, in a turn of its own (`last`:
    // the block's last turn) and waited for; then the stage's V is released.
    let pv_now =
        |tile: &mut Overlap<E, D, BM, BN, CAUSAL>, stage: PipelineState<STAGES>, last: bool| {
            smem.v.full(stage.index()).wait(stage.phase());
            turns.take();
            // SAFETY: the whole warpgroup, converged; the V tile has landed and
            // is released only after the wait; nothing else is in flight.
            unsafe { tile.last_pv(smem.v_tile(stage.index())) };
            turns.pass(last);
            if lane == 0 {
                smem.v.empty(stage.index()).arrive();
            }
        };
    let mut stage = PipelineState::<STAGES>::consumer();
    // Overlapped, from the second tile on: the previous tile's stage, whose
    // V the products read.
    let mut prev = stage;
    for n in 0..n_tiles {
        let s = stage.index();
        let pv_behind = two && n > 0;
        smem.k.full(s).wait(stage.phase());
        if pv_behind {
            smem.v.full(prev.index()).wait(prev.phase());
        }
        turns.take();
        // SAFETY: the whole warpgroup, converged; Q, K_n and V_{n−1} have
        // landed (their phases completed) and stay until released below.
        unsafe {
            tile.issue(
                q_rows,
                smem.k_tile(s),
                pv_behind.then(|| smem.v_tile(prev.index())),
            )
        };
        turns.pass(false);
        // SAFETY: as above.
        unsafe { tile.wait_scores() };
        // This warp is done with K_n.
        if lane == 0 {
            smem.k.empty(s).arrive();
        }
        let alphas = tile.softmax(n, (p.seqlen_q, p.seqlen_k));
        // SAFETY: as above.
        unsafe { tile.wait_pv() };
        // This warp is done with V_{n−1}.
        if pv_behind && lane == 0 {
            smem.v.empty(prev.index()).arrive();
        }
        tile.finish(alphas);
        if !two {
            pv_now(&mut tile, stage, n + 1 == n_tiles);
        }
        prev = stage;
        stage.advance();
    }
    if two {
        // The last tile's P·V.
        pv_now(&mut tile, prev, true);
    }
    tile.write(p, (b, h));
}
