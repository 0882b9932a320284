//! Fiber scheduler: launches a grid, runs each block's threads as fibers, and
//! implements the block barrier and the warp rendezvous the collectives use.

use core::cell::{Cell, RefCell, UnsafeCell};
use core::ptr;
use std::boxed::Box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::async_state::{CpAsyncQueue, InFlightReads, WgmmaQueue};
use super::mbarrier::MBarriers;
use super::named_barrier::{Arrival, NAMED_BARRIERS, NamedBarriers};
use super::regs::RegisterPool;
use super::tma::{BulkLoads, BulkStoreQueue};

/// Stack of one emulated GPU thread. Generous: it is virtual memory, and only
/// the pages a kernel touches become resident.
const FIBER_STACK_BYTES: usize = 256 * 1024;

/// Shared memory base alignment (the GPU guarantees at least 16; be strict):
/// 1024, so that the 128-byte swizzle, a function of address bits 4–9, is
/// the same function of the block's shared offsets as on the GPU.
const SMEM_ALIGN: usize = 1024;

/// Bytes a lane can contribute to one warp rendezvous.
pub(crate) const WARP_SLOT_BYTES: usize = 64;

/// Grid, block and dynamic shared memory of an emulated launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchDims {
    pub grid: [u32; 3],
    /// Threads per block (1-D blocks), a multiple of 32.
    pub block: u32,
    pub smem_bytes: usize,
}

/// Why an emulated launch could not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmuError {
    /// The block size is zero, above 1024, or not a whole number of warps.
    BadBlock(u32),
    /// No thread of a block could make progress: some wait at a barrier or a
    /// warp collective that the others will never reach, for an `mbarrier`
    /// phase that will never complete, or for registers that will never be
    /// freed.
    Deadlock {
        block: [u32; 3],
        /// At `bar.sync 0` (`sync_threads`).
        at_barrier: u32,
        /// At `bar.sync` of barriers 1..=15.
        at_named_barrier: u32,
        at_warp_sync: u32,
        /// In `mbarrier.try_wait` for a phase.
        at_mbarrier: u32,
        /// In `setmaxnreg`, for the rest of their warpgroup or for registers.
        at_setmaxnreg: u32,
        exited: u32,
    },
    /// A thread exited with `wgmma` chains issued and not waited for: on the
    /// GPU they could still be writing its registers.
    WgmmaInFlight { block: [u32; 3], thread: u32 },
    /// A `cp.async` or TMA load and an issued `wgmma` chain meet at byte
    /// `offset` of the block's shared memory while both are in flight (the
    /// copy issued after the chain and before its wait, or the chain over a
    /// `cp.async` not yet waited for; over a TMA load in flight it is
    /// [`EmuError::ReadBeforeTmaLanded`]): on the GPU the copy may land while
    /// the chain reads. `thread` issued the second of the two (`offset`: for
    /// a TMA load, the box's first byte).
    CopyRacesWgmma {
        block: [u32; 3],
        thread: u32,
        offset: usize,
    },
    /// Every arrival of phase `phase` of the `mbarrier` at shared byte
    /// `barrier` is in, and its copies delivered `excess` bytes more than the
    /// phase announced with `expect_tx`: the phase can never complete.
    TxOverdelivered {
        block: [u32; 3],
        barrier: usize,
        phase: u64,
        excess: u64,
    },
    /// Phase `phase` of the `mbarrier` at shared byte `barrier` completed
    /// while `bytes` of TMA loads crediting it were in flight (announced for
    /// a later phase, or not at all): waiters were released before the data
    /// landed.
    PhaseCompletedInFlight {
        block: [u32; 3],
        barrier: usize,
        phase: u64,
        bytes: u64,
    },
    /// `thread` read shared byte `offset` (by `ldmatrix`, a `wgmma` operand
    /// or a TMA store) while a TMA load into it was in flight: its barrier
    /// phase had not completed.
    ReadBeforeTmaLanded {
        block: [u32; 3],
        thread: u32,
        offset: usize,
    },
    /// The block stopped moving while warpgroup `warpgroup` waited in
    /// `setmaxnreg.inc` to go from `held` to `requested` registers per
    /// thread, with `free` registers in the pool: the block's warpgroups ask
    /// for more than the register file, or the `dec` that would free them is
    /// never reached.
    RegisterBudget {
        block: [u32; 3],
        warpgroup: u32,
        held: u32,
        requested: u32,
        free: u32,
    },
    /// A thread exited with TMA stores not covered by a
    /// `cp.async.bulk.wait_group.read`: on the GPU they could still be
    /// reading shared memory that the block's exit frees.
    BulkStoreInFlight { block: [u32; 3], thread: u32 },
    /// `thread` used Hopper's asynchronous machinery against the ISA's
    /// rules (`what` says how): an operand out of range, a barrier used
    /// before its `init`, a collective its threads executed differently.
    InvalidOperation {
        block: [u32; 3],
        thread: u32,
        what: &'static str,
    },
}

