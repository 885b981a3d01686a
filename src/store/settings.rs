//! Per-mode store settings (`store_settings`) and the store overview counts.
//!
//! Each store has one settings row per mode. When a row is missing (a store
//! created before its settings were written), reads fall back to the `stores`
//! row and the schema defaults, and the first update creates the row.

use rusqlite::{OptionalExtension, params};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Scoped, now_ms, rfc3339};

/// Low-stock threshold used when the store has no settings row.
pub const DEFAULT_LOW_STOCK_THRESHOLD: i64 = 5;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Settings {
    pub store_id: String,
    /// `live` or `test`.
    pub mode: String,
    pub name: String,
    /// ISO 4217 code (e.g. "USD"); fixed when the store is created.
    pub currency: String,
    /// IANA time zone such as "America/New_York", or "UTC".
    pub timezone: String,
    pub support_email: Option<String>,
    /// Stock at or below this many units counts as low.
    pub low_stock_threshold: i64,
    pub updated_at: String,
}

/// The settings of the scope's store and mode; None when the store is unknown.
pub fn get(s: &Scoped<'_>) -> rusqlite::Result<Option<Settings>> {
    s.conn()
        .prepare_cached(
            "SELECT st.id, coalesce(ss.name, st.name), coalesce(ss.currency, st.currency),
                    coalesce(ss.timezone, st.timezone), ss.support_email,
                    coalesce(ss.low_stock_threshold, ?3), coalesce(ss.updated_at, st.created_at)
               FROM stores st
               LEFT JOIN store_settings ss ON ss.store_id = st.id AND ss.mode = ?2
              WHERE st.id = ?1",
        )?
        .query_row(params![s.store(), s.mode(), DEFAULT_LOW_STOCK_THRESHOLD], |r| {
            Ok(Settings {
                store_id: r.get(0)?,
                mode: s.mode().to_string(),
                name: r.get(1)?,
                currency: r.get(2)?,
                timezone: r.get(3)?,
                support_email: r.get(4)?,
                low_stock_threshold: r.get(5)?,
                updated_at: rfc3339(r.get(6)?),
            })
        })
        .optional()
}

/// The time zone of the scope's store and mode (UTC for an unknown store or
/// a name the time zone database does not know): the calendar behind
/// plain dates and "today".
pub fn time_zone(s: &Scoped<'_>) -> rusqlite::Result<jiff::tz::TimeZone> {
    Ok(get(s)?.map_or(jiff::tz::TimeZone::UTC, |st| super::store_time_zone(&st.timezone)))
}

/// The store's low-stock threshold (units) for this mode.
pub fn low_stock_threshold(s: &Scoped<'_>) -> rusqlite::Result<i64> {
    Ok(s.conn()
        .prepare_cached("SELECT low_stock_threshold FROM store_settings WHERE store_id = ?1 AND mode = ?2")?
        .query_row(params![s.store(), s.mode()], |r| r.get(0))
        .optional()?
        .unwrap_or(DEFAULT_LOW_STOCK_THRESHOLD))
}

pub struct SettingsPatch<'a> {
    pub name: Option<&'a str>,
    /// `Some(None)` clears the support address.
    pub support_email: Option<Option<&'a str>>,
    pub timezone: Option<&'a str>,
    pub low_stock_threshold: Option<i64>,
}

