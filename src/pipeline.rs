//! THE execution pipeline (SPEC §4): the only place a tool runs.
//!
//! Every door — stdio MCP, HTTP, `whale tools test|call`, REST — hands a
//! [`Credential`] and a [`CallRequest`] to [`Pipeline::call`], which runs the
//! stages in this order:
//!
//! 1. resolve the caller (store, mode, agent, scopes) — on every call, so a
//!    revoked or expired key stops working mid-session;
//! 2. find the tool and action (either spelling) and validate the input
//!    against the action's schema;
//! 3. check the caller's scopes;
//! 4. execute on a blocking thread with a deadline (and the client's
//!    cancellation): a write commits only if it wins the race against the
//!    deadline, so a timed-out or cancelled call never half-happens;
//! 5. write the audit row — in the write's own transaction for a successful
//!    write (durable before the answer), through the batching
//!    [`AuditWriter`] for everything else.
//!
//! Approval gating (§6) and per-client rate limits (§7) slot in between
//! stages 3 and 4 when those issues land.
//!
//! A door never checks a scope or writes an audit row; it only translates.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditWriter, redact_text, redacted_json, shorten};
use crate::auth::{AuthError, Credential, Principal, ScopeSet, keys};
use crate::error::ToolError;
use crate::store::audit::ExecutionRow;
use crate::store::{ChangeStamp, Db, Scope, Scoped, new_time_id, now_ms, stores};
use crate::tools::{Action, Ctx, Registry, Tool, ToolFilter};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A tool call as a door received it.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// `products` (grouped; the action is in `arguments.action`) or
    /// `products_list_products` (flat).
    pub name: String,
    pub arguments: Option<Map<String, Value>>,
}

/// The outcome of a call that reached a tool (successfully or not).
#[derive(Debug)]
pub struct CallOutcome {
    pub exec_id: String,
    pub tool: &'static str,
    pub action: Option<&'static str>,
    pub duration: Duration,
    pub result: Result<Value, ToolError>,
    /// `result`'s success value as JSON text, when the pipeline already
    /// serialized it for the audit row (doors reuse it instead of
    /// serializing the same value again).
    pub text: Option<String>,
}

/// A call that never reached a tool: the request itself is wrong.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
}

pub struct Pipeline {
    db: Arc<Db>,
    registry: Arc<Registry>,
    stages: Stages,
    /// Calls between stage 1 and their outcome (graceful shutdown waits for 0).
    in_flight: Arc<AtomicUsize>,
    /// Run reads on the calling task instead of the blocking pool.
    inline_reads: AtomicBool,
    /// Stores the local owner was found to have.
    known_stores: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Credentials resolved recently, valid while the database has seen no
    /// commit since (see [`Db::change_stamp`]).
    resolved: std::sync::Mutex<std::collections::HashMap<Vec<u8>, Resolved>>,
    /// API keys by id, with when their use was last queued for
    /// `last_used_at` ([`Pipeline::note_use`]).
    touched: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// The external authorization server, when whale is a pure resource server.
    external: std::sync::OnceLock<Arc<crate::oauth::external::Introspector>>,
}

/// A credential resolved while the database was at `stamp`.
struct Resolved {
    stamp: ChangeStamp,
    at: Instant,
    principal: Principal,
    revoked_at: Option<i64>,
    expires_at: Option<i64>,
    /// OAuth tokens: the audience they were issued for.
    audience: Option<String>,
}

/// Upper bound on how long a resolved credential is reused even when the
/// database reports no commit (belt and braces).
const RESOLVED_TTL: Duration = Duration::from_secs(5);
const RESOLVED_MAX: usize = 10_000;
/// How often, at most, a key's use outside tool calls is written to its
/// `last_used_at` ([`Pipeline::note_use`]).
const TOUCH_EVERY_MS: i64 = 60_000;

/// Counts a call in flight until dropped (by the task that finishes the
/// call, which may outlive the caller's wait).
struct InFlight(Arc<AtomicUsize>);
impl InFlight {
    fn start(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count.clone())
    }
}
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const TIMED_OUT: u8 = 2;
const CANCELLED: u8 = 3;

impl Pipeline {
    pub fn new(db: Arc<Db>, registry: Arc<Registry>, audit: AuditWriter, timeout: Duration) -> Self {
        Pipeline {
            db,
            registry,
            stages: Stages { audit, timeout },
            in_flight: Arc::new(AtomicUsize::new(0)),
            inline_reads: AtomicBool::new(false),
            known_stores: Default::default(),
            external: std::sync::OnceLock::new(),
            resolved: Default::default(),
            touched: Default::default(),
        }
    }

    /// A pipeline with this one's registry and timeout over another
    /// database, with an audit writer of its own (`whale tools test` runs
    /// examples on scratch copies this way).
    pub fn over(&self, db: Arc<Db>) -> Pipeline {
        let audit = AuditWriter::start(db.clone());
        Pipeline::new(db, self.registry.clone(), audit, self.stages.timeout)
    }

