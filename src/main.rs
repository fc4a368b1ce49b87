//! The `keymint` command: parse arguments, set up logging, dispatch.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = keymint::cli::parse();
    if !cli.serves() {
        restore_sigpipe();
    }
    keymint::cli::init_tracing(cli.serves());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(keymint::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Rust starts with SIGPIPE ignored, so a command whose reader went away (`keymint keys list
/// | head -1`, `... | grep -q`) panicked on its next print. A command-line tool dies of
/// SIGPIPE quietly instead, as `cat` does. `serve` keeps it ignored: a client closing its
/// socket must cost an error on that connection, never the process.
fn restore_sigpipe() {
    // SAFETY: called before any thread starts; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
