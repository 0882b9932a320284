#!/usr/bin/env python3
"""PyTorch SDPA, driven by tileattn for the side-by-side comparison.

tileattn (host/src/torch_side/) starts this script and sends one JSON object
per line on stdin; every request gets exactly one JSON line back on stdout.
stderr carries diagnostics only. The Rust side owns the statistics: this
script only launches kernels and reports raw CUDA-event times and clock
readings, so both implementations are measured by one protocol
(host/src/timing.rs). Per sample, in stream order: the L2 flush (cold mode),
the lead (a timed busy-wait that doubles as the SM clock probe), start event,
launch, end event. A measurement's first `sample` request warms up first: the
same sequence, thrown away, until the probed clock settles (`warm_up`, the rule
of host/src/timing/warmup.rs). Every request also queues filler behind its
samples (`SampleStream`, as host/src/timing/stream.rs): the same sequence,
untimed, so the GPU stays under load while tileattn computes statistics
between requests; `end` waits for the last of it.

Requests (answers carry "ok": true, or "ok": false with "kind" and "error"):
  {"cmd":"hello"}
      -> protocol, torch, cuda, gpu, capability, backends
         kind "unavailable" when torch or a CUDA device is missing.
  {"cmd":"load","problem":{batch,heads_q,heads_kv,seqlen_q,seqlen_k,head_dim,
   dtype:"f16"|"bf16",causal,scale},"q":PATH,"k":PATH,"v":PATH}
      BSHD float32 .npy inputs whose values are already exact in `dtype`.
  {"cmd":"run","backend":B,"out":PATH}
      one launch; O saved as BSHD float32 .npy.
  {"cmd":"sample","backend":B,"n":N,"first":true|false,"mode":"cold"|"hot",
   "flush_bytes":F,"lead_us":L,"filler_ms":A,
   "warmup":{"min_ms":..,"max_ms":..,"tolerance":..,"batch_ms":..}}
      the next N samples of the measurement -> samples_ms, clock_mhz (null: no
      reading), lead_us, plan, and warmup (how the warm-up ended; only when
      `first`, which starts a new measurement).
  {"cmd":"end"}
      end the measurement: wait for its filler.
  {"cmd":"free"}, {"cmd":"quit"}
Backends: flash, efficient, cudnn, math. Failure kinds: unavailable,
unsupported (this backend cannot compute this problem), oom, bad_request, error.

Only the standard library is imported at start-up, so a machine without torch
gets a clean "unavailable" answer instead of a traceback.
"""

import ast
import collections
import ctypes
import gc
import json
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings

PROTOCOL = 2
BACKENDS = ("flash", "efficient", "cudnn", "math")
DTYPES = ("f16", "bf16")
NPY_MAGIC = b"\x93NUMPY"
# custom_mask_type of aten._efficient_attention_forward: 0 none, 1 causal from
# the top left, 2 causal from the bottom right (torch.nn.attention.bias.CausalVariant).
EFFICIENT_LOWER_RIGHT = 2
# Cycles of torch.cuda._sleep timed once to convert the lead from µs to cycles.
SLEEP_CALIBRATION_CYCLES = 10_000_000
# A spin queued before a calibration's start event, so the host's dispatch of the timed spin is hidden.
SLEEP_PRELOAD_CYCLES = 100_000
# Bounds of host/src/timing: filler behind a request (stream.rs), samples in a warm-up batch (warmup.rs).
MAX_FILLER_SAMPLES = 1024
MAX_BATCH_SAMPLES = 1024


