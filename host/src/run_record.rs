//! A run file put together: the environment a run happened in (device, build,
//! ceilings) around its measurements. The schema ([`runfile`](crate::runfile))
//! stays a leaf that knows nothing of devices; this is where the two meet.

use std::time::SystemTime;

use crate::device::Device;
use crate::runfile::{
    Ceilings, Environment, Measurement, RUN_SCHEMA_VERSION, RunFile, TuningRecord,
};
use crate::utc::rfc3339_utc;

/// The environment of a run on `dev` by the tileattn build `commit`.
pub fn environment(dev: &Device, commit: &str, ceilings: Option<Ceilings>) -> Environment {
    let i = &dev.info;
    Environment {
        gpu_name: i.name.clone(),
        compute_capability: format!("{}.{}", i.compute_capability.0, i.compute_capability.1),
        driver_version: i.driver_version_string(),
        sm_count: i.sm_count,
        l2_bytes: i.l2_bytes,
        sm_clock_mhz: i.sm_clock_mhz,
        mem_clock_mhz: i.mem_clock_mhz,
        mem_bus_bits: i.mem_bus_bits,
        tileattn_commit: commit.into(),
        kernel_build: dev.registry().build_hash(),
        torch_version: None,
        ceilings,
    }
}

/// The run file of `suite`, started at `started`, in the current schema.
pub fn run_file(
    suite: &str,
    started: SystemTime,
    env: Environment,
    measurements: Vec<Measurement>,
    tuning: Vec<TuningRecord>,
) -> RunFile {
    RunFile {
        schema_version: RUN_SCHEMA_VERSION,
        suite: suite.into(),
        created_utc: rfc3339_utc(started),
        env,
        measurements,
        tuning,
    }
}
