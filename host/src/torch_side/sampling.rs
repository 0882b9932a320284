//! One torch measurement by tileattn's adaptive rule: the script samples in
//! batches as [`crate::stats::sample_adaptively`] asks, and the reply's warm-up
//! and clock readings become a [`Timed`] like tileattn's own.

use super::side::TorchSide;
use super::wire::{Backend, Outcome, Sampling};
use crate::stats::sample_adaptively;
use crate::timing::{Timed, TimingConfig, clock_check};
use crate::{Error, Result};

/// One measurement of backend `b` by the adaptive rule: the samples, clock
/// readings and warm-up the script reported; or why the script refused.
pub fn time_backend(
    torch: &mut TorchSide,
    b: Backend,
    sampling: &Sampling,
    timing: &TimingConfig,
) -> Result<std::result::Result<Timed, String>> {
    let mut refused = None;
    let mut first = true;
    let mut warmup = None;
    let mut clock_mhz = Vec::new();
    let sampled = sample_adaptively(&timing.rule, |n| {
        let reply = torch.sample(b, n as u32, std::mem::take(&mut first), sampling)?;
        match reply {
            Outcome::Done(s) => {
                clock_mhz.extend(s.clock_or_nan());
                if s.warmup.is_some() {
                    warmup = s.warmup;
                }
                Ok(s.samples_ms)
            }
            Outcome::Unsupported(why) | Outcome::OutOfMemory(why) => {
                refused = Some(why.clone());
                Err(Error::Tool {
                    tool: "torch baseline".into(),
                    message: why,
                })
            }
        }
    });
    // The filler still queued would run into whatever the GPU does next.
    let ended = torch.end();
    let (samples_ms, stop) = match (sampled, refused) {
        (Ok(s), _) => s,
        (Err(_), Some(why)) => return ended.map(|()| Err(why)),
        // The first error says what went wrong; `end` fails after it too.
        (Err(e), None) => return Err(e),
    };
    ended?;
    let warmup = warmup.ok_or_else(|| {
        Error::Invalid("the torch baseline reported no warm-up for its first samples".into())
    })?;
    Ok(Ok(Timed {
        clock: clock_check(&clock_mhz),
        samples_ms,
        stop,
        clock_mhz,
        input_sets: 1,
        warmup,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfile::StopReason;
    use crate::stats::StopRule;
    use crate::timing::fake::{ClockModel, LAUNCH_MS};
    use crate::torch_side::side::tests::{QUICK, loaded_with, ours, tool_message};

    /// The bench's measurement of a backend: several requests of one stream
    /// (the samples continue where the warm-up stopped), one warm-up, an end.
    #[test]
    fn a_backend_measurement_spans_requests_with_one_warm_up() {
        let vars = ["SDPA_STUB_CLOCK=drop".to_string()];
        let Some((mut side, _dir, _)) = loaded_with(&vars, QUICK) else {
            return;
        };
        // A CI no sample spread can meet: sampling runs to the maximum, in batches.
        let timing = TimingConfig {
            rule: StopRule {
                rel_half_width: 1e-12,
                max_samples: 40,
                ..StopRule::default()
            },
            ..TimingConfig::default()
        };
        let sampling = Sampling::cold(1 << 20, timing.warmup);
        let timed = time_backend(&mut side, Backend::Cudnn, &sampling, &timing)
            .unwrap()
            .unwrap();
        assert_eq!(
            (timed.samples_ms.len(), timed.stop),
            (40, StopReason::MaxSamples)
        );
        let (w, _, _) = ours(ClockModel::Drop, &timing.warmup, 1);
        assert_eq!(timed.warmup, w);
        let want: Vec<f64> = (0..40)
            .map(|i| LAUNCH_MS + (w.samples + i) as f64 * 1e-9)
            .collect();
        assert_eq!(timed.samples_ms, want);
        assert_eq!(timed.clock.median_mhz, 1700.0);
        // The measurement was ended: it cannot be continued.
        let e = tool_message(
            side.sample(Backend::Cudnn, 1, false, &sampling)
                .unwrap_err(),
        );
        assert!(e.contains("no measurement of cudnn"), "{e}");
    }
}
