//! The 16-bit element encodings: an f32 rounded to f16 or bf16 bits, and back.
//! The leaf that tensors, operand values and the device all store through.

use half::{bf16, f16};
use tileattn_kernels::DType;

pub fn to_bits(dtype: DType, x: f32) -> u16 {
    match dtype {
        DType::F16 => f16::from_f32(x).to_bits(),
        DType::Bf16 => bf16::from_f32(x).to_bits(),
    }
}

pub fn from_bits(dtype: DType, b: u16) -> f32 {
    match dtype {
        DType::F16 => f16::from_bits(b).to_f32(),
        DType::Bf16 => bf16::from_bits(b).to_f32(),
    }
}