class Failure(Exception):
    """A request that cannot be honoured; `kind` tells tileattn what to do next."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def bad_request(message):
    return Failure("bad_request", message)


# ---------------------------------------------------------------------------
# .npy without numpy: the header is a Python literal, the body raw little-endian
# float32 in C order — all tileattn writes and reads.


def parse_npy_header(data, path):
    """Return (shape, body offset) of a float32 C-order .npy held in `data`."""
    if len(data) < 10 or data[:6] != NPY_MAGIC:
        raise bad_request(f"{path}: not a .npy file (bad magic)")
    major = data[6]
    if major == 1:
        header_len, start = int.from_bytes(data[8:10], "little"), 10
    elif major in (2, 3) and len(data) >= 12:
        header_len, start = int.from_bytes(data[8:12], "little"), 12
    else:
        raise bad_request(f"{path}: unsupported .npy version {major}")
    try:
        header = ast.literal_eval(bytes(data[start:start + header_len]).decode("latin1"))
    except (ValueError, SyntaxError) as e:
        raise bad_request(f"{path}: unreadable .npy header ({e})") from None
    if not isinstance(header, dict) or header.get("descr") != "<f4":
        raise bad_request(f"{path}: expected float32 '<f4' data, header says {header!r}")
    if header.get("fortran_order") is not False:
        raise bad_request(f"{path}: only C-order arrays are supported")
    shape = header.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad_request(f"{path}: malformed shape {shape!r}")
    body = start + header_len
    need = 4 * math.prod(shape)
    if len(data) - body < need:
        raise bad_request(f"{path}: truncated, shape {shape} needs {need} data bytes, the file has {len(data) - body}")
    return shape, body


def npy_header(shape):
    """Version 1.0 header for a float32 C-order array, padded to 64 bytes as numpy does."""
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % dims
    unpadded = len(NPY_MAGIC) + 4 + len(text) + 1
    text += " " * (-unpadded % 64) + "\n"
    return NPY_MAGIC + bytes([1, 0]) + len(text).to_bytes(2, "little") + text.encode("latin1")


def write_atomic(path, chunks):
    """Write the byte chunks to a temporary file beside `path`, then rename: a
    killed script never leaves half an output for tileattn to read."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sdpa-", suffix=".tmp")
    except OSError as e:
        raise Failure("error", f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):
            raise Failure("error", f"cannot write {path}: {e.strerror}") from None
        raise


def require_little_endian():
    # torch.frombuffer and the raw writes below use native byte order; .npy '<f4' is little-endian.
    if sys.byteorder != "little":
        raise Failure("unsupported", "this script reads and writes .npy in native order and needs a little-endian host")


def load_npy_f32(torch, path):
    require_little_endian()
    try:
        with open(path, "rb") as f:
            data = bytearray(f.read())  # writable, so torch.frombuffer does not warn
    except OSError as e:
        raise bad_request(f"{path}: {e.strerror}") from None
    shape, body = parse_npy_header(data, path)
    count = math.prod(shape)
    if count == 0:
        return torch.empty(shape, dtype=torch.float32)
    return torch.frombuffer(data, dtype=torch.float32, count=count, offset=body).reshape(shape)


def save_npy_f32(path, tensor):
    require_little_endian()
    t = tensor.detach().float().cpu().contiguous()
    # A view of the tensor's own memory: one copy from the CPU tensor to the file, no numpy needed.
    body = (ctypes.c_char * (t.numel() * 4)).from_address(t.data_ptr()) if t.numel() else b""
    write_atomic(path, [npy_header(tuple(t.shape)), body])


# ---------------------------------------------------------------------------
# Requests.


KIND_NAMES = {int: "an integer", str: "a string", bool: "true or false", (int, float): "a number"}


def field(req, name, kind):
    value = req.get(name)
    # bool is an int in Python: never accept true for a count.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise bad_request(f"`{name}` must be {KIND_NAMES[kind]}, got {value!r}")
    return value


def backend_field(req):
    backend = field(req, "backend", str)
    if backend not in BACKENDS:
        raise bad_request(f"backend `{backend}` is not one of {BACKENDS}")
    return backend


def number(req, name):
    value = float(field(req, name, (int, float)))
    if not 0 <= value < math.inf:
        raise bad_request(f"`{name}` must be finite and not negative, got {value}")
    return value


