//! `wgmma.mma_async` on the emulator, decoding the shared-memory matrix
//! descriptors as the tensor cores do (PTX ISA, "Asynchronous Warpgroup Level
//! Matrix Multiply-Accumulate": matrix descriptor format, canonical layouts
//! with the 128-byte swizzle, register fragments of `.m64nNk16`).
//!
//! A chain with its own commit and wait ([`wgmma_ss`], [`wgmma_rs`]) runs when
//! called. An issued chain ([`wgmma_ss_issue`], [`wgmma_rs_issue`]) runs when a
//! `wgmma.wait_group` covers it, the latest moment the hardware may read its
//! shared operands: a kernel that overwrites them too early gets a wrong
//! result here.
//!
//! Fragments: thread `lane = 4g + t` of warp `w` (0..4 within the warpgroup)
//! holds, for every 8-column tile `j`, D rows `16w + g` and `16w + g + 8`,
//! columns `8j + 2t + {0,1}`; an A fragment from registers is the
//! `mma.m16n8k16` A fragment of the warp's 16 rows.

use std::boxed::Box;

use super::read_guard::{any_landing, check_landed};
use super::sched::{dyn_smem, warp_exchange, with_ctx};
use super::warp::{MmaType, half};

/// A decoded descriptor: where element (`mn`, `k`) of the operand lies.
struct Operand {
    start: usize,
    lbo: usize,
    sbo: usize,
}

impl Operand {
    fn decode(desc: u64) -> Operand {
        let field = |shift: u32| (((desc >> shift) & 0x3FFF) << 4) as usize;
        assert_eq!(
            desc >> 62,
            1,
            "the emulator decodes only the 128-byte swizzle (layout type 1)"
        );
        Operand {
            start: dyn_smem() as usize + field(0),
            lbo: field(16),
            sbo: field(32),
        }
    }

    /// The 128-byte swizzle: address bits 4–6 (the 16-byte chunk in a
    /// 128-byte row) XOR bits 7–9 (the row within an 8-row, 1024-byte period).
    fn swizzle(addr: usize) -> usize {
        addr ^ (((addr >> 7) & 7) << 4)
    }

    /// K-major: rows of 128 bytes hold 64 k-values; 8-row groups are `sbo` apart.
    fn k_major(&self, mn: usize, k: usize) -> u16 {
        let addr = self.start + (mn / 8) * self.sbo + (mn % 8) * 128 + 2 * k;
        Self::read(addr)
    }

    /// MN-major: rows of 128 bytes hold 64 mn-values, one row per k; 64-wide
    /// mn blocks are `lbo` apart, 8-row k groups `sbo`.
    fn mn_major(&self, mn: usize, k: usize) -> u16 {
        let addr =
            self.start + (mn / 64) * self.lbo + 2 * (mn % 64) + (k / 8) * self.sbo + (k % 8) * 128;
        Self::read(addr)
    }

    /// The bytes a K-major operand of `rows` rows spans over its 16 k-values.
    fn k_major_span(&self, rows: usize) -> (usize, usize) {
        let last = self.start + ((rows - 1) / 8) * self.sbo + ((rows - 1) % 8) * 128;
        // The swizzle permutes 16-byte chunks within a 128-byte row.
        (self.start & !127, (last & !127) + 128)
    }

    /// The bytes an MN-major operand of `cols` columns spans over 16 k-values.
    fn mn_major_span(&self, cols: usize) -> (usize, usize) {
        let last = self.start + ((cols - 1) / 64) * self.lbo + self.sbo + 7 * 128;
        (self.start & !127, (last & !127) + 128)
    }

    fn read(addr: usize) -> u16 {
        // SAFETY: a descriptor of a correct kernel points into the block's
        // shared memory; the read is aligned to the element.
        unsafe { *(Self::swizzle(addr) as *const u16) }
    }
}

