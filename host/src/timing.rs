//! The timing engine: how one launchable thing is timed on the GPU.
//!
//! # Protocol (the same for every kernel tileattn times, and for torch's SDPA
//! backends in `scripts/sdpa_baseline.py`)
//! 1. **The sample sequence.** For each sample, in stream order:
//!    - cold mode (the default): the L2 flush — a `memset` of a buffer twice
//!      the device's L2, which evicts everything the previous sample left;
//!    - the clock probe ([`tileattn_kernels::probes::clock_probe`]): one
//!      thread spins [`PROBE_SPIN_NS`] on `%globaltimer` and records the SM
//!      cycles it saw, so each sample carries the SM clock right before it. The
//!      probe also keeps the GPU busy while the host enqueues the timed launch,
//!      so no sample includes host launch latency;
//!    - start event, the launch, end event.
//!
//!    Nothing in the timed region synchronizes.
//! 2. **The GPU never waits for the host** ([`stream`]). Each request for
//!    samples queues filler behind them: the same sequence untimed, at least
//!    [`stream::FILLER_MIN`] of GPU time or twice the host's last pause. So
//!    from the first warm-up sample to the last sample the GPU runs back to
//!    back while the host waits on events, reads probes and computes
//!    statistics. Probe readings are copied to page-locked host memory in
//!    stream order right after each request's samples, so reading them never
//!    waits for the filler.
//! 3. **Warm-up until the clock settles** ([`warmup`]): the sample sequence,
//!    its results thrown away, until the median probed clock of the last two
//!    batches agree within 1%, after at least 200 ms and at most 1 s
//!    ([`WarmupRule::MEASURE`], the tuner's candidates too). How it
//!    ended (time, samples, clock, settled or not) goes into the run file.
//! 4. **Input rotation**: given several equivalent launches (the same kernel
//!    on different input sets), sample `i` uses launch `i mod n`. The caller
//!    supplies more than one set when a working set is smaller than a few L2s,
//!    so that even an imperfect flush cannot leave a sample's inputs resident.
//! 5. **Adaptive stopping** ([`crate::stats::sample_adaptively`]): batches
//!    until the median's bootstrap CI is within the requested width, the
//!    sample maximum, or the time budget.
//! 6. **Clock check**: a sample whose probe saw less than 90% of the run's
//!    median SM clock is flagged (counted in [`ClockCheck::low_clock_samples`]).
//!
//! # Why the warm-up and the filler
//! Samples should describe a GPU under the sustained load of a real workload.
//! The first H200 session (`results/h200/README.md`) showed what happens
//! otherwise: with a fixed 25 ms warm-up, 10-sample measurements and the GPU
//! idle for seconds between them, torch's cuDNN kernels were measured in
//! ~50 ms bursts, 10–13% faster than by `triton.testing.do_bench`'s 125 ms of
//! back-to-back launches, during which the SM clock read 1635–1815 MHz.

use std::time::Instant;

use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{
    CudaEvent, CudaFunction, CudaSlice, DevicePtr, LaunchConfig, PinnedHostSlice, PushKernelArg,
};

use crate::device::{Device, cuda_err};
use crate::runfile::{CacheMode, ClockCheck, StopReason, Warmup};
use crate::stats::{StopRule, sample_adaptively};
use crate::{Error, Result};

#[cfg(test)]
pub(crate) mod fake;
pub mod queue;
pub mod stream;
pub mod warmup;

use queue::SampleQueue;
use stream::SampleStream;
pub use warmup::WarmupRule;

/// How long the clock probe spins: long against `%globaltimer`'s ~1 µs steps,
/// short against the samples it sits between.
pub const PROBE_SPIN_NS: u64 = 20_000;

/// A sample whose SM clock is below this fraction of the run's median is flagged.
pub const LOW_CLOCK_FRACTION: f64 = 0.9;

/// Samples in flight at once (each has an event pair and a probe slot):
/// enough for the sampler's batches up to its default maximum; larger
/// requests are served in pieces.
pub const RING_SLOTS: u64 = 2048;

