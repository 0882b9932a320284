//! The CPU back end of [`crate::prims`]: a block emulator.
//!
//! # Execution model
//! Every GPU thread of a block runs the kernel as its own stackful fiber (its
//! own stack, registers and control flow). The block's fibers are scheduled
//! cooperatively on one OS thread; a fiber gives up the CPU only where a GPU
//! thread could wait for others — `__syncthreads` and the warp collectives —
//! so barriers and warp rendezvous have exactly the hardware's semantics:
//! nobody passes a barrier until every thread of the block has reached it, and
//! a lane reading another lane's value in a collective sees the value that lane
//! brought to *that* collective. Blocks are independent and run in parallel on
//! the machine's cores.
//!
//! Why fibers and not one OS thread per GPU thread: on the 2-core CI machine a
//! 128-thread OS barrier costs about 1.9 ms and a 32-lane rendezvous 0.4 ms,
//! against about 1.5 µs and 0.4 µs for fibers (measured 2026-11-24, see
//! `docs/emulator.md`); the tensor-core kernel performs a warp rendezvous for
//! every `mma.sync`, so OS threads would turn a seconds-long test sweep into
//! hours. Semantics are the same; only the scheduling is cooperative.
//!
//! A barrier that some threads never reach (a thread exited, or threads wait at
//! different barriers forever) is reported as [`EmuError::Deadlock`] instead of
//! hanging.

mod async_state;
mod groups;
mod hopper;
mod mbarrier;
mod named_barrier;
mod read_guard;
mod regs;
mod sched;
mod tma;
mod warp;
mod wgmma;

pub(crate) use hopper::*;
pub use sched::{EmuError, LaunchDims, launch};
pub(crate) use sched::{
    block_dim, block_idx, dyn_smem, grid_dim, named_barrier_arrive, named_barrier_sync,
    sync_threads, thread_idx,
};
pub(crate) use warp::*;
pub(crate) use wgmma::*;

/// Software f16/bf16 conversions (IEEE round-to-nearest-even), the emulator's
/// counterpart of the PTX `cvt` instructions.
pub(crate) mod convert;
