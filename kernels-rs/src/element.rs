//! The two 16-bit input types. Tensors hold raw `u16` bits; these marker
//! types say how to read and write them and which `mma` form to use.

use crate::prims::{self, WgmmaDesc};

/// The input dtype as a value (registry, CLI, reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F16,
    Bf16,
}

impl DType {
    pub const ALL: [DType; 2] = [DType::F16, DType::Bf16];

    /// The name used in entry points, files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F16 => "f16",
            DType::Bf16 => "bf16",
        }
    }

    pub fn parse(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// A 16-bit floating-point input type with f32 accumulation.
pub trait Element: Copy + Send + Sync + 'static {
    /// Short name used in entry points and reports (`f16`, `bf16`).
    const NAME: &'static str;
    fn to_f32(bits: u16) -> f32;
    fn from_f32(x: f32) -> u16;
    /// Two f32 rounded into one 32-bit register of two elements, `lo` low.
    fn pack2(lo: f32, hi: f32) -> u32;
    /// `mma.sync.m16n8k16` with this input type and f32 accumulation.
    fn mma(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4];
    /// [`prims::wgmma_ss_bf16`] (or its f16 twin) with this input type.
    ///
    /// # Safety
    /// As the prim.
    unsafe fn wgmma_ss<const N8: usize>(
        acc: &mut [[f32; 4]; N8],
        a: [WgmmaDesc; 4],
        b: [WgmmaDesc; 4],
    );
    /// [`prims::wgmma_rs_bf16`] (or its f16 twin) with this input type.
    ///
    /// # Safety
    /// As the prim.
    unsafe fn wgmma_rs<const N8: usize>(
        acc: &mut [[f32; 4]; N8],
        a: [[u32; 4]; 4],
        b: [WgmmaDesc; 4],
    );
    /// [`prims::wgmma_ss_bf16_issue`] (or its f16 twin) with this input type.
    ///
    /// # Safety
    /// As the prim.
    unsafe fn wgmma_ss_issue<const N8: usize>(
        acc: &mut [[f32; 4]; N8],
        a: [WgmmaDesc; 4],
        b: [WgmmaDesc; 4],
    );
    /// [`prims::wgmma_rs_bf16_issue`] (or its f16 twin) with this input type.
    ///
    /// # Safety
    /// As the prim.
    unsafe fn wgmma_rs_issue<const N8: usize>(
        acc: &mut [[f32; 4]; N8],
        a: [[u32; 4]; 4],
        b: [WgmmaDesc; 4],
    );
}

/// IEEE binary16.
#[derive(Clone, Copy, Debug)]
pub struct F16;
/// bfloat16.
#[derive(Clone, Copy, Debug)]
pub struct Bf16;

/// The `Element` impl of one type: which prims read, write, pack and multiply it.
macro_rules! element {
    ($ty:ident, $name:literal, $to_f32:ident, $from_f32:ident, $pack2:ident, $mma:ident,
     $wgmma_ss:ident, $wgmma_rs:ident, $wgmma_ss_issue:ident, $wgmma_rs_issue:ident) => {
        impl Element for $ty {
            const NAME: &'static str = $name;
            #[inline(always)]
            fn to_f32(bits: u16) -> f32 {
                prims::$to_f32(bits)
            }
            #[inline(always)]
            fn from_f32(x: f32) -> u16 {
                prims::$from_f32(x)
            }
            #[inline(always)]
            fn pack2(lo: f32, hi: f32) -> u32 {
                prims::$pack2(lo, hi)
            }
            #[inline(always)]
            fn mma(a: [u32; 4], b: [u32; 2], c: [f32; 4]) -> [f32; 4] {
                prims::$mma(a, b, c)
            }
            #[inline(always)]
            unsafe fn wgmma_ss<const N8: usize>(
                acc: &mut [[f32; 4]; N8],
                a: [WgmmaDesc; 4],
                b: [WgmmaDesc; 4],
            ) {
                // SAFETY: forwarded to the caller.
                unsafe { prims::$wgmma_ss(acc, a, b) }
            }
            #[inline(always)]
            unsafe fn wgmma_rs<const N8: usize>(
                acc: &mut [[f32; 4]; N8],
                a: [[u32; 4]; 4],
                b: [WgmmaDesc; 4],
            ) {
                // SAFETY: forwarded to the caller.
                unsafe { prims::$wgmma_rs(acc, a, b) }
            }
            #[inline(always)]
            unsafe fn wgmma_ss_issue<const N8: usize>(
                acc: &mut [[f32; 4]; N8],
                a: [WgmmaDesc; 4],
                b: [WgmmaDesc; 4],
            ) {
                // SAFETY: forwarded to the caller.
                unsafe { prims::$wgmma_ss_issue(acc, a, b) }
            }
            #[inline(always)]
            unsafe fn wgmma_rs_issue<const N8: usize>(
                acc: &mut [[f32; 4]; N8],
                a: [[u32; 4]; 4],
                b: [WgmmaDesc; 4],
            ) {
                // SAFETY: forwarded to the caller.
                unsafe { prims::$wgmma_rs_issue(acc, a, b) }
            }
        }
    };
}

element!(
    F16,
    "f16",
    f16_to_f32,
    f32_to_f16,
    pack_f16x2,
    mma_f16_m16n8k16,
    wgmma_ss_f16,
    wgmma_rs_f16,
    wgmma_ss_f16_issue,
    wgmma_rs_f16_issue
);
element!(
    Bf16,
    "bf16",
    bf16_to_f32,
    f32_to_bf16,
    pack_bf16x2,
    mma_bf16_m16n8k16,
    wgmma_ss_bf16,
    wgmma_rs_bf16,
    wgmma_ss_bf16_issue,
    wgmma_rs_bf16_issue
);
