//! Export-shaped events for the benchmarks: one JSON object per line as Mixpanel's raw export
//! sends them (`{"event", "properties": {"time", "distinct_id", "$insert_id", ...}}`), about
//! 360 bytes each, over seven days in random order, with a small share of lines sent twice
//! (Mixpanel's duplicates). Deterministic: the same count gives the same file.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

/// First second of the generated days: 2025-01-01T00:00:00Z.
pub(crate) const START: i64 = 1_735_689_600;
/// Days the events spread over.
pub(crate) const DAYS: i64 = 7;
/// Share of lines repeated right after themselves.
const DUPLICATE_RATE: f64 = 0.0011;
const USERS: u64 = 50_000;

const EVENTS: [&str; 10] = [
    "Page View",
    "Sign Up",
    "Login",
    "Add To Cart",
    "Purchase",
    "Search",
    "Share",
    "Logout",
    "Video Play",
    "Settings Changed",
];
const BROWSERS: [&str; 4] = ["Chrome", "Firefox", "Safari", "Edge"];
const SYSTEMS: [&str; 5] = ["Windows", "Mac OS X", "iOS", "Android", "Linux"];
const CITIES: [(&str, &str); 8] = [
    ("Berlin", "DE"),
    ("London", "GB"),
    ("San Francisco", "US"),
    ("Bangalore", "IN"),
    ("Paris", "FR"),
    ("Tokyo", "JP"),
    ("New York", "US"),
    ("Sao Paulo", "BR"),
];
const WIDTHS: [u32; 5] = [375, 414, 1280, 1440, 1920];
const REFERRERS: [&str; 3] = ["google", "direct", "newsletter"];

/// SplitMix64: small, fast, and good enough to spread benchmark data.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Writes `n` lines to `path`; returns the number of distinct events (lines minus repeats).
pub(crate) fn write(path: &Path, n: u64) -> Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut random = Random(0x6d70_6462_656e_6368);
    let mut line = String::with_capacity(512);
    let mut distinct = 0;
    for i in 0..n {
        if i > 0 && random.unit() < DUPLICATE_RATE {
            out.write_all(line.as_bytes())?;
            continue;
        }
        distinct += 1;
        line.clear();
        event(&mut random, &mut line);
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(distinct)
}

fn event(r: &mut Random, line: &mut String) {
    use std::fmt::Write as _;
    let user = r.below(USERS);
    let (city, country) = *r.pick(&CITIES);
    let time = START + r.below((DAYS * 86_400) as u64) as i64;
    let name = *r.pick(&EVENTS);
    let _ = write!(
        line,
        r#"{{"event":"{name}","properties":{{"time":{time},"distinct_id":"user_{user}","$insert_id":"{:016x}{:016x}","$device_id":"{:016x}","mp_processing_time_ms":{},"$browser":"{}","$os":"{}","$city":"{city}","mp_country_code":"{country}","$screen_width":{},"mp_lib":"web","$lib_version":"2.55.1""#,
        r.next(),
        r.next(),
        user.wrapping_mul(7919),
        time * 1000 + r.below(5000) as i64,
        r.pick(&BROWSERS),
        r.pick(&SYSTEMS),
        r.pick(&WIDTHS),
    );
    if r.unit() < 0.7 {
        let _ = write!(line, r#","$user_id":"user_{user}""#);
    }
    match name {
        "Purchase" => {
            let items: Vec<String> =
                (0..1 + r.below(3)).map(|_| format!(r#""sku_{}""#, r.below(1000))).collect();
            let _ = write!(
                line,
                r#","amount":{:.2},"currency":"USD","items":[{}]"#,
                1.0 + r.unit() * 499.0,
                items.join(",")
            );
        }
        "Search" => {
            let _ =
                write!(line, r#","query":"term {}","results":{}"#, r.below(10_000), r.below(100));
        }
        "Page View" => {
            let _ = write!(
                line,
                r#","path":"/p/{}","referrer":"{}""#,
                r.below(500),
                r.pick(&REFERRERS)
            );
        }
        _ => {}
    }
    line.push_str("}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_export_shaped_json_and_repeat_at_the_duplicate_rate() {
        let dir = std::env::temp_dir().join(format!("mpd-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let distinct = write(&path, 20_000).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        assert!((19_950..20_000).contains(&distinct), "{distinct}");
        let average = text.len() / lines.len();
        assert!((300..420).contains(&average), "{average} bytes a line");
        for line in lines.iter().take(200) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let time = value["properties"]["time"].as_i64().unwrap();
            assert!((START..START + DAYS * 86_400).contains(&time));
            assert_eq!(value["properties"]["$insert_id"].as_str().unwrap().len(), 32);
        }
    }
}