/// How to time.
#[derive(Clone, Debug)]
pub struct TimingConfig {
    pub mode: CacheMode,
    pub rule: StopRule,
    pub warmup: WarmupRule,
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            mode: CacheMode::Cold,
            rule: StopRule::default(),
            warmup: WarmupRule::MEASURE,
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
    pub warmup: Warmup,
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

/// Per-sample device state, used round-robin by the samples in flight.
struct Ring {
    events: Vec<(CudaEvent, CudaEvent)>,
    /// Two `u64` per slot, written by the probe: cycles, nanoseconds; and a
    /// last slot, never read, for the filler's probes.
    probe: CudaSlice<u64>,
    /// Host copy of `probe`, filled in stream order at each checkpoint.
    mirror: PinnedHostSlice<u64>,
    /// Recorded after each checkpoint's copies.
    copied: CudaEvent,
}

impl Ring {
    fn new(dev: &Device) -> Result<Ring> {
        let timed = || {
            dev.ctx
                .new_event(Some(CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(cuda_err("creating a timing event"))
        };
        let events = (0..RING_SLOTS)
            .map(|_| Ok((timed()?, timed()?)))
            .collect::<Result<Vec<_>>>()?;
        let words = 2 * (RING_SLOTS + 1) as usize;
        let probe = dev
            .stream
            .alloc_zeros::<u64>(words)
            .map_err(cuda_err("allocating clock probe slots"))?;
        // SAFETY: plain page-locked memory (flags 0: not write-combined, the
        // host reads it); zeroed below through a raw pointer before any read.
        let mut mirror = unsafe { dev.ctx.alloc_pinned_with_flags::<u64>(words, 0) }
            .map_err(cuda_err("allocating the host copy of the probe slots"))?;
        let host = mirror
            .as_mut_ptr()
            .map_err(cuda_err("zeroing the host copy of the probe slots"))?;
        // SAFETY: `host` points to `words` u64s just allocated for us.
        unsafe { std::ptr::write_bytes(host, 0, words) };
        Ok(Ring {
            events,
            probe,
            mirror,
            copied: timed()?,
        })
    }
}

/// The per-device state of the protocol: flush buffer, probe, sample ring.
pub struct Timer<'d> {
    dev: &'d Device,
    flush: CudaSlice<u8>,
    probe: CudaFunction,
    ring: Ring,
}

impl<'d> Timer<'d> {
    /// Allocates the flush buffer (2 × L2) and the sample ring, and loads the clock probe.
    pub fn new(dev: &'d Device) -> Result<Timer<'d>> {
        let flush_bytes = flush_bytes(dev.info.l2_bytes);
        let flush = dev
            .stream
            .alloc_zeros::<u8>(flush_bytes)
            .map_err(cuda_err("allocating the L2 flush buffer"))?;
        let probe = dev.probe_function(dev.registry().probes.clock)?;
        Ok(Timer {
            dev,
            flush,
            probe,
            ring: Ring::new(dev)?,
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
        let origin = Instant::now();
        let clock = move || origin.elapsed();
        let mut queue = DeviceQueue {
            dev: self.dev,
            flush: &mut self.flush,
            probe: &self.probe,
            ring: &mut self.ring,
            launches,
            mode: cfg.mode,
            launched: 0,
            enqueued: 0,
            copied: 0,
        };
        let mut stream = SampleStream::new(&mut queue, &clock);
        let mut clock_mhz = Vec::new();
        let run = (|| {
            let warmup = warmup::warm_up(&mut stream, &cfg.warmup)?;
            let sampled = sample_adaptively(&cfg.rule, |k| {
                let (ms, mhz) = stream.take(k)?;
                clock_mhz.extend(mhz);
                Ok(ms)
            })?;
            Ok::<_, Error>((warmup, sampled))
        })();
        // Drain after a failure too: the next measurement reuses the ring.
        let drained = stream.finish();
        let (warmup, (samples_ms, stop)) = run?;
        drained?;
        let clock = clock_check(&clock_mhz);
        Ok(Timed {
            samples_ms,
            stop,
            clock_mhz,
            clock,
            input_sets: launches.len(),
            warmup,
        })
    }

    pub fn device(&self) -> &'d Device {
        self.dev
    }
}

/// The real [`SampleQueue`]: the sample sequence on the device's stream.
struct DeviceQueue<'t> {
    dev: &'t Device,
    flush: &'t mut CudaSlice<u8>,
    probe: &'t CudaFunction,
    ring: &'t mut Ring,
    launches: &'t [&'t dyn Launch],
    mode: CacheMode,
    /// Launches enqueued, samples and filler: the input rotation's position.
    launched: u64,
    enqueued: u64,
    /// Samples whose probe slots have been queued for copying to the host.
    copied: u64,
}

impl DeviceQueue<'_> {
    /// The flush (cold mode) and the probe into `slot`.
    fn enqueue_lead_in(&mut self, slot: u64) -> Result<()> {
        if self.mode == CacheMode::Cold {
            self.dev
                .stream
                .memset_zeros(&mut *self.flush)
                .map_err(cuda_err("flushing L2"))?;
        }
        self.enqueue_probe(slot)
    }

