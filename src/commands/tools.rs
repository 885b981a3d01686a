//! `whale tools`: list, schema, test (one action or every example), call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::auth::Credential;
use crate::cli::ToolsCmd;
use crate::error::{CliError, ToolError};
use crate::pipeline::{CallError, CallOutcome, CallRequest, Pipeline};
use crate::printer;
use crate::store::{Db, Mode, Scope, Scoped};
use crate::tools::{Category, Registry, ToolFilter};

pub async fn run(app: &App, cmd: ToolsCmd) -> Result<(), CliError> {
    let registry = app.pipeline.registry();
    // The catalog (list, schema, docs) is the same for every store, but a
    // store named that does not exist is the caller's mistake, as for every
    // other command.
    if app.store_named() {
        app.require_store()?;
    }
    match cmd {
        ToolsCmd::List {
            category,
            actions,
            json,
        } => {
            let cat = category
                .as_deref()
                .map(|c| {
                    Category::parse(c).ok_or_else(|| {
                        CliError::Usage(format!(
                            "unknown category `{c}`; one of {}",
                            Category::ALL.map(|c| c.as_str()).join(", ")
                        ))
                    })
                })
                .transpose()?;
            // With an API key in the environment, what that key may call,
            // as its agent's `tools/list` shows it (`tools call` and `test
            // --input` act as the key too); said on stderr.
            let as_key = match crate::settings::session_api_key()? {
                Some(_) => Some(app.credential()?.1),
                None => None,
            };
            let tools: Vec<(&crate::tools::Tool, Vec<&crate::tools::Action>)> = match &as_key {
                Some(p) => app.pipeline.visible(p, &ToolFilter::default()),
                None => registry
                    .tools()
                    .iter()
                    .map(|t| (t, t.actions.iter().collect()))
                    .collect(),
            };
            let tools: Vec<_> = tools
                .into_iter()
                .filter(|(t, _)| cat.is_none_or(|c| t.category == c))
                .collect();
            if let Some(p) = &as_key {
                printer::err(&format!(
                    "Tools the API key in {} may call (agent `{}`, scopes: {}): {} of {} actions. \
                     Unset it to list every tool.",
                    crate::settings::WHALETOOLS_API_KEY,
                    p.agent_name,
                    p.scopes,
                    tools.iter().map(|(_, a)| a.len()).sum::<usize>(),
                    registry
                        .tools()
                        .iter()
                        .filter(|t| cat.is_none_or(|c| t.category == c))
                        .map(|t| t.actions.len())
                        .sum::<usize>(),
                ));
            }
            if tools.is_empty() && !json {
                if as_key.is_some() {
                    return Ok(()); // said above: 0 of N
                }
                // A category of the catalog that has no tool in this build.
                let used: std::collections::BTreeSet<&str> =
                    registry.tools().iter().map(|t| t.category.as_str()).collect();
                printer::out(&format!(
                    "No tools in category `{}`; the categories with tools: {}.",
                    category.as_deref().unwrap_or_default(),
                    used.into_iter().collect::<Vec<_>>().join(", ")
                ));
                return Ok(());
            }
            if json {
                let v: Vec<Value> = tools
                    .iter()
                    .map(|(t, acts)| {
                        json!({
                            "name": t.name, "title": t.title, "category": t.category, "scope": t.resource,
                            "description": t.description,
                            "actions": acts.iter().map(|a| json!({
                                "name": a.name, "effect": a.effect, "idempotent": a.idempotent,
                                "scope": crate::auth::ScopeSet::needed(t.resource, !a.effect.is_read()),
                                "description": a.description,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                printer::json(&json!({"tools": v}));
            } else if actions {
                let rows: Vec<Vec<String>> = tools
                    .iter()
                    .flat_map(|(t, acts)| {
                        acts.iter().map(move |a| {
                            vec![
                                t.name.to_string(),
                                a.name.to_string(),
                                a.effect.as_str().to_string(),
                                crate::auth::ScopeSet::needed(t.resource, !a.effect.is_read()),
                                a.description.to_string(),
                            ]
                        })
                    })
                    .collect();
                printer::table(&["TOOL", "ACTION", "EFFECT", "SCOPE", "DESCRIPTION"], &rows);
            } else {
                let rows: Vec<Vec<String>> = tools
                    .iter()
                    .map(|(t, acts)| {
                        vec![
                            t.name.to_string(),
                            t.category.as_str().to_string(),
                            t.resource.to_string(),
                            if acts.iter().all(|a| a.effect.is_read()) {
                                "read".into()
                            } else {
                                "read/write".into()
                            },
                            acts.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
                        ]
                    })
                    .collect();
                printer::table(&["TOOL", "CATEGORY", "SCOPE", "ACCESS", "ACTIONS"], &rows);
            }
            Ok(())
        }
        ToolsCmd::Schema { tool, action } => {
            let (t, a) = lookup(registry, &tool, action.as_deref())?;
            let v = match a {
                Some(a) => json!({
                    "name": format!("{}_{}", t.name, a.name),
                    "effect": a.effect,
                    "example": a.example,
                    "inputSchema": *a.input_schema(),
                    "outputSchema": *a.output_schema(),
                }),
                None => {
                    let all: Vec<_> = t.actions.iter().collect();
                    json!({
                        "name": t.name,
                        "inputSchema": t.grouped_input_schema(&all),
                        "outputSchema": t.grouped_output_schema(&all),
                    })
                }
            };
            printer::json(&v);
            Ok(())
        }
        ToolsCmd::Docs => {
            printer::out(&catalog_markdown(registry));
            Ok(())
        }
        ToolsCmd::Test { all: true, json, .. } => test_all(app, json).await,
        ToolsCmd::Test {
            tool,
            action,
            input,
            json,
            ..
        } => {
            let (_, a, name) = one_action(registry, &tool.unwrap_or_default(), action.as_deref())?;
            // An explicit input runs on the store the credential acts on;
            // the example runs on a scratch copy (it may create, cancel or
            // refund), with its placeholder ids filled from the test data.
            let (outcome, place) = match input {
                Some(s) => {
                    let input = parse_input(&s)?;
                    let (cred, principal) = app.credential()?;
                    (
                        call(&app.pipeline, &cred, &name, input).await?,
                        Place::Store(principal.scope),
                    )
                }
                None => {
                    let scratch = Scratch::prepare(app).await?;
                    let Some(input) = scratch.example(&a.example) else {
                        return Err(CliError::Runtime(format!(
                            "the example of {name} needs data the test mode of store `{}` does not have; pass --input",
                            app.store_id
                        )));
                    };
                    (
                        scratch.run(app, 0, &name, input).await?,
                        Place::Scratch(app.store_id.clone()),
                    )
                }
            };
            report(&outcome, json, &place);
            match &outcome.result {
                Ok(_) => Ok(()),
                Err(e) => Err(CliError::Silent(exit_code(e))),
            }
        }
        ToolsCmd::Call { tool, action, input } => {
            // Which action first: a mistyped name is a usage error (2) that
            // names the choices, as for `tools test`, not an audited call.
            let (_, _, name) = one_action(registry, &tool, action.as_deref())?;
            let input = parse_input(&input)?;
            let (cred, _) = app.credential()?;
            let outcome = call(&app.pipeline, &cred, &name, input).await?;
            match outcome.result {
                Ok(v) => {
                    printer::json(&v);
                    Ok(())
                }
                Err(e @ ToolError::InsufficientScope { .. }) => {
                    Err(CliError::Auth(format!("{e} (execution {})", outcome.exec_id)))
                }
                Err(e) => Err(CliError::Runtime(format!("{e} (execution {})", outcome.exec_id))),
            }
        }
    }
}

/// A credential that lacks the scope is an auth failure (exit 3), any
/// other tool failure a runtime error (exit 1).
fn exit_code(e: &ToolError) -> i32 {
    match e {
        ToolError::InsufficientScope { .. } => 3,
        _ => 1,
    }
}

/// The one action a command runs: a `{tool}_{action}` name, or a tool and
/// `--action`; with its flat name.
fn one_action<'r>(
    registry: &'r Registry,
    tool: &str,
    action: Option<&str>,
) -> Result<(&'r crate::tools::Tool, &'r crate::tools::Action, String), CliError> {
    let (t, a) = lookup(registry, tool, action)?;
    let a = a.ok_or_else(|| {
        CliError::Usage(format!(
            "which action of `{}`? --action one of: {}",
            t.name,
            t.actions.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        ))
    })?;
    Ok((t, a, format!("{}_{}", t.name, a.name)))
}

fn lookup<'r>(
    registry: &'r Registry,
    tool: &str,
    action: Option<&str>,
) -> Result<(&'r crate::tools::Tool, Option<&'r crate::tools::Action>), CliError> {
    if let Some(t) = registry.tool(tool) {
        return match action {
            None => Ok((t, None)),
            Some(a) => t.action(a).map(|a| (t, Some(a))).ok_or_else(|| {
                CliError::Usage(format!(
                    "`{a}` is not an action of `{}`; one of: {}",
                    t.name,
                    t.actions.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
                ))
            }),
        };
    }
    if let Some((t, a)) = registry.flat(tool) {
        // `orders_list_orders --action get_order` is ambiguous: refuse it
        // rather than run one of the two.
        if let Some(given) = action
            && given != a.name
        {
            return Err(CliError::Usage(format!(
                "`{tool}` is the action `{}` of `{}`, but --action says `{given}`; \
                 drop --action, or pass `{}` --action {given}",
                a.name, t.name, t.name
            )));
        }
        return Ok((t, Some(a)));
    }
    let known: Vec<&str> = registry.tools().iter().map(|t| t.name).collect();
    Err(CliError::Usage(format!(
        "unknown tool `{tool}`; known tools: {}",
        known.join(", ")
    )))
}

/// The most `--input -` or `--input @FILE` reads (inputs are small; a
/// wrong file is not read to the end).
const MAX_INPUT_BYTES: u64 = 8 << 20;

/// `--input`: JSON given inline, `-` for stdin, or `@FILE` (as `gh api
/// --input` and curl's `-d @file`).
fn parse_input(s: &str) -> Result<Map<String, Value>, CliError> {
    use std::io::Read;
    let read = |from: &mut dyn Read, what: &str| -> Result<String, CliError> {
        let mut text = String::new();
        from.take(MAX_INPUT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("--input: cannot read {what}: {e}")))?;
        if text.len() as u64 > MAX_INPUT_BYTES {
            return Err(CliError::Usage(format!(
                "--input: {what} is larger than {} MiB",
                MAX_INPUT_BYTES >> 20
            )));
        }
        Ok(text)
    };
    let text = if s == "-" {
        read(&mut std::io::stdin().lock(), "standard input")?
    } else if let Some(path) = s.strip_prefix('@') {
        let mut f = std::fs::File::open(path)
            .map_err(|e| CliError::Usage(format!("--input: cannot open `{path}`: {e}")))?;
        read(&mut f, &format!("`{path}`"))?
    } else {
        s.to_string()
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CliError::Usage(
            "--input must be a JSON object, e.g. '{\"limit\": 5}'".into(),
        )),
        Err(e) => Err(CliError::Usage(format!("--input is not valid JSON: {e}"))),
    }
}

async fn call(
    pipeline: &Pipeline,
    cred: &Credential,
    name: &str,
    input: Map<String, Value>,
) -> Result<CallOutcome, CliError> {
    pipeline
        .call(
            cred,
            &ToolFilter::default(),
            CallRequest {
                name: name.to_string(),
                arguments: Some(input),
            },
            CancellationToken::new(),
        )
        .await
        .map_err(|e| match e {
            CallError::UnknownTool(n) => CliError::Usage(format!("unknown tool `{n}`")),
            CallError::Unauthenticated(e) => CliError::Auth(e.to_string()),
        })
}

/// Where `tools test` ran a call: on a store's own data (live, or test with
/// a test key), or on a scratch copy of a store's test data.
enum Place {
    Store(Scope),
    Scratch(String),
}

fn report(o: &CallOutcome, json: bool, place: &Place) {
    let ms = o.duration.as_secs_f64() * 1000.0;
    let name = format!("{}.{}", o.tool, o.action.unwrap_or("?"));
    let (store, mode, on_scratch) = match place {
        Place::Store(scope) => (scope.store_id.as_str(), scope.mode, false),
        Place::Scratch(store) => (store.as_str(), Mode::Test, true),
    };
    // A scratch copy's audit row goes with the copy: no id to look up later.
    let exec_id = (!on_scratch).then_some(o.exec_id.as_str());
    if json {
        let mut v = json!({"execution_id": exec_id, "tool": o.tool, "action": o.action,
                           "duration_ms": (ms * 100.0).round() / 100.0, "scratch": on_scratch,
                           "store": store, "mode": mode});
        match &o.result {
            Ok(r) => {
                v["status"] = json!("success");
                v["result"] = r.clone();
            }
            Err(e) => {
                v["status"] = json!(if e.code() == "timeout" { "timeout" } else { "error" });
                v["error_code"] = json!(e.code());
                v["error"] = json!(e.to_string());
            }
        }
        printer::json(&v);
        return;
    }
    // The run may have changed real data: say which.
    let whence = match exec_id {
        Some(id) => format!("on store {store} ({mode}) · {id}"),
        None => format!(
            "with its example on a scratch copy of store {store} (test data); your store is unchanged — \
             pass --input to run on it"
        ),
    };
    match &o.result {
        Ok(r) => {
            printer::err(&format!("✓ {name} succeeded in {ms:.2} ms {whence}"));
            printer::json(r);
        }
        Err(e) => printer::err(&format!("✗ {name} failed in {ms:.2} ms {whence}: {e}")),
    }
}

/// A scratch copy of the database for running example inputs on the test
/// mode of the current store: the real database and its audit trail are
/// never touched. Each run gets a fresh copy of the base, so examples
/// cannot disturb each other. When the store's test mode holds no data at
/// all (a store created without `--seed`), the copy's test mode is seeded
/// with demo data so the examples have products, orders and customers to
/// act on; a mode with some data is used as it is (examples whose ids it
/// lacks are skipped).
struct Scratch {
    dir: PathBuf,
    base: PathBuf,
    cred: Credential,
    ids: Vec<(&'static str, String)>,
    seeded: bool,
}

impl Scratch {
    async fn prepare(app: &App) -> Result<Scratch, CliError> {
        app.require_store()?;
        // The copy holds the whole database (every store, password and key
        // hashes): in a directory of this user's alone.
        let dir = std::env::temp_dir().join(crate::store::new_id("whale-tools-test"));
        crate::store::create_private_dir(&dir)?;
        let mut scratch = Scratch {
            base: dir.join("base.db"),
            dir,
            cred: Credential::LocalOwner {
                store_id: app.store_id.clone(),
                mode: Mode::Test,
            },
            ids: Vec::new(),
            seeded: false,
        };
        app.db.snapshot_to(&scratch.base)?;
        let scope = Scope {
            store_id: app.store_id.clone(),
            mode: Mode::Test,
        };
        let db = Arc::new(Db::open(&scratch.base)?);
        let empty = {
            let conn = db.conn()?;
            !crate::store::has_data(&Scoped::new(&conn, &scope))?
        };
        if empty {
            db.write(|tx| -> Result<(), CliError> {
                crate::store::seed::seed_mode(tx, &scope.store_id, Mode::Test, crate::store::now_ms())?;
                Ok(())
            })?;
            scratch.seeded = true;
        }
        // One read on the base copy so the audit trail has an execution to show.
        let pipeline = app.pipeline.over(db.clone());
        let _ = call(&pipeline, &scratch.cred, "store_get_settings", Map::new()).await;
        pipeline.audit().stop();
        drop(pipeline);
        {
            let conn = db.conn()?;
            scratch.ids = crate::store::example_ids(&Scoped::new(&conn, &scope))?;
        }
        // Every copy is of the main file alone: nothing may be left in the WAL.
        db.checkpoint();
        Ok(scratch)
    }

    /// The example with its placeholder ids filled in, or None when the
    /// test data has nothing to fill one of them with.
    fn example(&self, example: &Value) -> Option<Map<String, Value>> {
        let input = substitute(example, &self.ids);
        (!has_placeholder(&input)).then(|| input.as_object().cloned().unwrap_or_default())
    }

    /// Runs one call on a fresh copy of the base, then removes the copy.
    async fn run(
        &self,
        app: &App,
        n: usize,
        name: &str,
        input: Map<String, Value>,
    ) -> Result<CallOutcome, CliError> {
        let copy = self.dir.join(format!("case{n}.db"));
        std::fs::copy(&self.base, &copy)?;
        let pipeline = app.pipeline.over(Arc::new(Db::open(&copy)?));
        let outcome = call(&pipeline, &self.cred, name, input).await;
        pipeline.audit().stop();
        drop(pipeline);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", copy.display()));
        }
        outcome
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn has_placeholder(v: &Value) -> bool {
    match v {
        Value::String(s) => crate::store::is_example_placeholder(s),
        Value::Array(a) => a.iter().any(has_placeholder),
        Value::Object(m) => m.values().any(has_placeholder),
        _ => false,
    }
}

enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

impl Verdict {
    fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Skip(_) => "skip",
        }
    }
    fn detail(&self) -> Option<&str> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail(m) | Verdict::Skip(m) => Some(m),
        }
    }
}

/// Runs every action's example input on the test mode of a scratch copy of
/// the store — a fresh copy per action, so examples cannot disturb each
/// other and the real database is never touched.
async fn test_all(app: &App, json: bool) -> Result<(), CliError> {
    let scratch = Scratch::prepare(app).await?;
    let cases: Vec<(String, Value)> = app
        .pipeline
        .registry()
        .tools()
        .iter()
        .flat_map(|t| {
            t.actions
                .iter()
                .map(move |a| (format!("{}_{}", t.name, a.name), a.example.clone()))
        })
        .collect();
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(cases.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let mut results = Vec::new();
    for (i, (name, example)) in cases.iter().enumerate() {
        bar.set_message(name.clone());
        let (verdict, ms) = match scratch.example(example) {
            None => (
                Verdict::Skip("the test data has no record for the example's ids".into()),
                0.0,
            ),
            Some(input) => {
                let o = scratch.run(app, i + 1, name, input).await?;
                let v = match &o.result {
                    Ok(_) => Verdict::Pass,
                    Err(e) => Verdict::Fail(e.to_string()),
                };
                (v, o.duration.as_secs_f64() * 1000.0)
            }
        };
        results.push((name.clone(), verdict, ms));
        bar.inc(1);
    }
    bar.finish_and_clear();

    let count = |label: &str| results.iter().filter(|(_, v, _)| v.label() == label).count();
    let (passed, failed, skipped) = (count("pass"), count("fail"), count("skip"));
    if json {
        let v: Vec<Value> = results
            .iter()
            .map(|(n, v, ms)| {
                json!({"tool": n, "status": v.label(),
                       "duration_ms": (ms * 100.0).round() / 100.0,
                       "error": v.detail()})
            })
            .collect();
        printer::json(&json!({"passed": passed, "failed": failed, "skipped": skipped,
                              "seeded": scratch.seeded, "results": v}));
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|(n, v, ms)| {
                vec![
                    v.label().to_ascii_uppercase(),
                    n.clone(),
                    format!("{ms:.2} ms"),
                    v.detail().unwrap_or_default().to_owned(),
                ]
            })
            .collect();
        printer::table(&["", "ACTION", "TIME", "NOTE"], &rows);
        if scratch.seeded {
            printer::out(&format!(
                "\nThe test mode of store `{}` has no catalog: the scratch copy was seeded with demo data.",
                app.store_id
            ));
        }
        let skipped = if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        };
        printer::out(&format!("\n{passed} passed, {failed} failed{skipped}"));
    }
    if failed > 0 {
        return Err(CliError::Silent(1));
    }
    Ok(())
}

