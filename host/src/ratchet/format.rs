//! How the ratchet (and `tileattn compare`) write numbers: percentages,
//! short decimals, short hashes, CIs, changes of variant.

use crate::stats::RatioCi;

/// A ratio as a signed change: 1.0312 → `+3.12%`.
pub fn signed_pct(ratio: f64) -> String {
    format!("{:+.2}%", (ratio - 1.0) * 100.0)
}

/// A relative SD as a percentage with two decimals: 0.00662 → `0.66%`.
pub fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// A fraction as a percentage without needless digits: 0.02 → `2%`.
pub fn fmt_pct(x: f64) -> String {
    format!("{}%", fmt_g(x * 100.0))
}

/// A number with at most 4 decimals and no trailing zeros.
pub fn fmt_g(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The first 12 hex digits of a hash, enough to tell builds apart in a comment.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The tileattn variants of a matched pair: `` `v` `` when one, `` `a` → `b` ``
/// when it changed (often why a time did), `—` for a torch backend.
pub fn variant_change(before: Option<&str>, after: Option<&str>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if b == a => format!("`{a}`"),
        (None, None) => "—".into(),
        (b, a) => format!("`{}` → `{}`", b.unwrap_or("—"), a.unwrap_or("—")),
    }
}

/// A CI as the changes at its ends: `-1.20% … +3.40%`.
pub fn ci_cell(r: &RatioCi) -> String {
    format!("{} … {}", signed_pct(r.lo), signed_pct(r.hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(signed_pct(1.0312), "+3.12%");
        assert_eq!(signed_pct(0.95), "-5.00%");
        assert_eq!(fmt_pct(0.02), "2%");
        assert_eq!(fmt_pct(0.005), "0.5%");
        assert_eq!(fmt_g(1.02), "1.02");
        assert_eq!(fmt_g(95.0), "95");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(variant_change(Some("v"), Some("v")), "`v`");
        assert_eq!(variant_change(Some("a"), Some("b")), "`a` → `b`");
        assert_eq!(variant_change(None, Some("b")), "`—` → `b`");
        assert_eq!(variant_change(None, None), "—");
    }
}
