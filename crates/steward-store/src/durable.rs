//! Sealed records committed in groups, and streamed to a training export.

use std::{num::NonZeroUsize, sync::mpsc, thread};

use steward::{
    ExportPass,
    logs::{BoxError, SealedRecord},
};
use steward_core::DataCategory;

use crate::{
    SqliteStore, StoreError,
    ingest::{Job, Responder, SqliteSink, Writer, nonzero},
};

/// Commits sealed records in groups: each [`put`](Self::put) returns once its record is
/// durable, and records put by several threads at once share one transaction (one fsync),
/// which is what makes durable sealing fast under concurrency. If a group does not commit,
/// each of its records is stored on its own, so one refused record (a conflict) fails only
/// its own `put`, with its own error.
///
/// It is the writer of [`Ingest`](crate::Ingest) without the policy check and the sealing,
/// for callers that seal themselves: a server should prefer [`Ingest`](crate::Ingest),
/// whose futures wait without a thread and whose queue is bounded. Dropping the committer
/// finishes the records already handed over and stops its thread.
pub struct GroupCommitter {
    writer: Writer,
}

/// At most this many records share one transaction.
const GROUP_LIMIT: NonZeroUsize = nonzero(512);

/// At most this many records wait for the writer; `put` blocks beyond that.
const QUEUE_LIMIT: NonZeroUsize = nonzero(4096);

impl GroupCommitter {
    /// A committer writing to `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    pub fn new(store: &SqliteStore) -> Result<Self, StoreError> {
        Ok(Self {
            writer: Writer::spawn(
                Box::new(SqliteSink(store.clone())),
                QUEUE_LIMIT,
                GROUP_LIMIT,
            )?,
        })
    }

    /// Stores `record` and returns once it is durable (committed with whatever other
    /// records arrived meanwhile).
    ///
    /// # Errors
    ///
    /// As the store's `put_record` for this record, if its group did not commit and it
    /// could not be stored on its own either; [`StoreError::GroupCommit`] if the writer
    /// thread stopped (the record may or may not be stored).
    pub fn put(&self, record: SealedRecord, category: DataCategory) -> Result<(), StoreError> {
        let (reply, answer) = Responder::new();
        self.writer
            .queue
            .push_blocking(Job {
                record,
                category,
                reply: Some(reply),
            })
            .map_err(|_| StoreError::GroupCommit {
                reason: "the committer is shut down",
            })?;
        answer.wait_answer().unwrap_or(Err(StoreError::GroupCommit {
            reason: "the writer thread stopped",
        }))
    }
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter").finish_non_exhaustive()
    }
}

/// Records streamed from the store as an iterator, for a training export's source: a
/// reader thread scans the store on its own connection and hands over at most a few hundred
/// records at a time, so an export of any size runs in bounded memory. Dropping the stream
/// stops the scan.
pub struct RecordStream {
    records: mpsc::Receiver<Result<Vec<u8>, BoxError>>,
    reader: Option<thread::JoinHandle<()>>,
}

/// Records in flight between the reader thread and the stream's consumer.
const STREAM_BUFFER: usize = 256;

impl SqliteStore {
    /// Streams the records `scan` selects, whole for [`ExportPass::Run`] and only their
    /// headers for [`ExportPass::Plan`] (what a training export's planning pass needs), in
    /// (customer, created-at) order.
    ///
    /// ```
    /// use steward::{Policy, vocabulary::TrainingScope};
    /// use steward_store::{RecordScan, SqliteStore, StoreKeys, open_vault};
    ///
    /// # let dir = std::env::temp_dir().join(format!("steward-stream-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
    /// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    /// let vault = open_vault(&store, &keys, Policy::coder_model())?;
    /// let outcome = vault.export_training(
    ///     TrainingScope::Shared,
    ///     |pass| store.stream_records(RecordScan::All, pass),
    ///     |record| Ok(println!("{} bytes", record.body().len())),
    /// )?;
    /// assert_eq!(outcome.counts.exported, 0);
    /// # drop((vault, store));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stream_records(&self, scan: crate::RecordScan, pass: ExportPass) -> RecordStream {
        let store = self.clone();
        RecordStream::spawn(move |forward| match pass {
            ExportPass::Plan => store.scan_headers(scan, forward),
            _ => store.scan_records(scan, forward),
        })
    }
}

impl RecordStream {
    /// Runs `scan` on a reader thread, which hands each record it visits to the stream.
    pub(crate) fn spawn<F>(scan: F) -> Self
    where
        F: FnOnce(
                &mut dyn FnMut(crate::StoredRecord<'_>) -> Result<(), StreamStopped>,
            ) -> Result<u64, StreamStopped>
            + Send
            + 'static,
    {
        let (sender, records) = mpsc::sync_channel::<Result<Vec<u8>, BoxError>>(STREAM_BUFFER);
        let reader = thread::Builder::new()
            .name("steward-record-stream".into())
            .spawn(move || {
                let mut forward = |record: crate::StoredRecord<'_>| -> Result<(), StreamStopped> {
                    sender
                        .send(Ok(record.bytes().to_vec()))
                        .map_err(|_| StreamStopped::Dropped)
                };
                if let Err(StreamStopped::Store(error)) = scan(&mut forward) {
                    // The consumer may be gone too; then nobody needs the error.
                    let _reported = sender.send(Err(Box::new(error) as BoxError));
                }
            });
        match reader {
            Ok(reader) => Self {
                records,
                reader: Some(reader),
            },
            Err(error) => {
                let (sender, records) = mpsc::sync_channel(1);
                let _reported = sender.send(Err(
                    Box::new(StoreError::Thread { source: error }) as BoxError
                ));
                Self {
                    records,
                    reader: None,
                }
            }
        }
    }
}

/// Why the reader thread stopped early.
pub(crate) enum StreamStopped {
    /// The stream was dropped.
    Dropped,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for StreamStopped {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Iterator for RecordStream {
    type Item = Result<Vec<u8>, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.records.recv().ok()
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        // Closing the receiver makes the reader's next send fail, which ends its scan.
        let (_, closed) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.records, closed));
        if let Some(reader) = self.reader.take() {
            let _finished = reader.join();
        }
    }
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream").finish_non_exhaustive()
    }
}
