//! The one writer of every file tileattn writes (`.npy` outputs, run files,
//! reports, figures, the tuning cache, ratchet baselines), and the checks a
//! command runs on its output paths before it starts computing.
//!
//! The rules, so that no user file is lost:
//! - only regular files are replaced: a symbolic link (its target is named),
//!   a directory, a FIFO, a device or a socket at an output path is refused;
//! - a replaced file keeps its mode; a read-only one is refused unless the
//!   user said `--replace-read-only` ([`allow_replacing_read_only`]);
//! - a command never writes over one of its own inputs, nor two of its
//!   outputs over each other ([`FilePlan`], by file identity and by resolved
//!   path, so `./a.npy`, `a.npy` and a hard link to it are one file);
//! - the files of one result are written as a unit ([`Batch`]): every new
//!   file is complete on disk before the first is renamed into place, and if
//!   a rename fails the ones already renamed are put back, so either all the
//!   new files are there or all the old ones;
//! - a temporary file never outlives the command: SIGINT and SIGTERM remove
//!   every live one before the process exits ([`clean_up_on_signals`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::{Error, Result};

/// Temporary names start with this, so a stray one is recognisable.
const TEMP_PREFIX: &str = ".tileattn-";

static REPLACE_READ_ONLY: AtomicBool = AtomicBool::new(false);

/// Let this process replace read-only files (the CLI's `--replace-read-only`):
/// a standing instruction of the user for the whole command, like a umask,
/// so it is process-wide rather than threaded through every writer.
pub fn allow_replacing_read_only() {
    REPLACE_READ_ONLY.store(true, Ordering::Relaxed);
}

/// Temporary and backup files that exist right now. The signal handler
/// removes them; [`Batch::commit`] holds the lock while it renames, so a
/// signal never lands between two renames of one result.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves the list itself intact.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A path of the live list, removed from it (and from disk, if still there)
/// when dropped.
struct LivePath(PathBuf);

impl LivePath {
    /// A new temporary file in `dir`, created and listed under the list's
    /// lock, so no signal can come between the two.
    fn create_in(dir: &Path) -> Result<(std::fs::File, LivePath)> {
        let mut list = live();
        let (file, temp) = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?
            .into_parts();
        let path = temp.keep().map_err(|e| Error::io(dir, e.error))?;
        list.push(path.clone());
        Ok((file, LivePath(path)))
    }
}

impl Drop for LivePath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        live().retain(|p| p != &self.0);
    }
}

/// On SIGINT or SIGTERM, remove every live temporary file, then exit with
/// 128 + the signal number, as the shell reports a process the signal killed.
pub fn clean_up_on_signals() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::Invalid(format!("installing the signal handler: {e}")))?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            // The lock waits out a commit in progress; it is never released.
            let _held = remove_live();
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

/// Remove every live temporary file; the list stays locked while the guard
/// lives, so nothing new is staged or committed after.
fn remove_live() -> MutexGuard<'static, Vec<PathBuf>> {
    let paths = live();
    for p in paths.iter() {
        let _ = std::fs::remove_file(p);
    }
    paths
}

/// What is at an output path now.
enum Existing {
    Nothing,
    /// A regular file with these permissions, kept by its replacement.
    File(std::fs::Permissions),
}

/// Check that `path` may be (re)written: nothing there, or a regular file
/// that is writable (or read-only with `--replace-read-only`).
fn check_target(path: &Path) -> Result<Existing> {
    if path.as_os_str().is_empty() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(Error::Invalid(format!(
            "output path `{}` names no file",
            path.display()
        )));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::Invalid(format!(
                "{}: a part of its directory is not a directory",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let refuse = |what: String| {
        Err(Error::Invalid(format!(
            "{}: {what}; tileattn replaces only regular files",
            path.display()
        )))
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| Error::io(path, e))?;
        let resolved = std::fs::canonicalize(path)
            .map(|t| format!(", which resolves to {}", t.display()))
            .unwrap_or_else(|_| ", which does not resolve".into());
        return refuse(format!(
            "is a symbolic link to {}{resolved} (name the target itself)",
            target.display()
        ));
    }
    if !kind.is_file() {
        return refuse(format!("is {}", describe(&kind)));
    }
    let permissions = meta.permissions();
    if permissions.readonly() && !REPLACE_READ_ONLY.load(Ordering::Relaxed) {
        return Err(Error::Invalid(format!(
            "{} is read-only; pass --replace-read-only to replace it (its mode is kept)",
            path.display()
        )));
    }
    Ok(Existing::File(permissions))
}

/// Check that a file can be created where `path` goes: its nearest existing
/// ancestor is a directory this process can write in (probed with an
/// unnamed temporary file, which leaves nothing behind).
fn check_directory(path: &Path) -> Result<()> {
    let dir = parent_of(path);
    let mut existing = dir;
    while std::fs::symlink_metadata(existing).is_err() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(Error::Invalid(format!(
            "{}: {} is not a directory",
            path.display(),
            existing.display()
        )));
    }
    tempfile::tempfile_in(existing).map(drop).map_err(|e| {
        Error::Invalid(format!(
            "{}: cannot write in {}: {e}",
            path.display(),
            existing.display()
        ))
    })
}

