//! `customers`: the people who buy — search, read with order history,
//! create, update. Emails are unique per store and mode and stored
//! trimmed and lowercased.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::error::ToolError;
use crate::store::customers::{self as db, Customer, CustomerPatch, CustomerSummary, NewCustomer};
use crate::tools::{Action, Category, Ctx, Effect, Page, Tool, default_limit};

pub fn tool() -> Tool {
    Tool {
        name: "customers",
        title: "Customers",
        description: "Find and manage the store's customers: contact details, tags, marketing consent and what each has ordered and spent (integer cents).",
        category: Category::Commerce,
        resource: "customers",
        actions: vec![
            Action::new(
                "list_customers",
                "Search customers by text in name or email and by tag; paged, sorted by name, with order count and total spent (money paid less refunds).",
                Effect::Read,
                json!({"query": "example.com", "tag": "vip", "limit": 10}),
                list_customers,
            ),
            Action::new(
                "get_customer",
                "One customer with contact details, lifetime spend (money paid less refunds; unpaid orders add nothing), average order value over the orders with money kept, and the 5 most recent orders.",
                Effect::Read,
                json!({"customer_id": "cus_example"}),
                get_customer,
            ),
            Action::new(
                "create_customer",
                "Create a customer. The email must be unique in the store; an existing email is reported with that customer's id.",
                Effect::Write,
                json!({"email": "new.customer@example.com", "name": "Robin Example", "tags": ["newsletter"],
                       "accepts_marketing": true}),
                create_customer,
            )
            .additive(),
            Action::new(
                "update_customer",
                "Change a customer's name, email, phone, tags or marketing consent; fields left out are kept.",
                Effect::Write,
                json!({"customer_id": "cus_example", "tags": ["vip", "newsletter"], "accepts_marketing": true}),
                update_customer,
            )
            .idempotent(),
        ],
    }
}

