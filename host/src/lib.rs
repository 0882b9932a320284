//! tileattn's host library.
//!
//! Each module has one concern:
//! - problem and data: [`problem`], [`domain`] (the numbers the kernels compute right), [`operand_values`] (inputs on another type's values), [`tensor`];
//! - correctness: [`mod@reference`] (f64), [`emulate`] (kernels on the CPU emulator), [`check`] (random sweeps), [`memory`] (host memory a problem needs);
//! - the GPU: [`device`] (cudarc), [`ptxas`] (resource reports);
//! - launching: [`launch`] (checks and parameters shared by GPU and emulator), [`registry`];
//! - measuring: [`timing`] (the GPU timing protocol), [`ceilings`] (copy and mma roofs), [`stats`] (median CIs, ratios, outliers, adaptive stopping),
//!   [`metrics`] (exact FLOPs, minimum bytes, rates, cache residency);
//! - a problem on the device, verified then timed: [`workload`];
//! - what to measure: [`suites`] (built in), [`suite_file`] (user TOML files); a whole benchmark run: [`bench`](mod@bench);
//! - tuning: [`tune`] (verify, time, rank), [`tune_cache`] (per-build tuning results and dispatch through them);
//! - results: [`runfile`] (versioned run JSON, written and read back), [`output`] (the one writer: atomic, all-or-nothing, never over an input or a non-regular file);
//! - from results: [`report`] (Markdown), [`plot`] (SVG figures), [`implementations`] (the order both list them in);
//! - the performance ratchet: [`ratchet`] (runs against baselines, verdicts, upward-only updates);
//! - the PyTorch baseline: [`torch_side`] (drives `scripts/sdpa_baseline.py`).

pub mod bench;
pub mod ceilings;
pub mod check;
pub mod device;
pub mod domain;
pub mod emulate;
pub mod error;
pub mod implementations;
pub mod launch;
pub mod memory;
pub mod metrics;
pub mod npy;
pub mod operand_values;
pub mod output;
pub mod plot;
pub mod problem;
pub mod ptxas;
pub mod ratchet;
pub mod reference;
pub mod registry;
pub mod report;
pub mod runfile;
pub mod stats;
pub mod suite_file;
pub mod suites;
pub mod tensor;
pub mod timing;
pub mod tma;
pub mod torch_side;
pub mod tune;
pub mod tune_cache;
pub mod workload;

pub use error::{Error, Result};
