//! Kernels that measure the device rather than compute attention: the SM clock
//! probe of the timing engine's clock check, and the copy and tensor-core loops
//! whose throughput tileattn reports as this device's ceilings.
//!
//! They are fixed entry points of every PTX module (not variants of
//! `tiles.toml`), and like the attention kernels they run on the emulator too.

use crate::prims::{self, block_dim, block_idx, grid_dim, thread_idx};

/// Thread 0 of the single block spins until `spin_ns` of `%globaltimer` have
/// passed and writes, to `out[2 slot]` and `out[2 slot + 1]`, the SM cycles and
/// the nanoseconds it saw: their ratio is the SM clock while it spun.
///
/// Why a spin and not two reads: `%globaltimer` ticks in steps of about a
/// microsecond, so the interval must be long against one step (tens of µs for a
/// clock reading good to a few percent).
///
/// # Safety
/// `out` holds at least `2 slot + 2` writable `u64`s; launch one block.
pub unsafe fn clock_probe(out: *mut u64, slot: u32, spin_ns: u64) {
    if thread_idx() != 0 || block_idx() != [0, 0, 0] {
        return;
    }
    let (t0, c0) = (prims::global_timer(), prims::clock64());
    let mut t1 = t0;
    while t1.wrapping_sub(t0) < spin_ns {
        t1 = prims::global_timer();
    }
    let c1 = prims::clock64();
    // SAFETY: the caller provides slot `slot`.
    unsafe {
        *out.add(2 * slot as usize) = c1.wrapping_sub(c0);
        *out.add(2 * slot as usize + 1) = t1.wrapping_sub(t0);
    }
}

/// `dst[i] = src[i]` for `i < n`, grid-stride: every byte read once and written
/// once with 16-byte accesses, the traffic pattern of a bandwidth ceiling.
///
/// # Safety
/// `src` and `dst` hold `n` 16-byte aligned chunks each and do not overlap.
pub unsafe fn copy(src: *const [u32; 4], dst: *mut [u32; 4], n: u64) {
    let [gx, _, _] = grid_dim();
    let stride = gx as u64 * block_dim() as u64;
    let mut i = block_idx()[0] as u64 * block_dim() as u64 + thread_idx() as u64;
    while i < n {
        // SAFETY: i < n, both buffers hold n chunks.
        unsafe {
            let v = prims::load_global_16(src.add(i as usize));
            prims::store_global_16(dst.add(i as usize), v);
        }
        i += stride;
    }
}

/// Independent accumulator chains per warp: enough `mma.sync`s in flight to
/// hide the instruction's latency, so the loop is bound by throughput alone.
pub const MMA_CHAINS: usize = 8;

/// Each warp runs `iters` rounds of [`MMA_CHAINS`] independent bf16
/// `mma.sync.m16n8k16` (2·16·8·16 = 4096 FLOPs each) on register operands, then
/// writes one value per thread to `out` so that no round can be optimised away.
///
/// # Safety
/// `out` holds one `f32` per launched thread; blocks are whole warps.
pub unsafe fn mma_bf16_loop(out: *mut f32, iters: u32) {
    let lane = prims::lane_id();
    // Small, lane-dependent operands: finite sums for any iteration count.
    let a = [prims::pack_bf16x2(1.0 / 64.0, lane as f32 / 4096.0); 4];
    let b = [prims::pack_bf16x2(1.0 / 128.0, 1.0 / 256.0); 2];
    let mut acc = [[0f32; 4]; MMA_CHAINS];
    for _ in 0..iters {
        for c in acc.iter_mut() {
            *c = prims::mma_bf16_m16n8k16(a, b, *c);
        }
    }
    let sum: f32 = acc.iter().flatten().sum();
    let tid = block_idx()[0] as usize * block_dim() as usize + thread_idx() as usize;
    // SAFETY: one slot per launched thread.
    unsafe { *out.add(tid) = sum };
}

/// FLOPs of one warp-wide `mma.sync.m16n8k16`.
pub const MMA_M16N8K16_FLOPS: u64 = 2 * 16 * 8 * 16;
