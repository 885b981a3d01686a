//! Orders, their line items, refunds, and the coupon and tax rules that
//! price them.

use rusqlite::{OptionalExtension, ToSql, params};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Scoped, new_id, now_ms, rfc3339};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }
    pub fn parse(s: &str) -> OrderStatus {
        match s {
            "paid" => OrderStatus::Paid,
            "fulfilled" => OrderStatus::Fulfilled,
            "cancelled" => OrderStatus::Cancelled,
            "refunded" => OrderStatus::Refunded,
            "partially_refunded" => OrderStatus::PartiallyRefunded,
            _ => OrderStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LineItem {
    pub variant_id: String,
    pub product_id: String,
    pub title: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Refund {
    pub id: String,
    pub amount_cents: i64,
    pub reason: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Order {
    pub id: String,
    /// Human-facing order number, increasing per store.
    pub number: i64,
    pub status: OrderStatus,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub currency: String,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub shipping_cents: i64,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub refunded_cents: i64,
    pub coupon_code: Option<String>,
    /// The destination country tax was worked out for; absent when the
    /// order had no shipping address (and so no tax).
    pub tax_country: Option<String>,
    /// The region whose rate applied; empty when the country's own rate
    /// applied, or the store has no rate for the country (tax_cents 0).
    pub tax_region: Option<String>,
    pub location_id: String,
    pub note: Option<String>,
    pub items: Vec<LineItem>,
    pub refunds: Vec<Refund>,
    /// When it shipped; absent while it has not (only then can it be cancelled).
    pub fulfilled_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: i64,
    pub status: OrderStatus,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub total_cents: i64,
    pub refunded_cents: i64,
    pub item_count: i64,
    /// When it shipped; absent while it has not, whatever its refunds.
    pub fulfilled_at: Option<String>,
    pub created_at: String,
}

/// The row an order is built from, read inside the transaction.
pub struct OrderHead {
    pub id: String,
    pub status: OrderStatus,
    pub paid_cents: i64,
    pub refunded_cents: i64,
    pub total_cents: i64,
    pub location_id: String,
    /// Whether it has shipped (it may be refunded since).
    pub fulfilled: bool,
}

pub fn head(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<OrderHead>> {
    s.conn()
        .prepare_cached(
            "SELECT id, status, paid_cents, refunded_cents, total_cents, location_id, fulfilled_at IS NOT NULL
               FROM orders WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .query_row(params![s.store(), s.mode(), id], |r| {
            Ok(OrderHead {
                id: r.get(0)?,
                status: OrderStatus::parse(&r.get::<_, String>(1)?),
                paid_cents: r.get(2)?,
                refunded_cents: r.get(3)?,
                total_cents: r.get(4)?,
                location_id: r.get(5)?,
                fulfilled: r.get(6)?,
            })
        })
        .optional()
}

/// A variant as an order line needs it.
pub struct Sellable {
    pub variant_id: String,
    pub product_id: String,
    pub title: String,
    pub sku: String,
    pub price_cents: i64,
    pub product_status: String,
    /// Its product was soft-deleted: it cannot be sold, but the caller can
    /// say so instead of "no such variant".
    pub product_deleted: bool,
}

/// Looks a variant up by id or SKU, a deleted product's included (a deleted
/// product's SKUs stay reserved, so a SKU still names one variant); the
/// caller refuses what is not for sale.
pub fn sellable(
    s: &Scoped<'_>,
    variant_id: Option<&str>,
    sku: Option<&str>,
) -> rusqlite::Result<Option<Sellable>> {
    s.conn()
        .prepare_cached(
            "SELECT v.id, p.id, p.title || ' — ' || v.title, v.sku, v.price_cents, p.status,
                    p.deleted_at IS NOT NULL
               FROM variants v JOIN products p ON p.id = v.product_id
              WHERE v.store_id = ?1 AND v.mode = ?2 AND (v.id = ?3 OR v.sku = ?4)",
        )?
        .query_row(params![s.store(), s.mode(), variant_id, sku], |r| {
            Ok(Sellable {
                variant_id: r.get(0)?,
                product_id: r.get(1)?,
                title: r.get(2)?,
                sku: r.get(3)?,
                price_cents: r.get(4)?,
                product_status: r.get(5)?,
                product_deleted: r.get(6)?,
            })
        })
        .optional()
}

pub struct CouponRow {
    pub id: String,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub active: bool,
}

pub fn coupon(s: &Scoped<'_>, code: &str) -> rusqlite::Result<Option<CouponRow>> {
    s.conn()
        .prepare_cached(
            "SELECT id, code, kind, value, usage_limit, per_customer_limit, starts_at, ends_at, active
               FROM coupons WHERE store_id = ?1 AND mode = ?2 AND upper(code) = upper(?3)",
        )?
        .query_row(params![s.store(), s.mode(), code], |r| {
            Ok(CouponRow {
                id: r.get(0)?,
                code: r.get(1)?,
                kind: r.get(2)?,
                value: r.get(3)?,
                usage_limit: r.get(4)?,
                per_customer_limit: r.get(5)?,
                starts_at: r.get(6)?,
                ends_at: r.get(7)?,
                active: r.get::<_, i64>(8)? != 0,
            })
        })
        .optional()
}

/// Uses of a coupon that count against its limits: orders that redeemed it
/// and are not cancelled — by `customer_id` when given, else by anyone.
///
/// Both the coupon's `usage_limit` and its `per_customer_limit` are checked
/// against this count, so cancelling an order gives its use back to both.
/// Counting from the orders (rather than keeping `coupons.times_used` in
/// step on every cancel) leaves nothing to fall out of step; the
/// redemptions' primary key (coupon_id, order_id) makes it an index range.
/// `times_used` stays a plain record of redemptions ever made, cancelled
/// orders included, and limits do not read it.
pub fn coupon_uses(s: &Scoped<'_>, coupon_id: &str, customer_id: Option<&str>) -> rusqlite::Result<i64> {
    s.conn()
        .prepare_cached(
            "SELECT count(*) FROM coupon_redemptions cr JOIN orders o ON o.id = cr.order_id
              WHERE cr.coupon_id = ?1 AND (?2 IS NULL OR cr.customer_id = ?2) AND o.status != 'cancelled'
                AND o.store_id = ?3 AND o.mode = ?4",
        )?
        .query_row(params![coupon_id, customer_id, s.store(), s.mode()], |r| r.get(0))
}

/// The tax rate for a destination, in basis points, with the region of the
/// rule that gave it: the region's rate, else the country's default (region
/// ''), else none.
pub fn tax_rate(s: &Scoped<'_>, country: &str, region: &str) -> rusqlite::Result<Option<(i64, String)>> {
    s.conn()
        .prepare_cached(
            "SELECT rate_bps, upper(region) FROM tax_rates
              WHERE store_id = ?1 AND mode = ?2 AND upper(country) = upper(?3)
                AND (upper(region) = upper(?4) OR region = '')
              ORDER BY region = '' LIMIT 1",
        )?
        .query_row(params![s.store(), s.mode(), country, region], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
}

pub struct NewOrder<'a> {
    pub customer_id: Option<&'a str>,
    pub status: OrderStatus,
    pub currency: &'a str,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub shipping_cents: i64,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub coupon: Option<(&'a str, &'a str)>,
    pub tax_country: Option<&'a str>,
    pub tax_region: Option<&'a str>,
    pub location_id: &'a str,
    pub note: Option<&'a str>,
}

/// Inserts the order row (taking the next order number) and returns its id.
pub fn insert(s: &Scoped<'_>, o: &NewOrder<'_>) -> rusqlite::Result<String> {
    let conn = s.conn();
    let number: i64 = conn
        .prepare_cached(
            "UPDATE store_settings SET order_number_next = order_number_next + 1
              WHERE store_id = ?1 AND mode = ?2 RETURNING order_number_next - 1",
        )?
        .query_row(params![s.store(), s.mode()], |r| r.get(0))?;
    let id = new_id("ord");
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO orders (id, store_id, mode, number, customer_id, status, currency, subtotal_cents,
            discount_cents, tax_cents, shipping_cents, total_cents, paid_cents, coupon_code, tax_country,
            tax_region, location_id, note, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
    )?
    .execute(params![
        id,
        s.store(),
        s.mode(),
        number,
        o.customer_id,
        o.status.as_str(),
        o.currency,
        o.subtotal_cents,
        o.discount_cents,
        o.tax_cents,
        o.shipping_cents,
        o.total_cents,
        o.paid_cents,
        o.coupon.map(|c| c.1),
        o.tax_country,
        o.tax_region,
        o.location_id,
        o.note,
        now
    ])?;
    if let Some((coupon_id, _)) = o.coupon {
        conn.prepare_cached(
            "INSERT INTO coupon_redemptions (coupon_id, order_id, customer_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![coupon_id, id, o.customer_id, now])?;
        conn.prepare_cached(
            "UPDATE coupons SET times_used = times_used + 1 WHERE id = ?1 AND store_id = ?2 AND mode = ?3",
        )?
        .execute(params![coupon_id, s.store(), s.mode()])?;
    }
    Ok(id)
}

pub fn insert_item(s: &Scoped<'_>, order_id: &str, item: &LineItem) -> rusqlite::Result<()> {
    s.conn()
        .prepare_cached(
            "INSERT INTO order_items (id, order_id, variant_id, product_id, title, sku, quantity, unit_price_cents, total_cents)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            new_id("oi"),
            order_id,
            item.variant_id,
            item.product_id,
            item.title,
            item.sku,
            item.quantity,
            item.unit_price_cents,
            item.total_cents
        ])?;
    Ok(())
}

pub fn items(s: &Scoped<'_>, order_id: &str) -> rusqlite::Result<Vec<LineItem>> {
    s.conn()
        .prepare_cached(
            "SELECT i.variant_id, i.product_id, i.title, i.sku, i.quantity, i.unit_price_cents, i.total_cents
               FROM order_items i JOIN orders o ON o.id = i.order_id
              WHERE i.order_id = ?1 AND o.store_id = ?2 AND o.mode = ?3 ORDER BY i.rowid",
        )?
        .query_map(params![order_id, s.store(), s.mode()], |r| {
            Ok(LineItem {
                variant_id: r.get(0)?,
                product_id: r.get(1)?,
                title: r.get(2)?,
                sku: r.get(3)?,
                quantity: r.get(4)?,
                unit_price_cents: r.get(5)?,
                total_cents: r.get(6)?,
            })
        })?
        .collect()
}

pub fn set_status(
    s: &Scoped<'_>,
    id: &str,
    status: OrderStatus,
    paid_cents: Option<i64>,
) -> rusqlite::Result<()> {
    s.conn()
        .prepare_cached(
            "UPDATE orders SET status = ?4, paid_cents = coalesce(?5, paid_cents), updated_at = ?6,
                    fulfilled_at = CASE WHEN ?4 = 'fulfilled' THEN coalesce(fulfilled_at, ?6) ELSE fulfilled_at END
              WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .execute(params![
            s.store(),
            s.mode(),
            id,
            status.as_str(),
            paid_cents,
            now_ms()
        ])?;
    Ok(())
}

/// Records that an order shipped, keeping its status (a partly refunded
/// order stays so); the first shipment's time is kept.
pub fn mark_fulfilled(s: &Scoped<'_>, id: &str) -> rusqlite::Result<()> {
    s.conn()
        .prepare_cached(
            "UPDATE orders SET fulfilled_at = coalesce(fulfilled_at, ?4), updated_at = ?4
              WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .execute(params![s.store(), s.mode(), id, now_ms()])?;
    Ok(())
}

/// Records a refund and raises `refunded_cents`; the table's CHECK keeps
/// the sum at or below what was paid even if a caller forgot to.
pub fn add_refund(
    s: &Scoped<'_>,
    order_id: &str,
    amount_cents: i64,
    reason: Option<&str>,
    status: OrderStatus,
) -> rusqlite::Result<String> {
    let conn = s.conn();
    let now = now_ms();
    let id = new_id("re");
    conn.prepare_cached(
        "UPDATE orders SET refunded_cents = refunded_cents + ?4, status = ?5, updated_at = ?6
          WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
    )?
    .execute(params![
        s.store(),
        s.mode(),
        order_id,
        amount_cents,
        status.as_str(),
        now
    ])?;
    conn.prepare_cached(
        "INSERT INTO refunds (id, order_id, amount_cents, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, order_id, amount_cents, reason, now])?;
    Ok(id)
}

/// The id of the order with this number in this store and mode.
pub fn id_of_number(s: &Scoped<'_>, number: i64) -> rusqlite::Result<Option<String>> {
    s.conn()
        .prepare_cached("SELECT id FROM orders WHERE store_id = ?1 AND mode = ?2 AND number = ?3")?
        .query_row(params![s.store(), s.mode(), number], |r| r.get(0))
        .optional()
}

pub fn get(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<Order>> {
    let conn = s.conn();
    let order = conn
        .prepare_cached(
            "SELECT o.id, o.number, o.status, o.customer_id, c.email, o.currency, o.subtotal_cents, o.discount_cents,
                    o.tax_cents, o.shipping_cents, o.total_cents, o.paid_cents, o.refunded_cents, o.coupon_code,
                    o.location_id, o.note, o.created_at, o.updated_at, o.fulfilled_at, o.tax_country, o.tax_region
               FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
              WHERE o.store_id = ?1 AND o.mode = ?2 AND o.id = ?3",
        )?
        .query_row(params![s.store(), s.mode(), id], |r| {
            Ok(Order {
                id: r.get(0)?,
                number: r.get(1)?,
                status: OrderStatus::parse(&r.get::<_, String>(2)?),
                customer_id: r.get(3)?,
                customer_email: r.get(4)?,
                currency: r.get(5)?,
                subtotal_cents: r.get(6)?,
                discount_cents: r.get(7)?,
                tax_cents: r.get(8)?,
                shipping_cents: r.get(9)?,
                total_cents: r.get(10)?,
                paid_cents: r.get(11)?,
                refunded_cents: r.get(12)?,
                coupon_code: r.get(13)?,
                tax_country: r.get(19)?,
                tax_region: r.get(20)?,
                location_id: r.get(14)?,
                note: r.get(15)?,
                items: Vec::new(),
                refunds: Vec::new(),
                fulfilled_at: r.get::<_, Option<i64>>(18)?.map(rfc3339),
                created_at: rfc3339(r.get(16)?),
                updated_at: rfc3339(r.get(17)?),
            })
        })
        .optional()?;
    let Some(mut order) = order else {
        return Ok(None);
    };
    order.items = items(s, &order.id)?;
    order.refunds = conn
        .prepare_cached("SELECT id, amount_cents, reason, created_at FROM refunds WHERE order_id = ?1 ORDER BY created_at, id")?
        .query_map([&order.id], |r| {
            Ok(Refund {
                id: r.get(0)?,
                amount_cents: r.get(1)?,
                reason: r.get(2)?,
                created_at: rfc3339(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(order))
}

#[derive(Debug, Default)]
pub struct OrderQuery<'a> {
    pub status: Option<OrderStatus>,
    /// Only orders that have shipped (true) or not (false).
    pub fulfilled: Option<bool>,
    pub customer_id: Option<&'a str>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

pub fn list(s: &Scoped<'_>, q: &OrderQuery<'_>) -> rusqlite::Result<(Vec<OrderSummary>, i64)> {
    let mut sql = String::from(
        " FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE o.store_id = ? AND o.mode = ?",
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(s.store().to_string()), Box::new(s.mode())];
    if let Some(st) = q.status {
        sql.push_str(" AND o.status = ?");
        args.push(Box::new(st.as_str()));
    }
    match q.fulfilled {
        Some(true) => sql.push_str(" AND o.fulfilled_at IS NOT NULL"),
        Some(false) => sql.push_str(" AND o.fulfilled_at IS NULL"),
        None => {}
    }
    if let Some(c) = q.customer_id {
        sql.push_str(" AND o.customer_id = ?");
        args.push(Box::new(c.to_string()));
    }
    if let Some(t) = q.from_ms {
        sql.push_str(" AND o.created_at >= ?");
        args.push(Box::new(t));
    }
    if let Some(t) = q.to_ms {
        sql.push_str(" AND o.created_at <= ?");
        args.push(Box::new(t));
    }
    let conn = s.conn();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*){sql}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, o.number, o.status, o.customer_id, c.email, o.total_cents, o.refunded_cents,
                (SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id), o.created_at,
                o.fulfilled_at
         {sql} ORDER BY o.created_at DESC, o.number DESC LIMIT {} OFFSET {}",
        q.limit, q.offset
    ))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(OrderSummary {
                id: r.get(0)?,
                number: r.get(1)?,
                status: OrderStatus::parse(&r.get::<_, String>(2)?),
                customer_id: r.get(3)?,
                customer_email: r.get(4)?,
                total_cents: r.get(5)?,
                refunded_cents: r.get(6)?,
                item_count: r.get(7)?,
                fulfilled_at: r.get::<_, Option<i64>>(9)?.map(rfc3339),
                created_at: rfc3339(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// The store currency of this scope.
pub fn currency(s: &Scoped<'_>) -> rusqlite::Result<String> {
    s.conn()
        .prepare_cached("SELECT currency FROM store_settings WHERE store_id = ?1 AND mode = ?2")?
        .query_row(params![s.store(), s.mode()], |r| r.get(0))
}
