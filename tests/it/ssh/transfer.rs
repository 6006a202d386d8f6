//! Transfers against a real sshd: big checksum-verified uploads (scp and sftp), a 5,000-file
//! tree with modes, impossible destinations, the sftp fallback without `tar`, `~` destinations,
//! and the progress bar on a terminal only.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rpack::communicator::config::TransferMethod;
use rpack::communicator::Communicator;
use rpack::provisioners::{self};
use rpack::ui::build::BuildUi;
use rpack::ui::Ui;
use tokio_util::sync::CancellationToken;

use crate::support::ui::Recording;
use crate::support::{ssh_keygen, KeyKind, Sshd};

use super::*;

/// `bytes` random bytes from /dev/urandom (faster than generating them in a debug build).
fn random_file(path: &Path, bytes: usize) {
    let out = std::process::Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/urandom"])
        .stdout(std::fs::File::create(path).unwrap())
        .status()
        .unwrap();
    assert!(out.success());
}

/// sha256 of a local file with `sha256sum` (a debug-build sha2 takes seconds on 256 MiB).
fn sha256_file(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_upload_is_checksum_verified_scp_and_sftp() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let dir = tempfile::tempdir_in(SHM).unwrap();
    // 256 MiB by scp (the default method), as the issue asks; the sftp path and the download
    // move a 32 MiB file, which crosses the same chunk loops many times over at an eighth of
    // the suite's time.
    let big = dir.path().join("big.bin");
    random_file(&big, 256 << 20);
    let medium = dir.path().join("medium.bin");
    random_file(&medium, 32 << 20);
    for (method, file) in [(TransferMethod::Scp, &big), (TransferMethod::Sftp, &medium)] {
        let want = sha256_file(file);
        let mib = std::fs::metadata(file).unwrap().len() >> 20;
        let mut p = params(&sshd, &key);
        p.transfer = method;
        let comm = connect(p).await;
        let remote = format!("{SHM}/rpack-it-{}-big.bin", sshd.port());
        let started = Instant::now();
        comm.upload(file, &remote, Some(0o640), &CancellationToken::new())
            .await
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{mib} MiB upload via {method:?}: {secs:.2} s ({:.0} MiB/s)",
            mib as f64 / secs
        );
        let (status, lines) = run(
            &comm,
            &format!("sha256sum {remote} | cut -d' ' -f1; stat -c %a {remote}; rm -f {remote}"),
        )
        .await;
        assert_eq!(status, 0);
        assert_eq!(
            lines,
            [format!("out: {want}"), "out: 640".to_string()],
            "{method:?}"
        );
        // Round trip back down.
        if method == TransferMethod::Sftp {
            comm.upload(file, &remote, None, &CancellationToken::new())
                .await
                .unwrap();
            let back = dir.path().join("back.bin");
            comm.download(&remote, &back, &CancellationToken::new())
                .await
                .unwrap();
            assert_eq!(sha256_file(&back), want);
            run(&comm, &format!("rm -f {remote}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_of_5000_files_round_trips_with_modes() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    // Both sides on tmpfs: on this disk (ext4 without a journal) creating 5,000 files shortly
    // after deleting 5,000 costs seconds of kernel time (ialloc.c: recently_deleted), which says
    // nothing about rpack.
    let dir = tempfile::tempdir_in(SHM).unwrap();
    let src = dir.path().join("tree");
    for d in 0..10 {
        let sub = src.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..500 {
            let p = sub.join(format!("f{i:04}.bin"));
            std::fs::write(&p, [(i % 251) as u8; 4096]).unwrap();
        }
    }
    std::fs::set_permissions(
        src.join("d3/f0007.bin"),
        std::fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    std::fs::set_permissions(src.join("d4"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let remote = format!("{SHM}/rpack-it-{}-tree", sshd.port());

    // The file provisioner's rules: no trailing slash → the directory itself lands in dst.
    let cfg = provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("{remote}/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    run(&comm, &format!("mkdir -p {remote}")).await;
    let started = Instant::now();
    provision_file(&comm, &cfg).await;
    eprintln!(
        "5000 x 4 KiB upload: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    // Like Packer's scp and sftp uploads, files get the time of the upload (no 2006 mtimes
    // from the archive headers).
    let (_, lines) = run(&comm, &format!("find {remote}/tree -type f | wc -l; stat -c %a {remote}/tree/d3/f0007.bin {remote}/tree/d4; find {remote}/tree ! -newermt '10 minutes ago' | wc -l")).await;
    assert_eq!(lines, ["out: 5000", "out: 751", "out: 700", "out: 0"]);

    let back = dir.path().join("back");
    let started = Instant::now();
    comm.download_dir(&format!("{remote}/tree"), &back, &CancellationToken::new())
        .await
        .unwrap();
    eprintln!(
        "5000 x 4 KiB download: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let count = walk_files(&back);
    assert_eq!(count, 5000);
    assert_eq!(
        std::fs::metadata(back.join("d3/f0007.bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o751
    );
    assert_eq!(
        std::fs::read(back.join("d9/f0499.bin")).unwrap(),
        [(499 % 251) as u8; 4096]
    );
    run(&comm, &format!("rm -rf {remote}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_upload_to_an_impossible_destination_reports_mkdirs_words() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), "a\n").unwrap();
    // A regular file where the destination's parent directory should be.
    let blocker = scratch(&sshd, "blocker");
    run(&comm, &format!("echo x > {blocker}")).await;
    let err = comm
        .upload_dir(&src, &format!("{blocker}/sub"), &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("creating {blocker}/sub on the remote host failed"))
            && err.contains("Not a directory"),
        "{err}"
    );
    run(&comm, &format!("rm -f {blocker}")).await;
}

fn walk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// `find` listing (path, type, mode, size) and checksums of a tree, run locally or remotely.
const LISTING: &str = "find . -mindepth 1 -printf '%p %y %m %s\\n' | LC_ALL=C sort; find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2";

fn local_listing(dir: &Path) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(LISTING)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| format!("out: {l}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tar_directories_go_by_sftp_with_modes_intact() {
    let (key, public) = ssh_keygen(KeyKind::Ed25519);
    // The remote shell finds nothing on PATH, so no tar; sftp-server has an absolute path.
    let sshd = Sshd::start_static_with(&public, "SetEnv PATH=/nonexistent");
    let comm = connect(params(&sshd, &key)).await;
    assert_eq!(
        run(&comm, "command -v tar").await.0,
        1,
        "tar must be out of reach"
    );

    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("tree");
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::create_dir_all(src.join("ro")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("top file.txt"), "top\n").unwrap();
    std::fs::write(src.join("a/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(src.join("a/b/data.bin"), vec![42u8; 300_000]).unwrap();
    std::fs::write(src.join("ro/secret"), "s\n").unwrap();
    mode(&src.join("top file.txt"), 0o640);
    mode(&src.join("a/run.sh"), 0o755);
    mode(&src.join("a/b/data.bin"), 0o604);
    mode(&src.join("ro/secret"), 0o400);
    mode(&src.join("a"), 0o750);
    mode(&src.join("a/b"), 0o775); // the remote umask (022) must not apply
    mode(&src.join("empty"), 0o700);
    mode(&src.join("ro"), 0o555); // read-only: made so only after its file arrived
    let want = local_listing(&src);

    // `~/…/deep/` does not exist yet: created with its parents, like `mkdir -p` on the tar path.
    let base = format!("rpack-it-{}-notar", sshd.port());
    let cfg = provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("~/{base}/deep/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    provision_file(&comm, &cfg).await;
    let remote = format!("/home/{}/{base}/deep/tree", sshd.user());
    let (status, got) = run(
        &comm,
        &format!("export PATH=/usr/bin:/bin; cd {remote} && {{ {LISTING}; }}"),
    )
    .await;
    assert_eq!(status, 0, "{got:?}");
    assert_eq!(got, want);
    // One sftp session carried the whole tree.
    assert_eq!(
        sshd.log().matches("subsystem 'sftp'").count(),
        1,
        "{}",
        sshd.log()
    );

    let back = dir.path().join("back");
    comm.download_dir(&remote, &back, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(local_listing(&back), want);
    assert_eq!(
        sshd.log().matches("subsystem 'sftp'").count(),
        2,
        "{}",
        sshd.log()
    );

    mode(&src.join("ro"), 0o755);
    mode(&back.join("ro"), 0o755);
    run(
        &comm,
        &format!("export PATH=/usr/bin:/bin; chmod -R u+w ~/{base} && rm -rf ~/{base}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tilde_destinations_land_in_the_home_directory_with_scp_and_sftp() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "home\n").unwrap();
    for method in [TransferMethod::Scp, TransferMethod::Sftp] {
        let mut p = params(&sshd, &key);
        p.transfer = method;
        let comm = connect(p).await;
        let name = format!("rpack-it-{}-{method:?}.txt", sshd.port());
        comm.upload(
            file.path(),
            &format!("~/{name}"),
            Some(0o600),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let (status, lines) = run(
            &comm,
            &format!("cat ~/{name} && stat -c %a ~/{name} && rm ~/{name}"),
        )
        .await;
        assert_eq!(
            (status, lines),
            (0, vec!["out: home".to_string(), "out: 600".to_string()]),
            "{method:?}"
        );
        run(&comm, &format!("echo back > ~/{name}")).await;
        let back = file.path().with_extension("back");
        comm.download(&format!("~/{name}"), &back, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&back).unwrap(),
            "back\n",
            "{method:?}"
        );
        run(&comm, &format!("rm ~/{name}")).await;
    }
}

// ---- the file provisioner's progress bar ----------------------------------------------------------

/// A pseudo-terminal: `term` writes to its slave side, a thread collects what the master reads.
struct Pty {
    term: Option<console::Term>,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Pty {
    fn open() -> Pty {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid out-pointers for the two fds, no name buffer, no termios, a valid winsize.
        let rc = unsafe {
            libc::openpty(
                &raw mut master,
                &raw mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &raw const size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two fresh fds that nothing else owns.
        let (master, slave) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                std::fs::File::from_raw_fd(slave),
            )
        };
        let term = console::Term::read_write_pair(slave.try_clone().unwrap(), slave);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut master = master;
                let mut buf = [0u8; 4096];
                loop {
                    let mut pfd = libc::pollfd {
                        fd: master.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd for the duration of the call.
                    let ready = unsafe { libc::poll(&raw mut pfd, 1, 50) };
                    if ready > 0 {
                        match master.read(&mut buf) {
                            Ok(n) if n > 0 => seen.lock().unwrap().extend_from_slice(&buf[..n]),
                            _ => return, // EIO: the slave side is closed
                        }
                    } else if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
            })
        };
        Pty {
            term: Some(term),
            seen,
            stop,
            reader: Some(reader),
        }
    }

    fn term(&self) -> &console::Term {
        self.term.as_ref().unwrap()
    }

    /// Everything written to the terminal so far (waits until the reader caught up).
    fn output(&mut self) -> String {
        self.term = None;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

/// The file provisioner asks the build's UI for a bar (`Ui::progress`). `rpack build` gives its
/// builds' UIs a live area only on a terminal without -machine-readable; this test gives one
/// the pty instead of stdout, and checks a UI without one (plain output) draws nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_for_big_uploads_on_a_terminal_only() {
    let (sshd, key) = server(KeyKind::Ed25519);
    let comm = connect(params(&sshd, &key)).await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-upload.bin");
    random_file(&big, 16 << 20);
    let small = dir.path().join("small-upload.bin");
    random_file(
        &small,
        (provisioners::file::PROGRESS_MIN_BYTES - 1) as usize,
    );
    let remote = scratch(&sshd, "progress");
    run(&comm, &format!("mkdir -p {remote}")).await;
    let upload = |src: &Path| provisioners::file::Config {
        sources: vec![src.to_string_lossy().into_owned()],
        destination: format!("{remote}/"),
        direction: provisioners::file::Direction::Upload,
        generated: false,
        content: None,
    };
    let go = |cfg: provisioners::file::Config, ui: Arc<dyn Ui>| {
        let comm = comm.clone();
        async move {
            provisioners::file::provision(&cfg, &*ui, &comm, &data(), &CancellationToken::new())
                .await
                .unwrap();
        }
    };
    let sizes = format!("stat -c '%n %s' {remote}/*; rm -f {remote}/*");
    let recorded: Arc<dyn Ui> = Arc::new(Recording::new());
    let mut pty = Pty::open();
    assert!(pty.term().is_term());
    let live = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::term(
        pty.term().clone(),
        20,
    ));
    let build_ui: Arc<dyn Ui> = Arc::new(
        BuildUi::new("pb", recorded.clone(), None, false).with_spinners(Some(Arc::new(live))),
    );
    go(upload(&big), build_ui.clone()).await;
    go(upload(&small), build_ui.clone()).await;
    drop(build_ui);
    let drawn = pty.output();
    assert!(
        drawn.contains("pb: big-upload.bin") && drawn.contains("/16.00 MiB"),
        "no progress bar on the terminal: {drawn:?}"
    );
    assert!(
        !drawn.contains("small-upload"),
        "a bar for a file under {} bytes: {drawn:?}",
        provisioners::file::PROGRESS_MIN_BYTES
    );
    assert_eq!(
        run(&comm, &sizes).await.1,
        [
            format!("out: {remote}/big-upload.bin {}", 16 << 20),
            format!("out: {remote}/small-upload.bin {}", (8 << 20) - 1)
        ]
    );

    // A build UI without a live area (plain output, -machine-readable) offers no bar.
    let plain = BuildUi::new("pb", recorded.clone(), None, false);
    assert!(plain.progress(16 << 20, "big-upload.bin").is_none());
    go(upload(&big), Arc::new(plain)).await;
    assert_eq!(
        run(&comm, &sizes).await.1,
        [format!("out: {remote}/big-upload.bin {}", 16 << 20)]
    );
    run(&comm, &format!("rmdir {remote}")).await;
}