/// This thread's position: (warp in the warpgroup, g, t).
fn position() -> (usize, usize, usize) {
    let tid = with_ctx(|c, _| c.tid) as usize;
    ((tid / 32) % 4, (tid % 32) / 4, tid % 4)
}

/// Adds A (rows of this thread, 16 k per step, as f32) times B to `acc`.
fn accumulate<const N8: usize>(
    acc: &mut [[f32; 4]; N8],
    a: impl Fn(usize, usize, usize) -> f32,
    b: impl Fn(usize, usize, usize) -> f32,
) {
    let (_, g, t) = position();
    for step in 0..4 {
        for (j, tile) in acc.iter_mut().enumerate() {
            for (i, d) in tile.iter_mut().enumerate() {
                let row = g + 8 * (i / 2);
                let col = 8 * j + 2 * t + (i & 1);
                for k in 0..16 {
                    *d += a(step, row, k) * b(step, col, k);
                }
            }
        }
    }
}

/// Four k-steps of `wgmma.mma_async.m64nNk16` (N = 8·N8), A and B K-major in
/// shared memory.
///
/// # Safety
/// The descriptors describe the block's shared memory.
pub(crate) unsafe fn wgmma_ss<const N8: usize>(
    ty: MmaType,
    acc: &mut [[f32; 4]; N8],
    a: [u64; 4],
    b: [u64; 4],
) {
    if any_landing() {
        check_spans(&spans_of(&a, |o| o.k_major_span(64)));
        check_spans(&spans_of(&b, |o| o.k_major_span(8 * N8)));
    }
    let (w, _, _) = position();
    let (a, b) = (a.map(Operand::decode), b.map(Operand::decode));
    accumulate(
        acc,
        |s, row, k| half_of(a[s].k_major(16 * w + row, k), ty),
        |s, col, k| half_of(b[s].k_major(col, k), ty),
    );
}

/// Four k-steps with A from registers (each warp's 16 rows) and B MN-major
/// (transposed) in shared memory.
///
/// # Safety
/// As [`wgmma_ss`].
pub(crate) unsafe fn wgmma_rs<const N8: usize>(
    ty: MmaType,
    acc: &mut [[f32; 4]; N8],
    a: [[u32; 4]; 4],
    b: [u64; 4],
) {
    rs_accumulate(ty, acc, &warp_exchange(a), b);
}

/// The k-steps of [`wgmma_rs`] once the warp's A fragments are gathered.
fn rs_accumulate<const N8: usize>(
    ty: MmaType,
    acc: &mut [[f32; 4]; N8],
    frags: &[[[u32; 4]; 4]; 32],
    b: [u64; 4],
) {
    if any_landing() {
        check_spans(&spans_of(&b, |o| o.mn_major_span(8 * N8)));
    }
    let b = b.map(Operand::decode);
    // Element (row, k) of step s from the mma.m16n8k16 A layout: register r of
    // lane 4g + t holds row g + 8(r&1), columns 2t + 8(r>>1) + {0,1}.
    let a_elem = |s: usize, row: usize, k: usize| {
        let (g, rh) = (row % 8, row / 8);
        let (t, kh, hi) = ((k % 8) / 2, k / 8, k % 2 == 1);
        half(frags[4 * g + t][s][rh + 2 * kh], hi, ty)
    };
    accumulate(acc, a_elem, |s, col, k| half_of(b[s].mn_major(col, k), ty));
}

/// Registers `spans` for the calling warpgroup (its first thread only) and
/// returns what the chain's performance must remove.
fn register_reads(spans: &[(usize, usize)]) -> Option<u64> {
    with_ctx(|c, b| {
        if c.tid % 128 != 0 {
            return None;
        }
        check_spans(spans);
        if let Some(offset) = b.wgmma_reads.copy_into(spans, b.smem_base() as usize)
            && b.copy_race.get().is_none()
        {
            b.copy_race.set(Some((c.tid, offset)));
        }
        Some(b.wgmma_reads.add(spans))
    })
}

