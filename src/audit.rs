//! The audit writer: where execution rows go when they are not part of a
//! write transaction.
//!
//! A successful write commits its audit row in its own transaction (the
//! pipeline does that). Every other row — reads, failures, denials,
//! timeouts — is handed to this writer, which batches rows into one
//! transaction (at most `MAX_BATCH` rows or `WINDOW` after the first row
//! arrived), so reads never wait for an fsync. [`AuditWriter::flush`] waits
//! until everything queued so far is on disk: doors call it on shutdown, and
//! the pipeline before an action that reads the audit trail
//! (`Action::reads_audit`), so an agent finds the calls it was answered.
//! A database that cannot take the rows (locked by another process) is
//! waited out for as long as the process runs: queued rows stay queued
//! until written. Calls wait for room in a full queue only until writes
//! have failed for `GIVE_UP`; past it a row that finds the queue full is
//! lost, and counted in the log. A stop gives up on what is queued after
//! `STOP_WAIT`, and says how many rows were lost.

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::store::audit::ExecutionRow;
use crate::store::{Db, keys, now_ms};

// Small, frequent batches: each row costs a few µs to insert, and a large
// batch is a burst of CPU that requests on a 2-core machine wait behind
// (measured: 1024 rows / 20 ms doubled the HTTP p99 against 256 / 5 ms).
const MAX_BATCH: usize = 256;
const WINDOW: Duration = Duration::from_millis(5);
const QUEUE: usize = 8192;
/// Backlog (rows queued, not yet written) at which the writer leaves the
/// idle scheduling class to catch up, and at which it goes back.
const BOOST_AT: usize = QUEUE / 4;
const RELAX_AT: usize = MAX_BATCH;
/// Queued rows older than this also boost the writer (a core kept busy by
/// other processes leaves an idle-class thread little time).
const STALE_MS: i64 = 500;
/// Backlog at which the writer is raised to the priority of the requests
/// (nice 0, where the process may): past it, requests are about to block
/// on a full queue, and a writer at nice 19 gets too small a share of
/// cores that requests keep busy to catch up. Far above the backlog of a
/// busy but not saturated server (about 3k rows at 8 HTTP clients on 2
/// cores), where a writer at full weight would slow the requests down.
const URGENT_AT: usize = QUEUE * 3 / 4;
/// While the database cannot take a batch (another process holds the
/// write lock, the disk is full), the writer keeps trying as long as the
/// process runs: the rows stay queued, and once the queue is full calls
/// wait for it rather than go unaudited (until `GIVE_UP`). Each try waits
/// at most this long for a lock (the writer's busy timeout), or pauses
/// this long after another error, so a stop is noticed within it.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How long writes may fail before calls stop waiting for room in a full
/// queue. Past it, a row that finds the queue full is dropped (counted,
/// and said at most every `WARN_EVERY`) and its call goes on: a database
/// locked for good must not hold calls up for good — nor a SIGTERM, whose
/// handler cannot run while calls occupy the runtime's few threads. Rows
/// already queued are kept, and the first write that succeeds ends the
/// dropping: nothing is lost while the database can be written.
/// (`WHALE_AUDIT_GIVE_UP_MS` shortens it for tests.)
const GIVE_UP: Duration = Duration::from_secs(60);
/// How long a caller waiting for room in a full queue sleeps before it
/// tries again (and asks whether to give up).
const SLICE: Duration = Duration::from_millis(1);
/// How long a stopping writer keeps trying to write what is queued while
/// the database cannot take it; what is left then is lost, and counted in
/// the log. A flush waits no longer than this once writes are failing; a
/// stop after a flush that gave up, in the same failure, does not wait
/// again (one deadline for an HTTP shutdown, which flushes and stops).
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How often a writer that keeps failing says so again.
const WARN_EVERY: Duration = Duration::from_secs(60);

enum Msg {
    Row(Box<ExecutionRow>, Option<String>),
    /// An API key (by id) authenticated a request at this time (ms).
    Touch(String, i64),
    Flush(std::sync::mpsc::Sender<()>),
    /// Flush, close the connection and end the thread.
    Stop,
}

#[derive(Clone)]
pub struct AuditWriter {
    worker: Arc<Worker>,
}

