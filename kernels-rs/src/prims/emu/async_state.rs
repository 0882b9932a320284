//! What asynchronous operations leave behind between issue and completion,
//! per thread (`cp.async` copies, `wgmma` chains) and per block (the shared
//! memory issued chains may still read). Plain data: the scheduler's `Block`
//! and `ThreadCtx` hold it, and the prims in `warp.rs` and `wgmma.rs` act on
//! it, so this module imports nothing from either side.

use core::cell::{Cell, RefCell};
use std::boxed::Box;
use std::vec::Vec;

use super::groups::AsyncGroups;

/// One 16-byte `cp.async` not yet performed.
pub(crate) struct PendingCopy {
    pub(crate) dst: *mut u8,
    src: *const u8,
    src_bytes: u32,
}

impl PendingCopy {
    /// A copy of `src_bytes` (clamped to 16) from `src`, zero-filled to 16
    /// bytes at `dst`.
    pub(crate) fn new(dst: *mut u8, src: *const u8, src_bytes: u32) -> Self {
        PendingCopy {
            dst,
            src,
            src_bytes: src_bytes.min(16),
        }
    }

    /// Performs the copy.
    ///
    /// # Safety
    /// `dst` is 16 writable bytes and `src` `src_bytes` readable bytes.
    pub(crate) unsafe fn perform(self) {
        let n = self.src_bytes as usize;
        // SAFETY: guaranteed by the caller.
        unsafe {
            core::ptr::copy_nonoverlapping(self.src, self.dst, n);
            core::ptr::write_bytes(self.dst.add(n), 0, 16 - n);
        }
    }
}

/// A thread's `cp.async` state: copies are performed when a `wait_group`
/// covers them, not when issued, so a kernel that reads shared memory before
/// waiting reads stale data on the emulator exactly as it could on the GPU.
pub(crate) type CpAsyncQueue = AsyncGroups<PendingCopy>;

/// A thread's issued but unfinished asynchronous `wgmma` chains. A chain is
/// performed when a `wait_group` covers its group, not when issued: it then
/// reads shared memory and writes the accumulator, so a kernel that reuses an
/// operand buffer before waiting computes from the new contents on the
/// emulator, as it could on the GPU. (A fragments from registers are gathered
/// at issue: the kernel cannot change them afterwards.)
pub(crate) type WgmmaQueue = AsyncGroups<Box<dyn FnOnce()>>;

/// Shared memory that issued chains may still read: one entry per chain
/// and operand, registered by the first thread of the issuing warpgroup and
/// removed when that thread's wait performs the chain. A `cp.async` into
/// them, or a chain issued over a copy still pending, races on the GPU
/// whatever order the emulator performs them in: the launch reports it.
#[derive(Default)]
pub(crate) struct InFlightReads {
    next_id: Cell<u64>,
    spans: RefCell<Vec<(u64, usize, usize)>>,
    /// The block's `cp.async` copies issued and not yet performed, counted
    /// per 16-byte chunk of shared memory (offset / 16): a chain issued over
    /// one races too.
    pending_copies: RefCell<Vec<u16>>,
}

impl InFlightReads {
    /// Registers the spans (addresses) one chain reads; returns its id.
    pub(crate) fn add(&self, spans: &[(usize, usize)]) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut all = self.spans.borrow_mut();
        all.extend(spans.iter().map(|&(lo, hi)| (id, lo, hi)));
        id
    }

    /// The chain `id` has been performed.
    pub(crate) fn remove(&self, id: u64) {
        self.spans.borrow_mut().retain(|&(i, _, _)| i != id);
    }

    /// A copy to byte `offset` of shared memory was issued.
    pub(crate) fn copy_issued(&self, offset: usize) {
        let mut pending = self.pending_copies.borrow_mut();
        if pending.len() <= offset / 16 {
            pending.resize(offset / 16 + 1, 0);
        }
        pending[offset / 16] += 1;
    }

    /// A copy to byte `offset` of shared memory was performed.
    pub(crate) fn copy_performed(&self, offset: usize) {
        if let Some(n) = self.pending_copies.borrow_mut().get_mut(offset / 16) {
            *n = n.saturating_sub(1);
        }
    }

    /// The first pending copy's offset inside `spans` (addresses; `base`
    /// the block's shared memory).
    pub(crate) fn copy_into(&self, spans: &[(usize, usize)], base: usize) -> Option<usize> {
        let pending = self.pending_copies.borrow();
        spans
            .iter()
            .filter_map(|&(lo, hi)| {
                let chunks = (lo - base) / 16..(hi - base).div_ceil(16).min(pending.len());
                chunks.into_iter().find(|&i| pending[i] > 0).map(|i| 16 * i)
            })
            .min()
    }

    /// Whether `[addr, addr + len)` meets a span still being read.
    pub(crate) fn overlaps(&self, addr: usize, len: usize) -> bool {
        self.spans
            .borrow()
            .iter()
            .any(|&(_, lo, hi)| addr < hi && lo < addr + len)
    }
}
