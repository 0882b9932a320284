//! Which run a value came from: the baseline's history and a calibration both
//! name their sources this way.

use serde::{Deserialize, Serialize};

use crate::runfile::RunFile;

/// Which run a value came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub created_utc: String,
    pub tileattn_commit: String,
    pub kernel_build: String,
}

impl Provenance {
    pub fn of(run: &RunFile) -> Provenance {
        Provenance {
            created_utc: run.created_utc.clone(),
            tileattn_commit: run.env.tileattn_commit.clone(),
            kernel_build: run.env.kernel_build.clone(),
        }
    }
}
