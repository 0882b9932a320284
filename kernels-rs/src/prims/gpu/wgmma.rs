//! `wgmma` on the GPU: warpgroup tensor-core chains (sm_90a PTX).
//!
//! The templates name every accumulator register as a positional operand
//! (`{0}` … `{63}`): one asm statement per chain of four k-steps.

use core::arch::asm;

/// The `{0}, {1}, …` operand list of a wgmma accumulator of `N8` 8-column
/// tiles (4 f32 registers each), for the templates below.
macro_rules! acc_regs {
    (8) => {
        "{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}, {16}, {17}, {18}, {19}, {20}, {21}, {22}, {23}, {24}, {25}, {26}, {27}, {28}, {29}, {30}, {31}"
    };
    (16) => {
        "{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}, {16}, {17}, {18}, {19}, {20}, {21}, {22}, {23}, {24}, {25}, {26}, {27}, {28}, {29}, {30}, {31}, {32}, {33}, {34}, {35}, {36}, {37}, {38}, {39}, {40}, {41}, {42}, {43}, {44}, {45}, {46}, {47}, {48}, {49}, {50}, {51}, {52}, {53}, {54}, {55}, {56}, {57}, {58}, {59}, {60}, {61}, {62}, {63}"
    };
}

/// One `wgmma.mma_async` with both operands from shared-memory descriptors,
/// both K-major (no transpose), accumulating (predicate `p` set to 1).
macro_rules! wgmma_ss_line {
    ($n8:tt, $shape:literal, $ty:literal, $a:literal, $b:literal) => {
        concat!(
            "wgmma.mma_async.sync.aligned.",
            $shape,
            ".f32.",
            $ty,
            ".",
            $ty,
            " {{",
            acc_regs!($n8),
            "}}, ",
            $a,
            ", ",
            $b,
            ", p, 1, 1, 0, 0;\n"
        )
    };
}

/// One `wgmma.mma_async` with A from registers and B from a descriptor of an
/// MN-major (transposed) tile.
macro_rules! wgmma_rs_line {
    ($n8:tt, $shape:literal, $ty:literal, $a:literal, $b:literal) => {
        concat!(
            "wgmma.mma_async.sync.aligned.",
            $shape,
            ".f32.",
            $ty,
            ".",
            $ty,
            " {{",
            acc_regs!($n8),
            "}}, {{",
            $a,
            "}}, ",
            $b,
            ", p, 1, 1, 1;\n"
        )
    };
}

/// Two functions per chain: `$name` (fence, four k-steps, commit and wait in
/// one asm block: the accumulator registers are tied operands of a single
/// statement, so LLVM can neither read them nor copy them while the tensor
/// cores still write them) and `$issue` (fence and four k-steps, no commit:
/// the caller commits and later waits with [`wgmma_wait`] on the same
/// registers; the tensor cores write them in between).
macro_rules! wgmma_chain {
    ($form:ident, $name:ident, $issue:ident, $n8:tt, $shape:literal, $ty:literal, $idx:tt) => {
        wgmma_chain!(@fn $form, $name, $n8, $shape, $ty, $idx,
            "wgmma.commit_group.sync.aligned;", "wgmma.wait_group.sync.aligned 0;");
        wgmma_chain!(@fn $form, $issue, $n8, $shape, $ty, $idx);
    };
    (@fn ss, $name:ident, $n8:tt, $shape:literal, $ty:literal, [$($i:tt)*] $(, $tail:literal)*) => {
        /// # Safety
        /// Called by all 128 threads of a warpgroup, converged; descriptors
        /// describe initialised shared memory (until the wait, for `$issue`).
        #[inline(always)]
        pub(crate) unsafe fn $name(acc: &mut [[f32; 4]; $n8], a: [u64; 4], b: [u64; 4]) {
            let f = acc.as_flattened_mut();
            // SAFETY: forwarded to the caller.
            unsafe {
                asm!(
                    "{{",
                    ".reg .pred p;",
                    "setp.ne.b32 p, {one}, 0;",
                    "wgmma.fence.sync.aligned;",
                    wgmma_ss_line!($n8, $shape, $ty, "{a0}", "{b0}"),
                    wgmma_ss_line!($n8, $shape, $ty, "{a1}", "{b1}"),
                    wgmma_ss_line!($n8, $shape, $ty, "{a2}", "{b2}"),
                    wgmma_ss_line!($n8, $shape, $ty, "{a3}", "{b3}"),
                    $($tail,)*
                    "}}",
                    $(inout(reg32) f[$i],)*
                    a0 = in(reg64) a[0], a1 = in(reg64) a[1], a2 = in(reg64) a[2], a3 = in(reg64) a[3],
                    b0 = in(reg64) b[0], b1 = in(reg64) b[1], b2 = in(reg64) b[2], b3 = in(reg64) b[3],
                    one = in(reg32) 1u32,
                    options(nostack),
                )
            }
        }
    };
    (@fn rs, $name:ident, $n8:tt, $shape:literal, $ty:literal, [$($i:tt)*] $(, $tail:literal)*) => {
        /// # Safety
        /// As the `ss` form.
        #[inline(always)]
        pub(crate) unsafe fn $name(acc: &mut [[f32; 4]; $n8], a: [[u32; 4]; 4], b: [u64; 4]) {
            let f = acc.as_flattened_mut();
            // SAFETY: forwarded to the caller.
            unsafe {
                asm!(
                    "{{",
                    ".reg .pred p;",
                    "setp.ne.b32 p, {one}, 0;",
                    "wgmma.fence.sync.aligned;",
                    wgmma_rs_line!($n8, $shape, $ty, "{x00}, {x01}, {x02}, {x03}", "{b0}"),
                    wgmma_rs_line!($n8, $shape, $ty, "{x10}, {x11}, {x12}, {x13}", "{b1}"),
                    wgmma_rs_line!($n8, $shape, $ty, "{x20}, {x21}, {x22}, {x23}", "{b2}"),
                    wgmma_rs_line!($n8, $shape, $ty, "{x30}, {x31}, {x32}, {x33}", "{b3}"),
                    $($tail,)*
                    "}}",
                    $(inout(reg32) f[$i],)*
                    x00 = in(reg32) a[0][0], x01 = in(reg32) a[0][1], x02 = in(reg32) a[0][2], x03 = in(reg32) a[0][3],
                    x10 = in(reg32) a[1][0], x11 = in(reg32) a[1][1], x12 = in(reg32) a[1][2], x13 = in(reg32) a[1][3],
                    x20 = in(reg32) a[2][0], x21 = in(reg32) a[2][1], x22 = in(reg32) a[2][2], x23 = in(reg32) a[2][3],
                    x30 = in(reg32) a[3][0], x31 = in(reg32) a[3][1], x32 = in(reg32) a[3][2], x33 = in(reg32) a[3][3],
                    b0 = in(reg64) b[0], b1 = in(reg64) b[1], b2 = in(reg64) b[2], b3 = in(reg64) b[3],
                    one = in(reg32) 1u32,
                    options(nostack),
                )
            }
        }
    };
}

