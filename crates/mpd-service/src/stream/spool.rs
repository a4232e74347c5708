//! A day's output held back until the day completed, so a retried day never re-emits lines.
//!
//! Mixpanel does not promise the order of lines, so "skip the first N lines of the retry" is not
//! safe; holding the whole day is. Memory stays bounded: the spool keeps fixed-size blocks (no
//! doubling reallocations) up to `memory_limit` bytes, then continues in an anonymous
//! temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

/// Size of one in-memory block.
const BLOCK_BYTES: usize = 1 << 20;

/// Bytes of one day, in memory up to a limit, then in a temporary file.
#[derive(Debug)]
pub(crate) struct Spool {
    blocks: Vec<Vec<u8>>,
    in_memory: usize,
    memory_limit: usize,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Spool {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Self { blocks: Vec::new(), in_memory: 0, memory_limit, file: None, len: 0 }
    }

    /// Appends bytes, spilling to disk when the memory part is full.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if let Some(file) = &mut self.file {
            return file.write_all(bytes);
        }
        if self.in_memory + bytes.len() > self.memory_limit {
            let mut file = BufWriter::with_capacity(BLOCK_BYTES, tempfile::tempfile()?);
            for block in self.blocks.drain(..) {
                file.write_all(&block)?;
            }
            file.write_all(bytes)?;
            self.in_memory = 0;
            self.file = Some(file);
            return Ok(());
        }
        self.in_memory += bytes.len();
        while !bytes.is_empty() {
            let block = match self.blocks.last_mut() {
                Some(block) if block.len() < BLOCK_BYTES => block,
                _ => {
                    self.blocks.push(Vec::with_capacity(BLOCK_BYTES));
                    self.blocks.last_mut().expect("a block was just pushed")
                }
            };
            let take = (BLOCK_BYTES - block.len()).min(bytes.len());
            block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Total bytes held.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends everything `other` holds (a later piece of the same request).
    pub(crate) fn append(&mut self, other: Spool) -> io::Result<()> {
        other.copy_to(&mut Appender(self))
    }

    /// Copies everything to `out`.
    pub(crate) fn copy_to(self, out: &mut dyn Write) -> io::Result<()> {
        for block in &self.blocks {
            out.write_all(block)?;
        }
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            let mut buf = vec![0u8; BLOCK_BYTES];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            }
        }
        Ok(())
    }
}

/// A spool as an `io::Write`, for [`Spool::append`].
struct Appender<'a>(&'a mut Spool);

impl Write for Appender<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: u32) -> Vec<String> {
        (0..n).map(|i| format!("line {i} {}\n", "x".repeat((i % 97) as usize))).collect()
    }

    fn round_trip(memory_limit: usize, input: &[String]) -> (Vec<u8>, bool) {
        let mut spool = Spool::new(memory_limit);
        for line in input {
            spool.write(line.as_bytes()).unwrap();
        }
        let spilled = spool.file.is_some();
        assert_eq!(spool.len(), input.iter().map(|l| l.len() as u64).sum::<u64>());
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        (out, spilled)
    }

    #[test]
    fn spilled_spool_returns_all_bytes_in_order() {
        let input = lines(100);
        let (out, spilled) = round_trip(10, &input);
        assert!(spilled);
        assert_eq!(out, input.concat().into_bytes());
    }

    #[test]
    fn blocks_are_filled_across_boundaries_in_memory() {
        let input = lines(40_000);
        let total: usize = input.iter().map(String::len).sum();
        assert!(total > 2 * BLOCK_BYTES, "the test must cross block boundaries");
        let (out, spilled) = round_trip(64 << 20, &input);
        assert!(!spilled);
        assert_eq!(out, input.concat().into_bytes());
    }

    #[test]
    fn spilling_after_blocks_keeps_order() {
        let input = lines(40_000);
        let (out, spilled) = round_trip(BLOCK_BYTES + 17, &input);
        assert!(spilled);
        assert_eq!(out, input.concat().into_bytes());
    }

    #[test]
    fn appended_spools_keep_their_order_across_the_memory_limit() {
        let input = lines(300);
        let (first, second) = input.split_at(120);
        let mut spool = Spool::new(2_000);
        for line in first {
            spool.write(line.as_bytes()).unwrap();
        }
        let mut piece = Spool::new(2_000);
        for line in second {
            piece.write(line.as_bytes()).unwrap();
        }
        spool.append(piece).unwrap();
        let mut out = Vec::new();
        let len = spool.len();
        spool.copy_to(&mut out).unwrap();
        assert_eq!(out, input.concat().into_bytes());
        assert_eq!(len, out.len() as u64);
    }
}
