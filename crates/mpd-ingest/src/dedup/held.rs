//! The keys a deduper holds: one map per `date`, 24 bytes a key.
//!
//! Copies of an event share its date (the key holds its `time`), so the keys of a date can be
//! let go of once no more rows of that date will come, or moved to a temporary file (24 bytes
//! a key) while rows of other dates come, and brought back when that date's rows are judged.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};

/// What is remembered of a stored (or already accepted) copy, in 8 bytes so that a key costs
/// 24 in the map: the processing time in milliseconds in the high 48 bits (all ones for
/// none), the index of the copy's sync id in the deduper's list in the low 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kept(u64);

/// The processing-time bits of a copy without one.
const NO_TIME: u64 = (1 << 48) - 1;

impl Kept {
    pub(super) fn new(mp_processing_time: Option<i64>, sync_index: u16) -> Self {
        let time = match mp_processing_time {
            // Stored as microseconds with millisecond precision.
            Some(us) => u64::try_from(us.div_euclid(1000)).unwrap_or(0).min(NO_TIME - 1),
            None => NO_TIME,
        };
        Kept((time << 16) | u64::from(sync_index))
    }

    pub(super) fn same_time(self, other: Kept) -> bool {
        self.0 >> 16 == other.0 >> 16
    }

    pub(super) fn sync_index(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

/// A key in a map: the 128-bit hash as two halves, so an entry is aligned to 8 bytes, not 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MapKey(u64, u64);

impl From<u128> for MapKey {
    fn from(key: u128) -> Self {
        MapKey(key as u64, (key >> 64) as u64)
    }
}

/// Keys are already uniform hashes: their low half is the map's hash.
impl std::hash::Hash for MapKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Passes a key's own hash through, and spreads a date's day number over all 64 bits (the
/// map places entries by the high bits).
#[derive(Default)]
pub(super) struct PassHasher(u64);

impl Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*byte)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_u64(&mut self, half: u64) {
        self.0 = half;
    }

    fn write_i32(&mut self, day: i32) {
        self.0 = u64::from(day as u32).wrapping_mul(FIBONACCI);
    }
}

/// 2^64 divided by the golden ratio: multiplying by it scatters consecutive numbers.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

pub(super) type KeyMap<V> = HashMap<MapKey, V, BuildHasherDefault<PassHasher>>;

/// The keys of one date, and when a batch last touched it.
#[derive(Default)]
struct Day {
    keys: KeyMap<Kept>,
    touched: u64,
}

/// Where an evicted date's keys are in the key file: `count` entries from byte `offset`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: u64,
    count: usize,
}

/// Bytes of one entry in the key file: the key's two halves and the kept copy.
const ENTRY_BYTES: usize = 24;

/// The held keys, by date (days since the epoch), and the keys of evicted dates, which wait
/// in a temporary file until their date is restored.
#[derive(Default)]
pub(super) struct HeldKeys {
    days: HashMap<i32, Day, BuildHasherDefault<PassHasher>>,
    /// Dates whose keys were let go of: a row of one of them can no longer be judged.
    finished: HashSet<i32>,
    evicted: HashMap<i32, Segment>,
    file: Option<File>,
    file_len: u64,
    clock: u64,
}

impl HeldKeys {
    /// The keys of `date`.
    pub(super) fn day(&mut self, date: i32) -> Result<&mut KeyMap<Kept>> {
        if self.finished.contains(&date) || self.evicted.contains_key(&date) {
            let state = if self.finished.contains(&date) { "let go of" } else { "set aside" };
            return Err(Error::Internal(format!(
                "rows of {} came while the keys of that day were {state}",
                crate::date32_to_day(date).map_or_else(|| format!("day {date}"), |d| d.to_string())
            )));
        }
        Ok(&mut self.days.entry(date).or_default().keys)
    }

    /// Notes that a batch touched `dates` (eviction takes the least recently touched first).
    pub(super) fn touch(&mut self, dates: &[i32]) {
        self.clock += 1;
        for date in dates {
            if let Some(day) = self.days.get_mut(date) {
                day.touched = self.clock;
            }
        }
    }

    /// Whether the keys of `date` wait in the key file.
    pub(super) fn is_evicted(&self, date: i32) -> bool {
        self.evicted.contains_key(&date)
    }

    /// The dates whose keys wait in the key file.
    #[cfg(test)]
    pub(super) fn evicted_dates(&self) -> Vec<i32> {
        let mut dates: Vec<i32> = self.evicted.keys().copied().collect();
        dates.sort_unstable();
        dates
    }

    /// Moves the keys of the least recently touched dates (the earliest date first among
    /// equals) to the key file until at most `target` keys are held, or only the dates of
    /// `keep` are left.
    pub(super) fn evict_down_to(&mut self, target: usize, keep: &[i32]) -> Result<()> {
        let mut held = self.len();
        if held <= target {
            return Ok(());
        }
        let mut order: Vec<(u64, i32)> = self
            .days
            .iter()
            .filter(|(date, _)| !keep.contains(date))
            .map(|(date, day)| (day.touched, *date))
            .collect();
        order.sort_unstable();
        for (_, date) in order {
            if held <= target {
                break;
            }
            let Some(day) = self.days.remove(&date) else { continue };
            held -= day.keys.len();
            let segment = self.write_segment(&day.keys)?;
            self.evicted.insert(date, segment);
        }
        Ok(())
    }

