//! The hardware layer every kernel goes through: thread and block ids,
//! barriers, shared memory, tensor-core `mma.sync`, `ldmatrix`, `cp.async`,
//! shuffles, conversions.
//!
//! Two back ends with one API: `gpu` (inline PTX, `target_arch = "nvptx64"`)
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

mod hopper;
mod shared;
pub mod tensor_map;
#[cfg(target_arch = "nvptx64")]
use gpu as backend;
#[cfg(target_arch = "nvptx64")]
use gpu as convert;
pub use hopper::*;
pub use shared::Shared;
pub use tensor_map::{Swizzle, TensorMap, TensorMapDesc};

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

/// A `wgmma` shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor
/// Format") for a tile in the 128-byte-swizzle layout: bits 0–13 the start
/// address, 16–29 the leading byte offset, 32–45 the stride byte offset (all
/// in units of 16 bytes), 62–63 the layout type (1: 128-byte swizzle).
///
/// In that layout a tile is made of 8-row groups of 128-byte rows whose
/// 16-byte chunks are XOR-swizzled by `row mod 8`; groups start on
/// 1024-byte boundaries (the swizzle is a function of the address bits).
/// K-major operands (rows along M or N, 64 k-values per row): `sbo` is the
/// distance between 8-row groups, `lbo` unused. MN-major operands (one row per
/// k, 64 M or N values per row): `sbo` between 8-row k groups, `lbo` between
/// 64-wide M or N blocks.
#[derive(Clone, Copy)]
pub struct WgmmaDesc(u64);

impl WgmmaDesc {
    /// The 128-byte-swizzled operand at `start` (1024-byte aligned or offset
    /// within its 128-byte row by a k-step).
    #[inline(always)]
    pub fn sw128(start: Shared, lbo: u32, sbo: u32) -> Self {
        let field = |bytes: u32| ((bytes >> 4) & 0x3FFF) as u64;
        WgmmaDesc(
            field(backend::desc_address(start.0)) | field(lbo) << 16 | field(sbo) << 32 | 1 << 62,
        )
    }

    /// The same operand layout `bytes` (a multiple of 16) further on: only the
    /// start-address field changes (shared addresses stay below 2^18, so the
    /// field never carries into the next one).
    #[inline(always)]
    pub fn byte_add(self, bytes: u32) -> Self {
        WgmmaDesc(self.0 + (bytes >> 4) as u64)
    }
}

/// `fence.proxy.async.shared::cta`: makes this thread's ordinary writes to
/// shared memory (stores, `cp.async` after its wait) visible to `wgmma`,
/// which reads shared memory through the async proxy. Needed before the
/// barrier that publishes a tile to the tensor cores.
#[inline(always)]
pub fn fence_proxy_async() {
    backend::fence_proxy_async()
}

/// Reinterprets an accumulator of `N8` tiles as one of `M8` tiles (`N8 == M8`,
/// checked at compile time by the callers).
#[cfg(target_arch = "nvptx64")]
#[inline(always)]
fn acc_as<const N8: usize, const M8: usize>(acc: &mut [[f32; 4]; N8]) -> &mut [[f32; 4]; M8] {
    // SAFETY: the callers only call this with N8 == M8.
    unsafe { &mut *(acc as *mut [[f32; 4]; N8] as *mut [[f32; 4]; M8]) }
}

