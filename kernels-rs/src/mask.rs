//! Index arithmetic of the causal mask and the key-tile range, shared by every
//! kernel and unit-tested on the CPU.
//!
//! Causal attention is bottom-right aligned (FlashAttention ≥ 2.1): query row
//! `i` sees key `j` iff `j <= i + seqlen_k - seqlen_q`. When
//! `seqlen_q > seqlen_k` the first rows see no key at all; their output is 0 and
//! their log-sum-exp is −∞.

/// Last key index (exclusive) that query row `row` may attend to.
#[inline(always)]
pub const fn causal_key_end(row: u32, seqlen_q: u32, seqlen_k: u32) -> i64 {
    let end = row as i64 + 1 + seqlen_k as i64 - seqlen_q as i64;
    if end < 0 {
        0
    } else if end > seqlen_k as i64 {
        seqlen_k as i64
    } else {
        end
    }
}

/// Number of key tiles of width `block_n` that the query tile starting at row
/// `m0` (height `block_m`) must visit. Tiles past it are fully masked and are
/// never loaded.
#[inline(always)]
pub const fn key_tiles(
    m0: u32,
    block_m: u32,
    block_n: u32,
    seqlen_q: u32,
    seqlen_k: u32,
    causal: bool,
) -> u32 {
    let end = if causal {
        let last_row = m0 + block_m - 1;
        let last_row = if last_row >= seqlen_q {
            seqlen_q - 1
        } else {
            last_row
        };
        causal_key_end(last_row, seqlen_q, seqlen_k) as u32
    } else {
        seqlen_k
    };
    end.div_ceil(block_n)
}

/// Whether the key tile starting at `n0` needs any masking for the query tile
/// starting at `m0`: it crosses the end of the keys, or (causal) the diagonal.
/// Tiles for which this is false run the unmasked fast path.
#[inline(always)]
pub const fn tile_needs_mask(
    m0: u32,
    n0: u32,
    block_n: u32,
    seqlen_q: u32,
    seqlen_k: u32,
    causal: bool,
) -> bool {
    if n0 + block_n > seqlen_k {
        return true;
    }
    causal && ((n0 + block_n) as i64 > causal_key_end(m0, seqlen_q, seqlen_k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_end(row: u32, sq: u32, sk: u32) -> i64 {
        (0..sk as i64)
            .filter(|&j| j <= row as i64 + sk as i64 - sq as i64)
            .count() as i64
    }

    #[test]
    fn causal_end_matches_brute_force() {
        for sq in 1..20 {
            for sk in 1..20 {
                for row in 0..sq {
                    assert_eq!(
                        causal_key_end(row, sq, sk),
                        brute_end(row, sq, sk),
                        "{sq} {sk} {row}"
                    );
                }
            }
        }
    }

    #[test]
    fn key_tiles_cover_every_visible_key_and_no_empty_tile() {
        for causal in [false, true] {
            for sq in 1..40 {
                for sk in 1..40 {
                    for (bm, bn) in [(4, 4), (8, 4), (4, 8), (16, 16)] {
                        for m0 in (0..sq).step_by(bm as usize) {
                            let tiles = key_tiles(m0, bm, bn, sq, sk, causal);
                            let rows = m0..(m0 + bm).min(sq);
                            let end = rows
                                .map(|r| {
                                    if causal {
                                        causal_key_end(r, sq, sk)
                                    } else {
                                        sk as i64
                                    }
                                })
                                .max()
                                .unwrap();
                            assert_eq!(tiles as i64, (end + bn as i64 - 1) / bn as i64);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn unmasked_tiles_really_need_no_mask() {
        for causal in [false, true] {
            for sq in 1..30 {
                for sk in 1..30 {
                    let (bm, bn) = (4, 4);
                    for m0 in (0..sq).step_by(bm as usize) {
                        for n0 in (0..sk).step_by(bn as usize) {
                            if tile_needs_mask(m0, n0, bn, sq, sk, causal) {
                                continue;
                            }
                            for r in m0..(m0 + bm).min(sq) {
                                for j in n0..n0 + bn {
                                    assert!(j < sk);
                                    assert!(!causal || (j as i64) < causal_key_end(r, sq, sk));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