/// The writer thread and its queue, both made by the first row: a process
/// that audits nothing (an `initialize` and out, a `stores list`) pays for
/// neither the thread nor the queue's buffer.
struct Worker {
    db: Arc<Db>,
    tx: OnceLock<SyncSender<Msg>>,
    handle: Mutex<Option<std::thread::JoinHandle<()>>>,
    pace: Arc<Pace>,
}

/// Shared by the queueing side and the writer thread.
#[derive(Default)]
struct Pace {
    /// Rows queued and not yet committed.
    backlog: AtomicUsize,
    /// How many rows found the queue full (their callers waited).
    waits: AtomicUsize,
    /// Since when (ms since the epoch) rows have been waiting: set when
    /// the backlog leaves zero and after each batch that leaves some.
    pending_since: AtomicI64,
    /// Since when (ms) writes have been failing with an error that
    /// waiting may mend; 0 while they succeed.
    failing_since: AtomicI64,
    /// When (ms) a stopping writer gives up on what it cannot write; 0
    /// while the process runs.
    stop_by: AtomicI64,
    /// The `failing_since` of the failure a flush waited `STOP_WAIT` out
    /// and gave up on (0: none). A stop during that same failure does not
    /// wait again.
    flush_gave_up: AtomicI64,
    /// Rows dropped at a full queue past `GIVE_UP`, and when (ms) that was
    /// last said.
    dropped: AtomicUsize,
    dropped_said: AtomicI64,
    /// `GIVE_UP` and `STOP_WAIT`, in ms.
    give_up_ms: i64,
    stop_wait_ms: i64,
    priority: priority::Priority,
}

impl Pace {
    /// Whether writes have been failing for at least `ms`.
    fn failing_for(&self, ms: i64) -> bool {
        let since = self.failing_since.load(Ordering::Relaxed);
        since != 0 && now_ms() - since >= ms
    }

    /// Whether a flush has waited long enough (writes failing for
    /// `STOP_WAIT`); if so, remembers that this failure was waited out.
    fn flush_gives_up(&self) -> bool {
        if !self.failing_for(self.stop_wait_ms) {
            return false;
        }
        let since = self.failing_since.load(Ordering::Relaxed);
        self.flush_gave_up.store(since, Ordering::Relaxed);
        true
    }
}

/// Why a message was not queued.
enum Unsent {
    /// The queue stayed full until the caller gave up.
    Full,
    /// The writer has ended.
    Gone,
}

/// Queues `msg`, waiting for room in a full queue in `SLICE`s, until
/// `give_up` says to stop waiting.
fn send_patiently(
    tx: &SyncSender<Msg>,
    pace: &Pace,
    mut msg: Msg,
    give_up: impl Fn(&Pace) -> bool,
) -> Result<(), Unsent> {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(Unsent::Gone),
            Err(TrySendError::Full(m)) => {
                if give_up(pace) {
                    return Err(Unsent::Full);
                }
                msg = m;
                std::thread::sleep(SLICE);
            }
        }
    }
}

impl AuditWriter {
    pub fn start(db: Arc<Db>) -> AuditWriter {
        let give_up = crate::settings::audit_give_up().unwrap_or(GIVE_UP);
        AuditWriter::with_limits(db, give_up, STOP_WAIT)
    }

    fn with_limits(db: Arc<Db>, give_up: Duration, stop_wait: Duration) -> AuditWriter {
        AuditWriter {
            worker: Arc::new(Worker {
                db,
                tx: OnceLock::new(),
                handle: Mutex::new(None),
                pace: Arc::new(Pace {
                    give_up_ms: give_up.as_millis() as i64,
                    stop_wait_ms: stop_wait.as_millis() as i64,
                    ..Pace::default()
                }),
            }),
        }
    }

    /// The queue, starting the thread on first use.
    fn sender(&self) -> &SyncSender<Msg> {
        self.worker.tx.get_or_init(|| {
            let (tx, rx) = sync_channel(QUEUE);
            let (db, pace) = (self.worker.db.clone(), self.worker.pace.clone());
            let handle = std::thread::Builder::new()
                .name("whale-audit".into())
                .spawn(move || run(&db, &pace, rx))
                .expect("spawn audit thread");
            *self.worker.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            tx
        })
    }