/// Trims and lowercases an email and checks it looks like `name@domain.tld`;
/// the error text is the message for the agent.
pub(crate) fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let hint = "expected an address such as name@example.com";
    if email.is_empty() {
        return Err(format!("is empty; {hint}"));
    }
    if email.len() > 254 {
        return Err("is longer than 254 characters".into());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{email}` contains whitespace; {hint}"));
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("`{email}` must contain exactly one `@`; {hint}"));
    };
    if local.is_empty() || domain.is_empty() {
        return Err(format!("`{email}` needs text on both sides of `@`; {hint}"));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(format!(
            "the domain of `{email}` must contain a dot between names, like example.com; {hint}"
        ));
    }
    Ok(email)
}

/// Trims tags, drops empty ones and repeats (case-insensitive); a tag may not
/// contain a comma (tags are stored comma-separated).
/// Tags as stored (comma-joined): trimmed, at most 50 characters, no
/// commas, no repeats in any case. Shared by customers and products.
pub(crate) fn normalize_tags(tags: &[String]) -> Result<Vec<String>, ToolError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        let t = t.trim();
        if t.contains(',') {
            return Err(ToolError::invalid(
                format!("tags[{i}]"),
                format!("`{t}` contains a comma; pass each tag as its own list item"),
            ));
        }
        if t.chars().count() > 50 {
            return Err(ToolError::invalid(
                format!("tags[{i}]"),
                "is longer than 50 characters",
            ));
        }
        if !t.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Trims a phone number and checks it holds digits and only phone punctuation.
fn normalize_phone(raw: &str) -> Result<String, ToolError> {
    let phone = raw.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if digits < 3
        || phone.len() > 32
        || !phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
    {
        return Err(ToolError::invalid(
            "phone",
            format!(
                "`{phone}` is not a phone number; use digits with optional + - ( ) . and spaces, e.g. \"+1 212-555-0142\""
            ),
        ));
    }
    Ok(phone.to_string())
}

fn clean_name(raw: &str) -> Result<&str, ToolError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ToolError::invalid("name", "is blank; give the customer's name"));
    }
    Ok(name)
}

fn email_taken(ctx: &Ctx<'_>, email: &str, except: Option<&str>) -> Result<(), ToolError> {
    if let Some(other) = db::id_by_email(&ctx.db, email, except)? {
        return Err(ToolError::Conflict(format!(
            "email `{email}` already belongs to customer `{other}`; use that customer (get_customer / update_customer) or choose another email"
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Text matched against name and email.
    #[schemars(length(min = 1, max = 200))]
    pub query: Option<String>,
    /// Only customers with this tag (exact, case-insensitive), e.g. "vip".
    #[schemars(length(min = 1, max = 50))]
    pub tag: Option<String>,
    /// Page size, 1–100 (default 20).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: i64,
    /// Records to skip (default 0): the next page starts at the previous
    /// `offset` + `limit`.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub offset: i64,
}

fn list_customers(ctx: &Ctx<'_>, i: ListInput) -> Result<Page<CustomerSummary>, ToolError> {
    let (items, total) = db::list(
        &ctx.db,
        &db::CustomerQuery {
            text: i.query.as_deref(),
            tag: i.tag.as_deref(),
            limit: i.limit,
            offset: i.offset,
        },
    )?;
    Ok(Page {
        items,
        total,
        limit: i.limit,
        offset: i.offset,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerId {
    /// A customer id such as `cus_…` (from list_customers), or the
    /// customer's email address (any case).
    #[schemars(length(min = 1))]
    pub customer_id: String,
}

/// The id of the customer a `customer_id` parameter names (an id or an
/// email, as every action that takes one accepts), or not found.
pub(crate) fn customer_id(ctx: &Ctx<'_>, given: &str) -> Result<String, ToolError> {
    db::id_of(&ctx.db, given)?.ok_or_else(|| {
        ToolError::NotFound(format!(
            "customer `{}` not found in this store; customers.list_customers finds customers by name or email",
            given.trim()
        ))
    })
}

fn get_customer(ctx: &Ctx<'_>, i: CustomerId) -> Result<Customer, ToolError> {
    let id = customer_id(ctx, &i.customer_id)?;
    db::get(&ctx.db, &id)?.ok_or_else(|| ToolError::not_found("customer", &id))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// Email address, unique in the store; stored lowercased.
    #[schemars(length(min = 3, max = 254))]
    pub email: String,
    /// Full name.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Phone number, e.g. "+1 212-555-0142".
    #[schemars(length(min = 1, max = 32))]
    pub phone: Option<String>,
    /// Labels such as "vip" or "wholesale" (no commas).
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub tags: Vec<String>,
    /// Whether the customer agreed to marketing email (default false).
    #[serde(default)]
    pub accepts_marketing: bool,
}

fn create_customer(ctx: &Ctx<'_>, i: CreateInput) -> Result<Customer, ToolError> {
    let email = normalize_email(&i.email).map_err(|m| ToolError::invalid("email", m))?;
    let name = clean_name(&i.name)?;
    let phone = i.phone.as_deref().map(normalize_phone).transpose()?;
    let tags = normalize_tags(&i.tags)?;
    email_taken(ctx, &email, None)?;
    let id = db::create(
        &ctx.db,
        &NewCustomer {
            email: &email,
            name,
            phone: phone.as_deref(),
            tags: &tags,
            accepts_marketing: i.accepts_marketing,
        },
    )?;
    db::get(&ctx.db, &id)?.ok_or_else(|| ToolError::Internal("created customer vanished".into()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// The customer to change: an id such as `cus_…`, or the customer's
    /// current email address (any case).
    #[schemars(length(min = 1))]
    pub customer_id: String,
    /// New email address, unique in the store; stored lowercased.
    // `with` + `skip_serializing_if`: optional but not nullable, so the
    // parameter has one type across this tool's actions (and no `"default": null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 3, max = 254))]
    pub email: Option<String>,
    /// New full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1, max = 200))]
    pub name: Option<String>,
    /// New phone number; an empty string removes it.
    #[schemars(length(max = 32))]
    pub phone: Option<String>,
    /// Replaces all tags; [] removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Vec<String>", length(max = 50))]
    pub tags: Option<Vec<String>>,
    /// Whether the customer agreed to marketing email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub accepts_marketing: Option<bool>,
}

