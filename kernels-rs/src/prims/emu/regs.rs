//! The block's register file as `setmaxnreg` sees it (PTX ISA, "Miscellaneous
//! Instructions: setmaxnreg"). At entry every thread holds the cap of an entry
//! declared with `.maxntid <block>, 1, 1` and `.minnctapersm 1` (what our
//! Hopper kernels declare): `min(255, 65536 / block)` rounded down to a
//! multiple of 8. `setmaxnreg.dec` returns a warpgroup's surplus to the
//! pool; `setmaxnreg.inc` takes from it, waiting while it is short. The
//! instruction is warpgroup-collective (`.sync.aligned`): the 128 threads of
//! a warpgroup meet at a rendezvous, and the last to arrive performs it. An
//! `inc` the pool can never satisfy shows as a block where nothing moves: the
//! scheduler reports it as over budget.
//! Plain data: `hopper.rs` drives it and suspends the waiters.

use core::cell::Cell;
use std::vec::Vec;

/// Registers of one SM (64K 32-bit registers), all of them this block's.
pub(crate) const REGISTER_FILE: u32 = 65536;
/// Threads of a warpgroup.
pub(crate) const WARPGROUP: u32 = 128;

/// One warpgroup's registers and its `setmaxnreg` rendezvous.
#[derive(Default)]
struct Warpgroup {
    /// Registers each of its threads holds.
    per_thread: Cell<u32>,
    arrived: Cell<u32>,
    /// The request of the instance in progress: (inc, count).
    request: Cell<Option<(bool, u32)>>,
    /// All 128 threads are in: the last one performs the request.
    performing: Cell<bool>,
    generation: Cell<u64>,
}

/// What a thread's arrival at `setmaxnreg` did.
pub(crate) enum Rendezvous {
    /// The last thread of the warpgroup: it performs the request.
    Last,
    /// Others are still to come; done when the generation moves past this.
    Waiting(u64),
}

pub(crate) struct RegisterPool {
    free: Cell<u32>,
    groups: Vec<Warpgroup>,
}

impl RegisterPool {
    /// The pool of a block of `threads` threads (whole warps) at entry.
    pub(crate) fn new(threads: u32) -> Self {
        let cap = (REGISTER_FILE / threads).min(255) / 8 * 8;
        let groups: Vec<Warpgroup> = (0..threads / WARPGROUP)
            .map(|_| Warpgroup {
                per_thread: Cell::new(cap),
                ..Default::default()
            })
            .collect();
        RegisterPool {
            free: Cell::new(REGISTER_FILE - cap * threads),
            groups,
        }
    }

    /// Whether warpgroup `wg` has all its 128 threads in the block.
    pub(crate) fn is_whole(&self, wg: u32) -> bool {
        (wg as usize) < self.groups.len()
    }

    /// One thread of warpgroup `wg` arrives with its request.
    ///
    /// # Errors
    /// When the warpgroup's threads ask for different things.
    pub(crate) fn arrive(
        &self,
        wg: u32,
        inc: bool,
        count: u32,
    ) -> Result<Rendezvous, &'static str> {
        let g = &self.groups[wg as usize];
        match g.request.get() {
            Some(r) if r != (inc, count) => {
                return Err(
                    "the threads of a warpgroup executed different setmaxnreg instructions",
                );
            }
            _ => g.request.set(Some((inc, count))),
        }
        let arrived = g.arrived.get() + 1;
        if arrived == WARPGROUP {
            g.performing.set(true);
            Ok(Rendezvous::Last)
        } else {
            g.arrived.set(arrived);
            Ok(Rendezvous::Waiting(g.generation.get()))
        }
    }

    pub(crate) fn generation(&self, wg: u32) -> u64 {
        self.groups[wg as usize].generation.get()
    }

    pub(crate) fn held(&self, wg: u32) -> u32 {
        self.groups[wg as usize].per_thread.get()
    }

    /// Registers in the pool, held by no thread.
    pub(crate) fn free(&self) -> u32 {
        self.free.get()
    }

    /// A warpgroup whose `inc` waits for registers: (warpgroup, count).
    pub(crate) fn starved(&self) -> Option<(u32, u32)> {
        self.groups
            .iter()
            .enumerate()
            .find_map(|(wg, g)| match g.request.get() {
                Some((true, count)) if g.performing.get() => Some((wg as u32, count)),
                _ => None,
            })
    }

    /// `dec`: lower `wg` to `count` per thread (at most what it holds).
    pub(crate) fn release(&self, wg: u32, count: u32) {
        let g = &self.groups[wg as usize];
        self.free
            .set(self.free.get() + (g.per_thread.get() - count) * WARPGROUP);
        g.per_thread.set(count);
    }

    /// `inc`: raise `wg` to `count` per thread if the pool has the
    /// difference; whether it did.
    pub(crate) fn try_take(&self, wg: u32, count: u32) -> bool {
        let g = &self.groups[wg as usize];
        let need = (count - g.per_thread.get()) * WARPGROUP;
        if need > self.free.get() {
            return false;
        }
        self.free.set(self.free.get() - need);
        g.per_thread.set(count);
        true
    }

    /// The warpgroup's request is done: release its threads.
    pub(crate) fn finish(&self, wg: u32) {
        let g = &self.groups[wg as usize];
        g.arrived.set(0);
        g.request.set(None);
        g.performing.set(false);
        g.generation.set(g.generation.get() + 1);
    }
}
