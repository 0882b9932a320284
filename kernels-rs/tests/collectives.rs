//! Unit tests of the emulator's warp collectives, `cp.async` and barrier,
//! against an **independent** statement of the hardware's behaviour.
//!
//! Every fragment layout below is written out here from the PTX ISA text
//! (section numbers of PTX ISA 9.0, "Parallel Thread Execution ISA"), in the
//! ISA's own per-element form (`a_i`, `b_i`, `c_i`, `groupID`,
//! `threadID_in_group`), and never taken from the emulator's code
//! (`src/prims/emu/warp.rs`), which states the same layouts per register. The
//! expected values are direct matrix computations on the full matrices; the
//! emulator only ever sees the per-lane fragments. A wrong fragment layout in
//! the emulator therefore fails here before any GPU run.
//!
//! PTX ISA sections used (9.0 numbering; titles are stable across versions;
//! the wgmma ones are transcribed next to their tests):
//! - 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point type":
//!   the A, B and C/D layouts (Figures 79, 81, 83);
//! - 9.7.14.5.14 "mma": precision (accumulation order unspecified), `.aligned`,
//!   undefined behaviour when a lane of the warp has exited;
//! - 9.7.14.5.15 "ldmatrix": row addresses per `.num`, Figure 104, `.trans`;
//! - 9.7.9.25.1.1 "Async-group mechanism", 9.7.9.25.3.1 "cp.async" (src-size
//!   zero fill), 9.7.9.25.3.2 "cp.async.commit_group" (empty groups),
//!   9.7.9.25.3.3 "cp.async.wait_group";
//! - 9.7.9.6 "shfl.sync": source-lane computation for `.bfly` and `.idx`;
//! - 9.7.13.1 "bar, barrier": `bar.sync` = `barrier.sync.aligned`, memory
//!   guarantee at barrier completion.
//!
//! Everything runs through the crate's public API: `prims::*` inside a kernel
//! launched with `prims::emu::launch`; no visibility change was needed.

use std::array::from_fn;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

mod common;
use common::Failures;
use tileattn_kernels::prims::emu::{EmuError, LaunchDims, launch};
use tileattn_kernels::prims::{
    Shared, block_idx, cp_async_16, cp_async_commit, cp_async_wait, dyn_smem, lane_id, ldmatrix,
    ldmatrix_trans, mma_bf16_m16n8k16, mma_f16_m16n8k16, pack_bf16x2, pack_f16x2, shfl_idx_f32,
    shfl_xor_f32, sync_threads, thread_idx, warp_id,
};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

fn dims(grid_x: u32, block: u32, smem_bytes: usize) -> LaunchDims {
    LaunchDims {
        grid: [grid_x, 1, 1],
        block,
        smem_bytes,
    }
}

/// One value reported by each thread of a launch, indexed by global thread id.
struct PerThread<T>(Mutex<Vec<Option<T>>>);

impl<T> PerThread<T> {
    fn new(threads: usize) -> Self {
        PerThread(Mutex::new((0..threads).map(|_| None).collect()))
    }
    fn set(&self, tid: usize, value: T) {
        let mut slots = self.0.lock().unwrap();
        assert!(slots[tid].is_none(), "thread {tid} reported twice");
        slots[tid] = Some(value);
    }
    fn into_vec(self) -> Vec<T> {
        self.0
            .into_inner()
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(tid, v)| v.unwrap_or_else(|| panic!("thread {tid} never reported")))
            .collect()
    }
}

/// Global thread id of the calling emulated thread (1-D grid).
fn global_tid(block_threads: u32) -> usize {
    (block_idx()[0] * block_threads + thread_idx()) as usize
}

/// SplitMix64: a small deterministic generator (no dev-dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------------------
// 16-bit floating point formats, decoded here (not with the crate's converters)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Half {
    F16,
    Bf16,
}

impl Half {
    /// Exact value of a bit pattern (finite inputs only).
    /// binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits.
    /// bfloat16: the upper 16 bits of a binary32.
    fn value(self, bits: u16) -> f64 {
        let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
        match self {
            Half::F16 => {
                let exp = ((bits >> 10) & 0x1f) as i32;
                let frac = (bits & 0x3ff) as f64;
                assert!(exp != 0x1f, "test data must be finite");
                if exp == 0 {
                    sign * frac * 2f64.powi(-24)
                } else {
                    sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15)
                }
            }
            Half::Bf16 => {
                let exp = ((bits >> 7) & 0xff) as i32;
                let frac = (bits & 0x7f) as f64;
                assert!(exp != 0xff, "test data must be finite");
                if exp == 0 {
                    sign * frac * 2f64.powi(-133)
                } else {
                    sign * (1.0 + frac / 128.0) * 2f64.powi(exp - 127)
                }
            }
        }
    }

    /// A random normal number of magnitude in [2^-4, 2^2) with every fraction
    /// bit random (`coarse == false`), or in [2^-2, 2^2) with only the top 3
    /// fraction bits random (`coarse == true`: multiples of 2^-5, so that sums
    /// of 16 products plus a multiple of 2^-10 are exact in f32 in any order).
    fn random(self, rng: &mut Rng, coarse: bool) -> u16 {
        let sign = (rng.below(2) as u16) << 15;
        let (bias, frac_bits) = match self {
            Half::F16 => (15i32, 10u32),
            Half::Bf16 => (127, 7),
        };
        let e = if coarse {
            -2 + rng.below(4) as i32
        } else {
            -4 + rng.below(6) as i32
        };
        let frac = if coarse {
            (rng.below(8) as u16) << (frac_bits - 3)
        } else {
            rng.below(1 << frac_bits) as u16
        };
        sign | (((e + bias) as u16) << frac_bits) | frac
    }

    /// Bit pattern of `x`, which must be exactly representable (checked).
    fn bits_exact(self, x: f64) -> u16 {
        let bits = match self {
            Half::F16 => {
                if x == 0.0 {
                    0
                } else {
                    let e = x.abs().log2().floor() as i32;
                    let frac = (x.abs() / 2f64.powi(e) - 1.0) * 1024.0;
                    assert!((-14..=15).contains(&e) && frac.fract() == 0.0);
                    (if x < 0.0 { 0x8000 } else { 0 }) | (((e + 15) as u16) << 10) | frac as u16
                }
            }
            Half::Bf16 => {
                let b = (x as f32).to_bits();
                assert!(b & 0xffff == 0);
                (b >> 16) as u16
            }
        };
        assert_eq!(self.value(bits), x, "{x} is not exact in {self:?}");
        bits
    }

    fn mma(self, a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
        match self {
            Half::F16 => mma_f16_m16n8k16(a, b, c),
            Half::Bf16 => mma_bf16_m16n8k16(a, b, c),
        }
    }

    fn pack2(self, lo: f32, hi: f32) -> u32 {
        match self {
            Half::F16 => pack_f16x2(lo, hi),
            Half::Bf16 => pack_bf16x2(lo, hi),
        }
    }
}

/// Two 16-bit elements in one 32-bit register. The fragment tables of PTX ISA
/// 9.7.14.5.8 list each register's elements "low to high": the element with
/// the smaller index (`a0` of `{a0, a1}`) is in bits 0–15.
fn pack(lo: u16, hi: u16) -> u32 {
    lo as u32 | (hi as u32) << 16
}
fn unpack(r: u32) -> (u16, u16) {
    (r as u16, (r >> 16) as u16)
}

// ---------------------------------------------------------------------------
// PTX ISA 9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point
// type", transcribed element by element.
// ---------------------------------------------------------------------------