/// The directory a file at `path` goes in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Where a path points, for telling whether two paths name one file: the
/// file's identity if it exists, and its resolved path either way.
#[derive(Debug)]
struct Location {
    resolved: PathBuf,
    #[cfg(unix)]
    id: Option<(u64, u64)>,
}

impl Location {
    fn of(path: &Path) -> Location {
        #[cfg(unix)]
        let id = std::fs::metadata(path).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        });
        Location {
            resolved: resolve(path),
            #[cfg(unix)]
            id,
        }
    }

    fn same(&self, other: &Location) -> bool {
        #[cfg(unix)]
        if let (Some(a), Some(b)) = (self.id, other.id) {
            return a == b;
        }
        self.resolved == other.resolved
    }
}

/// `path` with its directory resolved (symbolic links, `.`, `..`) as far as
/// it exists; the rest is appended as written.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) {
        rest.push(name.to_owned());
        if let Ok(base) = std::fs::canonicalize(parent) {
            return rest.iter().rev().fold(base, |p, n| p.join(n));
        }
        existing = parent;
    }
    absolute
}

/// A command's files, checked together before it computes anything: every
/// output is a path it may write, none is one of its inputs, and no two
/// outputs are one file.
#[derive(Debug, Default)]
pub struct FilePlan {
    inputs: Vec<(PathBuf, Location)>,
    outputs: Vec<(PathBuf, Location)>,
}

impl FilePlan {
    pub fn new() -> FilePlan {
        FilePlan::default()
    }

    /// A file the command reads.
    pub fn input(&mut self, path: &Path) -> &mut FilePlan {
        self.inputs.push((path.to_path_buf(), Location::of(path)));
        self
    }

    /// A file the command reads, changes and writes back (the tuning cache, a
    /// baseline): an output that is also an input from now on. Declare the
    /// other inputs first: it must not be one of them.
    pub fn update(&mut self, path: &Path) -> Result<&mut FilePlan> {
        self.output(path)?;
        self.input(path);
        Ok(self)
    }

    /// A file the command writes.
    pub fn output(&mut self, path: &Path) -> Result<&mut FilePlan> {
        check_target(path)?;
        check_directory(path)?;
        let here = Location::of(path);
        let clash = |role: &str, other: &Path| {
            Err(Error::Invalid(format!(
                "{} would overwrite {role} {} (the same file); name another output",
                path.display(),
                other.display()
            )))
        };
        if let Some((other, _)) = self.inputs.iter().find(|(_, at)| here.same(at)) {
            return clash("the input", other);
        }
        if let Some((other, _)) = self.outputs.iter().find(|(_, at)| here.same(at)) {
            return clash("another output,", other);
        }
        self.outputs.push((path.to_path_buf(), here));
        Ok(self)
    }
}

/// One new file, complete on disk under a temporary name beside its target.
struct Staged {
    target: PathBuf,
    temp: LivePath,
}

/// Files written as a unit: [`Batch::add`] stages each one (the part that can
/// fail: space, permissions), [`Batch::commit`] renames them all into place.
#[derive(Default)]
pub struct Batch {
    staged: Vec<Staged>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Stage `bytes` for `path`: a temporary file in the same directory (a
    /// rename is atomic only within one file system; the directory is created
    /// if missing), with the mode of the file it replaces (0644 for a new
    /// one), flushed to disk.
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let existing = check_target(path)?;
        if self.staged.iter().any(|s| s.target == path) {
            return Err(Error::Invalid(format!(
                "{} is written twice by one command",
                path.display()
            )));
        }
        let dir = parent_of(path);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (mut file, temp) = LivePath::create_in(dir)?;
        file.write_all(bytes).map_err(|e| Error::io(&temp.0, e))?;
        let mode = match existing {
            Existing::File(p) => Some(p),
            Existing::Nothing => new_file_permissions(),
        };
        if let Some(mode) = mode {
            file.set_permissions(mode)
                .map_err(|e| Error::io(&temp.0, e))?;
        }
        file.sync_all().map_err(|e| Error::io(&temp.0, e))?;
        self.staged.push(Staged {
            target: path.to_path_buf(),
            temp,
        });
        Ok(())
    }

