//! The copy engine (TMA) on the emulator: boxes of a tensor map moved between
//! global and shared memory (PTX ISA, "cp.async.bulk.tensor" and "Tensor
//! Map"; CUDA driver API, `cuTensorMapEncodeTiled`), and what is in flight
//! between issue and completion. Plain data and memory moves; `hopper.rs`
//! decides when a copy is performed.
//!
//! Layout in shared memory: the box's rows (its extent along dimension 0)
//! follow one another, dimension 1 fastest, then 2, then 3. With the 128-byte
//! swizzle the 16-byte chunk bits (4–6) of each byte's shared address are
//! XOR-ed with its bits 7–9, the same address function `wgmma`'s
//! 128-byte-swizzle descriptors read with (`wgmma.rs`).

use core::cell::RefCell;
use std::vec::Vec;

use super::groups::AsyncGroups;
use crate::prims::tensor_map::{Swizzle, TensorMapDesc};

/// A box of a tensor map: the map and the coordinates of its first element
/// (innermost first, unused dimensions 0).
#[derive(Clone, Copy)]
pub(crate) struct TmaBox {
    desc: TensorMapDesc,
    coords: [i64; 4],
}

impl TmaBox {
    /// The box of `desc` at `coords`, if `desc` is a map the copy engine
    /// accepts and `coords` has its rank.
    ///
    /// # Errors
    /// What is wrong with the map, as a sentence fragment.
    pub(crate) fn new(desc: TensorMapDesc, coords: &[i32]) -> Result<Self, &'static str> {
        let rank = desc.rank as usize;
        if !(2..=4).contains(&rank) || rank != coords.len() {
            return Err("the tensor map's rank is not 2..=4 or not the instruction's");
        }
        if !matches!(desc.elem_bytes, 1 | 2 | 4 | 8) {
            return Err("the tensor map's element size is not 1, 2, 4 or 8 bytes");
        }
        if desc.box_dims[..rank]
            .iter()
            .any(|&b| !(1..=256).contains(&b))
        {
            return Err("a box extent of the tensor map is not 1..=256");
        }
        if !desc.base.is_multiple_of(16)
            || desc.strides[..rank - 1]
                .iter()
                .any(|s| !s.is_multiple_of(16))
        {
            return Err("the tensor map's base or a stride is not a multiple of 16 bytes");
        }
        let row = desc.box_dims[0] * desc.elem_bytes;
        if !row.is_multiple_of(16) {
            return Err("the box's inner extent is not a multiple of 16 bytes");
        }
        if desc.swizzle == Swizzle::B128 && row > 128 {
            return Err("the box's inner extent is above 128 bytes with the 128-byte swizzle");
        }
        let mut padded = [0i64; 4];
        for (p, &c) in padded.iter_mut().zip(coords) {
            *p = c as i64;
        }
        Ok(TmaBox {
            desc,
            coords: padded,
        })
    }

    /// Bytes the box occupies in shared memory (out-of-bounds elements too).
    pub(crate) fn bytes(&self) -> usize {
        let d = &self.desc;
        d.box_dims[..d.rank as usize]
            .iter()
            .fold(d.elem_bytes as usize, |n, &b| n * b as usize)
    }

    /// The alignment the box's shared-memory address needs.
    pub(crate) fn smem_align(&self) -> usize {
        match self.desc.swizzle {
            Swizzle::None => 128,
            Swizzle::B128 => 1024,
        }
    }

    /// Calls `f(shared address, global address or None when out of bounds)`
    /// for every element of the box placed at shared address `smem`.
    fn for_each(&self, smem: usize, mut f: impl FnMut(usize, Option<usize>)) {
        let d = &self.desc;
        let [b0, b1, b2, b3] = d.box_dims.map(|b| b as usize);
        let rank = d.rank as usize;
        let (b2, b3) = (if rank > 2 { b2 } else { 1 }, if rank > 3 { b3 } else { 1 });
        let elem = d.elem_bytes as usize;
        let mut offset = 0;
        for i3 in 0..b3 {
            for i2 in 0..b2 {
                for i1 in 0..b1 {
                    for i0 in 0..b0 {
                        let idx = [i0, i1, i2, i3];
                        let global = self.global_address(idx);
                        f(self.swizzled(smem + offset), global);
                        offset += elem;
                    }
                }
            }
        }
    }

    /// The global address of box element `idx`, or None out of bounds.
    fn global_address(&self, idx: [usize; 4]) -> Option<usize> {
        let d = &self.desc;
        let mut addr = d.base as i128;
        for (dim, &i) in idx.iter().enumerate().take(d.rank as usize) {
            let at = self.coords[dim] + i as i64;
            if at < 0 || at as u64 >= d.dims[dim] {
                return None;
            }
            let stride = if dim == 0 {
                d.elem_bytes as u64
            } else {
                d.strides[dim - 1]
            };
            addr += at as i128 * stride as i128;
        }
        Some(addr as usize)
    }

    fn swizzled(&self, addr: usize) -> usize {
        match self.desc.swizzle {
            Swizzle::None => addr,
            Swizzle::B128 => addr ^ (((addr >> 7) & 7) << 4),
        }
    }

    /// The load: the box from global memory into shared memory at `smem`,
    /// out-of-bounds elements as zeros.
    ///
    /// # Safety
    /// `smem` has [`TmaBox::bytes`] writable bytes at the box's alignment;
    /// the in-bounds elements of the map are readable.
    pub(crate) unsafe fn load(&self, smem: usize) {
        let elem = self.desc.elem_bytes as usize;
        self.for_each(smem, |s, g| match g {
            // SAFETY: guaranteed by the caller.
            Some(g) => unsafe { core::ptr::copy(g as *const u8, s as *mut u8, elem) },
            // SAFETY: guaranteed by the caller.
            None => unsafe { core::ptr::write_bytes(s as *mut u8, 0, elem) },
        });
    }

    /// The store: the box from shared memory at `smem` into global memory,
    /// out-of-bounds elements skipped.
    ///
    /// # Safety
    /// `smem` has [`TmaBox::bytes`] readable bytes at the box's alignment;
    /// the in-bounds elements of the map are writable.
    pub(crate) unsafe fn store(&self, smem: usize) {
        let elem = self.desc.elem_bytes as usize;
        self.for_each(smem, |s, g| {
            if let Some(g) = g {
                // SAFETY: guaranteed by the caller.
                unsafe { core::ptr::copy(s as *const u8, g as *mut u8, elem) }
            }
        });
    }
}

