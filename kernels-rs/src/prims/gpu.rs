//! The GPU back end of [`crate::prims`]: inline PTX (sm_80+ instructions; the
//! default build emits `.target sm_89`).

use core::arch::asm;
use core::arch::nvptx;

mod hopper;
mod wgmma;
pub(crate) use hopper::*;
pub(crate) use wgmma::*;

#[inline(always)]
pub(crate) fn thread_idx() -> u32 {
    // SAFETY: reading special registers has no preconditions.
    unsafe { nvptx::_thread_idx_x() as u32 }
}
#[inline(always)]
pub(crate) fn block_idx() -> [u32; 3] {
    // SAFETY: as above.
    unsafe {
        [
            nvptx::_block_idx_x() as u32,
            nvptx::_block_idx_y() as u32,
            nvptx::_block_idx_z() as u32,
        ]
    }
}
#[inline(always)]
pub(crate) fn block_dim() -> u32 {
    // SAFETY: as above.
    unsafe { nvptx::_block_dim_x() as u32 }
}
#[inline(always)]
pub(crate) fn grid_dim() -> [u32; 3] {
    // SAFETY: as above.
    unsafe {
        [
            nvptx::_grid_dim_x() as u32,
            nvptx::_grid_dim_y() as u32,
            nvptx::_grid_dim_z() as u32,
        ]
    }
}
#[inline(always)]
pub(crate) fn sync_threads() {
    // SAFETY: every kernel calls this from block-uniform control flow.
    unsafe { nvptx::_syncthreads() }
}
#[inline(always)]
pub(crate) fn dyn_smem() -> *mut u8 {
    core::intrinsics::gpu::gpu_launch_sized_workgroup_mem::<u8>()
}

/// A 32-bit `.shared` window address.
pub(crate) type SharedAddr = u32;

#[inline(always)]
pub(crate) fn shared_add(a: SharedAddr, bytes: u32) -> SharedAddr {
    a.wrapping_add(bytes)
}

#[inline(always)]
pub(crate) fn shared_align_up(a: SharedAddr, align: u32) -> SharedAddr {
    a.wrapping_add(align - 1) & !(align - 1)
}

#[inline(always)]
pub(crate) fn shared_opaque(a: SharedAddr) -> SharedAddr {
    let r: u32;
    // SAFETY: a register move; the asm only hides the value from LLVM. Not
    // `pure`, so LLVM neither hoists it out of a loop nor merges two of them.
    unsafe {
        asm!("mov.b32 {r}, {a};", r = out(reg32) r, a = in(reg32) a, options(nomem, nostack))
    };
    r
}

#[inline(always)]
pub(crate) fn opaque_ptr(p: *const u8) -> *const u8 {
    let r: u64;
    // SAFETY: as `shared_opaque`.
    unsafe {
        asm!("mov.b64 {r}, {p};", r = out(reg64) r, p = in(reg64) p as u64, options(nomem, nostack))
    };
    r as *const u8
}

/// The start-address field of a `wgmma` descriptor: the `.shared` address itself.
#[inline(always)]
pub(crate) fn desc_address(a: SharedAddr) -> u32 {
    a
}

/// Generic address of shared memory → 32-bit `.shared` address.
#[inline(always)]
pub(crate) fn shared_addr(p: *const u8) -> SharedAddr {
    let a: u64;
    // SAFETY: pure address arithmetic.
    unsafe {
        asm!("cvta.to.shared.u64 {a}, {p};", a = out(reg64) a, p = in(reg64) p as u64, options(pure, nomem, nostack))
    };
    a as u32
}

#[inline(always)]
pub(crate) fn exp2(x: f32) -> f32 {
    let y: f32;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("ex2.approx.ftz.f32 {y}, {x};", y = out(reg32) y, x = in(reg32) x, options(pure, nomem, nostack))
    };
    y
}

#[inline(always)]
pub(crate) fn fma(a: f32, b: f32, c: f32) -> f32 {
    let y: f32;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("fma.rn.f32 {y}, {a}, {b}, {c};", y = out(reg32) y, a = in(reg32) a, b = in(reg32) b, c = in(reg32) c, options(pure, nomem, nostack))
    };
    y
}

#[inline(always)]
pub(crate) fn log2(x: f32) -> f32 {
    let y: f32;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("lg2.approx.ftz.f32 {y}, {x};", y = out(reg32) y, x = in(reg32) x, options(pure, nomem, nostack))
    };
    y
}