fn update_customer(ctx: &Ctx<'_>, i: UpdateInput) -> Result<Customer, ToolError> {
    ToolError::require_change(&[
        ("email", i.email.is_some()),
        ("name", i.name.is_some()),
        ("phone", i.phone.is_some()),
        ("tags", i.tags.is_some()),
        ("accepts_marketing", i.accepts_marketing.is_some()),
    ])?;
    let email = i
        .email
        .as_deref()
        .map(normalize_email)
        .transpose()
        .map_err(|m| ToolError::invalid("email", m))?;
    let name = i.name.as_deref().map(clean_name).transpose()?;
    let phone = match i.phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(p) => Some(Some(normalize_phone(p)?)),
    };
    let tags = i.tags.as_deref().map(normalize_tags).transpose()?;
    let id = customer_id(ctx, &i.customer_id)?;
    if let Some(email) = &email {
        email_taken(ctx, email, Some(&id))?;
    }
    db::update(
        &ctx.db,
        &id,
        &CustomerPatch {
            email: email.as_deref(),
            name,
            phone: phone.as_ref().map(Option::as_deref),
            tags: tags.as_deref(),
            accepts_marketing: i.accepts_marketing,
        },
    )?;
    db::get(&ctx.db, &id)?.ok_or_else(|| ToolError::not_found("customer", &id))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    use crate::tools::with_demo;

    fn call(ctx: &Ctx<'_>, action: &str, input: Value) -> Result<Value, ToolError> {
        let tool = tool();
        let a = tool.action(action).unwrap();
        a.validate(&input)?;
        a.run(ctx, input)
    }

    #[test]
    fn duplicate_emails_conflict_and_name_the_owner() {
        with_demo(|ctx| {
            let made = call(
                ctx,
                "create_customer",
                json!({"email": " Robin@Example.com ", "name": "Robin"}),
            )
            .unwrap();
            let id = made["id"].as_str().unwrap();
            assert_eq!(made["email"], "robin@example.com");
            assert_eq!(made["accepts_marketing"], false);
            let err = call(
                ctx,
                "create_customer",
                json!({"email": "ROBIN@example.com", "name": "Other"}),
            )
            .unwrap_err();
            assert!(matches!(&err, ToolError::Conflict(m) if m.contains(id)), "{err}");
            // Keeping one's own email is not a conflict; taking another's is.
            call(
                ctx,
                "update_customer",
                json!({"customer_id": id, "email": "robin@example.com"}),
            )
            .unwrap();
            let other = call(
                ctx,
                "create_customer",
                json!({"email": "sam@example.com", "name": "Sam"}),
            )
            .unwrap();
            let err = call(
                ctx,
                "update_customer",
                json!({"customer_id": other["id"], "email": "robin@example.com"}),
            )
            .unwrap_err();
            assert!(matches!(&err, ToolError::Conflict(m) if m.contains(id)), "{err}");
        });
    }

    #[test]
    fn bad_input_names_the_field_and_changes_nothing() {
        with_demo(|ctx| {
            let count = || -> i64 {
                ctx.db
                    .conn()
                    .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
                    .unwrap()
            };
            let before = count();
            let err = call(
                ctx,
                "create_customer",
                json!({"email": "not-an-email", "name": "X"}),
            )
            .unwrap_err();
            assert!(
                matches!(err, ToolError::InvalidInput { ref field, .. } if field == "email"),
                "{err}"
            );
            let err = call(
                ctx,
                "create_customer",
                json!({"email": "x@example.com", "name": "X", "phone": "n/a"}),
            )
            .unwrap_err();
            assert!(
                matches!(err, ToolError::InvalidInput { ref field, .. } if field == "phone"),
                "{err}"
            );
            assert_eq!(count(), before);
            let err = call(ctx, "get_customer", json!({"customer_id": "cus_missing"})).unwrap_err();
            assert!(matches!(err, ToolError::NotFound(_)));
        });
    }

    #[test]
    fn list_filters_by_tag_and_text_and_patches_keep_other_fields() {
        with_demo(|ctx| {
            let vip = call(ctx, "list_customers", json!({"tag": "VIP", "limit": 100})).unwrap();
            let items = vip["items"].as_array().unwrap();
            assert!(!items.is_empty());
            assert_eq!(vip["total"].as_i64().unwrap(), items.len() as i64);
            assert!(
                items
                    .iter()
                    .all(|c| c["tags"].as_array().unwrap().iter().any(|t| t == "vip"))
            );
            let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
            let mut sorted = names.clone();
            sorted.sort_by_key(|n| n.to_lowercase());
            assert_eq!(names, sorted);

            let made = call(
                ctx,
                "create_customer",
                json!({"email": "pat@example.com", "name": "Pat Zed", "phone": "+1 503-555-0100", "tags": ["a", "b"]}),
            )
            .unwrap();
            let id = made["id"].as_str().unwrap();
            let found = call(ctx, "list_customers", json!({"query": "pat@"})).unwrap();
            assert_eq!(found["total"], 1);
            let patched = call(
                ctx,
                "update_customer",
                json!({"customer_id": id, "phone": "", "name": "Pat Z"}),
            )
            .unwrap();
            assert_eq!(patched["phone"], Value::Null);
            assert_eq!(patched["name"], "Pat Z");
            assert_eq!(patched["tags"], json!(["a", "b"]));
        });
    }

    #[test]
    fn spend_is_money_paid_less_refunds() {
        with_demo(|ctx| {
            let conn = ctx.db.conn();
            let (id, expected, kept): (String, i64, i64) = conn
                .query_row(
                    "SELECT customer_id,
                            sum(paid_cents - refunded_cents),
                            sum(paid_cents > refunded_cents)
                       FROM orders WHERE store_id = 'demo' AND mode = 'live' AND customer_id IS NOT NULL
                      GROUP BY customer_id
                      ORDER BY sum(status = 'cancelled') + sum(status = 'pending') DESC, sum(refunded_cents) DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            let c = call(ctx, "get_customer", json!({"customer_id": id})).unwrap();
            assert_eq!(c["total_spent_cents"].as_i64().unwrap(), expected);
            assert_eq!(
                c["average_order_cents"].as_i64(),
                (kept > 0).then(|| expected / kept)
            );
            assert!(c["recent_orders"].as_array().unwrap().len() <= 5);
        });
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Maya.Thompson@Example.COM ").unwrap(),
            "maya.thompson@example.com"
        );
        assert_eq!(normalize_email("a+b@mail.co.uk").unwrap(), "a+b@mail.co.uk");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "name@",
            "a@b@example.com",
            "name@localhost",
            "name@.com",
            "name@example.",
            "name@example..com",
            "na me@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn tags_are_deduplicated_and_commas_refused() {
        let tags = vec![" vip ".to_string(), "VIP".into(), "".into(), "wholesale".into()];
        assert_eq!(normalize_tags(&tags).unwrap(), vec!["vip", "wholesale"]);
        let err = normalize_tags(&["a,b".to_string()]).unwrap_err();
        assert!(matches!(err, ToolError::InvalidInput { field, .. } if field == "tags[0]"));
    }

    #[test]
    fn phones_need_digits() {
        assert_eq!(
            normalize_phone(" +1 (212) 555-0142 ").unwrap(),
            "+1 (212) 555-0142"
        );
        assert!(normalize_phone("call me").is_err());
        assert!(normalize_phone("12").is_err());
    }
}
