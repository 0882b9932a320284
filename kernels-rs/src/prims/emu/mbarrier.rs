//! The state machine of `mbarrier` objects (PTX ISA, "Parallel
//! Synchronization and Communication Instructions: mbarrier"): phases, the
//! pending arrival count, and the transaction count. Plain data with no
//! scheduling: the prims in `hopper.rs` drive it and suspend waiters.
//!
//! The hardware keeps this state in the barrier's 8 bytes of shared memory;
//! the emulator keeps it beside the block, keyed by the barrier's shared
//! offset, so that a barrier used before `mbarrier.init` is reported instead
//! of decoding junk.

use core::cell::RefCell;
use std::collections::BTreeMap;

/// The largest pending arrival count and transaction count (2^20 − 1).
pub(crate) const MBARRIER_COUNT_MAX: u32 = (1 << 20) - 1;

/// One barrier's current phase.
struct Phases {
    /// Arrivals each phase expects (`mbarrier.init`'s count).
    expected: u32,
    /// Arrivals the current phase still waits for.
    pending: u32,
    /// Bytes announced with `expect_tx` minus bytes delivered, this phase.
    tx: i64,
    /// Phases completed so far; the current phase's parity is `phase & 1`.
    phase: u64,
    /// Bytes of issued copies not yet delivered.
    in_flight: u64,
}

/// What an update did to a barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Update {
    /// The current phase goes on.
    Pending,
    /// Phase number `.0` (counted from 0) completed.
    Completed(u64),
}

/// How an update broke the barrier's contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MBarrierFault {
    /// The barrier was never initialised.
    Uninitialised,
    /// Every arrival of phase `phase` is in and more bytes were delivered
    /// than announced: the transaction count can never return to zero.
    Overdelivered { phase: u64, excess: u64 },
    /// Phase `phase` completed while `bytes` of copies crediting the barrier
    /// were still in flight: they land in a later phase, after readers of
    /// this one were released.
    CompletedInFlight { phase: u64, bytes: u64 },
}

/// The block's barriers, by shared-memory offset.
#[derive(Default)]
pub(crate) struct MBarriers {
    bars: RefCell<BTreeMap<usize, Phases>>,
}

impl MBarriers {
    /// `mbarrier.init`: phase 0 expecting `arrivals`, no transactions.
    pub(crate) fn init(&self, bar: usize, arrivals: u32) {
        self.bars.borrow_mut().insert(
            bar,
            Phases {
                expected: arrivals,
                pending: arrivals,
                tx: 0,
                phase: 0,
                in_flight: 0,
            },
        );
    }

    /// Number of the current (incomplete) phase.
    pub(crate) fn phase(&self, bar: usize) -> Result<u64, MBarrierFault> {
        self.with(bar, |p| Ok(p.phase))
    }

    /// `arrive` (`expect_tx` = 0) or `arrive.expect_tx`: raise the
    /// transaction count, then count one arrival.
    pub(crate) fn arrive(&self, bar: usize, expect_tx: u32) -> Result<Update, MBarrierFault> {
        self.with(bar, |p| {
            p.tx += expect_tx as i64;
            p.pending = p.pending.saturating_sub(1);
            p.settle()
        })
    }

    /// An asynchronous copy of `bytes` crediting this barrier was issued.
    pub(crate) fn copy_issued(&self, bar: usize, bytes: u32) -> Result<(), MBarrierFault> {
        self.with(bar, |p| {
            p.in_flight += bytes as u64;
            Ok(())
        })
    }

    /// `complete_tx`: an issued copy delivered its `bytes`.
    pub(crate) fn copy_delivered(&self, bar: usize, bytes: u32) -> Result<Update, MBarrierFault> {
        self.with(bar, |p| {
            p.in_flight -= bytes as u64;
            p.tx -= bytes as i64;
            p.settle()
        })
    }

    fn with<R>(
        &self,
        bar: usize,
        f: impl FnOnce(&mut Phases) -> Result<R, MBarrierFault>,
    ) -> Result<R, MBarrierFault> {
        match self.bars.borrow_mut().get_mut(&bar) {
            Some(p) => f(p),
            None => Err(MBarrierFault::Uninitialised),
        }
    }
}

impl Phases {
    /// Completes the phase if its arrivals and transactions are all in.
    fn settle(&mut self) -> Result<Update, MBarrierFault> {
        if self.pending > 0 || self.tx > 0 {
            return Ok(Update::Pending);
        }
        if self.tx < 0 {
            return Err(MBarrierFault::Overdelivered {
                phase: self.phase,
                excess: self.tx.unsigned_abs(),
            });
        }
        if self.in_flight > 0 {
            return Err(MBarrierFault::CompletedInFlight {
                phase: self.phase,
                bytes: self.in_flight,
            });
        }
        let completed = self.phase;
        self.phase += 1;
        self.pending = self.expected;
        Ok(Update::Completed(completed))
    }
}
