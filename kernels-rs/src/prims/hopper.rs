//! Hopper's asynchronous machinery (sm_90): transaction barriers (`mbarrier`),
//! named barriers, the copy engine (TMA), register reallocation between
//! warpgroups (`setmaxnreg`) and `elect.sync`.
//!
//! Same contract as the rest of [`crate::prims`]: each function states the PTX
//! it stands for, and the emulator back end reproduces its semantics (phases,
//! transaction counts, asynchronous bulk copies in the hardware's swizzle
//! layout, the block's register budget), failing the launch where the
//! hardware would hang or race.

#[cfg(not(target_arch = "nvptx64"))]
use super::emu as backend;
#[cfg(target_arch = "nvptx64")]
use super::gpu as backend;
use super::shared::Shared;
use super::tensor_map::TensorMap;

/// An `mbarrier` object: 8 bytes of shared memory, 8-byte aligned.
///
/// A phase completes when its pending arrival count reaches zero and its
/// transaction count (bytes announced with [`MBarrier::arrive_expect_tx`]
/// minus bytes the copy engine has delivered) is zero; the barrier then
/// starts the next phase with the count it was initialised with. Waiters
/// name the phase they wait for by its parity (0 for the first phase).
#[derive(Clone, Copy)]
pub struct MBarrier(Shared);

impl MBarrier {
    /// The barrier at `addr` (8-byte aligned shared memory).
    #[inline(always)]
    pub fn at(addr: Shared) -> Self {
        MBarrier(addr)
    }

    /// `mbarrier.init.shared::cta.b64 [bar], arrivals`: the first phase
    /// expects `arrivals` arrivals. One thread initialises; the others may use
    /// the barrier only after [`fence_mbarrier_init`] and a block barrier.
    ///
    /// # Safety
    /// No thread uses the barrier concurrently; `arrivals` is 1..=2^20-1.
    #[inline(always)]
    pub unsafe fn init(self, arrivals: u32) {
        // SAFETY: forwarded to the caller.
        unsafe { backend::mbarrier_init(self.0.0, arrivals) }
    }

    /// `mbarrier.arrive.shared::cta.b64`: one arrival on the current phase.
    #[inline(always)]
    pub fn arrive(self) {
        backend::mbarrier_arrive(self.0.0)
    }

    /// `mbarrier.arrive.expect_tx.shared::cta.b64 _, [bar], bytes`: announce
    /// `bytes` more bytes of asynchronous copies for the current phase, then
    /// arrive once.
    #[inline(always)]
    pub fn arrive_expect_tx(self, bytes: u32) {
        backend::mbarrier_arrive_expect_tx(self.0.0, bytes)
    }

    /// `mbarrier.try_wait.parity.shared::cta.b64` until it succeeds: wait
    /// until the phase of parity `parity` has completed. Memory written by the
    /// copies and arrivals of that phase is visible afterwards.
    #[inline(always)]
    pub fn wait(self, parity: u32) {
        while !backend::mbarrier_try_wait_parity(self.0.0, parity) {}
    }
}

/// `fence.mbarrier_init.release.cluster`: makes this thread's `mbarrier.init`s
/// visible to the copy engine and to other threads after the next barrier.
#[inline(always)]
pub fn fence_mbarrier_init() {
    backend::fence_mbarrier_init()
}

/// `bar.sync id, threads`: wait until `threads` threads (a multiple of 32,
/// whole warps) have arrived at named barrier `id` (1..=15; 0 is
/// [`super::sync_threads`]'s).
#[inline(always)]
pub fn named_barrier_sync(id: u32, threads: u32) {
    backend::named_barrier_sync(id, threads)
}

/// `bar.arrive id, threads`: count this warp towards named barrier `id`
/// without waiting for it.
#[inline(always)]
pub fn named_barrier_arrive(id: u32, threads: u32) {
    backend::named_barrier_arrive(id, threads)
}

