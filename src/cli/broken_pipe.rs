//! `tileattn variants | head -1`: once the reader is gone, a print to stdout
//! fails, and Rust's print macros panic on failure (Rust ignores SIGPIPE, so
//! the write returns an error instead of ending the process).

/// The status a shell reports for a process that SIGPIPE ended: 128 + 13.
const EXIT_BROKEN_PIPE: i32 = 141;

/// End the process quietly, with [`EXIT_BROKEN_PIPE`], when a print finds
/// its pipe closed; every other panic keeps the default report. SIGPIPE
/// itself stays ignored: a write to the torch side's child process must fail
/// as an error the command reports, not end the command.
pub fn end_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info)
    }));
}
