//! [`TorchSide`]: the running script, spoken to request by request.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::child::{
    EXIT_GRACE, STDERR_SETTLE_MAX, STDERR_SETTLE_QUIET, StderrTail, Timeouts, clip, describe_exit,
    forward_lines, tool_error, wait_until,
};
use super::wire::{
    Backend, FailureReply, Hello, Loaded, Outcome, PROTOCOL, Plan, Reply, Request, RunReply,
    Samples, Sampling,
};
use crate::problem::Problem;
use crate::tensor::Tensor;
use crate::timing::stream::FILLER_MIN;
use crate::{Error, Result, npy};

/// The result of starting the script.
pub enum Started {
    Ready(Box<TorchSide>),
    /// No python3, no torch or no GPU: tileattn says why and measures itself alone.
    Unavailable(String),
}

/// `$TILEATTN_PYTHON` (split on spaces), or `python3`.
pub fn default_python() -> Vec<String> {
    match std::env::var("TILEATTN_PYTHON") {
        Ok(p) if !p.trim().is_empty() => p.split_whitespace().map(String::from).collect(),
        _ => vec!["python3".to_string()],
    }
}

/// `$TILEATTN_SDPA_SCRIPT`; else `scripts/sdpa_baseline.py` under the current
/// directory (a checkout the binary was copied into); else that of the source
/// tree it was built from.
pub fn default_script() -> PathBuf {
    let here = Path::new("scripts/sdpa_baseline.py");
    std::env::var_os("TILEATTN_SDPA_SCRIPT").map_or_else(
        || {
            if here.is_file() {
                here.to_path_buf()
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sdpa_baseline.py")
            }
        },
        PathBuf::from,
    )
}

/// A running `sdpa_baseline.py` that has answered `hello`.
pub struct TorchSide {
    child: Child,
    /// None once closed (quit, or the script is gone).
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    stderr: Arc<Mutex<StderrTail>>,
    /// Disconnects when the stderr reader has seen the end of the pipe.
    stderr_done: Receiver<()>,
    timeouts: Timeouts,
    hello: Hello,
    /// Why the script can no longer be used; every later request fails with it.
    dead: Option<String>,
    /// The child has been waited for: nothing left for Drop to do.
    reaped: bool,
}

