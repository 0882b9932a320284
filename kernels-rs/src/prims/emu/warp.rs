//! Warp collectives and `cp.async` on the emulator, with the exact PTX
//! fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16" and
//! "Warp-level matrix load instruction: ldmatrix").
//!
//! Notation used throughout: `g = lane / 4` (groupID), `t = lane % 4`
//! (threadID_in_group). A 32-bit register holding two 16-bit elements keeps the
//! lower-indexed element in its low half.

use super::async_state::PendingCopy;
use super::convert::{bf16_to_f32, f16_to_f32};
use super::read_guard::check_landed;
use super::sched::{warp_exchange, with_ctx};

/// `shfl.sync.bfly.b32` with a full mask.
pub(crate) fn shfl_xor_f32(value: f32, lane_mask: u32) -> f32 {
    let lane = with_ctx(|c, _| c.tid % 32);
    warp_exchange(value)[((lane ^ lane_mask) % 32) as usize]
}

/// `shfl.sync.idx.b32` with a full mask.
pub(crate) fn shfl_idx_f32(value: f32, src_lane: u32) -> f32 {
    warp_exchange(value)[(src_lane % 32) as usize]
}

#[derive(Clone, Copy)]
pub(crate) enum MmaType {
    F16,
    Bf16,
}

pub(crate) fn half(reg: u32, hi: bool, ty: MmaType) -> f32 {
    let bits = if hi { (reg >> 16) as u16 } else { reg as u16 };
    match ty {
        MmaType::F16 => f16_to_f32(bits),
        MmaType::Bf16 => bf16_to_f32(bits),
    }
}

/// `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32`:
/// D = A·B + C with A 16×16 (row), B 16×8 (col), C and D 16×8 f32.
fn mma_m16n8k16(a: [u32; 4], b: [u32; 2], c: [f32; 4], ty: MmaType) -> [f32; 4] {
    let lane = with_ctx(|ctx, _| ctx.tid % 32) as usize;
    let all = warp_exchange((a, b));
    // Reassemble A (16×16) and B (16×8, k × n) from every lane's fragments.
    let mut am = [[0f32; 16]; 16];
    let mut bm = [[0f32; 8]; 16];
    for (l, (fa, fb)) in all.iter().enumerate() {
        let (g, t) = (l / 4, l % 4);
        for (r, &reg) in fa.iter().enumerate() {
            let row = g + 8 * (r & 1);
            let col = 2 * t + 8 * (r >> 1);
            am[row][col] = half(reg, false, ty);
            am[row][col + 1] = half(reg, true, ty);
        }
        for (r, &reg) in fb.iter().enumerate() {
            let k = 2 * t + 8 * r;
            bm[k][g] = half(reg, false, ty);
            bm[k + 1][g] = half(reg, true, ty);
        }
    }
    let (g, t) = (lane / 4, lane % 4);
    core::array::from_fn(|i| {
        let row = g + 8 * (i / 2);
        let col = 2 * t + (i & 1);
        // Products of 16-bit floats are exact in f32; accumulate in f32.
        (0..16).fold(c[i], |acc, k| acc + am[row][k] * bm[k][col])
    })
}

pub(crate) fn mma_f16_m16n8k16(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    mma_m16n8k16(a, b, c, MmaType::F16)
}

pub(crate) fn mma_bf16_m16n8k16(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
    mma_m16n8k16(a, b, c, MmaType::Bf16)
}

/// In the emulator a shared-memory address is a host pointer into the
/// block's shared buffer.
pub(crate) type SharedAddr = *const u8;

pub(crate) fn shared_addr(p: *const u8) -> SharedAddr {
    p
}

pub(crate) fn shared_add(a: SharedAddr, bytes: u32) -> SharedAddr {
    a.wrapping_add(bytes as usize)
}

pub(crate) fn shared_align_up(a: SharedAddr, align: u32) -> SharedAddr {
    a.wrapping_add(a.align_offset(align as usize))
}

/// Opacity only matters to the GPU compiler.
pub(crate) fn opaque_ptr(p: *const u8) -> *const u8 {
    p
}

/// As [`opaque_ptr`].
pub(crate) fn shared_opaque(a: SharedAddr) -> SharedAddr {
    a
}

/// `ldmatrix.sync.aligned.m8n8.x{N}[.trans].shared.b16`: lanes `8i..8i+8` give
/// the row addresses of matrix `i`; register `i` of every lane receives its
/// fragment of matrix `i`.
///
/// # Safety
/// Every address a participating lane gives must point at 16 readable bytes.
pub(crate) unsafe fn ldmatrix<const N: usize>(row_addr: SharedAddr, trans: bool) -> [u32; N] {
    check_landed(row_addr as usize, row_addr as usize + 16);
    let lane = with_ctx(|c, _| c.tid % 32) as usize;
    let addrs = warp_exchange(row_addr as usize);
    let (g, t) = (lane / 4, lane % 4);
    let element = |m: usize, row: usize, col: usize| -> u32 {
        // SAFETY: the caller guarantees each row address is readable for 16 bytes.
        unsafe { core::ptr::read_unaligned((addrs[8 * m + row] as *const u16).add(col)) as u32 }
    };
    core::array::from_fn(|m| {
        if trans {
            element(m, 2 * t, g) | (element(m, 2 * t + 1, g) << 16)
        } else {
            element(m, g, 2 * t) | (element(m, g, 2 * t + 1) << 16)
        }
    })
}

/// `cp.async.cg.shared.global [dst], [src], 16, src_bytes`: copy `src_bytes`
/// (0..=16) and fill the rest of the 16 bytes with zeros.
///
/// # Safety
/// `dst` must be 16 writable shared bytes and `src` `src_bytes` readable bytes
/// when the copy is performed.
pub(crate) unsafe fn cp_async_16(dst: SharedAddr, src: *const u8, src_bytes: u32) {
    // SAFETY: the queue belongs to the calling thread and is not aliased.
    with_ctx(|c, b| unsafe {
        if b.copy_race.get().is_none() && b.wgmma_reads.overlaps(dst as usize, 16) {
            b.copy_race
                .set(Some((c.tid, dst as usize - b.smem_base() as usize)));
        }
        b.wgmma_reads
            .copy_issued(dst as usize - b.smem_base() as usize);
        (*c.cp_async.get()).issue(PendingCopy::new(dst as *mut u8, src, src_bytes))
    })
}

/// `cp.async.commit_group`.
pub(crate) fn cp_async_commit() {
    with_ctx(|c, _| {
        // SAFETY: as above.
        unsafe { (*c.cp_async.get()).commit() };
    })
}

/// `cp.async.wait_group N`: perform every committed group but the newest `n`.
pub(crate) fn cp_async_wait(n: usize) {
    with_ctx(|c, b| {
        // SAFETY: as above.
        let ready = unsafe { (*c.cp_async.get()).take_ready(n) };
        for copy in ready {
            b.wgmma_reads
                .copy_performed(copy.dst as usize - b.smem_base() as usize);
            // SAFETY: guaranteed by the caller of `cp_async_16`.
            unsafe { copy.perform() };
        }
    })
}

/// Emulated `ld.global.v4.u32`.
pub(crate) unsafe fn load_global_16(src: *const [u32; 4]) -> [u32; 4] {
    // SAFETY: forwarded from the caller.
    unsafe { src.read() }
}
/// Emulated `st.global.v4.u32`.
pub(crate) unsafe fn store_global_16(dst: *mut [u32; 4], v: [u32; 4]) {
    // SAFETY: forwarded from the caller.
    unsafe { dst.write(v) }
}
