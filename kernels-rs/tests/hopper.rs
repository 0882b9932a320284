//! Unit tests of the emulator's Hopper back end (`src/prims/emu/hopper.rs`
//! and the state machines under it) against an **independent** statement of
//! the hardware's behaviour, in the style of `collectives.rs`: each expected
//! behaviour is written here from the PTX ISA and CUDA documentation, never
//! taken from the emulator's code, and checked through the public prims
//! inside kernels launched with `prims::emu::launch`.
//!
//! Sources (PTX ISA 9.0 sections by title; numbers drift between versions):
//! - "Parallel Synchronization and Communication Instructions: mbarrier"
//!   (9.7.13.15): the phase, the pending arrival count reset to the expected
//!   count when a phase completes, the tx-count (`expect-tx` raises it,
//!   `complete-tx` lowers it; a phase completes when both reach zero),
//!   "mbarrier.test_wait/try_wait": `.parity` names the phase by its parity,
//!   the current phase or the one immediately before it; on a fresh barrier
//!   the phase "before" phase 0 (parity 1) counts as complete;
//! - "Data Movement: cp.async.bulk.tensor" (9.7.9.25.5.1) and "Tensor Map"
//!   (5.5.8): boxes at signed coordinates, out-of-bound elements filled with
//!   zeros on loads and not written on stores, `complete_tx::bytes` credits
//!   the whole box's bytes; the 128-byte swizzle: within each 128-byte row
//!   of a 1024-byte aligned box, 16-byte chunk `c` of row `r` is stored at
//!   chunk `c ^ (r mod 8)` (CUDA driver API, `CU_TENSOR_MAP_SWIZZLE_128B`);
//! - "cp.async.bulk.commit_group" / "cp.async.bulk.wait_group" (`.read`: the
//!   source shared memory may be reused once the group has read it);
//! - "bar, barrier" (9.7.13.1): `bar.sync a, b` waits until `b` threads (a
//!   multiple of the warp size) have arrived at barrier `a` (0..=15);
//!   `bar.arrive` counts without waiting; barrier 0 is `__syncthreads`'s;
//! - "elect.sync" (9.7.13.12): one leader, the lowest active lane of the mask;
//! - "setmaxnreg" (9.7.19.5): `.dec` releases registers to a per-CTA pool,
//!   `.inc` requests them and blocks until available; warpgroup-collective.
//!
//! Faults are checked one test each, with the exact `EmuError`.

use std::sync::Mutex;
use std::time::Duration;

mod common;
use common::Failures;
use tileattn_kernels::prims::emu::{EmuError, LaunchDims, launch};
use tileattn_kernels::prims::{
    MBarrier, Shared, Swizzle, TensorMap, TensorMapDesc, WgmmaDesc, bulk_commit, bulk_wait_read,
    dyn_smem, elect_one, fence_mbarrier_init, fence_proxy_async, lane_id, ldmatrix,
    named_barrier_arrive, named_barrier_sync, setmaxnreg_dec, setmaxnreg_inc, sync_threads,
    thread_idx, tma_load, tma_store, warp_id, wgmma_commit, wgmma_ss_bf16, wgmma_ss_bf16_issue,
    wgmma_wait,
};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// Where the tests keep things in shared memory: barriers in the first
/// 1024 bytes, data from `DATA` on (1024-byte aligned, as the swizzle needs).
const DATA: usize = 1024;
const BLOCK0: [u32; 3] = [0, 0, 0];

fn dims(block: u32, smem_bytes: usize) -> LaunchDims {
    LaunchDims {
        grid: [1, 1, 1],
        block,
        smem_bytes,
    }
}

/// The block's shared memory at `offset`.
fn smem(offset: usize) -> *mut u8 {
    // SAFETY: every launch below gives at least `offset` bytes.
    unsafe { dyn_smem().add(offset) }
}

fn bar_at(offset: usize) -> MBarrier {
    MBarrier::at(Shared::of(smem(offset)))
}

/// `bar` initialised by thread 0 for `arrivals` and published to the block.
fn init_barrier(bar: MBarrier, arrivals: u32) {
    if thread_idx() == 0 {
        // SAFETY: one thread, before anyone uses the barrier.
        unsafe { bar.init(arrivals) };
        fence_mbarrier_init();
    }
    sync_threads();
}

fn read_u32(offset: usize) -> u32 {
    // SAFETY: an aligned word inside the launch's shared memory.
    unsafe { (smem(offset) as *const u32).read_volatile() }
}

fn write_u32(offset: usize, v: u32) {
    // SAFETY: as above.
    unsafe { (smem(offset) as *mut u32).write_volatile(v) }
}

/// Runs a launch on its own thread and fails the test instead of hanging.
fn launch_with_deadline(
    dims: LaunchDims,
    kernel: impl Fn() + Sync + Send + 'static,
) -> Result<(), EmuError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(launch(dims, kernel));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the emulated launch hung instead of reporting an error")
}

