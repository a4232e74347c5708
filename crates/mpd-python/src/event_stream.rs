//! `EventStream`: `Workspace.stream_events` as a Python iterator of dicts, one per event, with
//! the exactly-once guarantee of `mpd fetch events --stdout` (a day is handed over only once its
//! request completed, so a retried day never yields an event twice). The export runs on a
//! thread of its own (driving the module's runtime) and writes lines into a bounded channel,
//! waiting when the iterator is behind; the iterator parses lines as it is pulled.

use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mpd_service::{SilentReporter, StreamEventsRequest, StreamSummary, Workspace};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

use crate::errors::MpdError;

/// Chunks written and not yet pulled, at most.
const CHUNKS_AHEAD: usize = 64;
/// How often a waiting iterator looks for a pending signal.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Events as they arrive: iterate to get dicts.
#[pyclass(module = "mpd._mpd")]
pub(crate) struct EventStream {
    chunks: Mutex<Receiver<Vec<u8>>>,
    pending: Vec<u8>,
    /// Where the next line of `pending` starts (the bytes before are handed out).
    start: usize,
    task: Option<std::thread::JoinHandle<mpd_service::Result<StreamSummary>>>,
    summary: Option<StreamSummary>,
}

impl EventStream {
    pub(crate) fn start(workspace: Arc<Workspace>, request: StreamEventsRequest) -> PyResult<Self> {
        let (sender, chunks) = sync_channel(CHUNKS_AHEAD);
        let runtime = crate::runtime::runtime()?;
        let task = std::thread::Builder::new()
            .name("mpd-stream-events".to_owned())
            .spawn(move || {
                let mut out = ChannelWriter { sender };
                runtime.block_on(workspace.stream_events(&request, &mut out, &SilentReporter))
            })
            .map_err(|e| MpdError::new_err(format!("cannot start the export: {e}")))?;
        Ok(Self {
            chunks: Mutex::new(chunks),
            pending: Vec::new(),
            start: 0,
            task: Some(task),
            summary: None,
        })
    }

    /// The next complete line of `pending`, without its newline.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        let rest = &self.pending[self.start..];
        let end = rest.iter().position(|b| *b == b'\n')?;
        let line = rest[..end].to_vec();
        self.start += end + 1;
        Some(line)
    }

    /// Waits (GIL released) for the next chunk; `None` when the export ended.
    fn next_chunk(&mut self, py: Python<'_>) -> PyResult<Option<Vec<u8>>> {
        loop {
            let chunks = &self.chunks;
            let received = py.detach(|| match chunks.lock() {
                Ok(chunks) => chunks.recv_timeout(SIGNAL_POLL),
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            match received {
                Ok(chunk) => return Ok(Some(chunk)),
                Err(RecvTimeoutError::Timeout) => py.check_signals()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// The export's outcome once its writer is gone.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(task) = self.task.take() else { return Ok(()) };
        let joined = py.detach(|| task.join());
        let outcome = joined.map_err(|_| MpdError::new_err("the export stopped unexpectedly"))?;
        let summary = outcome.map_err(crate::errors::to_python)?;
        self.summary = Some(summary);
        Ok(())
    }
}

#[pymethods]
impl EventStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        loop {
            if let Some(line) = self.take_line() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let value: serde_json::Value = serde_json::from_slice(&line)
                    .map_err(|e| MpdError::new_err(format!("an exported line is not JSON: {e}")))?;
                return crate::convert::json_to_python(py, &value);
            }
            match self.next_chunk(py)? {
                Some(chunk) => {
                    // Handed-out lines are dropped once per chunk, not once per line.
                    self.pending.drain(..self.start);
                    self.start = 0;
                    self.pending.extend_from_slice(&chunk);
                }
                None => {
                    self.finish(py)?;
                    return Err(PyStopIteration::new_err(()));
                }
            }
        }
    }

    /// What the export did (days, records), once the iterator is exhausted; else None.
    #[getter]
    fn summary(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.summary.as_ref().map(|s| crate::convert::to_python(py, s)).transpose()
    }
}

/// The export's output: each write is a chunk for the iterator (waiting while the iterator is
/// `CHUNKS_AHEAD` chunks behind; once the iterator is dropped, a write fails as a closed pipe
/// and the export stops).
struct ChannelWriter {
    sender: SyncSender<Vec<u8>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = buf.to_vec();
        self.sender
            .send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