#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let y: f32;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("cvt.f32.f16 {y}, {h};", y = out(reg32) y, h = in(reg16) h, options(pure, nomem, nostack))
    };
    y
}
#[inline(always)]
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let h: u16;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("cvt.rn.f16.f32 {h}, {x};", h = out(reg16) h, x = in(reg32) x, options(pure, nomem, nostack))
    };
    h
}
#[inline(always)]
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}
#[inline(always)]
pub(crate) fn f32_to_bf16(x: f32) -> u16 {
    let h: u16;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("cvt.rn.bf16.f32 {h}, {x};", h = out(reg16) h, x = in(reg32) x, options(pure, nomem, nostack))
    };
    h
}
/// Two f32 → one f16x2 register, `lo` in the low half.
#[inline(always)]
pub(crate) fn pack_f16x2(lo: f32, hi: f32) -> u32 {
    let r: u32;
    // SAFETY: pure arithmetic. `cvt.rn.f16x2.f32 d, a, b` puts a in the upper half.
    unsafe {
        asm!("cvt.rn.f16x2.f32 {r}, {hi}, {lo};", r = out(reg32) r, hi = in(reg32) hi, lo = in(reg32) lo, options(pure, nomem, nostack))
    };
    r
}
/// Two f32 → one bf16x2 register, `lo` in the low half.
#[inline(always)]
pub(crate) fn pack_bf16x2(lo: f32, hi: f32) -> u32 {
    let r: u32;
    // SAFETY: pure arithmetic.
    unsafe {
        asm!("cvt.rn.bf16x2.f32 {r}, {hi}, {lo};", r = out(reg32) r, hi = in(reg32) hi, lo = in(reg32) lo, options(pure, nomem, nostack))
    };
    r
}

#[inline(always)]
pub(crate) fn shfl_xor_f32(value: f32, lane_mask: u32) -> f32 {
    let r: f32;
    // SAFETY: called by all 32 lanes of a converged warp.
    unsafe {
        asm!("shfl.sync.bfly.b32 {r}, {v}, {m}, 0x1f, 0xffffffff;", r = out(reg32) r, v = in(reg32) value, m = in(reg32) lane_mask, options(nomem, nostack))
    };
    r
}
#[inline(always)]
pub(crate) fn shfl_idx_f32(value: f32, src_lane: u32) -> f32 {
    let r: f32;
    // SAFETY: called by all 32 lanes of a converged warp.
    unsafe {
        asm!("shfl.sync.idx.b32 {r}, {v}, {s}, 0x1f, 0xffffffff;", r = out(reg32) r, v = in(reg32) value, s = in(reg32) src_lane, options(nomem, nostack))
    };
    r
}

macro_rules! mma_m16n8k16 {
    ($name:ident, $ty:literal) => {
        #[inline(always)]
        pub(crate) fn $name(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
            let d: [f32; 4];
            let (d0, d1, d2, d3);
            // SAFETY: called by all 32 lanes of a converged warp.
            unsafe {
                asm!(
                    concat!("mma.sync.aligned.m16n8k16.row.col.f32.", $ty, ".", $ty, ".f32 {{{d0}, {d1}, {d2}, {d3}}}, {{{a0}, {a1}, {a2}, {a3}}}, {{{b0}, {b1}}}, {{{c0}, {c1}, {c2}, {c3}}};"),
                    d0 = out(reg32) d0, d1 = out(reg32) d1, d2 = out(reg32) d2, d3 = out(reg32) d3,
                    a0 = in(reg32) a[0], a1 = in(reg32) a[1], a2 = in(reg32) a[2], a3 = in(reg32) a[3],
                    b0 = in(reg32) b[0], b1 = in(reg32) b[1],
                    c0 = in(reg32) c[0], c1 = in(reg32) c[1], c2 = in(reg32) c[2], c3 = in(reg32) c[3],
                    options(pure, nomem, nostack),
                )
            };
            d = [d0, d1, d2, d3];
            d
        }
    };
}
mma_m16n8k16!(mma_f16_m16n8k16, "f16");
mma_m16n8k16!(mma_bf16_m16n8k16, "bf16");

