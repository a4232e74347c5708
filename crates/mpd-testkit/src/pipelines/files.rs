//! Writing one pipeline file: JSONL, gzipped or plain, published by a rename so a reader
//! listing the folder never sees half a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::{Error, Result};

/// How a pipeline file's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Plain,
}

impl Encoding {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Gzip => "json.gz",
            Self::Plain => "json",
        }
    }
}

/// Writes `records` (one per line, each followed by `\n`) to `dir/<stem>.<extension>`,
/// creating `dir`, and returns the path.
pub(crate) fn write_records(
    dir: &Path,
    stem: &str,
    encoding: Encoding,
    records: &[String],
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| write_error(dir, source))?;
    let name = format!("{stem}.{}", encoding.extension());
    let path = dir.join(&name);
    // A dot-name without a .json suffix: readers listing `*.json(.gz)` skip it.
    let partial = dir.join(format!(".{name}.partial"));
    write_file(&partial, encoding, records).map_err(|source| write_error(&partial, source))?;
    std::fs::rename(&partial, &path).map_err(|source| write_error(&path, source))?;
    Ok(path)
}

/// The first `<prefix>-NNNN` whose file does not exist in `dir` under either extension.
pub(crate) fn free_stem(dir: &Path, prefix: &str) -> String {
    (0u32..)
        .map(|i| format!("{prefix}-{i:04}"))
        .find(|stem| {
            [Encoding::Gzip, Encoding::Plain]
                .iter()
                .all(|e| !dir.join(format!("{stem}.{}", e.extension())).exists())
        })
        .unwrap_or_else(|| format!("{prefix}-last"))
}

fn write_file(path: &Path, encoding: Encoding, records: &[String]) -> std::io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    match encoding {
        Encoding::Plain => {
            let mut out = file;
            write_lines(&mut out, records)?;
            out.flush()
        }
        Encoding::Gzip => {
            let mut out = GzEncoder::new(file, Compression::fast());
            write_lines(&mut out, records)?;
            out.finish()?.flush()
        }
    }
}

fn write_lines(out: &mut impl Write, records: &[String]) -> std::io::Result<()> {
    for record in records {
        out.write_all(record.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::WritePipelines { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn gzip_and_plain_files_hold_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        let records = vec!["{\"a\":1}".to_owned(), "{\"b\":\"東京\"}".to_owned()];
        let gz =
            write_records(&dir.path().join("x"), "part-0000", Encoding::Gzip, &records).unwrap();
        assert!(gz.ends_with("x/part-0000.json.gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(&gz).unwrap()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"東京\"}\n");

        let plain = write_records(dir.path(), "p", Encoding::Plain, &records).unwrap();
        assert_eq!(std::fs::read_to_string(plain).unwrap(), text);
        let names: Vec<String> = std::fs::read_dir(dir.path().join("x"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["part-0000.json.gz"], "no partial file is left behind");
    }

    #[test]
    fn free_stem_skips_taken_names_of_either_extension() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_stem(dir.path(), "late"), "late-0000");
        write_records(dir.path(), "late-0000", Encoding::Plain, &[]).unwrap();
        write_records(dir.path(), "late-0001", Encoding::Gzip, &[]).unwrap();
        assert_eq!(free_stem(dir.path(), "late"), "late-0002");
    }
}
