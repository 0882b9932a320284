//! Minimal `.npy` reading and writing (NumPy format versions 1–3): float16 and
//! float32 little-endian C-order arrays in, float32 out. Outputs go through
//! [`crate::output`], so a failed run never leaves half a file.

use std::path::Path;

use half::f16;

use crate::{Error, Result};

// Outputs go through the one writer of every file; re-exported for the
// writers of single `.npy` files (the torch side's inputs, tests).
pub use crate::output::write_atomic;

const MAGIC: &[u8] = b"\x93NUMPY";

/// A loaded array, converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// Read a float16 or float32 `.npy` file.
pub fn read(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::format(path, m.to_string());
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (bad magic)"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("unsupported .npy version {v}"))),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;

    let descr = field(header, "descr").ok_or_else(|| bad("header has no 'descr'"))?;
    let item = if descr.starts_with("'<f2'") {
        2
    } else if descr.starts_with("'<f4'") {
        4
    } else {
        let d: String = descr.chars().take_while(|&c| c != ',').collect();
        return Err(bad(&format!(
            "dtype {d} is not supported (float16 '<f2' or float32 '<f4')"
        )));
    };
    if field(header, "fortran_order").is_none_or(|f| !f.starts_with("False")) {
        return Err(bad(
            "only C-order arrays are supported (fortran_order must be False)",
        ));
    }
    let shape_text = field(header, "shape").ok_or_else(|| bad("header has no 'shape'"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("malformed shape"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(&format!("malformed shape entry `{s}`")))
        })
        .collect::<Result<Vec<_>>>()?;
    // Checked: a header may claim any shape; the file's own length bounds it.
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let needed = count.and_then(|n| n.checked_mul(item));
    let body = &bytes[data_start..];
    let (Some(count), Some(needed)) = (count, needed) else {
        return Err(bad(&format!(
            "shape {shape:?} has more elements than memory can address"
        )));
    };
    if body.len() < needed {
        return Err(bad(&format!(
            "truncated: shape {shape:?} needs {needed} data bytes, the file has {}",
            body.len()
        )));
    }
    let data = if item == 2 {
        body.chunks_exact(2)
            .take(count)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()
    } else {
        body.chunks_exact(4)
            .take(count)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    Ok(Array { shape, data })
}

/// The bytes of a float32 `.npy` (version 1.0, header padded to 64 bytes).
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same file with another dtype code in its header.
    fn retype(mut bytes: Vec<u8>, descr: &[u8; 3]) -> Vec<u8> {
        let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
        bytes[at..at + 3].copy_from_slice(descr);
        bytes
    }

    #[test]
    fn round_trips_float32_and_reads_float16() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_atomic(&p, &encode_f32(&[2, 3], &[1.0, -2.0, 3.5, 0.0, 1e-3, 7.0])).unwrap();
        let a = read(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.0, -2.0, 3.5, 0.0, 1e-3, 7.0]);

        let mut f16_file = retype(encode_f32(&[2], &[0.0, 0.0]), b"<f2");
        f16_file.truncate(f16_file.len() - 8);
        f16_file.extend_from_slice(&f16::from_f32(1.5).to_le_bytes());
        f16_file.extend_from_slice(&f16::from_f32(-2.0).to_le_bytes());
        std::fs::write(&p, &f16_file).unwrap();
        assert_eq!(read(&p).unwrap().data, vec![1.5, -2.0]);
    }

    #[test]
    fn rejects_bad_files_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.npy");
        let good = encode_f32(&[4], &[1.0; 4]);
        std::fs::write(&p, &good[..good.len() - 3]).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("truncated"));
        std::fs::write(&p, retype(good.clone(), b"<f8")).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("not supported"));
        std::fs::write(&p, b"hello").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("not a .npy"));
    }
}
