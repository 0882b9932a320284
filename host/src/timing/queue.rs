//! The device side of a sample stream, as a trait: the real queue on the
//! device's stream ([`super::Timer`]) and the tests' simulated GPU both
//! implement it; and how many samples fill a stretch of GPU time.

use std::time::Duration;

use crate::Result;

/// The device side of a [`SampleStream`](super::stream::SampleStream). Samples are numbered from 0 in the
/// order they are enqueued, and read in that order.
pub trait SampleQueue {
    /// Samples that may be enqueued and not yet read, at once.
    fn capacity(&self) -> u64;
    /// GPU time of a sample besides its timed launch, at least: with the
    /// launch's time, a lower bound on what one sample costs the GPU.
    fn overhead_ms(&self) -> f64;
    /// Enqueue sample `seq`, asynchronously.
    fn enqueue(&mut self, seq: u64) -> Result<()>;
    /// Enqueue the sample sequence untimed, asynchronously.
    fn enqueue_filler(&mut self) -> Result<()>;
    /// Arrange for the readings of every sample enqueued so far to be
    /// readable once they have run, without waiting for what follows them.
    fn checkpoint(&mut self) -> Result<()>;
    /// Block until the samples of the last checkpoint have run.
    fn wait(&mut self) -> Result<()>;
    /// The launch time (ms) and probed SM clock (MHz, NaN for no reading) of a
    /// sample covered by a checkpoint that has been waited for.
    fn read(&mut self, seq: u64) -> Result<(f64, f64)>;
    /// Block until everything enqueued has run.
    fn drain(&mut self) -> Result<()>;
}

/// Samples that fill `time` at `per_sample_ms` each, in `1..=most`; one while
/// a sample's cost is unknown.
pub fn samples_for(time: Duration, per_sample_ms: Option<f64>, most: u64) -> u64 {
    match per_sample_ms {
        Some(per) if per > 0.0 => {
            // `as` saturates, and the clamp bounds it anyway.
            let n = (time.as_secs_f64() * 1e3 / per).ceil() as u64;
            n.clamp(1, most)
        }
        _ => 1,
    }
}
