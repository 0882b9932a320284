//! Hostile inputs against the CLI, on the emulator (no GPU): every case
//! asserts the exit code, a phrase of the message, and that every file that
//! existed before is byte for byte (and mode for mode) what it was, with no
//! file added but the command's named outputs — so no stray temporary either.
//!
//! The classes, several instances each: numbers outside the kernels' domain
//! (scale, non-finite or out-of-range inputs, scores beyond f32), outputs that
//! would lose a file (an input, another output, a link, a FIFO, a device, a
//! directory, a read-only file), shapes too large to allocate, broken pipes,
//! and figures of extreme values.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tileattn::host::npy;

/// One hostile case: files laid out by `setup` in a fresh directory, the
/// command's arguments (`{d}` is that directory), the exit code and a phrase
/// of stderr it must give, and the files it may create or change.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    args: Vec<&'static str>,
    code: i32,
    says: &'static str,
    changes: &'static [&'static str],
}

/// Q, K, V of a tiny problem: [1, 5, 2, 64] each, deterministic values.
fn qkv(d: &Path) {
    for (name, seed) in [("q.npy", 1u32), ("k.npy", 2), ("v.npy", 3)] {
        save(&d.join(name), &values(5 * 2 * 64, seed));
    }
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) as f32 / 65536.0 - 0.5
        })
        .collect()
}

fn save(path: &Path, data: &[f32]) {
    std::fs::write(path, npy::encode_f32(&[1, 5, 2, 64], data)).unwrap();
}

/// `qkv`, then element `at` of `name` set to `x`.
fn poisoned(d: &Path, name: &str, at: usize, x: f32) {
    qkv(d);
    let mut a = npy::read(&d.join(name)).unwrap();
    a.data[at] = x;
    save(&d.join(name), &a.data);
}

fn committed_run(d: &Path, name: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h100/fa2.json");
    std::fs::copy(src, d.join(name)).unwrap();
}

/// The committed run with every measured number (all but the confidence
/// levels, which must lie in (0, 1)) set to `x`.
fn run_of_all(d: &Path, x: f64) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h100/fa2.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    fn set(v: &mut serde_json::Value, x: f64) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => *v = serde_json::json!(x),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| set(v, x)),
            serde_json::Value::Object(o) => o
                .iter_mut()
                .filter(|(k, _)| *k != "confidence")
                .for_each(|(_, v)| set(v, x)),
            _ => {}
        }
    }
    set(&mut json["measurements"], x);
    std::fs::write(d.join("r.json"), serde_json::to_vec(&json).unwrap()).unwrap();
}

const RUN: &[&str] = &[
    "run",
    "--emulate",
    "--q",
    "{d}/q.npy",
    "--k",
    "{d}/k.npy",
    "--v",
    "{d}/v.npy",
];

/// A case of any command.
fn c(
    name: &'static str,
    setup: fn(&Path),
    args: &[&'static str],
    code: i32,
    says: &'static str,
    changes: &'static [&'static str],
) -> Case {
    Case {
        name,
        setup,
        args: args.to_vec(),
        code,
        says,
        changes,
    }
}

