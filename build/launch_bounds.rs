//! PTX performance directives Rust cannot emit.
//!
//! A warp-specialized kernel moves registers between its warpgroups with
//! `setmaxnreg`, which ptxas honours only when the entry has a register cap:
//! `.maxntid T, 1, 1` with `.minnctapersm 1` (CUDA's `__launch_bounds__(T, 1)`)
//! caps every thread at 64K / T registers at launch. rustc has no attribute
//! for either, so the build writes them into the PTX text of the entries that
//! need them, between the parameter list and the body.

/// `ptx` with `.maxntid threads, 1, 1` and `.minnctapersm 1` added to each
/// named entry.
pub fn cap_entries(ptx: &str, entries: &[(String, usize)]) -> Result<String, String> {
    let mut out = String::with_capacity(ptx.len() + 64 * entries.len());
    let mut pending: Option<usize> = None;
    let mut capped = 0;
    for line in ptx.split_inclusive('\n') {
        if let Some(threads) = pending
            && line.trim_end() == "{"
        {
            out.push_str(&format!(".maxntid {threads}, 1, 1\n.minnctapersm 1\n"));
            pending = None;
            capped += 1;
        }
        if let Some(rest) = line.trim_start().strip_prefix(".visible .entry ") {
            let name = rest.split('(').next().unwrap_or("").trim();
            pending = entries.iter().find(|(n, _)| n == name).map(|&(_, t)| t);
        }
        out.push_str(line);
    }
    if capped != entries.len() {
        return Err(format!(
            "launch bounds: found {capped} of {} entries to cap in the PTX",
            entries.len()
        ));
    }
    Ok(out)
}
