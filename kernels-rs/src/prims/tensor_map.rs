//! Tensor maps: what the copy engine (TMA) needs to know about a tensor in
//! global memory to move boxes of it into shared memory and back.
//!
//! The host describes a map once ([`TensorMapDesc`], the arguments of the
//! driver's `cuTensorMapEncodeTiled`) and encodes it for where the kernel runs:
//! the driver's opaque 128-byte object on the GPU, or [`TensorMap::emulated`]
//! for the block emulator, which keeps the description itself in those bytes.
//! Kernels only ever pass a `*const TensorMap` to [`super::tma_load`] and
//! [`super::tma_store`].

/// How the copy engine scatters a box's rows in shared memory.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swizzle {
    /// Rows packed one after another.
    None = 0,
    /// `CU_TENSOR_MAP_SWIZZLE_128B`: 128-byte rows whose 16-byte chunks are
    /// XOR-ed with bits 7–9 of their shared address (`row mod 8` for a
    /// 1024-byte aligned box) — the layout `wgmma`'s 128-byte-swizzle
    /// descriptors read ([`super::WgmmaDesc::sw128`]). The box's inner
    /// extent must be at most 128 bytes.
    B128 = 3,
}

/// A tiled tensor map as the host states it: `rank` dimensions, innermost
/// first (dimension 0 contiguous), out-of-bounds elements read as zero and
/// never written.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorMapDesc {
    /// Global address of element (0, …, 0); 16-byte aligned.
    pub base: u64,
    /// Dimensions used, 2..=4.
    pub rank: u32,
    /// Bytes per element (2 for f16/bf16).
    pub elem_bytes: u32,
    /// Elements along each dimension (unused ones 1).
    pub dims: [u64; 4],
    /// Bytes between consecutive indices of dimensions 1..rank (multiples of 16).
    pub strides: [u64; 3],
    /// Elements of one box along each dimension (unused ones 1), each 1..=256.
    pub box_dims: [u32; 4],
    pub swizzle: Swizzle,
}

/// The 128-byte, 64-byte aligned tensor-map object the copy instructions
/// name. Opaque on the GPU (the driver writes it); in the emulator it holds a
/// [`TensorMapDesc`].
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorMap(pub [u8; 128]);

const _: () = assert!(core::mem::size_of::<TensorMapDesc>() <= 128);

impl TensorMap {
    /// The emulator's encoding of `desc`.
    pub fn emulated(desc: &TensorMapDesc) -> Self {
        let mut bytes = [0u8; 128];
        // SAFETY: TensorMapDesc is plain data of at most 128 bytes (checked above).
        unsafe {
            core::ptr::copy_nonoverlapping(
                desc as *const TensorMapDesc as *const u8,
                bytes.as_mut_ptr(),
                core::mem::size_of::<TensorMapDesc>(),
            )
        };
        TensorMap(bytes)
    }

    /// The description an emulated map was made from.
    ///
    /// # Safety
    /// `self` was made by [`TensorMap::emulated`].
    pub unsafe fn emulated_desc(&self) -> TensorMapDesc {
        // SAFETY: per the caller, the bytes hold a TensorMapDesc; unaligned read.
        unsafe { core::ptr::read_unaligned(self.0.as_ptr() as *const TensorMapDesc) }
    }
}
