//! Fiber scheduler: launches a grid, runs each block's threads as fibers, and
//! implements the block barrier and the warp rendezvous the collectives use.

use core::cell::{Cell, UnsafeCell};
use core::ptr;
use std::boxed::Box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::async_state::{CpAsyncQueue, InFlightReads, WgmmaQueue};

/// Stack of one emulated GPU thread. Generous: it is virtual memory, and only
/// the pages a kernel touches become resident.
const FIBER_STACK_BYTES: usize = 256 * 1024;

/// Shared memory base alignment (the GPU guarantees at least 16; be strict).
const SMEM_ALIGN: usize = 128;

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
    /// warp collective that the others will never reach.
    Deadlock {
        block: [u32; 3],
        at_barrier: u32,
        at_warp_sync: u32,
        exited: u32,
    },
    /// A thread exited with `wgmma` chains issued and not waited for: on the
    /// GPU they could still be writing its registers.
    WgmmaInFlight { block: [u32; 3], thread: u32 },
    /// A `cp.async` and an issued `wgmma` chain meet at byte `offset` of the
    /// block's shared memory while both are in flight (the copy issued after
    /// the chain and before its wait, or the chain over a copy not yet
    /// waited for): on the GPU the copy may land while the chain reads.
    /// `thread` issued the second of the two.
    CopyRacesWgmma {
        block: [u32; 3],
        thread: u32,
        offset: usize,
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
                at_warp_sync,
                exited,
            } => write!(
                f,
                "emulator: block {block:?} deadlocked: {at_barrier} threads wait at a barrier, \
                 {at_warp_sync} at a warp collective, {exited} have exited (a barrier or \
                 collective not reached by every thread)"
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
                "emulator: in block {block:?}, thread {thread} issued a cp.async or wgmma \
                 chain that meets the other in flight at shared byte {offset} (a buffer may \
                 be refilled only after the wait of the chain that reads it, and read only \
                 after the wait of the copy that fills it)"
            ),
        }
    }
}

impl std::error::Error for EmuError {}

/// What a suspended fiber waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    None,
    Barrier,
    Warp,
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
    bar_arrived: Cell<u32>,
    bar_generation: Cell<u64>,
    /// Bumped whenever a thread arrives somewhere or exits: a scheduling pass
    /// without it moving means nobody can move again.
    progress: Cell<u64>,
    warps: Vec<Warp>,
    /// Shared memory that issued `wgmma` chains may still read.
    pub(crate) wgmma_reads: InFlightReads,
    /// The first copy and chain found racing: (thread, offset), see
    /// [`EmuError::CopyRacesWgmma`].
    pub(crate) copy_race: Cell<Option<(u32, usize)>>,
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

fn suspend(ctx: &ThreadCtx, why: Wait) {
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
}

pub(crate) fn dyn_smem() -> *mut u8 {
    with_ctx(|_, b| b.smem)
}

/// `__syncthreads()`: wait until every thread of the block has arrived.
pub(crate) fn sync_threads() {
    with_ctx(|ctx, b| {
        let generation = b.bar_generation.get();
        b.progress.set(b.progress.get() + 1);
        let arrived = b.bar_arrived.get() + 1;
        if arrived == b.dims.block {
            b.bar_arrived.set(0);
            b.bar_generation.set(generation + 1);
        } else {
            b.bar_arrived.set(arrived);
            while b.bar_generation.get() == generation {
                suspend(ctx, Wait::Barrier);
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
        b.progress.set(b.progress.get() + 1);
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
        bar_arrived: Cell::new(0),
        bar_generation: Cell::new(0),
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
    };
    let ctxs: Vec<ThreadCtx> = (0..dims.block)
        .map(|tid| ThreadCtx {
            tid,
            block: &block,
            yielder: Cell::new(ptr::null()),
            wait: Cell::new(Wait::None),
            cp_async: UnsafeCell::new(Default::default()),
            wgmma: UnsafeCell::new(Default::default()),
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
    while live > 0 {
        let before = block.progress.get();
        for (ctx, slot) in ctxs.iter().zip(fibers.iter_mut()) {
            let Some(fiber) = slot else { continue };
            CURRENT.with(|c| c.set(ctx));
            let r = fiber.resume(());
            CURRENT.with(|c| c.set(ptr::null()));
            if let CoroutineResult::Return(()) = r {
                // SAFETY: the fiber that owned the queue has finished.
                let in_flight = unsafe { !(*ctx.wgmma.get()).is_empty() };
                if in_flight && result.is_ok() {
                    result = Err(EmuError::WgmmaInFlight {
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
            result = Err(EmuError::Deadlock {
                block: idx,
                at_barrier: count(Wait::Barrier),
                at_warp_sync: count(Wait::Warp),
                exited: dims.block - live as u32,
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
