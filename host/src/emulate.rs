//! Running a registry variant on the CPU block emulator: the same kernel source
//! the GPU runs, compiled for the host.

use tileattn_kernels::prims::emu::{self, LaunchDims};
use tileattn_kernels::{Family, TmaMaps};

use crate::launch::{self, TensorDesc};
use crate::problem::Problem;
use crate::registry::Variant;
use crate::tensor::{Layout, Tensor};
use crate::tma;
use crate::{Error, Result};

impl Tensor {
    pub fn desc(&self) -> TensorDesc {
        TensorDesc {
            dtype: self.dtype,
            shape: [self.batch, self.seq, self.heads, self.dim],
            strides: self.strides,
        }
    }
}

/// Run `variant` on the emulator. O (in `o_layout`) and LSE are poisoned with
/// NaN first, so anything the kernel does not write fails the comparison.
pub fn run(
    variant: &Variant,
    p: &Problem,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    o_layout: Layout,
) -> Result<(Tensor, Vec<f32>)> {
    let mut o = Tensor::poisoned(
        p.dtype,
        [p.batch, p.seqlen_q, p.heads_q, p.head_dim],
        o_layout,
    );
    let mut lse = vec![f32::NAN; launch::lse_len(p)];
    launch::check(variant, p, &q.desc(), &k.desc(), &v.desc(), &o.desc())?;
    let staged_q = launch::staged_q(p, q);
    let q = &*staged_q;
    for (name, t) in [("q", q), ("k", k), ("v", v), ("o", &o)] {
        t.validate(name)?;
    }
    let addr = [
        q.data.as_ptr() as u64,
        k.data.as_ptr() as u64,
        v.data.as_ptr() as u64,
        o.data.as_mut_ptr() as u64,
        lse.as_mut_ptr() as u64,
    ];
    let mut params = launch::params(p, addr, &q.desc(), &k.desc(), &v.desc(), &o.desc());
    // The emulated copy engine reads these descriptions; they outlive the launch.
    let maps = if variant.tile.family == Family::V4 {
        let descs = tma::describe_all(
            &variant.tile,
            [addr[0], addr[1], addr[2]],
            [&q.desc(), &k.desc(), &v.desc()],
        )?;
        Some(Box::new(tma::emulated(&descs)))
    } else {
        None
    };
    if let Some(m) = &maps {
        params.tma = &**m as *const TmaMaps as u64;
    }
    let dims = LaunchDims {
        grid: variant.grid(p),
        block: variant.tile.threads() as u32,
        smem_bytes: variant.tile.smem_bytes(),
    };
    // SAFETY: the tensors were validated against the problem and their strides
    // stay inside their buffers; the launch geometry is the variant's own; O and
    // LSE are not touched by anything else while the emulator runs.
    emu::launch(dims, || unsafe { (variant.cpu_kernel)(&params) })
        .map_err(|e| Error::Emulator(e.to_string()))?;
    Ok((o, lse))
}
