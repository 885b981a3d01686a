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

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditWriter, redact};
use crate::auth::{AuthError, Credential, Principal, ScopeSet, keys};
use crate::error::ToolError;
use crate::store::audit::ExecutionRow;
use crate::store::{Db, Scope, Scoped, new_id, now_ms, stores};
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
    audit: AuditWriter,
    timeout: Duration,
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
            audit,
            timeout,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn audit(&self) -> &AuditWriter {
        &self.audit
    }

    /// Stage 1: who is calling.
    pub fn resolve(&self, cred: &Credential) -> Result<Principal, AuthError> {
        match cred {
            Credential::LocalOwner { store_id, mode } => {
                let conn = self.db.conn()?;
                if !stores::exists(&conn, store_id).map_err(crate::store::DbError::from)? {
                    return Err(AuthError::NoStore(store_id.clone()));
                }
                Ok(Principal::local_owner(store_id, *mode))
            }
            Credential::ApiKey(secret) => {
                let mode = keys::parse(secret.expose()).ok_or(AuthError::Malformed)?;
                let conn = self.db.conn()?;
                let row = crate::store::keys::by_hash(&conn, &keys::hash(secret))
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
                Ok(Principal {
                    scope: Scope {
                        store_id: row.store_id,
                        mode: row.mode,
                    },
                    agent_id: Some(row.agent_id),
                    agent_name: row.agent_name,
                    scopes: ScopeSet::parse(&row.scopes)
                        .unwrap_or_else(|_| ScopeSet::parse("platform:read").expect("static scope parses")),
                    key_id: Some(row.id),
                })
            }
        }
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
        let started = Instant::now();
        let created_at = now_ms();
        let exec_id = new_id("exec");

        // 1. resolve the caller
        let principal = self.resolve(cred)?;

        // 2. find the tool and action, validate the input
        let mut args = req.arguments.unwrap_or_default();
        let found = self.find(&req.name, &mut args, filter);
        let input = Value::Object(args);
        let (tool, action) = match found {
            Found::Action(t, a) => (t, a),
            Found::NoTool => {
                self.record_failure(
                    &exec_id,
                    &principal,
                    &req.name,
                    None,
                    &input,
                    &ToolError::invalid("name", "unknown tool"),
                    started,
                    created_at,
                );
                return Err(CallError::UnknownTool(req.name));
            }
            Found::BadAction(tool, err) => {
                self.record_failure(
                    &exec_id, &principal, tool.name, None, &input, &err, started, created_at,
                );
                return Ok(CallOutcome {
                    exec_id,
                    tool: tool.name,
                    action: None,
                    duration: started.elapsed(),
                    result: Err(err),
                });
            }
        };
        let fail = |err: ToolError| {
            self.record_failure(
                &exec_id,
                &principal,
                tool.name,
                Some(action.name),
                &input,
                &err,
                started,
                created_at,
            );
            Ok(CallOutcome {
                exec_id: exec_id.clone(),
                tool: tool.name,
                action: Some(action.name),
                duration: started.elapsed(),
                result: Err(err),
            })
        };
        if let Err(e) = action.validate(&input) {
            return fail(e);
        }

        // 3. scopes
        let write = !action.effect.is_read();
        if !principal.scopes.allows(tool.resource, write) {
            return fail(ToolError::InsufficientScope {
                tool: tool.name.into(),
                action: action.name.into(),
                needed: ScopeSet::needed(tool.resource, write),
                resource: tool.resource.into(),
                have: principal.scopes.to_string(),
            });
        }

        // 4. execute with a deadline; 5. audit
        let state = Arc::new(AtomicU8::new(RUNNING));
        let job = Job {
            db: self.db.clone(),
            registry: self.registry.clone(),
            tool_name: tool.name,
            action_name: action.name,
            principal: principal.clone(),
            input: input.clone(),
            state: state.clone(),
            exec_id: exec_id.clone(),
            started,
            created_at,
        };
        let mut handle = tokio::task::spawn_blocking(move || job.run());
        let stop = |to: u8| {
            state
                .compare_exchange(RUNNING, to, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        };
        let joined = tokio::select! {
            r = &mut handle => Some(r),
            _ = tokio::time::sleep(self.timeout) => {
                if stop(TIMED_OUT) { None } else { Some((&mut handle).await) }
            }
            _ = cancel.cancelled() => {
                if stop(CANCELLED) { None } else { Some((&mut handle).await) }
            }
        };
        let result = match joined {
            Some(Ok(r)) => r,
            Some(Err(join)) => {
                tracing::error!(error = %join, tool = tool.name, action = action.name, "tool panicked");
                Err(ToolError::Internal(
                    "the tool failed unexpectedly; nothing was changed".into(),
                ))
            }
            None if state.load(Ordering::Acquire) == CANCELLED => Err(ToolError::Cancelled),
            None => Err(ToolError::Timeout(self.timeout.as_millis() as u64)),
        };
        let committed_with_audit = result.is_ok() && write;
        match &result {
            Ok(out) if !committed_with_audit => {
                let row = success_row(
                    &exec_id,
                    &principal,
                    tool.name,
                    action.name,
                    &input,
                    out,
                    started,
                    created_at,
                );
                self.audit.record(row, principal.key_id.clone());
            }
            Ok(_) => {}
            Err(e) => {
                self.record_failure(
                    &exec_id,
                    &principal,
                    tool.name,
                    Some(action.name),
                    &input,
                    e,
                    started,
                    created_at,
                );
            }
        }
        Ok(CallOutcome {
            exec_id,
            tool: tool.name,
            action: Some(action.name),
            duration: started.elapsed(),
            result,
        })
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
            return match args.remove("action") {
                None => Found::BadAction(
                    tool,
                    ToolError::invalid("action", format!("is required; one of {}", names())),
                ),
                Some(Value::String(a)) => match tool.action(&a) {
                    Some(action) if filter.allows_action(tool, action) => Found::Action(tool, action),
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

    #[allow(clippy::too_many_arguments)]
    fn record_failure(
        &self,
        exec_id: &str,
        principal: &Principal,
        tool: &str,
        action: Option<&str>,
        input: &Value,
        err: &ToolError,
        started: Instant,
        created_at: i64,
    ) {
        let status = match err {
            ToolError::Timeout(_) => "timeout",
            _ => "error",
        };
        let code = match err {
            ToolError::InvalidInput { field, .. } if field == "name" && action.is_none() => "unknown_tool",
            e => e.code(),
        };
        let row = ExecutionRow {
            id: exec_id.to_string(),
            store_id: principal.scope.store_id.clone(),
            mode: principal.scope.mode.as_str(),
            tool: tool.to_string(),
            action: action.map(str::to_string),
            agent_id: principal.agent_id.clone(),
            agent_name: principal.agent_name.clone(),
            status,
            error_code: Some(code),
            error: Some(err.to_string()),
            duration_us: started.elapsed().as_micros() as i64,
            input: redact(input).to_string(),
            output: None,
            created_at,
        };
        self.audit.record(row, principal.key_id.clone());
    }
}

enum Found<'r> {
    Action(&'r Tool, &'r Action),
    BadAction(&'r Tool, ToolError),
    NoTool,
}

#[allow(clippy::too_many_arguments)]
fn success_row(
    exec_id: &str,
    principal: &Principal,
    tool: &str,
    action: &str,
    input: &Value,
    output: &Value,
    started: Instant,
    created_at: i64,
) -> ExecutionRow {
    ExecutionRow {
        id: exec_id.to_string(),
        store_id: principal.scope.store_id.clone(),
        mode: principal.scope.mode.as_str(),
        tool: tool.to_string(),
        action: Some(action.to_string()),
        agent_id: principal.agent_id.clone(),
        agent_name: principal.agent_name.clone(),
        status: "success",
        error_code: None,
        error: None,
        duration_us: started.elapsed().as_micros() as i64,
        input: redact(input).to_string(),
        output: Some(redact(output).to_string()),
        created_at,
    }
}

/// Everything the blocking half of a call needs, owned.
struct Job {
    db: Arc<Db>,
    registry: Arc<Registry>,
    tool_name: &'static str,
    action_name: &'static str,
    principal: Principal,
    input: Value,
    state: Arc<AtomicU8>,
    exec_id: String,
    started: Instant,
    created_at: i64,
}

impl Job {
    fn run(self) -> Result<Value, ToolError> {
        let tool = self.registry.tool(self.tool_name).expect("tool found before");
        let action = tool.action(self.action_name).expect("action found before");
        let scope = &self.principal.scope;
        let stopped = {
            let state = self.state.clone();
            move || state.load(Ordering::Acquire) >= TIMED_OUT
        };
        // The handler aborts a running statement once the call is stopped;
        // the pool clears it when the connection goes back.
        let mut conn = self.db.conn()?;
        conn.progress_handler(1000, Some(stopped))?;
        if action.effect.is_read() {
            // A deferred transaction gives the read one consistent snapshot.
            let tx = conn.transaction()?;
            let ctx = Ctx {
                db: Scoped::new(&tx, scope),
                principal: &self.principal,
            };
            action.run(&ctx, self.input)
        } else {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let ctx = Ctx {
                db: Scoped::new(&tx, scope),
                principal: &self.principal,
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
            let row = success_row(
                &self.exec_id,
                &self.principal,
                tool.name,
                action.name,
                &self.input,
                &out,
                self.started,
                self.created_at,
            );
            crate::store::audit::insert(&tx, &row)?;
            if let Some(key) = &self.principal.key_id {
                crate::store::keys::touch(&tx, key, self.created_at)?;
            }
            tx.commit()?;
            Ok(out)
        }
    }
}