    /// Rename every staged file into place. If one rename fails, the files
    /// already renamed are restored from hard-linked backups (or removed, if
    /// they are new) and the error is returned: all the new files or none.
    /// The last file needs no backup (nothing after it can fail), so a single
    /// file is one rename.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let _no_signal_between_renames = live();
        let mut done: Vec<(&Staged, Option<PathBuf>)> = Vec::new();
        let last = self.staged.len().saturating_sub(1);
        for (i, s) in self.staged.iter().enumerate() {
            let result = check_target(&s.target)
                .and_then(|_| {
                    if i < last {
                        backup(&s.target)
                    } else {
                        Ok(None)
                    }
                })
                .and_then(|b| {
                    std::fs::rename(&s.temp.0, &s.target)
                        .map(|()| b.clone())
                        .map_err(|e| {
                            if let Some(b) = &b {
                                let _ = std::fs::remove_file(b);
                            }
                            Error::io(&s.target, e)
                        })
                });
            match result {
                Ok(b) => done.push((s, b)),
                Err(e) => {
                    for (s, b) in done.iter().rev() {
                        let _ = match b {
                            Some(b) => std::fs::rename(b, &s.target),
                            None => std::fs::remove_file(&s.target),
                        };
                    }
                    return Err(e);
                }
            }
        }
        for (_, b) in &done {
            if let Some(b) = b {
                let _ = std::fs::remove_file(b);
            }
        }
        // The temporaries were renamed away: dropping them removes nothing.
        Ok(self.staged.iter().map(|s| s.target.clone()).collect())
    }
}

/// A second name (a hard link) for the file at `path`, if there is one, so
/// it can be put back; `None` for a new file. It exists only while
/// [`Batch::commit`] holds the live list, so a signal cannot strand it.
fn backup(path: &Path) -> Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let dir = parent_of(path);
    let link = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(dir, |p| std::fs::hard_link(path, p))
        .map_err(|e| Error::io(path, e))?;
    link.into_temp_path()
        .keep()
        .map(Some)
        .map_err(|e| Error::io(path, e.error))
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    // Temporary files are created owner-only; a result file is not secret.
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Write one file atomically: the old file or the complete new one, never
/// half of either (a [`Batch`] of one).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut batch = Batch::new();
    batch.add(path, bytes)?;
    batch.commit().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_keeping_its_mode_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"first").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn refuses_what_is_not_a_regular_writable_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"kept").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_atomic(&link, b"new").unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains("target"), "{e}");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write_atomic(&sub, b"new").unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        let e = write_atomic(Path::new("/dev/null"), b"new")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a device"), "{e}");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).unwrap();
        let e = write_atomic(&target, b"new").unwrap_err().to_string();
        assert!(e.contains("read-only"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"kept");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(names(dir.path()), ["link", "sub", "target"]);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"old a").unwrap();
        let mut batch = Batch::new();
        batch.add(&a, b"new a").unwrap();
        batch.add(&b, b"new b").unwrap();
        // `b` becomes a directory after staging: its rename fails, `a` is put back.
        std::fs::create_dir_all(b.join("inside")).unwrap();
        assert!(batch.commit().is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_signal_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = Batch::new();
        batch.add(&dir.path().join("o.npy"), b"staged").unwrap();
        assert_eq!(names(dir.path()).len(), 1, "the staged temporary");
        drop(remove_live());
        assert!(names(dir.path()).is_empty());
        drop(batch);
    }

    #[test]
    fn a_plan_refuses_an_output_that_is_an_input_or_another_output() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("q.npy");
        std::fs::write(&q, b"q").unwrap();
        let alias = dir.path().join("sub/../q.npy");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let hard = dir.path().join("hard.npy");
        std::fs::hard_link(&q, &hard).unwrap();
        let mut plan = FilePlan::new();
        plan.input(&q);
        for bad in [&q, &alias, &hard] {
            let e = plan.output(bad).unwrap_err().to_string();
            assert!(e.contains("the input"), "{e}");
        }
        let o = dir.path().join("o.npy");
        plan.output(&o).unwrap();
        let e = plan
            .output(&dir.path().join("sub/../o.npy"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("another output"), "{e}");
        // An updated file may be read and written; not as a second output.
        let cache = dir.path().join("cache.json");
        std::fs::write(&cache, b"{}").unwrap();
        let mut plan = FilePlan::new();
        plan.update(&cache).unwrap();
        assert!(plan.output(&cache).is_err());
    }
}