/// A case of `tileattn run --emulate` on `{d}/q.npy`, `k.npy`, `v.npy`.
fn r(
    name: &'static str,
    setup: fn(&Path),
    args: &[&'static str],
    code: i32,
    says: &'static str,
    changes: &'static [&'static str],
) -> Case {
    c(name, setup, &[RUN, args].concat(), code, says, changes)
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let ok_outputs: &'static [&'static str] = &["o.npy", "lse.npy"];
    vec![
        // Numbers outside the kernels' domain.
        r("zero scale", qkv, &["--scale=0", "--out", "{d}/o.npy"], 2, "must be finite and non-zero", &[]),
        r("NaN scale", qkv, &["--scale=NaN", "--out", "{d}/o.npy"], 2, "must be finite and non-zero", &[]),
        r("infinite scale", qkv, &["--scale=inf", "--out", "{d}/o.npy"], 2, "must be finite and non-zero", &[]),
        r("-inf scale", qkv, &["--scale=-inf", "--out", "{d}/o.npy"], 2, "must be finite and non-zero", &[]),
        r("scale beyond f32", qkv, &["--scale=1e37", "--out", "{d}/o.npy"], 2, "scores could reach", &[]),
        r("negative scale beyond f32", qkv, &["--scale=-1e37", "--out", "{d}/o.npy"], 2, "scores could reach", &[]),
        r("NaN in q", |d| poisoned(d, "q.npy", 3, f32::NAN), &["--out", "{d}/o.npy"], 2, "q[0, 0, 0, 3] is NaN", &[]),
        r("inf in k", |d| poisoned(d, "k.npy", 64 * 3 + 1, f32::INFINITY), &["--out", "{d}/o.npy"], 2, "k[0, 1, 1, 1] is inf", &[]),
        r("-inf in v", |d| poisoned(d, "v.npy", 600, f32::NEG_INFINITY), &["--out", "{d}/o.npy"], 2, "v[0, 4, 1, 24] is -inf", &[]),
        r("f32 beyond f16", |d| poisoned(d, "v.npy", 0, 1e5), &["--dtype", "f16", "--out", "{d}/o.npy"], 2, "v[0, 0, 0, 0] = 1e5 is beyond f16's range", &[]),
        r("f32 beyond bf16", |d| poisoned(d, "q.npy", 9, 3.4e38), &["--dtype", "bf16", "--out", "{d}/o.npy"], 2, "q[0, 0, 0, 9] = 3.4e38 is beyond bf16's range", &[]),
        r("bf16 scores beyond f32", |d| poisoned(d, "q.npy", 9, 1e37), &["--dtype", "bf16", "--out", "{d}/o.npy"], 2, "scores could reach", &[]),
        r("negative scale runs", qkv, &["--scale=-0.125", "--out", "{d}/o.npy", "--lse", "{d}/lse.npy"], 0, "ran attn_fwd", ok_outputs),
        r("large scale runs", qkv, &["--scale=1e6", "--out", "{d}/o.npy", "--lse", "{d}/lse.npy"], 0, "ran attn_fwd", ok_outputs),
        r("scale past what f32 resolves", qkv, &["--scale=1e8", "--out", "{d}/o.npy"], 2, "|scale| must be at most 2.124e6", &[]),
        r("negative scale past what f32 resolves", qkv, &["--scale=-3e6", "--out", "{d}/o.npy"], 2, "|scale| must be at most 2.124e6", &[]),
        // Outputs that would lose a file.
        r("out is an input", qkv, &["--out", "{d}/q.npy"], 2, "would overwrite the input", &[]),
        r("out is an input, spelled otherwise", |d| { qkv(d); std::fs::create_dir(d.join("sub")).unwrap() }, &["--out", "{d}/sub/../k.npy"], 2, "would overwrite the input", &[]),
        r("out is a hard link to an input", |d| { qkv(d); std::fs::hard_link(d.join("v.npy"), d.join("o.npy")).unwrap() }, &["--out", "{d}/o.npy"], 2, "would overwrite the input", &[]),
        r("out and lse are one file", qkv, &["--out", "{d}/x.npy", "--lse", "{d}/x.npy"], 2, "would overwrite another output", &[]),
        r("out is a symbolic link", |d| { qkv(d); std::fs::write(d.join("t.npy"), b"mine").unwrap(); std::os::unix::fs::symlink(d.join("t.npy"), d.join("o.npy")).unwrap() }, &["--out", "{d}/o.npy"], 2, "is a symbolic link to", &[]),
        r("lse is a dangling link", |d| { qkv(d); std::os::unix::fs::symlink(d.join("gone"), d.join("lse.npy")).unwrap() }, &["--out", "{d}/o.npy", "--lse", "{d}/lse.npy"], 2, "which does not resolve", &[]),
        r("out is a FIFO", |d| { qkv(d); mkfifo(&d.join("o.npy")) }, &["--out", "{d}/o.npy"], 2, "is a FIFO", &[]),
        r("out is a device", qkv, &["--out", "/dev/null"], 2, "is a device", &[]),
        r("out is a directory", |d| { qkv(d); std::fs::create_dir(d.join("o.npy")).unwrap() }, &["--out", "{d}/o.npy"], 2, "is a directory", &[]),
        r("out is read-only", |d| { qkv(d); read_only(&d.join("o.npy")) }, &["--out", "{d}/o.npy"], 2, "is read-only", &[]),
        r("lse under a file", |d| { qkv(d); std::fs::write(d.join("f"), b"x").unwrap() }, &["--out", "{d}/o.npy", "--lse", "{d}/f/lse.npy"], 2, "not a directory", &[]),
        r("read-only replaced when told", |d| { qkv(d); read_only(&d.join("o.npy")) }, &["--out", "{d}/o.npy", "--replace-read-only"], 0, "ran attn_fwd", &["o.npy"]),
        r("out is an empty path", qkv, &["--out", ""], 2, "a value is required for '--out", &[]),
        r("out names a directory", qkv, &["--out", "{d}/new/"], 2, "names no file", &[]),
        r("out in a directory no one may write", qkv, &["--out", "/proc/o.npy"], 2, "cannot write in /proc", &[]),
        // Shapes too large, malformed files.
        r("npy shape overflows", |d| { qkv(d); std::fs::write(d.join("q.npy"), huge_header()).unwrap() }, &["--out", "{d}/o.npy"], 2, "more elements than memory can address", &[]),
        r("npy truncated", |d| { qkv(d); let b = std::fs::read(d.join("k.npy")).unwrap(); std::fs::write(d.join("k.npy"), &b[..b.len() - 1]).unwrap() }, &["--out", "{d}/o.npy"], 2, "truncated", &[]),
        // Other commands.
        c("check: a shape larger than memory", |_| {}, &[ "check", "--emulate", "--shapes", "1,1,1,2000000000,2000000000", ], 2, "of host memory", &[]),
        c("check: an empty shape", |_| {}, &["check", "--emulate", "--shapes", "1,0,1,4,4"], 2, "heads_q is 0", &[]),
        c("check: a seqlen the kernels cannot index", |_| {}, &["check", "--emulate", "--max-seqlen", "4000000000"], 2, "--max-seqlen 4000000000", &[]),
        // Reports, figures and baselines.
        c("report of a run named .md", |d| committed_run(d, "r.md"), &["report", "{d}/r.md"], 0, "", &["r.md.md"]),
        c("report over its run", |d| committed_run(d, "r.json"), &["report", "{d}/r.json", "--out", "{d}/r.json"], 2, "would overwrite the input", &[]),
        c("report of malformed JSON", |d| std::fs::write(d.join("r.json"), b"{\"schema_version\": 1, ").unwrap(), &["report", "{d}/r.json"], 2, "r.json", &[]),
        c("figure over its run", |d| committed_run(d, "x-throughput.svg"), &["plot", "{d}/x-throughput.svg", "--prefix", "x"], 2, "would overwrite the input", &[]),
        c("figure over a link", |d| { committed_run(d, "r.json"); std::os::unix::fs::symlink(d.join("r.json"), d.join("r-cliff.svg")).unwrap() }, &["plot", "{d}/r.json"], 2, "is a symbolic link", &[]),
        c("ratchet raises a read-only baseline", |d| { committed_run(d, "cur.json"); committed_run(d, "base.json"); read_only(&d.join("base.json")) }, &[ "ratchet", "--baseline", "{d}/base.json", "--current", "{d}/cur.json", "--update", ], 2, "is read-only", &[]),
        c("ratchet raises the run itself", |d| committed_run(d, "cur.json"), &[ "ratchet", "--baseline", "{d}/cur.json", "--current", "{d}/cur.json", "--update", ], 2, "would overwrite the input", &[]),
        c("ratchet starts a baseline over its run", |d| committed_run(d, "cur.json"), &[ "ratchet", "--init", "--baseline", "{d}/cur.json", "--current", "{d}/cur.json", ], 2, "would overwrite the input", &[]),
        // Options are checked before the GPU is even looked for (exit 3 without one).
        c("time: a budget no clock holds", |_| {}, &["time", "--shape", "1,2,64,64", "--sample-budget", "1e300"], 2, "--sample-budget must be a positive number of seconds", &[]),
        c("tune: a budget no clock holds", |_| {}, &["tune", "--shape", "1,2,64,64", "--budget", "1e300"], 2, "--budget must be a positive number of seconds", &[]),
        c("time: a NaN CI width", |_| {}, &["time", "--shape", "1,2,64,64", "--rel-ci", "NaN"], 2, "relative half-width must be positive", &[]),
        c("time: no samples", |_| {}, &["time", "--shape", "1,2,64,64", "--min-samples", "0"], 2, "min_samples", &[]),
        c("check: no cases", |_| {}, &["check", "--emulate", "--cases", "0"], 2, "checks nothing", &[]),
        c("check: no shapes", |_| {}, &["check", "--emulate", "--shapes", ";"], 2, "checks nothing", &[]),
        c("time --out a device", |_| {}, &["time", "--shape", "1,2,64,64", "--out", "/dev/null"], 2, "is a device", &[]),
        c("bench over a FIFO", |d| { std::fs::create_dir(d.join("b")).unwrap(); mkfifo(&d.join("b/seed.md")) }, &["bench", "--suite", "seed", "--out", "{d}/b"], 2, "is a FIFO", &[]),
    ]
}

