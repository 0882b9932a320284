//! Addresses in the block's dynamic shared memory, the operand type of every
//! prim that reads or writes it.

#[cfg(not(target_arch = "nvptx64"))]
use super::emu as backend;
#[cfg(target_arch = "nvptx64")]
use super::gpu as backend;

/// An address in the block's dynamic shared memory. On the GPU it is the
/// 32-bit `.shared` window address, converted from a generic pointer once
/// (`cvta.to.shared`), so address arithmetic stays 32-bit; in the emulator it
/// is a host pointer.
#[derive(Clone, Copy)]
pub struct Shared(pub(super) backend::SharedAddr);

impl Shared {
    /// The shared-memory address of `p`, a generic pointer into shared memory.
    #[inline(always)]
    pub fn of(p: *const u8) -> Self {
        Shared(backend::shared_addr(p))
    }

    /// The address `bytes` further on.
    #[inline(always)]
    pub fn byte_add(self, bytes: u32) -> Self {
        Shared(backend::shared_add(self.0, bytes))
    }

    /// The first address at or after this one that is a multiple of `align`
    /// (a power of two).
    #[inline(always)]
    pub fn align_up(self, align: u32) -> Self {
        Shared(backend::shared_align_up(self.0, align))
    }

    /// The same address, opaque to the optimizer, recomputed where it is
    /// written. LLVM reassociates `(base + per_thread) + constant` into
    /// `base + (per_thread + constant)` and hoists every such sum out of the
    /// tile loop as its own register; for a kernel with dozens of fragment
    /// loads that costs more registers than the fragments themselves.
    /// Constants added to an opaque per-tile address stay constants, which
    /// ptxas folds into the load instruction.
    #[inline(always)]
    pub fn opaque(self) -> Self {
        Shared(backend::shared_opaque(self.0))
    }
}
