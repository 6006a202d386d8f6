/// Stack for the thread the CLI runs on. The JSON parser and everything that walks its tree
/// recurse once per nesting level, and Go's (and so rpack's) limit is 10,000 levels: an unoptimised
/// build needs more than the main thread's 8 MiB for that. Only touched pages are committed.
const CLI_STACK: usize = 64 << 20;

fn main() {
    rpack::logging::init();
    let cli = std::thread::Builder::new()
        .name("rpack".into())
        .stack_size(CLI_STACK)
        .spawn(rpack::cli::main);
    let code = match cli {
        Ok(handle) => handle.join().unwrap_or(101),
        Err(_) => rpack::cli::main(),
    };
    std::process::exit(code);
}