fn read_only(path: &Path) {
    std::fs::write(path, b"precious").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A `.npy` header whose shape has 2^80 elements.
fn huge_header() -> Vec<u8> {
    let mut b = npy::encode_f32(&[1, 1, 1, 1], &[0.0]);
    let header = String::from_utf8_lossy(&b[10..]).into_owned();
    let fixed = header.replacen("(1, 1, 1, 1)", "(1099511627776, 1099511627776, 1, 1)", 1);
    b.truncate(10);
    b.extend_from_slice(fixed.as_bytes());
    let len = (b.len() - 10) as u16;
    b[8..10].copy_from_slice(&len.to_le_bytes());
    b
}

/// Every entry under `dir`: its bytes (or link target, or kind) and mode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let kind = meta.file_type();
        let body = if kind.is_symlink() {
            std::fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else if kind.is_file() {
            std::fs::read(&p).unwrap()
        } else if kind.is_dir() {
            out.extend(snapshot(&p));
            b"<dir>".to_vec()
        } else {
            b"<special>".to_vec()
        };
        out.insert(p, (body, meta.permissions().mode()));
    }
    out
}

fn command(d: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tileattn"));
    let dir = d.to_str().unwrap();
    cmd.args(args.iter().map(|a| OsString::from(a.replace("{d}", dir))))
        // The tuning cache of every case is inside its directory.
        .env("TILEATTN_TUNE_CACHE", d.join("cache/tune.json"))
        .stdin(Stdio::null());
    cmd
}

