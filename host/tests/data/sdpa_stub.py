#!/usr/bin/env python3
"""A stand-in for scripts/sdpa_baseline.py that needs no torch and no GPU.

It is the real script with canned answers: the protocol loop, request
checking, .npy header handling and error replies are imported from it, only
the torch work is replaced. `run` writes O := Q, so a test can check what went
through the files. SDPA_STUB makes it misbehave: a comma-separated list of
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
        facts = self.plan_facts(real.backend_field(req))
        shape, body = self.files["q"]
        real.write_atomic(real.field(req, "out", str), [real.npy_header(shape), body])
        return {"plan": facts}

    def sample(self, req):
        spec = real.SampleSpec(req)
        facts = self.plan_facts(spec.backend)
        first_use = spec.backend not in self.warm
        self.warm.add(spec.backend)
        base = 1.0 if spec.mode == "cold" else 0.5
        return {
            "samples_ms": [base + i * 1e-3 for i in range(spec.n)],
            "warmup_launches": 7 if first_use else 0,
            "lead_us": spec.lead_us,
            "plan": facts,
        }

    def free(self, req):
        self.problem, self.files = None, None
        self.warm.clear()
        return {}


if __name__ == "__main__":
    real.serve(StubSession())
