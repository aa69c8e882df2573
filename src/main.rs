//! The `debias` command line: parses the arguments and runs the library (src/lib.rs); the CLI
//! lives here, above the library, which cannot import it.

mod cli;

#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    debias::alloc::tune();
    cli::main()
}
