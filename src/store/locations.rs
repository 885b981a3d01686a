//! Stock locations (warehouses, shops).

use rusqlite::{OptionalExtension, params};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Scoped, new_id, now_ms, rfc3339};

/// The default location's id (the one orders ship from unless told).
pub fn default_id(s: &Scoped<'_>) -> rusqlite::Result<Option<String>> {
    s.conn()
        .prepare_cached(
            "SELECT id FROM locations WHERE store_id = ?1 AND mode = ?2 AND active = 1
              ORDER BY is_default DESC, created_at, id LIMIT 1",
        )?
        .query_row(params![s.store(), s.mode()], |r| r.get(0))
        .optional()
}

/// True when an active location with this id exists in the scope.
pub fn is_active(s: &Scoped<'_>, id: &str) -> rusqlite::Result<bool> {
    Ok(s.conn()
        .prepare_cached(
            "SELECT 1 FROM locations WHERE store_id = ?1 AND mode = ?2 AND id = ?3 AND active = 1",
        )?
        .query_row(params![s.store(), s.mode(), id], |_| Ok(()))
        .optional()?
        .is_some())
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Location {
    pub id: String,
    pub name: String,
    pub address: String,
    /// Orders ship from the default location unless told otherwise.
    pub is_default: bool,
    /// Inactive locations take no orders, transfers in or goods received (counts can still be corrected).
    pub active: bool,
    /// Units available here across all variants.
    pub units_on_hand: i64,
    /// Variants with at least one unit here.
    pub variants_stocked: i64,
    pub created_at: String,
}

const LOCATION_SELECT: &str = "SELECT l.id, l.name, l.address, l.is_default, l.active, l.created_at,
            coalesce((SELECT sum(i.available) FROM inventory_levels i
                       WHERE i.location_id = l.id AND i.store_id = ?1 AND i.mode = ?2), 0),
            (SELECT count(*) FROM inventory_levels i
              WHERE i.location_id = l.id AND i.store_id = ?1 AND i.mode = ?2 AND i.available > 0)
       FROM locations l WHERE l.store_id = ?1 AND l.mode = ?2";

fn location_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Location> {
    Ok(Location {
        id: r.get(0)?,
        name: r.get(1)?,
        address: r.get(2)?,
        is_default: r.get(3)?,
        active: r.get(4)?,
        created_at: rfc3339(r.get(5)?),
        units_on_hand: r.get(6)?,
        variants_stocked: r.get(7)?,
    })
}

/// Every location of the scope: default first, then active, then by name.
pub fn list(s: &Scoped<'_>) -> rusqlite::Result<Vec<Location>> {
    s.conn()
        .prepare_cached(&format!(
            "{LOCATION_SELECT} ORDER BY l.is_default DESC, l.active DESC, l.name, l.id"
        ))?
        .query_map(params![s.store(), s.mode()], location_row)?
        .collect()
}

pub fn get(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<Location>> {
    s.conn()
        .prepare_cached(&format!("{LOCATION_SELECT} AND l.id = ?3"))?
        .query_row(params![s.store(), s.mode(), id], location_row)
        .optional()
}

/// The id of the location with this name (case-insensitive), other than `except`.
pub fn id_by_name(s: &Scoped<'_>, name: &str, except: Option<&str>) -> rusqlite::Result<Option<String>> {
    s.conn()
        .prepare_cached(
            "SELECT id FROM locations
              WHERE store_id = ?1 AND mode = ?2 AND lower(name) = lower(?3) AND (?4 IS NULL OR id != ?4)",
        )?
        .query_row(params![s.store(), s.mode(), name, except], |r| r.get(0))
        .optional()
}

/// Creates an active location with a 0 level for every variant of the scope.
/// It becomes the default when no active default exists.
pub fn create(s: &Scoped<'_>, name: &str, address: &str) -> rusqlite::Result<String> {
    let conn = s.conn();
    let id = new_id("loc");
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO locations (id, store_id, mode, name, address, is_default, active, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5,
                 NOT EXISTS (SELECT 1 FROM locations
                              WHERE store_id = ?2 AND mode = ?3 AND is_default = 1 AND active = 1),
                 1, ?6)",
    )?
    .execute(params![id, s.store(), s.mode(), name, address, now])?;
    conn.prepare_cached(
        "INSERT INTO inventory_levels (store_id, mode, variant_id, location_id, available, updated_at)
         SELECT ?1, ?2, v.id, ?3, 0, ?4 FROM variants v WHERE v.store_id = ?1 AND v.mode = ?2",
    )?
    .execute(params![s.store(), s.mode(), id, now])?;
    Ok(id)
}

pub struct LocationPatch<'a> {
    pub name: Option<&'a str>,
    pub address: Option<&'a str>,
    pub active: Option<bool>,
}

/// Returns false when the location does not exist.
pub fn update(s: &Scoped<'_>, id: &str, p: &LocationPatch<'_>) -> rusqlite::Result<bool> {
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE locations SET name = coalesce(?4, name), address = coalesce(?5, address),
                    active = coalesce(?6, active)
              WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .execute(params![s.store(), s.mode(), id, p.name, p.address, p.active])?;
    Ok(n == 1)
}

/// Makes this location the only default one of the scope.
pub fn set_default(s: &Scoped<'_>, id: &str) -> rusqlite::Result<()> {
    s.conn()
        .prepare_cached(
            "UPDATE locations SET is_default = (id = ?3)
              WHERE store_id = ?1 AND mode = ?2 AND is_default != (id = ?3)",
        )?
        .execute(params![s.store(), s.mode(), id])?;
    Ok(())
}

/// Just enough of a location to check and name it.
#[derive(Debug, Clone)]
pub struct LocationBrief {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub active: bool,
}

pub fn brief(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<LocationBrief>> {
    s.conn()
        .prepare_cached("SELECT id, name, is_default, active FROM locations WHERE store_id = ?1 AND mode = ?2 AND id = ?3")?
        .query_row(params![s.store(), s.mode(), id], |r| {
            Ok(LocationBrief {
                id: r.get(0)?,
                name: r.get(1)?,
                is_default: r.get(2)?,
                active: r.get(3)?,
            })
        })
        .optional()
}
