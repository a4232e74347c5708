//! Layer precedence, reported sources and validation.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::Error;

fn file(mpd: &str) -> ConfigFile {
    let text = format!(
        "default = \"prod\"\n[accounts.prod]\nusername = \"u\"\nsecret = \"file-secret-0123456789\"\n\
         project_id = 1\nregion = \"us\"\n[mpd]\n{mpd}"
    );
    ConfigFile::parse(Path::new("cfg/config.toml"), &text).expect("valid")
}

fn no_env() -> EnvVars {
    EnvVars::default()
}

fn source_of(rows: &[(String, String, String)], key: &str) -> (String, String) {
    let row = rows.iter().find(|(k, _, _)| k == key).expect("every key is described");
    (row.1.clone(), row.2.clone())
}

fn invalid_setting(result: Result<Settings>) -> (String, String) {
    match result {
        Err(Error::InvalidSetting { key, message }) => (key, message),
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn defaults_without_file_or_env() {
    let empty = ConfigFile::empty(Path::new("c.toml"));
    let settings = load_settings(&empty, &no_env(), &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings, Settings::default());
    assert_eq!(settings.lookback_days, 5);
    assert_eq!(settings.dedup_key, DedupKey::InsertIdTime);
    assert_eq!(
        (settings.export_per_hour, settings.export_per_second, settings.export_concurrent),
        (60, 3, 100)
    );
    assert_eq!((settings.query_per_hour, settings.query_concurrent), (60, 5));
    assert_eq!(settings.retry_max_attempts, 6);
    assert_eq!((settings.retry_base_delay_seconds, settings.retry_max_delay_seconds), (1.0, 60.0));
    assert_eq!(
        (settings.export_first_byte_timeout_seconds, settings.idle_read_timeout_seconds),
        (600, 300)
    );
}

#[test]
fn precedence_default_file_env_flag() {
    let file = file(
        "lookback_days = 7\nquery_concurrent = 2\nexport_per_hour = 30\ndedup_key = \"mixpanel\"\n",
    );
    let env = EnvVars::from_pairs([("MPD_QUERY_CONCURRENT", "3"), ("MPD_EXPORT_PER_HOUR", "40")]);
    let flags = SettingsOverrides { export_per_hour: Some(50), ..SettingsOverrides::default() };

    let settings = load_settings(&file, &env, &flags).expect("ok");
    assert_eq!(settings.export_per_second, 3, "default");
    assert_eq!(settings.lookback_days, 7, "file over default");
    assert_eq!(settings.dedup_key, DedupKey::Mixpanel, "file over default");
    assert_eq!(settings.query_concurrent, 3, "env over file");
    assert_eq!(settings.export_per_hour, 50, "flag over env");

    let rows = describe_settings(&file, &env, &flags).expect("ok");
    assert_eq!(source_of(&rows, "export_per_second"), ("3".into(), "default".into()));
    assert_eq!(source_of(&rows, "lookback_days"), ("7".into(), "file".into()));
    assert_eq!(source_of(&rows, "dedup_key"), ("mixpanel".into(), "file".into()));
    assert_eq!(
        source_of(&rows, "query_concurrent"),
        ("3".into(), "env MPD_QUERY_CONCURRENT".into())
    );
    assert_eq!(source_of(&rows, "export_per_hour"), ("50".into(), "flag".into()));
    assert_eq!(source_of(&rows, "store"), ("(unset)".into(), "default".into()));
    assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), SETTING_KEYS);
}

#[test]
fn unset_flags_leave_lower_layers_alone() {
    let file = file("store = \"/data/lake\"\n");
    let env = EnvVars::from_pairs([("MPD_PROJECT_TIMEZONE", "America/Los_Angeles")]);
    let settings = load_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.store.as_deref(), Some(Path::new("/data/lake")));
    assert_eq!(settings.project_timezone.as_deref(), Some("America/Los_Angeles"));
    let flags =
        SettingsOverrides { store: Some("/flag/lake".into()), ..SettingsOverrides::default() };
    let settings = load_settings(&file, &env, &flags).expect("ok");
    assert_eq!(settings.store.as_deref(), Some(Path::new("/flag/lake")));
}

