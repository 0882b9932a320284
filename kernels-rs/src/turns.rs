//! Turns at the tensor cores among a block's consumer warpgroups
//! (FlashAttention-3's "ping-pong"): warpgroup `i` issues its products only
//! when it holds the turn, and hands it to warpgroup `i + 1` (mod `n`) as
//! soon as they are issued. While one warpgroup runs its softmax, another's
//! products keep the tensor cores busy, and no two warpgroups' softmaxes
//! compete for the same instruction slots.
//!
//! One named barrier per warpgroup (ids 1..=n; 0 is `__syncthreads`'s), each
//! met by two warpgroups, 256 threads: the one that passes the turn
//! (`bar.arrive`) and the one that takes it (`bar.sync`). The last
//! warpgroup hands the first its first turn; every turn taken is one passed,
//! so the barriers are balanced when the block exits (see [`Turns::pass`]).

use crate::prims::{named_barrier_arrive, named_barrier_sync};

/// Threads that meet at one turn: the passing and the taking warpgroup.
const PAIR_THREADS: u32 = 2 * 128;

/// This warpgroup's place in the round of `n` consumer warpgroups (a
/// compile-time constant of the kernel once inlined).
#[derive(Clone, Copy)]
pub struct Turns {
    me: usize,
    n: usize,
}

impl Turns {
    /// Warpgroup `me` of a round of `n`.
    #[inline(always)]
    pub fn new(me: usize, n: usize) -> Self {
        Turns { me, n }
    }

    #[inline(always)]
    fn barrier(wg: usize) -> u32 {
        1 + wg as u32
    }

    /// Before the first turn: the last warpgroup gives the first one its turn.
    #[inline(always)]
    pub fn start(&self) {
        if self.n > 1 && self.me == self.n - 1 {
            named_barrier_arrive(Self::barrier(0), PAIR_THREADS);
        }
    }

    /// Wait for this warpgroup's turn.
    #[inline(always)]
    pub fn take(&self) {
        if self.n > 1 {
            named_barrier_sync(Self::barrier(self.me), PAIR_THREADS);
        }
    }

    /// Hand the turn to the next warpgroup. `last`: this is the block's last
    /// turn; the last warpgroup then keeps it, since nobody will take it.
    #[inline(always)]
    pub fn pass(&self, last: bool) {
        if self.n > 1 && !(last && self.me == self.n - 1) {
            named_barrier_arrive(Self::barrier((self.me + 1) % self.n), PAIR_THREADS);
        }
    }
}