/// `setmaxnreg.inc.sync.aligned.u32 N`: raise this warp's register count to
/// `N` (24..=256, a multiple of 8), waiting until the block's pool has them.
///
/// # Safety
/// All threads of a warpgroup execute it converged; the kernel's entry has a
/// register cap (`.maxntid` with `.minnctapersm`).
#[inline(always)]
pub unsafe fn setmaxnreg_inc<const N: u32>() {
    const { assert!(N >= 24 && N <= 256 && N.is_multiple_of(8)) };
    // SAFETY: forwarded to the caller.
    unsafe { backend::setmaxnreg_inc::<N>() }
}

/// `setmaxnreg.dec.sync.aligned.u32 N`: lower this warp's register count to
/// `N`, returning the rest to the block's pool.
///
/// # Safety
/// As [`setmaxnreg_inc`]; the warp's live registers fit in `N`.
#[inline(always)]
pub unsafe fn setmaxnreg_dec<const N: u32>() {
    const { assert!(N >= 24 && N <= 256 && N.is_multiple_of(8)) };
    // SAFETY: forwarded to the caller.
    unsafe { backend::setmaxnreg_dec::<N>() }
}

/// `elect.sync _|p, 0xffffffff`: true in exactly one lane of the (converged)
/// warp, the same lane for every lane's call.
#[inline(always)]
pub fn elect_one() -> bool {
    backend::elect_one()
}

/// `prefetch.tensormap [map]`: bring a tensor map into the copy engine's cache.
#[inline(always)]
pub fn prefetch_tensormap(map: *const TensorMap) {
    backend::prefetch_tensormap(map)
}

/// `fence.proxy.tensormap::generic.acquire.gpu [map], 128`: the copy engine
/// sees the map as the host wrote it to global memory.
#[inline(always)]
pub fn fence_tensormap_acquire(map: *const TensorMap) {
    backend::fence_tensormap_acquire(map)
}

/// `cp.async.bulk.tensor.{R}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
/// [dst], [map, {coords}], [bar]`: copy the box of `map` whose first element
/// is at `coords` (innermost first; may lie partly or wholly out of bounds,
/// those elements read as zero) into shared memory at `dst`, in the map's
/// swizzle layout, and credit its bytes to `bar`'s transaction count when done.
///
/// # Safety
/// `map` is a valid tensor map of rank `R` (2..=4) for this launch; `dst` is
/// 128-byte aligned (1024 for [`super::Swizzle::B128`]) with room for the
/// box; `bar`'s current phase expects these bytes; nothing reads `dst` before
/// that phase completes or writes it while the copy is in flight.
#[inline(always)]
pub unsafe fn tma_load<const R: usize>(
    dst: Shared,
    map: *const TensorMap,
    coords: [i32; R],
    bar: MBarrier,
) {
    const { assert!(R >= 2 && R <= 4) };
    // SAFETY: forwarded to the caller.
    unsafe { backend::tma_load::<R>(dst.0, map, coords, bar.0.0) }
}

/// `cp.async.bulk.tensor.{R}d.global.shared::cta.tile.bulk_group [map,
/// {coords}], [src]`: copy a box from shared memory at `src` (in the map's
/// swizzle layout) to the tensor; out-of-bounds elements are not written.
/// Completes with [`bulk_commit`] and [`bulk_wait_read`].
///
/// # Safety
/// As [`tma_load`]; `src` was written and fenced with
/// [`super::fence_proxy_async`] before, and is not overwritten until a
/// [`bulk_wait_read`] covers this copy.
#[inline(always)]
pub unsafe fn tma_store<const R: usize>(map: *const TensorMap, coords: [i32; R], src: Shared) {
    const { assert!(R >= 2 && R <= 4) };
    // SAFETY: forwarded to the caller.
    unsafe { backend::tma_store::<R>(map, coords, src.0) }
}

/// `cp.async.bulk.commit_group`: this thread's bulk stores since the last
/// commit become one group.
#[inline(always)]
pub fn bulk_commit() {
    backend::bulk_commit()
}

/// `cp.async.bulk.wait_group.read N`: wait until at most `N` of this thread's
/// committed bulk groups may still read their shared memory.
#[inline(always)]
pub fn bulk_wait_read<const N: usize>() {
    backend::bulk_wait_read::<N>()
}
