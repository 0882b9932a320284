//! The GPU through cudarc (driver API, loaded at run time: tileattn builds and
//! tests on machines without CUDA). One context (the device's primary one, the
//! CUDA runtime's), one stream, PTX modules loaded lazily per arch, a
//! `// SAFETY:` note at every launch. Launches run on tileattn's own buffers,
//! or on a caller's tensors and stream ([`Device::prepare_external`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::sys::{self, CUdevice_attribute as Attr};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use tileattn_kernels::{Arch, AttnParams, Family, TmaMaps};

/// A raw CUDA stream handle, as other libraries hand theirs over
/// ([`Device::borrowed_stream`]).
pub use cudarc::driver::sys::CUstream;

use crate::element::to_bits;
use crate::launch::{self, TensorDesc};
use crate::problem::Problem;
use crate::registry::{Registry, Variant};
use crate::tensor::{Layout, Tensor};
use crate::tma;
use crate::{Error, Result};

/// Above this, a kernel must opt in to more dynamic shared memory.
const DEFAULT_SMEM_LIMIT: usize = 48 * 1024;

/// Facts about the device, read once when it is opened.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub name: String,
    pub compute_capability: (u32, u32),
    pub sm_count: u32,
    pub l2_bytes: u64,
    pub smem_optin_bytes: u64,
    /// Rated clocks from the driver (not the current clock).
    pub sm_clock_mhz: u32,
    pub mem_clock_mhz: u32,
    pub mem_bus_bits: u32,
    pub total_mem_bytes: u64,
    /// e.g. 13000 for CUDA 13.0.
    pub driver_version: i32,
}

impl DeviceInfo {
    /// `major*10 + minor`.
    pub fn cc(&self) -> u32 {
        self.compute_capability.0 * 10 + self.compute_capability.1
    }

    /// Theoretical DRAM bandwidth: 2 transfers per memory clock (DDR) × bus width.
    pub fn theoretical_bandwidth_gbs(&self) -> f64 {
        2.0 * self.mem_clock_mhz as f64 * 1e6 * (self.mem_bus_bits as f64 / 8.0) / 1e9
    }

    pub fn driver_version_string(&self) -> String {
        format!(
            "{}.{}",
            self.driver_version / 1000,
            (self.driver_version % 1000) / 10
        )
    }
}

pub(crate) fn cuda_err(
    context: impl Into<String>,
) -> impl FnOnce(cudarc::driver::DriverError) -> Error {
    let context = context.into();
    move |e| Error::Cuda {
        context,
        message: e.to_string(),
    }
}

/// A tensor in device memory.
pub struct DeviceTensor {
    pub buf: CudaSlice<u16>,
    pub desc: TensorDesc,
}

/// A tensor in device memory another library owns (a torch tensor): where
/// it starts, and its shape, dtype and strides.
#[derive(Clone, Copy, Debug)]
pub struct ExternalTensor {
    pub addr: u64,
    pub desc: TensorDesc,
}

/// The device buffers of one launch: inputs, and outputs poisoned with NaN.
pub struct Operands {
    pub q: DeviceTensor,
    pub k: DeviceTensor,
    pub v: DeviceTensor,
    pub o: DeviceTensor,
    pub lse: CudaSlice<f32>,
}

/// `AttnParams` as a kernel argument (`repr(transparent)`: same bytes).
#[repr(transparent)]
struct KernelArgs(AttnParams);
// SAFETY: AttnParams is repr(C), Copy, and holds only integers and floats.
unsafe impl DeviceRepr for KernelArgs {}

/// An opened GPU with this build's kernels.
pub struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub info: DeviceInfo,
    registry: Registry,
    modules: Mutex<HashMap<Arch, Arc<CudaModule>>>,
}

