//! A full disk: `mpd sync` into a store on a small tmpfs runs out of space
//! half-way; the run ends with one `error:` line and exit 1, no panic, and the store is exactly
//! as before: same files (the tables' saved heads, a cache of their logs, aside), same table
//! versions, same rows.
//!
//! The tmpfs is mounted in a private mount namespace (`unshare -rm`), so the test needs no
//! privileges beyond those of an unprivileged user namespace, and leaves nothing mounted.

use std::process::Command;

use mpd_testkit::{MockConfig, MockServer};

/// The store's disk: one day of the mock fits, the next days do not.
const DISK: &str = "4m";

pub(crate) fn sync_into_a_full_disk() -> Result<(), String> {
    let config = MockConfig {
        events_per_day: 5000,
        first_day: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).ok_or("a date")?,
        today: chrono::NaiveDate::from_ymd_opt(2024, 1, 10),
        ..MockConfig::default()
    };
    let mock = MockServer::spawn(config).map_err(|e| format!("mock: {e}"))?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = work.path();
    std::fs::create_dir_all(dir.join("store")).map_err(|e| e.to_string())?;
    let script = format!(
        r#"set -u
mount -t tmpfs -o size={DISK} tmpfs store || exit 90
mpd() {{ "{bin}" "$@" --store store --no-progress; }}
state() {{ find store -type f ! -name write.lock ! -path 'store/_mpd/heads/*' -printf '%P %s\n' | sort > "$1.files"; mpd tables history events -f json --jq '[.[] | {{version, operation}}]' > "$1.history"; mpd query sql 'SELECT count(*) FROM events' --scalar > "$1.rows"; }}
export MPD_TODAY=2024-01-01
mpd sync events --from 2024-01-01 -q > /dev/null 2> first.err; echo $? > first.code
state before
export MPD_TODAY=2024-01-10
mpd sync events --from 2024-01-01 > /dev/null 2> full.err; echo $? > full.code
state after
"#,
        bin = env!("CARGO_BIN_EXE_mpd"),
    );
    std::fs::write(dir.join("run.sh"), script).map_err(|e| e.to_string())?;
    let output = Command::new("unshare")
        .args(["-rm", "sh", "run.sh"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("MP_BASE_URL", mock.base_url())
        .env("MP_USERNAME", "mock-user")
        .env("MP_SECRET", "mock-secret")
        .env("MP_PROJECT_ID", "1234")
        .env("MP_REGION", "us")
        .env("MPD_EXPORT_PER_SECOND", "1000")
        .output()
        .map_err(|e| format!("cannot run unshare (util-linux): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the tmpfs namespace could not be set up (exit {:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    check(read("first.code")?.trim() == "0", || {
        format!("the first sync failed: {}", read("first.err").unwrap_or_default())
    })?;
    let code = read("full.code")?;
    let stderr = read("full.err")?;
    check(code.trim() == "1", || format!("the sync onto a full disk exited {code}: {stderr}"))?;
    check(!stderr.contains("panicked"), || format!("a panic reached the user:\n{stderr}"))?;
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    check(errors.len() == 1 && errors[0].contains("no space left"), || {
        format!("expected one `error:` line naming the full disk:\n{stderr}")
    })?;
    check(stderr.lines().count() == 1, || {
        format!("expected nothing but the error line:\n{stderr}")
    })?;
    insta::assert_snapshot!("disk-full-error", errors[0]);
    for part in ["files", "history", "rows"] {
        let (before, after) = (read(&format!("before.{part}"))?, read(&format!("after.{part}"))?);
        check(!before.trim().is_empty(), || format!("nothing recorded for {part}"))?;
        check(before == after, || {
            format!("the store's {part} changed:\nbefore:\n{before}\nafter:\n{after}")
        })?;
    }
    check(read("before.rows")?.trim() != "0", || "the first sync stored no rows".to_owned())?;
    Ok(())
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}
