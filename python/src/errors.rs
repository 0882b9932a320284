//! Errors as Python exceptions, by the classes the CLI gives exit codes to
//! ([`Kind`]), with the message the CLI prints: invalid input (exit 2) is a
//! `ValueError`, no GPU (exit 3) a `tileattn.NoDeviceError`, anything else
//! (exit 4) a `tileattn.Error`. A panic is caught here and becomes a
//! `tileattn.Error` too: nothing unwinds into Python.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::{PyErr, PyResult, create_exception};
use tileattn::host::error::Kind;

create_exception!(
    tileattn,
    Error,
    PyRuntimeError,
    "A failure tileattn met while running (CUDA, the emulator, I/O, a tool): the CLI's exit code 4."
);
create_exception!(
    tileattn,
    NoDeviceError,
    Error,
    "No GPU to run on (no CUDA driver, or no such device): the CLI's exit code 3."
);

pub fn to_py(e: tileattn::host::Error) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        Kind::Invalid => PyValueError::new_err(message),
        Kind::NoDevice => NoDeviceError::new_err(message),
        Kind::Other => Error::new_err(message),
    }
}

/// `f`'s result, its error or its panic as a Python exception.
pub fn guarded<T>(f: impl FnOnce() -> tileattn::host::Result<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(to_py),
        Err(payload) => Err(Error::new_err(format!(
            "internal error (a bug in tileattn): {}",
            panic_message(payload.as_ref())
        ))),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
