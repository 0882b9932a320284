//! The PyTorch side of `--compare torch`: `scripts/sdpa_baseline.py` runs as a
//! child process, one JSON request per line on its stdin, one JSON reply per
//! line on its stdout. The script only launches SDPA and reports raw CUDA-event
//! times and clock readings; the statistics stay here, so tileattn and torch
//! are measured by one protocol ([`crate::timing`]): the script warms up by
//! the same [`WarmupRule`](crate::timing::WarmupRule) and queues the same filler behind each request's
//! samples, from a measurement's first `sample` request to its `end`.
//!
//! A hung or crashed script cannot hang tileattn: replies are read on a thread
//! and waited for with a timeout, and every failure says what the script last
//! wrote on stderr. A machine without python3, torch or a GPU is not an error:
//! [`TorchSide::spawn`] says [`Started::Unavailable`] and tileattn runs alone.

//!
//! [`wire`]: the request/reply format; [`child`]: the process, its stderr and
//! timeouts; [`side`]: [`TorchSide`], the running script; [`sampling`]: one
//! measurement by the adaptive rule.

pub mod child;
pub mod sampling;
pub mod side;
pub mod wire;

pub use child::Timeouts;
pub use sampling::time_backend;
pub use side::{Started, TorchSide, default_python, default_script};
pub use wire::{
    Backend, DEFAULT_LEAD_US, Hello, Loaded, Outcome, PROTOCOL, Plan, Samples, Sampling,
};