impl Device {
    /// Open device `ordinal`. No driver or no device is `Error::NoDevice`, never a panic.
    pub fn open(ordinal: usize, registry: Registry) -> Result<Device> {
        // SAFETY: only probes whether libcuda can be loaded.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::NoDevice(
                "the CUDA driver library (libcuda.so) is not installed on this machine".into(),
            ));
        }
        let count = CudaContext::device_count()
            .map_err(|e| Error::NoDevice(format!("the CUDA driver reports: {e}")))?;
        if ordinal as i32 >= count {
            return Err(Error::NoDevice(format!(
                "device {ordinal} requested, the driver sees {count}"
            )));
        }
        let ctx = CudaContext::new(ordinal)
            .map_err(|e| Error::NoDevice(format!("creating a context on device {ordinal}: {e}")))?;
        // One stream only: cudarc's cross-stream event tracking would add
        // events around every buffer use, inside timed regions.
        // SAFETY: tileattn uses this context from one stream.
        unsafe { ctx.disable_event_tracking() };
        let info = read_info(&ctx)?;
        let stream = ctx.default_stream();
        Ok(Device {
            ctx,
            stream,
            info,
            registry,
            modules: Mutex::new(HashMap::new()),
        })
    }

    pub fn registry(&self) -> Registry {
        self.registry
    }

    /// The arch whose PTX this device runs for `variant`: the newest it can JIT.
    pub fn arch_for(&self, variant: &Variant) -> Result<Arch> {
        Arch::best_for(self.info.cc(), variant.archs).ok_or_else(|| {
            Error::Invalid(format!(
                "variant {} is built for {:?}, none of which a compute capability {}.{} device runs",
                variant.name, variant.archs, self.info.compute_capability.0, self.info.compute_capability.1
            ))
        })
    }

    fn module(&self, arch: Arch) -> Result<Arc<CudaModule>> {
        let mut modules = self
            .modules
            .lock()
            .map_err(|_| Error::Invalid("module cache poisoned".into()))?;
        if let Some(m) = modules.get(&arch) {
            return Ok(m.clone());
        }
        let ptx = self
            .registry
            .module(arch)
            .ok_or_else(|| Error::Invalid(format!("no PTX for {} in this build", arch.name())))?;
        let m = self
            .ctx
            .load_module(Ptx::from_src(ptx.ptx))
            .map_err(cuda_err(format!("loading the {} PTX", arch.name())))?;
        modules.insert(arch, m.clone());
        Ok(m)
    }

    /// A fixed kernel of every module (see `Registry::probes`), from the newest
    /// module this device runs.
    pub fn probe_function(&self, name: &str) -> Result<CudaFunction> {
        let archs: Vec<Arch> = self.registry.modules.iter().map(|m| m.arch).collect();
        let arch = Arch::best_for(self.info.cc(), &archs).ok_or_else(|| {
            Error::Invalid(format!(
                "this build has PTX for {archs:?}, none of which a compute capability {}.{} device runs",
                self.info.compute_capability.0, self.info.compute_capability.1
            ))
        })?;
        self.module(arch)?
            .load_function(name)
            .map_err(cuda_err(format!("loading {name}")))
    }

    /// A loaded kernel, with its dynamic shared memory limit raised as needed.
    pub fn function(&self, variant: &Variant) -> Result<CudaFunction> {
        let smem = variant.tile.smem_bytes();
        if smem as u64 > self.info.smem_optin_bytes {
            return Err(Error::Invalid(format!(
                "variant {} needs {smem} bytes of shared memory; this device allows {}",
                variant.name, self.info.smem_optin_bytes
            )));
        }
        let f = self
            .module(self.arch_for(variant)?)?
            .load_function(variant.name)
            .map_err(cuda_err(format!("loading {}", variant.name)))?;
        if smem > DEFAULT_SMEM_LIMIT {
            f.set_attribute(
                sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                smem as i32,
            )
            .map_err(cuda_err(format!(
                "raising the shared memory limit of {}",
                variant.name
            )))?;
        }
        Ok(f)
    }

    pub fn upload(&self, t: &Tensor) -> Result<DeviceTensor> {
        t.validate("tensor")?;
        let buf = self
            .stream
            .clone_htod(&t.data)
            .map_err(cuda_err("copying a tensor to the device"))?;
        Ok(DeviceTensor {
            buf,
            desc: t.desc(),
        })
    }

    /// An output tensor filled with NaN, so unwritten elements fail every check.
    pub fn poisoned(&self, p: &Problem, layout: Layout) -> Result<DeviceTensor> {
        self.upload(&Tensor::poisoned(
            p.dtype,
            [p.batch, p.seqlen_q, p.heads_q, p.head_dim],
            layout,
        ))
    }

    pub fn poisoned_lse(&self, p: &Problem) -> Result<CudaSlice<f32>> {
        self.stream
            .clone_htod(&vec![f32::NAN; launch::lse_len(p)])
            .map_err(cuda_err("allocating LSE"))
    }

    /// Upload inputs and allocate poisoned outputs for one launch of `p`.
    pub fn operands(&self, p: &Problem, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Operands> {
        let (free, _) = self
            .ctx
            .mem_get_info()
            .map_err(cuda_err("querying free GPU memory"))?;
        crate::memory::check_device(p, free as u128)?;
        Ok(Operands {
            q: self.upload(&launch::staged_q(p, q))?,
            k: self.upload(k)?,
            v: self.upload(v)?,
            o: self.poisoned(p, Layout::Bshd)?,
            lse: self.poisoned_lse(p)?,
        })
    }

    /// Everything a launch of `variant` needs, checked once: reuse it to launch
    /// many times (timing) without re-validating inside the timed region.
    pub fn prepare(
        &self,
        variant: &Variant,
        p: &Problem,
        ops: &Operands,
    ) -> Result<PreparedLaunch> {
        if ops.lse.len() != launch::lse_len(p) {
            return Err(Error::Invalid(format!(
                "lse has {} elements, expected {}",
                ops.lse.len(),
                launch::lse_len(p)
            )));
        }
        let ptr = |b: &CudaSlice<u16>| b.device_ptr(&self.stream).0;
        let addr = [
            ptr(&ops.q.buf),
            ptr(&ops.k.buf),
            ptr(&ops.v.buf),
            ptr(&ops.o.buf),
            ops.lse.device_ptr(&self.stream).0,
        ];
        let descs = [&ops.q.desc, &ops.k.desc, &ops.v.desc, &ops.o.desc];
        self.prepare_at(variant, p, descs, addr, self.stream.clone())
    }

    /// The stream `raw`, which another library owns (torch's current stream),
    /// for launches on this device: this device's context is the primary
    /// context, the one the CUDA runtime (and so torch) uses.
    ///
    /// # Safety
    ///
    /// `raw` must be a stream of this device's primary context (or the null
    /// stream), and stay alive while the returned stream is used.
    pub unsafe fn borrowed_stream(&self, raw: CUstream) -> Arc<CudaStream> {
        // SAFETY: the caller's promise above.
        unsafe { self.ctx.wrap_borrowed_stream(raw) }
    }

    /// A launch of `variant` on tensors the caller owns (torch tensors): their
    /// own memory and strides, nothing copied, on the caller's `stream`. The
    /// inputs' values are not checked ([`crate::domain`] needs them on the
    /// host): the caller's tensors stay where they are.
    ///
    /// # Safety
    ///
    /// Each address must hold device memory of this device that its
    /// description's shape and strides stay inside (`lse`: `[batch, heads_q,
    /// seqlen_q]` f32), alive and not written by anyone else until the launch
    /// has run on `stream`.
    pub unsafe fn prepare_external(
        &self,
        variant: &Variant,
        p: &Problem,
        tensors: [&ExternalTensor; 4],
        lse: u64,
        stream: Arc<CudaStream>,
    ) -> Result<PreparedLaunch> {
        if p.softmax_scale.is_sign_negative() {
            return Err(Error::Invalid(format!(
                "softmax scale {}: a negative scale runs as |scale| on -q, a copy of q that a \
                 launch on the caller's tensors does not make; pass -q and scale={}",
                p.softmax_scale, -p.softmax_scale
            )));
        }
        // v1-v3 copy 16-byte chunks; every kernel reads its elements whole.
        let align = if variant.tile.family.pipelined() {
            16
        } else {
            2
        };
        for (name, t) in ["q", "k", "v", "o"].into_iter().zip(tensors) {
            if !t.addr.is_multiple_of(align) {
                return Err(Error::Invalid(format!(
                    "{name}: data pointer {:#x} is not {align}-byte aligned, which {} needs",
                    t.addr, variant.name
                )));
            }
        }
        if !lse.is_multiple_of(4) {
            return Err(Error::Invalid(format!(
                "lse: data pointer {lse:#x} is not 4-byte aligned"
            )));
        }
        let [q, k, v, o] = tensors;
        let descs = [&q.desc, &k.desc, &v.desc, &o.desc];
        self.prepare_at(
            variant,
            p,
            descs,
            [q.addr, k.addr, v.addr, o.addr, lse],
            stream,
        )
    }

    /// A checked launch of `variant` on Q, K, V, O (`descs`) and LSE at
    /// `addr`, on `stream`; Q must be [`launch::staged_q`]'s.
    fn prepare_at(
        &self,
        variant: &Variant,
        p: &Problem,
        [q, k, v, o]: [&TensorDesc; 4],
        addr: [u64; 5],
        stream: Arc<CudaStream>,
    ) -> Result<PreparedLaunch> {
        launch::check(variant, p, q, k, v, o)?;
        let mut params = launch::params(p, addr, q, k, v, o);
        // The copy engine's tensor maps live in device memory the launch
        // reads; the upload is ordered before it on the same stream (and so
        // cannot be captured into a CUDA graph).
        let maps = if variant.tile.family == Family::V4 {
            let descs = tma::describe_all(&variant.tile, [addr[0], addr[1], addr[2]], [q, k, v])?;
            let maps = tma::encoded(&descs)?;
            // SAFETY: TmaMaps is plain bytes (three 128-byte maps).
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    &maps as *const TmaMaps as *const u8,
                    std::mem::size_of::<TmaMaps>(),
                )
            };
            let buf = stream
                .clone_htod(bytes)
                .map_err(cuda_err("uploading tensor maps"))?;
            params.tma = buf.device_ptr(&stream).0;
            Some(buf)
        } else {
            None
        };
        let [gx, gy, gz] = variant.grid(p);
        let cfg = LaunchConfig {
            grid_dim: (gx, gy, gz),
            block_dim: (variant.tile.threads() as u32, 1, 1),
            shared_mem_bytes: variant.tile.smem_bytes() as u32,
        };
        Ok(PreparedLaunch {
            function: self.function(variant)?,
            cfg,
            args: KernelArgs(params),
            stream,
            _maps: maps,
        })
    }

    /// Run `variant` once and bring O (BSHD) and LSE back, outputs poisoned first.
    pub fn run(
        &self,
        variant: &Variant,
        p: &Problem,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Vec<f32>)> {
        let ops = self.operands(p, q, k, v)?;
        self.prepare(variant, p, &ops)?.launch()?;
        self.fetch_outputs(variant, p, &ops)
    }

    /// Poison the outputs of `ops` with NaN, run `variant` on them once, and
    /// bring O and LSE back: the same buffers can then be timed. Also returns
    /// the run's time in ms (CUDA events, no L2 flush: a coarse first look, not
    /// a measurement).
    pub fn run_on(
        &self,
        variant: &Variant,
        p: &Problem,
        ops: &mut Operands,
    ) -> Result<(Tensor, Vec<f32>, f64)> {
        self.fill_u16(&mut ops.o.buf, p.dtype, f32::NAN)?;
        self.stream
            .memcpy_htod(&vec![f32::NAN; ops.lse.len()], &mut ops.lse)
            .map_err(cuda_err("poisoning LSE"))?;
        let launch = self.prepare(variant, p, ops)?;
        let event = || {
            self.ctx
                .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(cuda_err("creating an event"))
        };
        let (start, end) = (event()?, event()?);
        start
            .record(&self.stream)
            .map_err(cuda_err("recording an event"))?;
        launch.launch()?;
        end.record(&self.stream)
            .map_err(cuda_err("recording an event"))?;
        let (o, lse) = self.fetch_outputs(variant, p, ops)?;
        let ms = start
            .elapsed_ms(&end)
            .map_err(cuda_err("reading an event"))?;
        Ok((o, lse, ms as f64))
    }

    /// Wait for the stream, then copy O and LSE of `ops` back.
    fn fetch_outputs(
        &self,
        variant: &Variant,
        p: &Problem,
        ops: &Operands,
    ) -> Result<(Tensor, Vec<f32>)> {
        self.stream
            .synchronize()
            .map_err(cuda_err(format!("running {}", variant.name)))?;
        let data = self
            .stream
            .clone_dtoh(&ops.o.buf)
            .map_err(cuda_err("copying O back"))?;
        let lse = self
            .stream
            .clone_dtoh(&ops.lse)
            .map_err(cuda_err("copying LSE back"))?;
        let [batch, seq, heads, dim] = ops.o.desc.shape;
        Ok((
            Tensor {
                dtype: p.dtype,
                batch,
                seq,
                heads,
                dim,
                strides: ops.o.desc.strides,
                data,
            },
            lse,
        ))
    }

    /// Fill a device buffer with a value (used for NaN poisoning between runs).
    pub fn fill_u16(
        &self,
        buf: &mut CudaSlice<u16>,
        dtype: tileattn_kernels::DType,
        value: f32,
    ) -> Result<()> {
        let host = vec![to_bits(dtype, value); buf.len()];
        self.stream
            .memcpy_htod(&host, buf)
            .map_err(cuda_err("filling a buffer"))
    }
}