/// Global memory for a tensor: 16-byte aligned, filled by `byte(i)`.
struct Global(Vec<u128>);

impl Global {
    fn new(bytes: usize, byte: impl Fn(usize) -> u8) -> Self {
        let mut g = Global(vec![0; bytes.div_ceil(16)]);
        for (i, b) in g.bytes_mut().iter_mut().enumerate() {
            *b = byte(i);
        }
        g
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: plain bytes of a live Vec<u128>.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr() as *const u8, self.0.len() * 16) }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr() as *mut u8, self.0.len() * 16) }
    }
    fn addr(&mut self) -> u64 {
        self.0.as_mut_ptr() as u64
    }
}

/// A packed tensor of `dims` (innermost first) at `base`.
fn tensor(base: u64, elem: u32, dims: &[u64], box_dims: &[u32], swizzle: Swizzle) -> TensorMapDesc {
    let mut d = [1u64; 4];
    d[..dims.len()].copy_from_slice(dims);
    let mut b = [1u32; 4];
    b[..box_dims.len()].copy_from_slice(box_dims);
    let mut strides = [0u64; 3];
    let mut stride = elem as u64 * d[0];
    for (i, s) in strides.iter_mut().enumerate().take(dims.len() - 1) {
        *s = stride;
        stride *= d[i + 1];
    }
    TensorMapDesc {
        base,
        rank: dims.len() as u32,
        elem_bytes: elem,
        dims: d,
        strides,
        box_dims: b,
        swizzle,
    }
}

fn box_bytes(d: &TensorMapDesc) -> usize {
    d.box_dims
        .iter()
        .fold(d.elem_bytes as usize, |n, &b| n * b as usize)
}

/// Where byte `packed` of a box (its rows one after another) lies in shared
/// memory relative to a 1024-byte aligned base: unchanged, or with the
/// 128-byte swizzle, chunk `c` of 128-byte row `r` at chunk `c ^ (r mod 8)`.
fn smem_position(packed: usize, swizzle: Swizzle) -> usize {
    match swizzle {
        Swizzle::None => packed,
        Swizzle::B128 => {
            let (row, chunk, byte) = (packed / 128, packed % 128 / 16, packed % 16);
            row * 128 + (chunk ^ (row % 8)) * 16 + byte
        }
    }
}

/// Every element of the box at `coords`: (its packed byte offset in the box,
/// its byte offset in the tensor or None out of bounds).
fn box_elements(d: &TensorMapDesc, coords: &[i32]) -> Vec<(usize, Option<usize>)> {
    let elem = d.elem_bytes as usize;
    let b = d.box_dims.map(|x| x as usize);
    let mut out = Vec::new();
    for i3 in 0..b[3] {
        for i2 in 0..b[2] {
            for i1 in 0..b[1] {
                for i0 in 0..b[0] {
                    let packed = (((i3 * b[2] + i2) * b[1] + i1) * b[0] + i0) * elem;
                    let idx = [i0, i1, i2, i3];
                    let mut at = Some(0usize);
                    for dim in 0..d.rank as usize {
                        let c = coords[dim] as i64 + idx[dim] as i64;
                        if c < 0 || c >= d.dims[dim] as i64 {
                            at = None;
                        } else if let Some(a) = at.as_mut() {
                            let stride = if dim == 0 {
                                elem as u64
                            } else {
                                d.strides[dim - 1]
                            };
                            *a += (c as u64 * stride) as usize;
                        }
                    }
                    out.push((packed, at));
                }
            }
        }
    }
    out
}

/// A distinct nonzero byte for every position (zero fill is then visible).
fn pattern(i: usize) -> u8 {
    (i * 31 % 251 + 1) as u8
}

// ---------------------------------------------------------------------------
// mbarrier
// ---------------------------------------------------------------------------

/// Phases complete when all expected arrivals are in, the pending count is
/// reloaded for the next phase, and `try_wait.parity p` succeeds exactly
/// when the phase of parity `p` has completed (ISA "mbarrier", phase
/// completion; "try_wait", `.parity`). On a fresh barrier parity 1 names the
/// phase before phase 0 and succeeds at once. Warp 1 writes a slot per phase
/// and arrives (all 32 lanes, the barrier's count), then waits for the phase
/// before going on; warp 0, scheduled first, must see each slot written.
#[test]
fn mbarrier_phases_flip_parity_over_several_phases() {
    const PHASES: usize = 5;
    let failures = Failures::default();
    launch(dims(64, DATA + 64), || {
        let bar = bar_at(0);
        init_barrier(bar, 32);
        if warp_id() == 0 {
            bar.wait(1);
            for k in 0..PHASES {
                let parity = (k & 1) as u32;
                bar.wait(parity);
                let seen = read_u32(DATA + 4 * k);
                failures.check(seen == k as u32 + 1, || {
                    format!("lane {} phase {k}: slot {seen}", lane_id())
                });
                // A completed phase stays completed while the next runs.
                bar.wait(parity);
            }
        } else {
            for k in 0..PHASES {
                if lane_id() == 0 {
                    write_u32(DATA + 4 * k, k as u32 + 1);
                }
                bar.arrive();
                bar.wait((k & 1) as u32);
            }
        }
    })
    .unwrap();
    failures.assert_none("mbarrier phases");
}

