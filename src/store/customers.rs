//! Customers and what they have spent.
//!
//! "Spent" is money captured and kept: the sum of `paid_cents -
//! refunded_cents` over a customer's orders, so an unpaid (pending) order
//! adds nothing and a cancelled one (refunded on cancel) nets to nothing.
//! The average is over the orders that still hold money (`paid_cents >
//! refunded_cents`): unpaid, cancelled and fully refunded orders are not
//! orders the customer spent on. Tags are stored comma-separated, the way
//! products store theirs.

use rusqlite::{OptionalExtension, params};
use schemars::JsonSchema;
use serde::Serialize;

use super::orders::OrderStatus;
use super::{Scoped, new_id, now_ms, rfc3339};

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CustomerSummary {
    pub id: String,
    pub name: String,
    pub email: String,
    pub tags: Vec<String>,
    /// Orders placed, cancelled ones included.
    pub orders_count: i64,
    /// Money paid minus refunds over all orders, in cents (unpaid orders add nothing).
    pub total_spent_cents: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecentOrder {
    pub id: String,
    pub number: i64,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub tags: Vec<String>,
    pub accepts_marketing: bool,
    /// Orders placed, cancelled ones included.
    pub orders_count: i64,
    /// Money paid minus refunds over all orders, in cents (unpaid orders add nothing).
    pub total_spent_cents: i64,
    /// total_spent_cents divided by the number of orders with money kept
    /// (paid more than refunded; rounded down); null without such orders.
    pub average_order_cents: Option<i64>,
    /// When the latest order was placed; null without orders.
    pub last_order_at: Option<String>,
    /// The 5 most recent orders, newest first.
    pub recent_orders: Vec<RecentOrder>,
    pub created_at: String,
}

pub(crate) fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Default)]
pub struct CustomerQuery<'a> {
    /// Matched against name and email.
    pub text: Option<&'a str>,
    /// Exact tag (case-insensitive).
    pub tag: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
}

/// Per-customer order aggregates of the scope, joined as `o`.
const ORDER_STATS: &str = "LEFT JOIN (
        SELECT customer_id, count(*) AS n,
               coalesce(sum(paid_cents - refunded_cents), 0) AS spent,
               sum(paid_cents > refunded_cents) AS kept, max(created_at) AS last
          FROM orders WHERE store_id = ?1 AND mode = ?2 AND customer_id IS NOT NULL
         GROUP BY customer_id
    ) o ON o.customer_id = c.id";