/// A validated launch: function, geometry and parameters.
pub struct PreparedLaunch {
    function: CudaFunction,
    cfg: LaunchConfig,
    args: KernelArgs,
    stream: Arc<CudaStream>,
    /// The tensor maps `args` points at (v4), kept alive with the launch.
    _maps: Option<CudaSlice<u8>>,
}

impl PreparedLaunch {
    /// Enqueue the kernel (asynchronous).
    pub fn launch(&self) -> Result<()> {
        let mut b = self.stream.launch_builder(&self.function);
        b.arg(&self.args);
        // SAFETY: `Device::prepare` checked the problem against the variant and
        // the tensors; the geometry and shared memory are the variant's own; the
        // buffers outlive the launch because the caller holds them (or, from
        // `Device::prepare_external`, because its caller promised so).
        unsafe { b.launch(self.cfg) }
            .map(|_| ())
            .map_err(cuda_err("launching"))
    }
}

fn read_info(ctx: &Arc<CudaContext>) -> Result<DeviceInfo> {
    let attr = |a: Attr| {
        ctx.attribute(a)
            .map(|v| v.max(0) as u64)
            .map_err(cuda_err(format!("reading {a:?}")))
    };
    let (major, minor) = ctx
        .compute_capability()
        .map_err(cuda_err("reading the compute capability"))?;
    let mut driver_version = 0;
    // SAFETY: writes one i32.
    unsafe { sys::cuDriverGetVersion(&mut driver_version) }
        .result()
        .map_err(cuda_err("reading the driver version"))?;
    Ok(DeviceInfo {
        name: ctx.name().map_err(cuda_err("reading the device name"))?,
        compute_capability: (major as u32, minor as u32),
        sm_count: attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32,
        l2_bytes: attr(Attr::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)?,
        smem_optin_bytes: attr(Attr::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?,
        sm_clock_mhz: (attr(Attr::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)? / 1000) as u32,
        mem_clock_mhz: (attr(Attr::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)? / 1000) as u32,
        mem_bus_bits: attr(Attr::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)? as u32,
        total_mem_bytes: ctx
            .total_mem()
            .map_err(cuda_err("reading the memory size"))? as u64,
        driver_version,
    })
}
