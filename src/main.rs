//! The `tileattn` command line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::end_quietly_on_broken_pipe();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tileattn: {e}");
            cli::exit_code_for(&e)
        }
    }
}
