//! tileattn's host library.
//!
//! Each module has one concern:
//! - problem and data: [`problem`], [`tensor`];
//! - correctness: [`reference`] (f64), [`emulate`] (kernels on the CPU emulator), [`check`] (random sweeps);
//! - the GPU: [`device`] (cudarc), [`ptxas`] (resource reports);
//! - launching: [`launch`] (checks and parameters shared by GPU and emulator), [`registry`];
//! - results: [`runfile`] (versioned run JSON);
//! - the PyTorch baseline: [`torch_side`] (drives `scripts/sdpa_baseline.py`).

pub mod check;
pub mod device;
pub mod emulate;
pub mod error;
pub mod launch;
pub mod npy;
pub mod problem;
pub mod ptxas;
pub mod reference;
pub mod registry;
pub mod runfile;
pub mod tensor;
pub mod torch_side;

pub use error::{Error, Result};