fn substitute(v: &Value, ids: &[(&'static str, String)]) -> Value {
    match v {
        Value::String(s) => ids
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, id)| Value::String(id.clone()))
            .unwrap_or_else(|| v.clone()),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), substitute(x, ids))).collect()),
        other => other.clone(),
    }
}

/// docs/tools.md: the catalog generated from the registry (a test fails
/// when the committed file differs).
fn catalog_markdown(registry: &Registry) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let actions: usize = registry.tools().iter().map(|t| t.actions.len()).sum();
    let _ = writeln!(md, "# whale tools\n");
    let _ = writeln!(
        md,
        "<!-- Generated by `whale tools docs` from the tool registry. Do not edit; run \
         `UPDATE_GENERATED=1 cargo test --test generated` after changing a tool. -->\n"
    );
    let _ = writeln!(
        md,
        "{} tools, {actions} actions. In MCP's default `grouped` mode each tool is one MCP tool with an \
         `action` argument; `--tool-mode flat` lists each action as `{{tool}}_{{action}}`. A read action needs \
         the `R:read` scope (or bare `R`), a write or destructive action `R:write` (or `R`). Money is integer \
         minor units (cents).\n",
        registry.tools().len()
    );
    let _ = writeln!(md, "| tool | category | scope | actions |\n|---|---|---|---|");
    for t in registry.tools() {
        let _ = writeln!(
            md,
            "| [`{}`](#{}) | {} | `{}` | {} |",
            t.name,
            t.name,
            t.category.as_str(),
            t.resource,
            t.actions
                .iter()
                .map(|a| format!("`{}`", a.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for t in registry.tools() {
        let _ = writeln!(md, "\n## {}\n\n{}\n", t.name, t.description);
        for a in &t.actions {
            let _ = writeln!(
                md,
                "### `{}.{}`\n\n{} *Effect: {}{}; scope: `{}`.*\n",
                t.name,
                a.name,
                a.description,
                a.effect.as_str(),
                if a.idempotent && !a.effect.is_read() {
                    ", idempotent"
                } else {
                    ""
                },
                crate::auth::ScopeSet::needed(t.resource, !a.effect.is_read())
            );
            let props = a.input_schema().get("properties").and_then(Value::as_object);
            let required: Vec<&str> = a
                .input_schema()
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = props.filter(|p| !p.is_empty()) {
                let _ = writeln!(
                    md,
                    "| parameter | type | required | description |\n|---|---|---|---|"
                );
                for (name, schema) in props {
                    let _ = writeln!(
                        md,
                        "| `{name}` | {} | {} | {} |",
                        type_name(schema),
                        if required.contains(&name.as_str()) {
                            "yes"
                        } else {
                            ""
                        },
                        schema
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .replace('\n', " ")
                            .replace('|', "\\|")
                    );
                }
                md.push('\n');
            }
            let _ = writeln!(md, "Example: `{}`\n", a.example);
        }
    }
    md
}

/// A parameter's type for docs/tools.md. Enums (`enum`, or a `oneOf` of
/// documented `const`s) list their values; `null` is left out, as it is
/// for every optional field.
fn type_name(schema: &Value) -> String {
    if let Some(values) = allowed_values(schema) {
        return values.join(" \\| ");
    }
    match schema.get("type") {
        Some(Value::String(t)) => one_type(schema, t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(|t| one_type(schema, t))
            .collect::<Vec<_>>()
            .join(" or "),
        _ if schema.get("anyOf").is_some() || schema.get("oneOf").is_some() => {
            let alts = schema
                .get("anyOf")
                .or_else(|| schema.get("oneOf"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            alts.iter()
                .filter(|a| a.get("type") != Some(&json!("null")))
                .map(type_name)
                .collect::<Vec<_>>()
                .join(" or ")
        }
        _ => "any".into(),
    }
}

fn one_type(schema: &Value, t: &str) -> String {
    if t == "array" {
        format!(
            "array of {}",
            schema.get("items").map(type_name).unwrap_or_else(|| "any".into())
        )
    } else {
        t.to_string()
    }
}

/// The values of an enum, each in backticks: `enum`, or `oneOf`/`anyOf`
/// alternatives that are each a `const` (or `null`). None for any other
/// schema.
fn allowed_values(schema: &Value) -> Option<Vec<String>> {
    let shown = |v: &Value| format!("`{}`", v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return Some(e.iter().filter(|v| !v.is_null()).map(shown).collect());
    }
    let alts = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)?;
    let mut values = Vec::new();
    for alt in alts {
        match alt.get("const") {
            Some(Value::Null) => {}
            Some(v) => values.push(shown(v)),
            None if alt.get("type") == Some(&json!("null")) => {}
            None => values.extend(allowed_values(alt)?),
        }
    }
    (!values.is_empty()).then_some(values)
}
