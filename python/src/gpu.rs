//! torch CUDA tensors on the GPU: the kernel reads Q, K and V where torch
//! keeps them, with their strides, and writes the O and LSE torch allocated,
//! on torch's current stream in the device's primary context (torch's). No
//! copy, no synchronisation: the call only enqueues the kernel, so it can be
//! captured in a CUDA graph.

use pyo3::prelude::*;
use tileattn::host::device::{CUstream, ExternalTensor};
use tileattn::host::inputs;
use tileattn::host::launch::TensorDesc;

use crate::errors::guarded;
use crate::{choice, devices, shapes};

/// One tensor as Python passes it: its data pointer, its shape and its
/// strides in elements, both `[batch, seq, heads, head_dim]`.
type DeviceArray = (u64, [u64; 4], [i64; 4]);

/// Enqueue attention on `q`, `k`, `v` into `o` `[batch, seqlen_q, heads_q,
/// head_dim]` and the f32 `lse` `[batch, heads_q, seqlen_q]` (contiguous), on
/// the CUDA `stream` of GPU `device`. Returns the tuning cache's notices
/// (none once the choice for this problem is remembered).
///
/// Only `tileattn._torch` calls this: every pointer must be a live
/// allocation of that device, large enough for its shape and strides, and
/// `stream` a stream of that device's primary context; O and LSE must be
/// written by nothing else until the kernel has run.
#[pyfunction]
#[pyo3(signature = (device, stream, q, k, v, o, lse, dtype, causal, scale, variant))]
#[allow(clippy::too_many_arguments)]
pub fn attention_cuda(
    device: usize,
    stream: u64,
    q: DeviceArray,
    k: DeviceArray,
    v: DeviceArray,
    o: DeviceArray,
    lse: u64,
    dtype: String,
    causal: bool,
    scale: Option<f32>,
    variant: Option<String>,
) -> PyResult<Vec<String>> {
    guarded(|| {
        let dtype = shapes::dtype(&dtype)?;
        let desc = |name, (addr, dims, strides): DeviceArray| -> tileattn::host::Result<_> {
            let desc: TensorDesc = shapes::desc(name, dtype, dims, strides)?;
            Ok(ExternalTensor { addr, desc })
        };
        let [q, k, v, o] = [desc("q", q)?, desc("k", k)?, desc("v", v)?, desc("o", o)?];
        let p = inputs::problem(
            q.desc.shape,
            k.desc.shape,
            v.desc.shape,
            dtype,
            causal,
            scale,
        )?;
        let gpu = devices::open(device)?;
        let chosen = choice::on_gpu(&gpu, device, &p, variant.as_deref())?;
        // SAFETY: the caller's promises above: the stream belongs to this
        // device's primary context and torch keeps it alive; the pointers
        // are live allocations covering their shapes and strides, and O and
        // LSE (`[batch, heads_q, seqlen_q]`, contiguous) are ours to write.
        let launch = unsafe {
            let stream = gpu.borrowed_stream(stream as usize as CUstream);
            gpu.prepare_external(chosen.variant, &p, [&q, &k, &v, &o], lse, stream)?
        };
        launch.launch()?;
        Ok(chosen.notices)
    })
}