/// Applies the patch (creating the settings row from the `stores` row when
/// missing); false when the store does not exist.
pub fn update(s: &Scoped<'_>, p: &SettingsPatch<'_>) -> rusqlite::Result<bool> {
    let conn = s.conn();
    let now = now_ms();
    conn.prepare_cached(
        "INSERT OR IGNORE INTO store_settings (store_id, mode, name, currency, timezone, updated_at)
         SELECT id, ?2, name, currency, timezone, ?3 FROM stores WHERE id = ?1",
    )?
    .execute(params![s.store(), s.mode(), now])?;
    let n = conn
        .prepare_cached(
            "UPDATE store_settings SET name = coalesce(?3, name),
                    support_email = CASE WHEN ?4 THEN ?5 ELSE support_email END,
                    timezone = coalesce(?6, timezone),
                    low_stock_threshold = coalesce(?7, low_stock_threshold),
                    updated_at = ?8
              WHERE store_id = ?1 AND mode = ?2",
        )?
        .execute(params![
            s.store(),
            s.mode(),
            p.name,
            p.support_email.is_some(),
            p.support_email.flatten(),
            p.timezone,
            p.low_stock_threshold,
            now
        ])?;
    Ok(n == 1)
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ProductCounts {
    pub active: i64,
    pub draft: i64,
    pub archived: i64,
    /// All products that are not deleted.
    pub total: i64,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct OrderCounts {
    pub pending: i64,
    pub paid: i64,
    pub fulfilled: i64,
    pub cancelled: i64,
    pub refunded: i64,
    pub partially_refunded: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Counts {
    /// Products by status (deleted products excluded).
    pub products: ProductCounts,
    pub customers: i64,
    /// Orders by status.
    pub orders: OrderCounts,
    /// Revenue of the orders placed in the last 30 days, in cents: money
    /// captured minus refunds (`paid_cents - refunded_cents`), so unpaid
    /// (pending) orders add nothing and cancelled ones net to nothing.
    pub revenue_30d_cents: i64,
    /// Units available across every variant and location.
    pub units_in_stock: i64,
    /// Active locations.
    pub locations: i64,
}

/// Record counts of the scope's store and mode.
pub fn counts(s: &Scoped<'_>) -> rusqlite::Result<Counts> {
    let conn = s.conn();
    let scope = params![s.store(), s.mode()];

    let mut products = ProductCounts::default();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT status, count(*) FROM products
              WHERE store_id = ?1 AND mode = ?2 AND deleted_at IS NULL GROUP BY status",
        )?;
        let mut rows = stmt.query(scope)?;
        while let Some(r) = rows.next()? {
            let (status, n): (String, i64) = (r.get(0)?, r.get(1)?);
            match status.as_str() {
                "active" => products.active += n,
                "draft" => products.draft += n,
                "archived" => products.archived += n,
                _ => {}
            }
            products.total += n;
        }
    }

    let mut orders = OrderCounts::default();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT status, count(*) FROM orders WHERE store_id = ?1 AND mode = ?2 GROUP BY status",
        )?;
        let mut rows = stmt.query(scope)?;
        while let Some(r) = rows.next()? {
            let (status, n): (String, i64) = (r.get(0)?, r.get(1)?);
            match status.as_str() {
                "pending" => orders.pending += n,
                "paid" => orders.paid += n,
                "fulfilled" => orders.fulfilled += n,
                "cancelled" => orders.cancelled += n,
                "refunded" => orders.refunded += n,
                "partially_refunded" => orders.partially_refunded += n,
                _ => {}
            }
            orders.total += n;
        }
    }

    let count =
        |sql: &str| -> rusqlite::Result<i64> { conn.prepare_cached(sql)?.query_row(scope, |r| r.get(0)) };
    let customers = count("SELECT count(*) FROM customers WHERE store_id = ?1 AND mode = ?2")?;
    let units_in_stock =
        count("SELECT coalesce(sum(available), 0) FROM inventory_levels WHERE store_id = ?1 AND mode = ?2")?;
    let locations = count("SELECT count(*) FROM locations WHERE store_id = ?1 AND mode = ?2 AND active = 1")?;
    let since = now_ms() - 30 * 86_400_000;
    let revenue_30d_cents: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(paid_cents - refunded_cents), 0) FROM orders
              WHERE store_id = ?1 AND mode = ?2 AND created_at >= ?3",
        )?
        .query_row(params![s.store(), s.mode(), since], |r| r.get(0))?;

    Ok(Counts {
        products,
        customers,
        orders,
        revenue_30d_cents,
        units_in_stock,
        locations,
    })
}