/// A phase needs both its arrivals and its announced bytes: tx-count zero
/// alone does not complete it, nor do the arrivals alone (ISA "mbarrier",
/// phase completion; "expect-tx operation"; `complete_tx::bytes` of
/// "cp.async.bulk.tensor"). Barrier A: its only arrival (announcing the
/// bytes) first, its load later; barrier B: its load and announcement
/// first, its second arrival later. Warps 1 and 2 wait on A and B before
/// warp 3 provides the missing parts, and must see them provided.
#[test]
fn expect_tx_and_arrivals_complete_a_phase_together() {
    let mut g = Global::new(2 * 1024, pattern);
    let desc = tensor(g.addr(), 2, &[64, 16], &[64, 8], Swizzle::None);
    let map = TensorMap::emulated(&desc);
    let map = &map;
    let failures = Failures::default();
    let (flag_a, flag_b) = (64, 68);
    let check_half = |half: usize| {
        for i in 1024 * half..1024 * (half + 1) {
            // SAFETY: inside the launch's shared memory.
            let got = unsafe { *smem(DATA + i) };
            failures.check(got == pattern(i), || format!("byte {i}: {got}"));
        }
    };
    launch(dims(128, DATA + 2048), || {
        let (a, b) = (bar_at(0), bar_at(8));
        init_barrier(a, 1);
        init_barrier(b, 2);
        match warp_id() {
            0 if lane_id() == 0 => {
                a.arrive_expect_tx(1024);
                b.arrive_expect_tx(1024);
                // SAFETY: an emulated map of this launch; the box fits.
                unsafe { tma_load::<2>(Shared::of(smem(DATA + 1024)), map, [0, 8], b) };
            }
            1 => {
                a.wait(0);
                failures.check(read_u32(flag_a) == 1, || "A passed before its load".into());
                check_half(0);
            }
            2 => {
                b.wait(0);
                failures.check(read_u32(flag_b) == 1, || {
                    "B passed before its arrival".into()
                });
                check_half(1);
            }
            3 if lane_id() == 0 => {
                write_u32(flag_a, 1);
                // SAFETY: as above.
                unsafe { tma_load::<2>(Shared::of(smem(DATA)), map, [0, 0], a) };
                write_u32(flag_b, 1);
                b.arrive();
            }
            _ => {}
        }
    })
    .unwrap();
    failures.assert_none("expect_tx");
}

/// The pattern kernel v4 uses: a ring of 2 stages, a full and an empty
/// barrier per stage, the stage index and phase bit advanced together. The
/// producer warp (one elected lane) waits until a stage is empty (parity
/// starting at 1: the phase before the first counts as complete), announces
/// the bytes and loads the next 8×64 tile; each consumer warp waits until the
/// stage is full, checks the tile (warp 2 through `ldmatrix` too) and
/// releases it with one arrival per warp.
#[test]
fn producer_consumer_ring_over_many_iterations() {
    const STAGES: usize = 2;
    const ITERS: usize = 10;
    const TILE: usize = 8 * 128;
    let value = |row: usize, col: usize| (row * 64 + col + 1) as u16;
    let mut g = Global::new(ITERS * TILE, |_| 0);
    for (i, v) in g.bytes_mut().chunks_mut(2).enumerate() {
        v.copy_from_slice(&value(i / 64, i % 64).to_le_bytes());
    }
    let desc = tensor(
        g.addr(),
        2,
        &[64, 8 * ITERS as u64],
        &[64, 8],
        Swizzle::None,
    );
    let map = TensorMap::emulated(&desc);
    let map = &map;
    let failures = Failures::default();
    launch(dims(96, DATA + STAGES * TILE), || {
        let full = |s: usize| bar_at(8 * s);
        let empty = |s: usize| bar_at(64 + 8 * s);
        for s in 0..STAGES {
            init_barrier(full(s), 1);
            init_barrier(empty(s), 2);
        }
        let stage = |s: usize| DATA + s * TILE;
        for it in 0..ITERS {
            let (s, phase) = (it % STAGES, ((it / STAGES) & 1) as u32);
            if warp_id() == 0 {
                empty(s).wait(phase ^ 1);
                if elect_one() {
                    full(s).arrive_expect_tx(TILE as u32);
                    let dst = Shared::of(smem(stage(s)));
                    // SAFETY: an emulated map of this launch; the stage fits.
                    unsafe { tma_load::<2>(dst, map, [0, 8 * it as i32], full(s)) };
                }
                continue;
            }
            full(s).wait(phase);
            for e in (lane_id() as usize..512).step_by(32) {
                // SAFETY: inside the stage.
                let got = unsafe { (smem(stage(s) + 2 * e) as *const u16).read() };
                let want = value(8 * it + e / 64, e % 64);
                failures.check(got == want, || format!("iteration {it} element {e}: {got}"));
            }
            if warp_id() == 2 {
                // Matrix 0 = the tile's first 8 columns: lane 4g + t gets row
                // g, columns 2t and 2t + 1 (ISA "ldmatrix").
                let row = Shared::of(smem(stage(s) + (lane_id() as usize % 8) * 128));
                // SAFETY: 16 readable, aligned bytes per row.
                let [r] = unsafe { ldmatrix::<1>(row) };
                let (g, t) = (lane_id() as usize / 4, lane_id() as usize % 4);
                let want =
                    value(8 * it + g, 2 * t) as u32 | (value(8 * it + g, 2 * t + 1) as u32) << 16;
                failures.check(r == want, || format!("iteration {it} ldmatrix: {r:#x}"));
            }
            if elect_one() {
                empty(s).arrive();
            }
        }
    })
    .unwrap();
    failures.assert_none("ring");
}

