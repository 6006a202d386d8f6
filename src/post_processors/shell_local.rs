//! `shell-local` post-processor configuration: the same keys and checks as the `shell-local`
//! provisioner (Packer shares one config between them).

use crate::decoder::Decoder;

pub(crate) use crate::shell_local::Config;

pub(crate) const NO_RENDER: &[&str] = &["execute_command"];

pub(crate) fn decode(d: &mut Decoder<'_>) -> Config {
    crate::shell_local::config::decode(d)
}
