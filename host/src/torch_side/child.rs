//! The script as a child process: how long it may take, what it last wrote on
//! stderr, and how it ended. Nothing here knows the protocol.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use crate::Error;

pub(super) const TOOL: &str = "torch baseline";
/// Lines of the script's stderr kept for error messages.
pub(super) const STDERR_TAIL_LINES: usize = 40;
/// How long a script that was asked to quit (or whose stdout closed) may take to exit.
pub(super) const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Before quoting stderr in an error: wait for this much quiet, at most STDERR_SETTLE_MAX.
pub(super) const STDERR_SETTLE_QUIET: Duration = Duration::from_millis(30);
pub(super) const STDERR_SETTLE_MAX: Duration = Duration::from_millis(300);
/// How long to wait for the script before declaring it hung and stopping it.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For `hello`: importing torch and creating a CUDA context take seconds on a cold machine.
    pub start: Duration,
    /// For every other request; a `sample` of a slow backend (MATH at long sequences) is the longest.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            start: Duration::from_secs(180),
            request: Duration::from_secs(600),
        }
    }
}

pub(super) fn tool_error(message: impl Into<String>) -> Error {
    Error::Tool {
        tool: TOOL.into(),
        message: message.into(),
    }
}

/// The last lines the script wrote on stderr, filled by a reader thread.
#[derive(Default)]
pub(super) struct StderrTail {
    pub(super) lines: VecDeque<String>,
    /// Lines ever read: tells whether the reader is still catching up.
    pub(super) count: u64,
}

impl StderrTail {
    pub(super) fn push(&mut self, line: String) {
        if self.lines.len() == STDERR_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.count += 1;
    }
}

/// Call `sink` with each line of `pipe` (invalid UTF-8 replaced, so garbage still
/// reaches the error message) until the pipe ends or `sink` returns false.
pub(super) fn forward_lines(pipe: impl Read, mut sink: impl FnMut(String) -> bool) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\n', '\r'])
                    .to_string();
                if !sink(line) {
                    return;
                }
            }
        }
    }
}

pub(super) fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}

pub(super) fn describe_exit(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was killed ({status})"),
    }
}

/// At most 200 characters of a line, for messages.
pub(super) fn clip(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}
