//! StepKeyPair: the SSH key the instance accepts. A temporary key (ed25519 unless
//! `temporary_key_pair_type` says `rsa`; validate refuses every other type) is generated locally and imported with
//! ImportKeyPair; or `ssh_keypair_name` + `ssh_private_key_file`/agent are used as given; or
//! `ssh_private_key_file`/`ssh_password` alone need no EC2 key pair. Owns the temporary key pair
//! and, with `-debug`, its copy `ec2_<build>.pem` in the working directory. The temporary private
//! key stays in memory (a registered secret): rpack's SSH login reads it from there, and only a
//! tool that needs a file writes one (`-debug` here, the `ansible` provisioner its own 0600 copy).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::ResourceType;

use crate::aws::delete::{self, ResourceKind};
use crate::aws::error::AwsResultExt;
use crate::builders::amazon_ebs::context::{BuildCtx, KeyPair as Kp};
use crate::communicator::keys::{self, Curve, KeyText, PrivateKey};
use crate::engine::{Outcome, Step, StepEnv};

pub struct KeyPair;

/// Checks the temporary key's size against what EC2's ImportKeyPair takes (ed25519, RSA of 2048
/// to 4096 bits) at validate time, so a 99999999-bit RSA key is refused before any AWS call
/// instead of failing (or hanging in key generation) mid-build. The types EC2 does not take
/// (`dsa`, `ecdsa`) are refused by `communicator::refuse::ec2_key_pair_type` before this is
/// asked. `bits_given`: the template set `temporary_key_pair_bits`.
pub(crate) fn check_spec(
    kind: &str,
    bits: u32,
    bits_given: bool,
) -> Result<(), (&'static str, String)> {
    match kind {
        "ed25519" => Ok(()),
        "rsa" if !bits_given || (2048..=4096).contains(&bits) => Ok(()),
        "rsa" => Err((
            "temporary_key_pair_bits",
            format!("temporary_key_pair_bits {bits} is not a size EC2 imports for an RSA key: use 2048 to 4096"),
        )),
        other => Err((
            "temporary_key_pair_type",
            format!("temporary_key_pair_type ('{other}') is invalid, valid types: rsa, ed25519"),
        )),
    }
}

/// Generates the private key (OpenSSH PEM) and its public line for `kind`.
/// An ECDSA key's curve is P-256 or P-384 when `bits` says so, P-521 otherwise; an RSA key has
/// `bits` bits when that is at least 2048, 4096 otherwise.
pub fn generate(kind: &str, bits: u32, comment: &str) -> anyhow::Result<(String, String)> {
    let key = match kind {
        "ed25519" => PrivateKey::generate_ed25519(),
        "rsa" => PrivateKey::generate_rsa(if bits >= 2048 { bits } else { 4096 }),
        "ecdsa" => PrivateKey::generate_ecdsa(Curve::from_bits(bits).unwrap_or(Curve::NistP521)),
        other => bail!("temporary_key_pair_type {other:?} is not supported for EC2 key pairs (use ed25519 or rsa)"),
    }
    .context("generating the temporary SSH key")?
    .with_comment(comment);
    let private = key.to_openssh().context("encoding the temporary SSH key")?;
    Ok((private, key.public_key_line()))
}

