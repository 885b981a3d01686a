//! `inventory`: stock levels per variant and location — read them, adjust
//! them with a reason, move units between locations, find low stock and read
//! the history. Every change goes through `store::inventory::{take, put}`, so
//! it is written to the adjustment ledger and can never go below zero.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::inventory::{
    self as db, Adjustment, LocationLevel, LowStockItem, VariantRef, VariantSelector,
};
use crate::store::locations::{self, LocationBrief};
use crate::store::settings;
use crate::tools::{Action, Category, Ctx, Effect, Page, Tool, default_limit};

/// Largest number of units one adjustment or transfer may move.
const MAX_UNITS: i64 = 1_000_000;

pub fn tool() -> Tool {
    Tool {
        name: "inventory",
        title: "Inventory",
        description: "Stock levels per variant and location: read them, adjust them with a reason, transfer units between locations, find low stock and audit the change history.",
        category: Category::Commerce,
        resource: "inventory",
        actions: vec![
            Action::new(
                "get_levels",
                "Stock of one variant (by variant_id or sku) or of every variant of a product (by product_id), per location and in total.",
                Effect::Read,
                json!({"product_id": "prod_example"}),
                get_levels,
            ),
            Action::new(
                "adjust_stock",
                "Add (positive delta) or remove (negative delta) units of a variant at one location, recording the reason; removing more than is available is refused.",
                Effect::Write,
                json!({"variant_id": "var_example", "location_id": "loc_example", "delta": 10, "reason": "received",
                       "note": "PO-1042"}),
                adjust_stock,
            ),
            Action::new(
                "transfer_stock",
                "Move units of a variant from one location to another in one step; refused, with nothing moved, when the source has too few.",
                Effect::Write,
                json!({"variant_id": "var_example", "from_location_id": "loc_example",
                       "to_location_id": "loc_example2", "quantity": 1}),
                transfer_stock,
            ),
            Action::new(
                "low_stock_alerts",
                "Variants of active products whose stock at an active location is at or below a threshold (default: the store's low_stock_threshold); lowest first.",
                Effect::Read,
                json!({"limit": 10}),
                low_stock_alerts,
            ),
            Action::new(
                "list_adjustments",
                "The stock change history of a variant (optionally at one location), newest first: delta, reason, reference and location.",
                Effect::Read,
                json!({"variant_id": "var_example", "limit": 10}),
                list_adjustments,
            ),
        ],
    }
}

fn find_variant(ctx: &Ctx<'_>, variant_id: &str) -> Result<VariantRef, ToolError> {
    db::variant(&ctx.db, variant_id)?.ok_or_else(|| ToolError::not_found("variant", variant_id))
}

fn find_location(ctx: &Ctx<'_>, location_id: &str) -> Result<LocationBrief, ToolError> {
    locations::brief(&ctx.db, location_id)?.ok_or_else(|| ToolError::not_found("location", location_id))
}

fn level(ctx: &Ctx<'_>, variant_id: &str, location: &LocationBrief) -> Result<LocationLevel, ToolError> {
    Ok(LocationLevel {
        location_id: location.id.clone(),
        location_name: location.name.clone(),
        available: db::available(&ctx.db, variant_id, &location.id)?.unwrap_or(0),
    })
}

