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
            ),
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
        return Err(ToolError::invalid("name", "is blank; give the location a name such as \"Austin Pop-up\""));
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
    #[schemars(length(min = 1))]
    pub location_id: String,
    /// New name, unique among the store's locations.
    #[serde(default)]
    #[schemars(with = "String", length(min = 1, max = 100))]
    pub name: Option<String>,
    /// New street address.
    #[serde(default)]
    #[schemars(with = "String", length(max = 500))]
    pub address: Option<String>,
    /// false deactivates the location (not allowed for the default location); true reactivates it.
    pub active: Option<bool>,
    /// true makes this the default location (and no other); the location must be active.
    #[serde(default)]
    pub make_default: bool,
}

fn update_location(ctx: &Ctx<'_>, i: UpdateInput) -> Result<Location, ToolError> {
    let name = i.name.as_deref().map(clean_name).transpose()?;
    if i.make_default && i.active == Some(false) {
        return Err(ToolError::invalid(
            "active",
            "cannot be false together with make_default: true; the default location must be active",
        ));
    }
    let current = db::brief(&ctx.db, &i.location_id)?.ok_or_else(|| ToolError::not_found("location", &i.location_id))?;
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