    /// Queues a row (and the key whose last-used time it refreshes).
    pub fn record(&self, row: ExecutionRow, key_id: Option<String>) {
        let pace = &self.worker.pace;
        let queued = pace.backlog.fetch_add(1, Ordering::Relaxed);
        if queued == 0 {
            pace.pending_since.store(now_ms(), Ordering::Relaxed);
        } else if queued + 1 >= BOOST_AT || now_ms() - pace.pending_since.load(Ordering::Relaxed) > STALE_MS {
            pace.priority.boost();
            if queued + 1 >= URGENT_AT {
                pace.priority.urgent();
            }
        }
        let sent = match self.sender().try_send(Msg::Row(Box::new(row), key_id)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => {
                // Backpressure: the caller waits until the writer takes a
                // batch. Said once when it starts; the count comes at stop.
                if pace.waits.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        queue = QUEUE,
                        "the audit queue is full: calls wait for the audit writer, which cannot keep up"
                    );
                }
                // Not past `GIVE_UP` of failing writes, though.
                send_patiently(self.sender(), pace, msg, |p| p.failing_for(p.give_up_ms))
            }
            Err(TrySendError::Disconnected(_)) => Err(Unsent::Gone),
        };
        match sent {
            Ok(()) => {}
            Err(Unsent::Full) => {
                pace.backlog.fetch_sub(1, Ordering::Release);
                let rows = pace.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let (now, said) = (now_ms(), pace.dropped_said.load(Ordering::Relaxed));
                if (said == 0 || now - said >= WARN_EVERY.as_millis() as i64)
                    && pace
                        .dropped_said
                        .compare_exchange(said, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::error!(
                        rows,
                        failing_ms = pace.give_up_ms,
                        "the database has refused audit rows for too long and the audit queue is full: \
                         calls go on, and the rows that do not fit are lost (counted so far)"
                    );
                }
            }
            Err(Unsent::Gone) => tracing::error!("audit writer stopped; an execution row was lost"),
        }
    }

    /// Queues a refresh of an API key's `last_used_at` (by id, to `at`),
    /// written with the next batch. Best effort: a full queue drops it,
    /// as a later use or call refreshes it again.
    pub fn touch(&self, key_id: String, at: i64) {
        let _ = self.sender().try_send(Msg::Touch(key_id, at));
    }

    /// Writes what is queued, closes the writer's connection and ends its
    /// thread. Rows the database cannot take within `STOP_WAIT` (locked by
    /// another process) are given up on, and counted in the log — at once
    /// when a flush has already waited this failure out. A second call
    /// does nothing.
    pub fn stop(&self) {
        let handle = self
            .worker
            .handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(handle) = handle else {
            return; // never started, or stopped already
        };
        let pace = &self.worker.pace;
        // One deadline per failure: a flush that already waited it out
        // (an HTTP shutdown flushes first) is not followed by a second wait.
        let since = pace.failing_since.load(Ordering::Relaxed);
        let waited_out = since != 0 && pace.flush_gave_up.load(Ordering::Relaxed) == since;
        let by = now_ms() + if waited_out { 0 } else { pace.stop_wait_ms };
        pace.stop_by.store(by, Ordering::Relaxed);
        pace.priority.boost();
        if let Some(tx) = self.worker.tx.get()
            && tx.send(Msg::Stop).is_ok()
        {
            let _ = handle.join();
        }
        let waits = pace.waits.load(Ordering::Relaxed);
        if waits > 0 {
            tracing::warn!(calls = waits, "calls that waited for a full audit queue");
        }
        let dropped = pace.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::error!(
                rows = dropped,
                "audit rows lost in all at a full queue while the database refused them"
            );
        }
    }

    /// Blocks until every row queued before this call is committed.
    pub fn flush(&self) {
        let Some(tx) = self.worker.tx.get() else {
            return; // nothing was ever queued
        };
        // Rows count in the backlog from before they are sent until they
        // are committed: none means there is nothing to wait for (the
        // common case for an `audit_trail` call), and the writer stays in
        // the background.
        if self.worker.pace.backlog.load(Ordering::Acquire) == 0 {
            return;
        }
        // Someone waits: write at normal priority until caught up.
        self.worker.pace.priority.boost();
        // Until written, or until writes have failed for `STOP_WAIT` (a
        // database locked by another process): the caller goes on with
        // what is committed rather than wait for the lock's holder. That
        // holds for room in a full queue too.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if send_patiently(tx, &self.worker.pace, Msg::Flush(done_tx), Pace::flush_gives_up).is_err() {
            return;
        }
        loop {
            match done_rx.recv_timeout(RETRY_PAUSE) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if self.worker.pace.flush_gives_up() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        // The last clone flushes what is queued before the process exits.
        if Arc::strong_count(&self.worker) == 1 {
            self.flush();
        }
    }
}

