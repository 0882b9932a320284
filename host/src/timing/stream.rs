//! Samples taken while the GPU never waits for the host.
//!
//! The host asks for batches (the warm-up's, then the adaptive sampler's) and
//! analyses each before asking for the next. If the GPU had only the requested
//! samples, it would idle through every analysis, and a GPU that idles between
//! bursts runs cooler and faster than under sustained load. So every request
//! queues its samples, then *filler* behind them: the same sequence (flush,
//! probe, launch) untimed, enough for at least [`FILLER_MIN`] of GPU time or
//! twice the host's pause before this request, whichever is longer. The host
//! waits for its samples only; the filler runs while it reads and analyses
//! them, and the next request's samples queue behind the filler. Filler is
//! never read, so which samples are kept cannot depend on their values.
//!
//! The device side is a [`SampleQueue`]: the real one in [`super::Timer`], a
//! simulated GPU in the tests. `scripts/sdpa_baseline.py` (`SampleStream`)
//! does the same for torch's samples.

use std::time::Duration;

use super::queue::{SampleQueue, samples_for};
use crate::Result;

/// Least filler queued behind a request's samples.
pub const FILLER_MIN: Duration = Duration::from_millis(2);
/// Most filler queued behind a request's samples.
pub const MAX_FILLER_SAMPLES: u64 = 1024;

/// Filler samples that cover `time` at `per_sample_ms` each (one while unknown).
pub fn filler_samples(time: Duration, per_sample_ms: Option<f64>) -> u64 {
    samples_for(time, per_sample_ms, MAX_FILLER_SAMPLES)
}

/// One measurement's samples.
pub struct SampleStream<'a, Q: SampleQueue> {
    queue: &'a mut Q,
    /// Time since a fixed origin: the wall clock, or a test's fake.
    clock: &'a dyn Fn() -> Duration,
    /// The next sample's number.
    next: u64,
    /// Lower bound on a sample's GPU time, from the last request.
    per_sample_ms: Option<f64>,
    /// When the last request returned: the host's pause ends at the next.
    returned_at: Option<Duration>,
}

impl<'a, Q: SampleQueue> SampleStream<'a, Q> {
    pub fn new(queue: &'a mut Q, clock: &'a dyn Fn() -> Duration) -> Self {
        SampleStream {
            queue,
            clock,
            next: 0,
            per_sample_ms: None,
            returned_at: None,
        }
    }

    pub fn now(&self) -> Duration {
        (self.clock)()
    }

    /// Lower bound on a sample's GPU time (ms), once a request has returned.
    pub fn per_sample_ms(&self) -> Option<f64> {
        self.per_sample_ms
    }

    /// The next `k` samples: launch times (ms) and probed clocks (MHz).
    pub fn take(&mut self, k: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        let pause = self
            .returned_at
            .map_or(Duration::ZERO, |t| self.now().saturating_sub(t));
        let filler = filler_samples(FILLER_MIN.max(2 * pause), self.per_sample_ms);
        let (mut ms, mut mhz) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let mut left = k as u64;
        // A request larger than the queue is served in pieces, each followed by filler.
        while left > 0 {
            let n = left.min(self.queue.capacity());
            let batch = self.next..self.next + n;
            for seq in batch.clone() {
                self.queue.enqueue(seq)?;
            }
            self.queue.checkpoint()?;
            for _ in 0..filler {
                self.queue.enqueue_filler()?;
            }
            self.queue.wait()?;
            for seq in batch {
                let (t, c) = self.queue.read(seq)?;
                ms.push(t);
                mhz.push(c);
            }
            self.next += n;
            left -= n;
        }
        if !ms.is_empty() {
            self.per_sample_ms = Some(crate::stats::median(&ms) + self.queue.overhead_ms());
        }
        self.returned_at = Some(self.now());
        Ok((ms, mhz))
    }

    /// End the measurement: wait for the filler still queued.
    pub fn finish(self) -> Result<()> {
        self.queue.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::fake::{ClockModel, FakeGpu, LAUNCH_MS};

    #[test]
    fn filler_covers_its_time_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(filler_samples(ms(2), None), 1);
        assert_eq!(filler_samples(ms(2), Some(1.0)), 2);
        assert_eq!(filler_samples(ms(10), Some(3.0)), 4);
        assert_eq!(filler_samples(ms(10), Some(1e-4)), MAX_FILLER_SAMPLES);
    }

    /// Takes `sizes` with `pause` of host time after each.
    fn run(sizes: &[usize], pause: Duration, capacity: u64) -> (FakeGpu, Vec<f64>) {
        let mut gpu = FakeGpu::new(ClockModel::Steady, capacity);
        let clock = gpu.clock();
        let host = gpu.host();
        let mut stream = SampleStream::new(&mut gpu, &clock);
        let mut all = Vec::new();
        for &k in sizes {
            let (ms, mhz) = stream.take(k).unwrap();
            assert_eq!((ms.len(), mhz.len()), (k, k));
            all.extend(ms);
            host.pause(pause);
        }
        stream.finish().unwrap();
        (gpu, all)
    }

    const SIZES: [usize; 10] = [1, 25, 25, 10, 2, 2, 3, 300, 7, 40];

    #[test]
    fn samples_come_in_order_and_every_request_leaves_filler() {
        let (gpu, all) = run(&SIZES, Duration::ZERO, 4096);
        let n: usize = SIZES.iter().sum();
        // The fake's launch times count the samples: sample i took LAUNCH_MS + i·1e-9.
        let want: Vec<f64> = (0..n).map(|i| LAUNCH_MS + i as f64 * 1e-9).collect();
        assert_eq!(all, want);
        assert_eq!(gpu.enqueued(), n as u64);
        // One filler sample before a sample's cost is known, then 2 ms at 1 ms a sample.
        assert_eq!(gpu.fillers(), 1 + 2 * (SIZES.len() as u64 - 1));
    }

    #[test]
    fn the_gpu_keeps_busy_through_host_pauses() {
        // After the first request, pauses of 3 ms are covered by the filler
        // (twice the last pause); only the first pause outlasts its filler
        // (one sample, the cost unknown).
        let (gpu, _) = run(&SIZES, Duration::from_millis(3), 4096);
        assert_eq!(gpu.idle_ms(), 2.0);
        // Growing pauses stay covered while each is less than twice the last.
        let mut g = FakeGpu::new(ClockModel::Steady, 4096);
        let (clock, host) = (g.clock(), g.host());
        let mut stream = SampleStream::new(&mut g, &clock);
        for pause_ms in [1, 2, 3, 5, 9, 15, 25] {
            stream.take(10).unwrap();
            host.pause(Duration::from_millis(pause_ms));
        }
        stream.take(10).unwrap();
        stream.finish().unwrap();
        assert_eq!(g.idle_ms(), 0.0);
    }

    #[test]
    fn requests_larger_than_the_queue_come_in_pieces() {
        // 16 slots: the fake refuses to reuse a slot whose sample has not been read.
        let (gpu, all) = run(&[1, 25, 40, 3], Duration::ZERO, 16);
        assert_eq!(all.len(), 69);
        assert_eq!(gpu.enqueued(), 69);
    }
}
