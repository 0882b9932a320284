//! Shared-memory tiles of Q, K and V: their swizzled layouts and the
//! `cp.async` loader that fills them, shared by the tensor-core kernels.
//!
//! A tile holds `ROWS` rows of `D` 16-bit elements, moved in 16-byte chunks
//! (8 elements). In both layouts chunk `c` of row `r` is stored at chunk
//! position `c ^ (r mod 8)` of its 128-byte row segment, so the 8 rows an
//! `ldmatrix` or a warp's copies touch fall in distinct banks without padding.

use crate::AttnParams;
use crate::params::Strides;
use crate::prims::{Shared, cp_async_16, cp_async_commit, cp_async_wait, opaque_ptr, thread_idx};

/// Elements per 16-byte chunk, the unit of `cp.async` and of an `ldmatrix` row.
pub const CHUNK: usize = 8;

/// Where chunk `c` of row `r` lives in a tile of `ROWS` rows of `D` elements.
pub trait TileLayout {
    /// Byte offset of chunk `chunk` of row `row`.
    fn offset<const D: usize, const ROWS: usize>(row: usize, chunk: usize) -> u32;
    /// Bytes between row `r` and row `r + 8` at the same chunk (the swizzle
    /// repeats every 8 rows, so this is a constant).
    fn eight_rows<const D: usize>() -> u32;
}

/// `[ROWS][D]`, rows of `2·D` bytes (v1: `ldmatrix` addresses rows directly).
pub struct RowMajor;

impl TileLayout for RowMajor {
    #[inline(always)]
    fn offset<const D: usize, const ROWS: usize>(row: usize, chunk: usize) -> u32 {
        ((row * D + (chunk ^ (row & 7)) * CHUNK) * 2) as u32
    }
    #[inline(always)]
    fn eight_rows<const D: usize>() -> u32 {
        (8 * D * 2) as u32
    }
}

/// `[D/64][ROWS][64]`: blocks of 64 columns, rows of 128 bytes — the
/// 128-byte-swizzle layout `wgmma` descriptors describe (v2). For D = 64 it is
/// the same as [`RowMajor`].
pub struct Sw128;

impl TileLayout for Sw128 {
    #[inline(always)]
    fn offset<const D: usize, const ROWS: usize>(row: usize, chunk: usize) -> u32 {
        ((chunk / 8) * ROWS * 128 + row * 128 + ((chunk % 8) ^ (row & 7)) * 16) as u32
    }
    #[inline(always)]
    fn eight_rows<const D: usize>() -> u32 {
        8 * 128
    }
}

/// Issue `cp.async` copies (by the block's `32·W` threads) of rows
/// `row0..row0+ROWS` of one head into a tile laid out by `L`; rows at or past
/// `seqlen` are zero-filled (their source address is the head's row 0 and
/// nothing is read from it).
///
/// Each thread copies chunk `c` of rows `r, r + P, r + 2P, …` (`P` rows per
/// pass of the block). Its source pointer advances by `P` rows through
/// [`opaque_ptr`], and its destination is one opaque base plus constants:
/// computed naively, LLVM hoists every copy's address out of the tile loop
/// into its own 64-bit register.
///
/// # Safety
/// `dst` holds `ROWS·D` elements of shared memory; `src` is valid for `strides`
/// up to `seqlen`; `ROWS·D/8` is a multiple of the block's `32·W` threads.
#[inline(always)]
pub unsafe fn load_tile_async<L: TileLayout, const D: usize, const ROWS: usize, const W: usize>(
    dst: Shared,
    src: u64,
    strides: Strides,
    (b, h): (u32, u32),
    row0: u32,
    seqlen: u32,
) {
    let (chunks, threads) = (D / CHUNK, 32 * W);
    let pass_rows = threads / chunks;
    let tid = thread_idx() as usize;
    let (r, c) = (tid / chunks, tid % chunks);
    // SAFETY (pointer arithmetic): (b, row, h, c·8) is inside the tensor for
    // every row < seqlen; rows ≥ seqlen are never read.
    let head_row0 = unsafe {
        (src as *const u16).offset(strides.offset(b, 0, h) + (c * CHUNK) as isize) as *const u8
    };
    let row_bytes = strides.seq as isize * 2;
    let mut from = opaque_ptr(head_row0.wrapping_offset((row0 as usize + r) as isize * row_bytes));
    let to = dst.byte_add(L::offset::<D, ROWS>(r, c)).opaque();
    let rows_left = seqlen as i64 - (row0 as usize + r) as i64;
    for k in 0..ROWS / pass_rows {
        let valid = ((k * pass_rows) as i64) < rows_left;
        // With whole groups of 8 rows per pass, every row this thread copies
        // has the same swizzle, so its destinations differ by constants.
        let dst_k = if pass_rows % 8 == 0 {
            to.byte_add((k * pass_rows / 8) as u32 * L::eight_rows::<D>())
        } else {
            dst.byte_add(L::offset::<D, ROWS>(r + k * pass_rows, c))
        };
        // SAFETY: the tile holds ROWS·D elements; a valid row is inside the tensor.
        unsafe {
            cp_async_16(
                dst_k,
                if valid { from } else { head_row0 },
                if valid { 16 } else { 0 },
            )
        };
        from = opaque_ptr(from.wrapping_offset(pass_rows as isize * row_bytes));
    }
}

/// Issue the copies of key tile `n` (K and V rows `n·BN ..`) of KV head
/// `(b, kv_head)` into `(k_dst, v_dst)` and commit them as one group. Past
/// the last visible tile (`n ≥ n_tiles`) the group is empty but still
/// committed, so the group count is the same every iteration.
///
/// # Safety
/// As [`load_tile_async`] for both tiles.
#[inline(always)]
pub unsafe fn issue_kv_tile<L: TileLayout, const D: usize, const BN: usize, const W: usize>(
    (k_dst, v_dst): (Shared, Shared),
    p: &AttnParams,
    (b, kv_head): (u32, u32),
    n: usize,
    n_tiles: usize,
) {
    if n < n_tiles {
        let n0 = (n * BN) as u32;
        // SAFETY: forwarded to the caller.
        unsafe {
            load_tile_async::<L, D, BN, W>(k_dst, p.k, p.k_strides, (b, kv_head), n0, p.seqlen_k);
            load_tile_async::<L, D, BN, W>(v_dst, p.v, p.v_strides, (b, kv_head), n0, p.seqlen_k);
        }
    }
    cp_async_commit();
}

/// `cp.async.wait_group STAGES−2`: the oldest in-flight tile has landed, in
/// a ring of `STAGES` buffers with `STAGES − 1` tiles in flight.
#[inline(always)]
pub fn wait_oldest_tile<const STAGES: usize>() {
    wait_oldest_of(STAGES - 1)
}

/// `cp.async.wait_group in_flight−1` (`in_flight` from 1 to 3, a constant
/// after inlining): of `in_flight` tile groups, the oldest has landed.
#[inline(always)]
pub fn wait_oldest_of(in_flight: usize) {
    match in_flight {
        1 => cp_async_wait::<0>(),
        2 => cp_async_wait::<1>(),
        _ => cp_async_wait::<2>(),
    }
}