fn run(db: &Db, pace: &Pace, rx: Receiver<Msg>) {
    pace.priority.enter_background();
    // Opened on the first batch: a process that audits nothing (or not yet)
    // does not pay for a second connection at start.
    let mut conn: Option<rusqlite::Connection> = None;
    let mut opened = false;
    let mut batch: Vec<(Box<ExecutionRow>, Option<String>)> = Vec::with_capacity(MAX_BATCH);
    let mut touches: Vec<(String, i64)> = Vec::new();
    let mut waiters = Vec::new();
    // Rows given up on at stop (said once, when the writer ends).
    let mut lost = 0;
    loop {
        let first = match rx.recv() {
            Ok(m) => m,
            Err(_) => return,
        };
        // Take what is queued; if that is a small batch, let the window
        // fill without waking for every row (one wake per batch instead of
        // one per call, measured to matter under load), then take again.
        // A backlog is written at once, in batches of MAX_BATCH.
        // Returns true on a flush request (it ends the batch).
        let mut stop = false;
        let mut take = |msg: Msg, batch: &mut Vec<_>| match msg {
            Msg::Row(r, k) => {
                batch.push((r, k));
                false
            }
            Msg::Touch(k, at) => {
                touches.push((k, at));
                false
            }
            Msg::Flush(w) => {
                waiters.push(w);
                true
            }
            Msg::Stop => {
                stop = true;
                true
            }
        };
        let mut flushing = take(first, &mut batch);
        for round in 0..2 {
            while !flushing && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => flushing = take(m, &mut batch),
                    Err(_) => break,
                }
            }
            if round == 0 && !flushing && batch.len() < MAX_BATCH {
                std::thread::sleep(WINDOW);
            } else {
                break;
            }
        }
        let wrote = !batch.is_empty() || !touches.is_empty();
        if wrote {
            if !opened {
                opened = true;
                conn = db
                    .relaxed_connection(RETRY_PAUSE)
                    .map_err(|e| tracing::error!(error = %e, "audit writer cannot open its connection; using the pool"))
                    .ok();
            }
            if !write_until_done(db, conn.as_mut(), &batch, &touches, pace) {
                lost += batch.len();
            }
            touches.clear();
            // Release: a flush that then reads a backlog of zero sees the
            // batch committed.
            let left = pace.backlog.fetch_sub(batch.len(), Ordering::Release) - batch.len();
            if left > 0 {
                pace.pending_since.store(now_ms(), Ordering::Relaxed);
            }
            if left <= RELAX_AT {
                pace.priority.relax();
            }
            batch.clear();
        }
        if !wrote && !waiters.is_empty() && pace.backlog.load(Ordering::Acquire) == 0 {
            // A flush that found its rows already written boosted the writer
            // for nothing: back to the background.
            pace.priority.relax();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if stop {
            if let Some(c) = conn.take() {
                let _ = c.close();
            }
            if lost > 0 {
                tracing::error!(
                    rows = lost,
                    "audit rows could not be written before exit; they are lost"
                );
            }
            return;
        }
    }
}

