//! Reads of shared memory that a TMA load may still be writing. The prims
//! that read shared memory where the emulator sees them (`ldmatrix`, `wgmma`
//! operands, TMA stores) call [`check_landed`]; plain loads through pointers
//! are invisible to it.

use super::sched::{EmuError, fail, with_ctx};

/// Fails the launch if `[lo, hi)` (addresses) meets a TMA load whose barrier
/// phase has not completed: on the GPU the read may see the old contents.
pub(crate) fn check_landed(lo: usize, hi: usize) {
    with_ctx(|c, b| {
        if !b.bulk_loads.any_landing() {
            return;
        }
        if let Some(at) = b.bulk_loads.landing_in(lo, hi) {
            fail(EmuError::ReadBeforeTmaLanded {
                block: b.idx(),
                thread: c.tid,
                offset: at - b.smem_base() as usize,
            })
        }
    })
}

/// Whether any TMA load is landing: readers compute their spans only then.
pub(crate) fn any_landing() -> bool {
    with_ctx(|_, b| b.bulk_loads.any_landing())
}