// ---------------------------------------------------------------------------
// TMA boxes
// ---------------------------------------------------------------------------

/// Loads the box of `desc` at `coords` into shared memory at `DATA` and
/// returns its bytes.
fn load_box<const R: usize>(desc: TensorMapDesc, coords: [i32; R]) -> Vec<u8> {
    let bytes = box_bytes(&desc);
    let map = TensorMap::emulated(&desc);
    let map = &map;
    let out = Mutex::new(Vec::new());
    launch(dims(32, DATA + bytes), || {
        let bar = bar_at(0);
        init_barrier(bar, 1);
        if thread_idx() == 0 {
            bar.arrive_expect_tx(bytes as u32);
            // SAFETY: an emulated map of this launch; the box fits at DATA.
            unsafe { tma_load::<R>(Shared::of(smem(DATA)), map, coords, bar) };
        }
        bar.wait(0);
        if thread_idx() == 0 {
            // SAFETY: the box's bytes, landed.
            *out.lock().unwrap() =
                unsafe { std::slice::from_raw_parts(smem(DATA), bytes) }.to_vec();
        }
    })
    .unwrap();
    out.into_inner().unwrap()
}

/// Checks a loaded box byte by byte: each element where the swizzle puts
/// it, holding the tensor's element or zeros out of bounds.
fn check_box<const R: usize>(
    what: &str,
    dims: &[u64],
    box_dims: &[u32],
    elem: u32,
    swizzle: Swizzle,
    coords: [i32; R],
) {
    let total = dims.iter().product::<u64>() as usize * elem as usize;
    let mut g = Global::new(total, pattern);
    let desc = tensor(g.addr(), elem, dims, box_dims, swizzle);
    let got = load_box(desc, coords);
    let mut want = vec![0xAAu8; box_bytes(&desc)];
    let e = elem as usize;
    for (packed, at) in box_elements(&desc, &coords) {
        let pos = smem_position(packed, swizzle);
        match at {
            Some(a) => want[pos..pos + e].copy_from_slice(&g.bytes()[a..a + e]),
            None => want[pos..pos + e].fill(0),
        }
    }
    let bad: Vec<usize> = (0..want.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} bytes differ, first at {:?}",
        bad.len(),
        &bad[..bad.len().min(8)]
    );
}

#[test]
fn tma_load_boxes_with_zero_fill_and_the_128_byte_swizzle() {
    // 2D, swizzled, in bounds: the swizzle alone.
    check_box(
        "2D B128 inside",
        &[64, 32],
        &[64, 8],
        2,
        Swizzle::B128,
        [0, 8],
    );
    // 2D, swizzled, out of bounds left (negative), right and below.
    check_box(
        "2D B128 edges",
        &[40, 20],
        &[64, 16],
        2,
        Swizzle::B128,
        [-8, 10],
    );
    // 2D, wholly out of bounds: all zeros, and the phase still completes
    // (the whole box's bytes are credited).
    check_box(
        "2D outside",
        &[40, 20],
        &[64, 16],
        2,
        Swizzle::B128,
        [100, -50],
    );
    // 3D, swizzled: the 128-byte rows continue across dimension 2.
    check_box(
        "3D B128",
        &[64, 6, 3],
        &[64, 4, 2],
        2,
        Swizzle::B128,
        [0, 4, 1],
    );
    // 3D, 4-byte elements, packed rows, out of bounds in dimensions 1 and 2.
    check_box(
        "3D none",
        &[16, 5, 3],
        &[16, 4, 2],
        4,
        Swizzle::None,
        [0, 3, 2],
    );
    // 4D, out of bounds below zero and above in dimensions 1 and 2.
    check_box(
        "4D none",
        &[8, 3, 4, 2],
        &[8, 2, 2, 2],
        2,
        Swizzle::None,
        [0, -1, 3, 1],
    );
}

