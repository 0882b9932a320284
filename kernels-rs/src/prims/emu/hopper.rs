//! Hopper's asynchronous machinery on the emulator: the prims of
//! [`crate::prims::hopper`] driving the state machines of `mbarrier.rs`,
//! `regs.rs` and `tma.rs` (`bar.sync id, n` and `bar.arrive id, n` live with
//! the block barrier in `sched.rs`).
//!
//! # When a TMA load lands
//! A load is recorded at issue and performed (data written, bytes credited
//! to its barrier) when a thread waits on that barrier for the phase in
//! progress, in issue order: the latest moment the hardware may complete it
//! for a waiter to be released. Until that phase completes, the box's shared
//! memory counts as landing: `ldmatrix`, `wgmma` and TMA stores reading it
//! fail the launch (`EmuError::ReadBeforeTmaLanded`). A load nobody waits for
//! is never performed.
//!
//! # When a TMA store is performed
//! At the `cp.async.bulk.wait_group.read` that covers its group, the latest
//! moment the hardware may read its shared memory. A thread that exits with
//! stores not covered fails the launch (`EmuError::BulkStoreInFlight`).

use super::mbarrier::{MBARRIER_COUNT_MAX, MBarrierFault, Update};
use super::read_guard::check_landed;
use super::regs::{Rendezvous, WARPGROUP};
use super::sched::{Block, EmuError, Wait, fail, invalid, suspend, warp_exchange, with_ctx};
use super::tma::{PendingLoad, PendingStore, TmaBox};
use super::warp::SharedAddr;
use crate::prims::tensor_map::TensorMap;

/// The shared offset of `bytes` at `addr`, aligned to `align`.
fn smem_offset(b: &Block, addr: SharedAddr, bytes: usize, align: usize) -> usize {
    let offset = (addr as usize).wrapping_sub(b.smem_base() as usize);
    if offset >= b.smem_bytes() || b.smem_bytes() - offset < bytes {
        invalid("an address outside the block's shared memory");
    }
    if !offset.is_multiple_of(align) {
        invalid("a misaligned shared address (mbarrier: 8, TMA box: 128, 1024 when swizzled)");
    }
    offset
}

/// The offset of the barrier at `bar`.
fn barrier(b: &Block, bar: SharedAddr) -> usize {
    smem_offset(b, bar, 8, 8)
}

/// Applies an update of barrier `bar`: a completed phase releases its loads'
/// shared memory; a broken contract fails the launch.
fn settle(b: &Block, bar: usize, update: Result<Update, MBarrierFault>) {
    b.progressed();
    match update {
        Ok(Update::Pending) => {}
        Ok(Update::Completed(phase)) => b.bulk_loads.phase_completed(bar, phase),
        Err(fault) => fail(barrier_fault(b, bar, fault)),
    }
}

fn barrier_fault(b: &Block, bar: usize, fault: MBarrierFault) -> EmuError {
    match fault {
        MBarrierFault::Uninitialised => {
            invalid("an mbarrier used before mbarrier.init (or outside it)")
        }
        MBarrierFault::Overdelivered { phase, excess } => EmuError::TxOverdelivered {
            block: b.idx(),
            barrier: bar,
            phase,
            excess,
        },
        MBarrierFault::CompletedInFlight { phase, bytes } => EmuError::PhaseCompletedInFlight {
            block: b.idx(),
            barrier: bar,
            phase,
            bytes,
        },
    }
}

/// `mbarrier.init`.
///
/// # Safety
/// None beyond the facade's: the emulator checks the operands.
pub(crate) unsafe fn mbarrier_init(bar: SharedAddr, arrivals: u32) {
    with_ctx(|_, b| {
        if !(1..=MBARRIER_COUNT_MAX).contains(&arrivals) {
            invalid("mbarrier.init with an arrival count outside 1..=2^20-1");
        }
        b.mbarriers.init(barrier(b, bar), arrivals);
    })
}