/// The public form of one `wgmma` chain function: the GPU's `$gpu64` or
/// `$gpu128` by `N8`, or the emulator's `$emu` (given `&mut acc` for a chain
/// that waits, a pointer for one that is only issued).
macro_rules! wgmma_fn {
    ($(#[$doc:meta])* $name:ident, $a:ty, $gpu64:ident, $gpu128:ident, $emu:ident, $ty:ident, $acc:ident => $emu_acc:expr) => {
        $(#[$doc])*
        #[inline(always)]
        pub unsafe fn $name<const N8: usize>($acc: &mut [[f32; 4]; N8], a: $a, b: [WgmmaDesc; 4]) {
            const { assert!(N8 == 8 || N8 == 16, "wgmma shapes here: N = 64 or 128") };
            let b = b.map(|d| d.0);
            #[cfg(target_arch = "nvptx64")]
            // SAFETY: forwarded to the caller; N8 matches the callee.
            unsafe {
                if N8 == 8 {
                    gpu::$gpu64(acc_as($acc), a.into_operand(), b)
                } else {
                    gpu::$gpu128(acc_as($acc), a.into_operand(), b)
                }
            }
            #[cfg(not(target_arch = "nvptx64"))]
            // SAFETY: forwarded to the caller.
            unsafe {
                emu::$emu(emu::MmaType::$ty, $emu_acc, a.into_operand(), b)
            }
        }
    };
}

/// What a chain's A operand is passed as: descriptors (their raw bits) or
/// register fragments (as they are).
trait AOperand {
    type Raw;
    fn into_operand(self) -> Self::Raw;
}

impl AOperand for [WgmmaDesc; 4] {
    type Raw = [u64; 4];
    #[inline(always)]
    fn into_operand(self) -> [u64; 4] {
        self.map(|d| d.0)
    }
}

impl AOperand for [[u32; 4]; 4] {
    type Raw = [[u32; 4]; 4];
    #[inline(always)]
    fn into_operand(self) -> [[u32; 4]; 4] {
        self
    }
}

macro_rules! wgmma_api {
    ($name:literal, $ty:ident, $ss:ident, $rs:ident, $ss_issue:ident, $rs_issue:ident,
     $ss64:ident, $ss128:ident, $rs64:ident, $rs128:ident,
     $ss64i:ident, $ss128i:ident, $rs64i:ident, $rs128i:ident) => {
        wgmma_fn!(
            #[doc = concat!("Four k-steps of `wgmma.mma_async.sync.aligned.m64nNk16.f32.", $name, ".", $name, "`")]
            /// (N = 8·N8, 64 or 128) with both operands K-major in shared memory:
            /// `acc += A·B` for this warpgroup's 64 rows, with fence before and
            /// `commit` + `wait_group 0` after. Fragments as in `mma_*_m16n8k16`'s
            /// C/D layout, one 16-row slice per warp of the warpgroup.
            ///
            /// # Safety
            /// All 128 threads of a warpgroup call it converged; the descriptors
            /// describe shared memory made visible with [`fence_proxy_async`] and a barrier.
            $ss, [WgmmaDesc; 4], $ss64, $ss128, wgmma_ss, $ty, acc => acc
        );
        wgmma_fn!(
            /// As the shared-memory form, with A from registers (the
            /// `mma.m16n8k16` A fragment of each warp's 16 rows, per k-step) and B
            /// MN-major (transposed) in shared memory.
            ///
            /// # Safety
            /// As the shared-memory form.
            $rs, [[u32; 4]; 4], $rs64, $rs128, wgmma_rs, $ty, acc => acc
        );
        wgmma_fn!(
            /// The shared-memory form issued only: fence and four k-steps, no
            /// commit and no wait; see [`wgmma_commit`] and [`wgmma_wait`].
            ///
            /// # Safety
            /// As the shared-memory form, and until a [`wgmma_wait`] covers
            /// the chain, `acc` is neither read nor written and the operand
            /// tiles are not overwritten.
            $ss_issue, [WgmmaDesc; 4], $ss64i, $ss128i, wgmma_ss_issue, $ty, acc => acc as *mut _
        );
        wgmma_fn!(
            /// The register form issued only, as [`
            #[doc = stringify!($ss_issue)]
            /// `].
            ///
            /// # Safety
            /// As that function.
            $rs_issue, [[u32; 4]; 4], $rs64i, $rs128i, wgmma_rs_issue, $ty, acc => acc as *mut _
        );
    };
}
wgmma_api!(
    "f16",
    F16,
    wgmma_ss_f16,
    wgmma_rs_f16,
    wgmma_ss_f16_issue,
    wgmma_rs_f16_issue,
    wgmma_ss_f16_n64,
    wgmma_ss_f16_n128,
    wgmma_rs_f16_n64,
    wgmma_rs_f16_n128,
    wgmma_ss_f16_n64_issue,
    wgmma_ss_f16_n128_issue,
    wgmma_rs_f16_n64_issue,
    wgmma_rs_f16_n128_issue
);
wgmma_api!(
    "bf16",
    Bf16,
    wgmma_ss_bf16,
    wgmma_rs_bf16,
    wgmma_ss_bf16_issue,
    wgmma_rs_bf16_issue,
    wgmma_ss_bf16_n64,
    wgmma_ss_bf16_n128,
    wgmma_rs_bf16_n64,
    wgmma_rs_bf16_n128,
    wgmma_ss_bf16_n64_issue,
    wgmma_ss_bf16_n128_issue,
    wgmma_rs_bf16_n64_issue,
    wgmma_rs_bf16_n128_issue
);

/// `wgmma.commit_group`: the chains this warpgroup issued since the last
/// commit become one group.
///
/// # Safety
/// All 128 threads of a warpgroup call it converged.
#[inline(always)]
pub unsafe fn wgmma_commit() {
    backend::wgmma_commit()
}

/// `wgmma.wait_group PENDING` (0 or 1): every committed group but the newest
/// `PENDING` has finished, and `acc`, the accumulator of one of those, may be
/// used again.
///
/// # Safety
/// All 128 threads of a warpgroup call it converged; `acc` belongs to a group
/// with at most `PENDING` groups committed after it.
#[inline(always)]
pub unsafe fn wgmma_wait<const PENDING: usize, const N8: usize>(acc: &mut [[f32; 4]; N8]) {
    const { assert!(N8 == 8 || N8 == 16, "wgmma shapes here: N = 64 or 128") };
    #[cfg(target_arch = "nvptx64")]
    // SAFETY: forwarded to the caller; N8 matches the callee.
    unsafe {
        if N8 == 8 {
            gpu::wgmma_wait_n64::<PENDING>(acc_as(acc))
        } else {
            gpu::wgmma_wait_n128::<PENDING>(acc_as(acc))
        }
    }
    #[cfg(not(target_arch = "nvptx64"))]
    {
        // The accumulator is written by the chains the wait performs.
        let _ = acc;
        emu::wgmma_wait(PENDING)
    }
}