class WarmupRule:
    """When a warm-up ends (host/src/timing/warmup.rs, in milliseconds): settled after a batch whose
    median probed clock is within `tolerance` of the batch before's, once `min_ms` has passed; not
    settled at `max_ms`."""

    def __init__(self, w):
        if not isinstance(w, dict):
            raise bad_request("`warmup` must be an object")
        self.min_ms, self.max_ms, self.tolerance, self.batch_ms = (
            number(w, n) for n in ("min_ms", "max_ms", "tolerance", "batch_ms"))
        if self.max_ms < self.min_ms or not 0 < self.tolerance < 1 or self.batch_ms == 0:
            raise bad_request(f"warm-up rule {w}: need min_ms <= max_ms, 0 < tolerance < 1, batch_ms > 0")

    def batch_samples(self, per_sample_ms):
        return samples_for(self.batch_ms, per_sample_ms, MAX_BATCH_SAMPLES)

    def ends(self, previous, current, elapsed_ms):
        """True (settled) or False (out of time) when the warm-up ends, else None."""
        agree = previous is not None and current is not None and abs(current - previous) <= self.tolerance * previous
        if agree and elapsed_ms >= self.min_ms:
            return True
        if elapsed_ms >= self.max_ms:
            return False
        return None


class SampleSpec:
    """A checked `sample` request."""

    def __init__(self, req):
        self.backend = backend_field(req)
        self.n = field(req, "n", int)
        self.first = field(req, "first", bool)
        self.mode = field(req, "mode", str)
        self.flush_bytes = field(req, "flush_bytes", int)
        self.lead_us = number(req, "lead_us")
        self.filler_ms = number(req, "filler_ms")
        self.warmup = WarmupRule(req.get("warmup"))
        if not 1 <= self.n <= 1_000_000:
            raise bad_request(f"n = {self.n}: ask for 1 to 1000000 samples")
        if self.mode not in ("cold", "hot"):
            raise bad_request(f"mode `{self.mode}` is not cold or hot")
        if self.mode == "cold" and self.flush_bytes < 1:
            raise bad_request("cold mode needs flush_bytes > 0")
        # The requests of one measurement must agree on how samples are taken.
        self.key = (self.backend, self.mode, self.flush_bytes, self.lead_us)


def samples_for(ms, per_sample_ms, most):
    """Samples that fill `ms` at `per_sample_ms` each, in 1..most; one while a sample's cost is unknown.

    As `samples_for` in host/src/timing/queue.rs."""
    if per_sample_ms is None or per_sample_ms <= 0:
        return 1
    return max(1, min(most, math.ceil(ms / per_sample_ms)))


def median_clock(readings):
    finite = [x for x in readings if x is not None]
    return statistics.median(finite) if finite else None


class SampleStream:
    """One measurement's samples, taken while the GPU never waits for the host
    (host/src/timing/stream.rs). Each request queues its samples, then filler behind them (the same
    sequence, untimed) for at least `filler_ms` of GPU time or twice the host's pause before this
    request; it waits for its samples only, so the filler runs while tileattn computes statistics.
    Filler is never read, so which samples are kept cannot depend on their values."""

    def __init__(self, ops, filler_ms):
        self.ops, self.filler_ms = ops, filler_ms
        self.per_sample_ms = None  # lower bound on a sample's GPU time, from the last request
        self.returned_at = None

    def take(self, n):
        """The next n samples: [(launch ms, clock MHz or None)]."""
        pause = 0.0 if self.returned_at is None else max(0.0, self.ops.now() - self.returned_at)
        filler = samples_for(max(self.filler_ms, 2 * pause), self.per_sample_ms, MAX_FILLER_SAMPLES)
        batch = [self.ops.enqueue() for _ in range(n)]
        for _ in range(filler):
            self.ops.enqueue_filler()
        self.ops.wait(batch[-1])
        got = [self.ops.read(sample) for sample in batch]
        self.per_sample_ms = statistics.median(ms for ms, _ in got) + self.ops.overhead_ms
        self.returned_at = self.ops.now()
        return got

    def end(self):
        self.ops.drain()


