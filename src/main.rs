//! The `agentlocator` binary: everything lives in the library; see `cli::main`.

fn main() -> std::process::ExitCode {
    agentlocator::heap_profile::start();
    agentlocator::cli::main()
}