#[test]
fn base_urls_from_env_override_the_file() {
    let file =
        file("base_url = \"http://file.example\"\nexport_url = \"http://file-export.example\"\n");
    let env = EnvVars::from_pairs([
        ("MP_BASE_URL", "http://127.0.0.1:9000"),
        ("MP_QUERY_URL", "https://query.example"),
    ]);
    let settings = load_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.base_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(settings.export_url.as_deref(), Some("http://file-export.example"));
    assert_eq!(settings.query_url.as_deref(), Some("https://query.example"));

    let rows = describe_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(source_of(&rows, "base_url").1, "env MP_BASE_URL");
    assert_eq!(source_of(&rows, "export_url").1, "file");
    assert_eq!(source_of(&rows, "query_url").1, "env MP_QUERY_URL");
}

#[test]
fn mp_url_vars_beat_mpd_ones() {
    let env = EnvVars::from_pairs([
        ("MPD_BASE_URL", "http://mpd.example"),
        ("MP_BASE_URL", "http://mp.example"),
    ]);
    let settings = load_settings(&file(""), &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.base_url.as_deref(), Some("http://mp.example"));
}

#[test]
fn wrong_type_in_env_names_key_and_variable() {
    let env = EnvVars::from_pairs([("MPD_LOOKBACK_DAYS", "abc")]);
    let (key, message) =
        invalid_setting(load_settings(&file(""), &env, &SettingsOverrides::default()));
    assert_eq!(key, "lookback_days");
    assert!(message.contains("env MPD_LOOKBACK_DAYS"), "{message}");
}

#[test]
fn wrong_type_in_file_names_key_and_path() {
    let (key, message) = invalid_setting(load_settings(
        &file("lookback_days = \"five\"\n"),
        &no_env(),
        &SettingsOverrides::default(),
    ));
    assert_eq!(key, "lookback_days");
    assert!(message.contains("file cfg/config.toml"), "{message}");
    let (key, _) = invalid_setting(load_settings(
        &file("dedup_key = \"fuzzy\"\n"),
        &no_env(),
        &SettingsOverrides::default(),
    ));
    assert_eq!(key, "dedup_key");
}

#[test]
fn invalid_values_name_the_key() {
    let cases = [
        ("export_concurrent = 0\n", "export_concurrent"),
        ("retry_max_attempts = 0\n", "retry_max_attempts"),
        (
            "retry_base_delay_seconds = 5\nretry_max_delay_seconds = 0.5\n",
            "retry_base_delay_seconds",
        ),
        ("retry_max_delay_seconds = -1\n", "retry_max_delay_seconds"),
        ("project_timezone = \"Los Angeles\"\n", "project_timezone"),
        ("project_timezone = \"\"\n", "project_timezone"),
        ("store = \"\"\n", "store"),
        ("base_url = \"ftp://x.example\"\n", "base_url"),
        ("export_url = \"not a url\"\n", "export_url"),
        ("query_url = \"http://\"\n", "query_url"),
        ("today = \"yesterday\"\n", "today"),
        ("today = \"2024-13-01\"\n", "today"),
        ("typed_properties = [\"$browser\"]\n", "typed_properties"),
        ("typed_properties = [\"amount:int\"]\n", "typed_properties"),
        ("typed_properties = [\":text\"]\n", "typed_properties"),
        ("typed_properties = [\"$os:text\", \"$os:float\"]\n", "typed_properties"),
    ];
    for (mpd, want) in cases {
        let (key, message) =
            invalid_setting(load_settings(&file(mpd), &no_env(), &SettingsOverrides::default()));
        assert_eq!(key, want, "{mpd}");
        assert!(message.contains("from file"), "{mpd}: {message}");
    }
}

