//! `whale completions` and `whale man`: generated from the clap tree, the
//! same generators that produce the committed completions/ and man/ files.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::CliError;

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    // Generated into memory: clap_complete panics when its writer fails.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "whale", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(())
}

pub fn man(out: Option<&Path>) -> Result<(), CliError> {
    // As clap_mangen::generate_to does: no `help` subcommand (there is no
    // whale-help(1) page to refer to), and a built command, so the page
    // printed is the whale.1 that --out writes.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match out {
        None => {
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        }
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(CliError::Usage(format!(
                    "--out {} is not a directory; pass a directory (it is created when missing)",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::Runtime(format!("cannot create the directory {}: {e}", dir.display()))
            })?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| {
                CliError::Runtime(format!("cannot write the man pages into {}: {e}", dir.display()))
            })?;
            crate::printer::err(&format!("Wrote whale's man pages into {}.", dir.display()));
        }
    }
    Ok(())
}
