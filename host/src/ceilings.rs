//! This device's ceilings, measured by tileattn's own kernels with the timing
//! protocol of [`crate::timing`]: copy bandwidth (the memory roof) and dense
//! `mma.sync` throughput (the compute roof). Percentages of peak in every
//! report are of these numbers, not of a datasheet.

use cudarc::driver::{DevicePtr, LaunchConfig, PushKernelArg};
use tileattn_kernels::probes::{MMA_CHAINS, MMA_M16N8K16_FLOPS};

use crate::Result;
use crate::device::cuda_err;
use crate::runfile::{CacheMode, Ceilings};
use crate::stats::summarize;
use crate::timing::{Launch, Timed, Timer, TimingConfig};

/// Copy size: far beyond any L2, small against any device memory.
const COPY_BYTES: usize = 1 << 30;
/// Rounds of the mma loop per launch: long enough (about a millisecond on an H100) that
/// launch overhead is noise, short enough to sample many times.
const MMA_ITERS: u32 = 4096;
/// Blocks per SM and warps per block of the mma loop: every SM sub-partition
/// gets several warps, each with [`MMA_CHAINS`] independent chains.
const MMA_BLOCKS_PER_SM: u32 = 4;
const MMA_WARPS_PER_BLOCK: u32 = 8;

/// A closure as a [`Launch`].
struct Enqueue<F: Fn() -> Result<()>>(F);
impl<F: Fn() -> Result<()>> Launch for Enqueue<F> {
    fn enqueue(&self) -> Result<()> {
        (self.0)()
    }
}

/// Both ceilings, each the median of its samples.
pub fn measure(timer: &mut Timer, cfg: &TimingConfig) -> Result<(Ceilings, CeilingDetail)> {
    let copy = copy_gbs(timer, cfg)?;
    let mma = mma_tflops(timer, cfg)?;
    Ok((
        Ceilings {
            copy_gbs: copy.value,
            mma_tflops: mma.value,
        },
        CeilingDetail { copy, mma },
    ))
}

/// One ceiling with the statistics behind it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CeilingReading {
    pub value: f64,
    pub median_ms: f64,
    pub samples: usize,
    pub median_clock_mhz: f64,
    pub low_clock_samples: u32,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct CeilingDetail {
    pub copy: CeilingReading,
    pub mma: CeilingReading,
}

/// Device-to-device copy of [`COPY_BYTES`], counted as bytes read + written.
fn copy_gbs(timer: &mut Timer, cfg: &TimingConfig) -> Result<CeilingReading> {
    let dev = timer.device();
    let chunks = COPY_BYTES / 16;
    let src = dev
        .stream
        .alloc_zeros::<[u32; 4]>(chunks)
        .map_err(cuda_err("allocating the copy source"))?;
    let dst = dev
        .stream
        .alloc_zeros::<[u32; 4]>(chunks)
        .map_err(cuda_err("allocating the copy destination"))?;
    let f = dev.probe_function(dev.registry().probes.copy)?;
    let (s, d) = (src.device_ptr(&dev.stream).0, dst.device_ptr(&dev.stream).0);
    let n = chunks as u64;
    let cfg_launch = LaunchConfig {
        grid_dim: (dev.info.sm_count * 16, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let launch = Enqueue(|| {
        let mut b = dev.stream.launch_builder(&f);
        b.arg(&s).arg(&d).arg(&n);
        // SAFETY: both buffers hold `n` 16-byte chunks and are alive for the timing.
        unsafe { b.launch(cfg_launch) }
            .map(|_| ())
            .map_err(cuda_err("launching the copy kernel"))
    });
    // The copy is far larger than L2 either way; cold keeps the protocol uniform.
    let timed = timer.time(&[&launch], &with_mode(cfg, CacheMode::Cold))?;
    reading(&timed, cfg, 2.0 * COPY_BYTES as f64 / 1e9)
}

/// Dense bf16 `mma.sync.m16n8k16` throughput.
fn mma_tflops(timer: &mut Timer, cfg: &TimingConfig) -> Result<CeilingReading> {
    let dev = timer.device();
    let blocks = dev.info.sm_count * MMA_BLOCKS_PER_SM;
    let threads = MMA_WARPS_PER_BLOCK * 32;
    let out = dev
        .stream
        .alloc_zeros::<f32>((blocks * threads) as usize)
        .map_err(cuda_err("allocating the mma loop's output"))?;
    let f = dev.probe_function(dev.registry().probes.mma_bf16)?;
    let o = out.device_ptr(&dev.stream).0;
    let iters = MMA_ITERS;
    let cfg_launch = LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    };
    let launch = Enqueue(|| {
        let mut b = dev.stream.launch_builder(&f);
        b.arg(&o).arg(&iters);
        // SAFETY: whole warps, one output slot per launched thread.
        unsafe { b.launch(cfg_launch) }
            .map(|_| ())
            .map_err(cuda_err("launching the mma loop"))
    });
    let timed = timer.time(&[&launch], &with_mode(cfg, CacheMode::Hot))?;
    let warps = (blocks * MMA_WARPS_PER_BLOCK) as f64;
    let flops = warps * iters as f64 * MMA_CHAINS as f64 * MMA_M16N8K16_FLOPS as f64;
    reading(&timed, cfg, flops / 1e12)
}

fn with_mode(cfg: &TimingConfig, mode: CacheMode) -> TimingConfig {
    TimingConfig {
        mode,
        ..cfg.clone()
    }
}

/// `work` (GB or TFLOP) over the median time.
fn reading(t: &Timed, cfg: &TimingConfig, work: f64) -> Result<CeilingReading> {
    let s = summarize(&t.samples_ms, &cfg.rule.bootstrap, t.stop)?;
    Ok(CeilingReading {
        value: work / (s.median_ms / 1e3),
        median_ms: s.median_ms,
        samples: t.samples_ms.len(),
        median_clock_mhz: t.clock.median_mhz,
        low_clock_samples: t.clock.low_clock_samples,
    })
}