#[test]
fn invalid_flag_value_names_the_flag_layer() {
    let flags = SettingsOverrides { query_concurrent: Some(0), ..SettingsOverrides::default() };
    let (key, message) = invalid_setting(load_settings(&file(""), &no_env(), &flags));
    assert_eq!(key, "query_concurrent");
    assert!(message.contains("from flag"), "{message}");
}

#[test]
fn bad_url_error_does_not_echo_credentials() {
    let env = EnvVars::from_pairs([("MP_BASE_URL", "gopher://user:hunter2@proxy.example")]);
    let err =
        load_settings(&file(""), &env, &SettingsOverrides::default()).expect_err("bad scheme");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[test]
fn describe_masks_url_passwords() {
    let env = EnvVars::from_pairs([("MP_BASE_URL", "https://user:hunter2@proxy.example/")]);
    let rows = describe_settings(&file(""), &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(source_of(&rows, "base_url").0, "https://user:***@proxy.example/");
    assert!(!format!("{rows:?}").contains("secret-0123"), "account secrets must never appear");
}

#[test]
fn unrelated_env_and_unknown_file_keys_are_ignored() {
    let env = EnvVars::from_pairs([("MPD_LOG", "debug"), ("MPD_E2E_FULL", "1")]);
    let settings =
        load_settings(&file("future_knob = true\n"), &env, &SettingsOverrides::default())
            .expect("ok");
    assert_eq!(settings, Settings::default());
}

#[test]
fn setting_keys_match_the_struct() {
    let Ok(figment::value::Value::Dict(_, dict)) =
        figment::value::Value::serialize(Settings::default())
    else {
        panic!("settings serialize to a dict");
    };
    let serialized: BTreeSet<_> = dict.keys().map(String::as_str).collect();
    assert_eq!(serialized, SETTING_KEYS.iter().copied().collect::<BTreeSet<_>>());
    let entries: Vec<_> = Settings::default().entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(entries, SETTING_KEYS);
}

#[test]
fn overrides_round_trip_through_serde() {
    let flags = SettingsOverrides {
        lookback_days: Some(2),
        dedup_key: Some(DedupKey::Mixpanel),
        ..Default::default()
    };
    let Ok(figment::value::Value::Dict(_, dict)) = figment::value::Value::serialize(&flags) else {
        panic!("overrides serialize to a dict");
    };
    assert_eq!(dict.keys().map(String::as_str).collect::<Vec<_>>(), ["dedup_key", "lookback_days"]);
}

#[test]
fn today_is_read_from_the_environment() {
    let env = EnvVars::from_pairs([("MPD_TODAY", "2024-03-10")]);
    let settings = load_settings(&file(""), &env, &SettingsOverrides::default()).unwrap();
    assert_eq!(settings.today.as_deref(), Some("2024-03-10"));
}

#[test]
fn renamed_keys_are_still_read_in_their_old_units() {
    let file = file("retry_base_delay_ms = 250\nexport_first_byte_timeout_secs = 90\n");
    let env = EnvVars::from_pairs([
        ("MPD_RETRY_MAX_DELAY_MS", "1500"),
        ("MPD_IDLE_READ_TIMEOUT_SECS", "30"),
    ]);
    let settings = load_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.retry_base_delay_seconds, 0.25);
    assert_eq!(settings.retry_max_delay_seconds, 1.5);
    assert_eq!(settings.export_first_byte_timeout_seconds, 90);
    assert_eq!(settings.idle_read_timeout_seconds, 30);
    let rows = describe_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(
        source_of(&rows, "retry_max_delay_seconds"),
        ("1.5".into(), "env MPD_RETRY_MAX_DELAY_MS".into())
    );
    assert_eq!(source_of(&rows, "retry_base_delay_seconds"), ("0.25".into(), "file".into()));
}

#[test]
fn a_new_key_wins_over_its_old_name() {
    let file = file("retry_base_delay_ms = 250\nretry_base_delay_seconds = 2\n");
    let env = EnvVars::from_pairs([
        ("MPD_IDLE_READ_TIMEOUT_SECS", "30"),
        ("MPD_IDLE_READ_TIMEOUT_SECONDS", "45"),
    ]);
    let settings = load_settings(&file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.retry_base_delay_seconds, 2.0);
    assert_eq!(settings.idle_read_timeout_seconds, 45);
}

#[test]
fn an_old_key_with_a_bad_value_names_where_it_came_from() {
    let env = EnvVars::from_pairs([("MPD_RETRY_BASE_DELAY_MS", "soon")]);
    let (key, message) =
        invalid_setting(load_settings(&file(""), &env, &SettingsOverrides::default()));
    assert_eq!(key, "retry_base_delay_seconds");
    assert!(message.contains("env MPD_RETRY_BASE_DELAY_MS"), "{message}");
}

#[test]
fn typed_properties_from_file_and_env_and_their_messages() {
    let empty = ConfigFile::empty(Path::new("c.toml"));
    let defaults = load_settings(&empty, &no_env(), &SettingsOverrides::default()).expect("ok");
    assert_eq!(defaults.typed_properties, DEFAULT_TYPED_PROPERTIES.map(str::to_owned).to_vec());

    let from_file = file("typed_properties = [\"$browser:text\", \"price:float\"]\n");
    let settings = load_settings(&from_file, &no_env(), &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.typed_properties, vec!["$browser:text", "price:float"]);

    let env = EnvVars::from_pairs([("MPD_TYPED_PROPERTIES", "a:b:text, amount:float")]);
    let settings = load_settings(&from_file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.typed_properties, vec!["a:b:text", "amount:float"], "comma-separated");
    let env = EnvVars::from_pairs([("MPD_TYPED_PROPERTIES", "none")]);
    let settings = load_settings(&from_file, &env, &SettingsOverrides::default()).expect("ok");
    assert!(settings.typed_properties.is_empty(), "`none` turns them off");

    let none = file("typed_properties = []\n");
    let settings = load_settings(&none, &no_env(), &SettingsOverrides::default()).expect("ok");
    assert!(settings.typed_properties.is_empty());
    let shown = settings.entries().into_iter().find(|(k, _)| *k == "typed_properties");
    assert_eq!(shown.map(|(_, v)| v).as_deref(), Some("(none)"));

    let (_, message) = invalid_setting(load_settings(
        &file("typed_properties = [\"amount:int\"]\n"),
        &no_env(),
        &SettingsOverrides::default(),
    ));
    assert!(message.contains("'amount:int': expected key:kind, kind text or float"), "{message}");
    let (_, message) = invalid_setting(load_settings(
        &file("typed_properties = [\"$os:text\", \"$os:float\"]\n"),
        &no_env(),
        &SettingsOverrides::default(),
    ));
    assert!(message.contains("'$os' is listed twice"), "{message}");
}

#[test]
fn storage_options_come_from_the_file_or_a_variable_and_hide_secrets() {
    let from_file =
        file("[mpd.storage]\naws_region = \"eu-west-1\"\naws_secret_access_key = \"s3cr3t\"\n");
    let settings = load_settings(&from_file, &no_env(), &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.storage.get("aws_region").map(String::as_str), Some("eu-west-1"));
    let shown = settings.entries().into_iter().find(|(k, _)| *k == "storage").map(|(_, v)| v);
    assert_eq!(shown.as_deref(), Some("aws_region=eu-west-1, aws_secret_access_key=***"));

    let env = EnvVars::from_pairs([(
        "MPD_STORAGE",
        "aws_endpoint=http://127.0.0.1:9000, aws_allow_http=true",
    )]);
    let settings = load_settings(&from_file, &env, &SettingsOverrides::default()).expect("ok");
    assert_eq!(settings.storage.get("aws_allow_http").map(String::as_str), Some("true"));
    let region = settings.storage.get("aws_region").map(String::as_str);
    assert_eq!(region, Some("eu-west-1"), "the variable's keys join the file's");
    assert!(is_secret_option("azure_storage_account_key"));
    assert!(
        !is_secret_option("aws_access_key_id") && !is_secret_option("azure_storage_account_name")
    );
}
