//! `shell-local` post-processor configuration: the same keys and checks as the `shell-local`
//! provisioner (Packer shares one config between them).

use crate::decoder::Decoder;

pub use crate::shell_local::Config;

pub const NO_RENDER: &[&str] = &["execute_command"];

pub fn decode(d: &mut Decoder<'_>) -> Config {
    crate::shell_local::config::decode(d)
}