/// Multiplicand A (16×16, `.f16`/`.bf16`): four `.f16x2` registers holding
/// `a0..a7`; (row, col) of `a_i` held by `lane` (Figure 79):
/// ```text
/// groupID = %laneid >> 2, threadID_in_group = %laneid % 4
/// row = groupID      for a_i where 0 <= i < 2 || 4 <= i < 6
///       groupID + 8  otherwise
/// col = (threadID_in_group * 2) + (i & 0x1)      for a_i where i < 4
///       (threadID_in_group * 2) + (i & 0x1) + 8  for a_i where i >= 4
/// ```
fn isa_mma_a(lane: usize, i: usize) -> (usize, usize) {
    let group_id = lane >> 2;
    let thread_id_in_group = lane % 4;
    let row = if i < 2 || (4..6).contains(&i) {
        group_id
    } else {
        group_id + 8
    };
    let col = if i < 4 {
        thread_id_in_group * 2 + (i & 1)
    } else {
        thread_id_in_group * 2 + (i & 1) + 8
    };
    (row, col)
}

/// Multiplicand B (16×8, k × n): two `.f16x2` registers holding `b0..b3`
/// (Figure 81):
/// ```text
/// row = (threadID_in_group * 2) + (i & 0x1)      for b_i where i < 2
///       (threadID_in_group * 2) + (i & 0x1) + 8  for b_i where i >= 2
/// col = groupID
/// ```
fn isa_mma_b(lane: usize, i: usize) -> (usize, usize) {
    let group_id = lane >> 2;
    let thread_id_in_group = lane % 4;
    let row = if i < 2 {
        thread_id_in_group * 2 + (i & 1)
    } else {
        thread_id_in_group * 2 + (i & 1) + 8
    };
    (row, group_id)
}

/// Accumulators C and D (16×8, `.f32`): four `.f32` registers `c0..c3`
/// (Figure 83):
/// ```text
/// row = groupID      for c_i where i < 2
///       groupID + 8  for c_i where i >= 2
/// col = (threadID_in_group * 2) + (i & 0x1)  for c_i where i = {0,..,3}
/// ```
fn isa_mma_c(lane: usize, i: usize) -> (usize, usize) {
    let group_id = lane >> 2;
    let thread_id_in_group = lane % 4;
    let row = if i < 2 { group_id } else { group_id + 8 };
    (row, thread_id_in_group * 2 + (i & 1))
}

/// A lane's A registers from the full matrix: register `r` = {a_2r, a_2r+1}.
fn a_fragment(a: &[[u16; 16]; 16], lane: usize) -> [u32; 4] {
    let el = |i: usize| {
        let (r, c) = isa_mma_a(lane, i);
        a[r][c]
    };
    from_fn(|r| pack(el(2 * r), el(2 * r + 1)))
}
/// A lane's B registers: register `r` = {b_2r, b_2r+1}.
fn b_fragment(b: &[[u16; 8]; 16], lane: usize) -> [u32; 2] {
    let el = |i: usize| {
        let (r, c) = isa_mma_b(lane, i);
        b[r][c]
    };
    from_fn(|r| pack(el(2 * r), el(2 * r + 1)))
}
fn c_fragment(c: &[[f32; 8]; 16], lane: usize) -> [f32; 4] {
    from_fn(|i| {
        let (r, col) = isa_mma_c(lane, i);
        c[r][col]
    })
}
/// The 16×8 D matrix from every lane's D registers.
fn gather_d(frags: &[[f32; 4]]) -> [[f32; 8]; 16] {
    assert_eq!(frags.len(), 32);
    let mut d = [[f32::NAN; 8]; 16];
    for (lane, f) in frags.iter().enumerate() {
        for (i, &v) in f.iter().enumerate() {
            let (r, c) = isa_mma_c(lane, i);
            d[r][c] = v;
        }
    }
    d
}