/// How the writer thread is scheduled.
///
/// Read audits are written behind, so the writer should take only CPU that
/// requests leave unused. On Linux it runs in the `SCHED_IDLE` class: it
/// gets a core only when nothing else wants it, and the kernel counts a
/// core that runs only idle-class threads as free when it places a waking
/// request thread — so the writer never delays a request and never hides a
/// free core from one. (Measured on 2 cores at 8 HTTP clients with the
/// writer at nice 19 instead: request threads waited up to 3 ms in a run
/// queue while the other core ran the writer.)
///
/// An idle-class thread can starve under sustained full load; rows would
/// then pile up until the bounded queue blocks requests. So when the
/// backlog reaches `BOOST_AT` rows, or rows have waited `STALE_MS`,
/// whoever queues the row moves the writer to the normal class at nice 19
/// until it has caught up (`RELAX_AT`); a flush or stop (someone waits)
/// does the same. Measured on 2 cores, 5 s per case, 5 runs each against
/// nice 19 throughout: whale/echo p99 at 8 clients, median 0.92× (was
/// 1.67×); at 32, 1.08× (was 1.31×).
///
/// Nice 19 is a small share of cores that requests keep busy: at 32 HTTP
/// clients with another busy process on the machine, the queue still
/// filled in every run. So at `URGENT_AT` (three quarters full) the writer
/// also goes to nice 0, the requests' own priority, where the process may
/// (`CAP_SYS_NICE`, or `RLIMIT_NICE` ≥ 20; else as near as it may), until
/// it has caught up. Measured with `yes` busy on one core, c=32, 4
/// alternating runs: the queue filled in 4 of 4 without this and 0 of 4
/// with it; whale/echo p99 1.07–1.33× against 1.00–1.13×, calls/s
/// 1.21–1.35× against 1.34–1.54×. At 8 clients the backlog stays under
/// 3k rows and nothing changes. Elsewhere these are no-ops and the writer
/// runs at normal priority.
mod priority {
    /// The writer's scheduling: nice 19 throughout; in the background it is
    /// in the idle class (`SCHED_IDLE`), so it runs only on a core nothing
    /// else wants, and when rows pile up it goes back to the normal class
    /// until it has caught up.
    ///
    /// Leaving the idle class needs the right to raise a priority:
    /// `CAP_SYS_NICE`, or an `RLIMIT_NICE` soft limit of at least 1 (nice
    /// 19). Most users have neither (the default limit is 0): a thread of
    /// theirs that entered the idle class could never leave it, and would
    /// starve while other processes keep the cores busy. Without the right,
    /// the writer stays in the normal class at nice 19, as it was before
    /// the idle class was used.
    #[derive(Default)]
    pub struct Priority {
        #[cfg(target_os = "linux")]
        tid: std::sync::atomic::AtomicI32,
        #[cfg(target_os = "linux")]
        boosted: std::sync::atomic::AtomicBool,
        /// Whether the writer was raised above nice 19 (see `urgent`).
        #[cfg(target_os = "linux")]
        urgent: std::sync::atomic::AtomicBool,
        /// The lowest nice value the process may set, known once the
        /// writer has started. The writer enters the idle class only when
        /// this is at most 19 (so it may leave it again).
        #[cfg(target_os = "linux")]
        floor: std::sync::OnceLock<i32>,
    }

    #[cfg(target_os = "linux")]
    impl Priority {
        /// Called on the writer thread when it starts.
        pub fn enter_background(&self) {
            let tid = rustix::thread::gettid();
            let floor = nice_floor();
            let idle = floor <= 19;
            let _ = self.floor.set(floor);
            let raw = tid.as_raw_nonzero().get();
            set_nice(raw, 19);
            self.tid.store(raw, std::sync::atomic::Ordering::Release);
            if !idle {
                tracing::debug!(
                    floor,
                    "no right to raise a priority (CAP_SYS_NICE or RLIMIT_NICE): the audit writer stays in the normal class"
                );
            } else if !self.boosted.load(std::sync::atomic::Ordering::Acquire) {
                // A boost asked for before the tid was known still holds.
                set_class(0, libc::SCHED_IDLE);
            }
        }

        /// Whether the writer entered the idle class (so may leave it).
        fn idle(&self) -> bool {
            self.floor.get().is_some_and(|f| *f <= 19)
        }

        /// The backlog is large: let the writer compete for the CPU.
        pub fn boost(&self) {
            if !self.boosted.swap(true, std::sync::atomic::Ordering::AcqRel) {
                let tid = self.tid.load(std::sync::atomic::Ordering::Acquire);
                if tid != 0 && self.idle() {
                    set_class(tid, libc::SCHED_OTHER);
                }
            }
        }

        /// The queue is nearly full: raise the writer to the requests'
        /// priority (nice 0), or as near as the process may, until it has
        /// caught up. Called after `boost`.
        pub fn urgent(&self) {
            let tid = self.tid.load(std::sync::atomic::Ordering::Acquire);
            let Some(&floor) = self.floor.get() else { return };
            if tid == 0 || floor >= 19 || self.urgent.swap(true, std::sync::atomic::Ordering::AcqRel) {
                return;
            }
            set_nice(tid, floor.max(0));
        }

