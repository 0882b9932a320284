//! The timing engine: how one launchable thing is timed on the GPU.
//!
//! # Protocol (the same for every kernel tileattn times)
//! 1. **Warm-up by time**: the launch is repeated until `warmup` of wall time
//!    has passed (clocks ramp up, the module is JIT-compiled and loaded,
//!    instruction caches and TLBs fill), doubling the count between syncs.
//! 2. **Samples in batches.** For each sample, in stream order:
//!    - cold mode (the default): the L2 flush — a `memset` of a buffer twice
//!      the device's L2, which evicts everything the previous sample left;
//!    - the clock probe ([`tileattn_kernels::probes::clock_probe`]): one
//!      thread spins [`PROBE_SPIN_NS`] on `%globaltimer` and records the SM
//!      cycles it saw, so each sample carries the SM clock right before it. The
//!      probe also keeps the GPU busy while the host enqueues the timed launch,
//!      so no sample includes host launch latency;
//!    - start event, the launch, end event.
//!
//!    Nothing in the timed region synchronizes: the host waits once per batch,
//!    on the last end event, then reads every event pair and probe slot.
//! 3. **Input rotation**: given several equivalent launches (the same kernel
//!    on different input sets), sample `i` uses launch `i mod n`. The caller
//!    supplies more than one set when a working set is smaller than a few L2s,
//!    so that even an imperfect flush cannot leave a sample's inputs resident.
//! 4. **Adaptive stopping** ([`crate::stats::sample_adaptively`]): batches
//!    until the median's bootstrap CI is within the requested width, the
//!    sample maximum, or the time budget.
//! 5. **Clock check**: a sample whose probe saw less than 90% of the run's
//!    median SM clock is flagged (counted in [`ClockCheck::low_clock_samples`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{CudaEvent, CudaFunction, CudaSlice, DevicePtr, LaunchConfig, PushKernelArg};

use crate::device::{Device, cuda_err};
use crate::runfile::{CacheMode, ClockCheck, StopReason};
use crate::stats::{StopRule, sample_adaptively};
use crate::{Error, Result};

/// How long the clock probe spins: long against `%globaltimer`'s ~1 µs steps,
/// short against the samples it sits between.
pub const PROBE_SPIN_NS: u64 = 20_000;

/// A sample whose SM clock is below this fraction of the run's median is flagged.
pub const LOW_CLOCK_FRACTION: f64 = 0.9;

/// How to time.
#[derive(Clone, Debug)]
pub struct TimingConfig {
    pub mode: CacheMode,
    pub rule: StopRule,
    /// Wall time of repeated launches before the first sample.
    pub warmup: Duration,
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            mode: CacheMode::Cold,
            rule: StopRule::default(),
            warmup: Duration::from_millis(100),
        }
    }
}

/// Raw result of timing one launchable.
#[derive(Clone, Debug)]
pub struct Timed {
    pub samples_ms: Vec<f64>,
    pub stop: StopReason,
    /// SM clock (MHz) seen by the probe before each sample.
    pub clock_mhz: Vec<f64>,
    pub clock: ClockCheck,
    /// How many equivalent launches (input sets) the samples rotated over.
    pub input_sets: usize,
}

/// Something the engine can enqueue on the device's stream.
pub trait Launch {
    /// Enqueue one launch, asynchronously.
    fn enqueue(&self) -> Result<()>;
}

impl Launch for crate::device::PreparedLaunch {
    fn enqueue(&self) -> Result<()> {
        self.launch()
    }
}

/// The per-device state of the protocol: flush buffer, probe, events.
pub struct Timer<'d> {
    dev: &'d Device,
    flush: CudaSlice<u8>,
    probe: CudaFunction,
    /// Two `u64` per sample of the largest batch so far: cycles, nanoseconds.
    probe_slots: CudaSlice<u64>,
    events: Vec<(CudaEvent, CudaEvent)>,
}