impl core::fmt::Display for EmuError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EmuError::BadBlock(n) => write!(
                f,
                "emulator: block of {n} threads is not 1..=1024 whole warps"
            ),
            EmuError::Deadlock {
                block,
                at_barrier,
                at_named_barrier,
                at_warp_sync,
                at_mbarrier,
                at_setmaxnreg,
                exited,
            } => write!(
                f,
                "emulator: block {block:?} deadlocked: {at_barrier} threads wait at a barrier, \
                 {at_named_barrier} at a named barrier, {at_warp_sync} at a warp collective, \
                 {at_mbarrier} for an mbarrier phase, {at_setmaxnreg} in setmaxnreg, \
                 {exited} have exited (a barrier or collective not reached by every thread, \
                 an mbarrier phase that misses arrivals or bytes, or registers never freed)"
            ),
            EmuError::WgmmaInFlight { block, thread } => write!(
                f,
                "emulator: thread {thread} of block {block:?} exited with wgmma chains \
                 not waited for"
            ),
            EmuError::CopyRacesWgmma {
                block,
                thread,
                offset,
            } => write!(
                f,
                "emulator: in block {block:?}, thread {thread} issued a cp.async, TMA load \
                 or wgmma chain that meets the other in flight at shared byte {offset} (a \
                 buffer may be refilled only after the wait of the chain that reads it, and \
                 read only after the wait of the copy that fills it)"
            ),
            EmuError::TxOverdelivered {
                block,
                barrier,
                phase,
                excess,
            } => write!(
                f,
                "emulator: in block {block:?}, the mbarrier at shared byte {barrier} got all \
                 arrivals of phase {phase} and {excess} bytes more than its expect_tx \
                 announced (a TMA box larger than announced, or a load crediting the wrong \
                 barrier)"
            ),
            EmuError::PhaseCompletedInFlight {
                block,
                barrier,
                phase,
                bytes,
            } => write!(
                f,
                "emulator: in block {block:?}, phase {phase} of the mbarrier at shared byte \
                 {barrier} completed with {bytes} bytes of TMA loads crediting it still in \
                 flight (their bytes were not announced with arrive_expect_tx before the \
                 phase's last arrival)"
            ),
            EmuError::ReadBeforeTmaLanded {
                block,
                thread,
                offset,
            } => write!(
                f,
                "emulator: in block {block:?}, thread {thread} read shared byte {offset} while \
                 a TMA load into it was in flight (wait on the load's mbarrier phase first)"
            ),
            EmuError::RegisterBudget {
                block,
                warpgroup,
                held,
                requested,
                free,
            } => write!(
                f,
                "emulator: in block {block:?}, warpgroup {warpgroup} waits forever in \
                 setmaxnreg.inc to go from {held} to {requested} registers per thread: the \
                 pool has {free} of the 65536 and no warp will return more (the warpgroups \
                 ask for more than the register file, or the setmaxnreg.dec that frees them \
                 is never reached)"
            ),
            EmuError::BulkStoreInFlight { block, thread } => write!(
                f,
                "emulator: thread {thread} of block {block:?} exited with TMA stores not \
                 waited for (bulk_commit and bulk_wait_read before exit: the block's shared \
                 memory is freed when it exits)"
            ),
            EmuError::InvalidOperation {
                block,
                thread,
                what,
            } => write!(f, "emulator: in block {block:?}, thread {thread}: {what}"),
        }
    }
}