/// Removes `qty` units (returning the adjustment's id) or explains, with
/// numbers, why it cannot.
fn take_or_conflict(
    ctx: &Ctx<'_>,
    variant: &VariantRef,
    location: &LocationBrief,
    qty: i64,
    reason: &str,
    reference: Option<&str>,
    verb: &str,
) -> Result<String, ToolError> {
    if let Some(id) = db::take(&ctx.db, &variant.variant_id, &location.id, qty, reason, reference)? {
        return Ok(id);
    }
    let have = db::available(&ctx.db, &variant.variant_id, &location.id)?.unwrap_or(0);
    Err(ToolError::Conflict(format!(
        "only {have} available of {} at {} (`{}`); cannot {verb} {qty}. Use a quantity of at most {have}, or check get_levels for other locations",
        variant.sku, location.name, location.id
    )))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelsInput {
    /// A variant id such as `var_…`. Give exactly one of variant_id, sku, product_id.
    // `with` + `skip_serializing_if`: optional but not nullable, so the
    // parameter has one type across this tool's actions (and no `"default": null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1))]
    pub variant_id: Option<String>,
    /// A variant's SKU. Give exactly one of variant_id, sku, product_id.
    #[schemars(length(min = 1, max = 64))]
    pub sku: Option<String>,
    /// A product id such as `prod_…`: shows all its variants. Give exactly one of variant_id, sku, product_id.
    #[schemars(length(min = 1))]
    pub product_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VariantLevels {
    pub variant_id: String,
    pub sku: String,
    pub variant_title: String,
    pub product_id: String,
    pub product_title: String,
    /// Per location; every active location is listed (0 when none stocked).
    pub levels: Vec<LocationLevel>,
    /// Units available across all locations.
    pub total: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Levels {
    pub variants: Vec<VariantLevels>,
    /// Units available across all listed variants and locations.
    pub total: i64,
}

fn get_levels(ctx: &Ctx<'_>, i: LevelsInput) -> Result<Levels, ToolError> {
    let (selector, what, id) = match (i.variant_id.as_deref(), i.sku.as_deref(), i.product_id.as_deref()) {
        (Some(v), None, None) => (VariantSelector::Id(v), "variant", v),
        (None, Some(s), None) => (VariantSelector::Sku(s), "SKU", s),
        (None, None, Some(p)) => (VariantSelector::Product(p), "product", p),
        _ => {
            return Err(ToolError::invalid(
                "variant_id",
                "give exactly one of `variant_id`, `sku` or `product_id`",
            ));
        }
    };
    let found = db::variants(&ctx.db, selector)?;
    if found.is_empty() {
        return Err(match selector {
            VariantSelector::Sku(_) => ToolError::NotFound(format!(
                "no variant with SKU `{id}` in this store; products.list_products and products.get_product show SKUs"
            )),
            _ => ToolError::not_found(what, id),
        });
    }
    let mut variants = Vec::with_capacity(found.len());
    for v in found {
        let levels = db::levels(&ctx.db, &v.variant_id)?;
        variants.push(VariantLevels {
            total: levels.iter().map(|l| l.available).sum(),
            levels,
            variant_id: v.variant_id,
            sku: v.sku,
            variant_title: v.variant_title,
            product_id: v.product_id,
            product_title: v.product_title,
        });
    }
    Ok(Levels {
        total: variants.iter().map(|v| v.total).sum(),
        variants,
    })
}

/// Why stock changed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdjustReason {
    /// Goods arrived from a supplier (adds stock).
    Received,
    /// Fixing a wrong count, either way.
    Correction,
    /// Units broken or unsellable (removes stock).
    Damaged,
    /// Units missing (removes stock).
    Lost,
    /// A customer sent units back (adds stock).
    Returned,
    /// A physical count found a difference, either way.
    CycleCount,
}

impl AdjustReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustReason::Received => "received",
            AdjustReason::Correction => "correction",
            AdjustReason::Damaged => "damaged",
            AdjustReason::Lost => "lost",
            AdjustReason::Returned => "returned",
            AdjustReason::CycleCount => "cycle_count",
        }
    }

    /// The sign a delta must have for this reason, if it is fixed
    /// (+1 adds, -1 removes).
    fn required_sign(self) -> Option<i64> {
        match self {
            AdjustReason::Received | AdjustReason::Returned => Some(1),
            AdjustReason::Damaged | AdjustReason::Lost => Some(-1),
            AdjustReason::Correction | AdjustReason::CycleCount => None,
        }
    }
}