/// Stores a box from shared memory (in the map's layout) to a tensor
/// holding a sentinel: in-bounds elements written, the rest untouched
/// ("cp.async.bulk.tensor", out-of-bound elements are not written). The
/// store is performed at the `bulk_wait_read` covering it (the emulator's
/// rule: the latest moment the hardware may read its source), so the tensor
/// is unchanged before.
fn check_store<const R: usize>(
    what: &str,
    dims: &[u64],
    box_dims: &[u32],
    swizzle: Swizzle,
    coords: [i32; R],
) {
    const SENTINEL: u8 = 0x5A;
    let total = dims.iter().product::<u64>() as usize * 2;
    let mut g = Global::new(total, |_| SENTINEL);
    let desc = tensor(g.addr(), 2, dims, box_dims, swizzle);
    let bytes = box_bytes(&desc);
    let map = TensorMap::emulated(&desc);
    let map = &map;
    let base = g.addr() as usize;
    let failures = Failures::default();
    launch(dims_of(bytes), || {
        if thread_idx() == 0 {
            for packed in 0..bytes {
                // SAFETY: inside the box at DATA.
                unsafe { *smem(DATA + smem_position(packed, swizzle)) = pattern(packed) };
            }
            fence_proxy_async();
            // SAFETY: an emulated map of this launch; the box is written.
            unsafe { tma_store::<R>(map, coords, Shared::of(smem(DATA))) };
            bulk_commit();
            // SAFETY: the tensor's bytes, read before the wait.
            let untouched = unsafe { std::slice::from_raw_parts(base as *const u8, total) }
                .iter()
                .all(|&b| b == SENTINEL);
            failures.check(untouched, || "stored before bulk_wait_read".into());
            bulk_wait_read::<0>();
        }
    })
    .unwrap();
    failures.assert_none(what);
    let mut want = vec![SENTINEL; total];
    for (packed, at) in box_elements(&desc, &coords) {
        if let Some(a) = at {
            want[a] = pattern(packed);
            want[a + 1] = pattern(packed + 1);
        }
    }
    assert!(g.bytes()[..total] == want[..], "{what}: the tensor differs");
}

fn dims_of(box_bytes: usize) -> LaunchDims {
    dims(32, DATA + box_bytes)
}

#[test]
fn tma_store_clips_to_the_tensor() {
    check_store("2D none", &[40, 20], &[32, 8], Swizzle::None, [24, 16]);
    check_store("2D B128", &[40, 20], &[64, 8], Swizzle::B128, [-16, -3]);
    check_store(
        "3D none",
        &[16, 3, 3],
        &[16, 2, 2],
        Swizzle::None,
        [0, 2, -1],
    );
}

/// Kernel v4's hand-off: Q and K tiles (64×64 bf16, K-major) loaded by TMA
/// with the 128-byte swizzle, read by `wgmma` through 128-byte-swizzle
/// descriptors (8-row groups 1024 bytes apart, k-steps 32 bytes apart), give
/// `S = QKᵀ`: the copy engine and the tensor cores agree on the layout. The
/// D fragment: lane `4g + t` of warp `w` holds, for each 8-column tile `j`,
/// rows `16w + g + 8(i/2)`, columns `8j + 2t + (i&1)` (ISA "Asynchronous
/// Warpgroup Level Matrix Multiply-Accumulate", register fragments of D).
#[test]
fn tma_swizzled_tiles_feed_wgmma() {
    let q = |m: usize, k: usize| ((m * 3 + k) % 5) as f32 - 2.0;
    let kt = |n: usize, k: usize| ((n + 2 * k) % 3) as f32 - 1.0;
    let bf16 = |x: f32| (x.to_bits() >> 16) as u16;
    let tile = |f: &dyn Fn(usize, usize) -> f32| {
        let mut g = Global::new(8192, |_| 0);
        for (i, v) in g.bytes_mut().chunks_mut(2).enumerate() {
            v.copy_from_slice(&bf16(f(i / 64, i % 64)).to_le_bytes());
        }
        g
    };
    let (mut gq, mut gk) = (tile(&q), tile(&kt));
    let map_q = TensorMap::emulated(&tensor(gq.addr(), 2, &[64, 64], &[64, 64], Swizzle::B128));
    let map_k = TensorMap::emulated(&tensor(gk.addr(), 2, &[64, 64], &[64, 64], Swizzle::B128));
    let (map_q, map_k) = (&map_q, &map_k);
    let failures = Failures::default();
    launch(dims(128, DATA + 2 * 8192), || {
        let bar = bar_at(0);
        init_barrier(bar, 1);
        if thread_idx() == 0 {
            bar.arrive_expect_tx(2 * 8192);
            // SAFETY: emulated maps of this launch; both tiles fit.
            unsafe {
                tma_load::<2>(Shared::of(smem(DATA)), map_q, [0, 0], bar);
                tma_load::<2>(Shared::of(smem(DATA + 8192)), map_k, [0, 0], bar);
            }
        }
        bar.wait(0);
        let desc = |at: usize| {
            let d = WgmmaDesc::sw128(Shared::of(smem(at)), 16, 1024);
            [0, 1, 2, 3].map(|step| d.byte_add(32 * step))
        };
        let mut acc = [[0f32; 4]; 8];
        // SAFETY: all 128 threads, converged; both tiles landed.
        unsafe { wgmma_ss_bf16(&mut acc, desc(DATA), desc(DATA + 8192)) };
        let (w, g, t) = (
            warp_id() as usize,
            lane_id() as usize / 4,
            lane_id() as usize % 4,
        );
        for (j, frag) in acc.iter().enumerate() {
            for (i, &got) in frag.iter().enumerate() {
                let (m, n) = (16 * w + g + 8 * (i / 2), 8 * j + 2 * t + (i & 1));
                let want: f32 = (0..64).map(|k| q(m, k) * kt(n, k)).sum();
                failures.check(got == want, || format!("S[{m}][{n}] = {got}, want {want}"));
            }
        }
    })
    .unwrap();
    failures.assert_none("tma into wgmma");
}

