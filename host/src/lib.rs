//! tileattn's host library.
//!
//! Three layers, each importing only from those before it (and no module
//! importing, directly or around a loop, one that imports it back:
//! `tests/module_cycles.rs` fails on any import cycle between modules). Each
//! module has one concern.
//!
//! **Core**, plain data that knows no device:
//! [`error`], [`output`] (the one writer: atomic, all-or-nothing, never over
//! an input or a non-regular file), [`utc`] (timestamps),
//! [`element`] (f16/bf16 bits), [`operand_values`], [`problem_key`] (a problem
//! as files write it), [`problem`], [`memory`] (host and device memory a problem
//! needs), [`tensor`], [`npy`], [`mod@reference`] (f64 attention),
//! [`implementations`] (the order reports and figures list them in).
//!
//! **Runtime**, running a variant: [`registry`] (this build's variants and
//! PTX), [`launch`] (checks and parameters shared by GPU and emulator),
//! [`domain`] (the numbers the kernels compute right, checked before a launch),
//! [`inputs`] (a caller's Q, K and V into a problem and the kernels' inputs,
//! for every front end), [`tma`] (tensor maps for the copy engine),
//! [`device`] (cudarc; launches on tileattn's buffers or a caller's),
//! [`emulate`] (the CPU emulator), [`ptxas`] (resource reports) and
//! [`occupancy`] (blocks per SM from them), [`tune_cache`] (per-build tuning
//! results), and [`dispatch`], the one place a variant is chosen for a
//! problem.
//!
//! **Lab**, measuring and reporting: what to measure ([`suites`],
//! [`suite_file`]); the run-file schema [`runfile`] and [`run_record`] (a run
//! file around a device's measurements); [`metrics`] (FLOPs, bytes, rates),
//! [`stats`] (median CIs, ratios, outliers, adaptive stopping), [`timing`]
//! (the GPU timing protocol), [`ceilings`] (copy and mma roofs); [`workload`]
//! (a problem on the device, verified then timed), [`check`] (random sweeps),
//! [`tune`] (verify, time, rank), [`torch_side`] (PyTorch's SDPA through
//! `scripts/sdpa_baseline.py`), [`bench`](mod@bench) (a whole benchmark run);
//! [`report`] (Markdown), [`plot`] (SVG figures), [`ratchet`] (runs against
//! baselines) and [`compare`] (two runs side by side, by the ratchet's rule).

pub mod bench;
pub mod ceilings;
pub mod check;
pub mod compare;
pub mod device;
pub mod dispatch;
pub mod domain;
pub mod element;
pub mod emulate;
pub mod error;
pub mod implementations;
pub mod inputs;
pub mod launch;
pub mod memory;
pub mod metrics;
pub mod npy;
pub mod occupancy;
pub mod operand_values;
pub mod output;
pub mod plot;
pub mod problem;
pub mod problem_key;
pub mod ptxas;
pub mod ratchet;
pub mod reference;
pub mod registry;
pub mod report;
pub mod run_record;
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
pub mod utc;
pub mod workload;

pub use error::{Error, Result};
