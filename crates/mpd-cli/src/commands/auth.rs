//! `mpd auth list|add|remove|switch|show|test` and `mpd config show`: what the config file
//! and the environment say.

use std::io::{BufRead, IsTerminal};

use mpd_service::{Accounts, EnvVars, NewAccount, Secret, Workspace};

use crate::cli::{AuthAdd, AuthCommand, Format, GlobalArgs};
use crate::commands::{print_result, status, workspace_options};
use crate::{EXIT_USAGE, Exit};

pub(crate) async fn run(global: &GlobalArgs, command: AuthCommand) -> anyhow::Result<()> {
    let env = EnvVars::from_process();
    match command {
        AuthCommand::List => {
            let accounts = Accounts::open(&env, None)?;
            let list = accounts.list();
            if list.is_empty() {
                status(
                    global,
                    &format!(
                        "no accounts in {}: add one with `mpd auth add NAME -u USERNAME -p PROJECT_ID`",
                        accounts.path().display()
                    ),
                );
            }
            print_result(global, Format::Table, &list)
        }
        AuthCommand::Add(args) => {
            let mut accounts = Accounts::open(&env, None)?;
            let secret = read_secret(&args)?;
            let view = accounts.add(NewAccount {
                name: args.name,
                username: args.username,
                secret,
                project_id: args.project_id,
                region: args.region,
                make_default: args.default,
            })?;
            status(
                global,
                &format!("added account {} to {}", view.name, accounts.path().display()),
            );
            print_result(global, Format::Table, &view)
        }
        AuthCommand::Remove { name } => {
            let mut accounts = Accounts::open(&env, None)?;
            accounts.remove(&name)?;
            status(global, &format!("removed account {name}"));
            Ok(())
        }
        AuthCommand::Switch { name } => {
            let mut accounts = Accounts::open(&env, None)?;
            let view = accounts.switch(&name)?;
            status(global, &format!("{} is now the default account", view.name));
            Ok(())
        }
        AuthCommand::Show { name } => {
            let accounts = Accounts::open(&env, None)?;
            let name = name
                .or_else(|| global.account.clone())
                .or_else(|| env.get("MP_ACCOUNT").map(str::to_owned));
            print_result(global, Format::Table, &accounts.show(name.as_deref())?)
        }
        AuthCommand::Test { name } => {
            let mut options = workspace_options(global);
            if name.is_some() {
                options.account = name;
            }
            let workspace = Workspace::open(options)?;
            let check = workspace.check_auth().await?;
            status(
                global,
                &format!(
                    "{} works: project {} ({})",
                    check.account, check.project_id, check.region
                ),
            );
            print_result(global, Format::Table, &check)
        }
    }
}

/// The secret comes from stdin (flag, or stdin is not a terminal) or a hidden prompt: never from
/// an argument, which would land in shell history.
fn read_secret(args: &AuthAdd) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let text = if args.secret_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line
    } else {
        rpassword::prompt_password(format!("secret for {}: ", args.username))?
    };
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    if text.is_empty() {
        return Err(Exit {
            code: EXIT_USAGE,
            message: "no secret given: type it at the prompt or pipe it on stdin".to_owned(),
        }
        .into());
    }
    Ok(Secret::new(text))
}

/// `mpd config show`: every setting, its value and where it came from.
pub(crate) fn config_show(global: &GlobalArgs) -> anyhow::Result<()> {
    let env = EnvVars::from_process();
    let accounts = Accounts::open(&env, None)?;
    let overrides = workspace_options(global).overrides;
    print_result(global, Format::Table, &accounts.settings(&env, &overrides)?)
}
