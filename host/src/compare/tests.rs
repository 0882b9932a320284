//! `compare` on the committed H100 run (tileattn and three torch backends,
//! 96 measurements) and on synthetic changes of it.

use super::*;
use crate::plot::Drawing;
use crate::ratchet::DEFAULT_DRIFT;
use crate::runfile::committed_run;

fn options(allow_different_gpu: bool) -> Options {
    Options {
        rule: Rule::new(0.02, 0.95, DEFAULT_DRIFT).unwrap(),
        drift_source: DriftSource::Default,
        allow_different_gpu,
    }
}

fn run() -> RunFile {
    committed_run("fa2.json")
}

fn of(a: &RunFile, b: &RunFile) -> Result<Comparison> {
    compare(("a.json", a), ("b.json", b), &options(false))
}

/// `b` with every sample of the measurements `pick` selects times `factor`.
fn scaled(b: &mut RunFile, pick: impl Fn(&crate::runfile::Measurement) -> bool, factor: f64) {
    for m in b.measurements.iter_mut().filter(|m| pick(m)) {
        for x in &mut m.samples_ms {
            *x *= factor;
        }
    }
}

#[test]
fn a_run_against_itself_matches_everything_and_is_not_slower() {
    let a = run();
    let c = of(&a, &a).unwrap();
    assert_eq!(c.rows.len(), a.measurements.len());
    assert!(c.only_a.is_empty() && c.only_b.is_empty());
    assert!(c.rows.iter().all(|r| r.ratio.ratio == 1.0));
    assert!(!c.b_slower);
    // Every implementation, tileattn first, then torch's in report order,
    // each implementation's rows in A's order.
    let order: Vec<&str> = c
        .aggregates
        .iter()
        .map(|g| g.implementation.as_str())
        .collect();
    assert_eq!(
        order,
        ["tileattn", "torch-flash", "torch-cudnn", "torch-efficient"]
    );
    let firsts: Vec<&str> = c
        .rows
        .iter()
        .map(|r| r.implementation.as_str())
        .collect::<Vec<_>>()
        .chunk_by(|x, y| x == y)
        .map(|g| g[0])
        .collect();
    assert_eq!(firsts, order);
    assert!(
        c.markdown()
            .contains("### tileattn compare: B is not slower")
    );
    assert!(
        c.markdown()
            .contains("Every measurement of each run has its match")
    );
}

/// Not only tileattn's rows count: a torch backend that got slower makes B
/// slower, and the rows say which.
#[test]
fn a_slower_torch_backend_makes_b_slower() {
    let a = run();
    let mut b = a.clone();
    scaled(&mut b, |m| m.implementation == "torch-flash", 1.10);
    let c = of(&a, &b).unwrap();
    assert!(c.b_slower);
    let slower: Vec<&str> = c
        .rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .map(|r| r.implementation.as_str())
        .collect();
    assert!(!slower.is_empty() && slower.iter().all(|i| *i == "torch-flash"));
    let flash = c
        .aggregates
        .iter()
        .find(|g| g.implementation == "torch-flash")
        .unwrap();
    assert_eq!(flash.verdict, Verdict::Regressed);
    assert!((flash.ratio.ratio - 1.10).abs() < 1e-9, "{flash:?}");
    let md = c.markdown();
    assert!(
        md.contains("### tileattn compare: B is slower (torch-flash overall +10.00%"),
        "{md}"
    );
    assert!(
        md.contains("| torch-flash | 24 | 1.100 (+10.00%) |"),
        "{md}"
    );
    // Faster is not slower.
    let mut faster = a.clone();
    scaled(&mut faster, |_| true, 0.9);
    let c = of(&a, &faster).unwrap();
    assert!(!c.b_slower);
    assert!(c.aggregates.iter().all(|g| g.verdict == Verdict::Improved));
}

#[test]
fn unmatched_measurements_are_listed_on_their_side() {
    let a = run();
    let mut b = a.clone();
    let gone = Key::of(&b.measurements.remove(3));
    let mut hot = b.measurements[0].clone();
    hot.mode = CacheMode::Hot;
    b.measurements.push(hot.clone());
    let c = of(&a, &b).unwrap();
    assert_eq!(
        (c.only_a.clone(), c.only_b.clone()),
        (vec![gone], vec![Key::of(&hot)])
    );
    assert_eq!(c.rows.len(), a.measurements.len() - 1);
    let md = c.markdown();
    assert!(md.contains("**Only in A (not measured by B):** 1"), "{md}");
    assert!(md.contains("**Only in B (not measured by A):** 1"), "{md}");
}

/// The guard: another GPU's run is refused unless allowed, and then its
/// difference is listed with the result.
#[test]
fn runs_of_different_gpus_are_refused_unless_allowed() {
    let a = run();
    let mut b = a.clone();
    b.env.gpu_name = "NVIDIA H200".into();
    match of(&a, &b) {
        Err(Error::Incomparable(m)) => {
            assert!(
                m.contains("GPU: A `NVIDIA H100 80GB HBM3`, B `NVIDIA H200`"),
                "{m}"
            );
            assert!(m.contains("--allow-different-gpu"), "{m}");
        }
        r => panic!("{r:?}"),
    }
    let c = compare(("a.json", &a), ("b.json", &b), &options(true)).unwrap();
    assert_eq!(c.differences.len(), 1);
    assert!(
        c.markdown()
            .contains("- GPU: A `NVIDIA H100 80GB HBM3`, B `NVIDIA H200`")
    );
    // Another kernel build or driver is what an A/B is for: listed, not refused.
    let mut rebuilt = a.clone();
    rebuilt.env.kernel_build = "feedface".into();
    rebuilt.env.driver_version = "999.0".into();
    let c = of(&a, &rebuilt).unwrap();
    let fields: Vec<&str> = c.differences.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["driver", "kernel build"]);
}

#[test]
fn ambiguous_or_disjoint_runs_name_the_side() {
    let a = run();
    let mut twice = a.clone();
    twice.measurements.push(twice.measurements[2].clone());
    match of(&a, &twice) {
        Err(Error::Invalid(m)) => assert!(m.contains("the B run has two measurements"), "{m}"),
        r => panic!("{r:?}"),
    }
    let mut other = a.clone();
    for m in &mut other.measurements {
        m.problem.batch += 1;
    }
    match of(&a, &other) {
        Err(Error::Incomparable(m)) => {
            assert!(m.contains("no measurement in common (A suite"), "{m}")
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn the_overlay_draws_both_runs() {
    let a = run();
    let mut b = a.clone();
    scaled(&mut b, |m| m.implementation == "tileattn", 1.2);
    let c = of(&a, &b).unwrap();
    let svg = match figure::draw(&a, &b, &c.rows).unwrap() {
        Drawing::Svg(svg) => svg,
        Drawing::Nothing(why) => panic!("{why}"),
    };
    assert!(svg.contains("tileattn compare: B against A"));
    // tileattn's 24 points twice: A's hollow markers and B's filled ones.
    let marker = |fill: &str| {
        svg.matches(&format!(r#"r="4" opacity="1" fill="{fill}""#))
            .count()
    };
    assert_eq!((marker("none"), marker("#D55E00")), (24, 24));
    assert_eq!(
        figure::draw(&a, &b, &[]).unwrap(),
        Drawing::Nothing("the runs share no measurement".into())
    );
}