    fn write_segment(&mut self, keys: &KeyMap<Kept>) -> Result<Segment> {
        let offset = self.file_len;
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(tempfile::tempfile().map_err(key_file_error)?),
        };
        let mut bytes = Vec::with_capacity(keys.len().min(1 << 16) * ENTRY_BYTES);
        let mut entries = keys.iter().peekable();
        while entries.peek().is_some() {
            bytes.clear();
            for (key, kept) in entries.by_ref().take(1 << 16) {
                bytes.extend_from_slice(&key.0.to_le_bytes());
                bytes.extend_from_slice(&key.1.to_le_bytes());
                bytes.extend_from_slice(&kept.0.to_le_bytes());
            }
            file.write_all(&bytes).map_err(key_file_error)?;
        }
        self.file_len += (keys.len() * ENTRY_BYTES) as u64;
        Ok(Segment { offset, count: keys.len() })
    }

    /// Brings the keys of an evicted `date` back, with room for `more` keys.
    pub(super) fn restore(&mut self, date: i32, more: usize) -> Result<()> {
        let Some(segment) = self.evicted.remove(&date) else {
            return Ok(());
        };
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| key_file_error(std::io::ErrorKind::NotFound.into()))?;
        let mut bytes = vec![0u8; segment.count * ENTRY_BYTES];
        file.seek(SeekFrom::Start(segment.offset)).map_err(key_file_error)?;
        file.read_exact(&mut bytes).map_err(key_file_error)?;
        // Appends go on at the end.
        file.seek(SeekFrom::End(0)).map_err(key_file_error)?;
        let mut keys = KeyMap::default();
        keys.reserve(segment.count + more);
        let word = |at: &[u8]| u64::from_le_bytes(at.try_into().unwrap_or([0; 8]));
        for entry in bytes.chunks_exact(ENTRY_BYTES) {
            let key = MapKey(word(&entry[..8]), word(&entry[8..16]));
            keys.insert(key, Kept(word(&entry[16..])));
        }
        self.days.insert(date, Day { keys, touched: self.clock });
        Ok(())
    }

    /// Lets go of the keys of `date`: no row of it will come any more.
    pub(super) fn finish(&mut self, date: i32) {
        self.days.remove(&date);
        self.finished.insert(date);
    }

    /// Lets go of the keys of every held date.
    pub(super) fn finish_held(&mut self) {
        let dates: Vec<i32> = self.days.keys().copied().collect();
        for date in dates {
            self.finish(date);
        }
    }

    /// How many keys are held (not counting evicted ones).
    pub(super) fn len(&self) -> usize {
        self.days.values().map(|day| day.keys.len()).sum()
    }
}

fn key_file_error(source: std::io::Error) -> Error {
    Error::Write { what: "dedup keys set aside in the temporary folder".to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_costs_24_bytes_in_the_map() {
        assert_eq!(std::mem::size_of::<(MapKey, Kept)>(), 24);
        let copy = Kept::new(Some(1_700_000_000_123_000), 7);
        assert!(copy.same_time(Kept::new(Some(1_700_000_000_123_000), 0)));
        assert!(!copy.same_time(Kept::new(Some(1_700_000_000_124_000), 7)));
        assert!(!copy.same_time(Kept::new(None, 7)));
        assert_eq!(copy.sync_index(), 7);
    }

    #[test]
    fn finished_days_free_their_keys_and_refuse_more_rows() {
        let mut held = HeldKeys::default();
        held.day(20_000).unwrap().insert(MapKey::from(1), Kept::new(None, 0));
        held.day(20_001).unwrap().insert(MapKey::from(2), Kept::new(None, 0));
        assert_eq!(held.len(), 2);
        held.finish(20_000);
        assert_eq!(held.len(), 1);
        let error = held.day(20_000).unwrap_err().to_string();
        assert!(
            error.contains("rows of 2024-10-04 came while the keys of that day were let go of"),
            "{error}"
        );
        assert!(held.day(20_001).is_ok());
    }

    #[test]
    fn evicted_days_are_the_least_recently_touched_and_come_back_whole() {
        let mut held = HeldKeys::default();
        for (date, n) in [(10, 100_000u128), (11, 5), (12, 7)] {
            let keys = held.day(date).unwrap();
            for k in 0..n {
                keys.insert(MapKey::from(k << 70 | k), Kept::new(Some(k as i64 * 1000), 1));
            }
        }
        held.touch(&[10, 11, 12]);
        held.touch(&[11]);
        held.touch(&[12]);
        // 10 is the least recently touched: evicting it is enough.
        held.evict_down_to(12, &[]).unwrap();
        assert_eq!(held.evicted_dates(), [10]);
        assert_eq!(held.len(), 12);
        assert!(held.is_evicted(10));
        let error = held.day(10).unwrap_err().to_string();
        assert!(error.contains("were set aside"), "{error}");
        // Then 11 (touched before 12); 12 stays when kept, even over the target.
        held.evict_down_to(0, &[12]).unwrap();
        assert_eq!(held.evicted_dates(), [10, 11]);
        assert_eq!(held.len(), 7);
        held.restore(10, 10).unwrap();
        assert_eq!(held.evicted_dates(), [11]);
        let keys = held.day(10).unwrap();
        assert_eq!(keys.len(), 100_000);
        assert_eq!(
            keys.get(&MapKey::from(99_999u128 << 70 | 99_999)),
            Some(&Kept::new(Some(99_999_000), 1))
        );
        held.restore(11, 0).unwrap();
        assert_eq!(held.day(11).unwrap().len(), 5);
        held.finish_held();
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn day_numbers_spread_over_the_high_bits() {
        let high = |day: i32| {
            let mut hasher = PassHasher::default();
            hasher.write_i32(day);
            hasher.finish() >> 57
        };
        let distinct: HashSet<u64> = (20_000..20_032).map(high).collect();
        assert!(distinct.len() > 16, "{distinct:?}");
    }
}
