//! Sealed records committed in groups, and streamed to a training export.

use std::{sync::mpsc, thread};

use steward::{BoxError, ExportPass, logs::SealedRecord};
use steward_core::DataCategory;

use crate::{SqliteStore, StoreError};

/// Commits sealed records in groups: each [`put`](Self::put) returns once its record is
/// durable, and records put by several threads at once share one transaction (one fsync),
/// which is what makes durable sealing fast under concurrency. (On PostgreSQL the server
/// already shares its commits between connections: see `PgStore::seal_durable`.) If a group does not commit, each of its records is stored on its own, so one
/// refused record (a conflict, a key shredded by another node) fails only its own `put`,
/// with its own error.
///
/// A writer thread owns the commits; dropping the committer finishes the records already
/// handed over and stops it.
pub struct GroupCommitter {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
}

struct Job {
    record: SealedRecord,
    category: DataCategory,
    done: mpsc::SyncSender<Result<(), StoreError>>,
}

/// At most this many records share one transaction.
const GROUP_LIMIT: usize = 512;

impl GroupCommitter {
    /// A committer writing to `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    pub fn new(store: &SqliteStore) -> Result<Self, StoreError> {
        let (group_store, one_store) = (store.clone(), store.clone());
        Self::spawn(
            move |group: &[(&SealedRecord, DataCategory)]| {
                group_store.put_records(group.iter().copied())
            },
            move |record: &SealedRecord, category| one_store.put_record(record, category),
        )
    }

    /// Starts the writer: `put_group` stores a group in one transaction, all or none;
    /// `put_one` stores one record, for the records of a group that did not commit.
    fn spawn<G, O>(put_group: G, put_one: O) -> Result<Self, StoreError>
    where
        G: Fn(&[(&SealedRecord, DataCategory)]) -> Result<usize, StoreError> + Send + 'static,
        O: Fn(&SealedRecord, DataCategory) -> Result<(), StoreError> + Send + 'static,
    {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let writer = thread::Builder::new()
            .name("steward-group-commit".into())
            .spawn(move || {
                while let Ok(first) = inbox.recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP_LIMIT {
                        match inbox.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    // A lone record is stored by the cheaper single-record path.
                    let committed = group.len() > 1 && {
                        let records: Vec<_> = group
                            .iter()
                            .map(|job| (&job.record, job.category))
                            .collect();
                        put_group(&records).is_ok()
                    };
                    for job in group {
                        let result = if committed {
                            Ok(())
                        } else {
                            put_one(&job.record, job.category)
                        };
                        // A caller that stopped waiting needs no answer.
                        let _answered = job.done.send(result);
                    }
                }
            })
            .map_err(|source| StoreError::Thread { source })?;
        Ok(Self {
            jobs: Some(jobs),
            writer: Some(writer),
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
        let (done, answer) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or(StoreError::GroupCommit {
            reason: "the committer is shut down",
        })?;
        jobs.send(Job {
            record,
            category,
            done,
        })
        .map_err(|_| StoreError::GroupCommit {
            reason: "the writer thread stopped",
        })?;
        answer.recv().map_err(|_| StoreError::GroupCommit {
            reason: "the writer thread stopped",
        })?
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once it has committed what it holds.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _finished = writer.join();
        }
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
    /// use steward::{Policy, TrainingScope};
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
