//! The tensor maps of a launch whose kernel loads through the copy engine
//! (TMA, family v4): described once from the problem, the tensors and the
//! tile, then encoded by the driver for the GPU or kept as descriptions for
//! the emulator.

use tileattn_kernels::prims::{Swizzle, TensorMap, TensorMapDesc};
use tileattn_kernels::{TileConfig, TmaMaps};

use crate::launch::TensorDesc;
use crate::{Error, Result};

/// Columns of one box: 128 bytes of 16-bit elements, the widest row the
/// 128-byte swizzle allows.
const BOX_COLS: u32 = 64;

/// The map of one `[batch, seq, heads, dim]` tensor at `base`, with boxes of
/// `rows` rows of one head.
fn describe(base: u64, t: &TensorDesc, rows: usize) -> TensorMapDesc {
    let [batch, seq, heads, dim] = t.shape;
    let bytes = |elems: i64| elems as u64 * tileattn_kernels::tile::ELEM_BYTES as u64;
    TensorMapDesc {
        base,
        rank: 4,
        elem_bytes: tileattn_kernels::tile::ELEM_BYTES as u32,
        dims: [dim as u64, seq as u64, heads as u64, batch as u64],
        strides: [
            bytes(t.strides.seq),
            bytes(t.strides.head),
            bytes(t.strides.batch),
        ],
        box_dims: [BOX_COLS, rows as u32, 1, 1],
        swizzle: Swizzle::B128,
    }
}

/// The descriptions of Q's, K's and V's maps for `tile` (boxes of `block_m`
/// query rows and `block_n` key rows).
pub fn describe_all(
    tile: &TileConfig,
    addr: [u64; 3],
    [q, k, v]: [&TensorDesc; 3],
) -> Result<[TensorMapDesc; 3]> {
    for (name, t) in [("q", q), ("k", k), ("v", v)] {
        let s = &t.strides;
        if [s.batch, s.seq, s.head].iter().any(|&x| x < 0) {
            return Err(Error::Invalid(format!(
                "{name}: the copy engine needs non-negative strides"
            )));
        }
    }
    Ok([
        describe(addr[0], q, tile.block_m),
        describe(addr[1], k, tile.block_n),
        describe(addr[2], v, tile.block_n),
    ])
}

/// The maps as the emulator reads them.
pub fn emulated(descs: &[TensorMapDesc; 3]) -> TmaMaps {
    let [q, k, v] = descs.each_ref().map(TensorMap::emulated);
    TmaMaps { q, k, v }
}

/// The maps as the GPU's copy engine reads them, encoded by the driver.
pub fn encoded(descs: &[TensorMapDesc; 3]) -> Result<TmaMaps> {
    let [q, k, v] = [encode(&descs[0])?, encode(&descs[1])?, encode(&descs[2])?];
    Ok(TmaMaps { q, k, v })
}

fn encode(d: &TensorMapDesc) -> Result<TensorMap> {
    use cudarc::driver::sys;
    let rank = d.rank as usize;
    let elem_strides = [1u32; 4];
    let swizzle = match d.swizzle {
        Swizzle::None => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_NONE,
        Swizzle::B128 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
    };
    let mut map = std::mem::MaybeUninit::<sys::CUtensorMap>::zeroed();
    // SAFETY: every array holds at least `rank` (or `rank − 1` strides)
    // elements and outlives the call; the driver only writes `map`.
    let status = unsafe {
        sys::cuTensorMapEncodeTiled(
            map.as_mut_ptr(),
            sys::CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_UINT16,
            d.rank,
            d.base as *mut std::ffi::c_void,
            d.dims[..rank].as_ptr(),
            d.strides[..rank - 1].as_ptr(),
            d.box_dims[..rank].as_ptr(),
            elem_strides.as_ptr(),
            sys::CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
            swizzle,
            sys::CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            sys::CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        )
    };
    if status != sys::CUresult::CUDA_SUCCESS {
        return Err(Error::Cuda {
            context: "encoding a tensor map".into(),
            message: format!("{status:?} for {d:?}"),
        });
    }
    // SAFETY: the driver wrote all 128 bytes on success.
    let map = unsafe { map.assume_init() };
    // SAFETY: CUtensorMap is 16 u64s; TensorMap is the same 128 bytes.
    Ok(unsafe { std::mem::transmute::<[u64; 16], TensorMap>(map.opaque) })
}
