//! `locations`: the places stock is kept (warehouses, shops) — list them with
//! their stock totals, open new ones, rename, deactivate, and choose the
//! default location orders ship from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::locations::{self as db, Location, LocationPatch};
use crate::tools::{Action, Category, Ctx, Effect, Tool};

pub fn tool() -> Tool {
    Tool {
        name: "locations",
        title: "Locations",
        description: "The store's stock locations (warehouses, shops): units on hand, which one is the default that orders ship from, and which are active.",
        category: Category::Operations,
        resource: "inventory",
        actions: vec![
            Action::new(
                "list_locations",
                "List every location with its address, default and active flags, units on hand and number of variants stocked.",
                Effect::Read,
                json!({}),
                list_locations,
            ),
            Action::new(
                "get_location",
                "One location with its address, flags and stock totals.",
                Effect::Read,
                json!({"location_id": "loc_example"}),
                get_location,
            ),
            Action::new(
                "create_location",
                "Open a new active location with a unique name; every existing variant gets a stock level of 0 there.",
                Effect::Write,
                json!({"name": "Austin Pop-up", "address": "1100 S Congress Ave, Austin, TX 78704"}),
                create_location,
            )
            .additive(),
            Action::new(
                "update_location",
                "Rename a location, change its address, activate or deactivate it, or make it the default; fields left out are kept.",
                Effect::Write,
                json!({"location_id": "loc_example2", "address": "1020 SW Taylor St, Suite 2, Portland, OR 97205"}),
                update_location,
            )
            .idempotent(),
        ],
    }
}

fn clean_name(raw: &str) -> Result<&str, ToolError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ToolError::invalid(
            "name",
            "is blank; give the location a name such as \"Austin Pop-up\"",
        ));
    }
    Ok(name)
}

fn name_taken(ctx: &Ctx<'_>, name: &str, except: Option<&str>) -> Result<(), ToolError> {
    if let Some(other) = db::id_by_name(&ctx.db, name, except)? {
        return Err(ToolError::Conflict(format!(
            "a location named `{name}` already exists (`{other}`); choose another name or use that location"
        )));
    }
    Ok(())
}

