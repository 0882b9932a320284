//! tileattn: FlashAttention-style attention kernels written in Rust, compiled
//! to PTX per tile variant at build time, checked against an f64 reference on
//! a CPU emulator and on the GPU, autotuned and measured honestly.
//!
//! This crate is the public face: the generated [`registry()`] of this build's
//! variants, and re-exports of the host library and the kernel crate.

pub use tileattn_host as host;
pub use tileattn_kernels as kernels;

use tileattn_host::registry::Registry;

mod generated {
    use tileattn_host::registry::{Probes, PtxModule, Variant};
    use tileattn_kernels::{Arch, DType, Family, TileConfig};
    include!(concat!(env!("OUT_DIR"), "/registry.rs"));
}

/// Every variant of this build (expanded from `tiles.toml`) and its PTX.
pub fn registry() -> Registry {
    Registry {
        variants: generated::VARIANTS,
        modules: generated::MODULES,
        probes: &generated::PROBES,
    }
}

/// `git describe` of the tree this binary was built from.
pub const COMMIT: &str = env!("TILEATTN_COMMIT");
