//! Packer templates: positioned JSON parsing, the template model, user variables, the Go
//! text/template interpolation engine, and the HCL2 front end (`hcl2`) that reads `.pkr.hcl`
//! files into the same model.

pub mod builtins;
pub(crate) mod hcl2;
pub mod interp;
pub mod json;
mod json_stack;
pub mod parse;
mod post_processor_def;
mod provisioner_def;
pub mod undefined;
pub mod upgrade;
pub mod variables;
pub mod weak;
pub(crate) mod yaml;

/// Set by the commands that exit right after reading a template (`validate`, `inspect`): the
/// syntax trees a load builds are then left for the process's exit to reclaim instead of being
/// freed node by node, which for a large template costs a good part of reading it (compilers do
/// the same: clang's `-disable-free`).
static KEEP_TREES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Leaves the syntax trees of the templates loaded from now on to the process's exit.
pub fn keep_trees_until_exit() {
    KEEP_TREES.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Done with `tree`: freed now, or left to the exit after [`keep_trees_until_exit`].
pub(crate) fn release<T>(tree: T) {
    if KEEP_TREES.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(tree);
    } else {
        drop(tree);
    }
}
