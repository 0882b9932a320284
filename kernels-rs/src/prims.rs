//! The hardware layer every kernel goes through: thread and block ids,
//! barriers, shared memory, tensor-core `mma.sync`, `ldmatrix`, `cp.async`,
//! shuffles, conversions.
//!
//! Two back ends with one API: [`gpu`] (inline PTX, `target_arch = "nvptx64"`)
//! and [`emu`] (the CPU block emulator). Each function documents the PTX it
//! stands for; the emulator reproduces that instruction's semantics exactly,
//! fragment layouts included.

#[cfg(not(target_arch = "nvptx64"))]
pub mod emu;
#[cfg(not(target_arch = "nvptx64"))]
use emu as backend;
#[cfg(not(target_arch = "nvptx64"))]
use emu::convert;

#[cfg(target_arch = "nvptx64")]
mod gpu;
#[cfg(target_arch = "nvptx64")]
use gpu as backend;
#[cfg(target_arch = "nvptx64")]
use gpu as convert;

/// `%tid.x` (blocks are one-dimensional).
#[inline(always)]
pub fn thread_idx() -> u32 {
    backend::thread_idx()
}
/// `%ctaid.{x,y,z}`.
#[inline(always)]
pub fn block_idx() -> [u32; 3] {
    backend::block_idx()
}
/// `%ntid.x`.
#[inline(always)]
pub fn block_dim() -> u32 {
    backend::block_dim()
}
/// `%nctaid.{x,y,z}`.
#[inline(always)]
pub fn grid_dim() -> [u32; 3] {
    backend::grid_dim()
}
/// `%laneid` for 1-D blocks.
#[inline(always)]
pub fn lane_id() -> u32 {
    thread_idx() % 32
}
/// `%tid.x / 32`.
#[inline(always)]
pub fn warp_id() -> u32 {
    thread_idx() / 32
}
/// `bar.sync 0` (`__syncthreads`). Must be reached by every thread of the block.
#[inline(always)]
pub fn sync_threads() {
    backend::sync_threads()
}
/// Base of the block's dynamic shared memory (size fixed at launch).
#[inline(always)]
pub fn dyn_smem() -> *mut u8 {
    backend::dyn_smem()
}

/// 2^x (`ex2.approx.ftz.f32` on the GPU).
#[inline(always)]
pub fn exp2(x: f32) -> f32 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::exp2(x)
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        x.exp2()
    }
}

/// `a·b + c` rounded once (`fma.rn.f32`). Written out because LLVM, under
/// Rust's default floating-point contract, emits `mul.rn` + `add.rn`, which
/// ptxas may not fuse.
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::fma(a, b, c)
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        a.mul_add(b, c)
    }
}

/// log2(x) (`lg2.approx.ftz.f32` on the GPU).
#[inline(always)]
pub fn log2(x: f32) -> f32 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::log2(x)
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        x.log2()
    }
}

/// `cvt.f32.f16`.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    convert::f16_to_f32(h)
}
/// `cvt.rn.f16.f32`.
#[inline(always)]
pub fn f32_to_f16(x: f32) -> u16 {
    convert::f32_to_f16(x)
}
/// bf16 → f32 (exact: a shift).
#[inline(always)]
pub fn bf16_to_f32(h: u16) -> f32 {
    convert::bf16_to_f32(h)
}
/// `cvt.rn.bf16.f32`.
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> u16 {
    convert::f32_to_bf16(x)
}
/// `cvt.rn.f16x2.f32`: `lo` in the low half.
#[inline(always)]
pub fn pack_f16x2(lo: f32, hi: f32) -> u32 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::pack_f16x2(lo, hi)
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        convert::f32_to_f16(lo) as u32 | (convert::f32_to_f16(hi) as u32) << 16
    }
}
/// `cvt.rn.bf16x2.f32`: `lo` in the low half.
#[inline(always)]
pub fn pack_bf16x2(lo: f32, hi: f32) -> u32 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::pack_bf16x2(lo, hi)
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        convert::f32_to_bf16(lo) as u32 | (convert::f32_to_bf16(hi) as u32) << 16
    }
}

/// `shfl.sync.bfly.b32` over the full warp: the value of lane `lane ^ lane_mask`.
#[inline(always)]
pub fn shfl_xor_f32(value: f32, lane_mask: u32) -> f32 {
    backend::shfl_xor_f32(value, lane_mask)
}
/// `shfl.sync.idx.b32` over the full warp: the value of lane `src_lane`.
#[inline(always)]
pub fn shfl_idx_f32(value: f32, src_lane: u32) -> f32 {
    backend::shfl_idx_f32(value, src_lane)
}

