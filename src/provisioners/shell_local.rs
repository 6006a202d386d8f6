//! The `shell-local` provisioner: Packer's shared `shell-local` ([`crate::shell_local`]) run
//! as a provisioner, on the machine running rpack.

use tokio_util::sync::CancellationToken;

pub use crate::shell_local::Config;
use crate::shell_local::RunData;
use crate::ui::Ui;

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    crate::shell_local::run(c, ui, data, cancel).await
}