impl std::error::Error for EmuError {}

/// What a suspended fiber waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    None,
    /// `bar.sync 0`.
    Barrier,
    /// `bar.sync` of barriers 1..=15.
    NamedBarrier,
    Warp,
    MBarrier,
    Registers,
    /// The thread broke a rule and the launch is failing.
    Failed,
}

/// One warp's rendezvous state. Lanes deposit into the slot bank of the current
/// generation's parity; a lane can run at most one rendezvous ahead of the
/// slowest lane of its warp, so two banks never collide.
pub(crate) struct Warp {
    arrived: Cell<u32>,
    generation: Cell<u64>,
    slots: [UnsafeCell<[[u8; WARP_SLOT_BYTES]; 32]>; 2],
}

pub(crate) struct Block {
    idx: [u32; 3],
    dims: LaunchDims,
    smem: *mut u8,
    named: NamedBarriers,
    /// Bumped whenever a thread arrives somewhere or exits: a scheduling pass
    /// without it moving means nobody can move again.
    progress: Cell<u64>,
    warps: Vec<Warp>,
    /// Shared memory that issued `wgmma` chains may still read.
    pub(crate) wgmma_reads: InFlightReads,
    /// The first copy and chain found racing: (thread, offset), see
    /// [`EmuError::CopyRacesWgmma`].
    pub(crate) copy_race: Cell<Option<(u32, usize)>>,
    pub(crate) mbarriers: MBarriers,
    pub(crate) bulk_loads: BulkLoads,
    pub(crate) regs: RegisterPool,
    /// The first rule a thread broke (see [`fail`]).
    fault: RefCell<Option<EmuError>>,
}

/// Per-thread state, reachable from the prims through [`CURRENT`].
pub(crate) struct ThreadCtx {
    pub(crate) tid: u32,
    block: *const Block,
    yielder: Cell<*const Yielder<(), ()>>,
    wait: Cell<Wait>,
    /// `cp.async` copies issued but not yet performed.
    pub(crate) cp_async: UnsafeCell<CpAsyncQueue>,
    /// `wgmma` chains issued but not yet performed.
    pub(crate) wgmma: UnsafeCell<WgmmaQueue>,
    /// TMA stores issued but not yet performed.
    pub(crate) bulk_stores: UnsafeCell<BulkStoreQueue>,
}

std::thread_local! {
    static CURRENT: Cell<*const ThreadCtx> = const { Cell::new(ptr::null()) };
}

/// The calling emulated thread's context and block.
///
/// # Panics
/// When called outside an emulated launch: a kernel function called directly
/// on the host has no thread to be.
pub(crate) fn with_ctx<R>(f: impl FnOnce(&ThreadCtx, &Block) -> R) -> R {
    let ctx = CURRENT.with(|c| c.get());
    assert!(
        !ctx.is_null(),
        "tileattn prims called outside an emulated launch"
    );
    // SAFETY: CURRENT points at a ThreadCtx that outlives the fiber being run
    // (set by `run_block` around every resume), and its block outlives it.
    unsafe { f(&*ctx, &*(*ctx).block) }
}

/// Gives up the CPU until the scheduler's next pass, waiting for `why`.
pub(crate) fn suspend(ctx: &ThreadCtx, why: Wait) {
    ctx.wait.set(why);
    // SAFETY: the yielder was stored by this fiber's entry closure and is valid
    // for the fiber's whole life.
    unsafe { (*ctx.yielder.get()).suspend(()) };
    ctx.wait.set(Wait::None);
}