    /// The next launch of the input rotation.
    fn enqueue_launch(&mut self) -> Result<()> {
        let i = self.launched % self.launches.len() as u64;
        self.launched += 1;
        self.launches[i as usize].enqueue()
    }

    fn enqueue_probe(&self, slot: u64) -> Result<()> {
        let stream = &self.dev.stream;
        let (slots, _guard) = self.ring.probe.device_ptr(stream);
        let slot = slot as u32;
        let spin = PROBE_SPIN_NS;
        let mut b = stream.launch_builder(self.probe);
        b.arg(&slots).arg(&slot).arg(&spin);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (32, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: one block; the ring holds RING_SLOTS + 1 slots and `slot` is at most RING_SLOTS.
        unsafe { b.launch(cfg) }
            .map(|_| ())
            .map_err(cuda_err("launching the clock probe"))
    }

    /// Queue the copy of `run` probe slots from `slot` on to their host copy.
    fn copy_slots(&mut self, slot: u64, run: u64) -> Result<()> {
        let stream = &self.dev.stream;
        let Ring { probe, mirror, .. } = &mut *self.ring;
        let (base, _guard) = probe.device_ptr(stream);
        let words = 2 * slot as usize..2 * (slot + run) as usize;
        let dst = &mut mirror
            .as_mut_slice()
            .map_err(cuda_err("reaching the host copy of the probe slots"))?[words];
        let src = base + 16 * slot;
        // SAFETY: `dst` is page-locked and owned by the ring, which outlives the
        // copy (every measurement drains the stream before it returns); `src`
        // spans the same slots of the device buffer. The host touches `dst`
        // only after waiting for the `copied` event recorded after this copy.
        unsafe { cudarc::driver::result::memcpy_dtoh_async(dst, src, stream.cu_stream()) }
            .map_err(cuda_err("copying clock probe readings"))
    }
}

impl SampleQueue for DeviceQueue<'_> {
    fn capacity(&self) -> u64 {
        RING_SLOTS
    }

    fn overhead_ms(&self) -> f64 {
        PROBE_SPIN_NS as f64 / 1e6
    }

    fn enqueue(&mut self, seq: u64) -> Result<()> {
        let stream = self.dev.stream.clone();
        let slot = seq % RING_SLOTS;
        self.enqueue_lead_in(slot)?;
        self.ring.events[slot as usize]
            .0
            .record(&stream)
            .map_err(cuda_err("recording a start event"))?;
        self.enqueue_launch()?;
        self.ring.events[slot as usize]
            .1
            .record(&stream)
            .map_err(cuda_err("recording an end event"))?;
        self.enqueued = seq + 1;
        Ok(())
    }

    fn enqueue_filler(&mut self) -> Result<()> {
        self.enqueue_lead_in(RING_SLOTS)?;
        self.enqueue_launch()
    }

    fn checkpoint(&mut self) -> Result<()> {
        // At most RING_SLOTS samples are unread, so no slot is copied twice.
        let mut from = self.copied;
        while from < self.enqueued {
            let slot = from % RING_SLOTS;
            let run = (self.enqueued - from).min(RING_SLOTS - slot);
            self.copy_slots(slot, run)?;
            from += run;
        }
        self.copied = self.enqueued;
        self.ring
            .copied
            .record(&self.dev.stream)
            .map_err(cuda_err("recording a checkpoint"))
    }

    fn wait(&mut self) -> Result<()> {
        self.ring
            .copied
            .synchronize()
            .map_err(cuda_err("waiting for a batch of samples"))
    }

    fn read(&mut self, seq: u64) -> Result<(f64, f64)> {
        let slot = (seq % RING_SLOTS) as usize;
        let (start, end) = &self.ring.events[slot];
        let ms = start
            .elapsed_ms(end)
            .map_err(cuda_err("reading event times"))?;
        let probe = self
            .ring
            .mirror
            .as_slice()
            .map_err(cuda_err("reading clock probes"))?;
        Ok((
            f64::from(ms),
            cycles_per_ns_to_mhz(probe[2 * slot], probe[2 * slot + 1]),
        ))
    }

    fn drain(&mut self) -> Result<()> {
        self.dev
            .stream
            .synchronize()
            .map_err(cuda_err("waiting for the filler"))
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
