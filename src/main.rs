fn main() {
    rpack::logging::init();
    std::process::exit(rpack::cli::main());
}
