//! Loading, editing and saving the config file.

use std::fs;
use std::path::Path;

use super::*;
use crate::{Region, Secret};

const ANCHOR: &str = r#"# my Mixpanel accounts
default = "prod" # used when no --account is given
telemetry = false

[accounts.prod]
username = "sa.prod"
secret = "prod-secret-0123456789"
project_id = 1234
region = "us"
note = "kept by hand"

[accounts.staging]
username = "sa.staging"
secret = "staging-secret-0123456789"
project_id = "5678"
region = "EU"

[mpd]
store = "/data/lake"
lookback_days = 7
"#;

fn account(name: &str, project_id: u64) -> Account {
    Account {
        name: name.to_owned(),
        username: format!("sa.{name}"),
        secret: Secret::new(format!("{name}-secret-abcdefgh")),
        project_id,
        region: Region::In,
    }
}

fn write_anchor(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    fs::write(&path, ANCHOR).expect("write fixture");
    path
}

#[test]
fn loads_the_anchor_format() {
    let file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    let accounts = file.accounts();
    assert_eq!(accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["prod", "staging"]);
    assert_eq!(accounts[0].project_id, 1234);
    assert_eq!(accounts[0].region, Region::Us);
    assert_eq!(accounts[0].secret.expose(), "prod-secret-0123456789");
    assert_eq!(accounts[1].project_id, 5678, "string project ids are accepted");
    assert_eq!(accounts[1].region, Region::Eu, "regions are case-insensitive");
    assert_eq!(file.default_account(), Some("prod"));
    assert_eq!(file.account("staging").expect("exists").username, "sa.staging");
}

#[test]
fn missing_file_is_empty() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = ConfigFile::load(&tmp.path().join("nope/config.toml")).expect("empty");
    assert!(file.accounts().is_empty());
    assert_eq!(file.default_account(), None);
}

#[test]
fn unreadable_path_is_io_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A directory where the file should be.
    let err = ConfigFile::load(tmp.path()).expect_err("a directory is not a file");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn default_falls_back_to_first_by_name() {
    let text = "[accounts.zeta]\nusername='u'\nsecret='s'\nproject_id=1\nregion='us'\n\
                [accounts.alpha]\nusername='u'\nsecret='s'\nproject_id=2\nregion='us'\n";
    let file = ConfigFile::parse(Path::new("c.toml"), text).expect("valid");
    assert_eq!(file.default_account(), Some("alpha"));
}

#[test]
fn bad_toml_reports_position_without_the_secret() {
    let text = "default = \"prod\"\n[accounts.prod]\nsecret = \"sup3r-s3cret-value\n";
    let err = ConfigFile::parse(Path::new("c.toml"), text).expect_err("unterminated string");
    let Error::Parse { path, message } = &err else { panic!("expected Parse, got {err:?}") };
    assert_eq!(path, Path::new("c.toml"));
    assert!(message.starts_with("line 3, column "), "{message}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("sup3r"), "secret leaked: {shown}");
    }
}

#[test]
fn invalid_account_fields_are_named() {
    let text = "[accounts.prod]\nusername='u'\nsecret='s'\nproject_id='abc'\nregion='us'\n";
    let err = ConfigFile::parse(Path::new("c.toml"), text).expect_err("bad id");
    assert!(
        matches!(&err, Error::InvalidAccount { name, field: "project_id", .. } if name == "prod"),
        "{err:?}"
    );
    let text = "[accounts.prod]\nusername='u'\nsecret='s'\nproject_id=1\nregion='mars'\n";
    let err = ConfigFile::parse(Path::new("c.toml"), text).expect_err("bad region");
    assert!(matches!(&err, Error::InvalidAccount { field: "region", .. }), "{err:?}");
    assert!(err.to_string().contains("us, eu, in"), "{err}");
}

#[test]
fn wrong_shapes_are_parse_errors() {
    for text in ["default = 3", "accounts = 3", "[accounts]\nprod = 3", "mpd = 3"] {
        let err = ConfigFile::parse(Path::new("c.toml"), text).expect_err(text);
        assert!(matches!(err, Error::Parse { .. }), "{text}: {err:?}");
    }
}

#[test]
fn account_not_found_lists_available() {
    let file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    match file.account("dev") {
        Err(Error::AccountNotFound { name, available }) => {
            assert_eq!(name, "dev");
            assert_eq!(available, ["prod", "staging"]);
        }
        other => panic!("expected AccountNotFound, got {other:?}"),
    }
}

#[test]
fn round_trip_keeps_comments_unknown_keys_and_mpd() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = write_anchor(tmp.path());

    let mut file = ConfigFile::load(&path).expect("load");
    file.add_account(account("dev", 42), false).expect("add");
    file.set_default("staging").expect("switch");
    file.remove_account("prod").expect("remove");
    file.save().expect("save");

    let text = fs::read_to_string(&path).expect("read back");
    for kept in [
        "# my Mixpanel accounts",
        "# used when no --account is given",
        "telemetry = false",
        "[mpd]",
        "store = \"/data/lake\"",
        "lookback_days = 7",
        "[accounts.staging]",
        "region = \"EU\"",
        "[accounts.dev]",
    ] {
        assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
    }
    assert!(!text.contains("sa.prod"), "removed account still present:\n{text}");
    assert!(!text.contains("[accounts]\n"), "no empty parent header expected:\n{text}");

    let reloaded = ConfigFile::load(&path).expect("reload");
    assert_eq!(reloaded.default_account(), Some("staging"));
    assert_eq!(reloaded.account("dev").expect("added"), account("dev", 42));
    assert_eq!(reloaded.account_names(), ["dev", "staging"]);
}