fn load(ctx: &Ctx<'_>, id: &str) -> Result<Location, ToolError> {
    db::get(&ctx.db, id)?.ok_or_else(|| ToolError::not_found("location", id))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Locations {
    /// Default location first, then active ones, then by name.
    pub locations: Vec<Location>,
}

fn list_locations(ctx: &Ctx<'_>, _: Empty) -> Result<Locations, ToolError> {
    Ok(Locations {
        locations: db::list(&ctx.db)?,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationId {
    /// A location id such as `loc_…` (from list_locations).
    #[schemars(length(min = 1))]
    pub location_id: String,
}

fn get_location(ctx: &Ctx<'_>, i: LocationId) -> Result<Location, ToolError> {
    load(ctx, &i.location_id)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// Name, unique among the store's locations, e.g. "Austin Pop-up".
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// Street address.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub address: String,
}

fn create_location(ctx: &Ctx<'_>, i: CreateInput) -> Result<Location, ToolError> {
    let name = clean_name(&i.name)?;
    name_taken(ctx, name, None)?;
    let id = db::create(&ctx.db, name, i.address.trim())?;
    load(ctx, &id)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// The location to change (`loc_…`).
    #[schemars(length(min = 1))]
    pub location_id: String,
    /// New name, unique among the store's locations.
    // `with` + `skip_serializing_if`: optional but not nullable, so the
    // parameter has one type across this tool's actions (and no `"default": null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1, max = 100))]
    pub name: Option<String>,
    /// New street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(max = 500))]
    pub address: Option<String>,
    /// false deactivates the location (not allowed for the default location); true reactivates it.
    pub active: Option<bool>,
    /// true makes this the default location (and no other); the location must be active.
    #[serde(default)]
    pub make_default: bool,
}

fn update_location(ctx: &Ctx<'_>, i: UpdateInput) -> Result<Location, ToolError> {
    ToolError::require_change(&[
        ("name", i.name.is_some()),
        ("address", i.address.is_some()),
        ("active", i.active.is_some()),
        ("make_default", i.make_default),
    ])?;
    let name = i.name.as_deref().map(clean_name).transpose()?;
    if i.make_default && i.active == Some(false) {
        return Err(ToolError::invalid(
            "active",
            "cannot be false together with make_default: true; the default location must be active",
        ));
    }
    let current = db::brief(&ctx.db, &i.location_id)?
        .ok_or_else(|| ToolError::not_found("location", &i.location_id))?;
    if let Some(name) = name {
        name_taken(ctx, name, Some(&current.id))?;
    }
    let active = i.active.unwrap_or(current.active);
    if i.make_default && !active {
        return Err(ToolError::Conflict(format!(
            "{} (`{}`) is inactive and cannot become the default; pass active: true together with make_default: true",
            current.name, current.id
        )));
    }
    if !active && current.is_default {
        return Err(ToolError::Conflict(format!(
            "{} (`{}`) is the default location and cannot be deactivated; first make another active location the default (update_location with make_default: true on it)",
            current.name, current.id
        )));
    }
    db::update(
        &ctx.db,
        &current.id,
        &LocationPatch {
            name,
            address: i.address.as_deref().map(str::trim),
            active: i.active,
        },
    )?;
    if i.make_default {
        db::set_default(&ctx.db, &current.id)?;
    }
    load(ctx, &current.id)
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

    fn default_id(ctx: &Ctx<'_>) -> String {
        db::default_id(&ctx.db).unwrap().unwrap()
    }

    #[test]
    fn new_locations_stock_every_variant_at_zero() {
        with_demo(|ctx| {
            let made = call(
                ctx,
                "create_location",
                json!({"name": "  Austin Pop-up ", "address": "Austin"}),
            )
            .unwrap();
            assert_eq!(made["name"], "Austin Pop-up");
            assert_eq!(made["is_default"], false);
            assert_eq!(made["units_on_hand"], 0);
            let (levels, variants): (i64, i64) = ctx
                .db
                .conn()
                .query_row(
                    "SELECT (SELECT count(*) FROM inventory_levels WHERE location_id = ?1 AND available = 0),
                            (SELECT count(*) FROM variants WHERE store_id = 'demo' AND mode = 'live')",
                    [made["id"].as_str().unwrap()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(levels, variants);
            let err = call(ctx, "create_location", json!({"name": "austin pop-up"})).unwrap_err();
            assert!(
                matches!(&err, ToolError::Conflict(m) if m.contains(made["id"].as_str().unwrap())),
                "{err}"
            );
            let all = call(ctx, "list_locations", json!({})).unwrap();
            assert_eq!(all["locations"].as_array().unwrap().len(), 3);
        });
    }

    #[test]
    fn the_default_cannot_be_deactivated_until_another_is_default() {
        with_demo(|ctx| {
            let old = default_id(ctx);
            let err = call(
                ctx,
                "update_location",
                json!({"location_id": old, "active": false}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::Conflict(_)), "{err}");

            let other = call(ctx, "list_locations", json!({})).unwrap()["locations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["id"] != json!(old))
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let err = call(
                ctx,
                "update_location",
                json!({"location_id": other, "make_default": true, "active": false}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { ref field, .. } if field == "active"));

            let now = call(
                ctx,
                "update_location",
                json!({"location_id": other, "make_default": true}),
            )
            .unwrap();
            assert_eq!(now["is_default"], true);
            assert_eq!(default_id(ctx), other);
            let was = call(
                ctx,
                "update_location",
                json!({"location_id": old, "active": false}),
            )
            .unwrap();
            assert_eq!(was["is_default"], false);
            assert_eq!(was["active"], false);
            assert!(!db::is_active(&ctx.db, &old).unwrap());

            let err = call(
                ctx,
                "update_location",
                json!({"location_id": old, "make_default": true}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::Conflict(_)), "{err}");
            let back = call(
                ctx,
                "update_location",
                json!({"location_id": old, "make_default": true, "active": true}),
            )
            .unwrap();
            assert_eq!(back["is_default"], true);
            let defaults = call(ctx, "list_locations", json!({})).unwrap()["locations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["is_default"] == true)
                .count();
            assert_eq!(defaults, 1);
        });
    }

    #[test]
    fn renaming_onto_another_name_conflicts() {
        with_demo(|ctx| {
            let all = call(ctx, "list_locations", json!({})).unwrap();
            let locs = all["locations"].as_array().unwrap();
            let err = call(
                ctx,
                "update_location",
                json!({"location_id": locs[0]["id"], "name": locs[1]["name"]}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::Conflict(_)), "{err}");
            let same = call(
                ctx,
                "update_location",
                json!({"location_id": locs[0]["id"], "name": locs[0]["name"]}),
            )
            .unwrap();
            assert_eq!(same["name"], locs[0]["name"]);
            let err = call(ctx, "get_location", json!({"location_id": "loc_nope"})).unwrap_err();
            assert!(matches!(err, ToolError::NotFound(_)));
        });
    }
}
