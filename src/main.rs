//! The `ocfork` binary: parses arguments and hands over to the command layer.

fn main() {
    std::process::exit(ocfork::cli::main());
}
