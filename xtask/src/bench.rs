//! `cargo xtask bench stream`: end-to-end streaming throughput of the release `mpd` binary
//! against the mock Mixpanel over loopback, with the peak RSS of the `mpd` process.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{Runner, cargo, take_value};

#[allow(clippy::print_stdout, reason = "xtask talks to the developer")]
pub(crate) fn run(runner: &Runner, args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("incremental") {
        return crate::incremental::run(runner, &args[1..]);
    }
    let mut args = args.to_vec();
    let events_per_day: u64 =
        take_value(&mut args, "--events-per-day").map_or(Ok(100_000), |v| v.parse())?;
    let days: u64 = take_value(&mut args, "--days").map_or(Ok(7), |v| v.parse())?;
    let workers: u64 = take_value(&mut args, "--workers").map_or(Ok(4), |v| v.parse())?;
    if args.first().map(String::as_str) == Some("ingest") {
        return crate::ingest::run(runner, &args[1..]);
    }
    if args.first().map(String::as_str) == Some("sql") {
        return crate::sql_bench::run(runner, &args[1..]);
    }
    if args.first().map(String::as_str) == Some("python") {
        return crate::python_bench::run(runner, &args[1..]);
    }
    if !(1..=28).contains(&days) {
        bail!("--days must be between 1 and 28 (the benchmark streams days of February 2024)");
    }
    match args.first().map(String::as_str) {
        Some("stream") => {}
        other => bail!(
            "unknown benchmark {other:?}: available: stream, ingest, sql, python, incremental"
        ),
    }
    runner.run(cargo().args(["build", "--release", "-p", "mpd-cli", "-p", "mpd-testkit"]))?;
    if runner.explain() {
        return Ok(());
    }
    let target = crate::target_dir();
    let bin = target.join("release");
    let mock = Mock::spawn(&bin, &["--events-per-day", &events_per_day.to_string()])?;
    let rows = measure(&bin, &mock.url, days, workers)?;
    drop(mock);
    println!(
        "\nstream: {days} days x {events_per_day} events/day, --workers {workers}, release build, loopback"
    );
    println!("| mode | events | seconds | events/s | MB/s (stdout) | peak RSS MB |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.1} | {:.1} |",
            row.mode,
            row.lines,
            row.seconds,
            row.lines as f64 / row.seconds,
            row.bytes as f64 / row.seconds / 1e6,
            row.peak_rss_kb as f64 / 1024.0
        );
    }
    Ok(())
}

struct Measurement {
    mode: &'static str,
    lines: u64,
    bytes: u64,
    seconds: f64,
    peak_rss_kb: i64,
}

