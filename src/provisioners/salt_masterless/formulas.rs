//! `formulas`: Salt formulas fetched with git into the local state tree before it is uploaded,
//! as Packer does with go-getter. A formula URL is `<git repository>//<subdir>[?ref=<ref>]`
//! (optionally `git::`-prefixed); `<subdir>` of the repository at `ref` lands in
//! `local_state_tree/<subdir>`, and one already there is kept (not fetched again).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use tokio_util::sync::CancellationToken;

use crate::provisioners::staging::{run_local, PrivateDir};
use crate::ui::Ui;

/// A formula URL taken apart.
#[derive(Debug, PartialEq)]
pub(crate) struct Formula {
    pub repo: String,
    pub subdir: String,
    pub git_ref: Option<String>,
}

/// Splits `url` (already checked by the config's URL rule).
pub(crate) fn parse(url: &str) -> Option<Formula> {
    let url = url.strip_prefix("git::").unwrap_or(url);
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let i = head.rfind("//")?;
    let (repo, subdir) = (&head[..i], &head[i + 2..]);
    if repo.is_empty() || subdir.is_empty() || subdir.contains('/') {
        return None;
    }
    let git_ref = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("ref=").map(str::to_string))
    });
    Some(Formula {
        repo: repo.to_string(),
        subdir: subdir.to_string(),
        git_ref,
    })
}

/// Fetches each formula missing from `state_tree`.
pub(crate) async fn fetch(
    urls: &[String],
    state_tree: &Path,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    if urls.is_empty() {
        return Ok(());
    }
    ui.message("Downloading Salt formulas...");
    for url in urls {
        let f = parse(url).ok_or_else(|| anyhow!("Invalid formula URL {url:?}"))?;
        let dst = state_tree.join(&f.subdir);
        if dst.exists() {
            ui.message(&format!(
                "Formula {} already in the state tree: {}",
                f.subdir,
                dst.display()
            ));
            continue;
        }
        ui.message(&format!("{url} => {}", dst.display()));
        let work = PrivateDir::new("rpack-salt-formula")?;
        let clone: PathBuf = work.path().join("repo");
        let mut args = vec![
            "clone".to_string(),
            "--quiet".into(),
            "--depth".into(),
            "1".into(),
        ];
        if let Some(r) = &f.git_ref {
            args.extend(["--branch".to_string(), r.clone()]);
        }
        args.extend([f.repo.clone(), clone.display().to_string()]);
        let exit = run_local(ui, "git", &args, &[], cancel)
            .await
            .map_err(|e| anyhow!("Error downloading formula {url}: {e}"))?;
        if exit.code != 0 {
            bail!(
                "Error downloading formula {url}: git clone exited with status {}{}",
                exit.code,
                exit.tail
            );
        }
        let src = clone.join(&f.subdir);
        if !src.is_dir() {
            bail!(
                "Error downloading formula {url}: the repository has no directory {:?}",
                f.subdir
            );
        }
        copy_tree(&src, &dst).map_err(|e| {
            let _ = std::fs::remove_dir_all(&dst);
            anyhow!("Error copying formula {url} to {}: {e}", dst.display())
        })?;
    }
    Ok(())
}

/// Copies the directory `src` to `dst` (created), files and subdirectories.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dst.join(e.file_name());
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else if t.is_file() {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_repository_subdir_and_ref() {
        assert_eq!(
            parse("https://github.com/saltstack-formulas/nginx-formula.git//nginx?ref=v1"),
            Some(Formula {
                repo: "https://github.com/saltstack-formulas/nginx-formula.git".into(),
                subdir: "nginx".into(),
                git_ref: Some("v1".into()),
            })
        );
        assert_eq!(
            parse("git::file:///srv/f.git//web"),
            Some(Formula {
                repo: "file:///srv/f.git".into(),
                subdir: "web".into(),
                git_ref: None,
            })
        );
        assert_eq!(parse("https://example.com/x"), None);
    }
}
