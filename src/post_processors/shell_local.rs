//! `shell-local` post-processor configuration: the same keys and checks as the `shell-local`
//! provisioner (Packer shares one config between them).

use crate::decoder::Decoder;

pub use crate::provisioners::shell_local::config::Config;

pub const NO_RENDER: &[&str] = &["execute_command"];

pub fn decode(d: &mut Decoder<'_>) -> Config {
    crate::provisioners::shell_local::config::decode(d)
}
