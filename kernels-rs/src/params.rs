//! The one parameter struct every attention kernel takes, shared by device and host.

use crate::prims::TensorMap;

/// Element strides of a rank-4 tensor whose last (head-dim) axis is contiguous.
///
/// BSHD (`[batch, seq, head, dim]`) and BHSD (`[batch, head, seq, dim]`) are both
/// expressible: only the three outer strides differ.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strides {
    pub batch: i64,
    pub seq: i64,
    pub head: i64,
}

impl Strides {
    /// Element offset of `(batch, seq, head, 0)`.
    #[inline(always)]
    pub fn offset(&self, b: u32, s: u32, h: u32) -> isize {
        (b as i64 * self.batch + s as i64 * self.seq + h as i64 * self.head) as isize
    }
}

/// Everything a forward attention launch needs at run time.
///
/// Passed by value as the kernel's only parameter. Device addresses are `u64`
/// so the host can fill them with `CUdeviceptr`s (GPU) or host addresses
/// (emulator) alike. Q, K, V and O hold 16-bit elements (f16 or bf16 bits);
/// LSE is f32, contiguous `[batch, heads_q, seqlen_q]`, natural log.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AttnParams {
    pub q: u64,
    pub k: u64,
    pub v: u64,
    pub o: u64,
    pub lse: u64,
    pub q_strides: Strides,
    pub k_strides: Strides,
    pub v_strides: Strides,
    pub o_strides: Strides,
    pub batch: u32,
    pub heads_q: u32,
    pub heads_kv: u32,
    pub seqlen_q: u32,
    pub seqlen_k: u32,
    /// Softmax scale applied to QKᵀ (1/√d by default).
    pub softmax_scale: f32,
    /// Address of the [`TmaMaps`] of Q, K and V for the families that load
    /// through the copy engine (v4); 0 for the others.
    pub tma: u64,
}

/// The tensor maps of a launch that loads through the copy engine: each a
/// rank-4 map `[D, seq, heads, batch]` (innermost first) of 16-bit elements
/// with boxes of 64 columns × the tile's rows, in the 128-byte swizzle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TmaMaps {
    pub q: TensorMap,
    pub k: TensorMap,
    pub v: TensorMap,
}

impl AttnParams {
    /// Query heads that share one KV head (1 for MHA, `heads_q` for MQA).
    #[inline(always)]
    pub fn gqa_group(&self) -> u32 {
        // `max(1)` lets the compiler drop the division-by-zero panic path;
        // the host rejects heads_kv = 0 before any launch.
        self.heads_q / self.heads_kv.max(1)
    }
}
