//! The tool registry: the one list of every tool and action whale offers.
//!
//! Each action declares its input and output types (their JSON Schemas are
//! derived with schemars, so the published schema and the code that reads the
//! input cannot drift), its [`Effect`], and an example input. A tool declares
//! its [`Category`] and the scope resource it needs. MCP annotations,
//! `whale tools list`, `docs/tools.md`, schema snapshots and filters are all
//! derived from this list.
//!
//! Adding an action touches one file: the tool's module, where the action's
//! input/output types, handler and test live.

pub mod commerce;
pub mod operations;
pub mod platform;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::error::ToolError;
use crate::store::Scoped;

/// What an action does to the store. There is no default: every action says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Reads only.
    Read,
    /// Creates or changes data; can be undone by another call.
    Write,
    /// Removes or irreversibly changes data (cancel, refund, delete).
    Destructive,
}

impl Effect {
    pub fn is_read(self) -> bool {
        self == Effect::Read
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Write => "write",
            Effect::Destructive => "destructive",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Commerce,
    Intelligence,
    Marketing,
    Content,
    Platform,
    Operations,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Commerce,
        Category::Intelligence,
        Category::Marketing,
        Category::Content,
        Category::Platform,
        Category::Operations,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Commerce => "commerce",
            Category::Intelligence => "intelligence",
            Category::Marketing => "marketing",
            Category::Content => "content",
            Category::Platform => "platform",
            Category::Operations => "operations",
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a handler sees: the store partition of the caller, and who it is.
pub struct Ctx<'a> {
    pub db: Scoped<'a>,
    pub principal: &'a Principal,
    pub registry: &'a Registry,
}

type Handler = Box<dyn Fn(&Ctx<'_>, Value) -> Result<Value, ToolError> + Send + Sync>;

/// A JSON Schema object, shared.
pub type Schema = Arc<Map<String, Value>>;
type MakeSchemas = fn() -> (Map<String, Value>, Map<String, Value>);

/// What a read's audit row keeps of its output, when not the output itself
/// (see [`Action::audited_as`]).
pub type AuditView = fn(&Value) -> Value;

pub struct Action {
    pub name: &'static str,
    pub description: &'static str,
    pub effect: Effect,
    pub idempotent: bool,
    /// A write that only adds records and changes or removes nothing that
    /// exists (see [`Action::destructive_hint`]).
    pub additive: bool,
    /// For a read: what its audit row keeps of its output (None: all of it).
    pub audit_view: Option<AuditView>,
    /// Reads the audit trail: the pipeline first writes out the rows still
    /// queued for it, so an agent finds the executions it was just told of.
    pub reads_audit: bool,
    /// Input and output JSON Schemas, generated on first use (start-up
    /// needs none of them: `initialize` lists no tools).
    schemas: OnceLock<(Schema, Schema)>,
    make_schemas: MakeSchemas,
    pub example: Value,
    /// Compiled on first use: building all of them costs most of a cold
    /// start, and `initialize` needs none (a registry test builds them all).
    validator: std::sync::OnceLock<jsonschema::Validator>,
    handler: Handler,
}

impl Action {
    /// Declares an action whose input is `I` and output `O`.
    pub fn new<I, O>(
        name: &'static str,
        description: &'static str,
        effect: Effect,
        example: Value,
        handler: fn(&Ctx<'_>, I) -> Result<O, ToolError>,
    ) -> Action
    where
        I: DeserializeOwned + JsonSchema + 'static,
        O: Serialize + JsonSchema + 'static,
    {
        Action {
            name,
            description,
            effect,
            idempotent: effect.is_read(),
            additive: false,
            audit_view: None,
            reads_audit: false,
            schemas: OnceLock::new(),
            make_schemas: || (schema_for::<I>(), schema_for::<O>()),
            example,
            validator: std::sync::OnceLock::new(),
            handler: Box::new(move |ctx, mut input| {
                whole_numbers_as_integers(&mut input);
                let typed = I::deserialize(&input).map_err(|e| {
                    // The schema accepted it, so this is a rule schemars could
                    // not express: a whole number too large for its field
                    // (1e300 cents), named here; otherwise serde names the
                    // field in its message.
                    match oversized_integer(&input, String::new()) {
                        Some((pointer, n)) => ToolError::invalid(
                            pointer_to_field(&pointer),
                            format!("{n} is too large for a whole number here"),
                        ),
                        None => ToolError::invalid("input", e.to_string()),
                    }
                })?;
                let out = handler(ctx, typed)?;
                serde_json::to_value(out)
                    .map_err(|e| ToolError::Internal(format!("cannot encode result: {e}")))
            }),
        }
    }

    pub fn input_schema(&self) -> &Schema {
        &self.schemas().0
    }
    pub fn output_schema(&self) -> &Schema {
        &self.schemas().1
    }
    fn schemas(&self) -> &(Schema, Schema) {
        self.schemas.get_or_init(|| {
            let (i, o) = (self.make_schemas)();
            (Arc::new(i), Arc::new(o))
        })
    }

    /// Marks a write as idempotent (repeating it leaves the same state).
    pub fn idempotent(mut self) -> Action {
        self.idempotent = true;
        self
    }

    /// Marks a write that only adds records (a create).
    pub fn additive(mut self) -> Action {
        self.additive = true;
        self
    }

    /// MCP's `destructiveHint`: false only for "only additive updates", so
    /// true for every write that changes or removes what exists (an update
    /// overwrites, a negative stock adjustment takes units away), not just
    /// for the actions whale calls destructive (cancel, refund, delete).
    pub fn destructive_hint(&self) -> bool {
        !self.effect.is_read() && !self.additive
    }

    /// Records this read's output in its audit row as `view` of it: a read
    /// of the audit trail keeps the ids of the executions it returned, not
    /// their content (already in the trail), or every such read would hold
    /// the previous ones' outputs and grow the trail without bound.
    pub fn audited_as(mut self, view: AuditView) -> Action {
        self.audit_view = Some(view);
        self
    }

    /// Marks an action that reads the audit trail (see `reads_audit`).
    pub fn reads_audit(mut self) -> Action {
        self.reads_audit = true;
        self
    }

    /// The description of the parameter whose schema keyword at `keyword`
    /// (a JSON pointer such as `/properties/status/enum`) refused a value,
    /// as a sentence to add to the refusal: for an enum it often says where
    /// the other values went ("use cancel_order …").
    fn field_hint(&self, keyword: &str) -> String {
        let Some((property, _)) = keyword.rsplit_once('/') else {
            return String::new();
        };
        let schema = Value::Object((**self.input_schema()).clone());
        match schema
            .pointer(property)
            .and_then(|p| p.get("description"))
            .and_then(Value::as_str)
        {
            Some(d) if !d.trim().is_empty() => {
                format!(" ({})", d.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            _ => String::new(),
        }
    }

    /// Leaves out each `null` given for a parameter that cannot be null:
    /// many clients send every optional field, `null` for those they do not
    /// use (and, for a grouped tool, for the other actions' parameters).
    /// Such a `null` means "not given"; where a field takes `null` (a value
    /// to clear), it stays.
    pub fn drop_unset_nulls(&self, input: &mut Value) {
        if has_null(input) {
            drop_unset_nulls(self.input_schema(), input);
        }
    }

    /// Checks `input` against the input schema; the error names the field.
    pub fn validate(&self, input: &Value) -> Result<(), ToolError> {
        // JSON Schema counts 15.0 as an integer, but money written with a
        // decimal point is money in the wrong unit: `15.00` is 15 dollars
        // to whoever wrote it, and would be 15 cents here.
        if let Some((pointer, n)) = fractional_money(input) {
            return Err(ToolError::invalid(
                pointer_to_field(&pointer),
                format!(
                    "{n} is written with a decimal point or an exponent; money is a whole number of cents, in digits only (1500 for 15.00)"
                ),
            ));
        }
        let validator = self.validator.get_or_init(|| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&Value::Object((**self.input_schema()).clone()))
                .unwrap_or_else(|e| panic!("input schema of `{}` is not valid JSON Schema: {e}", self.name))
        });
        let Some(err) = validator.iter_errors(input).next() else {
            return Ok(());
        };
        let mut field = pointer_to_field(err.instance_path().as_str());
        use jsonschema::error::ValidationErrorKind as K;
        let message = match err.kind() {
            K::Required { property } => {
                let prop = property.as_str().unwrap_or_default();
                field = join_field(&field, prop);
                "is required".to_string()
            }
            K::AdditionalProperties { unexpected } => {
                let parent = field.clone();
                field = join_field(&field, unexpected.first().map_or("", |s| s.as_str()));
                if parent.is_empty() {
                    self.not_a_parameter()
                } else {
                    // A key inside a nested object (`items[0].price_cents`):
                    // the fields of that object, not the action's parameters.
                    let at = subschema_at(self.input_schema(), err.instance_path().as_str());
                    not_a_field(&parent, at)
                }
            }
            // `additionalProperties: false` with no properties at all (an
            // action without parameters) fails as a false schema, which
            // jsonschema words for schema authors.
            K::FalseSchema if field.is_empty() && input.is_object() => {
                let unexpected = input
                    .as_object()
                    .and_then(|o| o.keys().next())
                    .map_or("", |k| k.as_str());
                field = join_field(&field, unexpected);
                self.not_a_parameter()
            }
            // An enum, or a documented enum (a oneOf of consts): name every
            // value (jsonschema names two and counts the rest). `null`, the
            // value of an optional field left out, is not one to suggest.
            K::Enum { options } => match options.as_array() {
                Some(values) => {
                    not_one_of(err.instance(), values.iter().filter(|v| !v.is_null()))
                        + &self.field_hint(err.schema_path().as_str())
                }
                None => err.to_string(),
            },
            // A pattern says nothing to an agent; the parameter's
            // description says what the value should look like.
            K::Pattern { .. } => err.to_string() + &self.field_hint(err.schema_path().as_str()),
            K::OneOfNotValid { context } | K::AnyOf { context } => match allowed_consts(context) {
                Some(values) => {
                    not_one_of(err.instance(), values.iter().filter(|v| !v.is_null()))
                        + &self.field_hint(err.schema_path().as_str())
                }
                None => err.to_string(),
            },
            _ => err.to_string(),
        };
        if field.is_empty() {
            field = "input".into();
        }
        // jsonschema quotes the whole offending value: keep the start of a
        // long one (the agent sent it; the field and the rule are the news).
        let value = err.instance().to_string();
        let message = match crate::audit::shorten(&value, 80) {
            Cow::Borrowed(_) => message,
            Cow::Owned(start) => {
                message.replace(&value, &format!("{start} ({} characters)", value.chars().count()))
            }
        };
        Err(ToolError::InvalidInput { field, message })
    }

    /// The message for a parameter this action does not take.
    fn not_a_parameter(&self) -> String {
        let known: Vec<String> = self
            .input_schema()
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
            .unwrap_or_default();
        if known.is_empty() {
            format!("is not a parameter of `{}`; it takes no parameters", self.name)
        } else {
            format!(
                "is not a parameter of `{}`; known parameters: {}",
                self.name,
                known.join(", ")
            )
        }
    }

    pub(crate) fn run(&self, ctx: &Ctx<'_>, input: Value) -> Result<Value, ToolError> {
        (self.handler)(ctx, input)
    }
}

/// The schema of the value at `pointer` (`/items/0`) in an input of
/// `schema`, through `properties`, `items` and the branches of an
/// `anyOf`/`oneOf` (a nullable object).
fn subschema_at<'a>(schema: &'a Map<String, Value>, pointer: &str) -> Option<&'a Map<String, Value>> {
    fn step<'a>(schema: &'a Map<String, Value>, seg: &str) -> Option<&'a Map<String, Value>> {
        let direct = if seg.bytes().all(|b| b.is_ascii_digit()) {
            schema.get("items")
        } else {
            schema.get("properties").and_then(|p| p.get(seg))
        };
        direct
            .and_then(Value::as_object)
            .or_else(|| branches(schema).find_map(|b| step(b, seg)))
    }
    pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .try_fold(schema, |at, seg| {
            step(at, &seg.replace("~1", "/").replace("~0", "~"))
        })
}

