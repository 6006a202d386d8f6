//! The test stack every integration test runs against: a real EC2 API (`Moto`), a counting and
//! fault-injecting proxy in front of it (`Proxy`), a real OpenSSH server playing the launched
//! instance (`Sshd`), and read-only views of moto's state through aws-sdk-ec2 (`Ec2State`).
//!
//! Everything listens on 127.0.0.1 on ports chosen at run time. Every process is started in its own
//! process group with a parent-death signal, and killed (with its whole process tree) when its
//! handle is dropped, so nothing outlives the test binary, also not after a panic or a SIGKILL.
//! Run `scripts/test-deps.sh` once (as root) to install what this needs.

// Each test module uses a different part of the stack; unused helpers are expected.
#![allow(dead_code)]

pub(crate) mod ec2_state;
pub(crate) mod http;
pub(crate) mod moto;
pub(crate) mod paths;
pub(crate) mod process;
pub(crate) mod proxy;
pub(crate) mod socks;
pub(crate) mod sshd;
pub(crate) mod ssm;
pub(crate) mod transcript;
pub(crate) mod ui;

#[allow(unused_imports)]
pub(crate) use ec2_state::{client, client_without_retries, Ec2State, Inventory};
#[allow(unused_imports)]
pub(crate) use moto::Moto;
#[allow(unused_imports)]
pub(crate) use proxy::{Console, FaultKind, Proxy};
#[allow(unused_imports)]
pub(crate) use sshd::{save_private_key, ssh_keygen, KeyKind, Sshd};

/// What a build runs against: moto, the counting proxy in front of it, and an EC2-mode sshd that
/// asks moto which keys may log in. Field order is drop order: the sshd asks moto, the proxy
/// forwards to it.
pub(crate) struct Ec2Stack {
    pub sshd: Sshd,
    pub proxy: Proxy,
    pub moto: Moto,
}

impl Ec2Stack {
    pub(crate) fn start() -> Ec2Stack {
        let moto = Moto::start();
        let proxy = Proxy::start(moto.endpoint());
        let sshd = Sshd::start_ec2(moto.endpoint());
        // Like an EC2 instance with cloud-init: the console lists the instance's real host keys.
        proxy.set_console(proxy::Console::Keys(sshd.host_public_keys()));
        Ec2Stack { sshd, proxy, moto }
    }
}
