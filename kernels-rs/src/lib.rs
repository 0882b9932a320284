//! tileattn's device crate.
//!
//! The attention kernels in this crate are plain Rust generic over their tile
//! configuration (const generics). All hardware access goes through [`prims`],
//! which has two back ends chosen by `cfg(target_arch = "nvptx64")`:
//! inline PTX on the GPU, and a block emulator on the CPU that runs every
//! thread of a block as its own fiber with real barrier and warp-collective
//! semantics. The kernel source itself has no `cfg` of its own, so the code
//! that `cargo test` checks on the CPU is the code that runs on the GPU.
#![no_std]
#![cfg_attr(
    target_arch = "nvptx64",
    feature(
        asm_experimental_arch,
        stdarch_nvptx,
        core_intrinsics,
        gpu_intrinsics,
        gpu_launch_sized_workgroup_mem
    )
)]
#![cfg_attr(target_arch = "nvptx64", allow(internal_features))]

#[cfg(not(target_arch = "nvptx64"))]
extern crate std;

pub mod element;
pub mod flash;
pub mod mask;
pub mod overlap;
pub mod params;
pub mod pipeline;
pub mod prims;
pub mod probes;
pub mod smem_tile;
pub mod tile;
pub mod turns;
pub mod v0;
pub mod v1;
pub mod v2;
pub mod v3;
pub mod v4;

pub use element::{Bf16, DType, Element, F16};
pub use params::{AttnParams, Strides, TmaMaps};
pub use tile::{Arch, Family, Rule, TileConfig};