impl TorchSide {
    /// Start `python script` and shake hands. `python` is the interpreter and any
    /// arguments before the script (`default_python()`).
    pub fn spawn(python: &[String], script: &Path, timeouts: Timeouts) -> Result<Started> {
        let (program, args) = python
            .split_first()
            .ok_or_else(|| Error::Invalid("empty python command".into()))?;
        if !script.is_file() {
            return Err(tool_error(format!(
                "{}: script not found (set TILEATTN_SDPA_SCRIPT to scripts/sdpa_baseline.py)",
                script.display()
            )));
        }
        let spawned = Command::new(program)
            .args(args)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Started::Unavailable(format!(
                    "`{program}` not found: install Python 3 with torch, or set TILEATTN_PYTHON"
                )));
            }
            Err(e) => return Err(tool_error(format!("cannot start `{program}`: {e}"))),
        };
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(tool_error("the child process has no pipes"));
                }
            };
        let (reply_tx, replies) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, |line| reply_tx.send(line).is_ok()));
        let tail = Arc::new(Mutex::new(StderrTail::default()));
        let (done_tx, stderr_done) = mpsc::channel::<()>();
        let sink = Arc::clone(&tail);
        std::thread::spawn(move || {
            forward_lines(stderr, |line| sink.lock().map(|mut t| t.push(line)).is_ok());
            drop(done_tx);
        });
        let side = TorchSide {
            child,
            stdin: Some(stdin),
            replies,
            stderr: tail,
            stderr_done,
            timeouts,
            hello: Hello::default(), // until the handshake fills it
            dead: None,
            reaped: false,
        };
        side.handshake()
    }

    fn handshake(mut self) -> Result<Started> {
        match self.request::<Hello>(&Request::Hello, self.timeouts.start)? {
            Reply::Ok(hello) if hello.protocol == PROTOCOL => {
                self.hello = hello;
                Ok(Started::Ready(Box::new(self)))
            }
            Reply::Ok(hello) => Err(tool_error(format!(
                "the script speaks protocol {}, this tileattn speaks {PROTOCOL}: use the script from the same checkout",
                hello.protocol
            ))),
            Reply::Failed { kind, error } if kind == "unavailable" => {
                Ok(Started::Unavailable(error))
            }
            Reply::Failed { kind, error } => Err(self.failure("hello", &kind, &error)),
        }
    }

    /// What the script said at the handshake.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Load BSHD float32 `.npy` inputs (values already rounded to the problem's
    /// dtype) onto the GPU, replacing any earlier problem.
    pub fn load(
        &mut self,
        problem: &Problem,
        q: &Path,
        k: &Path,
        v: &Path,
    ) -> Result<Outcome<Loaded>> {
        let (q, k, v) = (absolute(q)?, absolute(k)?, absolute(v)?);
        let request = Request::Load {
            problem: problem.into(),
            q: &q,
            k: &k,
            v: &v,
        };
        self.outcome(&request)
    }

    /// Write the tensors as `q.npy`, `k.npy`, `v.npy` under `dir` and load them.
    pub fn load_tensors(
        &mut self,
        problem: &Problem,
        [q, k, v]: [&Tensor; 3],
        dir: &Path,
    ) -> Result<Outcome<Loaded>> {
        let mut paths = Vec::with_capacity(3);
        for (name, t, seq, heads) in [
            ("q", q, problem.seqlen_q, problem.heads_q),
            ("k", k, problem.seqlen_k, problem.heads_kv),
            ("v", v, problem.seqlen_k, problem.heads_kv),
        ] {
            check_shape(name, t, problem, seq, heads)?;
            let path = dir.join(format!("{name}.npy"));
            npy::write_atomic(&path, &npy::encode_f32(&bshd_shape(t), &bshd_f32(t)))?;
            paths.push(path);
        }
        self.load(problem, &paths[0], &paths[1], &paths[2])
    }

    /// One launch of `backend` on the loaded problem; O is written to `out` as
    /// BSHD float32 `.npy`, for comparison with the f64 reference.
    pub fn run(&mut self, backend: Backend, out: &Path) -> Result<Outcome<Plan>> {
        let out = absolute(out)?;
        let reply: Outcome<RunReply> = self.outcome(&Request::Run { backend, out: &out })?;
        Ok(reply.map(|r| r.plan))
    }

    /// `n` timed launches of `backend`, each between its own CUDA events. The
    /// `first` request of a measurement warms up first (the reply says how);
    /// later ones continue its stream. End the measurement with [`Self::end`].
    pub fn sample(
        &mut self,
        backend: Backend,
        n: u32,
        first: bool,
        how: &Sampling,
    ) -> Result<Outcome<Samples>> {
        let request = Request::Sample {
            backend,
            n,
            first,
            mode: how.mode,
            flush_bytes: how.flush_bytes,
            lead_us: how.lead_us,
            warmup: (&how.warmup).into(),
            filler_ms: FILLER_MIN.as_secs_f64() * 1e3,
        };
        let samples: Outcome<Samples> = self.outcome(&request)?;
        if let Outcome::Done(s) = &samples {
            let wrong = if s.samples_ms.len() != n as usize || s.clock_mhz.len() != n as usize {
                Some(format!(
                    "{} samples and {} clock readings for {n} asked",
                    s.samples_ms.len(),
                    s.clock_mhz.len()
                ))
            } else if first != s.warmup.is_some() {
                Some(format!(
                    "a warm-up record {} the measurement's first request",
                    if first { "missing from" } else { "outside" }
                ))
            } else {
                None
            };
            if let Some(why) = wrong {
                return Err(self.protocol_error(&request, &why));
            }
        }
        Ok(samples)
    }

    /// End the measurement whose samples were requested last: the script
    /// waits for the filler it queued.
    pub fn end(&mut self) -> Result<()> {
        match self.request::<serde_json::Value>(&Request::End, self.timeouts.request)? {
            Reply::Ok(_) => Ok(()),
            Reply::Failed { kind, error } => Err(self.failure("end", &kind, &error)),
        }
    }

    /// Release the problem's GPU memory.
    pub fn free(&mut self) -> Result<()> {
        match self.request::<serde_json::Value>(&Request::Free, self.timeouts.request)? {
            Reply::Ok(_) => Ok(()),
            Reply::Failed { kind, error } => Err(self.failure("free", &kind, &error)),
        }
    }

    /// Ask the script to exit and wait for it.
    pub fn quit(mut self) -> Result<()> {
        self.shutdown()
    }

    /// A request whose expected failures (unsupported, out of memory) are outcomes.
    fn outcome<T: DeserializeOwned>(&mut self, request: &Request) -> Result<Outcome<T>> {
        match self.request::<T>(request, self.timeouts.request)? {
            Reply::Ok(t) => Ok(Outcome::Done(t)),
            Reply::Failed { kind, error } => match kind.as_str() {
                "unsupported" => Ok(Outcome::Unsupported(error)),
                "oom" => Ok(Outcome::OutOfMemory(error)),
                _ => Err(self.failure(&request.describe(), &kind, &error)),
            },
        }
    }

    /// Send one request and wait for its reply line.
    fn request<T: DeserializeOwned>(
        &mut self,
        request: &Request,
        timeout: Duration,
    ) -> Result<Reply<T>> {
        if let Some(why) = &self.dead {
            return Err(tool_error(format!("the script stopped earlier: {why}")));
        }
        let what = request.describe();
        let line = serde_json::to_string(request)
            .map_err(|e| Error::Invalid(format!("cannot encode `{what}` as JSON: {e}")))?;
        if let Err(e) = self.send(&line) {
            let status = self.reap();
            return Err(self.die(format!(
                "could not send `{what}` ({e}); the script {status}"
            )));
        }
        match self.replies.recv_timeout(timeout) {
            Ok(reply) => self.parse(request, &reply),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(self.die(format!(
                    "no reply to `{what}` within {timeout:?}: the script was stopped"
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.reap();
                Err(self.die(format!("the script {status} without answering `{what}`")))
            }
        }
    }

    fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()
    }

    fn parse<T: DeserializeOwned>(&mut self, request: &Request, line: &str) -> Result<Reply<T>> {
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => {
                return Err(
                    self.protocol_error(request, &format!("not a JSON reply: `{}`", clip(line)))
                );
            }
        };
        let parsed = match value.get("ok").and_then(serde_json::Value::as_bool) {
            Some(true) => serde_json::from_value(value).map(Reply::Ok),
            Some(false) => serde_json::from_value::<FailureReply>(value).map(|f| Reply::Failed {
                kind: f.kind,
                error: f.error,
            }),
            None => {
                return Err(
                    self.protocol_error(request, &format!("reply has no \"ok\": `{}`", clip(line)))
                );
            }
        };
        parsed.map_err(|e| self.protocol_error(request, &format!("{e} in `{}`", clip(line))))
    }

    /// The script answered something this tileattn cannot use: the conversation is over.
    fn protocol_error(&mut self, request: &Request, detail: &str) -> Error {
        self.kill();
        self.die(format!(
            "unexpected answer to `{}`: {detail}",
            request.describe()
        ))
    }

    /// A failure the script reported: it is still usable.
    fn failure(&self, what: &str, kind: &str, error: &str) -> Error {
        tool_error(format!(
            "`{what}` failed ({kind}): {error}{}",
            self.stderr_tail()
        ))
    }

    /// Mark the script unusable and build the error, with its last stderr lines.
    fn die(&mut self, why: String) -> Error {
        let error = tool_error(format!("{why}{}", self.stderr_tail()));
        self.dead = Some(why);
        self.stdin = None;
        error
    }

    fn stderr_tail(&self) -> String {
        self.let_stderr_settle();
        let lines = match self.stderr.lock() {
            Ok(t) => t.lines.iter().cloned().collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        if lines.is_empty() {
            "\n(the script wrote nothing on stderr)".into()
        } else {
            format!("\nlast lines of the script's stderr:\n{}", lines.join("\n"))
        }
    }

    /// stdout and stderr are read on different threads: a traceback written just
    /// before a failure reply may not be read yet. Wait until no line arrived for
    /// a moment (failure paths only).
    fn let_stderr_settle(&self) {
        let count = || self.stderr.lock().map(|t| t.count).unwrap_or(0);
        let deadline = Instant::now() + STDERR_SETTLE_MAX;
        let mut last = count();
        while Instant::now() < deadline {
            std::thread::sleep(STDERR_SETTLE_QUIET);
            let now = count();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// Wait for a script whose stdout closed; stop it if it lingers. Says how it ended.
    fn reap(&mut self) -> String {
        self.stdin = None;
        let status = match wait_until(&mut self.child, Instant::now() + EXIT_GRACE) {
            Some(status) => describe_exit(status),
            None => {
                let _ = self.child.kill();
                "closed its stdout and was stopped".into()
            }
        };
        self.finish();
        status
    }

    fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        self.finish();
    }

    /// Collect the exit status and give the stderr reader a moment to take the last lines.
    fn finish(&mut self) {
        let _ = self.child.wait();
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        self.reaped = true;
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.reaped {
            return Ok(());
        }
        let quit = if self.dead.is_none() {
            self.request::<serde_json::Value>(&Request::Quit, EXIT_GRACE)
                .map(|_| ())
        } else {
            Ok(())
        };
        if !self.reaped {
            self.reap();
        }
        quit
    }
}

impl Drop for TorchSide {
    fn drop(&mut self) {
        // Errors here have nowhere to go; the child is stopped either way.
        let _ = self.shutdown();
    }
}

/// The script may run in another directory one day; absolute paths mean the same file there.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

fn check_shape(name: &str, t: &Tensor, p: &Problem, seq: u32, heads: u32) -> Result<()> {
    let want = (p.dtype, p.batch, seq, heads, p.head_dim);
    let got = (t.dtype, t.batch, t.seq, t.heads, t.dim);
    if want == got {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{name}: {} [B={}, S={}, H={}, D={}] does not match the problem {p}",
        t.dtype.name(),
        t.batch,
        t.seq,
        t.heads,
        t.dim
    )))
}