/// The `anyOf`/`oneOf` alternatives of a schema.
fn branches(schema: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    ["anyOf", "oneOf"]
        .into_iter()
        .filter_map(|k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
}

/// The properties of an object's schema, or of its object branch (an
/// optional nested object is `anyOf: [{…}, {"type": "null"}]`).
fn object_properties(schema: &Map<String, Value>) -> Option<&Map<String, Value>> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .or_else(|| branches(schema).find_map(object_properties))
}

/// The message for a key a nested object (at `parent`) does not take.
fn not_a_field(parent: &str, schema: Option<&Map<String, Value>>) -> String {
    match schema.and_then(object_properties) {
        Some(p) if !p.is_empty() => {
            let known: Vec<String> = p.keys().map(|k| format!("`{k}`")).collect();
            format!("is not a field of `{parent}`; its fields: {}", known.join(", "))
        }
        _ => format!("is not a field of `{parent}`"),
    }
}

/// Whether a parameter's schema takes `null`.
fn accepts_null(schema: &Map<String, Value>) -> bool {
    let typed = |t: &Value| match t {
        Value::String(t) => t == "null",
        Value::Array(ts) => ts.iter().any(|t| t == "null"),
        _ => false,
    };
    schema.get("type").is_some_and(typed)
        || schema.get("const").is_some_and(Value::is_null)
        || schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().any(Value::is_null))
        || branches(schema).any(accepts_null)
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(m) => m.values().any(has_null),
        _ => false,
    }
}

