//! A ring of `STAGES` shared-memory buffers passed between a producer (the
//! copy engine, driven by one thread) and consumers (warpgroups), guarded by
//! two `mbarrier`s per stage, as CUTLASS's collective mainloops are:
//!
//! - `full[s]`: the producer announces the stage's bytes and arrives once;
//!   the copy engine completes the phase when the bytes have landed.
//!   Consumers wait on it before reading the stage.
//! - `empty[s]`: every consumer warp arrives once when it no longer reads the
//!   stage; the producer waits on it before refilling the stage.
//!
//! [`PipelineState`] is the position in the ring: the stage index and the
//! parity of the round, advanced together so they cannot drift apart.

use crate::prims::{MBarrier, Shared};

/// The stage a producer or consumer is at, and the parity of its round.
#[derive(Clone, Copy)]
pub struct PipelineState<const STAGES: usize> {
    index: usize,
    phase: u32,
}

impl<const STAGES: usize> PipelineState<STAGES> {
    /// A consumer's start: stage 0, waiting for the first phase of `full`.
    #[inline(always)]
    pub const fn consumer() -> Self {
        PipelineState { index: 0, phase: 0 }
    }

    /// A producer's start: stage 0 with the opposite parity, so its first
    /// round of waits on `empty` (a phase that completed "before" the
    /// barrier's first one) returns at once.
    #[inline(always)]
    pub const fn producer() -> Self {
        PipelineState { index: 0, phase: 1 }
    }

    #[inline(always)]
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The parity to wait for on this stage's barrier.
    #[inline(always)]
    pub const fn phase(&self) -> u32 {
        self.phase
    }

    /// The next stage; past the last, stage 0 of the next round.
    #[inline(always)]
    pub fn advance(&mut self) {
        self.index += 1;
        if self.index == STAGES {
            self.index = 0;
            self.phase ^= 1;
        }
    }
}

/// The `full` and `empty` barriers of one ring, `STAGES` of each, 8 bytes
/// apart from `base`.
#[derive(Clone, Copy)]
pub struct StageBarriers<const STAGES: usize> {
    base: Shared,
}

impl<const STAGES: usize> StageBarriers<STAGES> {
    /// Bytes the barriers take.
    pub const BYTES: u32 = 16 * STAGES as u32;

    #[inline(always)]
    pub fn at(base: Shared) -> Self {
        StageBarriers { base }
    }

    #[inline(always)]
    pub fn full(&self, stage: usize) -> MBarrier {
        MBarrier::at(self.base.byte_add(8 * stage as u32))
    }

    #[inline(always)]
    pub fn empty(&self, stage: usize) -> MBarrier {
        MBarrier::at(self.base.byte_add(8 * (STAGES + stage) as u32))
    }

    /// One thread: `full` expects the producer's one arrival, `empty` one
    /// from each of `consumer_warps`.
    ///
    /// # Safety
    /// One thread, before any other uses the barriers; then
    /// [`crate::prims::fence_mbarrier_init`] and a block barrier publish them.
    #[inline(always)]
    pub unsafe fn init(&self, consumer_warps: u32) {
        for s in 0..STAGES {
            // SAFETY: forwarded to the caller.
            unsafe {
                self.full(s).init(1);
                self.empty(s).init(consumer_warps);
            }
        }
    }
}
