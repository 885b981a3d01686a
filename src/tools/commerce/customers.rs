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
                "Search customers by text in name or email and by tag; paged, sorted by name, with order count and total spent.",
                Effect::Read,
                json!({"query": "example.com", "tag": "vip", "limit": 10}),
                list_customers,
            ),
            Action::new(
                "get_customer",
                "One customer with contact details, lifetime spend, average order value and the 5 most recent orders.",
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
            ),
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
        return Err(format!("the domain of `{email}` must contain a dot between names, like example.com; {hint}"));
    }
    Ok(email)
}

/// Trims tags, drops empty ones and repeats (case-insensitive); a tag may not
/// contain a comma (tags are stored comma-separated).
fn normalize_tags(tags: &[String]) -> Result<Vec<String>, ToolError> {
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
            return Err(ToolError::invalid(format!("tags[{i}]"), "is longer than 50 characters"));
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
            format!("`{phone}` is not a phone number; use digits with optional + - ( ) . and spaces, e.g. \"+1 212-555-0142\""),
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
    /// A customer id such as `cus_…` (from list_customers).
    #[schemars(length(min = 1))]
    pub customer_id: String,
}

fn get_customer(ctx: &Ctx<'_>, i: CustomerId) -> Result<Customer, ToolError> {
    db::get(&ctx.db, &i.customer_id)?.ok_or_else(|| ToolError::not_found("customer", &i.customer_id))
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
    #[schemars(length(min = 1))]
    pub customer_id: String,
    /// New email address, unique in the store; stored lowercased.
    #[serde(default)]
    #[schemars(with = "String", length(min = 3, max = 254))]
    pub email: Option<String>,
    /// New full name.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1, max = 200))]
    pub name: Option<String>,
    /// New phone number; an empty string removes it.
    #[schemars(length(max = 32))]
    pub phone: Option<String>,
    /// Replaces all tags; [] removes them.
    #[serde(default)]
    #[schemars(with = "Vec<String>", length(max = 50))]
    pub tags: Option<Vec<String>>,
    /// Whether the customer agreed to marketing email.
    #[serde(default)]
    #[schemars(with = "bool")]
    pub accepts_marketing: Option<bool>,
}

fn update_customer(ctx: &Ctx<'_>, i: UpdateInput) -> Result<Customer, ToolError> {
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
    if db::get(&ctx.db, &i.customer_id)?.is_none() {
        return Err(ToolError::not_found("customer", &i.customer_id));
    }
    if let Some(email) = &email {
        email_taken(ctx, email, Some(&i.customer_id))?;
    }
    db::update(
        &ctx.db,
        &i.customer_id,
        &CustomerPatch {
            email: email.as_deref(),
            name,
            phone: phone.as_ref().map(Option::as_deref),
            tags: tags.as_deref(),
            accepts_marketing: i.accepts_marketing,
        },
    )?;
    get_customer(
        ctx,
        CustomerId {
            customer_id: i.customer_id,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Maya.Thompson@Example.COM ").unwrap(), "maya.thompson@example.com");
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
        assert_eq!(normalize_phone(" +1 (212) 555-0142 ").unwrap(), "+1 (212) 555-0142");
        assert!(normalize_phone("call me").is_err());
        assert!(normalize_phone("12").is_err());
    }
}