#[async_trait::async_trait]
impl Step<BuildCtx> for KeyPair {
    fn name(&self) -> &'static str {
        "StepKeyPair"
    }

    async fn run(&self, ctx: &mut BuildCtx, env: &StepEnv) -> anyhow::Result<()> {
        let cfg = ctx.cfg.clone();
        let comm = &cfg.comm;
        if let Some(name) = &comm.keypair_name {
            env.ui.say(&format!("Using existing SSH keypair: {name}"));
            ctx.key_pair = Some(Kp {
                name: name.clone(),
                temporary: false,
                private_key_file: comm.private_key_file.clone(),
                private_key: None,
                debug_key_file: None,
            });
            return Ok(());
        }
        if comm.private_key_file.is_some() || comm.password.is_some() || comm.agent_auth {
            env.ui.say("Using existing SSH private key");
            return Ok(());
        }
        if comm.comm_type != crate::communicator::config::CommType::Ssh {
            return Ok(());
        }
        let name = comm
            .temporary_key_pair_name
            .clone()
            .unwrap_or_else(|| format!("packer_{}", ctx.build_id));
        let kind = cfg.run.key_type().to_string();
        // Off the async workers: RSA generation takes seconds, and Ctrl-C must still be heard.
        let bits = comm.temporary_key_pair_bits;
        let comment = name.clone();
        let gen = tokio::task::spawn_blocking(move || generate(&kind, bits, &comment));
        let (private, public) = tokio::select! {
            r = gen => r.context("generating the temporary SSH key")??,
            () = env.cancel.cancelled() => bail!("cancelled while generating the temporary SSH key"),
        };
        crate::ui::secrets::register(&private);
        env.ui.say(&format!("Creating temporary keypair: {name}"));
        // As the current plugin: run_tags on the key pair, in the call that creates it.
        let tags = ctx.temp_resource_tags(&name)?;
        ctx.ec2()
            .import_key_pair()
            .key_name(&name)
            .public_key_material(Blob::new(public.into_bytes()))
            .tag_specifications(BuildCtx::tag_spec(ResourceType::KeyPair, &tags))
            .send()
            .await
            .aws_context(|| format!("importing temporary key pair {name} in {}", ctx.region))?;
        env.ledger
            .created(ResourceKind::KeyPair, &name, &ctx.region);
        ctx.key_pair = Some(Kp {
            name,
            temporary: true,
            private_key_file: None,
            private_key: Some(KeyText::new(private.clone())),
            debug_key_file: None,
        });
        if ctx.debug {
            // Packer's name, relative to the directory rpack runs in.
            let debug_path = PathBuf::from(format!("ec2_{}.pem", cfg.build_name));
            env.ui.message(&format!(
                "Saving key for debug purposes: {}",
                debug_path.display()
            ));
            keys::write_new_private_key_file(&debug_path, &private).with_context(|| {
                format!("writing the debug private key {}", debug_path.display())
            })?;
            if let Some(kp) = ctx.key_pair.as_mut() {
                kp.debug_key_file = Some(debug_path);
            }
        }
        Ok(())
    }

    async fn cleanup(
        &self,
        ctx: &mut BuildCtx,
        env: &StepEnv,
        _outcome: Outcome,
    ) -> anyhow::Result<()> {
        let Some(kp) = ctx.key_pair.clone().filter(|k| k.temporary) else {
            return Ok(());
        };
        env.ui.say("Deleting temporary keypair...");
        if let Some(p) = &kp.debug_key_file {
            let _ = std::fs::remove_file(p);
        }
        delete::delete_key_pair(&ctx.ec2(), &ctx.region, &kp.name)
            .await
            .map_err(|e| e.prefixed("Error cleaning up keypair. Please delete the key manually"))?;
        env.ledger
            .deleted(ResourceKind::KeyPair, &kp.name, &ctx.region);
        ctx.key_pair = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ed25519_is_the_default_shape() {
        let (private, public) = super::generate("ed25519", 0, "packer_x").unwrap();
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(
            public.starts_with("ssh-ed25519 ") && public.ends_with(" packer_x"),
            "{public}"
        );
        assert!(super::generate("dsa", 0, "x").is_err());
    }

    #[test]
    fn key_specs_are_bounded_as_ec2_requires() {
        use super::check_spec;
        assert!(check_spec("ed25519", 0, false).is_ok());
        assert!(check_spec("rsa", 4096, false).is_ok());
        assert!(check_spec("rsa", 2048, true).is_ok());
        for bits in [1024, 4097, 65536, 99_999_999] {
            let e = check_spec("rsa", bits, true).unwrap_err();
            assert_eq!(e.0, "temporary_key_pair_bits");
            assert!(e.1.contains(&bits.to_string()), "{}", e.1);
        }
        for kind in ["dsa", "ecdsa"] {
            assert_eq!(
                check_spec(kind, 0, false).unwrap_err().0,
                "temporary_key_pair_type"
            );
        }
    }

    #[test]
    fn ecdsa_bits_pick_the_curve() {
        for (bits, want) in [
            (256, "nistp256"),
            (384, "nistp384"),
            (521, "nistp521"),
            (0, "nistp521"),
        ] {
            let (private, public) = super::generate("ecdsa", bits, "packer_ec").unwrap();
            assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
            assert!(
                public.starts_with(&format!("ecdsa-sha2-{want} ")),
                "{bits}: {public}"
            );
        }
    }

    /// The RSA key from OpenSSL is one OpenSSH itself reads: `ssh-keygen -y` derives the same
    /// public key from the private one rpack wrote.
    #[test]
    fn rsa_keys_are_ones_openssh_reads() {
        let (private, public) = super::generate("rsa", 2048, "packer_rsa").unwrap();
        assert!(public.starts_with("ssh-rsa "), "{public}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_rsa");
        crate::communicator::keys::write_private_key_file(&path, &private).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8_lossy(&out.stdout);
        let body = |l: &str| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(body(&derived), body(&public));
    }
}