/// `ldmatrix` of 1, 2 or 4 8×8 b16 matrices, optionally transposed.
///
/// # Safety
/// `row_addr` must point at 16 readable bytes of shared memory in every lane
/// that supplies a row address.
#[inline(always)]
pub(crate) unsafe fn ldmatrix<const N: usize>(a: SharedAddr, trans: bool) -> [u32; N] {
    let mut r = [0u32; N];
    // SAFETY: guaranteed by the caller; N and trans are compile-time after inlining.
    unsafe {
        match (N, trans) {
            (1, false) => {
                asm!("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {{{r0}}}, [{a}];", r0 = out(reg32) r[0], a = in(reg32) a, options(readonly, nostack))
            }
            (1, true) => {
                asm!("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {{{r0}}}, [{a}];", r0 = out(reg32) r[0], a = in(reg32) a, options(readonly, nostack))
            }
            (2, false) => {
                asm!("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {{{r0}, {r1}}}, [{a}];", r0 = out(reg32) r[0], r1 = out(reg32) r[1], a = in(reg32) a, options(readonly, nostack))
            }
            (2, true) => {
                asm!("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {{{r0}, {r1}}}, [{a}];", r0 = out(reg32) r[0], r1 = out(reg32) r[1], a = in(reg32) a, options(readonly, nostack))
            }
            (4, false) => {
                asm!("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {{{r0}, {r1}, {r2}, {r3}}}, [{a}];", r0 = out(reg32) r[0], r1 = out(reg32) r[1], r2 = out(reg32) r[2], r3 = out(reg32) r[3], a = in(reg32) a, options(readonly, nostack))
            }
            (4, true) => {
                asm!("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {{{r0}, {r1}, {r2}, {r3}}}, [{a}];", r0 = out(reg32) r[0], r1 = out(reg32) r[1], r2 = out(reg32) r[2], r3 = out(reg32) r[3], a = in(reg32) a, options(readonly, nostack))
            }
            _ => core::hint::unreachable_unchecked(),
        }
    }
    r
}

/// # Safety
/// `dst` must be 16 writable bytes of shared memory, `src` `src_bytes` readable
/// bytes of global memory.
#[inline(always)]
pub(crate) unsafe fn cp_async_16(dst: SharedAddr, src: *const u8, src_bytes: u32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("cp.async.cg.shared.global [{d}], [{s}], 16, {n};", d = in(reg32) dst, s = in(reg64) src as u64, n = in(reg32) src_bytes, options(nostack))
    }
}
#[inline(always)]
pub(crate) fn cp_async_commit() {
    // SAFETY: no preconditions.
    unsafe { asm!("cp.async.commit_group;", options(nostack)) }
}
#[inline(always)]
pub(crate) fn cp_async_wait<const N: usize>() {
    // SAFETY: no preconditions.
    unsafe { asm!("cp.async.wait_group {n};", n = const N, options(nostack)) }
}

/// SM cycle counter.
#[inline(always)]
pub(crate) fn clock64() -> u64 {
    let c: u64;
    // SAFETY: reading a special register.
    unsafe { asm!("mov.u64 {c}, %clock64;", c = out(reg64) c, options(nomem, nostack)) };
    c
}
/// Global nanosecond timer.
#[inline(always)]
pub(crate) fn global_timer() -> u64 {
    let t: u64;
    // SAFETY: reading a special register.
    unsafe { asm!("mov.u64 {t}, %globaltimer;", t = out(reg64) t, options(nomem, nostack)) };
    t
}

/// `ld.global.v4.u32`: one 16-byte load.
#[inline(always)]
pub(crate) unsafe fn load_global_16(src: *const [u32; 4]) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: the caller guarantees 16 readable, 16-byte aligned global bytes.
    unsafe {
        asm!("ld.global.v4.u32 {{{a}, {b}, {c}, {d}}}, [{p}];",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg64) src as u64, options(readonly, nostack))
    };
    [a, b, c, d]
}
/// `st.global.v4.u32`: one 16-byte store.
#[inline(always)]
pub(crate) unsafe fn store_global_16(dst: *mut [u32; 4], v: [u32; 4]) {
    // SAFETY: the caller guarantees 16 writable, 16-byte aligned global bytes.
    unsafe {
        asm!("st.global.v4.u32 [{p}], {{{a}, {b}, {c}, {d}}};",
            p = in(reg64) dst as u64,
            a = in(reg32) v[0], b = in(reg32) v[1], c = in(reg32) v[2], d = in(reg32) v[3],
            options(nostack))
    };
}