/// A `cp.async.bulk.tensor` load issued and not yet performed.
pub(crate) struct PendingLoad {
    pub(crate) tma_box: TmaBox,
    /// Shared address of the box.
    pub(crate) dst: usize,
    /// Shared offset of the barrier it credits.
    pub(crate) bar: usize,
}

/// Shared memory a load writes, unreadable until the barrier phase the load
/// credits has completed.
struct Landing {
    lo: usize,
    hi: usize,
    bar: usize,
    phase: u64,
}

/// The block's TMA loads in flight.
#[derive(Default)]
pub(crate) struct BulkLoads {
    pending: RefCell<Vec<PendingLoad>>,
    landing: RefCell<Vec<Landing>>,
}

impl BulkLoads {
    /// Records `load`, to be performed later, crediting phase `phase` of its
    /// barrier.
    pub(crate) fn issue(&self, load: PendingLoad, phase: u64) {
        let lo = load.dst;
        let hi = lo + load.tma_box.bytes();
        self.landing.borrow_mut().push(Landing {
            lo,
            hi,
            bar: load.bar,
            phase,
        });
        self.pending.borrow_mut().push(load);
    }

    /// The loads crediting barrier `bar`, oldest first, taken out.
    pub(crate) fn take_for(&self, bar: usize) -> Vec<PendingLoad> {
        let mut pending = self.pending.borrow_mut();
        let (mine, rest) = pending.drain(..).partition(|l| l.bar == bar);
        *pending = rest;
        mine
    }

    /// Phase `phase` of barrier `bar` completed: what its loads wrote may
    /// be read.
    pub(crate) fn phase_completed(&self, bar: usize, phase: u64) {
        self.landing
            .borrow_mut()
            .retain(|l| !(l.bar == bar && l.phase <= phase));
    }

    /// The first address in `[lo, hi)` a load still lands in (not performed,
    /// or its barrier phase not completed).
    pub(crate) fn landing_in(&self, lo: usize, hi: usize) -> Option<usize> {
        self.landing
            .borrow()
            .iter()
            .filter(|l| l.lo < hi && lo < l.hi)
            .map(|l| l.lo.max(lo))
            .min()
    }

    /// Whether any load is landing anywhere (a fast path for readers).
    pub(crate) fn any_landing(&self) -> bool {
        !self.landing.borrow().is_empty()
    }
}

/// A `cp.async.bulk.tensor` store issued and not yet performed.
pub(crate) struct PendingStore {
    pub(crate) tma_box: TmaBox,
    /// Shared address of the box.
    pub(crate) src: usize,
}

/// A thread's bulk stores: performed when a `cp.async.bulk.wait_group.read`
/// covers their group, the latest moment the hardware may read their shared
/// memory, so a kernel that overwrites the source too early stores the new
/// contents here, as it could on the GPU.
pub(crate) type BulkStoreQueue = AsyncGroups<PendingStore>;