// ---------------------------------------------------------------------------
// Named barriers, elect.sync, setmaxnreg
// ---------------------------------------------------------------------------

/// `bar.sync 1, 64` over warps 0 and 1 only, several times, while warps 2
/// and 3 have exited; `bar.arrive 2, 64` by a producer warp that does not
/// wait, `bar.sync 2, 64` by its consumer; `bar.sync 0, 128` meeting
/// `__syncthreads` (ISA "bar, barrier": barrier 0 is `__syncthreads`'s,
/// `b` threads complete barrier `a`). Writes before each barrier are
/// visible after it to the warp scheduled first.
#[test]
fn named_barriers_over_subsets_of_warps() {
    let failures = Failures::default();
    launch(dims(128, DATA + 64), || match warp_id() {
        0 | 1 => {
            for k in 0..3u32 {
                if warp_id() == 1 && lane_id() == 0 {
                    write_u32(DATA + 4 * k as usize, k + 1);
                }
                named_barrier_sync(1, 64);
                let seen = read_u32(DATA + 4 * k as usize);
                failures.check(seen == k + 1, || format!("bar 1 round {k}: {seen}"));
            }
        }
        _ => {}
    })
    .unwrap();
    launch(dims(128, DATA + 64), || {
        if warp_id() == 0 {
            named_barrier_sync(2, 64);
            let seen = read_u32(DATA);
            failures.check(seen == 7, || format!("bar 2: {seen}"));
        } else if warp_id() == 3 {
            if lane_id() == 0 {
                write_u32(DATA, 7);
            }
            named_barrier_arrive(2, 64);
        }
        // Barrier 0: two warps through __syncthreads, two through bar.sync.
        if warp_id() == 3 && lane_id() == 0 {
            write_u32(DATA + 4, 9);
        }
        if warp_id() < 2 {
            sync_threads();
        } else {
            named_barrier_sync(0, 128);
        }
        let seen = read_u32(DATA + 4);
        failures.check(seen == 9, || format!("bar 0: {seen}"));
    })
    .unwrap();
    failures.assert_none("named barriers");
}

/// `elect.sync` with the full mask is true in exactly one lane, the lowest
/// (ISA "elect.sync"), in every warp.
#[test]
fn elect_one_elects_lane_zero_of_every_warp() {
    let elected = Mutex::new(Vec::new());
    launch(dims(96, 0), || {
        if elect_one() {
            elected.lock().unwrap().push(thread_idx());
        }
    })
    .unwrap();
    let mut e = elected.into_inner().unwrap();
    e.sort();
    assert_eq!(e, [0, 32, 64]);
}

/// Kernel v4's register split with 384 threads: the entry cap is
/// `floor(65536 / 384)` rounded down to a multiple of 8, 168, leaving 1024
/// registers free; the producer warpgroup's `setmaxnreg.dec 24` returns
/// 144·128, enough for both consumer warpgroups' `setmaxnreg.inc 240`
/// (2·72·128 = 18432 ≤ 19456). The consumers arrive on a barrier the
/// producer waits for before its `dec`, so their `inc` must wait for it
/// (ISA "setmaxnreg": `.inc` blocks until enough registers are released).
#[test]
fn setmaxnreg_moves_registers_from_producer_to_consumers() {
    let failures = Failures::default();
    launch(dims(384, DATA + 64), || {
        let bar = bar_at(0);
        init_barrier(bar, 256);
        if warp_id() < 4 {
            bar.wait(0);
            write_u32(DATA, 1);
            // SAFETY: a whole warpgroup, converged.
            unsafe { setmaxnreg_dec::<24>() };
        } else {
            bar.arrive();
            // SAFETY: as above.
            unsafe { setmaxnreg_inc::<240>() };
            failures.check(read_u32(DATA) == 1, || "inc passed before the dec".into());
        }
    })
    .unwrap();
    failures.assert_none("setmaxnreg");
}