pub(crate) fn thread_idx() -> u32 {
    with_ctx(|c, _| c.tid)
}
pub(crate) fn block_idx() -> [u32; 3] {
    with_ctx(|_, b| b.idx)
}
pub(crate) fn block_dim() -> u32 {
    with_ctx(|_, b| b.dims.block)
}
pub(crate) fn grid_dim() -> [u32; 3] {
    with_ctx(|_, b| b.dims.grid)
}
impl Block {
    pub(crate) fn smem_base(&self) -> *mut u8 {
        self.smem
    }

    pub(crate) fn idx(&self) -> [u32; 3] {
        self.idx
    }

    pub(crate) fn smem_bytes(&self) -> usize {
        self.dims.smem_bytes
    }

    /// Records that a thread arrived somewhere or an operation completed:
    /// the deadlock check looks for passes without any.
    pub(crate) fn progressed(&self) {
        self.progress.set(self.progress.get() + 1);
    }
}

/// Fails the launch with `err` (unless an earlier fault already does): the
/// calling thread stops here, and the scheduler ends the block.
pub(crate) fn fail(err: EmuError) -> ! {
    let mut err = Some(err);
    loop {
        with_ctx(|ctx, b| {
            if let Some(e) = err.take() {
                b.fault.borrow_mut().get_or_insert(e);
            }
            suspend(ctx, Wait::Failed)
        })
    }
}

/// [`EmuError::InvalidOperation`] for the calling thread.
pub(crate) fn invalid(what: &'static str) -> ! {
    let (block, thread) = with_ctx(|c, b| (b.idx, c.tid));
    fail(EmuError::InvalidOperation {
        block,
        thread,
        what,
    })
}

pub(crate) fn dyn_smem() -> *mut u8 {
    with_ctx(|_, b| b.smem)
}

/// `__syncthreads()` (`bar.sync 0`): wait until every thread of the block
/// has arrived.
pub(crate) fn sync_threads() {
    named_barrier(0, block_dim(), true)
}

/// `bar.sync id, threads`.
pub(crate) fn named_barrier_sync(id: u32, threads: u32) {
    named_barrier(id, threads, true)
}

/// `bar.arrive id, threads`.
pub(crate) fn named_barrier_arrive(id: u32, threads: u32) {
    named_barrier(id, threads, false)
}

/// One thread's arrival at named barrier `id`, waiting for its completion
/// if `wait`. The hardware counts whole warps (a warp's arrival adds 32);
/// counting threads is the same for converged warps, which `.aligned`
/// requires, and `threads` must be whole warps.
fn named_barrier(id: u32, threads: u32, wait: bool) {
    with_ctx(|ctx, b| {
        if id >= NAMED_BARRIERS {
            invalid("a named barrier id above 15");
        }
        if threads == 0 || !threads.is_multiple_of(32) || threads > b.dims.block {
            invalid("a named barrier's thread count is not a multiple of 32 in 32..=block size");
        }
        b.progressed();
        let arrival = b
            .named
            .arrive(id, threads)
            .unwrap_or_else(|what| invalid(what));
        if let (Arrival::Waiting(generation), true) = (arrival, wait) {
            let why = if id == 0 {
                Wait::Barrier
            } else {
                Wait::NamedBarrier
            };
            while b.named.generation(id) == generation {
                suspend(ctx, why);
            }
        }
    })
}

