/// Stack for the thread the CLI runs on. The JSON parser and everything that walks its tree
/// recurse once per nesting level, and Go's (and so rpack's) limit is 10,000 levels: an unoptimised
/// build needs more than the main thread's 8 MiB for that. Only touched pages are committed.
const CLI_STACK: usize = 64 << 20;

/// How much room beyond a request glibc's malloc maps when it makes or grows a heap
/// (`M_TOP_PAD`). The CLI and the HCL2 parser's second thread each allocate from a heap of their
/// own; with the default room (128 KiB) reading the 75 KB HCL2 benchmark template made 733
/// `mprotect` calls, about one per page allocated, and 12 with this room. Address space only:
/// pages count once touched.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TOP_PAD: libc::c_int = 16 << 20;

fn main() {
    // SAFETY: mallopt only sets a tuning value of the allocator; it is called before any other
    // thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, MALLOC_TOP_PAD);
    }
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