def warm_up(stream, rule):
    """Run the sample sequence until the probed clock settles or `rule.max_ms` has passed
    (host/src/timing/warmup.rs): one sample, then batches of about `rule.batch_ms`."""
    start, previous, size, samples, batches = stream.ops.now(), None, 1, 0, []
    while True:
        got = stream.take(size)
        samples += size
        elapsed = stream.ops.now() - start
        clock = median_clock(mhz for _, mhz in got)
        batches.append({"end_ms": elapsed, "samples": size, "clock_mhz": clock})
        settled = rule.ends(previous, clock, elapsed)
        if settled is not None:
            return {"ms": elapsed, "samples": samples, "settled": settled, "clock_mhz": clock, "batches": batches}
        previous = clock
        size = rule.batch_samples(stream.per_sample_ms)


class Problem:
    def __init__(self, p):
        if not isinstance(p, dict):
            raise bad_request("`problem` must be an object")
        self.batch, self.heads_q, self.heads_kv, self.seqlen_q, self.seqlen_k, self.head_dim = (
            field(p, n, int) for n in ("batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k", "head_dim"))
        self.dtype = field(p, "dtype", str)
        self.causal = field(p, "causal", bool)
        self.scale = float(field(p, "scale", (int, float)))
        if self.dtype not in DTYPES:
            raise bad_request(f"dtype `{self.dtype}` is not one of {DTYPES}")
        if min(self.batch, self.heads_q, self.heads_kv, self.seqlen_q, self.seqlen_k, self.head_dim) < 1:
            raise bad_request("every size must be at least 1")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise bad_request(f"softmax scale {self.scale} must be finite and non-zero")
        if self.heads_q % self.heads_kv:
            raise bad_request(f"heads_q = {self.heads_q} is not a multiple of heads_kv = {self.heads_kv}")

    def shape(self, name):
        """BSHD shape tileattn writes for q, k, v and o."""
        seq, heads = (self.seqlen_q, self.heads_q) if name in ("q", "o") else (self.seqlen_k, self.heads_kv)
        return (self.batch, seq, heads, self.head_dim)

    def fully_masked_rows(self):
        """Query rows per (batch, head) that see no key under the bottom-right causal mask."""
        return max(0, self.seqlen_q - self.seqlen_k) if self.causal else 0


class Plan:
    """How one backend computes the loaded problem, and the zero-argument call that launches it."""

    def __init__(self, call, gqa, mask, launch):
        self.facts = {"call": call, "gqa": gqa, "mask": mask}
        self.launch = launch