/// Fences order the GPU's memory paths; the emulator has one.
pub(crate) fn fence_mbarrier_init() {}

/// `mbarrier.arrive`.
pub(crate) fn mbarrier_arrive(bar: SharedAddr) {
    with_ctx(|_, b| {
        let bar = barrier(b, bar);
        settle(b, bar, b.mbarriers.arrive(bar, 0));
    })
}

/// `mbarrier.arrive.expect_tx`.
pub(crate) fn mbarrier_arrive_expect_tx(bar: SharedAddr, bytes: u32) {
    with_ctx(|_, b| {
        if bytes > MBARRIER_COUNT_MAX {
            invalid("mbarrier.arrive.expect_tx of more than 2^20-1 bytes");
        }
        let bar = barrier(b, bar);
        settle(b, bar, b.mbarriers.arrive(bar, bytes));
    })
}

/// `mbarrier.try_wait.parity`, retried until it succeeds: true once the
/// phase of parity `parity` has completed, that is once the current phase's
/// parity differs. Waiting for the phase in progress performs the loads
/// crediting the barrier (see the module documentation), then suspends the
/// thread until the phase completes.
pub(crate) fn mbarrier_try_wait_parity(bar: SharedAddr, parity: u32) -> bool {
    with_ctx(|ctx, b| {
        let bar = barrier(b, bar);
        loop {
            let phase = b
                .mbarriers
                .phase(bar)
                .unwrap_or_else(|f| fail(barrier_fault(b, bar, f)));
            if (phase & 1) as u32 != parity & 1 {
                return true;
            }
            for load in b.bulk_loads.take_for(bar) {
                // SAFETY: the box was checked to lie in shared memory at
                // issue; the map's global memory is the kernel's contract.
                unsafe { load.tma_box.load(load.dst) };
                settle(
                    b,
                    bar,
                    b.mbarriers.copy_delivered(bar, load.tma_box.bytes() as u32),
                );
            }
            if b.mbarriers.phase(bar) != Ok(phase) {
                return true;
            }
            suspend(ctx, Wait::MBarrier);
        }
    })
}

/// `setmaxnreg.{inc,dec}.sync.aligned.u32 count` for the calling thread's
/// warpgroup: its 128 threads meet; the last to arrive performs the request,
/// an `inc` waiting until the pool has the registers.
fn setmaxnreg(inc: bool, count: u32) {
    with_ctx(|ctx, b| {
        let wg = ctx.tid / WARPGROUP;
        if !b.regs.is_whole(wg) {
            invalid("setmaxnreg in a warpgroup the block does not fill (128 threads)");
        }
        b.progressed();
        match b.regs.arrive(wg, inc, count) {
            Err(what) => invalid(what),
            Ok(Rendezvous::Waiting(generation)) => {
                while b.regs.generation(wg) == generation {
                    suspend(ctx, Wait::Registers);
                }
            }
            Ok(Rendezvous::Last) => {
                let held = b.regs.held(wg);
                if inc {
                    if count < held {
                        invalid("setmaxnreg.inc below the warpgroup's current register count");
                    }
                    while !b.regs.try_take(wg, count) {
                        suspend(ctx, Wait::Registers);
                    }
                } else {
                    if count > held {
                        invalid("setmaxnreg.dec above the warpgroup's current register count");
                    }
                    b.regs.release(wg, count);
                }
                b.regs.finish(wg);
                b.progressed();
            }
        }
    })
}

/// `setmaxnreg.inc.sync.aligned.u32 N`.
///
/// # Safety
/// None beyond the facade's: the emulator checks the operands.
pub(crate) unsafe fn setmaxnreg_inc<const N: u32>() {
    setmaxnreg(true, N)
}

/// `setmaxnreg.dec.sync.aligned.u32 N`.
///
/// # Safety
/// As [`setmaxnreg_inc`].
pub(crate) unsafe fn setmaxnreg_dec<const N: u32>() {
    setmaxnreg(false, N)
}

