//! Which service account a command runs as.

use crate::account::parse_project_id;
use crate::{ConfigFile, EnvVars, Error, Region, Result, Secret};

const ENV_VARS: [&str; 4] = ["MP_USERNAME", "MP_SECRET", "MP_PROJECT_ID", "MP_REGION"];

/// Where resolved credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// The four `MP_*` environment variables.
    Env,
    /// An account named by `--account` or `MP_ACCOUNT`.
    Account(String),
    /// The config file's default account.
    DefaultAccount(String),
}

/// The credentials a command uses, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCredentials {
    /// Where these credentials came from.
    pub source: CredentialSource,
    /// The service-account username.
    pub username: String,
    /// The service-account secret.
    pub secret: Secret,
    /// The Mixpanel project id.
    pub project_id: u64,
    /// The project's data-residency region.
    pub region: Region,
}

impl ResolvedCredentials {
    /// A short description of the source for messages: the account name, or the
    /// environment variables.
    pub fn account_label(&self) -> String {
        match &self.source {
            CredentialSource::Env => {
                "environment (MP_USERNAME, MP_SECRET, MP_PROJECT_ID, MP_REGION)".to_owned()
            }
            CredentialSource::Account(name) | CredentialSource::DefaultAccount(name) => {
                name.clone()
            }
        }
    }

    /// The account name, unless the credentials came from the environment.
    pub fn account_name(&self) -> Option<&str> {
        match &self.source {
            CredentialSource::Env => None,
            CredentialSource::Account(name) | CredentialSource::DefaultAccount(name) => Some(name),
        }
    }
}

/// Resolves credentials (docs/configuration.md): the four `MP_*` variables, else the named account
/// (`explicit`, i.e. `--account`, else `MP_ACCOUNT`), else the default account.
///
/// Some but not all of the four variables set is [`Error::IncompleteEnv`]: the user meant to
/// use the environment, and falling back to an account could target the wrong project.
/// Nothing configured at all is [`Error::NoCredentials`].
pub fn resolve_credentials(
    file: &ConfigFile,
    env: &EnvVars,
    explicit: Option<&str>,
) -> Result<ResolvedCredentials> {
    if let Some(creds) = from_env(env)? {
        if let Some(name) = explicit {
            tracing::warn!(
                account = name,
                "MP_* environment credentials take precedence over --account"
            );
        }
        return Ok(creds);
    }

    let named = explicit.filter(|n| !n.is_empty()).or_else(|| env.get("MP_ACCOUNT"));
    let (name, source) = match named {
        Some(name) => (name, CredentialSource::Account(name.to_owned())),
        None => match file.default_account() {
            Some(name) => (name, CredentialSource::DefaultAccount(name.to_owned())),
            None => return Err(Error::NoCredentials { path: file.path().to_path_buf() }),
        },
    };
    let account = file.account(name)?;
    tracing::debug!(account = name, project_id = account.project_id, "using configured account");
    Ok(ResolvedCredentials {
        source,
        username: account.username,
        secret: account.secret,
        project_id: account.project_id,
        region: account.region,
    })
}

fn from_env(env: &EnvVars) -> Result<Option<ResolvedCredentials>> {
    let [username, secret, project_id, region] = ENV_VARS.map(|var| env.get(var));
    let (Some(username), Some(secret), Some(project_id), Some(region)) =
        (username, secret, project_id, region)
    else {
        let missing: Vec<_> = ENV_VARS.into_iter().filter(|var| env.get(var).is_none()).collect();
        if missing.len() == ENV_VARS.len() {
            return Ok(None);
        }
        return Err(Error::IncompleteEnv { missing });
    };
    let project_id = parse_project_id(project_id)
        .map_err(|message| Error::InvalidEnv { var: "MP_PROJECT_ID", message })?;
    let region = region
        .parse::<Region>()
        .map_err(|e| Error::InvalidEnv { var: "MP_REGION", message: e.to_string() })?;
    tracing::debug!(project_id, "using credentials from the environment");
    Ok(Some(ResolvedCredentials {
        source: CredentialSource::Env,
        username: username.to_owned(),
        secret: Secret::new(secret),
        project_id,
        region,
    }))
}

#[cfg(test)]
mod tests;