class Session:
    def __init__(self):
        self.torch = None
        self.problem = None
        self.inputs = None  # BSHD tensors on the GPU: q, k, v
        self.plans = {}
        self.flush = None
        self.leads = {}  # lead_us -> Lead, calibrated once
        self.measuring = None

    # -- hello -------------------------------------------------------------

    def hello(self, req):
        try:
            import torch
        except Exception as e:  # ImportError, or a broken install raising anything
            raise Failure("unavailable", f"cannot import torch ({type(e).__name__}: {e})") from None
        if not torch.cuda.is_available():
            raise Failure("unavailable", f"torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda})")
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: F401  (torch >= 2.3)
        except ImportError:
            raise Failure("unavailable", f"torch {torch.__version__} has no torch.nn.attention.sdpa_kernel (needs 2.3 or newer)") from None
        torch.set_grad_enabled(False)
        self.torch = torch
        major, minor = torch.cuda.get_device_capability()
        return {
            "protocol": PROTOCOL,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,  # None on ROCm builds
            "gpu": torch.cuda.get_device_name(),
            "capability": f"{major}.{minor}",
            "backends": self.compiled_backends(),
        }

    def compiled_backends(self):
        torch = self.torch
        compiled = {
            "flash": getattr(torch.backends.cuda, "is_flash_attention_available", lambda: True)(),
            # CUDA builds always carry the memory-efficient kernels; there is no query for them.
            "efficient": True,
            "cudnn": torch.backends.cudnn.is_available(),
            "math": True,
        }
        return [b for b in BACKENDS if compiled[b]]

    def need_torch(self):
        if self.torch is None:
            raise bad_request("send `hello` first")
        return self.torch

    # -- load / free ---------------------------------------------------------

    def load(self, req):
        torch = self.need_torch()
        problem = Problem(req.get("problem"))
        self.free(None)  # also ends a measurement in progress
        dtype = {"f16": torch.float16, "bf16": torch.bfloat16}[problem.dtype]
        inputs = []
        for name in ("q", "k", "v"):
            path = field(req, name, str)
            host = load_npy_f32(torch, path)
            if tuple(host.shape) != problem.shape(name):
                raise bad_request(f"{path}: shape {tuple(host.shape)}, the problem needs BSHD {problem.shape(name)}")
            device = host.to(device="cuda", dtype=dtype)
            # Both sides must compute on identical inputs: tileattn writes values already rounded to the dtype.
            if not torch.equal(device.float(), host.cuda()):
                raise bad_request(f"{path}: values are not exactly representable in {problem.dtype} (or are NaN); "
                                  "write the rounded inputs both sides compute on")
            inputs.append(device)
            del host
        self.problem, self.inputs = problem, inputs
        return {
            "input_bytes": sum(t.numel() * t.element_size() for t in inputs),
            "fully_masked_rows": problem.fully_masked_rows(),
        }

    def free(self, req):
        self.end(None)
        self.problem, self.inputs, self.flush = None, None, None
        self.plans.clear()
        gc.collect()
        if self.torch is not None:
            self.torch.cuda.empty_cache()
        return {}

    # -- plans: how each backend computes the problem ------------------------

    def candidates(self, backend):
        """(call, gqa, mask, launch) in order of preference; the first that runs is used."""
        torch, p = self.torch, self.problem
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        q, k, v = (t.transpose(1, 2) for t in self.inputs)  # [B, H, S, D] views of BSHD memory, no copy
        group = p.heads_q // p.heads_kv
        repeated = None

        def expanded():
            # GQA by copying each K/V head `group` times: more memory traffic than native GQA, said in the plan.
            nonlocal repeated
            if repeated is None:
                repeated = (k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1))
            return repeated

        gqa_options = [("none", lambda: (k, v), False)] if group == 1 else [
            ("native", lambda: (k, v), True), ("repeat_interleave", expanded, False)]
        square = p.seqlen_q == p.seqlen_k
        enum = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}[backend]

        def sdpa(kv, enable_gqa, **mask):
            def launch():
                kk, vv = kv()
                extra = {"enable_gqa": True} if enable_gqa else {}
                with sdpa_kernel([enum]):
                    return F.scaled_dot_product_attention(q, kk, vv, scale=p.scale, **mask, **extra)
            return launch

        out = []
        if not p.causal or square:
            # Square causal: torch's top-left is_causal is the same mask as tileattn's bottom-right.
            mask = "is_causal" if p.causal else "none"
            for gqa, kv, native in gqa_options:
                out.append(("F.scaled_dot_product_attention", gqa, mask, sdpa(kv, native, is_causal=p.causal)))
        elif backend == "flash":
            # FlashAttention-2's own causal flag is bottom-right; torch's dispatcher refuses is_causal with
            # Sq != Sk to keep its top-left meaning, so call the op as torch.nn.attention.bias.causal_lower_right does.
            for gqa, kv, _ in gqa_options:
                out.append(("aten._scaled_dot_product_flash_attention", gqa, "flash_bottom_right", self.flash_bottom_right(q, kv)))
        elif backend == "efficient":
            for gqa, kv, _ in gqa_options:
                out.append(("aten._efficient_attention_forward", gqa, "efficient_lower_right", self.efficient_lower_right(q, kv)))
        elif backend == "math":
            # Math materialises the scores anyway; an explicit mask costs it what is_causal's tril mask costs.
            allowed = torch.ones(p.seqlen_q, p.seqlen_k, dtype=torch.bool, device="cuda").tril(p.seqlen_k - p.seqlen_q)
            for gqa, kv, native in gqa_options:
                out.append(("F.scaled_dot_product_attention", gqa, "materialized_lower_right", sdpa(kv, native, attn_mask=allowed)))
        else:
            raise Failure("unsupported", "torch's cuDNN attention aligns is_causal top-left and has no bottom-right option; "
                          "a materialised Sq x Sk mask would time a different workload")
        return out

    def flash_bottom_right(self, q, kv):
        torch, p = self.torch, self.problem

        def launch():
            kk, vv = kv()
            return torch.ops.aten._scaled_dot_product_flash_attention(
                q, kk, vv, 0.0, is_causal=True, return_debug_mask=False, scale=p.scale)[0]
        return launch

    def efficient_lower_right(self, q, kv):
        torch, p = self.torch, self.problem

        def launch():
            kk, vv = kv()
            # The memory-efficient kernel takes BSHD: transpose the views back, still no copy.
            return torch.ops.aten._efficient_attention_forward(
                q.transpose(1, 2), kk.transpose(1, 2), vv.transpose(1, 2),
                bias=None, cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None,
                dropout_p=0.0, custom_mask_type=EFFICIENT_LOWER_RIGHT, compute_log_sumexp=False,
                scale=p.scale)[0].transpose(1, 2)
        return launch

    def plan(self, backend):
        """The backend's plan for the loaded problem, found by running each candidate once."""
        if self.inputs is None:
            raise bad_request("no problem loaded: send `load` first")
        if backend in self.plans:
            return self.plans[backend]
        if backend == "math":
            self.check_math_fits()
        reasons = []
        for call, gqa, mask, launch in self.candidates(backend):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    launch()
                    self.torch.cuda.synchronize()
                except self.torch.cuda.OutOfMemoryError:
                    raise
                except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
                    if "CUDA error" in str(e):
                        raise  # a broken context is not "unsupported"
                    why = "; ".join(str(w.message) for w in caught)
                    reasons.append(f"{call} (gqa {gqa}): {first_line(e)}" + (f" [{why}]" if why else ""))
                    continue
            if reasons:
                print(f"sdpa_baseline: {backend} uses {call} (gqa {gqa}) after: {' | '.join(reasons)}", file=sys.stderr)
            self.plans[backend] = Plan(call, gqa, mask, launch)
            return self.plans[backend]
        raise Failure("unsupported", f"{backend} cannot compute this problem: " + " | ".join(reasons))

    def check_math_fits(self):
        """Math materialises Sq x Sk scores in float32 (fp16/bf16 inputs are upcast): refuse up front
        when they cannot fit, rather than thrash the allocator into an OOM."""
        torch, p = self.torch, self.problem
        scores = 4 * p.batch * p.heads_q * p.seqlen_q * p.seqlen_k
        # Scores, their softmax and the additive mask; plus f32 copies of q, k, v (repeated for GQA) and o.
        need = 3 * scores + 4 * 4 * p.batch * p.heads_q * max(p.seqlen_q, p.seqlen_k) * p.head_dim
        free, _ = torch.cuda.mem_get_info()
        free += torch.cuda.memory_reserved() - torch.cuda.memory_allocated()
        if need > free:
            raise Failure("oom", f"math needs about {need / 2**30:.1f} GiB for its float32 score matrices, {free / 2**30:.1f} GiB is free")

    # -- run / sample ----------------------------------------------------------

    def run(self, req):
        backend = backend_field(req)
        out = field(req, "out", str)
        self.end(None)  # no filler of a finished measurement runs beside this launch
        plan = self.plan(backend)
        o = plan.launch()  # [B, H, Sq, D]
        save_npy_f32(out, o.transpose(1, 2))
        return {"plan": plan.facts}

    def sample(self, req):
        spec = SampleSpec(req)
        warmup = None
        if spec.first:
            self.end(None)
            facts, ops = self.sample_ops(spec)
            self.measuring = Measuring(spec.key, facts, SampleStream(ops, spec.filler_ms))
            warmup = warm_up(self.measuring.stream, spec.warmup)
        elif self.measuring is None or self.measuring.key != spec.key:
            raise bad_request(f"no measurement of {spec.backend} ({spec.mode}) in progress: its first request must say `first`")
        m = self.measuring
        got = m.stream.take(spec.n)
        return {
            "samples_ms": [ms for ms, _ in got],
            "clock_mhz": [mhz for _, mhz in got],
            "warmup": warmup,
            "lead_us": m.stream.ops.lead_us,
            "plan": m.facts,
        }

    def sample_ops(self, spec):
        """(plan facts, the device side of the stream) for a new measurement."""
        torch = self.need_torch()
        plan = self.plan(spec.backend)
        flush = self.flush_buffer(spec.flush_bytes) if spec.mode == "cold" else None
        return plan.facts, TorchOps(torch, plan.launch, flush, self.lead(spec.lead_us))

    def end(self, req):
        if self.measuring is not None:
            self.measuring.stream.end()
        self.measuring = None
        return {}

    def flush_buffer(self, nbytes):
        if self.flush is None or self.flush.numel() != nbytes:
            self.flush = None
            self.flush = self.torch.empty(nbytes, dtype=self.torch.uint8, device="cuda")
        return self.flush

    def lead(self, lead_us):
        """The calibrated lead, or None where there is none (asked for 0, or no torch.cuda._sleep)."""
        if lead_us == 0 or not hasattr(self.torch.cuda, "_sleep"):
            return None
        if lead_us not in self.leads:
            self.leads[lead_us] = Lead(self.torch, lead_us)
        return self.leads[lead_us]

    # -- dispatch ------------------------------------------------------------

    def handle(self, line):
        """One request line -> (reply, stop)."""
        reply, stop, out_of_memory = self.dispatch(line)
        if out_of_memory:
            # Here, not in the except clause: the traceback, and the tensors its frames hold, are gone.
            self.release_after_oom()
        return reply, stop

    def dispatch(self, line):
        """-> (reply, stop, out_of_memory)."""
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise bad_request("a request must be a JSON object")
            cmd = req.get("cmd")
            if cmd == "quit":
                return {"ok": True}, True, False
            handler = {"hello": self.hello, "load": self.load, "free": self.free,
                       "run": self.run, "sample": self.sample, "end": self.end}.get(cmd)
            if handler is None:
                raise bad_request(f"unknown cmd {cmd!r}")
            return {"ok": True, **handler(req)}, False, False
        except json.JSONDecodeError as e:
            return failure("bad_request", f"not JSON: {e}"), False, False
        except Failure as e:
            return failure(e.kind, str(e)), False, False
        except Exception as e:
            if self.torch is not None and isinstance(e, self.torch.cuda.OutOfMemoryError):
                return failure("oom", first_line(e)), False, True
            traceback.print_exc(file=sys.stderr)
            return failure("error", f"{type(e).__name__}: {first_line(e)}"), False, False

    def release_after_oom(self):
        # Keep the inputs (other backends may still fit) but drop what this attempt cached.
        self.end(None)
        self.flush = None
        gc.collect()
        self.torch.cuda.empty_cache()