pub fn list(s: &Scoped<'_>, q: &CustomerQuery<'_>) -> rusqlite::Result<(Vec<CustomerSummary>, i64)> {
    let filter = "WHERE c.store_id = ?1 AND c.mode = ?2
          AND (?3 IS NULL OR c.name LIKE ?3 ESCAPE '\\' OR c.email LIKE ?3 ESCAPE '\\')
          AND (?4 IS NULL OR instr(',' || lower(c.tags) || ',', ',' || lower(?4) || ',') > 0)";
    let text = q.text.map(super::contains_pattern);
    // Tags are stored trimmed and joined by bare commas, and a tag may hold
    // spaces ("vip customer"): only the filter's ends are trimmed.
    let tag = q.tag.map(str::trim);
    let conn = s.conn();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM customers c {filter}"))?
        .query_row(params![s.store(), s.mode(), text, tag], |r| r.get(0))?;
    let select = format!(
        "SELECT c.id, c.name, c.email, c.tags, coalesce(o.n, 0), coalesce(o.spent, 0), c.created_at
           FROM customers c {ORDER_STATS} {filter}
          ORDER BY c.name COLLATE NOCASE, c.id LIMIT ?5 OFFSET ?6"
    );
    let rows = conn
        .prepare_cached(&select)?
        .query_map(params![s.store(), s.mode(), text, tag, q.limit, q.offset], |r| {
            Ok(CustomerSummary {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                tags: split_tags(&r.get::<_, String>(3)?),
                orders_count: r.get(4)?,
                total_spent_cents: r.get(5)?,
                created_at: rfc3339(r.get(6)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

pub fn get(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<Customer>> {
    let conn = s.conn();
    let head = conn
        .prepare_cached(&format!(
            "SELECT c.id, c.name, c.email, c.phone, c.tags, c.accepts_marketing, c.created_at,
                    coalesce(o.n, 0), coalesce(o.spent, 0), coalesce(o.kept, 0), o.last
               FROM customers c {ORDER_STATS}
              WHERE c.store_id = ?1 AND c.mode = ?2 AND c.id = ?3"
        ))?
        .query_row(params![s.store(), s.mode(), id], |r| {
            let kept: i64 = r.get(9)?;
            let spent: i64 = r.get(8)?;
            Ok(Customer {
                id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                phone: r.get(3)?,
                tags: split_tags(&r.get::<_, String>(4)?),
                accepts_marketing: r.get(5)?,
                created_at: rfc3339(r.get(6)?),
                orders_count: r.get(7)?,
                total_spent_cents: spent,
                average_order_cents: (kept > 0).then(|| spent / kept),
                last_order_at: r.get::<_, Option<i64>>(10)?.map(rfc3339),
                recent_orders: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut customer) = head else {
        return Ok(None);
    };
    customer.recent_orders = conn
        .prepare_cached(
            "SELECT id, number, status, total_cents, created_at FROM orders
              WHERE store_id = ?1 AND mode = ?2 AND customer_id = ?3
              ORDER BY created_at DESC, number DESC LIMIT 5",
        )?
        .query_map(params![s.store(), s.mode(), customer.id], |r| {
            Ok(RecentOrder {
                id: r.get(0)?,
                number: r.get(1)?,
                status: OrderStatus::parse(&r.get::<_, String>(2)?),
                total_cents: r.get(3)?,
                created_at: rfc3339(r.get(4)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(customer))
}

/// The id of the customer a `customer_id` parameter names: its id, or its
/// email (any case). None when no such customer is in this scope.
pub fn id_of(s: &Scoped<'_>, given: &str) -> rusqlite::Result<Option<String>> {
    let given = given.trim();
    if given.contains('@') {
        return id_by_email(s, given, None);
    }
    let exists: bool = s
        .conn()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM customers WHERE store_id = ?1 AND mode = ?2 AND id = ?3)",
        )?
        .query_row(params![s.store(), s.mode(), given], |r| r.get(0))?;
    Ok(exists.then(|| given.to_string()))
}

/// The id of the customer with this (normalized) email, other than `except`.
pub fn id_by_email(s: &Scoped<'_>, email: &str, except: Option<&str>) -> rusqlite::Result<Option<String>> {
    s.conn()
        .prepare_cached(
            "SELECT id FROM customers
              WHERE store_id = ?1 AND mode = ?2 AND email = lower(?3) AND (?4 IS NULL OR id != ?4)",
        )?
        .query_row(params![s.store(), s.mode(), email, except], |r| r.get(0))
        .optional()
}

pub struct NewCustomer<'a> {
    /// Already normalized (trimmed, lowercased).
    pub email: &'a str,
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub tags: &'a [String],
    pub accepts_marketing: bool,
}

pub fn create(s: &Scoped<'_>, c: &NewCustomer<'_>) -> rusqlite::Result<String> {
    let id = new_id("cus");
    s.conn()
        .prepare_cached(
            "INSERT INTO customers (id, store_id, mode, email, name, phone, tags, accepts_marketing, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            id,
            s.store(),
            s.mode(),
            c.email,
            c.name,
            c.phone,
            c.tags.join(","),
            c.accepts_marketing,
            now_ms()
        ])?;
    Ok(id)
}

pub struct CustomerPatch<'a> {
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<&'a str>>,
    pub tags: Option<&'a [String]>,
    pub accepts_marketing: Option<bool>,
}

/// Returns false when the customer does not exist.
pub fn update(s: &Scoped<'_>, id: &str, p: &CustomerPatch<'_>) -> rusqlite::Result<bool> {
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE customers SET email = coalesce(?4, email), name = coalesce(?5, name),
                    phone = CASE WHEN ?6 THEN ?7 ELSE phone END,
                    tags = coalesce(?8, tags), accepts_marketing = coalesce(?9, accepts_marketing)
              WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .execute(params![
            s.store(),
            s.mode(),
            id,
            p.email,
            p.name,
            p.phone.is_some(),
            p.phone.flatten(),
            p.tags.map(|t| t.join(",")),
            p.accepts_marketing
        ])?;
    Ok(n == 1)
}