/// See [`Action::drop_unset_nulls`]; recurses into nested objects and
/// arrays of objects.
fn drop_unset_nulls(schema: &Map<String, Value>, input: &mut Value) {
    match input {
        Value::Object(m) => {
            let props = object_properties(schema);
            m.retain(|k, v| {
                !v.is_null()
                    || props
                        .and_then(|p| p.get(k))
                        .and_then(Value::as_object)
                        .is_some_and(accepts_null)
            });
            for (k, v) in m.iter_mut() {
                if let Some(sub) = props.and_then(|p| p.get(k)).and_then(Value::as_object) {
                    drop_unset_nulls(sub, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items").and_then(Value::as_object) {
                items.iter_mut().for_each(|v| drop_unset_nulls(sub, v));
            }
        }
        _ => {}
    }
}

/// The first money field (`…_cents`) of `v` given as a number with a
/// decimal point, as (JSON pointer, the number). The pointer is built only
/// for a find: every call's input passes through here.
fn fractional_money(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| fractional_money(v).map(|(at, n)| (format!("/{i}{at}"), n))),
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            let found = match v {
                // (Past 2^53 it is a number too large, said as such later.)
                Value::Number(n)
                    if k.ends_with("_cents")
                        && n.as_f64().is_some_and(|f| n.is_f64() && f.abs() < 9.0e15) =>
                {
                    Some((String::new(), n.to_string()))
                }
                _ => fractional_money(v),
            };
            found.map(|(at, n)| (format!("/{}{at}", k.replace('~', "~0").replace('/', "~1")), n))
        }),
        _ => None,
    }
}

fn join_field(base: &str, prop: &str) -> String {
    if base.is_empty() {
        prop.to_string()
    } else {
        format!("{base}.{prop}")
    }
}

