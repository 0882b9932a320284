//! numpy arrays (and CPU tensors) on the CPU emulator: the same kernel source
//! the GPU runs, on f32 values rounded to the compute dtype, exactly as
//! `tileattn run --emulate` runs `.npy` files.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tileattn::host::tensor::Layout;
use tileattn::host::{Error, Result, emulate, inputs};

use crate::errors::guarded;
use crate::{choice, shapes};

/// One array as Python passes it: its values as little-endian f32 bytes
/// (dense, BSHD order) and its shape.
type HostArray = (Vec<u8>, [u64; 4]);

/// O `[batch, seqlen_q, heads_q, head_dim]` and LSE `[batch, heads_q,
/// seqlen_q]` of attention on `q`, `k`, `v`, as little-endian f32 bytes.
#[pyfunction]
#[pyo3(signature = (q, k, v, dtype, causal, scale, variant))]
#[allow(clippy::too_many_arguments)]
pub fn attention_cpu<'py>(
    py: Python<'py>,
    q: HostArray,
    k: HostArray,
    v: HostArray,
    dtype: String,
    causal: bool,
    scale: Option<f32>,
    variant: Option<String>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    // The emulator takes seconds: let other Python threads run meanwhile.
    let (o, lse) = py.detach(|| {
        guarded(|| {
            let dtype = shapes::dtype(&dtype)?;
            let p = shapes::problem([q.1, k.1, v.1], dtype, causal, scale)?;
            let [qt, kt, vt] =
                inputs::tensors(&p, &f32s("q", &q.0)?, &f32s("k", &k.0)?, &f32s("v", &v.0)?)?;
            let pick = choice::on_emulator(&p, variant.as_deref())?;
            let (o, lse) = emulate::run(pick.variant, &p, &qt, &kt, &vt, Layout::Bshd)?;
            Ok((le_bytes(&inputs::bshd_f32(&o)), le_bytes(&lse)))
        })
    })?;
    Ok((PyBytes::new(py, &o), PyBytes::new(py, &lse)))
}

fn f32s(name: &str, bytes: &[u8]) -> Result<Vec<f32>> {
    let chunks = bytes.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return Err(Error::Invalid(format!(
            "{name}: {} bytes are not a whole number of f32 values",
            bytes.len()
        )));
    }
    Ok(chunks
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}
