//! The durable push: [`Pusher`] moves a daemon's pending records from its [`PushStore`] to the
//! platform, one committed step at a time.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::report::{PushError, PushEvent, PushSummary};
use super::steps::{
    body_matches, needs_sign_in, refusal, refuses_records, Pushed, BYTES_REFUSALS, SYNC_REFUSALS,
};
use super::store::{Commit, PendingUpload, PushStore, Resource, SetAside, SetAsideReason};
use super::{
    invalid_records, refused_item, send_batch, stamped, VoiceAccounts, VoiceCalls, VoiceRecordings,
    VoiceTranscripts,
};
use crate::client::Client;
use crate::error::Error;

/// Recordings whose bytes are asked of the store at a time, and committed together at most.
const UPLOADS_PER_STEP: usize = 32;
/// Bytes landed after which a group of uploads is committed without waiting for the rest.
const UPLOAD_STEP_BYTES: u64 = 8 * 1024 * 1024;

/// How a step ended, for the loop that runs it.
enum Flow {
    /// Go on with the next step.
    Next,
    /// Stop the cycle; retry later.
    Stop(Error),
    /// Stop for good: sign in again.
    SignIn(Error),
}

struct Signal {
    wake: Notify,
    stop: Notify,
    stopping: AtomicBool,
}

/// Wakes a [`Pusher::run`] loop when the daemon has added records, or stops it. Cheap to clone.
#[derive(Clone)]
pub struct PushHandle(Arc<Signal>);

impl fmt::Debug for PushHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushHandle")
            .field("shut_down", &self.0.stopping.load(Ordering::Relaxed))
            .finish()
    }
}

impl PushHandle {
    /// Tells the loop there is new work: it starts a cycle as soon as it is idle (a wake during
    /// a retry wait is kept for when the wait ends, so an outage is not hammered).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Stops the loop after the step in flight; [`Pusher::run`] then returns `Ok(())`.
    pub fn shutdown(&self) {
        self.0.stopping.store(true, Ordering::SeqCst);
        self.0.stop.notify_waiters();
        self.0.wake.notify_one();
    }
}