/// `/items/0/quantity` → `items[0].quantity`.
fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// One parameter of a grouped tool, from the schemas the actions that take
/// it give it. Where they agree (apart from the description), that schema,
/// with each action's own description when those differ. Where they do not
/// (`orders.status` lists every order status for `list_orders` but only
/// `paid` and `fulfilled` for `update_status`), any of them (`anyOf`), each
/// action's description named: the first action's version alone would
/// mislead a model about the others. A `default` is kept only when every
/// action has the same one — a create action's default shown for an update
/// action (where leaving the field out keeps it) would invite a client that
/// fills in defaults to overwrite data.
fn merged_parameter(uses: &[(&str, &Value)]) -> Map<String, Value> {
    let without = |v: &Value, keys: &[&str]| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        for k in keys {
            m.remove(*k);
        }
        m
    };
    // (Doc comments wrap where their source lines did.)
    let description = |v: &Value| {
        let d = v.get("description").and_then(Value::as_str).unwrap_or("");
        d.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let names: Vec<&str> = uses.iter().map(|(a, _)| *a).collect();
    let descriptions: Vec<String> = uses.iter().map(|(_, v)| description(v)).collect();
    // Actions grouped by what they say about the parameter. One that says
    // nothing is not given another's words: a filter of list_orders is not
    // the customer of create_order.
    let mut said: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, d) in names.iter().zip(&descriptions) {
        match said.iter_mut().find(|(text, _)| text == d) {
            Some((_, actions)) => actions.push(name),
            None => said.push((d, vec![name])),
        }
    }
    let text = if let [(d, _)] = said.as_slice() {
        let note = format!("(for {})", names.join(", "));
        if d.is_empty() { note } else { format!("{d} {note}") }
    } else {
        said.iter()
            .map(|(d, actions)| {
                let who = actions.join(", ");
                if d.is_empty() {
                    format!("For {who}.")
                } else {
                    format!("For {who}: {}.", d.trim_end_matches('.'))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = without(uses[0].1, &["description"]);
    let mut merged = if uses.iter().all(|(_, v)| without(v, &["description"]) == first) {
        first
    } else {
        let mut distinct: Vec<Value> = Vec::new();
        for (_, v) in uses {
            let v = Value::Object(without(v, &["description", "default"]));
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        // One action's optional `T` and another's nullable `T` (an update's
        // "leave out to keep") are one parameter: the nullable one.
        if distinct.iter().all(|v| non_null(v) == non_null(&distinct[0])) {
            distinct.sort_by_key(|v| !v.as_object().is_some_and(accepts_null));
            distinct.truncate(1);
        }
        let mut m = Map::new();
        if distinct.len() == 1 {
            m = distinct.remove(0).as_object().cloned().unwrap_or_default();
        } else {
            m.insert("anyOf".into(), Value::Array(distinct));
        }
        m
    };
    merged.insert("description".into(), Value::String(text));
    merged
}

/// A parameter schema with `null` taken out of its type and enum.
fn non_null(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        if let Some(Value::Array(types)) = m.get("type") {
            let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            let t = if rest.len() == 1 {
                rest[0].clone()
            } else {
                Value::Array(rest)
            };
            m.insert("type".into(), t);
        }
        if let Some(Value::Array(values)) = m.get_mut("enum") {
            values.retain(|x| !x.is_null());
        }
    }
    v
}

/// The JSON Schema of `T`, self-contained (no `$ref`), without the noise
/// schemars adds (`$schema`, `title`, integer `format`s that strict
/// validators such as Ajv reject).
pub fn schema_for<T: JsonSchema>() -> Map<String, Value> {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    clean_schema(&mut value);
    let mut map = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    map.remove("$schema");
    map.remove("title");
    if !map.contains_key("type") {
        map.insert("type".into(), json!("object"));
    }
    map
}

/// Schema keywords whose value is one subschema, or an array or map of them.
const SUBSCHEMA_KEYWORDS: [&str; 6] = ["properties", "items", "anyOf", "oneOf", "allOf", "not"];

fn clean_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // A boolean subschema (`true` for a `serde_json::Value` field) is
            // valid JSON Schema but not in an MCP tool listing: the schema of
            // `Tool` types each property as an object, and the TypeScript SDK
            // rejects the whole `tools/list` over one `true`. `{}` means the
            // same (anything), `{"not": {}}` the same as `false`.
            for key in SUBSCHEMA_KEYWORDS {
                match m.get_mut(key) {
                    Some(Value::Object(props)) if key == "properties" => {
                        props.values_mut().for_each(objectify_subschema)
                    }
                    Some(Value::Array(all)) => all.iter_mut().for_each(objectify_subschema),
                    Some(one) if key != "properties" => objectify_subschema(one),
                    _ => {}
                }
            }
            if let Some(Value::String(f)) = m.get("format")
                && matches!(
                    f.as_str(),
                    "int8"
                        | "int16"
                        | "int32"
                        | "int64"
                        | "uint8"
                        | "uint16"
                        | "uint32"
                        | "uint64"
                        | "uint"
                        | "int"
                        | "float"
                        | "double"
                )
            {
                m.remove("format");
            }
            for (_, child) in m.iter_mut() {
                clean_schema(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(clean_schema),
        _ => {}
    }
}

fn objectify_subschema(v: &mut Value) {
    match v {
        Value::Bool(true) => *v = json!({}),
        Value::Bool(false) => *v = json!({"not": {}}),
        _ => {}
    }
}

pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub category: Category,
    /// The scope resource (SPEC §5) its actions need, `R:read` or `R:write`.
    pub resource: &'static str,
    pub actions: Vec<Action>,
}

impl Tool {
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Input schema of the grouped MCP tool: an `action` enum plus the union
    /// of every action's parameters. Clients reject top-level `oneOf`, so the
    /// per-action rules are checked against each action's own schema.
    pub fn grouped_input_schema(&self, actions: &[&Action]) -> Map<String, Value> {
        let mut props = Map::new();
        let names: Vec<&str> = actions.iter().map(|a| a.name).collect();
        let summary = actions
            .iter()
            .map(|a| {
                let required: Vec<&str> = a
                    .input_schema()
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if required.is_empty() {
                    format!("`{}`", a.name)
                } else {
                    format!("`{}` (requires {})", a.name, required.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        props.insert(
            "action".into(),
            json!({"type": "string", "enum": names, "description": format!("The action to run: {summary}.")}),
        );
        // Each parameter, with the schema every action that takes it gives it.
        let mut params: Vec<(String, Vec<(&str, &Value)>)> = Vec::new();
        for a in actions {
            if let Some(p) = a.input_schema().get("properties").and_then(Value::as_object) {
                for (k, v) in p {
                    match params.iter_mut().find(|(name, _)| name == k) {
                        Some(entry) => entry.1.push((a.name, v)),
                        None => params.push((k.clone(), vec![(a.name, v)])),
                    }
                }
            }
        }
        for (k, uses) in params {
            props.insert(k, Value::Object(merged_parameter(&uses)));
        }
        let mut m = Map::new();
        m.insert("type".into(), json!("object"));
        m.insert("properties".into(), Value::Object(props));
        m.insert("required".into(), json!(["action"]));
        // As each action's own schema says, and as a call is checked: a
        // key no action takes is refused, so a client can know it first.
        m.insert("additionalProperties".into(), json!(false));
        m
    }

    /// Output schema of the grouped MCP tool: any of the actions' outputs,
    /// each shape once (four of the orders actions return an order: listed
    /// four times, it was a third of the tool's listing).
    pub fn grouped_output_schema(&self, actions: &[&Action]) -> Map<String, Value> {
        let mut outs: Vec<Value> = Vec::new();
        for a in actions {
            let out = Value::Object((**a.output_schema()).clone());
            if !outs.contains(&out) {
                outs.push(out);
            }
        }
        if let [Value::Object(only)] = outs.as_slice() {
            return only.clone();
        }
        let mut m = Map::new();
        m.insert("type".into(), json!("object"));
        m.insert("anyOf".into(), Value::Array(outs));
        m
    }
}

/// Every built-in tool, in a deterministic order, with name lookup in both
/// spellings (`products` + action, or `products_list_products`).
pub struct Registry {
    tools: Vec<Tool>,
    by_name: HashMap<&'static str, usize>,
    by_flat: HashMap<String, (usize, usize)>,
}

impl Registry {
    pub fn builtin() -> Registry {
        let mut tools = vec![
            commerce::products::tool(),
            commerce::orders::tool(),
            commerce::customers::tool(),
            commerce::inventory::tool(),
            operations::locations::tool(),
            platform::store::tool(),
            platform::audit_trail::tool(),
        ];
        tools.sort_by(|a, b| (a.category, a.name).cmp(&(b.category, b.name)));
        Registry::from_tools(tools)
    }

    pub fn from_tools(tools: Vec<Tool>) -> Registry {
        let mut by_name = HashMap::new();
        let mut by_flat = HashMap::new();
        for (ti, t) in tools.iter().enumerate() {
            by_name.insert(t.name, ti);
            for (ai, a) in t.actions.iter().enumerate() {
                let flat = format!("{}_{}", t.name, a.name);
                let prev = by_flat.insert(flat.clone(), (ti, ai));
                assert!(prev.is_none(), "two actions spell `{flat}`");
            }
        }
        Registry {
            tools,
            by_name,
            by_flat,
        }
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }
    /// Resolves a flat `{tool}_{action}` name.
    pub fn flat(&self, name: &str) -> Option<(&Tool, &Action)> {
        self.by_flat.get(name).map(|&(t, a)| {
            let tool = &self.tools[t];
            (tool, &tool.actions[a])
        })
    }

    /// `text` (a message written with actions named `tool.action`) as a
    /// session of `mode` names them: `tool_action`, the tool to call, in
    /// flat mode.
    pub fn spelt<'t>(&self, text: &'t str, mode: crate::cli::ToolMode) -> std::borrow::Cow<'t, str> {
        let mut text = std::borrow::Cow::Borrowed(text);
        if mode == crate::cli::ToolMode::Grouped {
            return text;
        }
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        for t in &self.tools {
            if !text.contains(t.name) {
                continue;
            }
            for a in &t.actions {
                let grouped = format!("{}.{}", t.name, a.name);
                // Whole names only: not `xorders.list_orders` or a longer word.
                let dots: Vec<usize> = text
                    .match_indices(&grouped)
                    .map(|(i, _)| i)
                    .filter(|&i| {
                        !word(text[..i].chars().next_back())
                            && !word(text[i + grouped.len()..].chars().next())
                    })
                    .map(|i| i + t.name.len())
                    .collect();
                if dots.is_empty() {
                    continue;
                }
                // Only the dot changes, one byte for one: the offsets hold.
                let mut owned = text.into_owned();
                for dot in dots {
                    owned.replace_range(dot..dot + 1, "_");
                }
                text = owned.into();
            }
        }
        text
    }
}

/// Which tools a server exposes (`--tools`, `--categories`, `--read-only`).
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    pub tools: Option<Vec<String>>,
    pub categories: Option<Vec<Category>>,
    pub read_only: bool,
}

impl ToolFilter {
    pub fn allows_tool(&self, tool: &Tool) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == tool.name))
            && self
                .categories
                .as_ref()
                .is_none_or(|cats| cats.contains(&tool.category))
            && (!self.read_only || tool.actions.iter().any(|a| a.effect.is_read()))
    }
    pub fn allows_action(&self, tool: &Tool, action: &Action) -> bool {
        self.allows_tool(tool) && (!self.read_only || action.effect.is_read())
    }
}

