//! The GPUs this process has opened, each once: opening reads the device's
//! facts, and its modules load on first use and are kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tileattn::host::Result;
use tileattn::host::device::Device;

static OPENED: Mutex<BTreeMap<usize, Arc<Device>>> = Mutex::new(BTreeMap::new());

/// GPU `ordinal` (torch's `cuda:ordinal`) on its primary context, the one
/// torch uses, with this build's kernels.
pub fn open(ordinal: usize) -> Result<Arc<Device>> {
    // A panic is caught at the boundary (errors::guarded); the map it may
    // have left behind holds whole entries only.
    let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(d) = opened.get(&ordinal) {
        return Ok(d.clone());
    }
    let d = Arc::new(Device::open(ordinal, tileattn::registry())?);
    opened.insert(ordinal, d.clone());
    Ok(d)
}
