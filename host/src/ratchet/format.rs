//! How the ratchet writes numbers: percentages, short decimals, short hashes.

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
    }
}