/// Fails the launch if an operand span meets a TMA load still landing.
fn check_spans(spans: &[(usize, usize)]) {
    for &(lo, hi) in spans {
        check_landed(lo, hi);
    }
}

fn unregister_reads(id: Option<u64>) {
    if let Some(id) = id {
        with_ctx(|_, b| b.wgmma_reads.remove(id));
    }
}

/// The shared bytes of four k-steps of descriptors `d`.
fn spans_of(d: &[u64; 4], span: impl Fn(&Operand) -> (usize, usize)) -> [(usize, usize); 4] {
    d.map(|x| span(&Operand::decode(x)))
}

fn queue_chain(chain: Box<dyn FnOnce()>) {
    // SAFETY: the queue belongs to the calling thread and is not aliased.
    with_ctx(|c, _| unsafe { (*c.wgmma.get()).issue(chain) })
}

/// [`wgmma_ss`] issued without waiting.
///
/// # Safety
/// `acc` stays valid, and is neither read nor written, until a
/// [`wgmma_wait`] covers the chain's group.
pub(crate) unsafe fn wgmma_ss_issue<const N8: usize>(
    ty: MmaType,
    acc: *mut [[f32; 4]; N8],
    a: [u64; 4],
    b: [u64; 4],
) {
    let mut spans = spans_of(&a, |o| o.k_major_span(64)).to_vec();
    spans.extend(spans_of(&b, |o| o.k_major_span(8 * N8)));
    let reads = register_reads(&spans);
    // SAFETY: guaranteed by the caller until the chain is performed.
    queue_chain(Box::new(move || {
        unsafe { wgmma_ss(ty, &mut *acc, a, b) };
        unregister_reads(reads);
    }));
}

/// [`wgmma_rs`] issued without waiting.
///
/// # Safety
/// As [`wgmma_ss_issue`].
pub(crate) unsafe fn wgmma_rs_issue<const N8: usize>(
    ty: MmaType,
    acc: *mut [[f32; 4]; N8],
    a: [[u32; 4]; 4],
    b: [u64; 4],
) {
    let frags = warp_exchange(a);
    let reads = register_reads(&spans_of(&b, |o| o.mn_major_span(8 * N8)));
    // SAFETY: guaranteed by the caller until the chain is performed.
    queue_chain(Box::new(move || {
        rs_accumulate(ty, unsafe { &mut *acc }, &frags, b);
        unregister_reads(reads);
    }));
}

/// `wgmma.commit_group`.
pub(crate) fn wgmma_commit() {
    with_ctx(|c, _| {
        // SAFETY: as in `queue_chain`.
        unsafe { (*c.wgmma.get()).commit() };
    })
}

/// `wgmma.wait_group pending`: perform every committed group but the newest
/// `pending`, oldest first.
///
/// # Panics
/// When chains were issued and not committed: the hardware would not wait
/// for them, so whatever the kernel does next with their accumulator races.
pub(crate) fn wgmma_wait(pending: usize) {
    let ready = with_ctx(|c, _| {
        // SAFETY: as in `queue_chain`.
        let q = unsafe { &mut *c.wgmma.get() };
        assert!(
            !q.has_uncommitted(),
            "wgmma.wait_group with issued chains not committed"
        );
        q.take_ready(pending)
    });
    // Performed outside the context borrow: a chain reads the context itself.
    for chain in ready {
        chain();
    }
}

fn half_of(bits: u16, ty: MmaType) -> f32 {
    half(bits as u32, false, ty)
}

/// Descriptors hold shared addresses relative to the block's shared memory.
pub(crate) fn desc_address(a: *const u8) -> u32 {
    (a as usize - dyn_smem() as usize) as u32
}

/// Proxy fences only order the GPU's memory paths.
pub(crate) fn fence_proxy_async() {}