/// Warp rendezvous: every lane of the calling thread's warp contributes `value`
/// and receives all 32 contributions, indexed by lane. All collectives
/// (`shfl`, `mma`, `ldmatrix`) are built on this.
pub(crate) fn warp_exchange<T: Copy>(value: T) -> [T; 32] {
    const { assert!(core::mem::size_of::<T>() <= WARP_SLOT_BYTES) };
    with_ctx(|ctx, b| {
        let warp = &b.warps[(ctx.tid / 32) as usize];
        let lane = (ctx.tid % 32) as usize;
        let generation = warp.generation.get();
        let bank = warp.slots[(generation % 2) as usize].get();
        // SAFETY: fibers of a block never run concurrently, each lane writes
        // only its own slot, and `T` fits in a slot (checked above).
        unsafe { ptr::write_unaligned((*bank)[lane].as_mut_ptr() as *mut T, value) };
        b.progressed();
        let arrived = warp.arrived.get() + 1;
        if arrived == 32 {
            warp.arrived.set(0);
            warp.generation.set(generation + 1);
        } else {
            warp.arrived.set(arrived);
            while warp.generation.get() == generation {
                suspend(ctx, Wait::Warp);
            }
        }
        // SAFETY: every lane has written this bank for this generation, and no
        // lane can write it again before this lane's next rendezvous.
        core::array::from_fn(|l| unsafe { ptr::read_unaligned((*bank)[l].as_ptr() as *const T) })
    })
}

/// Run `kernel` once per thread of every block of the grid, as the GPU would.
///
/// `kernel` reads its thread and block indices and its shared memory through
/// the prims. Blocks run in parallel on the host's cores.
pub fn launch<F: Fn() + Sync>(dims: LaunchDims, kernel: F) -> Result<(), EmuError> {
    if dims.block == 0 || dims.block > 1024 || !dims.block.is_multiple_of(32) {
        return Err(EmuError::BadBlock(dims.block));
    }
    let [gx, gy, gz] = dims.grid;
    let blocks = gx as usize * gy as usize * gz as usize;
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<EmuError>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(blocks.max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut stacks: Vec<DefaultStack> = Vec::new();
                let mut smem = SmemBuffer::new(dims.smem_bytes);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= blocks || first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    let idx = [
                        (i % gx as usize) as u32,
                        ((i / gx as usize) % gy as usize) as u32,
                        (i / (gx as usize * gy as usize)) as u32,
                    ];
                    if let Err(e) = run_block(dims, idx, &kernel, &mut stacks, &mut smem) {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    match first_error.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e),
        Err(poisoned) => Err(poisoned.into_inner().expect("a worker panicked")),
    }
}

/// Shared memory of one block, reused across the blocks a worker runs.
struct SmemBuffer {
    bytes: Box<[u8]>,
}

impl SmemBuffer {
    fn new(len: usize) -> Self {
        SmemBuffer {
            bytes: std::vec![0u8; len + SMEM_ALIGN].into_boxed_slice(),
        }
    }
    /// Aligned base, refilled with a garbage pattern: a kernel that reads shared
    /// memory it never wrote gets NaN-like junk, not a lucky zero.
    fn fresh(&mut self) -> *mut u8 {
        self.bytes.fill(0xFF);
        let base = self.bytes.as_mut_ptr();
        // SAFETY: the buffer has SMEM_ALIGN bytes of slack.
        unsafe { base.add(base.align_offset(SMEM_ALIGN)) }
    }
}

