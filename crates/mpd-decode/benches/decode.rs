//! Throughput of `EventStreamDecoder` on raw-export-shaped lines (the bar: decoding alone
//! at ≥ 1M lines/s per core, docs/PERFORMANCE.md), in lines/s and bytes/s; and of the same
//! decoder over `DatedEventBatchBuilder`, the one `mpd import export` runs (a batch per date).
//!
//! The input imitates the benchmark generator's lines (`xtask/src/gen_events.rs`) (about 440 bytes a line), generated
//! in-process from a fixed seed so every run measures the same bytes.

use std::fmt::Write as _;
use std::hint::black_box;

use arrow_array::RecordBatch;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mpd_decode::{
    DatedEventBatchBuilder, EventStreamDecoder, LineBatchBuilder, LineFormat, StreamDecoder,
    TimeCorrection, TypedProperties,
};

const LINES: usize = 100_000;
const BATCH_ROWS: usize = 8192;

/// SplitMix64: small, fixed, good enough to vary the fields.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn generate(n: usize) -> Vec<u8> {
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
    const OSES: [&str; 5] = ["Windows", "Mac OS X", "iOS", "Android", "Linux"];
    const CITIES: [&str; 8] = [
        "Berlin",
        "London",
        "San Francisco",
        "Bangalore",
        "Paris",
        "Tokyo",
        "New York",
        "Sao Paulo",
    ];
    const COUNTRIES: [&str; 8] = ["DE", "GB", "US", "IN", "FR", "JP", "US", "BR"];
    const WIDTHS: [&str; 5] = ["375", "414", "1280", "1440", "1920"];

    let mut rng = Rng(1);
    let mut out = String::with_capacity(n * 460);
    for _ in 0..n {
        let user = rng.below(50_000);
        let city = rng.below(8) as usize;
        let time = 1_735_689_600 + rng.below(7 * 86_400);
        let event = rng.pick(&EVENTS);
        let _ = write!(
            out,
            r#"{{"event":"{event}","properties":{{"time":{time},"distinct_id":"user_{user}","$insert_id":"{:016x}{:016x}","$device_id":"{:016x}","mp_processing_time_ms":{},"$browser":"{}","$os":"{}","$city":"{}","mp_country_code":"{}","$screen_width":{},"mp_lib":"web","$lib_version":"2.55.1""#,
            rng.next(),
            rng.next(),
            user * 7919,
            time * 1000 + rng.below(5000),
            rng.pick(&BROWSERS),
            rng.pick(&OSES),
            CITIES[city],
            COUNTRIES[city],
            rng.pick(&WIDTHS),
        );
        if rng.below(10) < 7 {
            let _ = write!(out, r#","$user_id":"user_{user}""#);
        }
        match event {
            "Purchase" => {
                let _ = write!(
                    out,
                    r#","amount":{}.{:02},"currency":"USD","items":["sku_{}","sku_{}"]"#,
                    1 + rng.below(500),
                    rng.below(100),
                    rng.below(1000),
                    rng.below(1000)
                );
            }
            "Search" => {
                let _ = write!(
                    out,
                    r#","query":"term {}","results":{}"#,
                    rng.below(10_000),
                    rng.below(100)
                );
            }
            "Page View" => {
                let referrer = rng.pick(&["google", "direct", "newsletter"]);
                let _ = write!(out, r#","path":"/p/{}","referrer":"{referrer}""#, rng.below(500));
            }
            _ => {}
        }
        out.push_str("}}\n");
    }
    out.into_bytes()
}

/// Decodes `input` fed in `chunk`-byte pieces through `decoder`; returns the rows (`rows`
/// counts a batch's), so nothing is optimised away.
fn decode_with<B: LineBatchBuilder>(
    mut decoder: StreamDecoder<B>,
    input: &[u8],
    chunk: usize,
    rows: impl Fn(&B::Batch) -> usize,
) -> usize {
    let mut total = 0;
    for piece in input.chunks(chunk) {
        let batches = decoder.feed(piece).expect("generated lines are short");
        total += batches.iter().map(&rows).sum::<usize>();
    }
    total += decoder.finish().expect("generated lines are short").map_or(0, |b| rows(&b));
    assert!(decoder.take_bad_lines().is_empty(), "generated lines are valid");
    total
}

/// One batch at a time, as a fetch decodes.
fn decode(input: &[u8], chunk: usize) -> usize {
    let decoder = EventStreamDecoder::new(LineFormat::Export, TimeCorrection::None, 1, BATCH_ROWS);
    decode_with(decoder, input, chunk, RecordBatch::num_rows)
}

/// A batch per date, as an import of export dumps decodes.
fn decode_dated(input: &[u8], chunk: usize) -> usize {
    let builder = DatedEventBatchBuilder::new(
        LineFormat::Export,
        TimeCorrection::None,
        1,
        BATCH_ROWS,
        TypedProperties::none(),
    );
    decode_with(StreamDecoder::with_builder(builder), input, chunk, |dated| {
        dated.iter().map(RecordBatch::num_rows).sum()
    })
}

fn bench(c: &mut Criterion) {
    let input = generate(LINES);
    assert_eq!(decode(&input, 1 << 16), LINES);
    assert_eq!(decode_dated(&input, 1 << 16), LINES);

    let mut lines = c.benchmark_group("decode_lines");
    lines.throughput(Throughput::Elements(LINES as u64));
    lines.bench_function(BenchmarkId::new("export", "64KiB_chunks"), |b| {
        b.iter(|| decode(black_box(&input), 1 << 16));
    });
    lines.bench_function(BenchmarkId::new("export_by_date", "64KiB_chunks"), |b| {
        b.iter(|| decode_dated(black_box(&input), 1 << 16));
    });
    lines.finish();

    let mut bytes = c.benchmark_group("decode_bytes");
    bytes.throughput(Throughput::Bytes(input.len() as u64));
    bytes.bench_function(BenchmarkId::new("export", "64KiB_chunks"), |b| {
        b.iter(|| decode(black_box(&input), 1 << 16));
    });
    bytes.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
