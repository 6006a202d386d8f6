//! The `file` provisioner: uploads files and directory trees (Packer's trailing-slash rules),
//! or downloads them. Large uploads show a progress bar on a terminal.

pub mod config;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use tokio_util::sync::CancellationToken;

pub use config::{Config, Direction};

use crate::communicator::Communicator;
use crate::shell_local::RunData;
use crate::ui::Ui;

/// Files at least this large get a progress bar (where the UI draws one).
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Runs the provisioner. Large uploads draw a progress bar where the UI offers one
/// ([`Ui::progress`]: a terminal, not machine-readable).
pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    match c.direction {
        Direction::Upload => upload(c, ui, comm, data, cancel).await,
        Direction::Download => download(c, ui, comm, data, cancel).await,
    }
}

/// Where an uploaded source lands: a directory without a trailing slash goes *into*
/// `dst/<name>`, with one its contents go into `dst`; a file to `dst/` keeps its name.
pub fn upload_target(src: &str, dst: &str, is_dir: bool) -> String {
    if is_dir {
        if src.ends_with('/') {
            dst.to_string()
        } else {
            format!("{}/{}", dst.trim_end_matches('/'), base_name(src))
        }
    } else if dst.ends_with('/') {
        format!("{dst}{}", base_name(src))
    } else {
        dst.to_string()
    }
}

fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn upload(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    if let Some(content) = &c.content {
        upload_content(content, c, ui, comm, data, cancel).await?;
    }
    for src in &c.sources {
        let src = data.render(src, None)?;
        let dst = data.render(&c.destination, None)?;
        ui.say(&format!("Uploading {src} => {dst}"));
        let meta = std::fs::metadata(&src).with_context(|| format!("Error reading {src}"))?;
        let target = upload_target(&src, &dst, meta.is_dir());
        let res = if meta.is_dir() {
            comm.upload_dir(Path::new(&src), &target, cancel).await
        } else if let Some(bar) = (meta.len() >= PROGRESS_MIN_BYTES)
            .then(|| ui.progress(meta.len(), &base_name(&src)))
            .flatten()
        {
            let b = bar.clone();
            let res = comm
                .upload_with_progress(
                    Path::new(&src),
                    &target,
                    None,
                    Arc::new(move |done, _| b.set_position(done)),
                    cancel,
                )
                .await;
            bar.finish_and_clear();
            res
        } else {
            comm.upload(Path::new(&src), &target, None, cancel).await
        };
        if let Err(e) = res {
            ui.error(&format!("Upload failed: {e}"));
            return Err(anyhow!(e));
        }
    }
    Ok(())
}

/// `content`: written to a private temporary file, uploaded as the destination, removed.
async fn upload_content(
    content: &str,
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let dst = data.render(&c.destination, None)?;
    ui.say(&format!("Uploading content => {dst}"));
    let local = std::env::temp_dir().join(format!("rpack-content-{}", uuid::Uuid::new_v4()));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&local)
            .with_context(|| format!("Error writing {}", local.display()))?;
        f.write_all(content.as_bytes())?;
    }
    let res = comm.upload(&local, &dst, None, cancel).await;
    let _ = std::fs::remove_file(&local);
    if let Err(e) = res {
        ui.error(&format!("Upload failed: {e}"));
        return Err(anyhow!(e));
    }
    Ok(())
}

async fn download(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    for src in &c.sources {
        let src = data.render(src, None)?;
        let mut dst = data.render(&c.destination, None)?;
        ui.say(&format!("Downloading {src} => {dst}"));
        let is_dir_src = src.ends_with('/') || src.contains(['*', '?', '[']);
        // The local directory that must exist: dst itself when it ends in '/', else its parent.
        let dir: PathBuf = if dst.ends_with('/') {
            let d = PathBuf::from(&dst);
            if !is_dir_src {
                dst = d.join(base_name(&src)).to_string_lossy().into_owned();
            }
            d
        } else {
            Path::new(&dst)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let res = if is_dir_src {
            comm.download_dir(src.trim_end_matches(['*', '/']), Path::new(&dst), cancel)
                .await
        } else {
            comm.download(&src, Path::new(&dst), cancel).await
        };
        if let Err(e) = res {
            ui.error(&format!("Download failed: {e}"));
            return Err(anyhow!(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provisioners::testing::{Call, FakeComm};
    use crate::ui::testing::Recording;

    /// Runs `c` against `comm` with a throwaway UI; panics on failure.
    async fn run(c: &Config, comm: &FakeComm) {
        provision(
            c,
            &Recording::default(),
            comm,
            &RunData::default(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn content_is_uploaded_as_the_destination_and_the_temp_file_removed() {
        let c = Config {
            sources: vec![],
            destination: "/etc/motd".into(),
            direction: Direction::Upload,
            generated: false,
            content: Some("hello from the template\n".into()),
        };
        let comm = FakeComm::default();
        run(&c, &comm).await;
        assert_eq!(
            comm.calls(),
            vec![Call::Upload(
                "/etc/motd".into(),
                b"hello from the template\n".to_vec(),
                None
            )]
        );
        let left = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(std::result::Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("rpack-content-")
            })
            .count();
        assert_eq!(left, 0, "a content temp file was left behind");
    }

    #[test]
    fn trailing_slash_rules() {
        assert_eq!(upload_target("/src/foo", "/tmp", true), "/tmp/foo");
        assert_eq!(upload_target("/src/foo/", "/tmp", true), "/tmp");
        assert_eq!(upload_target("/src/foo", "/tmp/", true), "/tmp/foo");
        assert_eq!(upload_target("a/b.txt", "/tmp/", false), "/tmp/b.txt");
        assert_eq!(upload_target("a/b.txt", "/tmp/c.txt", false), "/tmp/c.txt");
    }

    #[tokio::test]
    async fn uploads_files_and_dirs_to_the_right_place() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "x").unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        let c = Config {
            sources: vec![
                f.to_string_lossy().into_owned(),
                tree.to_string_lossy().into_owned(),
            ],
            destination: "/opt/".into(),
            direction: Direction::Upload,
            generated: false,
            content: None,
        };
        let comm = FakeComm::default();
        let ui = Recording::default();
        provision(
            &c,
            &ui,
            &comm,
            &RunData::default(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(
            comm.calls(),
            [
                Call::Upload("/opt/a.txt".into(), b"x".to_vec(), None),
                Call::UploadDir(tree.to_string_lossy().into_owned(), "/opt/tree".into())
            ]
        );
        assert_eq!(
            ui.lines()[0],
            format!("say: Uploading {} => /opt/", f.display())
        );
    }

    #[tokio::test]
    async fn download_into_a_directory_keeps_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let dst = format!("{}/out/", dir.path().display());
        let c = Config {
            sources: vec!["/etc/hostname".into()],
            destination: dst.clone(),
            direction: Direction::Download,
            generated: false,
            content: None,
        };
        let comm = FakeComm::default();
        run(&c, &comm).await;
        assert_eq!(
            comm.calls(),
            [Call::Download(
                "/etc/hostname".into(),
                format!("{dst}hostname")
            )]
        );
        assert_eq!(
            std::fs::read_to_string(format!("{dst}hostname")).unwrap(),
            "content of /etc/hostname"
        );

        let c = Config {
            sources: vec!["/var/log/".into()],
            destination: dst.clone(),
            direction: Direction::Download,
            generated: false,
            content: None,
        };
        let comm = FakeComm::default();
        run(&c, &comm).await;
        assert_eq!(comm.calls(), [Call::DownloadDir("/var/log".into(), dst)]);
    }
}