#[test]
fn new_accounts_are_written_the_anchor_way() {
    let mut file = ConfigFile::empty(Path::new("c.toml"));
    file.add_account(account("dev", 42), false).expect("add");
    let text = file.doc.to_string();
    assert!(
        text.contains("project_id = \"42\""),
        "the anchor reads project_id as a string:\n{text}"
    );
    assert!(text.contains("region = \"in\""), "{text}");
    assert!(text.starts_with("default = \"dev\"\n"), "{text}");
}

#[test]
fn first_account_becomes_default_and_later_ones_do_not() {
    let mut file = ConfigFile::empty(Path::new("c.toml"));
    file.add_account(account("mid", 1), false).expect("add");
    assert_eq!(file.default_account(), Some("mid"));
    // Sorts first, but must not silently take over.
    file.add_account(account("aaa", 2), false).expect("add");
    assert_eq!(file.default_account(), Some("mid"));
    file.add_account(account("zzz", 3), true).expect("add");
    assert_eq!(file.default_account(), Some("zzz"));
}

#[test]
fn adding_to_a_file_without_default_pins_the_current_one() {
    let text = "[accounts.mid]\nusername='u'\nsecret='s'\nproject_id=1\nregion='us'\n";
    let mut file = ConfigFile::parse(Path::new("c.toml"), text).expect("valid");
    file.add_account(account("aaa", 2), false).expect("add");
    assert_eq!(file.default_account(), Some("mid"));
}

#[test]
fn duplicate_and_invalid_accounts_are_refused() {
    let mut file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    let err = file.add_account(account("prod", 9), false).expect_err("exists");
    assert!(matches!(&err, Error::AccountExists { name } if name == "prod"), "{err:?}");
    let mut empty_secret = account("x", 1);
    empty_secret.secret = Secret::new("");
    let err = file.add_account(empty_secret, false).expect_err("empty secret");
    assert!(matches!(err, Error::InvalidAccount { field: "secret", .. }), "{err:?}");
    assert!(file.account("x").is_err(), "a refused account must not be half-added");
}

#[test]
fn removing_the_default_promotes_the_next_then_clears() {
    let mut file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    file.remove_account("prod").expect("remove");
    assert_eq!(file.default_account(), Some("staging"));
    assert!(
        file.doc.to_string().contains("default = \"staging\" # used when no --account is given")
    );
    file.remove_account("staging").expect("remove");
    assert_eq!(file.default_account(), None);
    assert!(file.doc.get("default").is_none());
    let err = file.remove_account("staging").expect_err("gone");
    assert!(matches!(err, Error::AccountNotFound { .. }), "{err:?}");
}

#[test]
fn removing_a_non_default_keeps_the_default() {
    let mut file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    file.remove_account("staging").expect("remove");
    assert_eq!(file.default_account(), Some("prod"));
}

#[test]
fn set_default_requires_an_existing_account() {
    let mut file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    let err = file.set_default("nope").expect_err("missing");
    assert!(matches!(err, Error::AccountNotFound { .. }), "{err:?}");
    assert_eq!(file.default_account(), Some("prod"));
}

#[test]
fn inline_accounts_table_can_be_edited() {
    let text =
        "accounts = { prod = { username = 'u', secret = 's', project_id = 1, region = 'us' } }\n";
    let mut file = ConfigFile::parse(Path::new("c.toml"), text).expect("valid");
    file.add_account(account("dev", 2), false).expect("add");
    let reparsed =
        ConfigFile::parse(Path::new("c.toml"), &file.doc.to_string()).expect("still valid");
    assert_eq!(reparsed.account_names(), ["dev", "prod"]);
    assert_eq!(reparsed.default_account(), Some("prod"));
}

#[cfg(unix)]
#[test]
fn saved_file_is_private() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join(".mp/config.toml");
    let mut file = ConfigFile::load(&path).expect("empty");
    file.add_account(account("dev", 1), false).expect("add");
    file.save().expect("save");
    let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = fs::metadata(tmp.path().join(".mp")).expect("stat").permissions().mode();
    assert_eq!(dir_mode & 0o077, 0);

    // An existing world-readable file is tightened on the next save.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    ConfigFile::load(&path).expect("load").save().expect("save");
    let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn default_path_prefers_mp_config_path() {
    let env = EnvVars::from_pairs([("MP_CONFIG_PATH", "custom.toml"), ("HOME", "h")]);
    assert_eq!(ConfigFile::default_path(&env).expect("path"), Path::new("custom.toml"));
    let env = EnvVars::from_pairs([("HOME", "h")]);
    assert_eq!(ConfigFile::default_path(&env).expect("path"), Path::new("h/.mp/config.toml"));
    let err = ConfigFile::default_path(&EnvVars::default()).expect_err("no home");
    assert!(matches!(err, Error::NoHome));
}

#[test]
fn debug_hides_secrets() {
    let file = ConfigFile::parse(Path::new("c.toml"), ANCHOR).expect("valid");
    let shown = format!("{file:?} {:?} {:#?}", file.accounts(), file.account("prod"));
    assert!(!shown.contains("secret-0123"), "{shown}");
}