        /// Called by the writer once it has caught up. (A boost racing with
        /// this can leave the writer in the normal class until the next
        /// boost and relax: harmless.)
        pub fn relax(&self) {
            if self.urgent.swap(false, std::sync::atomic::Ordering::AcqRel) {
                set_nice(self.tid.load(std::sync::atomic::Ordering::Acquire), 19);
            }
            if self.boosted.swap(false, std::sync::atomic::Ordering::AcqRel) && self.idle() {
                set_class(0, libc::SCHED_IDLE);
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn set_nice(tid: i32, nice: i32) {
        let Some(tid) = rustix::process::Pid::from_raw(tid) else {
            return;
        };
        if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
            tracing::debug!(error = %e, nice, "cannot set the audit writer's nice value");
        }
    }

    /// The lowest nice value this process may set: -20 with `CAP_SYS_NICE`,
    /// else `20 - RLIMIT_NICE` (the soft limit; see setrlimit(2)).
    #[cfg(target_os = "linux")]
    fn nice_floor() -> i32 {
        let capable = rustix::thread::capabilities(None)
            .map(|c| c.effective.contains(rustix::thread::CapabilitySet::SYS_NICE))
            .unwrap_or(false);
        if capable {
            return -20;
        }
        match rustix::process::getrlimit(rustix::process::Resource::Nice).current {
            None => -20,
            Some(limit) => 20 - limit.min(40) as i32,
        }
    }

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn set_class(tid: libc::pid_t, policy: libc::c_int) {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid, initialized `sched_param` that lives
        // across the call; the kernel only reads it. A tid of 0 is the
        // calling thread; otherwise it is the writer thread's own tid,
        // which stays valid while the `Worker` (and so the thread) lives.
        let rc = unsafe { libc::sched_setscheduler(tid, policy, &param) };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), policy, "cannot set the audit writer's scheduling class");
        }
    }

    #[cfg(not(target_os = "linux"))]
    impl Priority {
        pub fn enter_background(&self) {}
        pub fn boost(&self) {}
        pub fn urgent(&self) {}
        pub fn relax(&self) {}
    }
}

/// Writes a batch, waiting out a database that cannot take it yet: another
/// process holding the write lock, a full disk. The rows stay queued
/// meanwhile (so calls wait once the queue is full, rather than go
/// unaudited), for as long as the process runs. Gives up on an error that
/// waiting cannot mend (said at once), or once a stop's `STOP_WAIT` has
/// passed. Returns false for a batch given up at a stop: the caller counts
/// those rows and says how many once, as the writer ends.
fn write_until_done(
    db: &Db,
    mut conn: Option<&mut rusqlite::Connection>,
    batch: &[(Box<ExecutionRow>, Option<String>)],
    touches: &[(String, i64)],
    pace: &Pace,
) -> bool {
    let mut warned: Option<std::time::Instant> = None;
    loop {
        let stopping = |pace: &Pace| {
            let by = pace.stop_by.load(Ordering::Relaxed);
            by != 0 && now_ms() >= by
        };
        // Past a stop's deadline, what is left is not tried again.
        if pace.failing_since.load(Ordering::Relaxed) != 0 && stopping(pace) {
            return false;
        }
        let Err(e) = write_batch(db, conn.as_deref_mut(), batch, touches) else {
            pace.failing_since.store(0, Ordering::Relaxed);
            return true;
        };
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
        let code = match &e {
            crate::store::DbError::Sql(rusqlite::Error::SqliteFailure(f, _)) => Some(f.code),
            _ => None,
        };
        let waiting_helps = matches!(
            code,
            Some(DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure)
        );
        if !waiting_helps {
            tracing::error!(error = %e, rows = batch.len(), "could not write audit rows; they are lost");
            return true;
        }
        let _ = pace
            .failing_since
            .compare_exchange(0, now_ms(), Ordering::Relaxed, Ordering::Relaxed);
        if stopping(pace) {
            return false;
        }
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            warned = Some(std::time::Instant::now());
            tracing::warn!(error = %e, rows = batch.len(), "audit rows not written yet; trying again until they are");
        }
        // A busy database has already been waited for (the busy timeout).
        if code != Some(DatabaseBusy) {
            std::thread::sleep(RETRY_PAUSE);
        }
    }
}

