/// Stack for the thread the CLI runs on. The JSON parser and everything that walks its tree
/// recurse once per nesting level, and Go's (and so rpack's) limit is 10,000 levels: an unoptimised
/// build needs more than the main thread's 8 MiB for that. Only touched pages are committed.
const CLI_STACK: usize = 64 << 20;

/// How much more than asked glibc's malloc maps when it makes or grows a heap (`M_TOP_PAD`).
/// The CLI and the HCL2 parser's second thread each allocate from a heap of their own, which
/// glibc makes with this much room and then grows by exactly what is asked; with the default
/// (128 KiB) reading a large HCL2 template made an `mprotect` call for about every page it
/// allocated (733 calls for the 75 KB benchmark template, 12 with this pad). Address space only:
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
