//! Range and shape checks that serde's types cannot express.

use super::Settings;

/// The first invalid setting as `(key, message)`.
pub(super) fn check(s: &Settings) -> Result<(), (&'static str, String)> {
    let positive = [
        ("export_per_hour", u64::from(s.export_per_hour)),
        ("export_per_second", u64::from(s.export_per_second)),
        ("export_concurrent", u64::from(s.export_concurrent)),
        ("query_per_hour", u64::from(s.query_per_hour)),
        ("query_concurrent", u64::from(s.query_concurrent)),
        ("retry_max_attempts", u64::from(s.retry_max_attempts)),
        ("export_first_byte_timeout_seconds", s.export_first_byte_timeout_seconds),
        ("idle_read_timeout_seconds", s.idle_read_timeout_seconds),
        ("sync_commit_rows", s.sync_commit_rows),
    ];
    for (key, value) in positive {
        if value == 0 {
            // A zero budget or timeout would stall every request rather than fail.
            return Err((key, "must be at least 1".to_owned()));
        }
    }
    for (key, value) in [
        ("retry_base_delay_seconds", s.retry_base_delay_seconds),
        ("retry_max_delay_seconds", s.retry_max_delay_seconds),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err((key, "must be a number of seconds, at least 0".to_owned()));
        }
    }
    if s.retry_base_delay_seconds > s.retry_max_delay_seconds {
        return Err((
            "retry_base_delay_seconds",
            format!("must not exceed retry_max_delay_seconds ({})", s.retry_max_delay_seconds),
        ));
    }
    if s.store.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        return Err(("store", "must not be empty".to_owned()));
    }
    let bad_tz = |tz: &String| tz.is_empty() || tz.contains(char::is_whitespace);
    if s.project_timezone.as_ref().is_some_and(bad_tz) {
        return Err((
            "project_timezone",
            "expected an IANA time zone name like America/Los_Angeles".to_owned(),
        ));
    }
    if let Some(today) = &s.today
        && !is_iso_date(today)
    {
        return Err(("today", format!("'{today}' is not a date; expected YYYY-MM-DD")));
    }
    for (key, value) in
        [("base_url", &s.base_url), ("export_url", &s.export_url), ("query_url", &s.query_url)]
    {
        if let Some(value) = value {
            check_url(value).map_err(|message| (key, message))?;
        }
    }
    for (i, entry) in s.typed_properties.iter().enumerate() {
        let key = typed_property_key(entry).map_err(|m| ("typed_properties", m))?;
        if s.typed_properties[..i].iter().any(|e| typed_property_key(e) == Ok(key)) {
            return Err(("typed_properties", format!("'{key}' is listed twice")));
        }
    }
    Ok(())
}

/// The key of a `key:kind` entry of `typed_properties`, checked.
fn typed_property_key(entry: &str) -> Result<&str, String> {
    let expected = "expected key:kind, kind text or float (e.g. $browser:text, amount:float)";
    match entry.rsplit_once(':') {
        Some((key, "text" | "float")) if !key.is_empty() => Ok(key),
        _ => Err(format!("'{entry}': {expected}")),
    }
}

/// `YYYY-MM-DD` with a plausible month and day (the calendar itself is checked where the date
/// is used).
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let number = |part: &str, len: usize, max: u32| {
        part.len() == len
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
    };
    matches!(parts.as_slice(), [y, m, d] if number(y, 4, 9999) && number(m, 2, 12) && number(d, 2, 31))
}

/// The URL is not echoed: it may carry proxy credentials.
fn check_url(value: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected an http(s) URL like https://proxy.example.com";
    let url = url::Url::parse(value).map_err(|e| format!("{e}; {EXPECTED}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("unsupported scheme '{}'; {EXPECTED}", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("missing host; {EXPECTED}"));
    }
    Ok(())
}

/// `https://user:***@host/`; anything unparsable is shown as is (it never validated).
pub(super) fn mask_url_password(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => match url.set_password(Some("***")) {
            Ok(()) => url.to_string(),
            Err(()) => "***".to_owned(),
        },
        _ => value.to_owned(),
    }
}