fn write_batch(
    db: &Db,
    conn: Option<&mut rusqlite::Connection>,
    batch: &[(Box<ExecutionRow>, Option<String>)],
    touches: &[(String, i64)],
) -> Result<(), crate::store::DbError> {
    let now = now_ms();
    let write = |tx: &rusqlite::Transaction<'_>| -> Result<(), crate::store::DbError> {
        crate::store::audit::insert_all(tx, batch.iter().map(|(row, _)| &**row))?;
        // API keys record their last use; OAuth grants (`grt_…`) do not.
        let mut touched: Vec<&str> = batch
            .iter()
            .filter_map(|(_, k)| k.as_deref())
            .filter(|k| k.starts_with("key_"))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for k in touched {
            keys::touch(tx, k, now)?;
        }
        for (k, at) in touches {
            keys::touch(tx, k, *at)?;
        }
        Ok(())
    };
    match conn {
        Some(conn) => conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(crate::store::DbError::from)
            .and_then(|tx| {
                write(&tx)?;
                tx.commit().map_err(crate::store::DbError::from)
            }),
        None => db.write(write),
    }
}

const SECRET_WORDS: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "card_number",
    "cvv",
];

/// Prefixes of whale's own secrets (API keys, OAuth tokens, codes, client
/// secrets): every such token is redacted, at any depth and inside any
/// string.
const SECRET_PREFIXES: &[&str] = &["wt_live_", "wt_test_", "wo_at_", "wo_rt_", "wo_ac_", "wo_cs_"];

fn secret_key(k: &str) -> bool {
    let k = k.as_bytes();
    SECRET_WORDS.iter().any(|w| {
        k.windows(w.len())
            .any(|win| win.eq_ignore_ascii_case(w.as_bytes()))
    })
}

const REDACTED: &str = "[REDACTED]";

/// Where the first of whale's own secrets in `s` starts, and how long its
/// prefix is. Each prefix starts with `w`, so this scans for that byte and
/// compares the prefixes only there: most strings cost one `memchr`.
fn find_secret(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find('w') {
        let at = from + i;
        // Every prefix is `wt_` or `wo_`: most `w`s end the check here.
        let b = s.as_bytes();
        if b.get(at + 2) == Some(&b'_')
            && matches!(b.get(at + 1), Some(b't' | b'o'))
            && let Some(p) = SECRET_PREFIXES.iter().find(|p| s[at..].starts_with(**p))
        {
            return Some((at, p.len()));
        }
        from = at + 1;
    }
    None
}

fn secret_string(s: &str) -> bool {
    find_secret(s).is_some()
}

/// What stands in for JSON text too long to keep or show whole: its size
/// in bytes and its first `keep` characters.
pub fn truncated(json: &str, keep: usize) -> serde_json::Value {
    serde_json::json!({
        "whale/truncated": {
            "bytes": json.len(),
            "start": shorten(json, keep),
        }
    })
}

/// At most `max` characters of `s` (whole characters), with `…` when cut:
/// a caller's long text quoted in a record or an error.
pub fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
    }
}

/// `s` with each of whale's own secrets in it — a prefix and the token
/// characters after it — replaced by `[REDACTED]`: a key pasted into a
/// note, or echoed by an error message, is hidden and the text around it
/// kept.
pub fn redact_text(s: &str) -> Cow<'_, str> {
    let Some(mut found) = find_secret(s) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let (at, prefix) = found;
        out.push_str(&rest[..at]);
        out.push_str(REDACTED);
        let token = &rest[at + prefix..];
        let end = token
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(token.len());
        rest = &token[end..];
        match find_secret(rest) {
            Some(next) => found = next,
            None => break,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether anything in `v` would be redacted (a walk, no allocation).
pub fn has_secret(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| secret_key(k) || has_secret(v)),
        Value::Array(a) => a.iter().any(has_secret),
        Value::String(s) => secret_string(s),
        _ => false,
    }
}

/// `v` as it is stored in an audit row: JSON with the values of
/// secret-looking keys and whale's own secrets replaced by `[REDACTED]`.
/// The common case — nothing to hide — is one plain serialization.
pub fn redacted_json(v: &Value) -> String {
    if has_secret(v) {
        redact(v).to_string()
    } else {
        v.to_string()
    }
}