/// Checks a delta against the size limit and the reason's direction.
fn check_delta(delta: i64, reason: AdjustReason) -> Result<(), ToolError> {
    if delta == 0 {
        return Err(ToolError::invalid(
            "delta",
            "must not be 0; a positive delta adds units, a negative one removes them",
        ));
    }
    if delta.unsigned_abs() > MAX_UNITS as u64 {
        return Err(ToolError::invalid(
            "delta",
            format!("{delta} is too large; one adjustment moves at most {MAX_UNITS} units"),
        ));
    }
    match reason.required_sign() {
        Some(1) if delta < 0 => Err(ToolError::invalid(
            "delta",
            format!(
                "reason `{}` adds stock, so delta must be positive; to remove units use `damaged`, `lost` or `correction`",
                reason.as_str()
            ),
        )),
        Some(-1) if delta > 0 => Err(ToolError::invalid(
            "delta",
            format!(
                "reason `{}` removes stock, so delta must be negative (e.g. -{delta}); to add units use `received`, `returned` or `correction`",
                reason.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustInput {
    /// A variant id such as `var_…` (from get_levels, or a product's variants from get_product).
    #[schemars(length(min = 1))]
    pub variant_id: String,
    /// A location id such as `loc_…` (from list_locations).
    #[schemars(length(min = 1))]
    pub location_id: String,
    /// Units to add (positive) or remove (negative); not 0, at most 1000000 either way.
    #[schemars(range(min = -1_000_000, max = 1_000_000))]
    pub delta: i64,
    /// Why: received and returned add stock, damaged and lost remove it,
    /// correction and cycle_count go either way.
    pub reason: AdjustReason,
    /// Free-form note kept with the change, e.g. a purchase order number.
    #[schemars(length(min = 1, max = 500))]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StockAdjusted {
    /// The adjustment recorded (`adj_…`), as list_adjustments shows it.
    pub adjustment_id: String,
    pub variant_id: String,
    pub sku: String,
    pub location_id: String,
    pub location_name: String,
    pub delta: i64,
    pub reason: AdjustReason,
    /// Units available at the location after the change.
    pub available: i64,
}

fn adjust_stock(ctx: &Ctx<'_>, i: AdjustInput) -> Result<StockAdjusted, ToolError> {
    check_delta(i.delta, i.reason)?;
    let note = i.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let variant = find_variant(ctx, &i.variant_id)?;
    let location = find_location(ctx, &i.location_id)?;
    // Like a transfer, goods do not arrive at an inactive location; fixing
    // its count (either way) and writing units off still work there.
    if !location.active && matches!(i.reason, AdjustReason::Received | AdjustReason::Returned) {
        return Err(ToolError::Conflict(format!(
            "{} (`{}`) is inactive and takes no stock in (`{}`); reactivate it with locations.update_location (active: true) or book the units at an active location",
            location.name,
            location.id,
            i.reason.as_str()
        )));
    }
    let adjustment_id = if i.delta < 0 {
        take_or_conflict(
            ctx,
            &variant,
            &location,
            -i.delta,
            i.reason.as_str(),
            note,
            "remove",
        )?
    } else {
        db::put(
            &ctx.db,
            &variant.variant_id,
            &location.id,
            i.delta,
            i.reason.as_str(),
            note,
        )?
    };
    let now = level(ctx, &variant.variant_id, &location)?;
    Ok(StockAdjusted {
        adjustment_id,
        variant_id: variant.variant_id,
        sku: variant.sku,
        location_id: now.location_id,
        location_name: now.location_name,
        delta: i.delta,
        reason: i.reason,
        available: now.available,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// A variant id such as `var_…`.
    #[schemars(length(min = 1))]
    pub variant_id: String,
    /// Location the units leave (`loc_…`).
    #[schemars(length(min = 1))]
    pub from_location_id: String,
    /// Location the units arrive at (`loc_…`); must differ from the source and be active.
    #[schemars(length(min = 1))]
    pub to_location_id: String,
    /// Units to move, 1–1000000.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub quantity: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Transferred {
    pub variant_id: String,
    pub sku: String,
    pub quantity: i64,
    /// The source after the move.
    pub from: LocationLevel,
    /// The destination after the move.
    pub to: LocationLevel,
}

fn transfer_stock(ctx: &Ctx<'_>, i: TransferInput) -> Result<Transferred, ToolError> {
    if i.from_location_id == i.to_location_id {
        return Err(ToolError::invalid(
            "to_location_id",
            "is the same as from_location_id; a transfer needs two different locations",
        ));
    }
    if !(1..=MAX_UNITS).contains(&i.quantity) {
        return Err(ToolError::invalid(
            "quantity",
            format!("must be between 1 and {MAX_UNITS}"),
        ));
    }
    let variant = find_variant(ctx, &i.variant_id)?;
    let from = find_location(ctx, &i.from_location_id)?;
    let to = find_location(ctx, &i.to_location_id)?;
    if !to.active {
        return Err(ToolError::Conflict(format!(
            "destination {} (`{}`) is inactive; reactivate it with locations.update_location (active: true) or choose another location",
            to.name, to.id
        )));
    }
    take_or_conflict(
        ctx,
        &variant,
        &from,
        i.quantity,
        "transfer_out",
        Some(&to.id),
        "transfer",
    )?;
    db::put(
        &ctx.db,
        &variant.variant_id,
        &to.id,
        i.quantity,
        "transfer_in",
        Some(&from.id),
    )?;
    Ok(Transferred {
        from: level(ctx, &variant.variant_id, &from)?,
        to: level(ctx, &variant.variant_id, &to)?,
        variant_id: variant.variant_id,
        sku: variant.sku,
        quantity: i.quantity,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LowStockInput {
    /// Report levels at or below this many units (default: the store's low_stock_threshold setting).
    #[schemars(range(min = 0, max = 100_000))]
    pub threshold: Option<i64>,
    /// Only this location (`loc_…`); default: all active locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1))]
    pub location_id: Option<String>,
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

fn low_stock_alerts(ctx: &Ctx<'_>, i: LowStockInput) -> Result<Page<LowStockItem>, ToolError> {
    let threshold = match i.threshold {
        Some(t) => t,
        None => settings::low_stock_threshold(&ctx.db)?,
    };
    if let Some(loc) = &i.location_id {
        find_location(ctx, loc)?;
    }
    let (items, total) = db::low_stock(&ctx.db, threshold, i.location_id.as_deref(), i.limit, i.offset)?;
    Ok(Page {
        items,
        total,
        limit: i.limit,
        offset: i.offset,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentsInput {
    /// A variant id such as `var_…`.
    #[schemars(length(min = 1))]
    pub variant_id: String,
    /// Only changes at this location (`loc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1))]
    pub location_id: Option<String>,
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

fn list_adjustments(ctx: &Ctx<'_>, i: AdjustmentsInput) -> Result<Page<Adjustment>, ToolError> {
    find_variant(ctx, &i.variant_id)?;
    if let Some(loc) = &i.location_id {
        find_location(ctx, loc)?;
    }
    let (items, total) = db::adjustments(
        &ctx.db,
        &i.variant_id,
        i.location_id.as_deref(),
        i.limit,
        i.offset,
    )?;
    Ok(Page {
        items,
        total,
        limit: i.limit,
        offset: i.offset,
    })
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

    /// (variant id, default location id, second location id) of the demo store.
    fn ids(ctx: &Ctx<'_>) -> (String, String, String) {
        let conn = ctx.db.conn();
        let variant = conn
            .query_row(
                "SELECT id FROM variants WHERE store_id = 'demo' AND mode = 'live' LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT id FROM locations WHERE store_id = 'demo' AND mode = 'live' ORDER BY is_default DESC, name")
            .unwrap();
        let locs: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (variant, locs[0].clone(), locs[1].clone())
    }

    fn level(ctx: &Ctx<'_>, variant: &str, location: &str) -> i64 {
        db::available(&ctx.db, variant, location).unwrap().unwrap_or(0)
    }

    #[test]
    fn removing_more_than_available_conflicts_with_numbers() {
        with_demo(|ctx| {
            let (v, loc, _) = ids(ctx);
            let have = level(ctx, &v, &loc);
            let err = call(
                ctx,
                "adjust_stock",
                json!({"variant_id": v, "location_id": loc, "delta": -(have + 1), "reason": "damaged"}),
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, ToolError::Conflict(_)), "{msg}");
            assert!(
                msg.contains(&format!("only {have} available")) && msg.contains(&format!("{}", have + 1)),
                "{msg}"
            );
            assert_eq!(level(ctx, &v, &loc), have);

            let out = call(
                ctx,
                "adjust_stock",
                json!({"variant_id": v, "location_id": loc, "delta": 5, "reason": "received", "note": "PO-1"}),
            )
            .unwrap();
            assert_eq!(out["available"].as_i64().unwrap(), have + 5);
            let history = call(
                ctx,
                "list_adjustments",
                json!({"variant_id": v, "location_id": loc, "limit": 1}),
            )
            .unwrap();
            assert_eq!(history["items"][0]["delta"], 5);
            assert_eq!(history["items"][0]["reason"], "received");
            assert_eq!(history["items"][0]["reference"], "PO-1");
            // The result names the adjustment it recorded, either way.
            assert_eq!(history["items"][0]["id"], out["adjustment_id"], "{out}");
            let out = call(
                ctx,
                "adjust_stock",
                json!({"variant_id": v, "location_id": loc, "delta": -1, "reason": "damaged"}),
            )
            .unwrap();
            let history = call(ctx, "list_adjustments", json!({"variant_id": v, "limit": 1})).unwrap();
            assert_eq!(history["items"][0]["id"], out["adjustment_id"], "{out}");
            assert!(
                out["adjustment_id"].as_str().unwrap().starts_with("adj_"),
                "{out}"
            );
        });
    }

    #[test]
    fn unknown_ids_are_not_found() {
        with_demo(|ctx| {
            let (v, loc, _) = ids(ctx);
            for (input, what) in [
                (
                    json!({"variant_id": "var_nope", "location_id": loc, "delta": 1, "reason": "received"}),
                    "variant",
                ),
                (
                    json!({"variant_id": v, "location_id": "loc_nope", "delta": 1, "reason": "received"}),
                    "location",
                ),
            ] {
                let err = call(ctx, "adjust_stock", input).unwrap_err();
                assert!(
                    matches!(&err, ToolError::NotFound(m) if m.starts_with(what)),
                    "{err}"
                );
            }
        });
    }

    #[test]
    fn transfers_move_units_both_ways_in_the_ledger() {
        with_demo(|ctx| {
            let (v, a, b) = ids(ctx);
            let (at_a, at_b) = (level(ctx, &v, &a), level(ctx, &v, &b));
            let out = call(
                ctx,
                "transfer_stock",
                json!({"variant_id": v, "from_location_id": b, "to_location_id": a, "quantity": 2}),
            )
            .unwrap();
            assert_eq!(out["from"]["available"].as_i64().unwrap(), at_b - 2);
            assert_eq!(out["to"]["available"].as_i64().unwrap(), at_a + 2);
            let history = call(ctx, "list_adjustments", json!({"variant_id": v, "limit": 2})).unwrap();
            let reasons: Vec<&str> = history["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["reason"].as_str().unwrap())
                .collect();
            assert!(
                reasons.contains(&"transfer_in") && reasons.contains(&"transfer_out"),
                "{reasons:?}"
            );

            let err = call(
                ctx,
                "transfer_stock",
                json!({"variant_id": v, "from_location_id": a, "to_location_id": a, "quantity": 1}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { ref field, .. } if field == "to_location_id"));
            let err = call(
                ctx,
                "transfer_stock",
                json!({"variant_id": v, "from_location_id": b, "to_location_id": a, "quantity": at_b}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::Conflict(_)), "{err}");
            assert_eq!(level(ctx, &v, &b), at_b - 2);
        });
    }

    /// An inactive location takes no goods in (received, returned), like no
    /// transfers in; its count can still be corrected and units written off.
    #[test]
    fn an_inactive_location_takes_no_goods_in() {
        with_demo(|ctx| {
            let (v, _, b) = ids(ctx);
            ctx.db
                .conn()
                .execute("UPDATE locations SET active = 0 WHERE id = ?1", [&b])
                .unwrap();
            let before = level(ctx, &v, &b);
            for reason in ["received", "returned"] {
                let err = call(
                    ctx,
                    "adjust_stock",
                    json!({"variant_id": v, "location_id": b, "delta": 3, "reason": reason}),
                )
                .unwrap_err();
                assert!(
                    matches!(&err, ToolError::Conflict(m) if m.contains("inactive") && m.contains("update_location")),
                    "{reason}: {err}"
                );
            }
            assert_eq!(
                level(ctx, &v, &b),
                before,
                "refused adjustments changed the level"
            );
            call(
                ctx,
                "adjust_stock",
                json!({"variant_id": v, "location_id": b, "delta": 1, "reason": "correction"}),
            )
            .unwrap();
            call(
                ctx,
                "adjust_stock",
                json!({"variant_id": v, "location_id": b, "delta": -1, "reason": "damaged"}),
            )
            .unwrap();
            assert_eq!(level(ctx, &v, &b), before);
        });
    }

    #[test]
    fn levels_need_exactly_one_selector() {
        with_demo(|ctx| {
            let (v, _, _) = ids(ctx);
            let err = call(ctx, "get_levels", json!({})).unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { ref field, .. } if field == "variant_id"));
            let err = call(ctx, "get_levels", json!({"variant_id": v, "sku": "X"})).unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { .. }));
            let one = call(ctx, "get_levels", json!({"variant_id": v})).unwrap();
            let sku = one["variants"][0]["sku"].as_str().unwrap();
            let by_sku = call(ctx, "get_levels", json!({"sku": sku})).unwrap();
            assert_eq!(one, by_sku);
            let levels = one["variants"][0]["levels"].as_array().unwrap();
            let sum: i64 = levels.iter().map(|l| l["available"].as_i64().unwrap()).sum();
            assert_eq!(one["total"].as_i64().unwrap(), sum);
        });
    }

    #[test]
    fn low_stock_uses_the_store_threshold_and_sorts_lowest_first() {
        with_demo(|ctx| {
            let threshold = settings::low_stock_threshold(&ctx.db).unwrap();
            let out = call(ctx, "low_stock_alerts", json!({"limit": 100})).unwrap();
            let items = out["items"].as_array().unwrap();
            assert!(!items.is_empty(), "the demo store seeds some low stock");
            let avail: Vec<i64> = items.iter().map(|i| i["available"].as_i64().unwrap()).collect();
            assert!(avail.windows(2).all(|w| w[0] <= w[1]));
            assert!(
                items
                    .iter()
                    .all(|i| i["threshold"] == threshold && i["available"].as_i64().unwrap() <= threshold)
            );
            let none = call(
                ctx,
                "low_stock_alerts",
                json!({"threshold": 0, "location_id": "loc_nope"}),
            )
            .unwrap_err();
            assert!(matches!(none, ToolError::NotFound(_)));
        });
    }

    fn field_of(e: ToolError) -> String {
        match e {
            ToolError::InvalidInput { field, .. } => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn delta_must_be_nonzero_and_bounded() {
        assert_eq!(
            field_of(check_delta(0, AdjustReason::Correction).unwrap_err()),
            "delta"
        );
        assert_eq!(
            field_of(check_delta(1_000_001, AdjustReason::Received).unwrap_err()),
            "delta"
        );
        assert_eq!(
            field_of(check_delta(-1_000_001, AdjustReason::Lost).unwrap_err()),
            "delta"
        );
        assert!(check_delta(1_000_000, AdjustReason::Received).is_ok());
        assert!(check_delta(i64::MIN, AdjustReason::Correction).is_err());
    }

    #[test]
    fn delta_sign_follows_reason() {
        assert!(check_delta(5, AdjustReason::Received).is_ok());
        assert!(check_delta(-5, AdjustReason::Received).is_err());
        assert!(check_delta(-5, AdjustReason::Damaged).is_ok());
        assert!(check_delta(5, AdjustReason::Lost).is_err());
        assert!(check_delta(-5, AdjustReason::Correction).is_ok());
        assert!(check_delta(5, AdjustReason::CycleCount).is_ok());
    }

    #[test]
    fn reasons_serialize_as_stored() {
        for r in [
            AdjustReason::Received,
            AdjustReason::Correction,
            AdjustReason::Damaged,
            AdjustReason::Lost,
            AdjustReason::Returned,
            AdjustReason::CycleCount,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
    }
}
