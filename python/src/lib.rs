//! `tileattn._tileattn`, the native half of the Python package `tileattn`:
//! the kernels of this build (their PTX embedded, as in the CLI) on the
//! caller's tensors.
//!
//! The Python half (`python/tileattn/`) checks what needs torch or numpy to
//! check (types, devices, dtypes, strides) and calls these functions; they
//! take shapes, strides, raw device pointers or f32 bytes, and reuse the
//! host library for everything else: [`inputs`](tileattn::host::inputs) for
//! the problem, [`dispatch`](tileattn::host::dispatch) for the variant,
//! [`Device::prepare_external`](tileattn::host::device::Device::prepare_external)
//! and [`emulate`](tileattn::host::emulate) to run it.
//!
//! - [`errors`]: host errors as Python exceptions; no panic reaches Python.
//! - [`shapes`]: shapes, strides and dtypes as Python passes them.
//! - [`emulator`]: numpy values on the CPU emulator.
//! - [`gpu`]: torch CUDA tensors, zero-copy, on torch's stream.
//! - [`choice`]: the variant of a problem on a GPU, remembered per problem.
//! - [`tuning`]: `tileattn tune` for one problem, into the same cache file.

mod choice;
mod devices;
mod emulator;
mod errors;
mod gpu;
mod shapes;
mod tuning;

use pyo3::prelude::*;

#[pymodule]
fn _tileattn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<errors::Error>())?;
    m.add("NoDeviceError", py.get_type::<errors::NoDeviceError>())?;
    m.add("HEAD_DIMS", tileattn::host::problem::HEAD_DIMS.to_vec())?;
    m.add("COMMIT", tileattn::COMMIT)?;
    m.add_function(wrap_pyfunction!(emulator::attention_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(gpu::attention_cuda, m)?)?;
    m.add_function(wrap_pyfunction!(choice::variant_for, m)?)?;
    m.add_function(wrap_pyfunction!(tuning::tune, m)?)?;
    m.add_function(wrap_pyfunction!(variants, m)?)?;
    Ok(())
}

/// The names of this build's kernel variants, as `tileattn variants` lists them.
#[pyfunction]
fn variants() -> Vec<&'static str> {
    tileattn::registry()
        .variants
        .iter()
        .map(|v| v.name)
        .collect()
}
