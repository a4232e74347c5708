//! A day's output held back until the day completed, so a retried day never re-emits lines.
//!
//! Mixpanel does not promise the order of lines, so "skip the first N lines of the retry" is not
//! safe; holding the whole day is. Memory stays bounded: past `memory_limit` bytes the spool
//! continues in an anonymous temporary file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

/// Bytes of one day, in memory up to a limit, then in a temporary file.
#[derive(Debug)]
pub(crate) struct Spool {
    memory: Vec<u8>,
    memory_limit: usize,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Spool {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Self { memory: Vec::new(), memory_limit, file: None, len: 0 }
    }

    /// Appends bytes, spilling to disk when the memory part is full.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if let Some(file) = &mut self.file {
            return file.write_all(bytes);
        }
        if self.memory.len() + bytes.len() <= self.memory_limit {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let mut file = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
        file.write_all(&self.memory)?;
        file.write_all(bytes)?;
        self.memory = Vec::new();
        self.file = Some(file);
        Ok(())
    }

    /// Total bytes held.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Copies everything to `out`.
    pub(crate) fn copy_to(self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.memory)?;
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            let mut buf = vec![0u8; 1 << 20];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_spool_returns_all_bytes_in_order() {
        let mut spool = Spool::new(10);
        let mut expected = Vec::new();
        for i in 0..100u32 {
            let line = format!("line {i}\n");
            spool.write(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert_eq!(spool.len(), expected.len() as u64);
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn small_spool_stays_in_memory() {
        let mut spool = Spool::new(1024);
        spool.write(b"abc\n").unwrap();
        assert!(spool.file.is_none());
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        assert_eq!(out, b"abc\n");
    }
}