// ---------------------------------------------------------------------------
// Faults: one test each, with the exact error
// ---------------------------------------------------------------------------

/// An mbarrier phase that misses an arrival, and a named barrier that misses
/// a warp, end in `Deadlock` with the waiters counted by what they wait for.
#[test]
fn waits_that_never_complete_are_deadlocks() {
    let r = launch_with_deadline(dims(64, DATA), || {
        let bar = bar_at(0);
        init_barrier(bar, 33);
        if warp_id() == 1 {
            bar.arrive();
        } else {
            bar.wait(0);
        }
    });
    assert_eq!(
        r,
        Err(EmuError::Deadlock {
            block: BLOCK0,
            at_barrier: 0,
            at_named_barrier: 0,
            at_warp_sync: 0,
            at_mbarrier: 32,
            at_setmaxnreg: 0,
            exited: 32,
        })
    );
    let r = launch_with_deadline(dims(128, 0), || {
        if warp_id() < 2 {
            named_barrier_sync(1, 96);
        }
    });
    assert_eq!(
        r,
        Err(EmuError::Deadlock {
            block: BLOCK0,
            at_barrier: 0,
            at_named_barrier: 64,
            at_warp_sync: 0,
            at_mbarrier: 0,
            at_setmaxnreg: 0,
            exited: 64,
        })
    );
}

/// A 1024-byte box crediting a phase that announced 512 bytes: all
/// arrivals in, tx-count below zero, the phase can never complete.
#[test]
fn more_bytes_than_announced_fail_the_launch() {
    let mut g = Global::new(1024, pattern);
    let map = TensorMap::emulated(&tensor(g.addr(), 2, &[64, 8], &[64, 8], Swizzle::None));
    let r = launch_with_deadline(dims(32, DATA + 1024), move || {
        let bar = bar_at(0);
        init_barrier(bar, 1);
        if thread_idx() == 0 {
            bar.arrive_expect_tx(512);
            // SAFETY: an emulated map of this launch; the box fits.
            unsafe { tma_load::<2>(Shared::of(smem(DATA)), &map, [0, 0], bar) };
        }
        bar.wait(0);
    });
    assert_eq!(
        r,
        Err(EmuError::TxOverdelivered {
            block: BLOCK0,
            barrier: 0,
            phase: 0,
            excess: 512,
        })
    );
}

/// A load whose bytes were never announced: the phase completes on its
/// arrival while the load is in flight, releasing waiters before the data.
#[test]
fn a_phase_completing_with_a_load_in_flight_fails_the_launch() {
    let mut g = Global::new(1024, pattern);
    let map = TensorMap::emulated(&tensor(g.addr(), 2, &[64, 8], &[64, 8], Swizzle::None));
    let r = launch_with_deadline(dims(32, DATA + 1024), move || {
        let bar = bar_at(8);
        init_barrier(bar, 1);
        if thread_idx() == 0 {
            // SAFETY: an emulated map of this launch; the box fits.
            unsafe { tma_load::<2>(Shared::of(smem(DATA)), &map, [0, 0], bar) };
            bar.arrive();
        }
        bar.wait(0);
    });
    assert_eq!(
        r,
        Err(EmuError::PhaseCompletedInFlight {
            block: BLOCK0,
            barrier: 8,
            phase: 0,
            bytes: 1024,
        })
    );
}

/// Reading a stage whose load has not landed: by `ldmatrix` (a consumer that
/// forgot to wait on the full barrier), and by an issued `wgmma` chain.
#[test]
fn reading_a_stage_before_its_load_lands_fails_the_launch() {
    let mut g = Global::new(8192, pattern);
    let map = TensorMap::emulated(&tensor(g.addr(), 2, &[64, 64], &[64, 64], Swizzle::B128));
    let issue_load = move || {
        let bar = bar_at(0);
        init_barrier(bar, 1);
        if thread_idx() == 0 {
            bar.arrive_expect_tx(8192);
            // SAFETY: an emulated map of this launch; the box fits.
            unsafe { tma_load::<2>(Shared::of(smem(DATA)), &map, [0, 0], bar) };
        }
    };
    let r = launch_with_deadline(dims(32, DATA + 8192), move || {
        issue_load();
        let row = Shared::of(smem(DATA + 128 * (lane_id() as usize % 8)));
        // SAFETY: 16 readable, aligned bytes per row.
        let _ = unsafe { ldmatrix::<1>(row) };
    });
    assert_eq!(
        r,
        Err(EmuError::ReadBeforeTmaLanded {
            block: BLOCK0,
            thread: 0,
            offset: DATA,
        })
    );
    let r = launch_with_deadline(dims(128, DATA + 8192), move || {
        issue_load();
        let d = WgmmaDesc::sw128(Shared::of(smem(DATA)), 16, 1024);
        let mut acc = [[0f32; 4]; 8];
        // SAFETY: all 128 threads, converged; the tile is shared memory.
        unsafe {
            wgmma_ss_bf16_issue(&mut acc, [d; 4], [d; 4]);
            wgmma_commit();
            wgmma_wait::<0, 8>(&mut acc);
        }
    });
    assert_eq!(
        r,
        Err(EmuError::ReadBeforeTmaLanded {
            block: BLOCK0,
            thread: 0,
            offset: DATA,
        })
    );
}