fn bshd_shape(t: &Tensor) -> [usize; 4] {
    [t.batch, t.seq, t.heads, t.dim].map(|d| d as usize)
}

/// The tensor's values in BSHD order, whatever its strides: exact in f32.
fn bshd_f32(t: &Tensor) -> Vec<f32> {
    let mut out = Vec::with_capacity(bshd_shape(t).iter().product());
    for b in 0..t.batch {
        for s in 0..t.seq {
            for h in 0..t.heads {
                out.extend((0..t.dim).map(|d| t.get(b, s, h, d)));
            }
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::operand_values::OperandValues;
    use crate::runfile::Warmup;
    use crate::tensor::Layout;
    use crate::timing::WarmupRule;
    use crate::timing::fake::{ClockModel, FakeGpu, LAUNCH_MS};
    use crate::timing::stream::SampleStream;
    use crate::timing::warmup::warm_up;
    use crate::torch_side::wire::DEFAULT_LEAD_US;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tileattn_kernels::DType;

    pub(crate) const QUICK: Timeouts = Timeouts {
        start: Duration::from_secs(30),
        request: Duration::from_secs(30),
    };

    fn stub() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdpa_stub.py")
    }

    /// `python3`, or None with a skip line on a machine without it.
    fn python() -> Option<Vec<String>> {
        let found = Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("skipped: python3 not found");
        }
        found.then(|| vec!["python3".to_string()])
    }

    /// The stub, misbehaving as `faults` says (its SDPA_STUB syntax, e.g. `die:load`).
    fn start_stub(faults: &str, timeouts: Timeouts) -> Option<Result<Started>> {
        start_stub_with(&[format!("SDPA_STUB={faults}")], timeouts)
    }

    /// The stub with these `NAME=value` environment variables.
    fn start_stub_with(vars: &[String], timeouts: Timeouts) -> Option<Result<Started>> {
        let mut command = vec!["env".to_string()];
        command.extend_from_slice(vars);
        command.extend(python()?);
        Some(TorchSide::spawn(&command, &stub(), timeouts))
    }

    fn ready(started: Result<Started>) -> Box<TorchSide> {
        match started.expect("spawn") {
            Started::Ready(side) => side,
            Started::Unavailable(why) => panic!("unexpectedly unavailable: {why}"),
        }
    }

    /// A GQA, ragged, causal problem and its inputs; Q in BHSD so writing it must reorder.
    fn case() -> (Problem, [Tensor; 3]) {
        let p = Problem::new(2, 4, 2, 5, 7, 64, DType::Bf16, true);
        let mut rng = StdRng::seed_from_u64(7);
        let mut random = |shape, layout| {
            Tensor::random(DType::Bf16, OperandValues::Dtype, shape, layout, &mut rng)
        };
        let q = random([2, 5, 4, 64], Layout::Bhsd);
        let k = random([2, 7, 2, 64], Layout::Bshd);
        let v = random([2, 7, 2, 64], Layout::Bshd);
        (p, [q, k, v])
    }

    /// The stub with `case()` loaded.
    fn loaded(
        faults: &str,
        timeouts: Timeouts,
    ) -> Option<(Box<TorchSide>, tempfile::TempDir, [Tensor; 3])> {
        loaded_with(&[format!("SDPA_STUB={faults}")], timeouts)
    }

    pub(crate) fn loaded_with(
        vars: &[String],
        timeouts: Timeouts,
    ) -> Option<(Box<TorchSide>, tempfile::TempDir, [Tensor; 3])> {
        let mut side = ready(start_stub_with(vars, timeouts)?);
        let dir = tempfile::tempdir().unwrap();
        let (p, [q, k, v]) = case();
        let loaded = side.load_tensors(&p, [&q, &k, &v], dir.path()).unwrap();
        assert!(matches!(loaded, Outcome::Done(_)), "{loaded:?}");
        Some((side, dir, [q, k, v]))
    }

    pub(crate) fn tool_message(e: Error) -> String {
        match e {
            Error::Tool { tool, message } => {
                assert_eq!(tool, "torch baseline");
                message
            }
            other => panic!("expected a tool error, got {other}"),
        }
    }

    #[test]
    fn backends_name_their_implementations() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(b));
            assert_eq!(b.implementation(), format!("torch-{}", b.name()));
        }
        assert_eq!(Backend::parse("triton"), None);
    }

    #[test]
    fn handshake_load_run_sample_round_trip() {
        let Some(started) = start_stub("", QUICK) else {
            return;
        };
        let mut side = ready(started);
        assert_eq!(side.hello().gpu, "Stub GPU");
        assert_eq!(side.hello().capability, "9.0");
        assert_eq!(side.hello().backends, Backend::ALL.to_vec());

        let dir = tempfile::tempdir().unwrap();
        let (p, [q, k, v]) = case();
        let loaded = side.load_tensors(&p, [&q, &k, &v], dir.path()).unwrap();
        // bf16: 2 bytes per element of Q, K and V; Sq = 5 < Sk = 7 leaves no row fully masked.
        let elements = 2 * 64 * (5 * 4 + 2 * 7 * 2);
        let want = Loaded {
            input_bytes: 2 * elements,
            fully_masked_rows: 0,
        };
        assert_eq!(loaded, Outcome::Done(want));

        // The stub's O is its Q: what comes back is what tileattn wrote, in BSHD.
        let out = dir.path().join("o.npy");
        let plan = side.run(Backend::Flash, &out).unwrap();
        assert!(
            matches!(&plan, Outcome::Done(p) if p.gqa == "native" && p.mask == "is_causal"),
            "{plan:?}"
        );
        let o = npy::read(&out).unwrap();
        assert_eq!(o.shape, vec![2, 5, 4, 64]);
        assert_eq!(o.data, bshd_f32(&q));
        assert_eq!(o.data[64], q.get(0, 0, 1, 0), "heads are the third axis");

        let cold = Sampling::cold(100 << 20, WarmupRule::MEASURE);
        let Outcome::Done(first) = side.sample(Backend::Cudnn, 5, true, &cold).unwrap() else {
            panic!("cold sampling failed")
        };
        let w = first
            .warmup
            .as_ref()
            .expect("a measurement's first request warms up");
        // The stub's GPU keeps 1980 MHz: settled as soon as the minimum has passed.
        assert!(w.settled && w.ms >= 200.0, "{w:?}");
        assert_eq!(w.clock_mhz, Some(1980.0));
        // The samples continue the warm-up's stream (launch times count samples).
        let nth = |i: u64| LAUNCH_MS + i as f64 * 1e-9;
        assert_eq!(
            first.samples_ms,
            (0..5).map(|i| nth(w.samples + i)).collect::<Vec<_>>()
        );
        assert_eq!(first.clock_mhz, vec![Some(1980.0); 5]);
        assert_eq!(first.lead_us, DEFAULT_LEAD_US);
        let Outcome::Done(more) = side.sample(Backend::Cudnn, 3, false, &cold).unwrap() else {
            panic!("continued sampling failed")
        };
        assert_eq!(
            (more.warmup, more.samples_ms[0]),
            (None, nth(w.samples + 5))
        );
        side.end().unwrap();
        side.end().unwrap(); // nothing left to end is no error

        let Outcome::Done(hot) = side
            .sample(Backend::Cudnn, 3, true, &Sampling::hot(WarmupRule::SHORT))
            .unwrap()
        else {
            panic!("hot sampling failed")
        };
        let w = hot.warmup.expect("a new measurement warms up again");
        assert!(w.settled && (50.0..100.0).contains(&w.ms), "{w:?}");
        assert_eq!(hot.samples_ms[0], 0.5 + w.samples as f64 * 1e-9, "hot mode");

        side.free().unwrap();
        side.quit().unwrap();
    }

    #[test]
    fn bad_requests_are_errors_that_leave_the_script_usable() {
        let Some(started) = start_stub("", QUICK) else {
            return;
        };
        let mut side = ready(started);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.npy");
        let e = tool_message(side.run(Backend::Math, &out).unwrap_err());
        assert!(
            e.contains("`run math` failed (bad_request)") && e.contains("load"),
            "{e}"
        );

        // K written with the wrong number of heads: the script's own .npy check says so.
        let (p, [q, k, v]) = case();
        let paths = ["q", "k", "v"].map(|name| dir.path().join(format!("{name}.npy")));
        for (path, t) in paths.iter().zip([&q, &q, &v]) {
            npy::write_atomic(path, &npy::encode_f32(&bshd_shape(t), &bshd_f32(t))).unwrap();
        }
        let e = tool_message(side.load(&p, &paths[0], &paths[1], &paths[2]).unwrap_err());
        assert!(
            e.contains("k.npy: shape (2, 5, 4, 64), the problem needs BSHD (2, 7, 2, 64)"),
            "{e}"
        );

        let wrong = Problem { head_dim: 128, ..p };
        let e = side
            .load_tensors(&wrong, [&q, &k, &v], dir.path())
            .unwrap_err();
        assert!(
            matches!(e, Error::Invalid(ref m) if m.contains("does not match the problem")),
            "{e}"
        );

        // Still alive after all that.
        let loaded = side.load_tensors(&p, [&q, &k, &v], dir.path()).unwrap();
        assert!(matches!(loaded, Outcome::Done(_)));
    }

    #[test]
    fn unsupported_and_out_of_memory_are_outcomes() {
        let Some((mut side, dir, _)) = loaded("unsupported:run,oom:sample", QUICK) else {
            return;
        };
        let run = side.run(Backend::Cudnn, &dir.path().join("o.npy")).unwrap();
        assert_eq!(
            run,
            Outcome::Unsupported("stub says unsupported for run".into())
        );
        let sample = side
            .sample(Backend::Math, 10, true, &Sampling::hot(WarmupRule::MEASURE))
            .unwrap();
        assert_eq!(
            sample,
            Outcome::OutOfMemory("stub says oom for sample".into())
        );
        side.quit().unwrap();
    }

    #[test]
    fn a_script_error_carries_its_traceback() {
        let Some((mut side, dir, _)) = loaded("error:run", QUICK) else {
            return;
        };
        let e = tool_message(
            side.run(Backend::Flash, &dir.path().join("o.npy"))
                .unwrap_err(),
        );
        assert!(
            e.contains("`run flash` failed (error): stub says error"),
            "{e}"
        );
        assert!(
            e.contains("RuntimeError: stub failure"),
            "stderr tail missing: {e}"
        );
    }

    #[test]
    fn missing_torch_or_python_means_unavailable() {
        let Some(started) = start_stub("unavailable:hello", QUICK) else {
            return;
        };
        assert!(
            matches!(started, Ok(Started::Unavailable(ref why)) if why == "stub says unavailable for hello")
        );

        let missing = ["/nonexistent/python3".to_string()];
        match TorchSide::spawn(&missing, &stub(), QUICK).unwrap() {
            Started::Unavailable(why) => {
                assert!(why.contains("`/nonexistent/python3` not found"), "{why}")
            }
            Started::Ready(_) => panic!("a missing interpreter started"),
        }

        let e = TorchSide::spawn(&missing, Path::new("/nonexistent/sdpa.py"), QUICK);
        assert!(tool_message(e.err().unwrap()).contains("script not found"));
    }

    #[test]
    fn a_protocol_mismatch_is_refused() {
        let Some(started) = start_stub("protocol:hello", QUICK) else {
            return;
        };
        let e = tool_message(started.err().unwrap());
        assert!(e.contains("protocol 999") && e.contains("speaks 2"), "{e}");
    }

    #[test]
    fn garbage_on_stdout_ends_the_conversation() {
        let Some((mut side, dir, _)) = loaded("garbage:run", QUICK) else {
            return;
        };
        let e = tool_message(
            side.run(Backend::Flash, &dir.path().join("o.npy"))
                .unwrap_err(),
        );
        assert!(
            e.contains("unexpected answer to `run flash`: not a JSON reply: `this is not json`"),
            "{e}"
        );
        let hot = Sampling::hot(WarmupRule::MEASURE);
        let e = tool_message(side.sample(Backend::Flash, 1, true, &hot).unwrap_err());
        assert!(e.contains("the script stopped earlier"), "{e}");
    }

    #[test]
    fn a_dead_script_is_reported_with_its_stderr() {
        let Some(started) = start_stub("die:load", QUICK) else {
            return;
        };
        let mut side = ready(started);
        let dir = tempfile::tempdir().unwrap();
        let (p, [q, k, v]) = case();
        let e = tool_message(side.load_tensors(&p, [&q, &k, &v], dir.path()).unwrap_err());
        assert!(
            e.contains("exited with status 3 without answering `load`"),
            "{e}"
        );
        assert!(
            e.contains("stub: dying on purpose during load"),
            "stderr tail missing: {e}"
        );
    }

    #[test]
    fn a_hung_script_times_out_and_is_stopped() {
        let timeouts = Timeouts {
            request: Duration::from_millis(300),
            ..QUICK
        };
        let Some((mut side, _dir, _)) = loaded("hang:sample", timeouts) else {
            return;
        };
        let started = Instant::now();
        let hot = Sampling::hot(WarmupRule::MEASURE);
        let e = tool_message(side.sample(Backend::Flash, 3, true, &hot).unwrap_err());
        assert!(e.contains("no reply to `sample flash` within 300ms"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        drop(side); // nothing left to wait for
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn continuing_a_measurement_that_was_not_started_is_refused() {
        let Some((mut side, _dir, _)) = loaded("", QUICK) else {
            return;
        };
        let cold = Sampling::cold(1 << 20, WarmupRule::SHORT);
        let e = tool_message(side.sample(Backend::Flash, 2, false, &cold).unwrap_err());
        assert!(
            e.contains("no measurement of flash (cold) in progress"),
            "{e}"
        );
        assert!(matches!(
            side.sample(Backend::Flash, 2, true, &cold).unwrap(),
            Outcome::Done(_)
        ));
        // Another backend is another measurement.
        let e = tool_message(side.sample(Backend::Cudnn, 2, false, &cold).unwrap_err());
        assert!(
            e.contains("no measurement of cudnn (cold) in progress"),
            "{e}"
        );
    }

    /// tileattn's warm-up and stream on the simulated GPU of `model`: the record
    /// and the first `n` samples after it.
    pub(crate) fn ours(
        model: ClockModel,
        rule: &WarmupRule,
        n: usize,
    ) -> (Warmup, Vec<f64>, Vec<f64>) {
        let mut gpu = FakeGpu::new(model, 4096);
        let clock = gpu.clock();
        let mut stream = SampleStream::new(&mut gpu, &clock);
        let w = warm_up(&mut stream, rule).unwrap();
        let (ms, mhz) = stream.take(n).unwrap();
        stream.finish().unwrap();
        (w, ms, mhz)
    }

    /// The script's protocol is tileattn's: on the same simulated GPU (the
    /// stub's FakeOps is timing::fake's model), the same warm-up batches, end,
    /// clock and samples, with the filler between them in the same places.
    #[test]
    fn the_script_warms_up_and_streams_as_tileattn_does() {
        let models = [
            ("drop", ClockModel::Drop),
            ("ramp", ClockModel::Ramp),
            ("steady", ClockModel::Steady),
            ("silent", ClockModel::Silent),
        ];
        for (name, model) in models {
            let vars = [format!("SDPA_STUB_CLOCK={name}")];
            let Some((mut side, _dir, _)) = loaded_with(&vars, QUICK) else {
                return;
            };
            let rule = WarmupRule::MEASURE;
            let Outcome::Done(script) = side
                .sample(Backend::Flash, 10, true, &Sampling::cold(1 << 20, rule))
                .unwrap()
            else {
                panic!("{name}: sampling failed")
            };
            let (w, ms, mhz) = ours(model, &rule, 10);
            let theirs = script.warmup.unwrap();
            let summary = |w: &Warmup| (w.samples, w.settled, w.clock_mhz);
            assert_eq!(summary(&theirs), summary(&w), "{name}");
            assert!(
                (theirs.ms - w.ms).abs() < 1e-6,
                "{name}: {} vs {}",
                theirs.ms,
                w.ms
            );
            assert_eq!(theirs.batches.len(), w.batches.len(), "{name}");
            for (a, b) in theirs.batches.iter().zip(&w.batches) {
                assert_eq!((a.samples, a.clock_mhz), (b.samples, b.clock_mhz), "{name}");
                assert!((a.end_ms - b.end_ms).abs() < 1e-6, "{name}");
            }
            assert_eq!(script.samples_ms, ms, "{name}");
            let mhz: Vec<Option<f64>> = mhz.iter().map(|x| x.is_finite().then_some(*x)).collect();
            assert_eq!(script.clock_mhz, mhz, "{name}");
            side.end().unwrap();
        }
    }

    /// The real script starts and answers without torch (unavailable) or with it (ready).
    #[test]
    fn the_real_script_answers_hello() {
        let Some(python) = python() else { return };
        match TorchSide::spawn(&python, &default_script(), Timeouts::default()).unwrap() {
            Started::Unavailable(why) => assert!(why.contains("torch"), "{why}"),
            Started::Ready(side) => {
                assert!(!side.hello().gpu.is_empty());
                side.quit().unwrap();
            }
        }
    }
}