wgmma_chain!(ss, wgmma_ss_f16_n64, wgmma_ss_f16_n64_issue, 8, "m64n64k16", "f16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
wgmma_chain!(ss, wgmma_ss_bf16_n64, wgmma_ss_bf16_n64_issue, 8, "m64n64k16", "bf16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
wgmma_chain!(ss, wgmma_ss_f16_n128, wgmma_ss_f16_n128_issue, 16, "m64n128k16", "f16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]);
wgmma_chain!(ss, wgmma_ss_bf16_n128, wgmma_ss_bf16_n128_issue, 16, "m64n128k16", "bf16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]);
wgmma_chain!(rs, wgmma_rs_f16_n64, wgmma_rs_f16_n64_issue, 8, "m64n64k16", "f16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
wgmma_chain!(rs, wgmma_rs_bf16_n64, wgmma_rs_bf16_n64_issue, 8, "m64n64k16", "bf16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
wgmma_chain!(rs, wgmma_rs_f16_n128, wgmma_rs_f16_n128_issue, 16, "m64n128k16", "f16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]);
wgmma_chain!(rs, wgmma_rs_bf16_n128, wgmma_rs_bf16_n128_issue, 16, "m64n128k16", "bf16", [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]);

/// `fence.proxy.async.shared::cta`: this thread's generic-proxy writes to
/// shared memory (`cp.async`, stores) become visible to the async proxy, which
/// is how `wgmma` reads its shared operands.
#[inline(always)]
pub(crate) fn fence_proxy_async() {
    // SAFETY: a fence has no preconditions.
    unsafe { asm!("fence.proxy.async.shared::cta;", options(nostack)) }
}

/// `wgmma.commit_group`: the chains issued since the last commit become one
/// group, which [`wgmma_wait_n64`] / [`wgmma_wait_n128`] wait for.
#[inline(always)]
pub(crate) fn wgmma_commit() {
    // SAFETY: commits this warpgroup's issued chains; no operands.
    unsafe { asm!("wgmma.commit_group.sync.aligned;", options(nostack)) }
}

/// `wgmma.wait_group PENDING` (0 or 1) with one accumulator's registers as
/// tied operands: LLVM sees them written here, so nothing that reads them is
/// placed before the wait. The operands are named in a PTX comment only.
macro_rules! wgmma_wait {
    ($name:ident, $n8:tt, [$($i:tt)*]) => {
        /// # Safety
        /// Called by all 128 threads of a warpgroup, converged; `acc` is the
        /// accumulator of a committed group with at most `PENDING` groups
        /// committed after it.
        #[inline(always)]
        pub(crate) unsafe fn $name<const PENDING: usize>(acc: &mut [[f32; 4]; $n8]) {
            const { assert!(PENDING <= 1, "wgmma waits here: 0 or 1 groups pending") };
            let f = acc.as_flattened_mut();
            // SAFETY: forwarded to the caller.
            unsafe {
                if PENDING == 0 {
                    asm!(
                        concat!("wgmma.wait_group.sync.aligned 0; /* ", acc_regs!($n8), " */"),
                        $(inout(reg32) f[$i],)*
                        options(nostack),
                    )
                } else {
                    asm!(
                        concat!("wgmma.wait_group.sync.aligned 1; /* ", acc_regs!($n8), " */"),
                        $(inout(reg32) f[$i],)*
                        options(nostack),
                    )
                }
            }
        }
    };
}

wgmma_wait!(wgmma_wait_n64, 8, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31]);
wgmma_wait!(wgmma_wait_n128, 16, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63]);
