//! The block's 16 named barriers (PTX ISA, "Parallel Synchronization and
//! Communication Instructions: bar, barrier"): `bar.sync id, n` and
//! `bar.arrive id, n` count arriving threads until `n` have arrived, then
//! release the waiters and reset. Barrier 0 with the whole block is
//! `__syncthreads`. Plain counting: the scheduler suspends the waiters.

use core::cell::Cell;

/// Named barriers per block (ids 0..=15).
pub(crate) const NAMED_BARRIERS: u32 = 16;

#[derive(Default)]
struct Slot {
    arrived: Cell<u32>,
    /// The thread count of the instance in progress (0: none in progress).
    expected: Cell<u32>,
    generation: Cell<u64>,
}

/// What an arrival did.
pub(crate) enum Arrival {
    /// This arrival completed the barrier.
    Completed,
    /// The barrier waits for more threads; it completes when its generation
    /// moves past this one.
    Waiting(u64),
}

#[derive(Default)]
pub(crate) struct NamedBarriers {
    slots: [Slot; NAMED_BARRIERS as usize],
}

impl NamedBarriers {
    /// One thread arrives at barrier `id` (< 16) expecting `threads` in all.
    ///
    /// # Errors
    /// When the instance in progress was started with another thread count
    /// (the ISA requires every participant to give the same one).
    pub(crate) fn arrive(&self, id: u32, threads: u32) -> Result<Arrival, &'static str> {
        let slot = &self.slots[id as usize];
        let expected = slot.expected.get();
        if expected != 0 && expected != threads {
            return Err("threads arrived at one named barrier with different thread counts");
        }
        let arrived = slot.arrived.get() + 1;
        if arrived == threads {
            slot.arrived.set(0);
            slot.expected.set(0);
            slot.generation.set(slot.generation.get() + 1);
            Ok(Arrival::Completed)
        } else {
            slot.arrived.set(arrived);
            slot.expected.set(threads);
            Ok(Arrival::Waiting(slot.generation.get()))
        }
    }

    /// The barrier's generation: it moves each time the barrier completes.
    pub(crate) fn generation(&self, id: u32) -> u64 {
        self.slots[id as usize].generation.get()
    }
}