impl<'d> Timer<'d> {
    /// Allocates the flush buffer (2 × L2) and loads the clock probe.
    pub fn new(dev: &'d Device) -> Result<Timer<'d>> {
        let flush_bytes = flush_bytes(dev.info.l2_bytes);
        let flush = dev
            .stream
            .alloc_zeros::<u8>(flush_bytes)
            .map_err(cuda_err("allocating the L2 flush buffer"))?;
        let probe = dev.probe_function(dev.registry().probes.clock)?;
        let probe_slots = dev
            .stream
            .alloc_zeros::<u64>(2)
            .map_err(cuda_err("allocating clock probe slots"))?;
        Ok(Timer {
            dev,
            flush,
            probe,
            probe_slots,
            events: Vec::new(),
        })
    }

    pub fn flush_bytes(&self) -> usize {
        self.flush.len()
    }

    /// Time `launches` (equivalent launches over rotated input sets) by the protocol.
    pub fn time(&mut self, launches: &[&dyn Launch], cfg: &TimingConfig) -> Result<Timed> {
        if launches.is_empty() {
            return Err(Error::Invalid("nothing to time".into()));
        }
        self.warm_up(launches, cfg.warmup)?;
        let mut clock_mhz = Vec::new();
        let mut sample_index = 0usize;
        let (samples_ms, stop) = sample_adaptively(&cfg.rule, |k| {
            let (ms, mhz) = self.batch(launches, sample_index, k, cfg.mode)?;
            sample_index += k;
            clock_mhz.extend(mhz);
            Ok(ms)
        })?;
        let clock = clock_check(&clock_mhz);
        Ok(Timed {
            samples_ms,
            stop,
            clock_mhz,
            clock,
            input_sets: launches.len(),
        })
    }

    fn warm_up(&self, launches: &[&dyn Launch], warmup: Duration) -> Result<()> {
        let start = Instant::now();
        let mut count = 1usize;
        loop {
            for i in 0..count {
                launches[i % launches.len()].enqueue()?;
            }
            self.sync("warming up")?;
            if start.elapsed() >= warmup {
                return Ok(());
            }
            count = count.saturating_mul(2);
        }
    }

    /// `k` samples starting at rotation index `first`: times (ms) and clocks (MHz).
    fn batch(
        &mut self,
        launches: &[&dyn Launch],
        first: usize,
        k: usize,
        mode: CacheMode,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        self.reserve(k)?;
        let stream = self.dev.stream.clone();
        let slots = self.probe_slots.device_ptr(&stream).0;
        for j in 0..k {
            if mode == CacheMode::Cold {
                stream
                    .memset_zeros(&mut self.flush)
                    .map_err(cuda_err("flushing L2"))?;
            }
            self.enqueue_probe(slots, j as u32)?;
            let (start, end) = &self.events[j];
            start
                .record(&stream)
                .map_err(cuda_err("recording a start event"))?;
            launches[(first + j) % launches.len()].enqueue()?;
            end.record(&stream)
                .map_err(cuda_err("recording an end event"))?;
        }
        self.events[k - 1]
            .1
            .synchronize()
            .map_err(cuda_err("waiting for a batch of samples"))?;
        let ms = self.events[..k]
            .iter()
            .map(|(s, e)| {
                s.elapsed_ms(e)
                    .map(f64::from)
                    .map_err(cuda_err("reading event times"))
            })
            .collect::<Result<Vec<_>>>()?;
        let raw = stream
            .clone_dtoh(&self.probe_slots)
            .map_err(cuda_err("reading clock probes"))?;
        let mhz = raw[..2 * k]
            .chunks_exact(2)
            .map(|c| cycles_per_ns_to_mhz(c[0], c[1]))
            .collect();
        Ok((ms, mhz))
    }

    /// Events and probe slots for a batch of `k`.
    fn reserve(&mut self, k: usize) -> Result<()> {
        let ctx = self.dev.ctx.clone();
        let timed = || {
            ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(cuda_err("creating a timing event"))
        };
        while self.events.len() < k {
            self.events.push((timed()?, timed()?));
        }
        if self.probe_slots.len() < 2 * k {
            self.probe_slots = self
                .dev
                .stream
                .alloc_zeros::<u64>(2 * k)
                .map_err(cuda_err("allocating clock probe slots"))?;
        }
        Ok(())
    }

    fn enqueue_probe(&self, slots: u64, slot: u32) -> Result<()> {
        let spin = PROBE_SPIN_NS;
        let mut b = self.dev.stream.launch_builder(&self.probe);
        b.arg(&slots).arg(&slot).arg(&spin);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (32, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: one block; `reserve` sized the slots for every slot of the batch.
        unsafe { b.launch(cfg) }
            .map(|_| ())
            .map_err(cuda_err("launching the clock probe"))
    }

    fn sync(&self, what: &str) -> Result<()> {
        self.dev.stream.synchronize().map_err(cuda_err(what))
    }

    pub fn device(&self) -> &'d Device {
        self.dev
    }

    /// The stream every launch of this timer goes to.
    pub fn stream(&self) -> &Arc<cudarc::driver::CudaStream> {
        &self.dev.stream
    }
}

/// Flush buffer size: twice the L2, at least 64 MiB (a device that reports no
/// L2 still gets a flush that would evict any plausible one).
pub fn flush_bytes(l2_bytes: u64) -> usize {
    (2 * l2_bytes).max(64 << 20) as usize
}

fn cycles_per_ns_to_mhz(cycles: u64, ns: u64) -> f64 {
    if ns == 0 {
        f64::NAN
    } else {
        cycles as f64 / ns as f64 * 1e3
    }
}

/// Median clock and the samples below [`LOW_CLOCK_FRACTION`] of it.
pub fn clock_check(mhz: &[f64]) -> ClockCheck {
    let finite: Vec<f64> = mhz.iter().copied().filter(|x| x.is_finite()).collect();
    let median = if finite.is_empty() {
        f64::NAN
    } else {
        crate::stats::median(&finite)
    };
    // A probe that read nothing (NaN) counts as a low clock: it is unexplained.
    let low = mhz
        .iter()
        .filter(|&&x| x.is_nan() || x < LOW_CLOCK_FRACTION * median)
        .count() as u32;
    ClockCheck {
        median_mhz: median,
        low_clock_samples: low,
    }
}

/// How many input sets a working set needs so that consecutive samples never
/// share inputs within a span of `2 × L2` bytes (capped at `max_sets`, at least 1).
pub fn input_sets(working_set: u128, l2_bytes: u64, max_sets: usize) -> usize {
    if working_set == 0 {
        return 1;
    }
    let want = (2 * l2_bytes as u128).div_ceil(working_set);
    (want.clamp(1, max_sets.max(1) as u128)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_check_flags_samples_below_ninety_percent() {
        let mhz = [1980.0, 1975.0, 1990.0, 1700.0, 1985.0, f64::NAN];
        let c = clock_check(&mhz);
        assert_eq!(c.median_mhz, 1980.0);
        // 1700 < 0.9 · 1980 = 1782, and the NaN probe is unexplained.
        assert_eq!(c.low_clock_samples, 2);
        assert_eq!(clock_check(&[1800.0, 1800.0]).low_clock_samples, 0);
    }

    #[test]
    fn probe_readings_convert_to_mhz() {
        assert_eq!(cycles_per_ns_to_mhz(39_600, 20_000), 1980.0);
        assert!(cycles_per_ns_to_mhz(1, 0).is_nan());
    }

    #[test]
    fn flush_is_twice_l2() {
        assert_eq!(flush_bytes(50 << 20), 100 << 20);
        assert_eq!(flush_bytes(0), 64 << 20);
    }

    #[test]
    fn small_working_sets_rotate() {
        let l2 = 50u64 << 20;
        assert_eq!(input_sets(1 << 30, l2, 8), 1);
        assert_eq!(input_sets(2 * l2 as u128, l2, 8), 1);
        assert_eq!(input_sets(l2 as u128, l2, 8), 2);
        assert_eq!(input_sets(1 << 20, l2, 8), 8);
        assert_eq!(input_sets(0, l2, 8), 1);
    }
}
