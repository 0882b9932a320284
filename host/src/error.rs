//! The crate-level error type: every failure a user can cause or meet says what
//! went wrong and, where it can, what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem, tensor or option the kernels cannot run (bad shape, stride, dtype...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// No CUDA driver or device on this machine.
    #[error("no GPU available: {0}")]
    NoDevice(String),
    /// A CUDA driver call failed.
    #[error("CUDA error in {context}: {message}")]
    Cuda { context: String, message: String },
    /// The CPU emulator could not finish a launch.
    #[error("emulator: {0}")]
    Emulator(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file was read but its contents are not what they must be.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// Two results cannot be compared (different GPU, driver, kernel build, schema...).
    #[error("incomparable: {0}")]
    Incomparable(String),
    /// An external tool (ptxas, python3) is missing or failed.
    #[error("{tool}: {message}")]
    Tool { tool: String, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The class of an error, which every front end reports the same way: the CLI
/// as its exit code, the Python package as its exception type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The caller's input, refused before any work.
    Invalid,
    /// No GPU to run on.
    NoDevice,
    /// Anything else: CUDA, the emulator, I/O, tools.
    Other,
}

impl Error {
    pub fn kind(&self) -> Kind {
        match self {
            Error::Invalid(_) | Error::Format { .. } | Error::Incomparable(_) => Kind::Invalid,
            Error::NoDevice(_) => Kind::NoDevice,
            Error::Cuda { .. } | Error::Emulator(_) | Error::Io { .. } | Error::Tool { .. } => {
                Kind::Other
            }
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
