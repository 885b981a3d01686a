//! Stock levels per variant and location, and the ledger of every change.
//!
//! Stock only moves through [`take`] and [`put`], which update the level and
//! append an `inventory_adjustments` row in the caller's transaction. `take`
//! is a single conditional UPDATE (`available >= qty`), so concurrent orders
//! — from any number of processes — can never drive a level below zero.

use rusqlite::{OptionalExtension, params};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Scoped, new_id, now_ms, rfc3339};

/// Removes `qty` units and returns the adjustment's id; `Ok(None)` (and
/// nothing changed) when fewer are available or the variant has no level
/// at that location.
pub fn take(
    s: &Scoped<'_>,
    variant_id: &str,
    location_id: &str,
    qty: i64,
    reason: &str,
    reference: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    let now = now_ms();
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE inventory_levels SET available = available - ?5, updated_at = ?6
              WHERE store_id = ?1 AND mode = ?2 AND variant_id = ?3 AND location_id = ?4
                AND available >= ?5",
        )?
        .execute(params![s.store(), s.mode(), variant_id, location_id, qty, now])?;
    if n != 1 {
        return Ok(None);
    }
    log(s, variant_id, location_id, -qty, reason, reference, now).map(Some)
}

/// Adds `qty` units (creating the level when the variant had none there);
/// returns the adjustment's id.
pub fn put(
    s: &Scoped<'_>,
    variant_id: &str,
    location_id: &str,
    qty: i64,
    reason: &str,
    reference: Option<&str>,
) -> rusqlite::Result<String> {
    let now = now_ms();
    s.conn()
        .prepare_cached(
            "INSERT INTO inventory_levels (store_id, mode, variant_id, location_id, available, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (variant_id, location_id)
             DO UPDATE SET available = available + excluded.available, updated_at = excluded.updated_at",
        )?
        .execute(params![s.store(), s.mode(), variant_id, location_id, qty, now])?;
    log(s, variant_id, location_id, qty, reason, reference, now)
}

/// Units available of a variant at a location (None when no level exists).
pub fn available(s: &Scoped<'_>, variant_id: &str, location_id: &str) -> rusqlite::Result<Option<i64>> {
    s.conn()
        .prepare_cached(
            "SELECT available FROM inventory_levels
              WHERE store_id = ?1 AND mode = ?2 AND variant_id = ?3 AND location_id = ?4",
        )?
        .query_row(params![s.store(), s.mode(), variant_id, location_id], |r| {
            r.get(0)
        })
        .optional()
}

