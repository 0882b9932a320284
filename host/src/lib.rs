//! tileattn's host library.
//!
//! Each module has one concern:
//! - problem and data: [`dtype`], [`problem`], [`tensor`], [`metrics`];
//! - correctness: [`reference`] (f64), [`emulate`] (kernels on the CPU emulator), [`check`];
//! - the GPU: [`device`] (cudarc), [`registry`] (variant descriptions), [`ptxas`];
//! - measurement: [`stats`] (bootstrap, outliers, adaptive stopping), [`cache`] (tuning cache);
//! - results: [`runfile`] (versioned run JSON), [`report`] (Markdown), [`plot`] (SVG), [`ratchet`].

pub mod error;
pub mod runfile;

pub use error::{Error, Result};