class Measuring:
    """The measurement in progress: the key its requests share, its plan's facts, its samples."""

    def __init__(self, key, facts, stream):
        self.key, self.facts, self.stream = key, facts, stream


class Lead:
    """The GPU busy-wait queued before each timed launch, and the clock probe it doubles as.

    Python takes tens of µs to dispatch an SDPA call; queued before the start event, the lead keeps
    the GPU busy meanwhile, so host time never lands inside a sample. `torch.cuda._sleep(c)` spins
    until the SM cycle counter has advanced by c, so c over the time between the events around the
    spin is the SM clock, as tileattn's probe measures it. Those events also span the spin kernel's
    own launch (a few µs): timed once as a one-cycle spin and subtracted."""

    def __init__(self, torch, lead_us):
        self.fixed_us = statistics.median(timed_spin(torch, 1) for _ in range(5))
        cycles_per_us = SLEEP_CALIBRATION_CYCLES / (timed_spin(torch, SLEEP_CALIBRATION_CYCLES) - self.fixed_us)
        self.cycles = max(1, int(lead_us * cycles_per_us))
        self.us = self.cycles / cycles_per_us

    def mhz(self, lead_ms):
        spin_us = lead_ms * 1000.0 - self.fixed_us
        return self.cycles / spin_us if spin_us > 0 else None


