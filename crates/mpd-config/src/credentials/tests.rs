//! Every resolution path, including a partial environment.

use std::path::Path;

use super::*;

const FILE: &str = r#"
default = "prod"
[accounts.prod]
username = "sa.prod"
secret = "prod-secret-0123456789"
project_id = 1
region = "us"
[accounts.eu]
username = "sa.eu"
secret = "eu-secret-0123456789"
project_id = "2"
region = "eu"
"#;

const FULL_ENV: [(&str, &str); 4] = [
    ("MP_USERNAME", "sa.env"),
    ("MP_SECRET", "env-secret-0123456789"),
    ("MP_PROJECT_ID", "99"),
    ("MP_REGION", "IN"),
];

fn file() -> ConfigFile {
    ConfigFile::parse(Path::new("c.toml"), FILE).expect("valid")
}

#[test]
fn env_wins_when_complete() {
    let creds =
        resolve_credentials(&file(), &EnvVars::from_pairs(FULL_ENV), Some("eu")).expect("env");
    assert_eq!(creds.source, CredentialSource::Env);
    assert_eq!(
        (creds.username.as_str(), creds.project_id, creds.region),
        ("sa.env", 99, Region::In)
    );
    assert_eq!(creds.secret.expose(), "env-secret-0123456789");
    assert!(creds.account_label().starts_with("environment (MP_USERNAME"));
    assert_eq!(creds.account_name(), None);
}

#[test]
fn partial_env_names_the_missing_variables() {
    let env = EnvVars::from_pairs([("MP_USERNAME", "u"), ("MP_REGION", "us"), ("MP_SECRET", "")]);
    match resolve_credentials(&file(), &env, None) {
        Err(Error::IncompleteEnv { missing }) => {
            assert_eq!(missing, ["MP_SECRET", "MP_PROJECT_ID"])
        }
        other => panic!("expected IncompleteEnv, got {other:?}"),
    }
}

#[test]
fn invalid_env_values_name_the_variable() {
    let mut pairs = FULL_ENV.to_vec();
    pairs[3] = ("MP_REGION", "mars");
    let err = resolve_credentials(&file(), &EnvVars::from_pairs(pairs.clone()), None)
        .expect_err("region");
    assert!(matches!(err, Error::InvalidEnv { var: "MP_REGION", .. }), "{err:?}");
    pairs[3] = ("MP_REGION", "us");
    pairs[2] = ("MP_PROJECT_ID", "abc");
    let err = resolve_credentials(&file(), &EnvVars::from_pairs(pairs), None).expect_err("id");
    assert!(matches!(err, Error::InvalidEnv { var: "MP_PROJECT_ID", .. }), "{err:?}");
}

#[test]
fn explicit_account_beats_mp_account() {
    let env = EnvVars::from_pairs([("MP_ACCOUNT", "prod")]);
    let creds = resolve_credentials(&file(), &env, Some("eu")).expect("named");
    assert_eq!(creds.source, CredentialSource::Account("eu".into()));
    assert_eq!((creds.project_id, creds.region), (2, Region::Eu));
    assert_eq!(creds.account_label(), "eu");
}

#[test]
fn mp_account_names_an_account() {
    let env = EnvVars::from_pairs([("MP_ACCOUNT", "eu")]);
    let creds = resolve_credentials(&file(), &env, None).expect("named");
    assert_eq!(creds.source, CredentialSource::Account("eu".into()));
}

#[test]
fn default_account_is_the_fallback() {
    let creds = resolve_credentials(&file(), &EnvVars::default(), None).expect("default");
    assert_eq!(creds.source, CredentialSource::DefaultAccount("prod".into()));
    assert_eq!(creds.account_name(), Some("prod"));
    assert_eq!(creds.username, "sa.prod");
}

#[test]
fn unknown_account_is_not_found() {
    let err = resolve_credentials(&file(), &EnvVars::default(), Some("dev")).expect_err("missing");
    assert!(matches!(&err, Error::AccountNotFound { name, .. } if name == "dev"), "{err:?}");
}

#[test]
fn nothing_configured_says_how_to_add() {
    let empty = ConfigFile::empty(Path::new("home/.mp/config.toml"));
    let err = resolve_credentials(&empty, &EnvVars::default(), None).expect_err("nothing");
    assert!(
        matches!(&err, Error::NoCredentials { path } if path == Path::new("home/.mp/config.toml"))
    );
    let message = err.to_string();
    assert!(message.contains("mpd auth add NAME") && message.contains("MP_USERNAME"), "{message}");
}

#[test]
fn resolved_credentials_never_show_the_secret() {
    for explicit in [None, Some("eu")] {
        let creds = resolve_credentials(&file(), &EnvVars::default(), explicit).expect("ok");
        let shown = format!("{creds:?} {creds:#?} {}", creds.account_label());
        assert!(!shown.contains("secret-0123"), "{shown}");
    }
    let creds = resolve_credentials(&file(), &EnvVars::from_pairs(FULL_ENV), None).expect("env");
    assert!(!format!("{creds:?}").contains("env-secret"));
}
