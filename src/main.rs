#[global_allocator]
static GLOBAL: debias::alloc::MiMalloc = debias::alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    debias::alloc::tune();
    debias::cli::main()
}
