//! The simulation studies of the decision rule (see the module doc of
//! [`crate::ratchet`]): `whole_run`, whole-run comparisons with between-run
//! drift on H200 noise, the one the exit code's promises rest on; and
//! `within_run`, one measurement without drift on H100 noise, what the
//! samples of one run resolve.

use rand::Rng;
use rand::rngs::SmallRng;

mod whole_run;
mod within_run;

/// `n` samples drawn with replacement from a measurement's recorded samples
/// `x`, each times `scale`: a rerun whose distribution (tails, ties,
/// outliers) is the measured one.
fn redraw(x: &[f64], n: usize, scale: f64, rng: &mut SmallRng) -> Vec<f64> {
    (0..n)
        .map(|_| x[rng.random_range(0..x.len())] * scale)
        .collect()
}
