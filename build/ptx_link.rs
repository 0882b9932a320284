//! The nvptx64 "linker": rustc calls this build script (with
//! `TILEATTN_PTX_LINKER` set) the way it would call `llvm-bitcode-linker`,
//! which rustup does not ship. Arguments: `--export-symbol NAME`..., bitcode
//! objects, rlibs (archives of bitcode), `--target-cpu`, `--target-feature=`,
//! `-o OUT`. We link the bitcode, internalize everything but the entry points,
//! optimise, and emit PTX.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const LINKER_MODE_ENV: &str = "TILEATTN_PTX_LINKER";
pub const LLVM_BIN_ENV: &str = "TILEATTN_LLVM_BIN";

/// LLVM's full-unroll budget for the device code. The kernels keep their
/// fragments in fixed-size arrays indexed by const-generic loops; a loop left
/// rolled indexes those arrays dynamically, which puts them in local memory
/// (hundreds of bytes of stack per thread and a many-fold slowdown). The
/// default budget (a few hundred instructions) is far below one unrolled tile
/// step, so it is raised for rustc (`ptx_build`) and for this step's `opt`.
pub const UNROLL_THRESHOLD: u32 = 20_000;

fn tool(bin: &Path, name: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = Command::new(bin.join(name))
        .args(args)
        .output()
        .map_err(|e| format!("{name}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn run(args: Vec<String>) -> Result<(), String> {
    let bin =
        PathBuf::from(std::env::var(LLVM_BIN_ENV).map_err(|_| format!("{LLVM_BIN_ENV} not set"))?);
    let (mut exports, mut objects, mut rlibs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut out, mut cpu, mut features) = (None, String::from("sm_89"), String::new());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--export-symbol" => exports.extend(it.next()),
            "-o" => out = it.next(),
            "--target-cpu" => cpu = it.next().unwrap_or(cpu),
            "-L" | "--target" => {
                it.next();
            }
            _ if a.starts_with("--target-feature=") => {
                features = a["--target-feature=".len()..].to_string()
            }
            _ if a.starts_with('-') => {}
            _ if a.ends_with(".rlib") => rlibs.push(a),
            _ => objects.push(a),
        }
    }
    let out = out.ok_or("no -o given")?;
    let work = PathBuf::from(format!("{out}.link"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;

    let linked = work.join("linked.bc");
    let mut link_args: Vec<std::ffi::OsString> = objects.iter().map(Into::into).collect();
    link_args.extend(["-o".into(), linked.clone().into()]);
    tool(
        &bin,
        "llvm-link",
        &link_args.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
    )?;
    // Pull in only what the entry points need from core & co.
    for (i, rlib) in rlibs.iter().enumerate() {
        let dir = work.join(format!("rlib{i}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new(bin.join("llvm-ar"))
            .arg("x")
            .arg(rlib)
            .current_dir(&dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "llvm-ar x {rlib}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut members: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "o"))
            .collect();
        if members.is_empty() {
            continue;
        }
        members.sort();
        let next = work.join(format!("linked{i}.bc"));
        let mut a: Vec<std::ffi::OsString> = vec!["--only-needed".into(), linked.clone().into()];
        a.extend(members.into_iter().map(Into::into));
        a.extend(["-o".into(), next.clone().into()]);
        tool(
            &bin,
            "llvm-link",
            &a.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(),
        )?;
        std::fs::rename(&next, &linked).map_err(|e| e.to_string())?;
    }
    let optimized = work.join("opt.bc");
    let api = format!("--internalize-public-api-list={}", exports.join(","));
    let unroll = format!("-unroll-threshold={}", UNROLL_THRESHOLD);
    tool(
        &bin,
        "opt",
        &[
            api.as_ref(),
            unroll.as_ref(),
            "-passes=internalize,default<O3>".as_ref(),
            linked.as_os_str(),
            "-o".as_ref(),
            optimized.as_os_str(),
        ],
    )?;
    let mcpu = format!("-mcpu={cpu}");
    let mattr = format!("-mattr={features}");
    // Without the verbose comments: LLVM's basic-block comments name
    // functions by their mangled names, whose crate hash depends on the
    // checkout's path, and the kernel-build hash is taken over this text.
    tool(
        &bin,
        "llc",
        &[
            "-O3".as_ref(),
            "-asm-verbose=false".as_ref(),
            mcpu.as_ref(),
            mattr.as_ref(),
            optimized.as_os_str(),
            "-o".as_ref(),
            out.as_ref(),
        ],
    )?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
