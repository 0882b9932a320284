#!/usr/bin/env python3
"""A stand-in for scripts/sdpa_baseline.py that needs no torch and no GPU.

It is the real script with canned answers: the protocol loop, request
checking, .npy header handling, error replies and the whole sampling protocol
(warm-up, filler, measurements and their end) are imported from it; only
the torch work is replaced. `run` writes O := Q, so a test can check what went
through the files. Samples come from FakeOps, a simulated GPU whose SM clock
follows SDPA_STUB_CLOCK (steady, the default; drop; ramp; silent): the model
of host/src/timing/fake.rs, so a test can run tileattn's own stream and
warm-up on the same GPU and compare. SDPA_STUB makes it misbehave: a comma-separated list of
ACTION:CMD, where ACTION is one of
  die          exit without answering (after a line on stderr)
  garbage      answer with a line that is not JSON
  hang         never answer
  unavailable | unsupported | oom | error
               answer ok:false with that kind (error also prints a traceback)
  protocol     answer hello with a protocol version nobody speaks
e.g. SDPA_STUB=die:load or SDPA_STUB=hang:sample.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # importing the real script must not litter scripts/ with __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import sdpa_baseline as real  # noqa: E402


# host/src/timing/fake.rs: sample i's launch takes LAUNCH_MS + i·1e-9 (hot: HOT_LAUNCH_MS + ...)
# and occupies the GPU for that plus OVERHEAD_MS.
LAUNCH_MS, HOT_LAUNCH_MS, OVERHEAD_MS = 0.75, 0.5, 0.25
CLOCKS = {
    "steady": lambda t: 1980.0,
    "drop": lambda t: 1980.0 if t < 150.0 else 1980.0 - 2.8 * (t - 150.0) if t < 250.0 else 1700.0,
    "ramp": lambda t: 1980.0 - t,
    "silent": lambda t: None,
}


class FakeOps:
    """A simulated GPU (host/src/timing/fake.rs): a sample starts when the GPU is free and the host has
    enqueued it, and its probe reads the clock model at its start; filler occupies it the same way.
    Host time passes only in waits."""

    overhead_ms = OVERHEAD_MS

    def __init__(self, clock, launch_ms, lead_us):
        self.clock, self.launch_ms, self.lead_us = clock, launch_ms, lead_us
        self.host = self.gpu_free = 0.0
        self.count = 0

    def now(self):
        return self.host

    def enqueue(self):
        start = self.occupy()
        sample = (self.launch_ms + self.count * 1e-9, self.clock(start), self.gpu_free)
        self.count += 1
        return sample

    def enqueue_filler(self):
        self.occupy()

    def occupy(self):
        start = max(self.gpu_free, self.host)
        self.gpu_free = start + self.launch_ms + OVERHEAD_MS
        return start

    def wait(self, sample):
        self.host = max(self.host, sample[2])

    def read(self, sample):
        return sample[0], sample[1]

    def drain(self):
        self.host = max(self.host, self.gpu_free)


class Raw(str):
    """A reply line sent as it is, not as JSON."""


_encode = real.encode
real.encode = lambda reply: reply if isinstance(reply, Raw) else _encode(reply)


def faults():
    spec = os.environ.get("SDPA_STUB", "")
    return dict(reversed(item.split(":", 1)) for item in spec.split(",") if ":" in item)


class StubSession(real.Session):
    def __init__(self):
        super().__init__()
        self.faults = faults()
        self.files = None

    def handle(self, line):
        try:
            cmd = json.loads(line).get("cmd")
        except (ValueError, AttributeError):
            cmd = None
        action = self.faults.get(cmd)
        if action == "die":
            print(f"stub: dying on purpose during {cmd}", file=sys.stderr, flush=True)
            os._exit(3)
        if action == "garbage":
            return Raw("this is not json"), False
        if action == "hang":
            time.sleep(3600)
        if action == "error":
            print("Traceback (most recent call last):\n  stub frame\nRuntimeError: stub failure", file=sys.stderr, flush=True)
        if action in ("unavailable", "unsupported", "oom", "error"):
            return real.failure(action, f"stub says {action} for {cmd}"), False
        return super().handle(line)

    def hello(self, req):
        return {
            "protocol": 999 if self.faults.get("hello") == "protocol" else real.PROTOCOL,
            "torch": "2.11.0+stub",
            "cuda": "13.0",
            "gpu": "Stub GPU",
            "capability": "9.0",
            "backends": list(real.BACKENDS),
        }

    def load(self, req):
        problem = real.Problem(req.get("problem"))
        files = {}
        for name in ("q", "k", "v"):
            path = real.field(req, name, str)
            try:
                data = Path(path).read_bytes()
            except OSError as e:
                raise real.bad_request(f"{path}: {e.strerror}") from None
            shape, body = real.parse_npy_header(data, path)
            if tuple(shape) != problem.shape(name):
                raise real.bad_request(f"{path}: shape {tuple(shape)}, the problem needs BSHD {problem.shape(name)}")
            files[name] = (shape, data[body:])
        self.problem, self.files = problem, files
        return {"input_bytes": sum(len(b) // 2 for _, b in files.values()), "fully_masked_rows": problem.fully_masked_rows()}

    def plan_facts(self, backend):
        if self.files is None:
            raise real.bad_request("no problem loaded: send `load` first")
        gqa = "native" if self.problem.heads_q != self.problem.heads_kv else "none"
        return {"call": f"stub {backend}", "gqa": gqa, "mask": "is_causal" if self.problem.causal else "none"}

    def run(self, req):
        self.end(None)
        facts = self.plan_facts(real.backend_field(req))
        shape, body = self.files["q"]
        real.write_atomic(real.field(req, "out", str), [real.npy_header(shape), body])
        return {"plan": facts}

    def sample_ops(self, spec):
        clock = CLOCKS[os.environ.get("SDPA_STUB_CLOCK", "steady")]
        launch_ms = LAUNCH_MS if spec.mode == "cold" else HOT_LAUNCH_MS
        return self.plan_facts(spec.backend), FakeOps(clock, launch_ms, spec.lead_us)

    def free(self, req):
        self.end(None)
        self.problem, self.files = None, None
        return {}


if __name__ == "__main__":
    real.serve(StubSession())