fn run_block<F: Fn() + Sync>(
    dims: LaunchDims,
    idx: [u32; 3],
    kernel: &F,
    stacks: &mut Vec<DefaultStack>,
    smem: &mut SmemBuffer,
) -> Result<(), EmuError> {
    let block = Block {
        idx,
        dims,
        smem: smem.fresh(),
        named: Default::default(),
        progress: Cell::new(0),
        warps: (0..dims.block / 32)
            .map(|_| Warp {
                arrived: Cell::new(0),
                generation: Cell::new(0),
                slots: [
                    UnsafeCell::new([[0; WARP_SLOT_BYTES]; 32]),
                    UnsafeCell::new([[0; WARP_SLOT_BYTES]; 32]),
                ],
            })
            .collect(),
        wgmma_reads: Default::default(),
        copy_race: Cell::new(None),
        mbarriers: Default::default(),
        bulk_loads: Default::default(),
        regs: RegisterPool::new(dims.block),
        fault: RefCell::new(None),
    };
    let ctxs: Vec<ThreadCtx> = (0..dims.block)
        .map(|tid| ThreadCtx {
            tid,
            block: &block,
            yielder: Cell::new(ptr::null()),
            wait: Cell::new(Wait::None),
            cp_async: UnsafeCell::new(Default::default()),
            wgmma: UnsafeCell::new(Default::default()),
            bulk_stores: UnsafeCell::new(Default::default()),
        })
        .collect();
    let mut fibers: Vec<Option<Coroutine<(), (), (), DefaultStack>>> = ctxs
        .iter()
        .map(|ctx| {
            let stack = stacks.pop().unwrap_or_else(|| {
                DefaultStack::new(FIBER_STACK_BYTES).expect("fiber stack allocation failed")
            });
            let body = move |y: &Yielder<(), ()>, ()| {
                ctx.yielder.set(y);
                kernel();
            };
            // SAFETY: `ctx`, `kernel` and `block` outlive every fiber: all
            // fibers are run to completion or dropped before this function returns.
            Some(unsafe { Coroutine::with_stack_unchecked(stack, body) })
        })
        .collect();

    let mut live = fibers.len();
    let mut result = Ok(());
    'passes: while live > 0 {
        let before = block.progress.get();
        for (ctx, slot) in ctxs.iter().zip(fibers.iter_mut()) {
            let Some(fiber) = slot else { continue };
            CURRENT.with(|c| c.set(ctx));
            let r = fiber.resume(());
            CURRENT.with(|c| c.set(ptr::null()));
            if let Some(fault) = block.fault.borrow_mut().take() {
                result = Err(fault);
                break 'passes;
            }
            if let CoroutineResult::Return(()) = r {
                // SAFETY: the fiber that owned the queues has finished.
                let (wgmma_in_flight, stores_in_flight) = unsafe {
                    (
                        !(*ctx.wgmma.get()).is_empty(),
                        !(*ctx.bulk_stores.get()).is_empty(),
                    )
                };
                if wgmma_in_flight && result.is_ok() {
                    result = Err(EmuError::WgmmaInFlight {
                        block: idx,
                        thread: ctx.tid,
                    });
                }
                if stores_in_flight && result.is_ok() {
                    result = Err(EmuError::BulkStoreInFlight {
                        block: idx,
                        thread: ctx.tid,
                    });
                }
                block.progress.set(block.progress.get() + 1);
                if let Some(done) = slot.take() {
                    stacks.push(done.into_stack());
                }
                live -= 1;
            }
        }
        if live > 0 && block.progress.get() == before {
            let count = |w: Wait| {
                ctxs.iter()
                    .zip(&fibers)
                    .filter(|(c, f)| f.is_some() && c.wait.get() == w)
                    .count() as u32
            };
            result = Err(match block.regs.starved() {
                Some((warpgroup, requested)) => EmuError::RegisterBudget {
                    block: idx,
                    warpgroup,
                    held: block.regs.held(warpgroup),
                    requested,
                    free: block.regs.free(),
                },
                None => EmuError::Deadlock {
                    block: idx,
                    at_barrier: count(Wait::Barrier),
                    at_named_barrier: count(Wait::NamedBarrier),
                    at_warp_sync: count(Wait::Warp),
                    at_mbarrier: count(Wait::MBarrier),
                    at_setmaxnreg: count(Wait::Registers),
                    exited: dims.block - live as u32,
                },
            });
            break;
        }
    }
    // Unfinished fibers (deadlock) are unwound here, while `ctxs` still lives.
    for slot in fibers.iter_mut() {
        if let Some(mut fiber) = slot.take() {
            CURRENT.with(|c| c.set(ptr::null()));
            fiber.force_unwind();
            stacks.push(fiber.into_stack());
        }
    }
    if let (Ok(()), Some((thread, offset))) = (&result, block.copy_race.get()) {
        result = Err(EmuError::CopyRacesWgmma {
            block: idx,
            thread,
            offset,
        });
    }
    result
}
