//! The implementations a run can hold, and the one order every table and
//! figure lists them in: tileattn first (it is what the run is about), then
//! PyTorch's SDPA backends from the fastest kernels to the reference one.

/// The `implementation` of tileattn's own measurements.
pub const TILEATTN: &str = "tileattn";

/// Known implementations, in report order.
pub const KNOWN: [&str; 5] = [
    TILEATTN,
    "torch-flash",
    "torch-cudnn",
    "torch-efficient",
    "torch-math",
];

/// Sort key: known implementations in [`KNOWN`]'s order, any other after them
/// by name (a run file from a newer build may hold one this build does not know).
pub fn rank(name: &str) -> (usize, &str) {
    let i = KNOWN.iter().position(|k| *k == name).unwrap_or(KNOWN.len());
    (i, name)
}

/// The distinct implementations among `names`, in report order.
pub fn ordered<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.into_iter().collect();
    v.sort_by_key(|n| rank(n));
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tileattn_first_unknown_last() {
        assert_eq!(
            ordered([
                "torch-math",
                "zeta",
                "torch-flash",
                "tileattn",
                "torch-flash",
                "alpha"
            ]),
            ["tileattn", "torch-flash", "torch-math", "alpha", "zeta"]
        );
    }
}