#[test]
fn hostile_inputs_give_documented_exit_codes_and_change_no_other_file() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        (case.setup)(d);
        let before = snapshot(d);
        let out: Output = command(d, &case.args).output().unwrap();
        let after = snapshot(d);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut wrong = Vec::new();
        if out.status.code() != Some(case.code) {
            wrong.push(format!(
                "exit {:?}, expected {}",
                out.status.code(),
                case.code
            ));
        }
        if !stderr.contains(case.says) || stderr.contains("panicked") {
            wrong.push(format!("stderr lacks `{}`", case.says));
        }
        let allowed = |p: &Path| case.changes.iter().any(|c| d.join(c) == p);
        for (p, was) in &before {
            if !allowed(p) && after.get(p) != Some(was) {
                wrong.push(format!("{} changed", p.display()));
            }
        }
        for p in after.keys() {
            if !before.contains_key(p) && !allowed(p) {
                wrong.push(format!("{} appeared", p.display()));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n  stderr: {}",
                case.name,
                wrong.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A replaced read-only file keeps its mode; O and LSE of a negative scale
/// are finite.
#[test]
fn outputs_keep_their_mode_and_negative_scales_give_finite_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    qkv(d);
    read_only(&d.join("o.npy"));
    let args = [
        RUN,
        &[
            "--scale=-0.125",
            "--out",
            "{d}/o.npy",
            "--lse",
            "{d}/lse.npy",
            "--replace-read-only",
        ],
    ]
    .concat();
    let out = command(d, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(d.join("o.npy"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
    for f in ["o.npy", "lse.npy"] {
        assert!(
            npy::read(&d.join(f))
                .unwrap()
                .data
                .iter()
                .all(|x| x.is_finite()),
            "{f}"
        );
    }
}

/// `tileattn variants | head -1`: the reader is gone before the first line.
#[test]
fn a_broken_pipe_ends_quietly() {
    for args in [&["variants"][..], &["variants", "--json"]] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = command(dir.path(), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{stderr}"
        );
    }
}

/// SIGINT and SIGTERM end a command with 128 + the signal, as documented.
#[test]
fn a_signal_ends_the_command_with_its_documented_status() {
    use std::io::BufRead;
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let args = ["check", "--emulate", "--cases", "100000", "--workers", "1"];
        let mut child = command(dir.path(), &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its first line ("checking …") comes after the handler is installed.
        let mut first = String::new();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        stderr.read_line(&mut first).unwrap();
        let sent = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        assert_eq!(child.wait().unwrap().code(), Some(code), "SIG{signal}");
    }
}

/// Figures of extreme and degenerate values are drawn in bounded time.
#[test]
fn figures_of_extreme_values_are_drawn_in_bounded_time() {
    // (value, the exit code: drawn, or refused as a malformed run: zero times)
    for (x, code) in [
        (1e308, 0),
        (5e-324, 0),
        (f64::MIN_POSITIVE, 0),
        (1.0, 0),
        (0.0, 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        run_of_all(d, x);
        let mut child = command(d, &["plot", "{d}/r.json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("plot of a run of {x:e} did not end in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{x:e}: {stderr}");
        // Drawn, or refused as a malformed run file; never a crash.
        assert!(status.code() == Some(code), "{x:e}: {status:?} {stderr}");
    }
}
