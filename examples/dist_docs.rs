//! Writes what a release ships next to the binary, generated from rpack's clap definitions
//! (`rpack::cli::manual::command`): shell completions for bash, zsh and fish, and man pages
//! (`rpack.1` and one `rpack-COMMAND.1` per command). Run by `scripts/release.sh`:
//!
//!     cargo run --example dist_docs -- OUT_DIR
//!
//! Layout: OUT_DIR/completions/{rpack.bash,_rpack,rpack.fish}, OUT_DIR/man/man1/*.1.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| {
        eprintln!("usage: dist_docs OUT_DIR");
        std::process::exit(2)
    }));
    let cmd = rpack::cli::manual::command();

    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cmd.clone(), "rpack", &completions)?;
        println!("{}", path.display());
    }

    let man = out.join("man/man1");
    std::fs::create_dir_all(&man)?;
    write_man(&cmd, "rpack", &man)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // Names here are 'static (clap without its `string` feature); a few bytes, once.
        let name: &'static str = format!("rpack-{}", sub.get_name()).leak();
        write_man(&sub.clone().name(name).bin_name(name), name, &man)?;
    }
    Ok(())
}

fn write_man(cmd: &clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .section("1")
        .source(format!("rpack {}", env!("CARGO_PKG_VERSION")))
        .manual("rpack Manual")
        .render(&mut buf)?;
    std::fs::write(&path, buf)?;
    println!("{}", path.display());
    Ok(())
}
