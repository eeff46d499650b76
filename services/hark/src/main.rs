//! The `hark` command: see `hark --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    hark::cli::main()
}
