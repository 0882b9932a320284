//! How many blocks of a variant one SM holds at once, from what ptxas says
//! it uses (registers per thread, static shared memory) and what the variant
//! asks for (threads, dynamic shared memory), by the rules of NVIDIA's
//! occupancy calculator (`cuda_occupancy.h`) for compute capability 8.x and
//! 9.0. Without a GPU, so `tileattn variants --resources` can tell a tile
//! that fits two blocks per SM from one that fits one.
//!
//! It is the upper bound the hardware allows, with the largest shared-memory
//! carveout: the driver may configure less shared memory per SM, never more.

use serde::Serialize;
use tileattn_kernels::Arch;

/// Threads of a warp.
const WARP: u32 = 32;
/// Registers of an SM (every arch here): 64 K 32-bit registers, in four
/// sub-partitions, each warp's allocated within one of them.
const REGISTERS_PER_SM: u32 = 65536;
const SUB_PARTITIONS: u32 = 4;
/// Registers are allocated per warp in units of 256.
const REGISTER_UNIT: u32 = 256;
const MAX_REGISTERS_PER_THREAD: u32 = 255;
/// The driver reserves 1 KB of shared memory per block (compute capability 8.0 and later).
pub const RESERVED_SMEM_PER_BLOCK: usize = 1024;
/// Shared memory is allocated per block in units of 128 bytes.
const SMEM_UNIT: usize = 128;

/// What one SM of an arch holds (CUDA C++ Programming Guide, technical
/// specifications per compute capability).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sm {
    max_threads: u32,
    max_blocks: u32,
    /// With the largest carveout: the opt-in limit per block plus the
    /// reserved kilobyte, which is how the guide's two numbers relate.
    smem_bytes: usize,
}

impl Sm {
    fn of(arch: Arch) -> Sm {
        let (max_threads, max_blocks) = match arch {
            Arch::Sm80 | Arch::Sm90 | Arch::Sm90a => (2048, 32),
            Arch::Sm86 => (1536, 16),
            Arch::Sm89 => (1536, 24),
        };
        Sm {
            max_threads,
            max_blocks,
            smem_bytes: arch.max_smem_per_block() + RESERVED_SMEM_PER_BLOCK,
        }
    }
}

/// The resource that holds the block count down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limiter {
    Registers,
    SharedMemory,
    Threads,
    /// The arch's cap on resident blocks.
    Blocks,
}

impl Limiter {
    pub fn name(self) -> &'static str {
        match self {
            Limiter::Registers => "registers",
            Limiter::SharedMemory => "shared memory",
            Limiter::Threads => "threads",
            Limiter::Blocks => "block limit",
        }
    }
}

/// Resident blocks per SM, and what limits them (0: the block cannot launch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Occupancy {
    pub blocks_per_sm: u32,
    pub limited_by: Limiter,
}

/// Blocks per SM on `arch` of a kernel of `threads` per block, `registers`
/// per thread and `smem_bytes` of shared memory per block (static and
/// dynamic, without the driver's reserve).
pub fn occupancy(arch: Arch, threads: u32, registers: u32, smem_bytes: usize) -> Occupancy {
    let sm = Sm::of(arch);
    let warps = threads.div_ceil(WARP);
    let by_registers = if registers > MAX_REGISTERS_PER_THREAD {
        0
    } else if registers == 0 {
        u32::MAX
    } else {
        let per_warp = (registers * WARP).next_multiple_of(REGISTER_UNIT);
        // The launch check assumes a block's warps spread over all
        // sub-partitions; residency is counted per sub-partition.
        let per_block = per_warp * warps.next_multiple_of(SUB_PARTITIONS);
        if per_block > REGISTERS_PER_SM {
            0
        } else {
            (REGISTERS_PER_SM / SUB_PARTITIONS / per_warp) * SUB_PARTITIONS / warps
        }
    };
    let smem = (smem_bytes + RESERVED_SMEM_PER_BLOCK).next_multiple_of(SMEM_UNIT);
    let by_smem = if smem_bytes > arch.max_smem_per_block() {
        0
    } else {
        u32::try_from(sm.smem_bytes / smem).unwrap_or(u32::MAX)
    };
    let by_threads = if threads > 1024 {
        0
    } else {
        sm.max_threads / WARP / warps
    };
    [
        (by_registers, Limiter::Registers),
        (by_smem, Limiter::SharedMemory),
        (by_threads, Limiter::Threads),
        (sm.max_blocks, Limiter::Blocks),
    ]
    .into_iter()
    .min_by_key(|&(blocks, _)| blocks)
    .map(|(blocks_per_sm, limited_by)| Occupancy {
        blocks_per_sm,
        limited_by,
    })
    .unwrap_or(Occupancy {
        blocks_per_sm: 0,
        limited_by: Limiter::Blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(arch: Arch, threads: u32, registers: u32, smem: usize) -> (u32, Limiter) {
        let o = occupancy(arch, threads, registers, smem);
        (o.blocks_per_sm, o.limited_by)
    }

    #[test]
    fn each_resource_limits_in_its_turn() {
        use Limiter::*;
        // 255 registers: 8160 per warp, allocated as 8192; 2 warps per
        // sub-partition, 8 per SM: two 128-thread blocks.
        assert_eq!(blocks(Arch::Sm90, 128, 255, 0), (2, Registers));
        // 168 registers (5376 per warp): 3 warps per sub-partition, 12 per
        // SM: one block of 8 warps.
        assert_eq!(blocks(Arch::Sm90, 256, 168, 32768), (1, Registers));
        // 96 KB of shared memory (+1 KB reserved): two blocks in 228 KB, one in 100 KB.
        assert_eq!(blocks(Arch::Sm90a, 128, 64, 96 * 1024), (2, SharedMemory));
        assert_eq!(blocks(Arch::Sm89, 128, 64, 96 * 1024), (1, SharedMemory));
        // Few registers, little memory: 1536 threads of an sm_89 SM, 48 warps.
        assert_eq!(blocks(Arch::Sm89, 256, 32, 1024), (6, Threads));
        assert_eq!(blocks(Arch::Sm90, 32, 16, 0), (32, Blocks));
        assert_eq!(blocks(Arch::Sm89, 32, 16, 0), (24, Blocks));
    }

    #[test]
    fn blocks_that_cannot_launch_fit_zero_times() {
        assert_eq!(blocks(Arch::Sm90, 128, 256, 0), (0, Limiter::Registers));
        // 1024 threads of 72 registers: 73728 registers, over the 64 K a block may hold.
        assert_eq!(blocks(Arch::Sm90, 1024, 72, 0), (0, Limiter::Registers));
        assert_eq!(
            blocks(Arch::Sm89, 128, 32, 100 * 1024),
            (0, Limiter::SharedMemory)
        );
    }
}
