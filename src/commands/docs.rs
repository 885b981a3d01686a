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
    let cmd = Cli::command();
    match out {
        None => {
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)?;
        }
    }
    Ok(())
}
