//! The device-measuring kernels on the emulator: the copy copies, the mma loop
//! computes what its operands say (so no round can have been skipped), and the
//! clock probe reports the interval it spun for.

use tileattn_kernels::prims::emu::{LaunchDims, launch};
use tileattn_kernels::probes;

fn dims(grid_x: u32, block: u32) -> LaunchDims {
    LaunchDims {
        grid: [grid_x, 1, 1],
        block,
        smem_bytes: 0,
    }
}

/// A raw pointer the emulator's threads may share (each writes its own slots).
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
unsafe impl<T> Sync for Shared<T> {}
unsafe impl<T> Send for Shared<T> {}

#[test]
fn copy_moves_every_chunk_once_with_grid_stride() {
    // More chunks than threads, and not a multiple of them: the stride loop and its tail.
    let n = 3 * 64 + 7;
    let src: Vec<[u32; 4]> = (0..n as u32)
        .map(|i| [i, !i, i.wrapping_mul(2654435761), 7])
        .collect();
    let mut dst = vec![[0xdead_beef_u32; 4]; n];
    let (s, d) = (
        Shared(src.as_ptr() as *mut [u32; 4]),
        Shared(dst.as_mut_ptr()),
    );
    launch(dims(2, 32), move || {
        let (s, d) = (s, d);
        // SAFETY: both buffers hold n chunks.
        unsafe { probes::copy(s.0, d.0, n as u64) }
    })
    .unwrap();
    assert_eq!(dst, src);
}

#[test]
fn mma_loop_accumulates_every_round() {
    let (blocks, threads, iters) = (2u32, 64u32, 5u32);
    let mut out = vec![f32::NAN; (blocks * threads) as usize];
    let o = Shared(out.as_mut_ptr());
    launch(dims(blocks, threads), move || {
        let o = o;
        // SAFETY: one slot per thread.
        unsafe { probes::mma_bf16_loop(o.0, iters) }
    })
    .unwrap();
    // A skipped or duplicated round shows as a sum that does not scale exactly
    // with `iters` (the operands are powers of two and small multiples of
    // them, so every partial sum is exact in f32).
    let mut once = vec![f32::NAN; (blocks * threads) as usize];
    let o1 = Shared(once.as_mut_ptr());
    launch(dims(blocks, threads), move || {
        let o1 = o1;
        // SAFETY: one slot per thread.
        unsafe { probes::mma_bf16_loop(o1.0, 1) }
    })
    .unwrap();
    for (x, y) in out.iter().zip(&once) {
        assert!(
            y.is_finite() && *y > 0.0,
            "one round must give a positive finite sum, got {y}"
        );
        let rel = (x / (iters as f32 * y) - 1.0).abs();
        assert!(rel < 1e-5, "{iters} rounds gave {x}, one round {y}");
    }
}

#[test]
fn clock_probe_reports_the_interval_it_spun() {
    let mut out = vec![0u64; 6];
    let o = Shared(out.as_mut_ptr());
    let spin_ns = 200_000;
    launch(dims(1, 32), move || {
        let o = o;
        // SAFETY: slot 2 of 3 exists.
        unsafe { probes::clock_probe(o.0, 2, spin_ns) }
    })
    .unwrap();
    assert_eq!(&out[..4], &[0, 0, 0, 0], "only slot 2 is written");
    assert!(out[5] >= spin_ns, "spun {} ns, asked {spin_ns}", out[5]);
    // On the emulator both counters are nanoseconds.
    assert!(
        out[4] >= spin_ns * 9 / 10,
        "counted {} of {spin_ns}",
        out[4]
    );
}
