//! `store`: the caller's store itself — its settings for the current mode
//! (name, support email, time zone, low-stock threshold) and an overview of
//! what it holds, including who the caller is and what it may do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::settings::{self as db, Counts, Settings, SettingsPatch};
use crate::tools::commerce::customers::normalize_email;
use crate::tools::{Action, Category, Ctx, Effect, Tool};

pub fn tool() -> Tool {
    Tool {
        name: "store",
        title: "Store",
        description: "The store itself: settings for the current mode (name, currency, time zone, support email, low-stock threshold) and an overview of its catalog, customers, orders, revenue and stock.",
        category: Category::Platform,
        resource: "platform",
        actions: vec![
            Action::new(
                "get_settings",
                "Read the store's settings for the caller's mode: name, currency, time zone, support email and low-stock threshold.",
                Effect::Read,
                json!({}),
                get_settings,
            ),
            Action::new(
                "update_settings",
                "Change the store's name, support email, time zone or low-stock threshold for the caller's mode; fields left out are kept. The currency cannot be changed.",
                Effect::Write,
                json!({"low_stock_threshold": 8, "timezone": "America/New_York"}),
                update_settings,
            )
            .idempotent(),
            Action::new(
                "get_overview",
                "Summarize the store for the caller's mode: its time zone and current local time, product, customer, order and location counts, revenue of the last 30 days (money paid less refunds; unpaid orders add nothing), units in stock, and the caller's agent name and scopes.",
                Effect::Read,
                json!({}),
                get_overview,
            ),
        ],
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

fn settings(ctx: &Ctx<'_>) -> Result<Settings, ToolError> {
    db::get(&ctx.db)?
        .ok_or_else(|| ToolError::Internal(format!("store `{}` has no stores row", ctx.db.scope().store_id)))
}

fn get_settings(ctx: &Ctx<'_>, _: Empty) -> Result<Settings, ToolError> {
    settings(ctx)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsInput {
    /// Store name shown to customers.
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
    /// Address customers write to; an empty string removes it.
    #[schemars(length(max = 254))]
    pub support_email: Option<String>,
    /// IANA time zone such as "America/New_York", or "UTC".
    #[schemars(length(min = 1, max = 64))]
    pub timezone: Option<String>,
    /// Stock at or below this many units counts as low (0–100000).
    #[schemars(range(min = 0, max = 100_000))]
    pub low_stock_threshold: Option<i64>,
}

fn update_settings(ctx: &Ctx<'_>, i: UpdateSettingsInput) -> Result<Settings, ToolError> {
    ToolError::require_change(&[
        ("name", i.name.is_some()),
        ("support_email", i.support_email.is_some()),
        ("timezone", i.timezone.is_some()),
        ("low_stock_threshold", i.low_stock_threshold.is_some()),
    ])?;
    let name = match i.name.as_deref().map(str::trim) {
        Some("") => {
            return Err(ToolError::invalid("name", "is blank; give the store a name"));
        }
        other => other,
    };
    let support_email = match i.support_email.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(e) => Some(Some(
            normalize_email(e).map_err(|m| ToolError::invalid("support_email", m))?,
        )),
    };
    let timezone = i
        .timezone
        .as_deref()
        .map(|tz| crate::store::canonical_time_zone(tz.trim()).map_err(|m| ToolError::invalid("timezone", m)))
        .transpose()?;
    if let Some(t) = i.low_stock_threshold
        && !(0..=100_000).contains(&t)
    {
        return Err(ToolError::invalid(
            "low_stock_threshold",
            format!("{t} is out of range; use 0 to 100000 units"),
        ));
    }
    if name.is_none() && support_email.is_none() && timezone.is_none() && i.low_stock_threshold.is_none() {
        return settings(ctx);
    }
    let found = db::update(
        &ctx.db,
        &SettingsPatch {
            name,
            support_email: support_email.as_ref().map(Option::as_deref),
            timezone: timezone.as_deref(),
            low_stock_threshold: i.low_stock_threshold,
        },
    )?;
    if !found {
        return Err(ToolError::Internal(format!(
            "store `{}` has no stores row",
            ctx.db.scope().store_id
        )));
    }
    settings(ctx)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Caller {
    /// The agent the credential belongs to.
    pub agent_name: String,
    /// Scopes granted to the credential.
    pub scopes: String,
    /// `live` or `test`: which data the caller sees.
    pub mode: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Overview {
    pub store_id: String,
    /// `live` or `test`.
    pub mode: String,
    pub name: String,
    pub currency: String,
    /// The time zone the store's dates are in (what a date in a `from` or
    /// `to` filter means).
    pub timezone: String,
    /// The store's current date and time there (RFC 3339 with its offset):
    /// its "today", to turn "yesterday" into a date.
    pub local_time: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub caller: Caller,
}

fn get_overview(ctx: &Ctx<'_>, _: Empty) -> Result<Overview, ToolError> {
    let s = settings(ctx)?;
    let counts = db::counts(&ctx.db)?;
    let local_time = jiff::Timestamp::now()
        .to_zoned(crate::store::store_time_zone(&s.timezone))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    Ok(Overview {
        store_id: s.store_id,
        mode: s.mode,
        name: s.name,
        currency: s.currency,
        timezone: s.timezone,
        local_time,
        counts,
        caller: Caller {
            agent_name: ctx.principal.agent_name.clone(),
            scopes: ctx.principal.scopes.to_string(),
            mode: ctx.principal.scope.mode.as_str().to_string(),
        },
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

    #[test]
    fn settings_update_validates_and_persists() {
        with_demo(|ctx| {
            let before = call(ctx, "get_settings", json!({})).unwrap();
            assert_eq!(before["mode"], "live");
            let err = call(
                ctx,
                "update_settings",
                json!({"timezone": "New York", "name": "Changed"}),
            )
            .unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { ref field, .. } if field == "timezone"));
            let err = call(ctx, "update_settings", json!({"support_email": "help"})).unwrap_err();
            assert!(matches!(err, ToolError::InvalidInput { ref field, .. } if field == "support_email"));
            assert!(call(ctx, "update_settings", json!({"currency": "EUR"})).is_err());
            assert_eq!(
                call(ctx, "get_settings", json!({})).unwrap()["name"],
                before["name"]
            );

            let after = call(
                ctx,
                "update_settings",
                json!({"low_stock_threshold": 12, "support_email": " Help@Shop.Example ", "timezone": "UTC"}),
            )
            .unwrap();
            assert_eq!(after["low_stock_threshold"], 12);
            assert_eq!(after["support_email"], "help@shop.example");
            assert_eq!(after["timezone"], "UTC");
            assert_eq!(after["currency"], before["currency"]);
            assert_eq!(db::low_stock_threshold(&ctx.db).unwrap(), 12);
            let cleared = call(ctx, "update_settings", json!({"support_email": ""})).unwrap();
            assert_eq!(cleared["support_email"], Value::Null);
            assert_eq!(cleared["low_stock_threshold"], 12);
        });
    }

    #[test]
    fn overview_counts_the_callers_store() {
        with_demo(|ctx| {
            let o = call(ctx, "get_overview", json!({})).unwrap();
            // The store's "today": now, in its zone, with that zone's offset.
            let zone = crate::store::store_time_zone(o["timezone"].as_str().unwrap());
            let local: jiff::Zoned = format!(
                "{}[{}]",
                o["local_time"].as_str().unwrap(),
                o["timezone"].as_str().unwrap()
            )
            .parse()
            .unwrap();
            let now = jiff::Timestamp::now();
            assert!((now - local.timestamp()).get_seconds().abs() < 60, "{o}");
            assert_eq!(local.offset(), zone.to_offset(now), "{o}");
            let conn = ctx.db.conn();
            let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            assert_eq!(
                o["orders"]["total"].as_i64().unwrap(),
                count("SELECT count(*) FROM orders WHERE store_id = 'demo' AND mode = 'live'")
            );
            assert_eq!(
                o["customers"].as_i64().unwrap(),
                count("SELECT count(*) FROM customers WHERE store_id = 'demo' AND mode = 'live'")
            );
            let p = &o["products"];
            assert_eq!(
                p["total"].as_i64().unwrap(),
                p["active"].as_i64().unwrap()
                    + p["draft"].as_i64().unwrap()
                    + p["archived"].as_i64().unwrap()
            );
            assert!(o["revenue_30d_cents"].as_i64().unwrap() > 0);
            assert_eq!(o["locations"], 2);
            assert_eq!(o["caller"]["agent_name"], ctx.principal.agent_name);
            assert_eq!(o["caller"]["mode"], "live");
        });
    }
}
