fn main() -> std::process::ExitCode {
    debias::cli::main()
}
