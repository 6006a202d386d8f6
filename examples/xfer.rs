//! Uploads a file or directory with the `file` provisioner over the SSH communicator, the way
//! `rpack build` does with the null builder; used by `scripts/bench-xfer.sh` to time transfers
//! without the rest of a build.
//!
//! `cargo run --release --example xfer -- HOST PORT USER KEY_FILE scp|sftp SOURCE DESTINATION`

use std::time::Instant;

use rpack::communicator::config::{SshConfig, TransferMethod};
use rpack::provisioners::file;
use rpack::shell_local::RunData;
use tokio_util::sync::CancellationToken;

struct Plain;
impl rpack::ui::Ui for Plain {
    fn say(&self, m: &str) {
        println!("==> xfer: {m}");
    }
    fn message(&self, m: &str) {
        println!("    xfer: {m}");
    }
    fn error(&self, m: &str) {
        eprintln!("==> xfer: {m}");
    }
    fn machine(&self, _: &str, _: &str, _: &[&str]) {}
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        a.len() == 7,
        "usage: xfer HOST PORT USER KEY_FILE scp|sftp SOURCE DESTINATION"
    );
    let cfg = SshConfig {
        host: Some(a[0].clone()),
        port: a[1].parse()?,
        username: a[2].clone(),
        private_key_file: Some(a[3].clone().into()),
        file_transfer_method: if a[4] == "sftp" {
            TransferMethod::Sftp
        } else {
            TransferMethod::Scp
        },
        ..SshConfig::default()
    };
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let comm = rpack::builders::common::connect::connect(&cfg, &a[0], &Plain, &cancel).await?;
    let fc = file::Config {
        sources: vec![a[5].clone()],
        destination: a[6].clone(),
        direction: file::Direction::Upload,
        generated: false,
        content: None,
    };
    let data = RunData {
        build_name: "xfer".into(),
        builder_type: "null".into(),
        ..Default::default()
    };
    file::provision(&fc, &Plain, &comm, &data, &cancel).await?;
    eprintln!("xfer: {:.3} s", started.elapsed().as_secs_f64());
    Ok(())
}