/// A TMA load into a tile that an issued `wgmma` chain still reads races
/// with the tensor cores, as a `cp.async` does.
#[test]
fn a_load_into_a_tile_an_issued_wgmma_reads_fails_the_launch() {
    let mut g = Global::new(1024, pattern);
    let map = TensorMap::emulated(&tensor(g.addr(), 2, &[64, 8], &[64, 8], Swizzle::B128));
    let r = launch_with_deadline(dims(128, DATA + 8192), move || {
        let bar = bar_at(0);
        init_barrier(bar, 1);
        let d = WgmmaDesc::sw128(Shared::of(smem(DATA)), 16, 1024);
        let mut acc = [[0f32; 4]; 8];
        // SAFETY: all 128 threads, converged; the tile is shared memory.
        unsafe { wgmma_ss_bf16_issue(&mut acc, [d; 4], [d; 4]) };
        if thread_idx() == 0 {
            bar.arrive_expect_tx(1024);
            // SAFETY: an emulated map of this launch; the box fits.
            unsafe { tma_load::<2>(Shared::of(smem(DATA + 2048)), &map, [0, 0], bar) };
        }
        bar.wait(0);
        // SAFETY: as above.
        unsafe {
            wgmma_commit();
            wgmma_wait::<0, 8>(&mut acc);
        }
    });
    assert_eq!(
        r,
        Err(EmuError::CopyRacesWgmma {
            block: BLOCK0,
            thread: 0,
            offset: DATA + 2048,
        })
    );
}

/// Three warpgroups all asking for 240 registers: 3·240·128 = 92160 is more
/// than the register file; the first warpgroup waits for registers nobody
/// returns.
#[test]
fn registers_beyond_the_block_budget_fail_the_launch() {
    let r = launch_with_deadline(dims(384, 0), || {
        // SAFETY: whole warpgroups, converged.
        unsafe { setmaxnreg_inc::<240>() };
    });
    assert_eq!(
        r,
        Err(EmuError::RegisterBudget {
            block: BLOCK0,
            warpgroup: 0,
            held: 168,
            requested: 240,
            free: 1024,
        })
    );
}

/// A thread that exits before `bulk_wait_read` covers its committed store:
/// the block's shared memory is freed while the copy may still read it.
#[test]
fn exiting_with_a_store_in_flight_fails_the_launch() {
    let mut g = Global::new(1024, pattern);
    let map = TensorMap::emulated(&tensor(g.addr(), 2, &[64, 8], &[64, 8], Swizzle::None));
    let r = launch_with_deadline(dims(32, DATA + 1024), move || {
        if thread_idx() == 0 {
            // SAFETY: an emulated map of this launch; the box is in shared memory.
            unsafe { tma_store::<2>(&map, [0, 0], Shared::of(smem(DATA))) };
            bulk_commit();
        }
    });
    assert_eq!(
        r,
        Err(EmuError::BulkStoreInFlight {
            block: BLOCK0,
            thread: 0,
        })
    );
}

/// Operands the ISA rules out: a named barrier id of 16, an mbarrier used
/// before `mbarrier.init`, a warpgroup whose warps execute different
/// `setmaxnreg`s.
#[test]
fn invalid_operations_fail_the_launch() {
    let what = |r: Result<(), EmuError>| match r {
        Err(EmuError::InvalidOperation {
            block: BLOCK0,
            thread,
            what,
        }) => (thread, what),
        other => panic!("{other:?}"),
    };
    let (thread, w) = what(launch_with_deadline(dims(32, 0), || {
        named_barrier_sync(16, 32)
    }));
    assert!(thread == 0 && w.contains("id above 15"), "{thread}: {w}");
    let (thread, w) = what(launch_with_deadline(dims(32, DATA), || bar_at(0).arrive()));
    assert!(
        thread == 0 && w.contains("before mbarrier.init"),
        "{thread}: {w}"
    );
    let (thread, w) = what(launch_with_deadline(dims(128, 0), || {
        // SAFETY: the warpgroup's warps disagree, which the test expects to fail.
        unsafe {
            if warp_id() == 0 {
                setmaxnreg_dec::<120>()
            } else {
                setmaxnreg_dec::<112>()
            }
        }
    }));
    assert!(
        thread == 32 && w.contains("different setmaxnreg"),
        "{thread}: {w}"
    );
}