/// Guards the transcription itself: each layout covers its matrix exactly once.
#[test]
fn isa_mma_layouts_cover_each_element_once() {
    fn check(
        name: &str,
        rows: usize,
        cols: usize,
        per_lane: usize,
        f: fn(usize, usize) -> (usize, usize),
    ) {
        let mut seen = vec![0u32; rows * cols];
        for lane in 0..32 {
            for i in 0..per_lane {
                let (r, c) = f(lane, i);
                assert!(
                    r < rows && c < cols,
                    "{name}: lane {lane} i {i} -> ({r},{c})"
                );
                seen[r * cols + c] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{name} is not a bijection");
    }
    check("A", 16, 16, 8, isa_mma_a);
    check("B", 16, 8, 4, isa_mma_b);
    check("C/D", 16, 8, 4, isa_mma_c);
}

// ---------------------------------------------------------------------------
// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32
// ---------------------------------------------------------------------------

struct MmaProblem {
    a: [[u16; 16]; 16],
    b: [[u16; 8]; 16],
    c: [[f32; 8]; 16],
}

impl MmaProblem {
    fn random(ty: Half, rng: &mut Rng, coarse: bool) -> Self {
        MmaProblem {
            a: from_fn(|_| from_fn(|_| ty.random(rng, coarse))),
            b: from_fn(|_| from_fn(|_| ty.random(rng, coarse))),
            // Multiples of 2^-10 in (-16, 16): exact in f32.
            c: from_fn(|_| from_fn(|_| (rng.below(32768) as f32 - 16384.0) / 1024.0)),
        }
    }
    /// D = A·B + C in f64, and Σ|a·b| + |c| per element (the error scale).
    fn reference(&self, ty: Half) -> ([[f64; 8]; 16], [[f64; 8]; 16]) {
        let mut d = [[0f64; 8]; 16];
        let mut scale = [[0f64; 8]; 16];
        for m in 0..16 {
            for n in 0..8 {
                let c = self.c[m][n] as f64;
                let (mut acc, mut mag) = (c, c.abs());
                for k in 0..16 {
                    let p = ty.value(self.a[m][k]) * ty.value(self.b[k][n]);
                    acc += p;
                    mag += p.abs();
                }
                d[m][n] = acc;
                scale[m][n] = mag;
            }
        }
        (d, scale)
    }
}

/// Four warps of one block each multiply their own random matrices; every lane
/// builds its fragments from the full matrices per the ISA layouts, D is
/// gathered per the ISA C/D layout and compared with the direct product.
///
/// Coarse data (multiples of 2^-5) makes every partial sum exact in f32, so the
/// comparison is bit-exact whatever the accumulation order (which PTX ISA
/// 9.7.14.5.14 leaves unspecified). Fine data (all fraction bits random) is
/// compared within 2^-18 of Σ|a·b| + |c|; a layout error is of the order of the
/// values themselves.
fn check_mma(ty: Half, seed: u64, coarse: bool) {
    const WARPS: usize = 4;
    let mut rng = Rng(seed);
    let problems: Vec<MmaProblem> = (0..WARPS)
        .map(|_| MmaProblem::random(ty, &mut rng, coarse))
        .collect();
    let out = PerThread::new(32 * WARPS);
    launch(dims(1, 32 * WARPS as u32, 0), || {
        let (warp, lane) = (warp_id() as usize, lane_id() as usize);
        let p = &problems[warp];
        let d = ty.mma(
            a_fragment(&p.a, lane),
            b_fragment(&p.b, lane),
            c_fragment(&p.c, lane),
        );
        out.set(thread_idx() as usize, d);
    })
    .unwrap();
    let frags = out.into_vec();
    for (w, p) in problems.iter().enumerate() {
        let d = gather_d(&frags[32 * w..32 * (w + 1)]);
        let (want, scale) = p.reference(ty);
        for m in 0..16 {
            for n in 0..8 {
                let got = d[m][n] as f64;
                let ok = if coarse {
                    got == want[m][n]
                } else {
                    (got - want[m][n]).abs() <= scale[m][n] * 2f64.powi(-18)
                };
                assert!(
                    ok,
                    "{ty:?} seed {seed} coarse {coarse} warp {w}: D[{m}][{n}] = {got}, want {}",
                    want[m][n]
                );
            }
        }
    }
}

#[test]
fn mma_m16n8k16_f16_matches_direct_product() {
    for seed in 0..4 {
        check_mma(Half::F16, 0x1000 + seed, true);
        check_mma(Half::F16, 0x2000 + seed, false);
    }
}

#[test]
fn mma_m16n8k16_bf16_matches_direct_product() {
    for seed in 0..4 {
        check_mma(Half::Bf16, 0x3000 + seed, true);
        check_mma(Half::Bf16, 0x4000 + seed, false);
    }
}

/// Each of the 16·16 + 16·8 + 16·8 input elements, alone, reaches exactly the
/// outputs the ISA layout says: with A = e_(m,k) (a single 1), B random and
/// C = 0, D must be row m = B's row k and zero elsewhere; likewise for a single
/// element of B and of C. Pins down every (lane, register, half) of every
/// fragment, including which half of a register is which.
#[test]
fn mma_m16n8k16_single_element_probes() {
    for ty in [Half::F16, Half::Bf16] {
        let one = ty.bits_exact(1.0);
        let mut rng = Rng(0x5000);
        let dense = MmaProblem::random(ty, &mut rng, true);
        // A probes: A = unit at (m, k), B dense → D row m = B row k, zero elsewhere.
        // B probes: A dense, B = unit at (k, n) → D column n = A column k.
        // C probes: A = 0, C = 1.5 at (m, n) → D = C.
        let mut probes: Vec<(MmaProblem, [[f64; 8]; 16])> = Vec::new();
        for m in 0..16 {
            for k in 0..16 {
                let mut a = [[0u16; 16]; 16];
                a[m][k] = one;
                let mut want = [[0f64; 8]; 16];
                want[m] = from_fn(|n| ty.value(dense.b[k][n]));
                let p = MmaProblem {
                    a,
                    b: dense.b,
                    c: [[0.0; 8]; 16],
                };
                probes.push((p, want));
            }
        }
        for k in 0..16 {
            for n in 0..8 {
                let mut b = [[0u16; 8]; 16];
                b[k][n] = one;
                let mut want = [[0f64; 8]; 16];
                for (m, row) in want.iter_mut().enumerate() {
                    row[n] = ty.value(dense.a[m][k]);
                }
                let p = MmaProblem {
                    a: dense.a,
                    b,
                    c: [[0.0; 8]; 16],
                };
                probes.push((p, want));
            }
        }
        for m in 0..16 {
            for n in 0..8 {
                let mut c = [[0f32; 8]; 16];
                c[m][n] = 1.5;
                let mut want = [[0f64; 8]; 16];
                want[m][n] = 1.5;
                let p = MmaProblem {
                    a: [[0; 16]; 16],
                    b: dense.b,
                    c,
                };
                probes.push((p, want));
            }
        }
        // One warp per probe, 32 warps per block.
        for chunk in probes.chunks(32) {
            let warps = chunk.len();
            let out = PerThread::new(32 * warps);
            launch(dims(1, 32 * warps as u32, 0), || {
                let (p, _) = &chunk[warp_id() as usize];
                let lane = lane_id() as usize;
                let d = ty.mma(
                    a_fragment(&p.a, lane),
                    b_fragment(&p.b, lane),
                    c_fragment(&p.c, lane),
                );
                out.set(thread_idx() as usize, d);
            })
            .unwrap();
            let frags = out.into_vec();
            for (w, (_, want)) in chunk.iter().enumerate() {
                let d = gather_d(&frags[32 * w..32 * (w + 1)]);
                for m in 0..16 {
                    for n in 0..8 {
                        assert_eq!(
                            d[m][n] as f64, want[m][n],
                            "{ty:?} probe {w} of its chunk: D[{m}][{n}]"
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16
// PTX ISA 9.7.14.5.15 "Warp-level matrix load instruction: ldmatrix".
// ---------------------------------------------------------------------------

/// Which thread supplies which row address (the `.num` table): threads
/// `8i..8i+8` give `addr[8i..8i+8]`, the rows 0–7 of matrix `i`; the other
/// threads give none (only "for .target sm_75 or below, all threads must
/// contain valid addresses"; ours give valid decoy addresses all the same).
fn isa_ldmatrix_row_of_thread(num: usize, lane: usize) -> Option<(usize, usize)> {
    (lane < 8 * num).then_some((lane / 8, lane % 8))
}

/// Figure 104 ("ldmatrix fragment layout for one 8x8 Matrix with 16-bit
/// elements"): "Each thread in a warp loads fragments of a row, with thread 0
/// receiving the first fragment in its register r, and so on. A group of four
/// threads loads an entire row of the matrix": a row of 8 elements is 4
/// fragments of 2, so thread `l` holds row `l / 4`, elements `2(l % 4)` (low)
/// and `2(l % 4) + 1` (high). With `.trans` the matrix "is loaded in
/// column-major format": the same fragment of the transposed matrix. Returns
/// the (row, col) of the original matrix for the low and high halves.
fn isa_ldmatrix_elements(lane: usize, trans: bool) -> [(usize, usize); 2] {
    let (row, col) = (lane / 4, 2 * (lane % 4));
    if trans {
        [(col, row), (col + 1, row)]
    } else {
        [(row, col), (row, col + 1)]
    }
}

/// Shared-memory image for the ldmatrix test. Each warp has 32 row slots of
/// 32 bytes: the 16-byte row, then 16 bytes of padding; the 4×8 rows are scattered over
/// the slots by a permutation, so nothing may assume rows are contiguous or
/// evenly spaced ("Consecutive instances of row need not be stored contiguously
/// in memory"). Eight decoy rows follow, for the threads that give no address.
const LDM_SLOT: usize = 32;
const LDM_SLOTS_PER_WARP: usize = 40;
const LDM_WARPS: usize = 2;

/// Element (warp w, matrix m, row r, col c): index-coded, all distinct.
fn ldm_value(w: usize, m: usize, r: usize, c: usize) -> u16 {
    ((w << 12) | (m << 8) | (r << 4) | c) as u16
}
const LDM_DECOY: u16 = 0x4000;
const LDM_PADDING: u16 = 0x2000;

fn ldm_slot(m: usize, r: usize) -> usize {
    (7 * (8 * m + r) + 3) % 32
}

fn ldm_row_offset(w: usize, slot: usize) -> usize {
    (w * LDM_SLOTS_PER_WARP + slot) * LDM_SLOT
}

/// x1, x2 and x4, plain and `.trans`, by two warps reading different data at
/// once. Every lane's every register is compared with the ISA layout; decoy
/// rows (given by threads whose addresses the ISA ignores) must never show up.
#[test]
fn ldmatrix_x1_x2_x4_and_trans_follow_isa_fragment_layout() {
    const VARIANTS: [(usize, bool); 6] = [
        (1, false),
        (2, false),
        (4, false),
        (1, true),
        (2, true),
        (4, true),
    ];
    let smem_bytes = LDM_WARPS * LDM_SLOTS_PER_WARP * LDM_SLOT;
    let out = PerThread::new(32 * LDM_WARPS);
    launch(dims(1, 32 * LDM_WARPS as u32, smem_bytes), || {
        let base = dyn_smem() as *mut u16;
        if thread_idx() == 0 {
            for w in 0..LDM_WARPS {
                for slot in 0..LDM_SLOTS_PER_WARP {
                    let row = ldm_row_offset(w, slot) / 2;
                    for e in 0..LDM_SLOT / 2 {
                        // SAFETY: inside the smem_bytes of the launch.
                        unsafe { *base.add(row + e) = LDM_PADDING | (slot as u16) }
                    }
                }
                for m in 0..4 {
                    for r in 0..8 {
                        let row = ldm_row_offset(w, ldm_slot(m, r)) / 2;
                        for c in 0..8 {
                            // SAFETY: as above.
                            unsafe { *base.add(row + c) = ldm_value(w, m, r, c) }
                        }
                    }
                }
                for d in 0..8 {
                    let row = ldm_row_offset(w, 32 + d) / 2;
                    for c in 0..8 {
                        // SAFETY: as above.
                        unsafe { *base.add(row + c) = LDM_DECOY | (w << 8 | d << 4 | c) as u16 }
                    }
                }
            }
        }
        sync_threads();
        let (w, lane) = (warp_id() as usize, lane_id() as usize);
        let results: [[u32; 4]; 6] = from_fn(|v| {
            let (num, trans) = VARIANTS[v];
            let slot = match isa_ldmatrix_row_of_thread(num, lane) {
                Some((m, r)) => ldm_slot(m, r),
                None => 32 + lane % 8,
            };
            // SAFETY: every slot is 16-byte aligned (128-byte aligned base,
            // 32-byte slots) and inside shared memory.
            let row = Shared::of(unsafe { (base as *const u8).add(ldm_row_offset(w, slot)) });
            let mut regs = [0u32; 4];
            // SAFETY: as above, for every lane.
            unsafe {
                match (num, trans) {
                    (1, false) => regs[..1].copy_from_slice(&ldmatrix::<1>(row)),
                    (2, false) => regs[..2].copy_from_slice(&ldmatrix::<2>(row)),
                    (4, false) => regs.copy_from_slice(&ldmatrix::<4>(row)),
                    (1, true) => regs[..1].copy_from_slice(&ldmatrix_trans::<1>(row)),
                    (2, true) => regs[..2].copy_from_slice(&ldmatrix_trans::<2>(row)),
                    _ => regs.copy_from_slice(&ldmatrix_trans::<4>(row)),
                }
            }
            regs
        });
        out.set(thread_idx() as usize, results);
    })
    .unwrap();
    let results = out.into_vec();
    for (tid, per_variant) in results.iter().enumerate() {
        let (w, lane) = (tid / 32, tid % 32);
        for (v, &(num, trans)) in VARIANTS.iter().enumerate() {
            for (reg, &value) in per_variant[v].iter().take(num).enumerate() {
                let [(r0, c0), (r1, c1)] = isa_ldmatrix_elements(lane, trans);
                let want = pack(ldm_value(w, reg, r0, c0), ldm_value(w, reg, r1, c1));
                let (lo, hi) = unpack(value);
                assert_eq!(
                    value,
                    want,
                    "x{num} trans={trans} warp {w} lane {lane} r{reg}: got ({lo:#06x}, {hi:#06x}), \
                     want ({:#06x}, {:#06x})",
                    want as u16,
                    want >> 16
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ldmatrix feeding mma, the way kernel v1 uses them (Q·Kᵀ, then P·V with P
// repacked from the D layout into the A layout and V read with .trans).
// Expected values: direct matrix products.
// ---------------------------------------------------------------------------

const HD: usize = 32; // head dim: two k-steps of 16
const KEYS: usize = 16;
const ROW_STRIDE: usize = HD + 8; // padded rows, 16-byte aligned (80 bytes)

/// Q, K and V with entries in {-1, -½, 0, ½, 1}: the entries of S = Q·Kᵀ are
/// multiples of ¼ up to 32 in magnitude, exact in f16 and bf16, so repacking S
/// as P loses nothing; O = S·V is exact in f32 too. Comparisons are bit-exact.
fn check_ldmatrix_mma_chain(ty: Half, seed: u64) {
    let mut rng = Rng(seed);
    let mut small = || ty.bits_exact((rng.below(5) as f64 - 2.0) / 2.0);
    let q: [[u16; HD]; 16] = from_fn(|_| from_fn(|_| small()));
    let k: [[u16; HD]; KEYS] = from_fn(|_| from_fn(|_| small()));
    let v: [[u16; HD]; KEYS] = from_fn(|_| from_fn(|_| small()));
    let (q_off, k_off, v_off) = (0, 16 * ROW_STRIDE, (16 + KEYS) * ROW_STRIDE);
    let smem_bytes = 2 * (16 + 2 * KEYS) * ROW_STRIDE;
    let out = PerThread::new(32);
    launch(dims(1, 32, smem_bytes), || {
        let s16 = dyn_smem() as *mut u16;
        let lane = lane_id() as usize;
        // Lane r < 16 stores row r of Q, K and V.
        if lane < 16 {
            for c in 0..HD {
                // SAFETY: inside the launch's shared memory.
                unsafe {
                    *s16.add(q_off + lane * ROW_STRIDE + c) = q[lane][c];
                    *s16.add(k_off + lane * ROW_STRIDE + c) = k[lane][c];
                    *s16.add(v_off + lane * ROW_STRIDE + c) = v[lane][c];
                }
            }
        }
        sync_threads();
        let at = |off: usize, row: usize, col: usize| -> Shared {
            // SAFETY: row < 16, col + 8 <= HD: inside the tile; 16-byte aligned.
            Shared::of(unsafe { s16.add(off + row * ROW_STRIDE + col) as *const u8 })
        };
        let mat = lane / 8;
        // A fragments of Q per k-step: x4 matrices (rows 0–7, k 0–7),
        // (rows 8–15, k 0–7), (rows 0–7, k 8–15), (rows 8–15, k 8–15) = a0..a7.
        let qf: [[u32; 4]; HD / 16] = from_fn(|kk| {
            // SAFETY: valid row addresses for every lane.
            unsafe {
                ldmatrix::<4>(at(
                    q_off,
                    lane % 8 + 8 * (mat & 1),
                    16 * kk + 8 * (mat >> 1),
                ))
            }
        });
        // S = Q·Kᵀ: B = Kᵀ, and a K row (key) holds a B column; plain x4 of
        // (keys 0–7, k 0–7), (keys 0–7, k 8–15), (keys 8–15, k 0–7), (keys 8–15, k 8–15).
        let mut s = [[0f32; 4]; KEYS / 8];
        for (kk, qf) in qf.iter().enumerate() {
            // SAFETY: as above.
            let kf = unsafe {
                ldmatrix::<4>(at(
                    k_off,
                    8 * (mat >> 1) + lane % 8,
                    16 * kk + 8 * (mat & 1),
                ))
            };
            s[0] = ty.mma(*qf, [kf[0], kf[1]], s[0]);
            s[1] = ty.mma(*qf, [kf[2], kf[3]], s[1]);
        }
        // P (= S) as the A operand: D tiles 0 and 1 are k 0–7 and 8–15.
        let pa = [
            ty.pack2(s[0][0], s[0][1]),
            ty.pack2(s[0][2], s[0][3]),
            ty.pack2(s[1][0], s[1][1]),
            ty.pack2(s[1][2], s[1][3]),
        ];
        // O = P·V: B = V (keys × d) read with .trans from V's rows: x4 of
        // (keys 0–7, d 0–7), (keys 8–15, d 0–7), (keys 0–7, d 8–15), (keys 8–15, d 8–15).
        let mut o = [[0f32; 4]; HD / 8];
        for j2 in 0..HD / 16 {
            // SAFETY: as above.
            let vf = unsafe {
                ldmatrix_trans::<4>(at(
                    v_off,
                    8 * (mat & 1) + lane % 8,
                    16 * j2 + 8 * (mat >> 1),
                ))
            };
            o[2 * j2] = ty.mma(pa, [vf[0], vf[1]], o[2 * j2]);
            o[2 * j2 + 1] = ty.mma(pa, [vf[2], vf[3]], o[2 * j2 + 1]);
        }
        out.set(lane, (s, o));
    })
    .unwrap();
    let frags = out.into_vec();
    let tile = |f: &dyn Fn(usize) -> [f32; 4]| gather_d(&(0..32).map(f).collect::<Vec<_>>());
    let val = |x: u16| ty.value(x);
    for j in 0..KEYS / 8 {
        let d = tile(&|l| frags[l].0[j]);
        for m in 0..16 {
            for n in 0..8 {
                let want: f64 = (0..HD).map(|c| val(q[m][c]) * val(k[8 * j + n][c])).sum();
                assert_eq!(d[m][n] as f64, want, "{ty:?} S[{m}][{}]", 8 * j + n);
            }
        }
    }
    for j in 0..HD / 8 {
        let d = tile(&|l| frags[l].1[j]);
        for m in 0..16 {
            for n in 0..8 {
                let want: f64 = (0..KEYS)
                    .map(|key| {
                        let s: f64 = (0..HD).map(|c| val(q[m][c]) * val(k[key][c])).sum();
                        s * val(v[key][8 * j + n])
                    })
                    .sum();
                assert_eq!(d[m][n] as f64, want, "{ty:?} O[{m}][{}]", 8 * j + n);
            }
        }
    }
}

#[test]
fn ldmatrix_feeds_mma_as_kernel_v1_does() {
    for seed in 0..3 {
        check_ldmatrix_mma_chain(Half::F16, 0x6000 + seed);
        check_ldmatrix_mma_chain(Half::Bf16, 0x7000 + seed);
    }
}

// ---------------------------------------------------------------------------
// cp.async.cg.shared.global [dst], [src], 16, src-size
// + cp.async.commit_group / cp.async.wait_group N
// PTX ISA 9.7.9.25.1.1 (async-group mechanism), 9.7.9.25.3.1–3.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

const OLD: u8 = 0xAB; // destination contents before the copies
const CP_THREADS: usize = 64;
/// Destination regions, one 16-byte chunk per thread each: groups A, B
/// (zero-fill), C of phase 1, and X (two chunks) of phase 2.
const CP_REGIONS: usize = 5;

/// Source chunk of (region, thread): bytes 0 and 1 name the chunk, so every
/// chunk differs; every byte is in 1..0x80, so neither OLD nor the zero fill.
fn cp_source(region: usize, tid: usize) -> [u8; 16] {
    let chunk = region * CP_THREADS + tid;
    from_fn(|j| match j {
        0 => (chunk % 0x7e + 1) as u8,
        1 => (chunk / 0x7e + 1) as u8,
        _ => ((chunk * 16 + j) % 0x7e + 1) as u8,
    })
}

/// `src-size` of thread `tid`'s group-B copy: every value 0..=16 occurs.
fn cp_src_size(tid: usize) -> usize {
    tid % 17
}

/// What a completed copy leaves: `src_size` bytes of source, zeros after
/// ("remaining bytes in destination dst are filled with zeros").
fn cp_expected(region: usize, tid: usize) -> [u8; 16] {
    let src = cp_source(region, tid);
    let n = if region == 1 { cp_src_size(tid) } else { 16 };
    from_fn(|j| if j < n { src[j] } else { 0 })
}

/// Phase 1: groups A, B (zero-fill `src-size`), C committed in order.
/// - Before any wait, every destination byte is either old or new: the ISA
///   promises no visibility, but no other value may appear.
/// - `wait_group 2`: A complete ("wait till only N or fewer of the most recent
///   cp.async-groups are pending and all the prior cp.async-groups committed by
///   the executing threads are complete"); B and C old or new.
/// - `wait_group 1`: A and B complete; C old or new (pending and complete are
///   both legal, and the emulator may defer copies to the wait).
/// - `wait_group 0`: all complete.
///
/// Phase 2: a group of two copies, then two empty groups ("If there are no
/// uncommitted cp.async instructions then cp.async.commit_group results in an
/// empty cp.async-group"); `wait_group 2` must complete the copies, since the
/// two empty groups are the newest two.
///
/// Phase 3: after `wait_group 0` and a barrier, every thread reads its
/// neighbour's destinations: completed copies are visible block-wide after
/// the barrier (the barrier's memory guarantee, PTX ISA 9.7.13.1).
#[test]
fn cp_async_groups_complete_in_commit_order_with_zero_fill() {
    let src: Vec<Chunk> = (0..CP_REGIONS * CP_THREADS)
        .map(|i| Chunk(cp_source(i / CP_THREADS, i % CP_THREADS)))
        .collect();
    let failures = Failures::default();
    let smem_bytes = CP_REGIONS * CP_THREADS * 16;
    launch(dims(2, CP_THREADS as u32, smem_bytes), || {
        let tid = thread_idx() as usize;
        let smem = dyn_smem();
        let dst = |region: usize, t: usize| -> *mut u8 {
            // SAFETY: region < CP_REGIONS, t < CP_THREADS: inside shared memory.
            unsafe { smem.add((region * CP_THREADS + t) * 16) }
        };
        let read = |region: usize, t: usize| -> [u8; 16] {
            // SAFETY: as above; 16 readable bytes.
            unsafe { *(dst(region, t) as *const [u8; 16]) }
        };
        let src_of = |region: usize| src[region * CP_THREADS + tid].0.as_ptr();
        let block = block_idx()[0];
        let complete = |region: usize, when: &str| {
            let got = read(region, tid);
            failures.check(got == cp_expected(region, tid), || {
                format!("block {block} thread {tid} region {region} {when}: {got:?}")
            });
        };
        let old_or_new = |region: usize, when: &str| {
            let (got, new) = (read(region, tid), cp_expected(region, tid));
            let ok = (0..16).all(|j| got[j] == OLD || got[j] == new[j]);
            failures.check(ok, || {
                format!("block {block} thread {tid} region {region} {when}: neither old nor new {got:?}")
            });
        };

        // Nothing committed yet: waiting must return at once.
        cp_async_wait::<0>();
        for region in 0..CP_REGIONS {
            // SAFETY: 16 writable bytes.
            unsafe { dst(region, tid).write_bytes(OLD, 16) };
        }

        // Phase 1.
        // SAFETY (all cp_async_16 below): dst is 16 writable, 16-byte aligned
        // shared bytes; src is a 16-byte aligned chunk of `src`.
        unsafe { cp_async_16(Shared::of(dst(0, tid)), src_of(0), 16) };
        cp_async_commit(); // A
        unsafe { cp_async_16(Shared::of(dst(1, tid)), src_of(1), cp_src_size(tid) as u32) };
        cp_async_commit(); // B
        unsafe { cp_async_16(Shared::of(dst(2, tid)), src_of(2), 16) };
        cp_async_commit(); // C
        for region in 0..3 {
            old_or_new(region, "before any wait");
        }
        cp_async_wait::<2>();
        complete(0, "after wait_group 2");
        old_or_new(1, "after wait_group 2");
        old_or_new(2, "after wait_group 2");
        cp_async_wait::<1>();
        complete(0, "after wait_group 1");
        complete(1, "after wait_group 1");
        old_or_new(2, "after wait_group 1");
        cp_async_wait::<0>();
        for region in 0..3 {
            complete(region, "after wait_group 0");
        }

        // Phase 2: one group of two copies, then two empty groups.
        unsafe {
            cp_async_16(Shared::of(dst(3, tid)), src_of(3), 16);
            cp_async_16(Shared::of(dst(4, tid)), src_of(4), 16);
        }
        cp_async_commit();
        cp_async_commit();
        cp_async_commit();
        cp_async_wait::<2>();
        complete(3, "after wait_group 2 behind two empty groups");
        complete(4, "after wait_group 2 behind two empty groups");
        cp_async_wait::<0>();

        // Phase 3: visible to the other threads after a barrier.
        sync_threads();
        let other = (tid + 1) % CP_THREADS;
        for region in 0..CP_REGIONS {
            let got = read(region, other);
            failures.check(got == cp_expected(region, other), || {
                format!("block {block} thread {tid}: region {region} of thread {other} after the barrier: {got:?}")
            });
        }
    })
    .unwrap();
    failures.assert_none("cp.async");
}

// ---------------------------------------------------------------------------
// shfl.sync.{bfly,idx}.b32 d, a, b, 0x1f, 0xffffffff
// PTX ISA 9.7.9.6: with c = 0x1f, segmask = 0 and maxLane = 31, so
//   .bfly: j = lane ^ b[4:0];   .idx: j = b[4:0];   always in range; d = a of lane j.
// ---------------------------------------------------------------------------

/// Thread `tid`'s shuffle input: distinct bit patterns, a third of them NaNs
/// with a payload, so any arithmetic on the way would show.
fn shfl_value(tid: usize) -> f32 {
    if tid.is_multiple_of(3) {
        f32::from_bits(0x7fc0_0000 | tid as u32)
    } else {
        tid as f32 + 0.25
    }
}

const SHFL_XOR_MASKS: [u32; 9] = [0, 1, 2, 4, 8, 16, 31, 0b10101, 33];

/// Per lane: the `.idx` source for each case (uniform, per-lane, out of range).
fn shfl_idx_sources(lane: u32) -> [u32; 6] {
    [0, 31, 17, (lane * 7 + 3) % 32, 31 - lane, 32 + 3 + lane]
}

#[test]
fn shfl_xor_and_idx_return_the_partner_lane_value() {
    const WARPS: usize = 4;
    let out = PerThread::new(32 * WARPS);
    launch(dims(1, 32 * WARPS as u32, 0), || {
        let tid = thread_idx() as usize;
        let mine = shfl_value(tid);
        let xor: [u32; 9] = from_fn(|i| shfl_xor_f32(mine, SHFL_XOR_MASKS[i]).to_bits());
        let idx: [u32; 6] =
            from_fn(|i| shfl_idx_f32(mine, shfl_idx_sources(lane_id())[i]).to_bits());
        out.set(tid, (xor, idx));
    })
    .unwrap();
    for (tid, (xor, idx)) in out.into_vec().into_iter().enumerate() {
        let (warp, lane) = (tid / 32, (tid % 32) as u32);
        let from_lane = |j: u32| shfl_value(32 * warp + j as usize).to_bits();
        for (i, &mask) in SHFL_XOR_MASKS.iter().enumerate() {
            let j = lane ^ (mask & 0x1f);
            assert_eq!(
                xor[i],
                from_lane(j),
                "bfly mask {mask} warp {warp} lane {lane}"
            );
        }
        for (i, &src) in shfl_idx_sources(lane).iter().enumerate() {
            let j = src & 0x1f;
            assert_eq!(
                idx[i],
                from_lane(j),
                "idx src {src} warp {warp} lane {lane}"
            );
        }
    }
}

/// A butterfly over masks 16, 8, 4, 2, 1 leaves every lane with its warp's
/// sum (values are small integers, so the sums are exact in any order); a
/// butterfly over 1, 2 leaves each quad's maximum, the kernel's row reduction.
#[test]
fn shfl_xor_butterfly_reductions() {
    const WARPS: usize = 4;
    let value = |tid: usize| ((tid * 37 + 11) % 101) as f32 - 50.0;
    let out = PerThread::new(32 * WARPS);
    launch(dims(1, 32 * WARPS as u32, 0), || {
        let tid = thread_idx() as usize;
        let mut sum = value(tid);
        for mask in [16, 8, 4, 2, 1] {
            sum += shfl_xor_f32(sum, mask);
        }
        let mut max = value(tid);
        for mask in [1, 2] {
            max = max.max(shfl_xor_f32(max, mask));
        }
        out.set(tid, (sum, max));
    })
    .unwrap();
    for (tid, (sum, max)) in out.into_vec().into_iter().enumerate() {
        let warp = tid / 32;
        let want_sum: f32 = (32 * warp..32 * warp + 32).map(value).sum();
        let quad = tid / 4 * 4;
        let want_max = (quad..quad + 4).map(value).fold(f32::MIN, f32::max);
        assert_eq!(sum, want_sum, "warp sum, thread {tid}");
        assert_eq!(max, want_max, "quad max, thread {tid}");
    }
}

// ---------------------------------------------------------------------------
// bar.sync 0 (__syncthreads): PTX ISA 9.7.13.1.
// ---------------------------------------------------------------------------

/// Three blocks of 128 threads, four rounds each: every thread writes its slot
/// and counts its arrival, warps arrive unevenly (warp w performs w extra
/// shuffles first), then `sync_threads`. After it, the block's whole count of
/// arrivals must be in (nobody passes before every thread has arrived), and
/// every slot must hold this round's value ("prior memory accesses requested by
/// this thread are performed relative to all threads participating in the
/// barrier"). A second barrier separates the reads from the next round's writes.
#[test]
fn sync_threads_makes_prior_writes_visible_to_the_block() {
    const THREADS: usize = 128;
    const BLOCKS: usize = 3;
    const ROUNDS: u32 = 4;
    let arrived: [AtomicU32; BLOCKS] = from_fn(|_| AtomicU32::new(0));
    let failures = Failures::default();
    let slot_value = |block: u32, round: u32, t: usize| block * 100_000 + round * 1000 + t as u32;
    launch(dims(BLOCKS as u32, THREADS as u32, THREADS * 4), || {
        let tid = thread_idx() as usize;
        let block = block_idx()[0];
        let slots = dyn_smem() as *mut u32;
        for round in 0..ROUNDS {
            // SAFETY: tid < THREADS slots of shared memory.
            unsafe { slots.add(tid).write_volatile(slot_value(block, round, tid)) };
            arrived[block as usize].fetch_add(1, Ordering::Relaxed);
            for _ in 0..warp_id() + round {
                shfl_xor_f32(0.0, 1);
            }
            sync_threads();
            let n = arrived[block as usize].load(Ordering::Relaxed);
            failures.check(n == THREADS as u32 * (round + 1), || {
                format!("block {block} round {round} thread {tid}: passed with {n} arrivals")
            });
            for t in 0..THREADS {
                // SAFETY: as above.
                let got = unsafe { slots.add(t).read_volatile() };
                failures.check(got == slot_value(block, round, t), || {
                    format!("block {block} round {round} thread {tid}: slot {t} = {got}")
                });
            }
            sync_threads();
        }
    })
    .unwrap();
    failures.assert_none("barrier");
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
        .expect("the emulated launch hung instead of reporting a deadlock")
}

/// A thread that exits while the rest of its block waits at `bar.sync` never
/// arrives. `bar.sync` is `barrier.sync.aligned`: "all threads in CTA will
/// execute the same barrier instruction ... otherwise behavior is undefined"
/// (PTX ISA 9.7.13.1); the emulator must report that as a deadlock, not hang.
/// Only block 2 of 4 misbehaves, so the error names it.
#[test]
fn missing_barrier_arrival_is_reported_as_deadlock() {
    let r = launch_with_deadline(dims(4, 64, 0), || {
        if block_idx()[0] == 2 && thread_idx() == 37 {
            return;
        }
        sync_threads();
    });
    assert_eq!(
        r,
        Err(EmuError::Deadlock {
            block: [2, 0, 0],
            at_barrier: 63,
            at_named_barrier: 0,
            at_warp_sync: 0,
            at_mbarrier: 0,
            at_setmaxnreg: 0,
            exited: 1,
        })
    );

    // Warps that reach different numbers of barriers: warp 1 leaves after the
    // first one while warp 0 waits at a second.
    let r = launch_with_deadline(dims(1, 64, 0), || {
        sync_threads();
        if warp_id() == 0 {
            sync_threads();
        }
    });
    assert_eq!(
        r,
        Err(EmuError::Deadlock {
            block: [0, 0, 0],
            at_barrier: 32,
            at_named_barrier: 0,
            at_warp_sync: 0,
            at_mbarrier: 0,
            at_setmaxnreg: 0,
            exited: 32,
        })
    );

    // A lane that exits before a warp collective: "The behavior of mma
    // instruction is undefined if ... any thread in the warp has exited"
    // (PTX ISA 9.7.14.5.14). Warp 0 is complete and finishes normally.
    let r = launch_with_deadline(dims(1, 64, 0), || {
        if warp_id() == 1 && lane_id() == 5 {
            return;
        }
        mma_f16_m16n8k16([0; 4], [0; 2], [0.0; 4]);
    });
    assert_eq!(
        r,
        Err(EmuError::Deadlock {
            block: [0, 0, 0],
            at_barrier: 0,
            at_named_barrier: 0,
            at_warp_sync: 31,
            at_mbarrier: 0,
            at_setmaxnreg: 0,
            exited: 33,
        })
    );

    // The emulator is usable again after a deadlock.
    let out = std::sync::Arc::new(PerThread::new(64));
    let o = out.clone();
    launch_with_deadline(dims(1, 64, 0), move || {
        sync_threads();
        o.set(global_tid(64), shfl_idx_f32(thread_idx() as f32, 0));
    })
    .unwrap();
    let v = std::sync::Arc::try_unwrap(out).ok().unwrap().into_vec();
    assert!(
        v.iter()
            .enumerate()
            .all(|(t, &x)| x == (t / 32 * 32) as f32)
    );
}

#[test]
fn block_size_must_be_whole_warps() {
    assert_eq!(launch(dims(1, 48, 0), || {}), Err(EmuError::BadBlock(48)));
    assert_eq!(launch(dims(1, 0, 0), || {}), Err(EmuError::BadBlock(0)));
    assert_eq!(
        launch(dims(1, 1056, 0), || {}),
        Err(EmuError::BadBlock(1056))
    );
}

// ---------------------------------------------------------------------------
// PTX ISA 9.7.15 "Asynchronous Warpgroup Level Matrix Multiply-Accumulate":
// wgmma.mma_async .m64nNk16 with 16-bit inputs, transcribed here.
// - 9.7.15.5.1 register fragments: D element `d_i` of thread `tid` of the
//   warpgroup is row `16·(tid / 32) + groupID + 8·((i / 2) % 2)`, column
//   `8·(i / 4) + 2·threadID_in_group + (i % 2)`; an A fragment in registers
//   is the m16n8k16 A layout (Figure 79) of the warp's 16 rows.
// - 9.7.15.5.2 shared memory layout, 128-byte swizzle: a "row" of 128 bytes
//   holds 64 elements; rows come in groups of 8 (1024 bytes, `SBO` apart);
//   the 16-byte chunk `c` of row `r` sits at chunk position `c XOR (r mod 8)`.
//   K-major: one row per M (or N) index, k along the row. MN-major: one row
//   per k, M (or N) along the row, 64-wide blocks `LBO` apart.
// ---------------------------------------------------------------------------

fn isa_wgmma_d(tid: usize, i: usize) -> (usize, usize) {
    let (warp, lane) = (tid / 32, tid % 32);
    let (group_id, thread_id_in_group) = (lane >> 2, lane % 4);
    (
        16 * warp + group_id + 8 * ((i / 2) % 2),
        8 * (i / 4) + 2 * thread_id_in_group + (i % 2),
    )
}

/// Byte offset of element `col` (0..64) of 128-byte row `row` in the swizzle.
fn sw128_offset(row: usize, col: usize) -> usize {
    (row / 8) * 1024 + (row % 8) * 128 + (((col / 8) ^ (row % 8)) * 16) + (col % 8) * 2
}

/// How a test chain is run: waiting for itself (v2's form), or issued,
/// committed and waited for separately (v3's form).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chain {
    Waited,
    /// Issued; B is then overwritten with other values before the wait, which
    /// the emulator must see: the tensor cores may read B until the wait.
    IssuedThenBReplaced,
}

/// One warpgroup computes D (64×64) = A (64×64) · B (64×64) with four k-steps:
/// `ss`: A and B K-major in shared memory; `rs`: A from registers, B MN-major.
/// Coarse random data: every partial sum is exact in f32 whatever the order.
fn check_wgmma(ty: Half, seed: u64, a_in_registers: bool, chain: Chain) {
    use tileattn_kernels::prims::{
        WgmmaDesc, fence_proxy_async, wgmma_commit, wgmma_rs_bf16, wgmma_rs_bf16_issue,
        wgmma_rs_f16, wgmma_rs_f16_issue, wgmma_ss_bf16, wgmma_ss_bf16_issue, wgmma_ss_f16,
        wgmma_ss_f16_issue, wgmma_wait,
    };
    let mut rng = Rng(seed);
    let a: Vec<[u16; 64]> = (0..64)
        .map(|_| from_fn(|_| ty.random(&mut rng, true)))
        .collect();
    // b[k][n]
    let random_b = |rng: &mut Rng| -> Vec<[u16; 64]> {
        (0..64).map(|_| from_fn(|_| ty.random(rng, true))).collect()
    };
    let b_issued = random_b(&mut rng);
    // What B holds when the chain is performed.
    let b = match chain {
        Chain::Waited => b_issued.clone(),
        Chain::IssuedThenBReplaced => random_b(&mut rng),
    };
    let out = PerThread::new(128);
    launch(dims(1, 128, 3 * 8192), || {
        let raw = dyn_smem();
        // SAFETY: the launch gave 24 KiB; the two 8 KiB tiles fit after aligning.
        let (a_s, b_s) = unsafe {
            let base = raw.add(raw.align_offset(1024));
            (base, base.add(8192))
        };
        let tid = thread_idx() as usize;
        let write_b = |b: &[[u16; 64]]| {
            for (r, row) in b.iter().enumerate() {
                for (c, &x) in row.iter().enumerate() {
                    // MN-major B (one row per k) for the register form,
                    // K-major (one row per n) for the shared one.
                    let at = if a_in_registers {
                        sw128_offset(r, c)
                    } else {
                        sw128_offset(c, r)
                    };
                    // SAFETY: offsets below 8192 inside the tile.
                    unsafe { *(b_s.add(at) as *mut u16) = x };
                }
            }
        };
        if tid == 0 {
            for (r, row) in a.iter().enumerate() {
                for (c, &x) in row.iter().enumerate() {
                    // SAFETY: offsets below 8192 inside the tile.
                    unsafe { *(a_s.add(sw128_offset(r, c)) as *mut u16) = x };
                }
            }
            write_b(&b_issued);
        }
        fence_proxy_async();
        sync_threads();
        let mut acc = [[0f32; 4]; 8];
        let desc = |p: *mut u8, lbo: u32| WgmmaDesc::sw128(Shared::of(p), lbo, 1024);
        let (warp, lane) = (tid / 32, tid % 32);
        let issued = chain == Chain::IssuedThenBReplaced;
        // SAFETY: all 128 threads, converged, after the barrier.
        unsafe {
            if a_in_registers {
                let regs: [[u32; 4]; 4] = from_fn(|kk| {
                    let block: [[u16; 16]; 16] =
                        from_fn(|r| from_fn(|c| a[16 * warp + r][16 * kk + c]));
                    a_fragment(&block, lane)
                });
                let bd = from_fn(|kk| desc(b_s, 8192).byte_add(16 * 128 * kk as u32));
                match (ty, issued) {
                    (Half::F16, false) => wgmma_rs_f16(&mut acc, regs, bd),
                    (Half::Bf16, false) => wgmma_rs_bf16(&mut acc, regs, bd),
                    (Half::F16, true) => wgmma_rs_f16_issue(&mut acc, regs, bd),
                    (Half::Bf16, true) => wgmma_rs_bf16_issue(&mut acc, regs, bd),
                }
            } else {
                let ad = from_fn(|kk| desc(a_s, 16).byte_add(32 * kk as u32));
                let bd = from_fn(|kk| desc(b_s, 16).byte_add(32 * kk as u32));
                match (ty, issued) {
                    (Half::F16, false) => wgmma_ss_f16(&mut acc, ad, bd),
                    (Half::Bf16, false) => wgmma_ss_bf16(&mut acc, ad, bd),
                    (Half::F16, true) => wgmma_ss_f16_issue(&mut acc, ad, bd),
                    (Half::Bf16, true) => wgmma_ss_bf16_issue(&mut acc, ad, bd),
                }
            }
            if issued {
                wgmma_commit();
                sync_threads();
                if tid == 0 {
                    write_b(&b);
                }
                fence_proxy_async();
                sync_threads();
                wgmma_wait::<0, 8>(&mut acc);
            }
        }
        out.set(tid, acc);
    })
    .unwrap();
    let frags = out.into_vec();
    for (tid, f) in frags.iter().enumerate() {
        for i in 0..32 {
            let (m, n) = isa_wgmma_d(tid, i);
            let want: f64 = (0..64).map(|k| ty.value(a[m][k]) * ty.value(b[k][n])).sum();
            let got = f[i / 4][i % 4] as f64;
            assert_eq!(
                got, want,
                "{ty:?} seed {seed} A in registers {a_in_registers} {chain:?}: D[{m}][{n}] (thread {tid}, d{i})"
            );
        }
    }
}

#[test]
fn wgmma_from_shared_memory_matches_direct_product() {
    check_wgmma(Half::Bf16, 21, false, Chain::Waited);
    check_wgmma(Half::F16, 22, false, Chain::Waited);
}

#[test]
fn wgmma_with_a_in_registers_and_b_transposed_matches_direct_product() {
    check_wgmma(Half::Bf16, 23, true, Chain::Waited);
    check_wgmma(Half::F16, 24, true, Chain::Waited);
}

#[test]
fn issued_wgmma_reads_shared_memory_at_its_wait() {
    for (i, a_in_registers) in [false, true].into_iter().enumerate() {
        check_wgmma(
            Half::Bf16,
            25 + i as u64,
            a_in_registers,
            Chain::IssuedThenBReplaced,
        );
        check_wgmma(
            Half::F16,
            27 + i as u64,
            a_in_registers,
            Chain::IssuedThenBReplaced,
        );
    }
}

#[test]
fn exiting_with_a_wgmma_in_flight_fails_the_launch() {
    use tileattn_kernels::prims::{WgmmaDesc, wgmma_commit, wgmma_ss_bf16_issue};
    let r = launch(dims(1, 128, 2 * 8192), || {
        let raw = dyn_smem();
        // SAFETY: the launch gave 16 KiB; one aligned 8 KiB tile fits.
        let tile = unsafe { raw.add(raw.align_offset(1024)) };
        let d = WgmmaDesc::sw128(Shared::of(tile), 16, 1024);
        let mut acc = [[0f32; 4]; 8];
        // SAFETY: all 128 threads, converged; the tile is zeroed shared memory.
        unsafe {
            wgmma_ss_bf16_issue(&mut acc, [d; 4], [d; 4]);
            wgmma_commit();
        }
    });
    assert!(matches!(r, Err(EmuError::WgmmaInFlight { .. })), "{r:?}");
}

/// A copy into a tile that an issued chain reads, in either order, is a race
/// the launch reports; copies elsewhere are not.
#[test]
fn copies_racing_an_issued_wgmma_fail_the_launch() {
    use tileattn_kernels::prims::{
        WgmmaDesc, cp_async_16, cp_async_commit, cp_async_wait, wgmma_commit, wgmma_ss_bf16_issue,
        wgmma_wait,
    };
    let src = [0u8; 16];
    // Where the copy goes, relative to the 8 KiB tile the chain reads, and
    // whether it is issued before the chain.
    let run = |copy_at: usize, copy_first: bool| {
        let src = src.as_ptr() as usize;
        launch(dims(1, 128, 3 * 8192), move || {
            let raw = dyn_smem();
            // SAFETY: the launch gave 24 KiB; two aligned 8 KiB tiles fit.
            let tile = unsafe { raw.add(raw.align_offset(1024)) };
            let d = WgmmaDesc::sw128(Shared::of(tile), 16, 1024);
            let mut acc = [[0f32; 4]; 8];
            let copy = || {
                if thread_idx() == 0 {
                    // SAFETY: 16 bytes inside the launch's shared memory, from a live array.
                    unsafe { cp_async_16(Shared::of(tile.add(copy_at)), src as *const u8, 16) };
                }
                cp_async_commit();
            };
            if copy_first {
                copy();
            }
            // SAFETY: all 128 threads, converged; the tile is zeroed shared memory.
            unsafe { wgmma_ss_bf16_issue(&mut acc, [d; 4], [d; 4]) };
            if !copy_first {
                copy();
            }
            // SAFETY: as above.
            unsafe {
                wgmma_commit();
                wgmma_wait::<0, 8>(&mut acc);
            }
            cp_async_wait::<0>();
        })
    };
    for copy_first in [false, true] {
        let r = run(1024, copy_first);
        assert!(
            matches!(r, Err(EmuError::CopyRacesWgmma { .. })),
            "copy first {copy_first}: {r:?}"
        );
        assert_eq!(run(8192, copy_first), Ok(()), "copy first {copy_first}");
    }
}
