//! The secret must not appear in any `Debug`, `Display` or error output.

use std::collections::BTreeSet;
use std::path::Path;

use crate::*;

const SECRET: &str = "S3CRET-never-shown-0123";

fn config_text() -> String {
    format!(
        "default = \"prod\"\n[accounts.prod]\nusername = \"u\"\nsecret = \"{SECRET}\"\n\
         project_id = 1\nregion = \"us\"\n"
    )
}

fn file() -> ConfigFile {
    ConfigFile::parse(Path::new("c.toml"), &config_text()).expect("valid")
}

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} leaked the secret: {shown}");
}

fn variant(error: &Error) -> &'static str {
    // Exhaustive on purpose: a new variant must be added to `every_error_variant_hides_secrets`.
    match error {
        Error::Io { .. } => "Io",
        Error::Parse { .. } => "Parse",
        Error::InvalidAccount { .. } => "InvalidAccount",
        Error::AccountNotFound { .. } => "AccountNotFound",
        Error::AccountExists { .. } => "AccountExists",
        Error::NoCredentials { .. } => "NoCredentials",
        Error::IncompleteEnv { .. } => "IncompleteEnv",
        Error::InvalidEnv { .. } => "InvalidEnv",
        Error::InvalidSetting { .. } => "InvalidSetting",
        Error::NoHome => "NoHome",
        Error::InvalidRequest(_) => "InvalidRequest",
    }
}

#[test]
fn every_error_variant_hides_secrets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let no_flags = SettingsOverrides::default();
    let secret_env = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = vec![("MP_SECRET", SECRET)];
        pairs.extend_from_slice(extra);
        EnvVars::from_pairs(pairs)
    };
    let mut existing = file();
    let errors = [
        ConfigFile::load(tmp.path()).expect_err("directory"),
        ConfigFile::parse(Path::new("c.toml"), &format!("secret = \"{SECRET}"))
            .expect_err("unterminated"),
        ConfigFile::parse(Path::new("c.toml"), &config_text().replace("\"us\"", "\"mars\""))
            .expect_err("region"),
        ConfigFile::parse(Path::new("c.toml"), &config_text().replace("\"u\"", "42"))
            .expect_err("username"),
        file().account("nope").expect_err("missing"),
        existing
            .add_account(
                Account {
                    name: "prod".into(),
                    username: "u".into(),
                    secret: Secret::new(SECRET),
                    project_id: 1,
                    region: Region::Us,
                },
                false,
            )
            .expect_err("exists"),
        resolve_credentials(&ConfigFile::empty(Path::new("c.toml")), &EnvVars::default(), None)
            .expect_err("nothing"),
        resolve_credentials(&file(), &secret_env(&[]), None).expect_err("partial"),
        resolve_credentials(
            &file(),
            &secret_env(&[("MP_USERNAME", "u"), ("MP_PROJECT_ID", "1"), ("MP_REGION", "mars")]),
            None,
        )
        .expect_err("bad region"),
        load_settings(&file(), &EnvVars::from_pairs([("MPD_LOOKBACK_DAYS", "x")]), &no_flags)
            .expect_err("bad setting"),
        ConfigFile::default_path(&secret_env(&[])).expect_err("no home"),
        crate::Accounts::open(&EnvVars::default(), Some(&tmp.path().join("config.toml")))
            .expect("a missing file is an empty one")
            .add(crate::NewAccount {
                name: "new".into(),
                username: "u".into(),
                secret: Secret::new(SECRET),
                project_id: 1,
                region: "mars".into(),
                make_default: false,
            })
            .expect_err("unknown region"),
    ];
    let mut seen = BTreeSet::new();
    for error in &errors {
        seen.insert(variant(error));
        assert_hidden("Display", &error.to_string());
        assert_hidden("Debug", &format!("{error:?} {error:#?}"));
    }
    assert_eq!(seen.len(), 11, "every variant must be exercised: {seen:?}");
}

#[test]
fn every_type_holding_a_secret_hides_it() {
    let file = file();
    let account = file.account("prod").expect("exists");
    assert_eq!(account.secret.expose(), SECRET, "the fixture must really hold the secret");
    let creds = resolve_credentials(&file, &EnvVars::default(), None).expect("default");
    let env = EnvVars::from_pairs([("MP_SECRET", SECRET)]);
    let shown = [
        format!("{:?} {}", account.secret, account.secret),
        format!("{account:?} {account:#?}"),
        format!("{creds:?} {creds:#?} {}", creds.account_label()),
        format!("{file:?} {file:#?}"),
        format!("{env:?}"),
        format!("{:?}", describe_settings(&file, &env, &SettingsOverrides::default())),
    ];
    for s in shown {
        assert_hidden("formatting", &s);
    }
}
