//! What one problem needs in host and device memory, checked against what
//! the machine has before anything is allocated: a shape too big for the
//! machine is invalid input (exit 2), not an allocation failure that aborts
//! the process.

use crate::problem::Problem;
use crate::{Error, Result};

/// Host bytes one run of `p` holds at its peak, counted generously: per
/// element of Q and O, the 16-bit Q and O, an f32 copy of each (the `.npy`
/// values, O written out) and the f64 reference of O; per element of K and
/// V, the 16-bit tensor and its f32 copy; per row, LSE in f32 and f64.
pub fn host_bytes(p: &Problem) -> u128 {
    let (q, kv, rows) = elements(p);
    q * (2 + 2 + 4 + 4 + 8) + 2 * kv * (2 + 4) + rows * (4 + 8)
}

/// Elements of Q (and O), of K (and V), and rows of LSE; in u128, which no
/// product of u32 sizes overflows.
fn elements(p: &Problem) -> (u128, u128, u128) {
    let (b, d) = (p.batch as u128, p.head_dim as u128);
    let rows = b * p.heads_q as u128 * p.seqlen_q as u128;
    (
        rows * d,
        b * p.seqlen_k as u128 * p.heads_kv as u128 * d,
        rows,
    )
}

/// Memory the kernel says is available to new allocations (Linux's
/// `MemAvailable`), or `None` where it cannot be read.
pub fn available_host_bytes() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuse `copies` runs of `p` at once if they need more host memory than is
/// available (no check where the available memory cannot be read).
pub fn check_host(p: &Problem, copies: usize) -> Result<()> {
    let need = host_bytes(p) * copies.max(1) as u128;
    match available_host_bytes() {
        Some(have) if need > have => Err(Error::Invalid(format!(
            "{p} needs about {} of host memory{}, this machine has {} available",
            gib(need),
            if copies > 1 {
                format!(" ({copies} at once)")
            } else {
                String::new()
            },
            gib(have)
        ))),
        _ => Ok(()),
    }
}

/// Device bytes of one launch of `p`: Q, K, V and O in 16 bits, LSE in f32.
pub fn device_bytes(p: &Problem) -> u128 {
    let (q, kv, rows) = elements(p);
    2 * (2 * q + 2 * kv) + 4 * rows
}

/// Refuse a launch of `p` that needs more than the `free` bytes the device has.
pub fn check_device(p: &Problem, free: u128) -> Result<()> {
    let need = device_bytes(p);
    if need > free {
        return Err(Error::Invalid(format!(
            "{p} needs about {} of GPU memory, the GPU has {} free",
            gib(need),
            gib(free)
        )));
    }
    Ok(())
}

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tileattn_kernels::DType;

    #[test]
    fn a_problem_beyond_the_machine_is_refused_before_allocation() {
        let small = Problem::new(1, 2, 2, 64, 64, 64, DType::F16, false);
        assert!(check_host(&small, 2).is_ok());
        let huge = Problem::new(
            1,
            1,
            1,
            2_000_000_000,
            2_000_000_000,
            128,
            DType::F16,
            false,
        );
        assert!(
            huge.validate().is_ok(),
            "valid for the kernels, too big for a host"
        );
        let e = check_device(&huge, 80 << 30).unwrap_err().to_string();
        assert!(e.contains("of GPU memory"), "{e}");
        assert!(check_device(&small, 1 << 20).is_ok());
        if available_host_bytes().is_some() {
            let e = check_host(&huge, 1).unwrap_err().to_string();
            assert!(e.contains("of host memory"), "{e}");
        }
    }
}