    /// The external authorization server's introspector, when set.
    pub fn external(&self) -> Option<&crate::oauth::external::Introspector> {
        self.external.get().map(|e| e.as_ref())
    }

    /// Validates OAuth tokens by introspection at an external authorization
    /// server from now on (HTTP mode with `--auth-server`).
    pub fn set_external(&self, ext: Arc<crate::oauth::external::Introspector>) {
        let _ = self.external.set(ext);
    }

    /// Reads run on the calling task (for a door with one client, stdio,
    /// whose runtime has nothing else to do meanwhile).
    pub fn set_inline_reads(&self, on: bool) {
        self.inline_reads.store(on, Ordering::Relaxed);
    }

    /// Calls running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn audit(&self) -> &AuditWriter {
        &self.stages.audit
    }

    /// Stage 1: who is calling. Tokens of an external authorization server
    /// are introspected (cached up to a minute); everything else is looked
    /// up in the database.
    pub async fn resolve(&self, cred: &Credential) -> Result<Principal, AuthError> {
        if let (Credential::Token { token, resource }, Some(ext)) = (cred, self.external.get()) {
            return ext.resolve(token, resource.as_deref()).await;
        }
        let principal = self.resolve_local(cred)?;
        self.note_use(&principal);
        Ok(principal)
    }

    /// Records that an API key authenticated a request (any request: a
    /// `tools/list`, an HTTP `initialize`, not only a tool call), so
    /// `keys list` shows when a key was last in use before someone revokes
    /// it. Written behind by the audit writer, at most once a
    /// [`TOUCH_EVERY_MS`] per key from here (a tool call's audit row also
    /// refreshes it, to the moment of the call).
    fn note_use(&self, principal: &Principal) {
        let Some(id) = principal.key_id.as_deref().filter(|k| k.starts_with("key_")) else {
            return;
        };
        let now = now_ms();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched.get(id).is_some_and(|&at| now - at < TOUCH_EVERY_MS) {
                return;
            }
            if touched.len() >= RESOLVED_MAX {
                touched.clear();
            }
            touched.insert(id.to_string(), now);
        }
        self.stages.audit.touch(id.to_string(), now);
    }

    /// Stage 1 for credentials this database knows (the CLI's only kind).
    pub fn resolve_local(&self, cred: &Credential) -> Result<Principal, AuthError> {
        match cred {
            Credential::Token { token, resource } => {
                if self.external.get().is_some() {
                    return Err(AuthError::IntrospectionFailed);
                }
                let hash = keys::hash(token);
                let stamp = self.db.change_stamp();
                if let Some(p) = self.cached(&hash, stamp.as_ref(), resource.as_deref()) {
                    return Ok(p);
                }
                let conn = self.db.conn()?;
                let (principal, expires_at, audience) =
                    crate::oauth::resolve_access(&conn, token, resource.as_deref())?;
                self.remember(hash, stamp, &principal, None, Some(expires_at), Some(audience));
                Ok(principal)
            }
            Credential::LocalOwner { store_id, mode } => {
                // Stores are never removed, so one look per store suffices.
                let known = self
                    .known_stores
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(store_id);
                if !known {
                    let conn = self.db.conn()?;
                    if !stores::exists(&conn, store_id).map_err(crate::store::DbError::from)? {
                        return Err(AuthError::NoStore(store_id.clone()));
                    }
                    self.known_stores
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(store_id.clone());
                }
                Ok(Principal::local_owner(store_id, *mode))
            }
            Credential::ApiKey(secret) => {
                let mode = keys::parse(secret.expose()).ok_or(AuthError::Malformed)?;
                let hash = keys::hash(secret);
                // Read before the lookup: a commit after it invalidates.
                let stamp = self.db.change_stamp();
                if let Some(p) = self.cached(&hash, stamp.as_ref(), None) {
                    return Ok(p);
                }
                let conn = self.db.conn()?;
                let row = crate::store::keys::by_hash(&conn, &hash)
                    .map_err(crate::store::DbError::from)?
                    .ok_or(AuthError::Unknown)?;
                let now = now_ms();
                if row.revoked_at.is_some_and(|t| t <= now) {
                    return Err(AuthError::Revoked(row.hint));
                }
                if row.expires_at.is_some_and(|t| t <= now) {
                    return Err(AuthError::Expired(row.hint));
                }
                debug_assert_eq!(mode, row.mode);
                let bounds = (row.revoked_at, row.expires_at);
                let principal = Principal::stored(
                    Scope {
                        store_id: row.store_id,
                        mode: row.mode,
                    },
                    row.agent_id,
                    row.agent_name,
                    &row.scopes,
                    row.id,
                    row.rate_limit_per_min,
                );
                self.remember(hash, stamp, &principal, bounds.0, bounds.1, None);
                Ok(principal)
            }
        }
    }

    /// A credential resolved earlier, if the database has had no commit
    /// since (so no key or token row changed), it is not older than
    /// [`RESOLVED_TTL`], its time bounds still hold, and (tokens) it was
    /// issued for `resource`. Anything else goes to the database, which
    /// also gives the precise refusal.
    fn cached(&self, hash: &[u8], stamp: Option<&ChangeStamp>, resource: Option<&str>) -> Option<Principal> {
        let stamp = stamp?;
        let map = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        let r = map.get(hash)?;
        let now = now_ms();
        let fresh = r.stamp == *stamp
            && r.at.elapsed() < RESOLVED_TTL
            && r.revoked_at.is_none_or(|t| t > now)
            && r.expires_at.is_none_or(|t| t > now)
            && match (&r.audience, resource) {
                (Some(aud), Some(res)) => crate::oauth::same_resource(aud, res),
                _ => true,
            };
        fresh.then(|| r.principal.clone())
    }

    fn remember(
        &self,
        hash: Vec<u8>,
        stamp: Option<ChangeStamp>,
        principal: &Principal,
        revoked_at: Option<i64>,
        expires_at: Option<i64>,
        audience: Option<String>,
    ) {
        let Some(stamp) = stamp else { return };
        let mut map = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= RESOLVED_MAX {
            map.clear();
        }
        map.insert(
            hash,
            Resolved {
                stamp,
                at: Instant::now(),
                principal: principal.clone(),
                revoked_at,
                expires_at,
                audience,
            },
        );
    }

    /// The tools and actions `principal` may see under `filter`, in
    /// registry order (what `tools/list` shows).
    pub fn visible<'r>(
        &'r self,
        principal: &Principal,
        filter: &ToolFilter,
    ) -> Vec<(&'r Tool, Vec<&'r Action>)> {
        self.registry
            .tools()
            .iter()
            .filter(|t| filter.allows_tool(t))
            .filter_map(|t| {
                let actions: Vec<&Action> = t
                    .actions
                    .iter()
                    .filter(|a| filter.allows_action(t, a))
                    .filter(|a| principal.scopes.allows(t.resource, !a.effect.is_read()))
                    .collect();
                (!actions.is_empty()).then_some((t, actions))
            })
            .collect()
    }

    /// Runs one call through every stage. `Err` only when the request never
    /// reached a tool (unknown tool, credential that does not resolve).
    pub async fn call(
        &self,
        cred: &Credential,
        filter: &ToolFilter,
        req: CallRequest,
        cancel: CancellationToken,
    ) -> Result<CallOutcome, CallError> {
        // 1. resolve the caller
        let principal = match self.resolve(cred).await {
            Ok(p) => p,
            Err(e) => {
                self.audit_refused_key(cred, &req, &e);
                return Err(e.into());
            }
        };
        self.call_as(principal, filter, req, cancel).await
    }

    /// A call made with a key that was revoked or has expired (mid-session:
    /// stdio checks the key on every call) is audited under the key's store
    /// and agent, so the trail shows an agent that went on calling. A
    /// credential that resolves to no key has no store to audit under.
    fn audit_refused_key(&self, cred: &Credential, req: &CallRequest, err: &AuthError) {
        let (Credential::ApiKey(secret), AuthError::Revoked(_) | AuthError::Expired(_)) = (cred, err) else {
            return;
        };
        let Ok(Some(key)) = self
            .db
            .conn()
            .and_then(|c| crate::store::keys::by_hash(&c, &keys::hash(secret)).map_err(Into::into))
        else {
            return;
        };
        let principal = Principal::stored(
            Scope {
                store_id: key.store_id,
                mode: key.mode,
            },
            key.agent_id,
            key.agent_name,
            "",
            key.id,
            None,
        );
        let mut args = req.arguments.clone().unwrap_or_default();
        let (tool, action) = match self.find(&req.name, &mut args, &ToolFilter::default()) {
            Found::Action(t, a) => (t.name.to_string(), Some(a.name)),
            Found::BadAction(t, _) => (t.name.to_string(), None),
            Found::NoTool => (audited_name(&req.name), None),
        };
        let attempt = Attempt {
            exec_id: new_time_id("exec"),
            principal,
            started: Instant::now(),
            created_at: now_ms(),
        };
        let (row, _) = attempt.row(
            &tool,
            action,
            &Value::Object(args),
            Err((
                "error",
                "unauthenticated",
                format!("authentication failed: {err}"),
            )),
        );
        // Not the key's last use: it was refused.
        self.stages.audit.record(row, None);
    }

    /// Stages 2–5 for a caller that stage 1 ([`Pipeline::resolve`]) resolved
    /// for this very request — the HTTP guard resolves every request before
    /// it reaches a door, and resolving twice would only repeat the lookup.
    /// An unknown tool is an `Err` (with its audit row written).
    pub async fn call_as(
        &self,
        principal: Principal,
        filter: &ToolFilter,
        req: CallRequest,
        cancel: CancellationToken,
    ) -> Result<CallOutcome, CallError> {
        let started = Instant::now();
        let created_at = now_ms();
        let in_flight = InFlight::start(&self.in_flight);
        let attempt = Attempt {
            exec_id: new_time_id("exec"),
            principal,
            started,
            created_at,
        };

        // 2. find the tool and action, validate the input
        let mut args = req.arguments.unwrap_or_default();
        let found = self.find(&req.name, &mut args, filter);
        let mut input = Value::Object(args);
        let (tool, action) = match found {
            Found::Action(t, a) => (t, a),
            Found::NoTool => {
                let name = audited_name(&req.name);
                let message = format!("unknown tool `{name}`");
                self.stages
                    .record(attempt.row(&name, None, &input, Err(("error", "unknown_tool", message))));
                return Err(CallError::UnknownTool(req.name));
            }
            Found::BadAction(tool, err) => {
                return Ok(self.stages.fail(attempt, tool.name, None, &input, err));
            }
        };
        action.drop_unset_nulls(&mut input);
        if let Err(e) = action.validate(&input) {
            return Ok(self.stages.fail(attempt, tool.name, Some(action.name), &input, e));
        }

        // 3. scopes
        let write = !action.effect.is_read();
        if !attempt.principal.scopes.allows(tool.resource, write) {
            let err = ToolError::InsufficientScope {
                tool: tool.name.into(),
                action: action.name.into(),
                needed: ScopeSet::needed(tool.resource, write),
                resource: tool.resource.into(),
                have: attempt.principal.scopes.to_string(),
            };
            return Ok(self
                .stages
                .fail(attempt, tool.name, Some(action.name), &input, err));
        }

        // 4. execute with a deadline and the client's cancellation
        let state = Arc::new(AtomicU8::new(RUNNING));
        let job = Job {
            db: self.db.clone(),
            registry: self.registry.clone(),
            tool_name: tool.name,
            action_name: action.name,
            input: input.clone(),
            state: state.clone(),
            attempt: attempt.clone(),
            deadline: started + self.stages.timeout,
            cancel: cancel.clone(),
            audit: action.reads_audit.then(|| self.stages.audit.clone()),
        };
        let record = match (write, action.audit_view) {
            (true, _) => Record::Committed,
            (false, None) => Record::Output,
            (false, Some(view)) => Record::View(view),
        };
        let (tool, action) = (tool.name, action.name);
        // A read of the audit trail waits for the audit writer (on the
        // blocking pool, not here), so it is not run inline.
        if !write && job.audit.is_none() && self.inline_reads.load(Ordering::Relaxed) {
            // A read runs right here: microseconds of SQLite work, where a
            // hop to the blocking pool and back would cost more than the
            // work. The statement interrupt enforces deadline and cancel.
            let deadline = job.deadline;
            let result = self.stages.explain_stop(job.run(), deadline, &cancel);
            return Ok(self.stages.finish(attempt, tool, action, record, &input, result));
        }
        // The rest of the call runs on a task of its own: a caller that
        // stops waiting (an HTTP client that disconnects, a door whose
        // future is dropped) does not stop the call or lose its audit row.
        // Only the cancellation token, the deadline or the job's own end
        // decide how it ends.
        let stages = self.stages.clone();
        let exec_id = attempt.exec_id.clone();
        let finished = tokio::spawn(async move {
            let _in_flight = in_flight;
            let result = stages.run_blocking(job, state, cancel).await;
            stages.finish(attempt, tool, action, record, &input, result)
        });
        match finished.await {
            Ok(outcome) => Ok(outcome),
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // Only when the runtime shuts down under the call.
            Err(_) => Ok(CallOutcome {
                exec_id,
                tool,
                action: Some(action),
                duration: started.elapsed(),
                result: Err(ToolError::Cancelled),
                text: None,
            }),
        }
    }

    fn find<'r>(&'r self, name: &str, args: &mut Map<String, Value>, filter: &ToolFilter) -> Found<'r> {
        if let Some(tool) = self.registry.tool(name) {
            if !filter.allows_tool(tool) {
                return Found::NoTool;
            }
            let names = || {
                tool.actions
                    .iter()
                    .filter(|a| filter.allows_action(tool, a))
                    .map(|a| format!("`{}`", a.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // The `action` stays in the input of a refused call, so its
            // audit row shows what the agent asked for.
            return match args.get("action") {
                None => Found::BadAction(
                    tool,
                    ToolError::invalid("action", format!("is required; one of {}", names())),
                ),
                Some(Value::String(a)) => match tool.action(a) {
                    Some(action) if filter.allows_action(tool, action) => {
                        args.remove("action");
                        Found::Action(tool, action)
                    }
                    _ => Found::BadAction(
                        tool,
                        ToolError::invalid(
                            "action",
                            format!("`{a}` is not an action of `{}`; one of {}", tool.name, names()),
                        ),
                    ),
                },
                Some(other) => Found::BadAction(
                    tool,
                    ToolError::invalid("action", format!("must be a string, got {other}")),
                ),
            };
        }
        match self.registry.flat(name) {
            Some((tool, action)) if filter.allows_action(tool, action) => Found::Action(tool, action),
            _ => Found::NoTool,
        }
    }
}

/// How stage 5 records a call that ran.
#[derive(Clone, Copy)]
enum Record {
    /// A write: its row was committed with its transaction.
    Committed,
    /// A read: its row holds its output.
    Output,
    /// A read whose row holds this view of its output
    /// ([`crate::tools::Action::audited_as`]).
    View(crate::tools::AuditView),
}

/// The stages after a call's input was accepted — run it, audit it — with
/// what they need owned, so a call can finish on a task of its own.
#[derive(Clone)]
struct Stages {
    audit: AuditWriter,
    timeout: Duration,
}

impl Stages {
    /// Stage 5 for a call that ran: audits it (a successful write
    /// committed its row already) and builds its outcome.
    fn finish(
        &self,
        attempt: Attempt,
        tool: &'static str,
        action: &'static str,
        record: Record,
        input: &Value,
        result: Result<Value, ToolError>,
    ) -> CallOutcome {
        let out = match result {
            Ok(out) => out,
            Err(e) => return self.fail(attempt, tool, Some(action), input, e),
        };
        let mut text = None;
        match record {
            Record::Committed => {}
            Record::Output => {
                // One serialization serves the audit row and the reply,
                // unless there is something to redact.
                let json = serde_json::to_string(&out).unwrap_or_default();
                let audited = if crate::audit::has_secret(&out) {
                    redacted_json(&out)
                } else {
                    json.clone()
                };
                self.record(attempt.row(tool, Some(action), input, Ok(audited)));
                text = Some(json);
            }
            Record::View(view) => {
                let audited = redacted_json(&view(&out));
                self.record(attempt.row(tool, Some(action), input, Ok(audited)));
            }
        }
        CallOutcome {
            exec_id: attempt.exec_id,
            tool,
            action: Some(action),
            duration: attempt.started.elapsed(),
            result: Ok(out),
            text,
        }
    }

    /// Runs a job on the blocking pool, racing it against the deadline and
    /// the client's cancellation.
    async fn run_blocking(
        &self,
        job: Job,
        state: Arc<AtomicU8>,
        cancel: CancellationToken,
    ) -> Result<Value, ToolError> {
        let (tool, action, deadline) = (job.tool_name, job.action_name, job.deadline);
        let mut handle = tokio::task::spawn_blocking(move || job.run());
        let stop = |to: u8| {
            state
                .compare_exchange(RUNNING, to, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        };
        // When the deadline or the client stops the call first, the job sees
        // it before committing and rolls back; when the job is already
        // committing, it has won and its result stands.
        let joined = tokio::select! {
            r = &mut handle => Some(r),
            _ = tokio::time::sleep(self.timeout) => {
                if stop(TIMED_OUT) { None } else { Some((&mut handle).await) }
            }
            _ = cancel.cancelled() => {
                if stop(CANCELLED) { None } else { Some((&mut handle).await) }
            }
        };
        match joined {
            Some(Ok(r)) => self.explain_stop(r, deadline, &cancel),
            Some(Err(join)) => {
                tracing::error!(error = %join, tool, action, "tool panicked");
                Err(ToolError::Internal(
                    "the tool failed unexpectedly; nothing was changed".into(),
                ))
            }
            None if state.load(Ordering::Acquire) == CANCELLED => Err(ToolError::Cancelled),
            None => Err(ToolError::Timeout(self.timeout.as_millis() as u64)),
        }
    }

    /// A job that stopped itself (its statement interrupted at the deadline
    /// or on cancellation) reports why, not the interrupt.
    fn explain_stop(
        &self,
        r: Result<Value, ToolError>,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Value, ToolError> {
        match r {
            Err(_) if cancel.is_cancelled() => Err(ToolError::Cancelled),
            Err(_) if Instant::now() >= deadline => Err(ToolError::Timeout(self.timeout.as_millis() as u64)),
            r => r,
        }
    }

    /// Audits a failed call and builds its outcome.
    fn fail(
        &self,
        attempt: Attempt,
        tool: &'static str,
        action: Option<&'static str>,
        input: &Value,
        err: ToolError,
    ) -> CallOutcome {
        let status = if matches!(err, ToolError::Timeout(_)) {
            "timeout"
        } else {
            "error"
        };
        self.record(attempt.row(tool, action, input, Err((status, err.code(), err.to_string()))));
        CallOutcome {
            exec_id: attempt.exec_id,
            tool,
            action,
            duration: attempt.started.elapsed(),
            result: Err(err),
            text: None,
        }
    }

    fn record(&self, row: (ExecutionRow, Option<String>)) {
        self.audit.record(row.0, row.1);
    }
}

enum Found<'r> {
    Action(&'r Tool, &'r Action),
    BadAction(&'r Tool, ToolError),
    NoTool,
}

/// A tool name that is not one (the caller's text) as an audit row keeps
/// it: short, with any secret cut out, like every other input.
fn audited_name(name: &str) -> String {
    shorten(&redact_text(name), 100).into_owned()
}

/// The largest input an audit row keeps whole (as JSON text). Schemas bound
/// what a call accepts far below this; a refused input can be as large as a
/// request line (megabytes), and each would otherwise be stored in full.
const MAX_AUDITED_INPUT: usize = 64 * 1024;

/// `input` as its audit row stores it: redacted JSON, or, past
/// [`MAX_AUDITED_INPUT`], a note of its size with its first kilobyte.
fn audited_input(input: &Value) -> String {
    let json = redacted_json(input);
    if json.len() <= MAX_AUDITED_INPUT {
        return json;
    }
    crate::audit::truncated(&json, 1024).to_string()
}

/// One call's identity for its audit row.
#[derive(Clone)]
struct Attempt {
    exec_id: String,
    principal: Principal,
    started: Instant,
    created_at: i64,
}

impl Attempt {
    /// The execution row (and the key whose last-used time it refreshes):
    /// `Ok(output)` for a success, `Err((status, code, message))` otherwise.
    fn row(
        &self,
        tool: &str,
        action: Option<&str>,
        input: &Value,
        outcome: Result<String, (&'static str, &'static str, String)>,
    ) -> (ExecutionRow, Option<String>) {
        let p = &self.principal;
        let (status, error_code, error, output) = match outcome {
            Ok(out) => ("success", None, None, Some(out)),
            Err((status, code, message)) => {
                // An error may quote the input (a bad value, an unknown id).
                let message = match redact_text(&message) {
                    Cow::Borrowed(_) => message,
                    Cow::Owned(redacted) => redacted,
                };
                (status, Some(code), Some(message), None)
            }
        };
        let row = ExecutionRow {
            id: self.exec_id.clone(),
            store_id: p.scope.store_id.clone(),
            mode: p.scope.mode.as_str(),
            tool: tool.to_string(),
            action: action.map(str::to_string),
            agent_id: p.agent_id.clone(),
            agent_name: p.agent_name.clone(),
            status,
            error_code,
            error,
            duration_us: self.started.elapsed().as_micros() as i64,
            input: audited_input(input),
            output,
            created_at: self.created_at,
        };
        (row, p.key_id.clone())
    }
}

/// Everything the blocking half of a call needs, owned.
struct Job {
    db: Arc<Db>,
    registry: Arc<Registry>,
    tool_name: &'static str,
    action_name: &'static str,
    input: Value,
    state: Arc<AtomicU8>,
    attempt: Attempt,
    deadline: Instant,
    cancel: CancellationToken,
    /// Set for an action that reads the audit trail: flushed first.
    audit: Option<AuditWriter>,
}

impl Job {
    fn run(self) -> Result<Value, ToolError> {
        if let Some(audit) = &self.audit {
            audit.flush();
        }
        let tool = self.registry.tool(self.tool_name).expect("tool found before");
        let action = tool.action(self.action_name).expect("action found before");
        let principal = &self.attempt.principal;
        let scope = &principal.scope;
        let stopped = {
            let (state, deadline, cancel) = (self.state.clone(), self.deadline, self.cancel.clone());
            move || {
                state.load(Ordering::Acquire) >= TIMED_OUT
                    || cancel.is_cancelled()
                    || Instant::now() >= deadline
            }
        };
        // The handler aborts a running statement once the call is stopped;
        // the pool clears it when the connection goes back.
        let mut conn = self.db.conn()?;
        conn.progress_handler(1000, Some(stopped))?;
        if action.effect.is_read() {
            // A deferred transaction gives the read one consistent snapshot
            // (BEGIN/COMMIT from the statement cache: rusqlite's
            // `Transaction` would parse both again on every call).
            conn.prepare_cached("BEGIN")?.execute([])?;
            let ctx = Ctx {
                db: Scoped::new(&conn, scope),
                principal,
                registry: &self.registry,
            };
            let out = action.run(&ctx, self.input);
            // A read has nothing to keep; COMMIT just ends the snapshot
            // (unless an interrupted statement already ended it).
            if !conn.is_autocommit()
                && let Err(e) = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([]))
            {
                let _ = conn.execute_batch("ROLLBACK");
                if out.is_ok() {
                    return Err(ToolError::from(e));
                }
            }
            out
        } else {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let ctx = Ctx {
                db: Scoped::new(&tx, scope),
                principal,
                registry: &self.registry,
            };
            let out = action.run(&ctx, self.input.clone())?;
            // Commit only if the deadline and the client have not stopped
            // the call first; otherwise the transaction rolls back on drop.
            match self
                .state
                .compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {}
                Err(CANCELLED) => return Err(ToolError::Cancelled),
                Err(_) => return Err(ToolError::Timeout(0)),
            }
            let (row, key) =
                self.attempt
                    .row(tool.name, Some(action.name), &self.input, Ok(redacted_json(&out)));
            crate::store::audit::insert(&tx, &row)?;
            if let Some(key) = key {
                crate::store::keys::touch(&tx, &key, self.attempt.created_at)?;
            }
            tx.commit()?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;
    use crate::store::Mode;
    use crate::tools::{Category, Effect};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct SlowIn {
        sleep_ms: u64,
    }
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct NoIn {}
    #[derive(Serialize, JsonSchema)]
    struct Done {
        done: bool,
    }

    /// Writes, then dawdles: the write must not survive a timeout.
    fn slow_write(ctx: &Ctx<'_>, i: SlowIn) -> Result<Done, ToolError> {
        ctx.db.conn().execute(
            "INSERT INTO preferences (key, value) VALUES ('slow-' || hex(randomblob(8)), 'x')",
            [],
        )?;
        std::thread::sleep(Duration::from_millis(i.sleep_ms));
        Ok(Done { done: true })
    }

    /// A query that never ends on its own.
    fn endless_read(ctx: &Ctx<'_>, _: NoIn) -> Result<Done, ToolError> {
        ctx.db.conn().query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            [],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(Done { done: true })
    }

    fn test_tool() -> Tool {
        Tool {
            name: "testing",
            title: "Testing",
            description: "Actions that misbehave on purpose.",
            category: Category::Commerce,
            resource: "products",
            actions: vec![
                Action::new(
                    "slow_write",
                    "Writes a row then sleeps.",
                    Effect::Write,
                    json!({"sleep_ms": 0}),
                    slow_write,
                ),
                Action::new(
                    "endless_read",
                    "Counts forever.",
                    Effect::Read,
                    json!({}),
                    endless_read,
                ),
            ],
        }
    }

    struct Fixture {
        dir: std::path::PathBuf,
        db: Arc<Db>,
        pipeline: Pipeline,
    }

    impl Fixture {
        /// A call as the local owner, with no filter.
        async fn call(&self, r: CallRequest) -> CallOutcome {
            self.call_with(r, CancellationToken::new()).await
        }

        async fn call_with(&self, r: CallRequest, cancel: CancellationToken) -> CallOutcome {
            self.pipeline
                .call(&owner(), &ToolFilter::default(), r, cancel)
                .await
                .expect("the call reaches a tool")
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture(timeout_ms: u64) -> Fixture {
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-pipeline"));
        let db = Arc::new(Db::open(&dir.join("w.db")).unwrap());
        let pipeline = Pipeline::new(
            db.clone(),
            Arc::new(Registry::from_tools(vec![test_tool()])),
            AuditWriter::start(db.clone()),
            Duration::from_millis(timeout_ms),
        );
        Fixture { dir, db, pipeline }
    }

    fn owner() -> Credential {
        Credential::LocalOwner {
            store_id: "demo".into(),
            mode: Mode::Live,
        }
    }

    fn req(name: &str, args: Value) -> CallRequest {
        CallRequest {
            name: name.into(),
            arguments: args.as_object().cloned(),
        }
    }

    fn scalar(db: &Db, sql: &str) -> i64 {
        db.conn().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Rows `slow_write` inserted (and that survived).
    fn slow_rows(db: &Db) -> i64 {
        scalar(db, "SELECT count(*) FROM preferences WHERE key LIKE 'slow-%'")
    }

    fn audit_status(db: &Db, id: &str) -> (String, Option<String>) {
        db.conn()
            .unwrap()
            .query_row(
                "SELECT status, error_code FROM executions WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_commits_with_its_audit_row() {
        let f = fixture(5_000);
        let out = f.call(req("testing_slow_write", json!({"sleep_ms": 0}))).await;
        assert!(out.result.is_ok());
        // No flush: the row was committed in the write's own transaction.
        assert_eq!(audit_status(&f.db, &out.exec_id), ("success".into(), None));
        assert_eq!(slow_rows(&f.db), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timed_out_write_changes_nothing_and_is_audited() {
        let f = fixture(100);
        let out = f
            .call(req("testing", json!({"action": "slow_write", "sleep_ms": 600})))
            .await;
        assert!(
            matches!(out.result, Err(ToolError::Timeout(100))),
            "{:?}",
            out.result
        );
        // Give the abandoned job time to reach its commit point and roll back.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(slow_rows(&f.db), 0);
        f.pipeline.audit().flush();
        assert_eq!(
            audit_status(&f.db, &out.exec_id),
            ("timeout".into(), Some("timeout".into()))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_write_changes_nothing() {
        let f = fixture(5_000);
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            trigger.cancel();
        });
        let out = f
            .call_with(req("testing_slow_write", json!({"sleep_ms": 500})), cancel)
            .await;
        assert!(
            matches!(out.result, Err(ToolError::Cancelled)),
            "{:?}",
            out.result
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(slow_rows(&f.db), 0);
        f.pipeline.audit().flush();
        assert_eq!(
            audit_status(&f.db, &out.exec_id),
            ("error".into(), Some("cancelled".into()))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_query_is_interrupted_and_the_pool_stays_usable() {
        let f = fixture(150);
        let out = f.call(req("testing_endless_read", json!({}))).await;
        assert!(matches!(out.result, Err(ToolError::Timeout(_))));
        // The interrupted connection went back to the pool without its
        // handler: later calls on it succeed.
        for _ in 0..4 {
            let ok = f.call(req("testing_slow_write", json!({"sleep_ms": 0}))).await;
            assert!(ok.result.is_ok(), "{:?}", ok.result);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_inline_read_meets_its_deadline_too() {
        let f = fixture(150);
        f.pipeline.set_inline_reads(true);
        let out = f.call(req("testing_endless_read", json!({}))).await;
        assert!(
            matches!(out.result, Err(ToolError::Timeout(150))),
            "{:?}",
            out.result
        );
        let cancel = CancellationToken::new();
        cancel.cancel();
        let out = f.call_with(req("testing_endless_read", json!({})), cancel).await;
        assert!(
            matches!(out.result, Err(ToolError::Cancelled)),
            "{:?}",
            out.result
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scope_denial_names_the_scope_changes_nothing_and_is_audited() {
        let f = fixture(5_000);
        let key = crate::auth::keys::generate(Mode::Live);
        {
            let conn = f.db.conn().unwrap();
            crate::store::keys::insert(
                &conn,
                &crate::store::keys::NewKey {
                    store_id: "demo",
                    mode: Mode::Live,
                    agent_name: "reader",
                    scopes: "products:read",
                    hint: &crate::auth::keys::hint(&key),
                    hash: &crate::auth::keys::hash(&key),
                    expires_at: None,
                    rate_limit_per_min: None,
                },
            )
            .unwrap();
        }
        let cred = Credential::ApiKey(Secret::new(key.expose()));
        let out = f
            .pipeline
            .call(
                &cred,
                &ToolFilter::default(),
                req("testing_slow_write", json!({"sleep_ms": 0})),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        let err = out.result.unwrap_err();
        assert!(err.to_string().contains("products:write"), "{err}");
        assert_eq!(slow_rows(&f.db), 0);
        f.pipeline.audit().flush();
        assert_eq!(
            audit_status(&f.db, &out.exec_id),
            ("error".into(), Some("insufficient_scope".into()))
        );
        // The read-only key does not even see the write action.
        let principal = f.pipeline.resolve_local(&cred).unwrap();
        let visible = f.pipeline.visible(&principal, &ToolFilter::default());
        let names: Vec<&str> = visible[0].1.iter().map(|a| a.name).collect();
        assert_eq!(names, ["endless_read"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_input_and_unknown_names_are_audited_without_running() {
        let f = fixture(5_000);
        let out = f
            .call(req("testing_slow_write", json!({"sleep_ms": "soon"})))
            .await;
        assert!(
            matches!(&out.result, Err(ToolError::InvalidInput { field, .. }) if field == "sleep_ms"),
            "{:?}",
            out.result
        );
        let missing = f.call(req("testing", json!({}))).await;
        assert!(matches!(&missing.result, Err(ToolError::InvalidInput { field, .. }) if field == "action"));
        let unknown = f
            .pipeline
            .call(
                &owner(),
                &ToolFilter::default(),
                req("nope", json!({})),
                CancellationToken::new(),
            )
            .await;
        assert!(matches!(unknown, Err(CallError::UnknownTool(_))));
        assert_eq!(slow_rows(&f.db), 0);
        f.pipeline.audit().flush();
        assert_eq!(
            scalar(&f.db, "SELECT count(*) FROM executions WHERE status = 'error'"),
            3
        );
        assert_eq!(
            scalar(
                &f.db,
                "SELECT count(*) FROM executions WHERE error_code = 'unknown_tool'"
            ),
            1
        );
    }
}
