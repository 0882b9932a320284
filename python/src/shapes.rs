//! Shapes, strides and dtypes as the Python half passes them: Python ints,
//! checked into what the host library takes.

use tileattn::host::inputs;
use tileattn::host::launch::TensorDesc;
use tileattn::host::problem::Problem;
use tileattn::host::{Error, Result};
use tileattn::kernels::{DType, Strides};

/// `[batch, seq, heads, head_dim]` of the tensor `name`.
pub fn shape(name: &str, dims: [u64; 4]) -> Result<[u32; 4]> {
    let mut out = [0u32; 4];
    for (o, d) in out.iter_mut().zip(dims) {
        *o = u32::try_from(d).map_err(|_| {
            Error::Invalid(format!(
                "{name}: dimension {d} of shape {dims:?} exceeds the 2^32 the kernels index"
            ))
        })?;
    }
    Ok(out)
}

/// The problem of Q, K and V of these shapes (Python ints), checked as the
/// CLI checks it.
pub fn problem(
    [q, k, v]: [[u64; 4]; 3],
    dtype: DType,
    causal: bool,
    scale: Option<f32>,
) -> Result<Problem> {
    inputs::problem(
        shape("q", q)?,
        shape("k", k)?,
        shape("v", v)?,
        dtype,
        causal,
        scale,
    )
}

/// The compute dtype named `name` (`f16`, `bf16`).
pub fn dtype(name: &str) -> Result<DType> {
    DType::parse(name)
        .ok_or_else(|| Error::Invalid(format!("dtype `{name}`: expected f16 or bf16")))
}

/// The description of the tensor `name` of `dtype` from its shape and its
/// strides in elements, `[batch, seq, heads, head_dim]` order.
pub fn desc(name: &str, dtype: DType, dims: [u64; 4], strides: [i64; 4]) -> Result<TensorDesc> {
    let [batch, seq, head, dim] = strides;
    if dim != 1 {
        return Err(Error::Invalid(format!(
            "{name}: the head_dim stride must be 1 (contiguous rows), it is {dim}"
        )));
    }
    if strides.iter().any(|&s| s < 0) {
        return Err(Error::Invalid(format!(
            "{name}: negative strides {strides:?} are not supported"
        )));
    }
    Ok(TensorDesc {
        dtype,
        shape: shape(name, dims)?,
        strides: Strides { batch, seq, head },
    })
}