type Observer = Arc<dyn Fn(&PushEvent<'_>) + Send + Sync>;

/// Pushes a daemon's pending records to the platform, durably. See the [module
/// documentation](crate::sync#pushing-a-daemons-store) for the guarantees.
///
/// ```no_run
/// # async fn run<S: wavekat_platform_client::sync::PushStore + 'static>(client: wavekat_platform_client::Client, store: S) {
/// use wavekat_platform_client::sync::{PushError, PushEvent, Pusher};
///
/// let pusher = Pusher::new(client, store).on_event(|event| {
///     if let PushEvent::Committed(commit) = event {
///         eprintln!("{}: {} applied", commit.resource, commit.applied.len());
///     }
/// });
/// let handle = pusher.handle(); // handle.wake() after adding records; handle.shutdown() to stop
/// match pusher.run().await {
///     Ok(()) => {}                                   // shut down
///     Err(PushError::SignInAgain(cause)) => eprintln!("sign in again: {cause}"),
///     Err(PushError::Store(e)) => eprintln!("store failed: {e}"),
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
pub struct Pusher<S> {
    client: Client,
    store: Arc<S>,
    observer: Option<Observer>,
    signal: Arc<Signal>,
    min_backoff: Duration,
    max_backoff: Duration,
    poll_interval: Option<Duration>,
}

impl<S> fmt::Debug for Pusher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pusher")
            .field("base_url", &self.client.base_url())
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl<S: PushStore + 'static> Pusher<S> {
    /// A pusher from `store` to the platform `client` talks to. Batches are the client's
    /// [`Client::sync_batch_size`]; each request is retried per its [`crate::RetryPolicy`] before
    /// the pusher calls a failure "retry later".
    pub fn new(client: Client, store: S) -> Self {
        Pusher {
            client,
            store: Arc::new(store),
            observer: None,
            signal: Arc::new(Signal {
                wake: Notify::new(),
                stop: Notify::new(),
                stopping: AtomicBool::new(false),
            }),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            poll_interval: Some(Duration::from_secs(60)),
        }
    }

    /// Calls `observer` for every [`PushEvent`] (from the pusher's task: keep it quick).
    #[must_use]
    pub fn on_event(mut self, observer: impl Fn(&PushEvent<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The wait after a cycle that stopped on a failure: `min` doubled per failed cycle in a
    /// row, capped at `max`, half of it jittered; a `Retry-After` from the platform is honoured
    /// up to `max` (default 1 s to 5 min).
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// How long [`Pusher::run`] waits for a [`PushHandle::wake`] before it looks at the store
    /// anyway (default 60 s); `None` waits for a wake alone.
    #[must_use]
    pub fn poll_interval(mut self, interval: Option<Duration>) -> Self {
        self.poll_interval = interval;
        self
    }

    /// A handle to wake or stop [`Pusher::run`].
    pub fn handle(&self) -> PushHandle {
        PushHandle(Arc::clone(&self.signal))
    }

    /// The store, shared with the pusher.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// One cycle: pushes everything pending, in the order accounts → calls → transcripts →
    /// recording metadata → recording bytes, committing each step's outcome before the next.
    ///
    /// Returns the cycle's summary; a failure worth retrying later ends the cycle early with
    /// [`PushSummary::stopped_by`] set (the records not yet applied stay pending). Returns
    /// [`PushError::SignInAgain`] on 401 and `reauth_required`, and [`PushError::Store`] when
    /// the store fails.
    pub async fn run_once(&self) -> Result<PushSummary, PushError<S::Error>> {
        let mut summary = PushSummary::default();
        let flow = match self.push_resource::<VoiceAccounts>(&mut summary).await? {
            Flow::Next => match self.push_resource::<VoiceCalls>(&mut summary).await? {
                Flow::Next => match self.push_resource::<VoiceTranscripts>(&mut summary).await? {
                    Flow::Next => {
                        match self.push_resource::<VoiceRecordings>(&mut summary).await? {
                            Flow::Next => self.push_uploads(&mut summary).await?,
                            other => other,
                        }
                    }
                    other => other,
                },
                other => other,
            },
            other => other,
        };
        match flow {
            Flow::Next => {}
            Flow::Stop(error) => summary.stopped_by = Some(error),
            Flow::SignIn(error) => return Err(PushError::SignInAgain(error)),
        }
        summary.shut_down = self.stopping();
        Ok(summary)
    }

    /// Runs cycles until [`PushHandle::shutdown`]: after a complete cycle it waits for a
    /// [`PushHandle::wake`] (or the poll interval); after a stopped one it backs off. Returns
    /// `Ok(())` once shut down, or the [`PushError`] that ended it.
    pub async fn run(&self) -> Result<(), PushError<S::Error>> {
        let mut failures: u32 = 0;
        loop {
            if self.stopping() {
                return Ok(());
            }
            let summary = self.run_once().await?;
            self.emit(&PushEvent::Cycle(&summary));
            let wait = match &summary.stopped_by {
                None => {
                    failures = 0;
                    self.wait(self.poll_interval, true).await
                }
                Some(error) => {
                    failures = failures.saturating_add(1);
                    let after = self.backoff_after(failures, error);
                    self.emit(&PushEvent::RetryLater { error, after });
                    self.wait(Some(after), false).await
                }
            };
            if wait.is_err() {
                return Ok(());
            }
        }
    }

    fn stopping(&self) -> bool {
        self.signal.stopping.load(Ordering::SeqCst)
    }

    fn emit(&self, event: &PushEvent<'_>) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }

    /// Waits `timeout` (`None`: for ever), a wake when `wakeable` (otherwise a wake is kept for
    /// after the wait, so an outage is not hammered), or a stop (`Err`).
    async fn wait(&self, timeout: Option<Duration>, wakeable: bool) -> Result<(), ()> {
        let stop = self.signal.stop.notified();
        tokio::pin!(stop);
        stop.as_mut().enable();
        if self.stopping() {
            return Err(());
        }
        let sleep = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => Err(()),
            _ = self.signal.wake.notified(), if wakeable => Ok(()),
            _ = sleep => Ok(()),
        }
        .and_then(|()| if self.stopping() { Err(()) } else { Ok(()) })
    }

    fn backoff_after(&self, failures: u32, error: &Error) -> Duration {
        if let Error::Http {
            retry_after: Some(wait),
            ..
        } = error.cause()
        {
            return (*wait).min(self.max_backoff);
        }
        let ceiling = self
            .min_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.max_backoff);
        let half = ceiling / 2;
        half + half.mul_f64(crate::retry::jitter_fraction())
    }

    async fn commit(
        &self,
        commit: &Commit,
        summary: &mut PushSummary,
    ) -> Result<(), PushError<S::Error>> {
        if commit.is_empty() {
            return Ok(());
        }
        self.store.commit(commit).await.map_err(PushError::Store)?;
        summary.record(commit);
        self.emit(&PushEvent::Committed(commit));
        Ok(())
    }

    /// Pushes every pending record of `E`, a batch at a time.
    async fn push_resource<E: Pushed>(
        &self,
        summary: &mut PushSummary,
    ) -> Result<Flow, PushError<S::Error>> {
        loop {
            if self.stopping() {
                return Ok(Flow::Next);
            }
            let records = E::pending(&*self.store, self.client.sync_batch_size())
                .await
                .map_err(PushError::Store)?;
            if records.is_empty() {
                return Ok(Flow::Next);
            }
            let mut commit = Commit::new(E::KIND);
            let flow = self.push_batch::<E>(&records, &mut commit).await;
            self.commit(&commit, summary).await?;
            match flow {
                Flow::Next if commit.is_empty() => {
                    // A store that offers records again after they were committed would loop
                    // here for ever; stop the cycle instead.
                    return Ok(Flow::Stop(Error::InvalidInput(format!(
                        "the sync store offered {} pending {} but the push committed none of them",
                        records.len(),
                        E::KIND
                    ))));
                }
                Flow::Next => {}
                other => return Ok(other),
            }
        }
    }

    /// Sends one batch of pending records, setting aside the invalid ones before sending and
    /// the ones the platform refuses (by the item its 400 names, else by halving the batch until
    /// the refused record stands alone). Fills `commit`; the records it leaves out stay pending.
    async fn push_batch<E: Pushed>(&self, records: &[E::Record], commit: &mut Commit) -> Flow {
        let invalid = invalid_records::<E>(records);
        let mut sendable = Vec::with_capacity(records.len());
        let mut invalid = invalid.into_iter().peekable();
        for (index, record) in records.iter().enumerate() {
            match invalid.next_if(|r| r.index == index) {
                Some(bad) => commit.set_aside.push(SetAside {
                    source_id: bad.source_id,
                    reason: SetAsideReason::Invalid { fields: bad.fields },
                }),
                None => sendable.push(record),
            }
        }
        // Ranges of `sendable` still to send, the next one last.
        let mut ranges = vec![(0, sendable.len())];
        while let Some((lo, hi)) = ranges.pop() {
            let Some(slice) = sendable.get(lo..hi).filter(|s| !s.is_empty()) else {
                continue;
            };
            if self.observer.is_some() {
                let ids: Vec<&str> = slice.iter().map(|r| E::source_id(r)).collect();
                self.emit(&PushEvent::Sending {
                    resource: E::KIND,
                    source_ids: &ids,
                });
            }
            let batch = stamped::<E>(slice.iter().copied());
            match send_batch::<E>(&self.client, &batch).await {
                Ok(outcome) => E::applied(slice, &outcome, commit),
                Err(e) if needs_sign_in(&e) => return Flow::SignIn(e),
                Err(e) if refuses_records(&e, SYNC_REFUSALS) => {
                    match refused_item(&e).filter(|n| *n < slice.len()) {
                        Some(n) => {
                            if let Some(record) = slice.get(n) {
                                commit.set_aside.push(refusal(E::source_id(record), &e));
                            }
                            ranges.push((lo + n + 1, hi));
                            ranges.push((lo, lo + n));
                        }
                        None if slice.len() == 1 => {
                            if let Some(record) = slice.first() {
                                commit.set_aside.push(refusal(E::source_id(record), &e));
                            }
                        }
                        None => {
                            let mid = lo + slice.len() / 2;
                            ranges.push((mid, hi));
                            ranges.push((lo, mid));
                        }
                    }
                }
                Err(e) => return Flow::Stop(e),
            }
        }
        Flow::Next
    }

    /// Uploads the bytes of every recording whose metadata is applied, one committed step each.
    async fn push_uploads(&self, summary: &mut PushSummary) -> Result<Flow, PushError<S::Error>> {
        loop {
            if self.stopping() {
                return Ok(Flow::Next);
            }
            let uploads = self
                .store
                .pending_uploads(UPLOADS_PER_STEP)
                .await
                .map_err(PushError::Store)?;
            if uploads.is_empty() {
                return Ok(Flow::Next);
            }
            // One step is a group of uploads committed together: up to UPLOADS_PER_STEP
            // recordings, or fewer once UPLOAD_STEP_BYTES have landed, so a crash re-sends at
            // most that much (a bytes PUT is idempotent) while small recordings do not pay a
            // store transaction each.
            let mut commit = Commit::new(Resource::RecordingBytes);
            let mut landed_bytes: u64 = 0;
            let mut flow = Flow::Next;
            for upload in uploads {
                let size = upload.size_bytes;
                let (applied, aside) = (commit.applied.len(), commit.set_aside.len());
                match self.upload(upload, &mut commit).await {
                    Flow::Next if commit.applied.len() > applied => {
                        landed_bytes = landed_bytes.saturating_add(size);
                    }
                    Flow::Next if commit.set_aside.len() > aside => {}
                    Flow::Next => {
                        flow = Flow::Stop(Error::InvalidInput(
                            "an upload step committed nothing".into(),
                        ));
                        break;
                    }
                    other => {
                        flow = other;
                        break;
                    }
                }
                if landed_bytes >= UPLOAD_STEP_BYTES {
                    summary.bytes_uploaded = summary.bytes_uploaded.saturating_add(landed_bytes);
                    landed_bytes = 0;
                    self.commit(&commit, summary).await?;
                    commit = Commit::new(Resource::RecordingBytes);
                }
            }
            summary.bytes_uploaded = summary.bytes_uploaded.saturating_add(landed_bytes);
            self.commit(&commit, summary).await?;
            match flow {
                Flow::Next => {}
                other => return Ok(other),
            }
        }
    }

    async fn upload(&self, upload: PendingUpload, commit: &mut Commit) -> Flow {
        let PendingUpload {
            source_id,
            size_bytes,
            body,
        } = upload;
        if let Err(detail) = body_matches(&body, size_bytes) {
            commit.set_aside.push(SetAside {
                source_id,
                reason: SetAsideReason::Bytes { detail },
            });
            return Flow::Next;
        }
        let observer = self.observer.clone();
        let id = source_id.clone();
        let result = self
            .client
            .upload_recording_with_progress(&source_id, body, move |progress| {
                if let Some(observer) = &observer {
                    observer(&PushEvent::Uploading {
                        source_id: &id,
                        progress,
                    });
                }
            })
            .await;
        match result {
            Ok(()) => commit.applied.push(source_id),
            Err(e) if needs_sign_in(&e) => return Flow::SignIn(e),
            Err(e) if refuses_records(&e, BYTES_REFUSALS) => {
                commit.set_aside.push(refusal(&source_id, &e))
            }
            Err(Error::UploadBody { path, io, .. }) => {
                let detail = match path {
                    Some(path) => format!("cannot read {}: {io}", path.display()),
                    None => format!("its body could not be read: {io}"),
                };
                commit.set_aside.push(SetAside {
                    source_id,
                    reason: SetAsideReason::Bytes { detail },
                })
            }
            Err(e @ Error::InvalidInput(_)) => commit.set_aside.push(SetAside {
                source_id,
                reason: SetAsideReason::Bytes {
                    detail: e.to_string(),
                },
            }),
            Err(e) => return Flow::Stop(e),
        }
        Flow::Next
    }
}
