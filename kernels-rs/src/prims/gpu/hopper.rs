//! Hopper's asynchronous machinery on the GPU (sm_90; `setmaxnreg` sm_90a).
//! Waits loop in Rust around one `try_wait`, so no template carries a label
//! (an inlined asm block with a label would repeat it).

use core::arch::asm;

/// A `.shared` window address (`super::SharedAddr`, named here as its type so
/// this module imports nothing from its parent).
type SharedAddr = u32;

use crate::prims::tensor_map::TensorMap;

#[inline(always)]
pub(crate) unsafe fn mbarrier_init(bar: SharedAddr, arrivals: u32) {
    // SAFETY: forwarded to the caller.
    unsafe {
        asm!("mbarrier.init.shared::cta.b64 [{b}], {n};", b = in(reg32) bar, n = in(reg32) arrivals, options(nostack))
    }
}

#[inline(always)]
pub(crate) fn fence_mbarrier_init() {
    // SAFETY: a fence has no preconditions.
    unsafe { asm!("fence.mbarrier_init.release.cluster;", options(nostack)) }
}

#[inline(always)]
pub(crate) fn mbarrier_arrive(bar: SharedAddr) {
    // SAFETY: an arrival on an initialised barrier (the facade's contract).
    unsafe {
        asm!("{{ .reg .b64 st; mbarrier.arrive.shared::cta.b64 st, [{b}]; }}", b = in(reg32) bar, options(nostack))
    }
}

#[inline(always)]
pub(crate) fn mbarrier_arrive_expect_tx(bar: SharedAddr, bytes: u32) {
    // SAFETY: as above.
    unsafe {
        asm!("{{ .reg .b64 st; mbarrier.arrive.expect_tx.shared::cta.b64 st, [{b}], {n}; }}", b = in(reg32) bar, n = in(reg32) bytes, options(nostack))
    }
}

#[inline(always)]
pub(crate) fn mbarrier_try_wait_parity(bar: SharedAddr, parity: u32) -> bool {
    let done: u32;
    // SAFETY: a test of an initialised barrier.
    unsafe {
        asm!(
            "{{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [{b}], {ph}; selp.u32 {d}, 1, 0, p; }}",
            d = out(reg32) done, b = in(reg32) bar, ph = in(reg32) parity, options(nostack)
        )
    };
    done != 0
}

#[inline(always)]
pub(crate) fn named_barrier_sync(id: u32, threads: u32) {
    // SAFETY: the facade's contract (whole warps, id 1..=15).
    unsafe { asm!("bar.sync {i}, {n};", i = in(reg32) id, n = in(reg32) threads, options(nostack)) }
}

#[inline(always)]
pub(crate) fn named_barrier_arrive(id: u32, threads: u32) {
    // SAFETY: as above.
    unsafe {
        asm!("bar.arrive {i}, {n};", i = in(reg32) id, n = in(reg32) threads, options(nostack))
    }
}

#[inline(always)]
pub(crate) unsafe fn setmaxnreg_inc<const N: u32>() {
    // SAFETY: forwarded to the caller.
    unsafe { asm!("setmaxnreg.inc.sync.aligned.u32 {n};", n = const N, options(nostack)) }
}

#[inline(always)]
pub(crate) unsafe fn setmaxnreg_dec<const N: u32>() {
    // SAFETY: forwarded to the caller.
    unsafe { asm!("setmaxnreg.dec.sync.aligned.u32 {n};", n = const N, options(nostack)) }
}

#[inline(always)]
pub(crate) fn elect_one() -> bool {
    let elected: u32;
    // SAFETY: a warp collective over the full mask (the facade's contract).
    unsafe {
        asm!(
            "{{ .reg .pred p; .reg .b32 l; elect.sync l|p, 0xffffffff; selp.u32 {e}, 1, 0, p; }}",
            e = out(reg32) elected, options(nostack)
        )
    };
    elected != 0
}

#[inline(always)]
pub(crate) fn prefetch_tensormap(map: *const TensorMap) {
    // SAFETY: a prefetch has no effect on memory.
    unsafe {
        asm!("prefetch.tensormap [{m}];", m = in(reg64) map as u64, options(nostack, readonly))
    }
}

#[inline(always)]
pub(crate) fn fence_tensormap_acquire(map: *const TensorMap) {
    // SAFETY: a fence has no preconditions.
    unsafe {
        asm!("fence.proxy.tensormap::generic.acquire.gpu [{m}], 128;", m = in(reg64) map as u64, options(nostack))
    }
}

/// Box coordinates as four, so every template below indexes in bounds.
#[inline(always)]
fn padded<const R: usize>(c: [i32; R]) -> [i32; 4] {
    core::array::from_fn(|i| if i < R { c[i] } else { 0 })
}

#[inline(always)]
pub(crate) unsafe fn tma_load<const R: usize>(
    dst: SharedAddr,
    map: *const TensorMap,
    c: [i32; R],
    bar: SharedAddr,
) {
    let (m, c) = (map as u64, padded(c));
    // SAFETY: forwarded to the caller.
    unsafe {
        match R {
            2 => asm!(
                "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{d}], [{m}, {{{c0}, {c1}}}], [{b}];",
                d = in(reg32) dst, m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], b = in(reg32) bar, options(nostack)
            ),
            3 => asm!(
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{d}], [{m}, {{{c0}, {c1}, {c2}}}], [{b}];",
                d = in(reg32) dst, m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], c2 = in(reg32) c[2], b = in(reg32) bar, options(nostack)
            ),
            _ => asm!(
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{d}], [{m}, {{{c0}, {c1}, {c2}, {c3}}}], [{b}];",
                d = in(reg32) dst, m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], c2 = in(reg32) c[2], c3 = in(reg32) c[3], b = in(reg32) bar, options(nostack)
            ),
        }
    }
}

#[inline(always)]
pub(crate) unsafe fn tma_store<const R: usize>(
    map: *const TensorMap,
    c: [i32; R],
    src: SharedAddr,
) {
    let (m, c) = (map as u64, padded(c));
    // SAFETY: forwarded to the caller.
    unsafe {
        match R {
            2 => asm!(
                "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [{m}, {{{c0}, {c1}}}], [{s}];",
                m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], s = in(reg32) src, options(nostack)
            ),
            3 => asm!(
                "cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group [{m}, {{{c0}, {c1}, {c2}}}], [{s}];",
                m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], c2 = in(reg32) c[2], s = in(reg32) src, options(nostack)
            ),
            _ => asm!(
                "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [{m}, {{{c0}, {c1}, {c2}, {c3}}}], [{s}];",
                m = in(reg64) m, c0 = in(reg32) c[0], c1 = in(reg32) c[1], c2 = in(reg32) c[2], c3 = in(reg32) c[3], s = in(reg32) src, options(nostack)
            ),
        }
    }
}

#[inline(always)]
pub(crate) fn bulk_commit() {
    // SAFETY: no preconditions.
    unsafe { asm!("cp.async.bulk.commit_group;", options(nostack)) }
}

#[inline(always)]
pub(crate) fn bulk_wait_read<const N: usize>() {
    // SAFETY: no preconditions.
    unsafe { asm!("cp.async.bulk.wait_group.read {n};", n = const N, options(nostack)) }
}