fn measure(bin: &Path, url: &str, days: u64, workers: u64) -> Result<Vec<Measurement>> {
    let home = std::env::temp_dir().join(format!("mpd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let range = ("2024-02-01".to_owned(), format!("2024-02-{days:02}"));
    // The first run warms the mock's day cache; it is not reported.
    run_once(bin, url, &home, &range, workers, true)?;
    let mut rows = Vec::new();
    for (mode, raw) in [("raw", true), ("normalized", false)] {
        let mut m = run_once(bin, url, &home, &range, workers, raw)?;
        m.mode = mode;
        rows.push(m);
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(rows)
}

fn run_once(
    bin: &Path,
    url: &str,
    home: &Path,
    range: &(String, String),
    workers: u64,
    raw: bool,
) -> Result<Measurement> {
    let mut command = Command::new(bin.join("mpd"));
    command
        .args(["fetch", "events", "--stdout", "--quiet", "--from", &range.0, "--to", &range.1])
        .args(["--workers", &workers.to_string()])
        .env_clear()
        .env("HOME", home)
        .env("MP_USERNAME", "mock-user")
        .env("MP_SECRET", "mock-secret")
        .env("MP_PROJECT_ID", "1234")
        .env("MP_REGION", "us")
        .env("MP_BASE_URL", url)
        .env("MPD_EXPORT_PER_SECOND", "100")
        .stdout(Stdio::piped());
    if raw {
        command.arg("--raw");
    }
    let started = Instant::now();
    let mut child = command.spawn().context("cannot start mpd")?;
    let mut stdout = child.stdout.take().context("mpd stdout")?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = stdout.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    let (exit_code, peak_rss_kb) = wait_with_peak_rss(&child)?;
    let seconds = started.elapsed().as_secs_f64();
    if exit_code != 0 {
        bail!("mpd failed with exit code {exit_code}");
    }
    Ok(Measurement { mode: "", lines, bytes, seconds, peak_rss_kb })
}

/// `mpd-mock` of the release folder `bin` on a free loopback port; stopped when dropped.
pub(crate) struct Mock {
    child: Child,
    /// Where it listens.
    pub(crate) url: String,
}

impl Mock {
    /// Starts the mock with `args` after `--port 0`, once it says where it listens.
    pub(crate) fn spawn<S: AsRef<OsStr>>(bin: &Path, args: &[S]) -> Result<Self> {
        let child = Command::new(bin.join("mpd-mock"))
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start mpd-mock")?;
        // Owned first, so that a mock that never says where it listens is stopped too.
        let mut mock = Self { child, url: String::new() };
        mock.url = mock_url(&mut mock.child)?;
        Ok(mock)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the `listening on URL` line a freshly started `mpd-mock` prints once it is ready.
fn mock_url(mock: &mut Child) -> Result<String> {
    let stdout = mock.stdout.take().context("mock stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    match first.trim().strip_prefix("listening on ") {
        Some(url) => Ok(url.to_owned()),
        None => bail!("unexpected mock banner {first:?}"),
    }
}

/// What a finished process cost: wall time since `started`, CPU time and peak RSS, from `wait4`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) wall: f64,
    pub(crate) user: f64,
    pub(crate) system: f64,
    pub(crate) peak_rss_kb: i64,
}

/// `--events N` (default 1M) and `--repeat N` (default 5), the only arguments of `bench TASK`.
pub(crate) fn events_and_repeat(args: &[String], task: &str) -> Result<(u64, u32)> {
    let mut args = args.to_vec();
    let events: u64 = take_value(&mut args, "--events").map_or(Ok(1_000_000), |v| v.parse())?;
    let repeat: u32 = take_value(&mut args, "--repeat").map_or(Ok(5), |v| v.parse())?;
    if let Some(extra) = args.first() {
        bail!("unknown argument {extra:?}: bench {task} takes --events N, --repeat N");
    }
    Ok((events, repeat))
}

/// Reads `child`'s stdout to the end, waits for it, and returns its exit code, its usage and
/// what it printed.
pub(crate) fn wait_with_usage(mut child: Child, started: Instant) -> Result<(i32, Usage, String)> {
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    let (code, usage) = wait4(&child)?;
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let usage = Usage {
        wall: started.elapsed().as_secs_f64(),
        user: seconds(usage.ru_utime),
        system: seconds(usage.ru_stime),
        peak_rss_kb: usage.ru_maxrss,
    };
    Ok((code, usage, stdout))
}

/// Waits for `child` and returns its exit code and its own peak RSS (KiB), from `wait4`.
pub(crate) fn wait_with_peak_rss(child: &Child) -> Result<(i32, i64)> {
    let (code, usage) = wait4(child)?;
    Ok((code, usage.ru_maxrss))
}

fn wait4(child: &Child) -> Result<(i32, libc::rusage)> {
    let mut usage = zeroed_rusage();
    let mut status: libc::c_int = 0;
    let pid = libc::pid_t::try_from(child.id())?;
    #[allow(unsafe_code, reason = "wait4 has no safe std wrapper")]
    // SAFETY: `status` and `usage` are valid, writable, and outlive the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage))
}

fn zeroed_rusage() -> libc::rusage {
    libc::rusage {
        ru_utime: libc::timeval { tv_sec: 0, tv_usec: 0 },
        ru_stime: libc::timeval { tv_sec: 0, tv_usec: 0 },
        ru_maxrss: 0,
        ru_ixrss: 0,
        ru_idrss: 0,
        ru_isrss: 0,
        ru_minflt: 0,
        ru_majflt: 0,
        ru_nswap: 0,
        ru_inblock: 0,
        ru_oublock: 0,
        ru_msgsnd: 0,
        ru_msgrcv: 0,
        ru_nsignals: 0,
        ru_nvcsw: 0,
        ru_nivcsw: 0,
    }
}