fn log(
    s: &Scoped<'_>,
    variant_id: &str,
    location_id: &str,
    delta: i64,
    reason: &str,
    reference: Option<&str>,
    now: i64,
) -> rusqlite::Result<String> {
    let id = new_id("adj");
    s.conn()
        .prepare_cached(
            "INSERT INTO inventory_adjustments (id, store_id, mode, variant_id, location_id, delta, reason, reference, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![id, s.store(), s.mode(), variant_id, location_id, delta, reason, reference, now])?;
    Ok(id)
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

/// A variant with the names an agent recognizes it by.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VariantRef {
    pub variant_id: String,
    pub sku: String,
    pub variant_title: String,
    pub product_id: String,
    pub product_title: String,
}

/// How to pick the variants whose stock to show.
#[derive(Debug, Clone, Copy)]
pub enum VariantSelector<'a> {
    Id(&'a str),
    Sku(&'a str),
    Product(&'a str),
}

/// The variants a selector names (one for an id or SKU, all of a product's
/// variants for a product id), in product order. Deleted products included:
/// their stock still exists.
pub fn variants(s: &Scoped<'_>, by: VariantSelector<'_>) -> rusqlite::Result<Vec<VariantRef>> {
    let (column, value) = match by {
        VariantSelector::Id(v) => ("v.id", v),
        VariantSelector::Sku(v) => ("v.sku", v),
        VariantSelector::Product(v) => ("v.product_id", v),
    };
    s.conn()
        .prepare_cached(&format!(
            "SELECT v.id, v.sku, v.title, p.id, p.title
               FROM variants v JOIN products p ON p.id = v.product_id
              WHERE v.store_id = ?1 AND v.mode = ?2 AND p.store_id = ?1 AND p.mode = ?2 AND {column} = ?3
              ORDER BY v.position, v.id"
        ))?
        .query_map(params![s.store(), s.mode(), value], |r| {
            Ok(VariantRef {
                variant_id: r.get(0)?,
                sku: r.get(1)?,
                variant_title: r.get(2)?,
                product_id: r.get(3)?,
                product_title: r.get(4)?,
            })
        })?
        .collect()
}

/// One variant by id, None when it is not in the scope.
pub fn variant(s: &Scoped<'_>, variant_id: &str) -> rusqlite::Result<Option<VariantRef>> {
    Ok(variants(s, VariantSelector::Id(variant_id))?.into_iter().next())
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LocationLevel {
    pub location_id: String,
    pub location_name: String,
    pub available: i64,
}

/// A variant's stock at every active location (0 where it has no level),
/// plus inactive locations that still hold some; default location first.
pub fn levels(s: &Scoped<'_>, variant_id: &str) -> rusqlite::Result<Vec<LocationLevel>> {
    s.conn()
        .prepare_cached(
            "SELECT l.id, l.name, coalesce(i.available, 0)
               FROM locations l
               LEFT JOIN inventory_levels i
                      ON i.location_id = l.id AND i.variant_id = ?3 AND i.store_id = ?1 AND i.mode = ?2
              WHERE l.store_id = ?1 AND l.mode = ?2 AND (l.active = 1 OR i.available > 0)
              ORDER BY l.is_default DESC, l.name, l.id",
        )?
        .query_map(params![s.store(), s.mode(), variant_id], |r| {
            Ok(LocationLevel {
                location_id: r.get(0)?,
                location_name: r.get(1)?,
                available: r.get(2)?,
            })
        })?
        .collect()
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LowStockItem {
    pub variant_id: String,
    pub sku: String,
    pub product_id: String,
    pub product_title: String,
    pub location_id: String,
    pub location_name: String,
    pub available: i64,
    /// The threshold the level was compared with (at or below is low).
    pub threshold: i64,
}

/// Levels at or below `threshold` of variants of active, non-deleted
/// products at active locations; lowest first, then by SKU.
pub fn low_stock(
    s: &Scoped<'_>,
    threshold: i64,
    location_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<LowStockItem>, i64)> {
    let from = "FROM inventory_levels i
          JOIN variants v ON v.id = i.variant_id AND v.store_id = ?1 AND v.mode = ?2
          JOIN products p ON p.id = v.product_id AND p.store_id = ?1 AND p.mode = ?2
          JOIN locations l ON l.id = i.location_id AND l.store_id = ?1 AND l.mode = ?2
         WHERE i.store_id = ?1 AND i.mode = ?2 AND i.available <= ?3
           AND p.status = 'active' AND p.deleted_at IS NULL AND l.active = 1
           AND (?4 IS NULL OR i.location_id = ?4)";
    let conn = s.conn();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {from}"))?
        .query_row(params![s.store(), s.mode(), threshold, location_id], |r| r.get(0))?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT v.id, v.sku, p.id, p.title, l.id, l.name, i.available {from}
              ORDER BY i.available, v.sku, l.name LIMIT ?5 OFFSET ?6"
        ))?
        .query_map(
            params![s.store(), s.mode(), threshold, location_id, limit, offset],
            |r| {
                Ok(LowStockItem {
                    variant_id: r.get(0)?,
                    sku: r.get(1)?,
                    product_id: r.get(2)?,
                    product_title: r.get(3)?,
                    location_id: r.get(4)?,
                    location_name: r.get(5)?,
                    available: r.get(6)?,
                    threshold,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((items, total))
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Adjustment {
    pub id: String,
    /// Units added (positive) or removed (negative).
    pub delta: i64,
    /// Why: received, correction, damaged, lost, returned, cycle_count,
    /// transfer_in, transfer_out, or an order-related reason.
    pub reason: String,
    /// Free-form note, order id, or the other location of a transfer.
    pub reference: Option<String>,
    pub location_id: String,
    pub location_name: String,
    pub created_at: String,
}

/// A variant's stock history, newest first.
pub fn adjustments(
    s: &Scoped<'_>,
    variant_id: &str,
    location_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<Adjustment>, i64)> {
    let from = "FROM inventory_adjustments a
          JOIN locations l ON l.id = a.location_id AND l.store_id = ?1 AND l.mode = ?2
         WHERE a.store_id = ?1 AND a.mode = ?2 AND a.variant_id = ?3 AND (?4 IS NULL OR a.location_id = ?4)";
    let conn = s.conn();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {from}"))?
        .query_row(params![s.store(), s.mode(), variant_id, location_id], |r| {
            r.get(0)
        })?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT a.id, a.delta, a.reason, a.reference, l.id, l.name, a.created_at {from}
              ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?5 OFFSET ?6"
        ))?
        .query_map(
            params![s.store(), s.mode(), variant_id, location_id, limit, offset],
            |r| {
                Ok(Adjustment {
                    id: r.get(0)?,
                    delta: r.get(1)?,
                    reason: r.get(2)?,
                    reference: r.get(3)?,
                    location_id: r.get(4)?,
                    location_name: r.get(5)?,
                    created_at: rfc3339(r.get(6)?),
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((items, total))
}