/// `mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32`. Fragments as in the PTX ISA:
/// with `g = lane/4`, `t = lane%4`, A register `r` holds row `g + 8(r&1)`,
/// columns `2t + 8(r>>1) + {0,1}`; B register `r` holds k `2t + 8r + {0,1}`,
/// column `g`; C/D element `i` is row `g + 8(i/2)`, column `2t + (i&1)`.
#[inline(always)]
pub fn mma_f16_m16n8k16(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    backend::mma_f16_m16n8k16(a, b, c)
}
/// As [`mma_f16_m16n8k16`] with bf16 inputs.
#[inline(always)]
pub fn mma_bf16_m16n8k16(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    backend::mma_bf16_m16n8k16(a, b, c)
}

/// An address in the block's dynamic shared memory. On the GPU it is the
/// 32-bit `.shared` window address, converted from a generic pointer once
/// (`cvta.to.shared`), so address arithmetic stays 32-bit; in the emulator it
/// is a host pointer.
#[derive(Clone, Copy)]
pub struct Shared(backend::SharedAddr);

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

/// `p` unchanged, opaque to the optimizer (see [`Shared::opaque`]): a pointer
/// advanced through it stays one register instead of one per use.
#[inline(always)]
pub fn opaque_ptr(p: *const u8) -> *const u8 {
    backend::opaque_ptr(p)
}

/// `ldmatrix.sync.aligned.m8n8.x{N}.shared.b16` (N = 1, 2 or 4): lanes
/// `8i..8i+8` give the addresses of the 8 rows (16 bytes each) of matrix `i`;
/// register `i` receives row `lane/4`, columns `2(lane%4) + {0,1}` of matrix `i`.
///
/// # Safety
/// Every row address must be 16 readable, 16-byte aligned bytes of shared memory.
#[inline(always)]
pub unsafe fn ldmatrix<const N: usize>(row_addr: Shared) -> [u32; N] {
    // SAFETY: forwarded to the caller.
    unsafe { backend::ldmatrix::<N>(row_addr.0, false) }
}
/// `ldmatrix ... .trans`: register `i` receives rows `2(lane%4) + {0,1}`,
/// column `lane/4` of matrix `i` (the fragment of its transpose).
///
/// # Safety
/// As [`ldmatrix`].
#[inline(always)]
pub unsafe fn ldmatrix_trans<const N: usize>(row_addr: Shared) -> [u32; N] {
    // SAFETY: forwarded to the caller.
    unsafe { backend::ldmatrix::<N>(row_addr.0, true) }
}

/// `cp.async.cg.shared.global [dst], [src], 16, src_bytes`: asynchronously
/// copy `src_bytes` (0..=16) bytes and zero-fill the rest of 16.
///
/// # Safety
/// `dst`: 16 writable, 16-byte aligned shared bytes; `src`: `src_bytes`
/// readable global bytes, 16-byte aligned.
#[inline(always)]
pub unsafe fn cp_async_16(dst: Shared, src: *const u8, src_bytes: u32) {
    // SAFETY: forwarded to the caller.
    unsafe { backend::cp_async_16(dst.0, src, src_bytes) }
}
/// `ld.global.v4.u32`: 16 bytes in one access.
///
/// # Safety
/// `src`: 16 readable, 16-byte aligned bytes of global memory.
#[inline(always)]
pub unsafe fn load_global_16(src: *const [u32; 4]) -> [u32; 4] {
    // SAFETY: forwarded to the caller.
    unsafe { backend::load_global_16(src) }
}
/// `st.global.v4.u32`: 16 bytes in one access.
///
/// # Safety
/// `dst`: 16 writable, 16-byte aligned bytes of global memory.
#[inline(always)]
pub unsafe fn store_global_16(dst: *mut [u32; 4], v: [u32; 4]) {
    // SAFETY: forwarded to the caller.
    unsafe { backend::store_global_16(dst, v) }
}

/// `cp.async.commit_group`.
#[inline(always)]
pub fn cp_async_commit() {
    backend::cp_async_commit()
}
/// `cp.async.wait_group N`: wait until at most `N` committed groups are pending.
/// Copies become visible to other threads only after a following barrier.
#[inline(always)]
pub fn cp_async_wait<const N: usize>() {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::cp_async_wait::<N>()
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        emu::cp_async_wait(N)
    }
}

/// `%clock64` (the SM's cycle counter). On the emulator: nanoseconds.
#[inline(always)]
pub fn clock64() -> u64 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::clock64()
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        host_nanos()
    }
}
/// `%globaltimer` (nanoseconds).
#[inline(always)]
pub fn global_timer() -> u64 {
    #[cfg(target_arch = "nvptx64")]
    {
        gpu::global_timer()
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        host_nanos()
    }
}

#[cfg(not(target_arch = "nvptx64"))]
fn host_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
