//! A simulated GPU for the tests of the sample stream and the warm-up, and
//! for comparing them with the torch script's (`FakeOps` in
//! `host/tests/data/sdpa_stub.py` is the same model).
//!
//! One sample occupies the GPU for [`LAUNCH_MS`] + [`OVERHEAD_MS`], starting
//! when both the GPU is free and the host has enqueued it; its probe reads the
//! [`ClockModel`] at its start; filler occupies it the same way. Host time
//! passes only when the host waits for the GPU or a test says it pauses. The fake refuses what the real device
//! must never see: a ring slot reused before its sample was read, a reading
//! taken before the checkpoint covering it was waited for.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::queue::SampleQueue;
use crate::{Error, Result};

/// Launch time of sample `i` is `LAUNCH_MS + i · 1e-9`: unique, so order shows.
pub const LAUNCH_MS: f64 = 0.75;
/// GPU time of a sample besides the launch (flush, probe or lead).
pub const OVERHEAD_MS: f64 = 0.25;

/// The SM clock against GPU time (ms).
#[derive(Clone, Copy, Debug)]
pub enum ClockModel {
    /// 1980 MHz throughout.
    Steady,
    /// 1980 MHz for 150 ms, down 2.8 MHz per ms to 1700 MHz at 250 ms, then flat.
    Drop,
    /// Down 1 MHz per ms from 1980 MHz, never flat.
    Ramp,
    /// The probe reads nothing.
    Silent,
}

impl ClockModel {
    pub fn mhz(self, t: f64) -> f64 {
        match self {
            ClockModel::Steady => 1980.0,
            ClockModel::Drop if t < 150.0 => 1980.0,
            ClockModel::Drop if t < 250.0 => 1980.0 - 2.8 * (t - 150.0),
            ClockModel::Drop => 1700.0,
            ClockModel::Ramp => 1980.0 - t,
            ClockModel::Silent => f64::NAN,
        }
    }
}

/// The host's time (ms), shared by the fake and its clock.
#[derive(Clone, Default)]
pub struct Host(Rc<Cell<f64>>);

impl Host {
    pub fn pause(&self, d: Duration) {
        self.0.set(self.0.get() + d.as_secs_f64() * 1e3);
    }

    fn wait_until(&self, t: f64) {
        self.0.set(self.0.get().max(t));
    }
}

struct Sample {
    ms: f64,
    mhz: f64,
    done: f64,
}

pub struct FakeGpu {
    model: ClockModel,
    capacity: u64,
    host: Host,
    samples: Vec<Sample>,
    gpu_free: f64,
    idle: f64,
    fillers: u64,
    /// Samples covered by the last checkpoint, and when they are done.
    covered: (u64, f64),
    /// Samples covered by a checkpoint that has been waited for.
    readable: u64,
    next_read: u64,
}

impl FakeGpu {
    pub fn new(model: ClockModel, capacity: u64) -> FakeGpu {
        FakeGpu {
            model,
            capacity,
            host: Host::default(),
            samples: Vec::new(),
            gpu_free: 0.0,
            idle: 0.0,
            fillers: 0,
            covered: (0, 0.0),
            readable: 0,
            next_read: 0,
        }
    }

    /// The host's clock, for [`super::stream::SampleStream::new`].
    pub fn clock(&self) -> impl Fn() -> Duration + use<> {
        let host = self.host.clone();
        move || Duration::from_secs_f64(host.0.get() / 1e3)
    }

    pub fn host(&self) -> Host {
        self.host.clone()
    }

    pub fn enqueued(&self) -> u64 {
        self.samples.len() as u64
    }

    /// GPU time spent waiting for the host between the first sample and the last.
    pub fn idle_ms(&self) -> f64 {
        self.idle
    }

    pub fn fillers(&self) -> u64 {
        self.fillers
    }

    /// Occupy the GPU for one sample from when both it and the host are ready;
    /// returns the start.
    fn occupy(&mut self) -> f64 {
        let start = self.gpu_free.max(self.host.0.get());
        if !self.samples.is_empty() || self.fillers > 0 {
            self.idle += start - self.gpu_free;
        }
        self.gpu_free = start + LAUNCH_MS + OVERHEAD_MS;
        start
    }
}

fn refuse(what: String) -> Error {
    Error::Invalid(format!("fake GPU: {what}"))
}

impl SampleQueue for FakeGpu {
    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn overhead_ms(&self) -> f64 {
        OVERHEAD_MS
    }

    fn enqueue(&mut self, seq: u64) -> Result<()> {
        if seq != self.enqueued() || seq >= self.next_read + self.capacity {
            return Err(refuse(format!(
                "sample {seq} enqueued with {} enqueued and {} read",
                self.enqueued(),
                self.next_read
            )));
        }
        let start = self.occupy();
        self.samples.push(Sample {
            ms: LAUNCH_MS + seq as f64 * 1e-9,
            mhz: self.model.mhz(start),
            done: self.gpu_free,
        });
        Ok(())
    }

    fn enqueue_filler(&mut self) -> Result<()> {
        self.occupy();
        self.fillers += 1;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.covered = (self.enqueued(), self.gpu_free);
        Ok(())
    }

    fn wait(&mut self) -> Result<()> {
        self.host.wait_until(self.covered.1);
        self.readable = self.covered.0;
        Ok(())
    }

    fn read(&mut self, seq: u64) -> Result<(f64, f64)> {
        if seq != self.next_read || seq >= self.readable {
            return Err(refuse(format!(
                "sample {seq} read with {} read and {} readable",
                self.next_read, self.readable
            )));
        }
        self.next_read += 1;
        let s = &self.samples[seq as usize];
        debug_assert!(s.done <= self.host.0.get());
        Ok((s.ms, s.mhz))
    }

    fn drain(&mut self) -> Result<()> {
        self.host.wait_until(self.gpu_free);
        Ok(())
    }
}