def timed_spin(torch, cycles):
    """Event time (µs) of a `cycles` spin queued behind another, as the lead is queued behind the flush."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(SLEEP_PRELOAD_CYCLES)
    start.record()
    torch.cuda._sleep(cycles)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1000.0


class TorchOps:
    """The device side of a SampleStream (host/src/timing.rs's DeviceQueue). Per sample, in stream
    order: the flush (cold mode), the lead between its own pair of events, the start event, the launch,
    the end event. Nothing synchronises until tileattn's request needs a sample's times."""

    def __init__(self, torch, launch, flush, lead):
        self.torch, self.launch, self.flush, self.lead = torch, launch, flush, lead
        self.lead_us = lead.us if lead else 0.0
        self.overhead_ms = self.lead_us / 1000.0

    def now(self):
        return time.perf_counter() * 1000.0

    def enqueue(self):
        events = tuple(self.torch.cuda.Event(enable_timing=True) for _ in range(3))
        self.lead_in(events[0])
        events[1].record()
        self.launch()
        events[2].record()
        return events

    def enqueue_filler(self):
        self.lead_in(None)
        self.launch()

    def lead_in(self, lead_start):
        """The flush and the lead (timed from `lead_start` when given)."""
        if self.flush is not None:
            self.flush.zero_()
        if lead_start is not None:
            lead_start.record()
        if self.lead:
            self.torch.cuda._sleep(self.lead.cycles)

    def wait(self, events):
        events[2].synchronize()

    def read(self, events):
        lead_start, start, end = events
        mhz = self.lead.mhz(lead_start.elapsed_time(start)) if self.lead else None
        return start.elapsed_time(end), mhz

    def drain(self):
        self.torch.cuda.synchronize()


def first_line(e):
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def failure(kind, message):
    return {"ok": False, "kind": kind, "error": message}


def claim_stdout():
    """Keep the real stdout for replies and point fd 1 at stderr, so that a stray print from
    torch, a CUDA library or a warning cannot corrupt the protocol."""
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return replies


def encode(reply):
    try:
        return json.dumps(reply, allow_nan=False)  # NaN is not JSON; tileattn would reject the line
    except ValueError as e:
        return json.dumps(failure("error", f"reply not encodable as JSON: {e}"))


def serve(session):
    """Answer request lines until `quit` or the end of stdin (tileattn gone)."""
    replies = claim_stdout()
    for line in sys.stdin:
        if not line.strip():
            continue
        reply, stop = session.handle(line)
        replies.write(encode(reply) + "\n")
        replies.flush()
        if stop:
            break


if __name__ == "__main__":
    serve(Session())
