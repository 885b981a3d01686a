//! Errors and what each one means to the person or agent that sees it.
//!
//! [`ToolError`] is the failure of one tool call: it reaches the agent as an
//! MCP result with `isError: true` whose text says what to fix, and it lands
//! in the audit row with a stable `code`. [`CliError`] carries an exit code
//! for the shell (SPEC §1: 0 ok, 1 runtime, 2 usage, 3 auth, 4 pending).

use crate::store::DbError;

/// Why a tool call did not succeed. The message is written for the agent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    /// The input does not match the action's schema or its rules.
    #[error("invalid input at `{field}`: {message}")]
    InvalidInput { field: String, message: String },
    /// The caller's scopes do not allow this action.
    #[error(
        "insufficient scope: `{tool}.{action}` needs the `{needed}` scope (or `{resource}`); this credential has: {have}"
    )]
    InsufficientScope {
        tool: String,
        action: String,
        needed: String,
        resource: String,
        have: String,
    },
    /// A referenced record does not exist in this store and mode.
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but the store's state forbids it
    /// (not enough stock, refund above what was paid, ...).
    #[error("{0}")]
    Conflict(String),
    #[error("the call did not finish within {0} ms and was stopped; nothing was changed")]
    Timeout(u64),
    #[error("the call was cancelled by the client; nothing was changed")]
    Cancelled,
    /// Another process held the database's write lock for the whole busy
    /// timeout: nothing was changed, and the same call may succeed later.
    #[error("the database is busy: another process holds its write lock; nothing was changed; retry shortly")]
    Busy,
    /// Something went wrong inside whale; details are in the server log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ToolError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }
    /// Refuses an update given none of the fields it changes (each named
    /// with whether it was given), rather than reporting, and auditing as a
    /// write, a change that changed nothing. One list per action, so a new
    /// field is named in the message by the same line that checks it.
    pub fn require_change(fields: &[(&str, bool)]) -> Result<(), ToolError> {
        if fields.iter().any(|(_, given)| *given) {
            return Ok(());
        }
        let names: Vec<String> = fields.iter().map(|(f, _)| format!("`{f}`")).collect();
        Err(ToolError::invalid(
            "input",
            format!("nothing to change: give at least one of {}", names.join(", ")),
        ))
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        // The action that finds valid ids of this kind.
        let finder = match what {
            "customer" => "customers.list_customers",
            "execution" => "audit_trail.query_executions",
            "location" => "locations.list_locations",
            "order" => "orders.list_orders",
            "variant" => "products.get_product (a product's variants)",
            _ => "products.list_products",
        };
        // An id of another kind (a variant's where a product's belongs):
        // said as such, rather than "not found", which reads as missing data.
        let kind = [
            ("prod_", "product"),
            ("var_", "variant"),
            ("ord_", "order"),
            ("cus_", "customer"),
            ("loc_", "location"),
            ("exec_", "execution"),
        ]
        .iter()
        .find(|(prefix, _)| id.trim().starts_with(prefix))
        .map(|(_, kind)| *kind);
        if let Some(kind) = kind
            && kind != what
        {
            let a = |w: &str| {
                if w.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                }
            };
            return ToolError::NotFound(format!(
                "`{}` is {} {kind} id, not {} {what} id; {finder} shows valid {what} ids",
                id.trim(),
                a(kind),
                a(what)
            ));
        }
        ToolError::NotFound(format!(
            "{what} `{id}` not found in this store; {finder} shows valid ids"
        ))
    }

    /// Stable machine-readable code stored in the audit row.
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::InvalidInput { .. } => "invalid_input",
            ToolError::InsufficientScope { .. } => "insufficient_scope",
            ToolError::NotFound(_) => "not_found",
            ToolError::Conflict(_) => "conflict",
            ToolError::Timeout(_) => "timeout",
            ToolError::Cancelled => "cancelled",
            ToolError::Busy => "busy",
            ToolError::Internal(_) => "internal",
        }
    }
}

impl From<DbError> for ToolError {
    fn from(e: DbError) -> Self {
        if e.is_busy() {
            tracing::warn!(error = %e, "database busy during tool call");
            return ToolError::Busy;
        }
        // An interrupted statement is a call stopped by its deadline or its
        // client (the pipeline reports that in its own words), not a fault.
        if !e.is_interrupt() {
            tracing::error!(error = %e, "database error during tool call");
        }
        ToolError::Internal("the database reported an error; the call changed nothing".into())
    }
}

/// A time bound of a listing's filter that does not parse (or a range that
/// ends before it starts): the agent's input to fix, naming the field.
impl From<crate::store::BadTime> for ToolError {
    fn from(e: crate::store::BadTime) -> Self {
        ToolError::invalid(e.0, e.1)
    }
}

impl From<rusqlite::Error> for ToolError {
    fn from(e: rusqlite::Error) -> Self {
        ToolError::from(DbError::Sql(e))
    }
}

/// An error that ends a CLI command, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    Runtime(String),
    /// Already reported (e.g. a failing `tools test --all` summary).
    #[error("")]
    Silent(i32),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Auth(_) => 3,
            CliError::Runtime(_) => 1,
            CliError::Silent(code) => *code,
        }
    }
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        CliError::Runtime(e.to_string())
    }
}
impl From<rusqlite::Error> for CliError {
    fn from(e: rusqlite::Error) -> Self {
        CliError::Runtime(format!("database error: {e}"))
    }
}
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        // The reader went away (`whale man | head`): like any Unix filter,
        // stop quietly with success.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::Silent(0);
        }
        CliError::Runtime(e.to_string())
    }
}
impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::Runtime(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every not-found hint names an action agents can actually call.
    #[test]
    fn not_found_hints_name_real_actions() {
        let registry = crate::tools::Registry::builtin();
        for what in ["customer", "execution", "location", "order", "product", "variant"] {
            let text = ToolError::not_found(what, "x").to_string();
            let named = text
                .split_whitespace()
                .find_map(|w| {
                    let (tool, action) = w.split_once('.')?;
                    Some((tool.to_owned(), action.to_owned()))
                })
                .unwrap_or_else(|| panic!("{what}: no tool.action in {text:?}"));
            let tool = registry
                .tool(&named.0)
                .unwrap_or_else(|| panic!("{what}: no tool {named:?}"));
            assert!(
                tool.action(&named.1).is_some(),
                "{what}: no action {named:?} ({text})"
            );
        }
    }

    /// An update given nothing is refused naming every field it takes;
    /// one given any of them goes on.
    #[test]
    fn an_update_needs_a_field_to_change() {
        let err = ToolError::require_change(&[("name", false), ("active", false)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input at `input`: nothing to change: give at least one of `name`, `active`"
        );
        assert!(ToolError::require_change(&[("name", false), ("active", true)]).is_ok());
    }

    /// An id of another kind is named as such; one of the right kind, or
    /// of no known kind, is not found.
    #[test]
    fn an_id_of_another_kind_is_named() {
        let text = ToolError::not_found("product", "var_abc").to_string();
        assert!(
            text.contains("`var_abc` is a variant id, not a product id")
                && text.contains("products.list_products"),
            "{text}"
        );
        let text = ToolError::not_found("order", " cus_abc").to_string();
        assert!(
            text.contains("`cus_abc` is a customer id, not an order id"),
            "{text}"
        );
        for id in ["prod_abc", "abc", "variant_1"] {
            let text = ToolError::not_found("product", id).to_string();
            assert!(text.contains(&format!("product `{id}` not found")), "{text}");
        }
    }
}