/// A copy of `v` with the values of secret-looking keys replaced.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    if secret_key(k) {
                        (k.clone(), Value::String(REDACTED.into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) => Value::String(redact_text(s).into_owned()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> ExecutionRow {
        ExecutionRow {
            id: crate::store::new_id("exe"),
            store_id: "demo".into(),
            mode: "live",
            tool: "store".into(),
            action: Some("get_settings".into()),
            agent_id: None,
            agent_name: "test".into(),
            status: "success",
            error_code: None,
            error: None,
            duration_us: 1,
            input: "{}".into(),
            output: None,
            created_at: now_ms(),
        }
    }

    /// An HTTP shutdown flushes, then stops: behind a locked database the
    /// flush gives up after `STOP_WAIT` of failing writes, and the stop
    /// gives up at once instead of waiting that long again.
    #[test]
    fn a_stop_after_a_flush_that_gave_up_does_not_wait_again() {
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-test"));
        let path = dir.join("w.db");
        let db = Arc::new(Db::open(&path).unwrap());
        let other = Db::open(&path).unwrap();
        let holder = other.conn().unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let stop_wait = Duration::from_millis(500);
        let w = AuditWriter::with_limits(db, GIVE_UP, stop_wait);
        w.record(row(), None);
        w.flush();
        let pace = &w.worker.pace;
        assert_ne!(
            pace.failing_since.load(Ordering::Relaxed),
            0,
            "the flush gave up on a failing write"
        );
        let asked = now_ms();
        w.stop();
        let by = pace.stop_by.load(Ordering::Relaxed);
        assert!(
            by < asked + stop_wait.as_millis() as i64,
            "the stop gave itself until {by}, asked at {asked}: it waited again"
        );
        drop(holder);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = json!({"a": 1, "nested": {"password": "hunter2", "list": [{"api_key": "x"}]},
                       "note": "wt_live_abc"});
        let r = redact(&v);
        assert_eq!(r["a"], 1);
        assert_eq!(r["nested"]["password"], "[REDACTED]");
        assert_eq!(r["nested"]["list"][0]["api_key"], "[REDACTED]");
        assert_eq!(r["note"], "[REDACTED]");
        assert_eq!(redacted_json(&v), r.to_string());
        let token = json!({"t": ["wo_rt_abc"], "ACCESS_TOKEN": 1, "plain": "x"});
        assert_eq!(redact(&token)["t"][0], "[REDACTED]");
        assert_eq!(redact(&token)["ACCESS_TOKEN"], "[REDACTED]");
        let clean = json!({"a": [1, {"b": "c"}]});
        assert_eq!(redacted_json(&clean), clean.to_string());
    }

    /// `find_secret` checks the two bytes after a `w` before comparing
    /// prefixes; a prefix of another shape would never be found.
    #[test]
    fn every_secret_prefix_has_the_shape_the_scan_expects() {
        for p in SECRET_PREFIXES {
            let b = p.as_bytes();
            assert!(b[0] == b'w' && matches!(b[1], b't' | b'o') && b[2] == b'_', "{p}");
            assert_eq!(find_secret(&format!("x {p}abc")), Some((2, p.len())), "{p}");
        }
    }

    #[test]
    fn secrets_inside_text_are_cut_out_and_the_text_around_them_kept() {
        let key = "wt_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd12-3_4";
        let note = format!("customer said {key}, twice: ({key}) — wo_rt_x.y");
        assert_eq!(
            redact_text(&note),
            "customer said [REDACTED], twice: ([REDACTED]) — [REDACTED].y"
        );
        let v = json!({"note": note, "list": [format!("key={key}")]});
        assert!(has_secret(&v));
        let stored = redacted_json(&v);
        assert!(!stored.contains("ABCDEFGH"), "{stored}");
        assert_eq!(redact(&v)["list"][0], "key=[REDACTED]");
        // Nothing to hide: borrowed, unchanged; a lone `w` or a near miss is no secret.
        for plain in ["", "w", "wow wt_liv", "swt_test", "plain text"] {
            assert!(
                matches!(redact_text(plain), Cow::Borrowed(p) if p == plain),
                "{plain}"
            );
        }
        // "swt_test_…" still holds the prefix: redacted from the prefix on.
        assert_eq!(redact_text("swt_test_abc def"), "s[REDACTED] def");
    }
}