/// Shared shape of paged list outputs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Number of matching records across all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Common paging parameters (flattened into list inputs).
pub fn default_limit() -> i64 {
    20
}

/// The values a oneOf/anyOf of `const` alternatives allows, when that is
/// what failed (schemars writes a documented enum that way).
fn allowed_consts(context: &[Vec<jsonschema::ValidationError<'static>>]) -> Option<Vec<Value>> {
    use jsonschema::error::ValidationErrorKind as K;
    context
        .iter()
        .map(|alternative| match alternative.as_slice() {
            [e] => match e.kind() {
                K::Constant { expected_value } => Some(expected_value.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `"" is not one of "active", "draft", "archived"`: every allowed value.
fn not_one_of<'v>(instance: &Value, values: impl Iterator<Item = &'v Value>) -> String {
    format!(
        "{instance} is not one of {}",
        values.map(Value::to_string).collect::<Vec<_>>().join(", ")
    )
}

/// JSON Schema counts `5.0` as an integer and the schema check passes it,
/// but serde will not read a float into an integer field: whole-number
/// floats become integers before the input is decoded (a float field reads
/// an integer just as well).
/// The JSON pointer and value of the first number left as a float after
/// [`whole_numbers_as_integers`] that is whole (so it passed an `integer`
/// schema) or an unsigned integer past `i64`: what no integer field takes.
fn oversized_integer(v: &Value, at: String) -> Option<(String, String)> {
    match v {
        Value::Number(n) => {
            let whole_float = n.as_f64().is_some_and(|f| n.is_f64() && f.fract() == 0.0);
            let past_i64 = n.is_u64() && n.as_i64().is_none();
            (whole_float || past_i64).then(|| (at, n.to_string()))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| oversized_integer(v, format!("{at}/{i}"))),
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            oversized_integer(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")))
        }),
        _ => None,
    }
}

fn whole_numbers_as_integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(m) => m.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Runs `f` on a fresh demo store (live mode) in a transaction that is
/// rolled back afterwards (the tools' unit tests).
#[cfg(test)]
pub fn with_demo(f: impl FnOnce(&Ctx<'_>)) {
    let dir = std::env::temp_dir().join(crate::store::new_id("whale-test"));
    let db = crate::store::Db::open(&dir.join("w.db")).unwrap();
    {
        let mut conn = db.conn().unwrap();
        let tx = conn.transaction().unwrap();
        let principal = crate::auth::Principal::local_owner("demo", crate::store::Mode::Live);
        let registry = Registry::builtin();
        let ctx = Ctx {
            db: crate::store::Scoped::new(&tx, &principal.scope),
            principal: &principal,
            registry: &registry,
        };
        f(&ctx);
    }
    drop(db);
    std::fs::remove_dir_all(dir).ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parameter several actions take is described for each of them in
    /// the grouped schema: one action's enum or default must not stand for
    /// the others'.
    #[test]
    fn grouped_parameters_keep_every_actions_rules() {
        let registry = Registry::builtin();
        let grouped = |tool: &str| {
            let t = registry.tool(tool).expect(tool);
            let actions: Vec<&Action> = t.actions.iter().collect();
            t.grouped_input_schema(&actions)["properties"].clone()
        };
        // orders.status: any status to filter list_orders; only paid or
        // fulfilled for update_status, with its own advice.
        let status = &grouped("orders")["status"];
        let alternatives = status["anyOf"].as_array().expect("anyOf");
        assert!(
            alternatives.contains(&json!({"type": "string", "enum": ["paid", "fulfilled"]})),
            "{status}"
        );
        let text = status["description"].as_str().unwrap();
        assert!(
            text.contains("For update_status:") && text.contains("cancel_order"),
            "{text}"
        );
        // A create action's default is not shown where leaving the field out
        // keeps the value (update_customer).
        let customers = grouped("customers");
        assert!(
            customers["accepts_marketing"].get("default").is_none(),
            "{}",
            customers["accepts_marketing"]
        );
        assert!(
            customers["tags"].get("default").is_none(),
            "{}",
            customers["tags"]
        );
        // One action's optional and another's nullable field are one field.
        let products = grouped("products");
        assert_eq!(
            products["tags"]["type"],
            json!(["array", "null"]),
            "{}",
            products["tags"]
        );
        assert!(products["tags"].get("default").is_none());
        // Every parameter still validates what each action accepts.
        for t in registry.tools() {
            let actions: Vec<&Action> = t.actions.iter().collect();
            let schema = Value::Object(t.grouped_input_schema(&actions));
            let validator = jsonschema::validator_for(&schema).expect("grouped schema compiles");
            for a in &t.actions {
                let mut example = a.example.clone();
                example["action"] = json!(a.name);
                assert!(
                    validator.is_valid(&example),
                    "{}.{} example refused by the grouped schema",
                    t.name,
                    a.name
                );
            }
        }
    }

    /// A `null` that means "not given" goes, at any depth; one a field
    /// takes stays.
    #[test]
    fn nulls_go_only_where_a_field_cannot_be_null() {
        let registry = Registry::builtin();
        let create = registry
            .tool("orders")
            .and_then(|t| t.action("create_order"))
            .expect("create_order");
        let mut input = json!({
            "items": [{"variant_id": "var_x", "sku": null, "quantity": 1}],
            "shipping_address": {"country": "US", "region": null},
            "shipping_cents": null,
            "limit": null,
            "note": null
        });
        create.drop_unset_nulls(&mut input);
        assert_eq!(
            input,
            json!({
                "items": [{"variant_id": "var_x", "sku": null, "quantity": 1}],
                "shipping_address": {"country": "US"},
                "note": null
            })
        );
        assert!(create.validate(&input).is_ok(), "{input}");
    }

    /// A grouped tool's output schema offers each action's output shape,
    /// and each shape once.
    #[test]
    fn grouped_output_schemas_list_each_shape_once() {
        let registry = Registry::builtin();
        for t in registry.tools() {
            let actions: Vec<&Action> = t.actions.iter().collect();
            let grouped = Value::Object(t.grouped_output_schema(&actions));
            let shapes = match grouped.get("anyOf").and_then(Value::as_array) {
                Some(shapes) => shapes.clone(),
                None => vec![grouped.clone()],
            };
            for a in &actions {
                let own = Value::Object((**a.output_schema()).clone());
                assert_eq!(
                    shapes.iter().filter(|s| **s == own).count(),
                    1,
                    "{}.{}",
                    t.name,
                    a.name
                );
            }
            for (i, x) in shapes.iter().enumerate() {
                assert!(!shapes[i + 1..].contains(x), "{}: a shape twice", t.name);
            }
        }
        let orders = registry.tool("orders").expect("orders");
        let actions: Vec<&Action> = orders.actions.iter().collect();
        let shapes = orders.grouped_output_schema(&actions)["anyOf"]
            .as_array()
            .map(Vec::len);
        assert_eq!(shapes, Some(3), "page, order, refund");
    }

    /// Every action of the tool that queries the audit trail waits for
    /// the rows still queued (a new action there must not forget it).
    #[test]
    fn audit_trail_actions_read_the_audit_after_a_flush() {
        let registry = Registry::builtin();
        let tool = registry.tool("audit_trail").expect("audit_trail");
        for a in &tool.actions {
            assert!(a.reads_audit, "audit_trail.{} does not flush first", a.name);
        }
        for t in registry.tools().iter().filter(|t| t.name != "audit_trail") {
            for a in &t.actions {
                assert!(!a.reads_audit, "{}.{} waits for the audit writer", t.name, a.name);
            }
        }
    }

    /// MCP's `Tool` schema types each property (and, for clients such as
    /// the TypeScript SDK, each subschema) as an object: one boolean
    /// subschema makes a client refuse the whole tools/list.
    #[test]
    fn listed_schemas_have_no_boolean_subschemas() {
        fn check(path: &str, v: &Value) {
            let Value::Object(m) = v else { return };
            for key in SUBSCHEMA_KEYWORDS {
                let subs: Vec<(String, &Value)> = match m.get(key) {
                    Some(Value::Object(p)) if key == "properties" => {
                        p.iter().map(|(k, v)| (format!("{path}.{k}"), v)).collect()
                    }
                    Some(Value::Array(a)) => a
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{path}.{key}[{i}]"), v))
                        .collect(),
                    Some(one) if key != "properties" => vec![(format!("{path}.{key}"), one)],
                    _ => vec![],
                };
                for (p, sub) in subs {
                    assert!(sub.is_object(), "{p} is {sub}, not a schema object");
                    check(&p, sub);
                }
            }
        }
        let registry = Registry::builtin();
        for t in registry.tools() {
            let actions: Vec<&Action> = t.actions.iter().collect();
            check(t.name, &Value::Object(t.grouped_input_schema(&actions)));
            check(t.name, &Value::Object(t.grouped_output_schema(&actions)));
            for a in &t.actions {
                let name = format!("{}_{}", t.name, a.name);
                check(&name, &Value::Object((**a.input_schema()).clone()));
                check(&name, &Value::Object((**a.output_schema()).clone()));
            }
        }
        // The audit row's free-form fields were `true` before.
        let get = registry
            .tool("audit_trail")
            .and_then(|t| t.action("get_execution"));
        let out = Value::Object((**get.expect("get_execution").output_schema()).clone());
        assert!(out["properties"]["input"]["description"].is_string(), "{out}");
    }

    /// What an agent reads about each tool and parameter: a sentence that
    /// ends once (the grouped description ended in ".." for every tool),
    /// and no parameter left without a word on what it takes.
    #[test]
    fn listed_descriptions_are_complete_sentences() {
        use crate::transport::mcp::mcp_tools;
        let registry = Registry::builtin();
        let visible: Vec<(&Tool, Vec<&Action>)> = registry
            .tools()
            .iter()
            .map(|t| (t, t.actions.iter().collect()))
            .collect();
        for mode in [crate::cli::ToolMode::Grouped, crate::cli::ToolMode::Flat] {
            for tool in mcp_tools(&visible, mode) {
                let text = tool.description.as_deref().unwrap_or_default();
                assert!(
                    text.ends_with('.') && !text.ends_with(".."),
                    "{}: {text}",
                    tool.name
                );
            }
        }
        // Every parameter, nested ones too (an order's items[].quantity).
        fn walk(path: &str, schema: &Value, silent: &mut Vec<String>) {
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, p) in props {
                    let at = format!("{path}.{name}");
                    let said = p.get("description").and_then(Value::as_str).unwrap_or("");
                    if said.trim().is_empty() {
                        silent.push(at.clone());
                    }
                    walk(&at, p, silent);
                }
            }
            for key in ["items", "anyOf", "oneOf"] {
                match schema.get(key) {
                    Some(Value::Array(subs)) => subs.iter().for_each(|s| walk(path, s, silent)),
                    Some(sub @ Value::Object(_)) => walk(&format!("{path}[]"), sub, silent),
                    _ => {}
                }
            }
        }
        let mut silent = Vec::new();
        for t in registry.tools() {
            for a in &t.actions {
                let schema = Value::Object((**a.input_schema()).clone());
                walk(&format!("{}_{}", t.name, a.name), &schema, &mut silent);
            }
        }
        assert!(silent.is_empty(), "parameters without a description: {silent:?}");
    }

    /// MCP's destructiveHint is false only for "only additive updates":
    /// creates. Whatever overwrites, moves or removes says true, so a host
    /// that confirms destructive tools confirms those.
    #[test]
    fn only_creates_are_listed_as_not_destructive() {
        let registry = Registry::builtin();
        for t in registry.tools() {
            for a in &t.actions {
                let expected = match a.effect {
                    Effect::Read => false,
                    Effect::Destructive => true,
                    Effect::Write => !a.name.starts_with("create_") || a.name == "create_order",
                };
                assert_eq!(a.destructive_hint(), expected, "{}_{}", t.name, a.name);
                assert!(!a.additive || a.effect == Effect::Write, "{}_{}", t.name, a.name);
            }
        }
        let flat = crate::transport::mcp::mcp_tools(
            &[(
                registry.tool("customers").expect("customers"),
                registry
                    .tool("customers")
                    .expect("customers")
                    .actions
                    .iter()
                    .collect(),
            )],
            crate::cli::ToolMode::Flat,
        );
        let hint = |name: &str| {
            let t = flat.iter().find(|t| t.name == name).expect(name);
            t.annotations.as_ref().and_then(|a| a.destructive_hint)
        };
        assert_eq!(hint("customers_update_customer"), Some(true));
        assert_eq!(hint("customers_create_customer"), Some(false));
    }

    #[test]
    fn field_paths_read_like_code() {
        assert_eq!(pointer_to_field("/items/0/quantity"), "items[0].quantity");
        assert_eq!(pointer_to_field(""), "");
    }

    /// Safety metadata is typed and required; check it registry-wide the way
    /// github-mcp-server validates its annotations.
    #[test]
    fn every_action_is_well_declared() {
        let reg = Registry::builtin();
        assert_eq!(reg.tools().len(), 7);
        for t in reg.tools() {
            assert!(
                crate::auth::scopes::KNOWN_RESOURCES.contains(&t.resource),
                "{}",
                t.name
            );
            assert!(!t.description.is_empty());
            assert!(!t.actions.is_empty());
            for a in &t.actions {
                assert!(
                    a.description.len() > 10,
                    "{}.{} needs a description",
                    t.name,
                    a.name
                );
                assert_eq!(a.input_schema().get("type"), Some(&json!("object")));
                assert_eq!(a.output_schema().get("type"), Some(&json!("object")));
                if a.effect.is_read() {
                    assert!(a.idempotent, "reads are idempotent");
                }
                a.validate(&a.example)
                    .unwrap_or_else(|e| panic!("example of {}.{} does not validate: {e}", t.name, a.name));
                let no_refs = serde_json::to_string(&**a.input_schema()).unwrap();
                assert!(!no_refs.contains("$ref"), "{}.{} schema has $ref", t.name, a.name);
            }
            // Shared parameter names mean the same type in every action.
            let mut seen: HashMap<String, Value> = HashMap::new();
            for a in &t.actions {
                if let Some(p) = a.input_schema().get("properties").and_then(Value::as_object) {
                    for (k, v) in p {
                        // Optional (nullable) and required uses of a name agree.
                        let ty = match v.get("type") {
                            Some(Value::Array(ts)) => {
                                let mut ts: Vec<Value> =
                                    ts.iter().filter(|t| *t != "null").cloned().collect();
                                if ts.len() == 1 {
                                    ts.remove(0)
                                } else {
                                    Value::Array(ts)
                                }
                            }
                            Some(t) => t.clone(),
                            None => Value::Null,
                        };
                        if let Some(prev) = seen.insert(k.clone(), ty.clone()) {
                            assert_eq!(prev, ty, "{}: parameter `{k}` changes type", t.name);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn messages_name_actions_as_the_session_spells_them() {
        use crate::cli::ToolMode::{Flat, Grouped};
        let registry = Registry::builtin();
        let text = "orders.list_orders shows valid ids; `orders.create_order` needs \
                    orders:write; products.get_product (variants); orders.fly and \
                    customer.email are no actions; nor xorders.list_orders or \
                    orders.list_orders_2; orders.list_orders.";
        assert!(matches!(
            registry.spelt(text, Grouped),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            registry.spelt(text, Flat),
            "orders_list_orders shows valid ids; `orders_create_order` needs \
             orders:write; products_get_product (variants); orders.fly and \
             customer.email are no actions; nor xorders.list_orders or \
             orders.list_orders_2; orders_list_orders."
        );
        assert!(matches!(
            registry.spelt("nothing to respell", Flat),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