/// `elect.sync _|p, 0xffffffff`: a warp collective electing the lowest lane.
pub(crate) fn elect_one() -> bool {
    warp_exchange(());
    with_ctx(|c, _| c.tid % 32 == 0)
}

/// The copy engine has no cache to warm here.
pub(crate) fn prefetch_tensormap(_map: *const TensorMap) {}

/// As [`fence_mbarrier_init`].
pub(crate) fn fence_tensormap_acquire(_map: *const TensorMap) {}

/// The box of `map` at `coords`, with the shared offset of its `smem` end.
fn tma_box(b: &Block, map: *const TensorMap, coords: &[i32], smem: SharedAddr) -> (TmaBox, usize) {
    // SAFETY: the facade's contract: `map` is a valid map made by
    // `TensorMap::emulated` (for the emulator).
    let desc = unsafe { (*map).emulated_desc() };
    let tma_box = TmaBox::new(desc, coords).unwrap_or_else(|what| invalid(what));
    let offset = smem_offset(b, smem, tma_box.bytes(), tma_box.smem_align());
    (tma_box, offset)
}

/// `cp.async.bulk.tensor.{R}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes`:
/// recorded here, performed at a wait on `bar` (see the module documentation).
///
/// # Safety
/// `map` was made by `TensorMap::emulated`; its tensor's in-bounds elements
/// are readable when the load is performed.
pub(crate) unsafe fn tma_load<const R: usize>(
    dst: SharedAddr,
    map: *const TensorMap,
    coords: [i32; R],
    bar: SharedAddr,
) {
    with_ctx(|c, b| {
        let (tma_box, offset) = tma_box(b, map, &coords, dst);
        let bar = barrier(b, bar);
        let bytes = tma_box.bytes();
        let phase = b
            .mbarriers
            .phase(bar)
            .unwrap_or_else(|f| fail(barrier_fault(b, bar, f)));
        if let Err(f) = b.mbarriers.copy_issued(bar, bytes as u32) {
            fail(barrier_fault(b, bar, f));
        }
        if b.copy_race.get().is_none() && b.wgmma_reads.overlaps(dst as usize, bytes) {
            b.copy_race.set(Some((c.tid, offset)));
        }
        b.bulk_loads.issue(
            PendingLoad {
                tma_box,
                dst: dst as usize,
                bar,
            },
            phase,
        );
    })
}

/// `cp.async.bulk.tensor.{R}d.global.shared::cta.tile.bulk_group`: recorded
/// here, performed at the `bulk_wait_read` that covers it.
///
/// # Safety
/// `map` was made by `TensorMap::emulated`; its tensor's in-bounds elements
/// are writable when the store is performed.
pub(crate) unsafe fn tma_store<const R: usize>(
    map: *const TensorMap,
    coords: [i32; R],
    src: SharedAddr,
) {
    let (tma_box, _) = with_ctx(|_, b| tma_box(b, map, &coords, src));
    check_landed(src as usize, src as usize + tma_box.bytes());
    // SAFETY: the queue belongs to the calling thread and is not aliased.
    with_ctx(|c, _| unsafe {
        (*c.bulk_stores.get()).issue(PendingStore {
            tma_box,
            src: src as usize,
        })
    })
}

/// `cp.async.bulk.commit_group`.
pub(crate) fn bulk_commit() {
    // SAFETY: as in `tma_store`.
    with_ctx(|c, _| unsafe { (*c.bulk_stores.get()).commit() })
}

/// `cp.async.bulk.wait_group.read N`: performs every committed group of
/// stores but the newest `N`, oldest first.
pub(crate) fn bulk_wait_read<const N: usize>() {
    // SAFETY: as in `tma_store`.
    let ready = with_ctx(|c, _| unsafe { (*c.bulk_stores.get()).take_ready(N) });
    for store in ready {
        // SAFETY: the box was checked to lie in shared memory at issue; the
        // map's global memory is the kernel's contract.
        unsafe { store.tma_box.store(store.src) };
    }
}
