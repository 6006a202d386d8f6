fn main() {
    std::process::exit(rpack::cli::main());
}
