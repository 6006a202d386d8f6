//! Everything rpack prints: Packer's human UI (`==> build: …`), colours, spinners and progress
//! bars on a terminal, plain lines otherwise, and Packer's `-machine-readable` format.

/// What builds, steps and plugins print through. Implementations must be cheap to call from any
/// thread.
pub trait Ui: Send + Sync {
    /// `==> <build>: <msg>`
    fn say(&self, msg: &str);
    /// `    <build>: <msg>`
    fn message(&self, msg: &str);
    /// An error line (`==> <build>: <msg>` in red on a terminal).
    fn error(&self, msg: &str);
    /// A raw machine-readable record (`target`, `type`, data fields); human UIs ignore it.
    fn machine(&self, target: &str, kind: &str, data: &[&str]);
}
