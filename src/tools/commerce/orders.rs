//! `orders`: create (stock-checked, coupon- and tax-priced), read, move
//! through their lifecycle, cancel (restocks) and refund (never above what
//! was paid).
//!
//! Every write runs inside the pipeline's single transaction, so an order,
//! its stock movements, its coupon redemption and its audit row commit
//! together or not at all.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::customers;
use crate::store::inventory;
use crate::store::locations;
use crate::store::orders::{self as db, LineItem, NewOrder, Order, OrderStatus, OrderSummary};
use crate::tools::{Action, Category, Ctx, Effect, Page, Tool, default_limit};

pub fn tool() -> Tool {
    Tool {
        name: "orders",
        title: "Orders",
        description: "Create, find and manage orders: stock is reserved atomically, coupons and tax applied, all money in integer minor units.",
        category: Category::Commerce,
        resource: "orders",
        actions: vec![
            Action::new(
                "list_orders",
                "List orders newest first, filtered by status, shipped or not, customer and date range; paged.",
                Effect::Read,
                json!({"status": "paid", "limit": 10}),
                list_orders,
            ),
            Action::new(
                "get_order",
                "One order with line items, totals, payment and refunds.",
                Effect::Read,
                json!({"order_id": "ord_example"}),
                get_order,
            ),
            Action::new(
                "create_order",
                "Create an order: checks and takes stock at the location atomically (never oversells), applies a coupon and the destination's tax, and marks it paid unless `paid` is false.",
                Effect::Write,
                json!({"customer_id": "cus_example", "items": [{"variant_id": "var_example", "quantity": 1}],
                       "coupon_code": "SAVE5", "shipping_address": {"country": "US", "region": "NY"}}),
                create_order,
            ),
            Action::new(
                "update_status",
                "Move an order forward: pending → paid (records full payment), paid → fulfilled (ships it: fulfilled_at is set; a partially refunded order ships too and keeps its partially_refunded status); asking for the status it already has (or `fulfilled` for one that has shipped) changes nothing. A cancelled order cannot move.",
                Effect::Write,
                json!({"order_id": "ord_example", "status": "fulfilled"}),
                update_status,
            )
            .idempotent(),
            Action::new(
                "cancel_order",
                "Cancel an order that has not shipped (pending, paid, or refunded in part or in full): puts every item back in stock at its location and refunds what was paid and not yet refunded; a coupon it used no longer counts against the coupon's limits. Cancelling is final; cancelling an already cancelled order is refused and changes nothing.",
                Effect::Destructive,
                json!({"order_id": "ord_example", "reason": "customer request"}),
                cancel_order,
            ),
            Action::new(
                "refund_order",
                "Refund all or part of what was paid; the total refunded can never exceed the amount paid.",
                Effect::Destructive,
                json!({"order_id": "ord_example", "amount_cents": 500, "reason": "late delivery"}),
                refund_order,
            ),
        ],
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Only orders in this status. A refund changes the status to
    /// partially_refunded or refunded whether or not the order shipped: the
    /// `fulfilled` parameter tells shipped from not.
    pub status: Option<OrderStatus>,
    /// Only orders that have shipped (true) or not yet (false), whatever
    /// their status. The orders waiting to ship are those with false and
    /// status paid, plus those with false and status partially_refunded
    /// (two calls); false alone also lists pending, cancelled and refunded
    /// orders.
    pub fulfilled: Option<bool>,
    /// Only orders of this customer: an id such as `cus_…`, or the
    /// customer's email (any case). An unknown customer is an error, not an
    /// empty list.
    pub customer_id: Option<String>,
    /// Earliest creation time: RFC 3339, a date (YYYY-MM-DD, from the start
    /// of that day in the store's time zone), a time of the store's clock
    /// (YYYY-MM-DDTHH:MM), or an age like 7d.
    pub from: Option<String>,
    /// Latest creation time (same forms as `from`; a date includes that
    /// whole day).
    pub to: Option<String>,
    /// Page size, 1–100 (default 20).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: i64,
    /// Orders to skip, newest first (default 0): the next page starts at
    /// the previous `offset` + `limit`.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub offset: i64,
}

fn list_orders(ctx: &Ctx<'_>, i: ListInput) -> Result<Page<OrderSummary>, ToolError> {
    let (from_ms, to_ms) = crate::store::parse_bounds(&ctx.db, i.from.as_deref(), i.to.as_deref(), None)??;
    let customer_id = i
        .customer_id
        .as_deref()
        .map(|c| super::customers::customer_id(ctx, c))
        .transpose()?;
    let (items, total) = db::list(
        &ctx.db,
        &db::OrderQuery {
            status: i.status,
            fulfilled: i.fulfilled,
            customer_id: customer_id.as_deref(),
            from_ms,
            to_ms,
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
pub struct OrderId {
    /// An order id such as `ord_…` (from list_orders), or the order's
    /// number as people quote it: 1102 or #1102.
    pub order_id: OrderRef,
}

fn get_order(ctx: &Ctx<'_>, i: OrderId) -> Result<Order, ToolError> {
    load(ctx, &order_id(ctx, &i.order_id)?)
}

/// An `order_id` parameter: an order id, or the order's number as people
/// quote it, in a string ("1102", "#1102") or as a JSON number (1102).
#[derive(Debug)]
pub struct OrderRef(String);

impl<'de> Deserialize<'de> for OrderRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Number(u64),
            Text(String),
        }
        Ok(OrderRef(match Given::deserialize(d)? {
            Given::Number(n) => n.to_string(),
            Given::Text(t) => t,
        }))
    }
}

impl JsonSchema for OrderRef {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrderRef".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "integer"], "minLength": 1, "minimum": 1})
    }
}

/// The id of the order an `order_id` parameter names: an id, or the
/// order's number as people quote it (1102, #1102).
fn order_id(ctx: &Ctx<'_>, given: &OrderRef) -> Result<String, ToolError> {
    let given = given.0.trim();
    let digits = given.strip_prefix('#').unwrap_or(given).trim_start();
    let number = match digits.parse::<i64>() {
        Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Ok(given.to_string()),
    };
    db::id_of_number(&ctx.db, number)?.ok_or_else(|| {
        ToolError::NotFound(format!(
            "no order number {number} in this store; orders.list_orders shows the orders and their numbers"
        ))
    })
}

fn load(ctx: &Ctx<'_>, id: &str) -> Result<Order, ToolError> {
    db::get(&ctx.db, id)?.ok_or_else(|| ToolError::not_found("order", id))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// The variant to sell (`var_…`); give this or `sku`.
    pub variant_id: Option<String>,
    /// The variant's SKU; give this or `variant_id`.
    pub sku: Option<String>,
    /// Units of the variant, 1–1000 (a variant given twice adds up).
    #[schemars(range(min = 1, max = 1000))]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// ISO 3166-1 alpha-2 country code, e.g. "US".
    #[schemars(length(min = 2, max = 2), pattern(r"^[A-Za-z]{2}$"))]
    pub country: String,
    /// State or province code (ISO 3166-2: 1–3 letters or digits, the
    /// country prefix optional), e.g. "NY" or "US-NY" for New York: its rate
    /// when the store has one, else the country's. Leave out for the
    /// country's rate.
    #[serde(default)]
    #[schemars(pattern(r"^(([A-Za-z]{2}-)?[A-Za-z0-9]{1,3})?$"))]
    pub region: String,
}

/// The region code of a destination without its country prefix ("US-NY"
/// is "NY"); the schema has refused anything but codes (a region spelled
/// out, "New York", matched no rate and was charged the country's).
fn region_code(a: &Address) -> Result<&str, ToolError> {
    match a.region.split_once('-') {
        None => Ok(&a.region),
        Some((country, code)) if country.eq_ignore_ascii_case(&a.country) => Ok(code),
        Some((country, _)) => Err(ToolError::invalid(
            "shipping_address.region",
            format!(
                "`{}` is a region of {}, not of {}",
                a.region,
                country.to_uppercase(),
                a.country.to_uppercase()
            ),
        )),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// Existing customer: an id such as `cus_…`, or the customer's email (any
    /// case); or give `customer_email`; or neither for a guest order.
    pub customer_id: Option<String>,
    /// Email of an existing customer (any case), instead of `customer_id`;
    /// given with it, both must name the same customer.
    pub customer_email: Option<String>,
    /// The lines of the order, 1–100, each a variant and a quantity.
    #[schemars(length(min = 1, max = 100))]
    pub items: Vec<ItemInput>,
    /// A coupon of this store (any case), e.g. "SAVE5": refused, with
    /// nothing changed, when it is disabled, outside its dates or used up.
    pub coupon_code: Option<String>,
    /// Destination, for tax. Without it, or where the store has no rate
    /// for the country, no tax is charged (the order's tax_country and
    /// tax_region say which rate applied).
    pub shipping_address: Option<Address>,
    /// Shipping charge in cents (default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10_000_000))]
    pub shipping_cents: i64,
    /// Location that ships the order (default: the store's default location).
    pub location_id: Option<String>,
    /// Whether payment was captured (default true → status `paid`; false → `pending`).
    #[serde(default = "yes")]
    pub paid: bool,
    /// Free text kept with the order (at most 2,000 characters).
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

fn create_order(ctx: &Ctx<'_>, i: CreateInput) -> Result<Order, ToolError> {
    let s = &ctx.db;

    // Who is buying. The id and the email are each looked up on their own:
    // given both, they must name the same customer (a mistyped id is never
    // replaced by the email's customer, nor the other way round).
    let customer_id = match (&i.customer_id, &i.customer_email) {
        (None, None) => None,
        (id, email) => {
            let id = match id {
                None => None,
                Some(given) => Some(customers::id_of(s, given)?.ok_or_else(|| {
                    ToolError::invalid(
                        "customer_id",
                        format!(
                            "customer `{}` not found in this store; customers.list_customers finds customers by name or email, or omit customer_id for a guest order",
                            given.trim()
                        ),
                    )
                })?),
            };
            let by_email = match email {
                None => None,
                Some(e) => Some(customers::id_by_email(s, e.trim(), None)?.ok_or_else(|| {
                    ToolError::invalid(
                        "customer_email",
                        format!(
                            "no customer with email `{}` in this store; create it with customers.create_customer, give customer_id instead, or omit both for a guest order",
                            e.trim()
                        ),
                    )
                })?),
            };
            match (id, by_email) {
                (Some(id), Some(other)) if id != other => {
                    return Err(ToolError::invalid(
                        "customer_email",
                        format!(
                            "`{}` is the email of customer `{other}`, but customer_id is `{id}`; give only one of them, or both of the same customer",
                            email.as_deref().unwrap_or_default().trim()
                        ),
                    ));
                }
                (Some(id), _) => Some(id),
                (None, found) => found,
            }
        }
    };

    // Where it ships from.
    let location_id = match &i.location_id {
        Some(l) if locations::is_active(s, l)? => l.clone(),
        Some(l) => {
            return Err(ToolError::invalid(
                "location_id",
                format!("no active location `{l}`; list locations to find one"),
            ));
        }
        None => locations::default_id(s)?.ok_or_else(|| {
            ToolError::Conflict("this store has no active location to ship from; create one first".into())
        })?,
    };

    // Lines: resolve, merge repeats of one variant, price.
    let mut lines: Vec<LineItem> = Vec::new();
    for (n, item) in i.items.iter().enumerate() {
        let field = format!("items[{n}]");
        if item.variant_id.is_some() == item.sku.is_some() {
            return Err(ToolError::invalid(
                field,
                "give exactly one of `variant_id` or `sku`",
            ));
        }
        let v = db::sellable(s, item.variant_id.as_deref(), item.sku.as_deref())?.ok_or_else(|| {
            ToolError::invalid(
                &field,
                format!(
                    "no variant `{}` in this store",
                    item.variant_id
                        .as_deref()
                        .or(item.sku.as_deref())
                        .unwrap_or_default()
                ),
            )
        })?;
        if v.product_deleted {
            return Err(ToolError::Conflict(format!(
                "{field}: `{}` ({}) belongs to product {}, which was deleted, and cannot be sold; choose another variant (products.list_products shows what is for sale)",
                v.sku, v.variant_id, v.product_id
            )));
        }
        if v.product_status != "active" {
            let article = if v.product_status.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(ToolError::Conflict(format!(
                "{field}: `{}` belongs to {article} {} product and cannot be sold; activate the product first",
                v.sku, v.product_status
            )));
        }
        match lines.iter_mut().find(|l| l.variant_id == v.variant_id) {
            Some(l) => {
                l.quantity += item.quantity;
                l.total_cents = l.unit_price_cents * l.quantity;
            }
            None => lines.push(LineItem {
                total_cents: v.price_cents * item.quantity,
                variant_id: v.variant_id,
                product_id: v.product_id,
                title: v.title,
                sku: v.sku,
                quantity: item.quantity,
                unit_price_cents: v.price_cents,
            }),
        }
    }
    let subtotal: i64 = lines.iter().map(|l| l.total_cents).sum();

    // Coupon.
    let coupon = match &i.coupon_code {
        None => None,
        Some(code) => {
            let c = db::coupon(s, code)?.ok_or_else(|| {
                ToolError::invalid("coupon_code", format!("no coupon `{code}` in this store"))
            })?;
            let now = crate::store::now_ms();
            let refuse = |why: &str| {
                Err(ToolError::Conflict(format!(
                    "coupon `{}` cannot be used: {why}",
                    c.code
                )))
            };
            if !c.active {
                return refuse("it is disabled");
            }
            if c.starts_at.is_some_and(|t| now < t) {
                return refuse("it is not valid yet");
            }
            if c.ends_at.is_some_and(|t| now > t) {
                return refuse("it has expired");
            }
            // Both limits count the orders using it that are not cancelled
            // (see `db::coupon_uses`): a cancelled order gives its use back.
            if let Some(limit) = c.usage_limit
                && db::coupon_uses(s, &c.id, None)? >= limit
            {
                return refuse("its usage limit is reached");
            }
            if let (Some(limit), Some(cid)) = (c.per_customer_limit, &customer_id)
                && db::coupon_uses(s, &c.id, Some(cid))? >= limit
            {
                return refuse("this customer has used it the maximum number of times");
            }
            if c.per_customer_limit.is_some() && customer_id.is_none() {
                return refuse("it is limited per customer, so the order needs a customer");
            }
            Some(c)
        }
    };
    let discount = match &coupon {
        None => 0,
        Some(c) if c.kind == "percentage" => subtotal * c.value.min(100) / 100,
        Some(c) => c.value.min(subtotal),
    };

    // Tax on the discounted subtotal, rounded half up, in integer cents.
    let taxable = subtotal - discount;
    let (tax, country, region) = match &i.shipping_address {
        None => (0, None, None),
        Some(a) => {
            let (bps, rule) = db::tax_rate(s, &a.country, region_code(a)?)?.unwrap_or((0, String::new()));
            (
                (taxable * bps + 5_000) / 10_000,
                Some(a.country.to_uppercase()),
                Some(rule),
            )
        }
    };
    let total = taxable + tax + i.shipping_cents;
    let currency = db::currency(s)?;
    let status = if i.paid {
        OrderStatus::Paid
    } else {
        OrderStatus::Pending
    };

    let order_id = db::insert(
        s,
        &NewOrder {
            customer_id: customer_id.as_deref(),
            status,
            currency: &currency,
            subtotal_cents: subtotal,
            discount_cents: discount,
            tax_cents: tax,
            shipping_cents: i.shipping_cents,
            total_cents: total,
            paid_cents: if i.paid { total } else { 0 },
            coupon: coupon.as_ref().map(|c| (c.id.as_str(), c.code.as_str())),
            tax_country: country.as_deref(),
            tax_region: region.as_deref(),
            location_id: &location_id,
            note: i.note.as_deref(),
        },
    )?;
    for line in &lines {
        if inventory::take(
            s,
            &line.variant_id,
            &location_id,
            line.quantity,
            "order",
            Some(&order_id),
        )?
        .is_none()
        {
            // Where else it is, so the agent can ship from there or move
            // the stock (listings sum stock over every location).
            let levels = inventory::levels(s, &line.variant_id)?;
            let here = levels.iter().find(|l| l.location_id == location_id);
            let have = here.map_or(0, |l| l.available);
            let name = here.map_or(location_id.as_str(), |l| l.location_name.as_str());
            let elsewhere: Vec<String> = levels
                .iter()
                .filter(|l| l.location_id != location_id && l.available > 0)
                .map(|l| format!("{} (`{}`) has {}", l.location_name, l.location_id, l.available))
                .collect();
            let next = if elsewhere.is_empty() {
                "no other location has any".to_string()
            } else {
                format!(
                    "{}; ship from there with `location_id`, or move units with inventory.transfer_stock",
                    elsewhere.join(", ")
                )
            };
            return Err(ToolError::Conflict(format!(
                "insufficient stock for `{}` at {name} (`{location_id}`): {have} available, {} requested; nothing was ordered. {next}",
                line.sku, line.quantity
            )));
        }
        db::insert_item(s, &order_id, line)?;
    }
    load(ctx, &order_id)
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Paid,
    Fulfilled,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// The order to move: its id (`ord_…`) or number (1102, #1102).
    pub order_id: OrderRef,
    /// `paid` (from pending) or `fulfilled` (from paid). Use cancel_order / refund_order for the rest.
    pub status: TargetStatus,
}

fn update_status(ctx: &Ctx<'_>, i: StatusInput) -> Result<Order, ToolError> {
    let s = &ctx.db;
    let id = order_id(ctx, &i.order_id)?;
    let o = db::head(s, &id)?.ok_or_else(|| ToolError::not_found("order", &id))?;
    use OrderStatus as S;
    match (i.status, o.status) {
        (_, S::Cancelled) => {
            return Err(ToolError::Conflict(format!(
                "order {} is cancelled, which is final: it cannot be paid or shipped; create a new order instead",
                o.id
            )));
        }
        (TargetStatus::Paid, S::Paid) | (TargetStatus::Fulfilled, S::Fulfilled) => {}
        (TargetStatus::Paid, S::Pending) => db::set_status(s, &o.id, S::Paid, Some(o.total_cents))?,
        (TargetStatus::Fulfilled, S::Paid) => db::set_status(s, &o.id, S::Fulfilled, None)?,
        // Partly refunded, before or after shipping: it ships (once) and
        // stays partly refunded, whichever came first.
        (TargetStatus::Fulfilled, S::PartiallyRefunded) => db::mark_fulfilled(s, &o.id)?,
        // Shipped, then refunded in full: it has shipped; nothing to do.
        (TargetStatus::Fulfilled, S::Refunded) if o.fulfilled => {}
        (TargetStatus::Fulfilled, S::Pending) => {
            return Err(ToolError::Conflict(format!(
                "order {} is pending (not paid); only paid orders ship: set status `paid` first",
                o.id
            )));
        }
        (TargetStatus::Fulfilled, S::Refunded) => {
            return Err(ToolError::Conflict(format!(
                "order {} was refunded in full before it shipped, so it does not ship; cancel_order puts its stock back",
                o.id
            )));
        }
        (TargetStatus::Paid, current) => {
            return Err(ToolError::Conflict(format!(
                "order {} is {} and was paid already ({} cents); it cannot be marked paid again",
                o.id,
                current.as_str(),
                o.paid_cents
            )));
        }
    }
    load(ctx, &o.id)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// The order to cancel: its id (`ord_…`) or number (1102, #1102).
    pub order_id: OrderRef,
    /// Why, kept with the refund the cancellation makes (default "order
    /// cancelled"; at most 500 characters).
    #[schemars(length(max = 500))]
    pub reason: Option<String>,
}

fn cancel_order(ctx: &Ctx<'_>, i: CancelInput) -> Result<Order, ToolError> {
    let s = &ctx.db;
    let id = order_id(ctx, &i.order_id)?;
    let o = db::head(s, &id)?.ok_or_else(|| ToolError::not_found("order", &id))?;
    // Anything not yet shipped can be cancelled, a (partly) refunded order
    // included — refunded in full before shipping, its stock is still
    // taken until it is cancelled; what has shipped is refunded instead.
    let open = matches!(
        o.status,
        OrderStatus::Pending | OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded
    );
    if o.status == OrderStatus::Cancelled {
        // Refused rather than repeated as a success (the action is not
        // marked idempotent): the first cancel already restocked and
        // refunded, and an agent that cancels twice should hear it.
        return Err(ToolError::Conflict(format!(
            "order {} is already cancelled; nothing changed (its stock was put back when it was cancelled; {} cents refunded in all)",
            o.id, o.refunded_cents
        )));
    }
    if o.fulfilled || !open {
        return Err(ToolError::Conflict(format!(
            "order {} is {}{}; only orders that have not shipped can be cancelled (refund_order returns money for a shipped one)",
            o.id,
            o.status.as_str(),
            if o.fulfilled && o.status != OrderStatus::Fulfilled {
                " and has shipped"
            } else {
                ""
            }
        )));
    }
    for item in db::items(s, &o.id)? {
        inventory::put(
            s,
            &item.variant_id,
            &o.location_id,
            item.quantity,
            "order_cancelled",
            Some(&o.id),
        )?;
    }
    let owed = o.paid_cents - o.refunded_cents;
    if owed > 0 {
        let reason = i.reason.as_deref().unwrap_or("order cancelled");
        db::add_refund(s, &o.id, owed, Some(reason), OrderStatus::Cancelled)?;
    } else {
        db::set_status(s, &o.id, OrderStatus::Cancelled, None)?;
    }
    load(ctx, &o.id)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// The order to refund: its id (`ord_…`) or number (1102, #1102).
    pub order_id: OrderRef,
    /// Amount in minor units (cents: 1000 is 10.00 USD); default: everything paid and not
    /// yet refunded. A refund returns no stock: cancel_order does, for an
    /// order that has not shipped.
    #[schemars(range(min = 1))]
    pub amount_cents: Option<i64>,
    /// Why, kept with the refund (at most 500 characters).
    #[schemars(length(max = 500))]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Refunded {
    pub refund_id: String,
    pub amount_cents: i64,
    /// What is still refundable after this refund.
    pub remaining_refundable_cents: i64,
    pub order: Order,
}

fn refund_order(ctx: &Ctx<'_>, i: RefundInput) -> Result<Refunded, ToolError> {
    let s = &ctx.db;
    let id = order_id(ctx, &i.order_id)?;
    let o = db::head(s, &id)?.ok_or_else(|| ToolError::not_found("order", &id))?;
    let refundable = o.paid_cents - o.refunded_cents;
    if refundable <= 0 {
        let why = match o.status {
            OrderStatus::Cancelled if o.paid_cents > 0 => format!(
                "is cancelled and its payment ({} cents) was refunded when it was cancelled",
                o.paid_cents
            ),
            OrderStatus::Cancelled => "is cancelled and was never paid".to_string(),
            OrderStatus::Pending => {
                "is pending: nothing has been paid (cancel_order cancels an unpaid order)".to_string()
            }
            _ => format!("is already refunded in full ({} cents)", o.refunded_cents),
        };
        return Err(ToolError::Conflict(format!(
            "order {} {why}; nothing left to refund",
            o.id
        )));
    }
    let amount = i.amount_cents.unwrap_or(refundable);
    if amount > refundable {
        return Err(ToolError::invalid(
            "amount_cents",
            format!(
                "{amount} exceeds the refundable {refundable} cents (paid {} − already refunded {})",
                o.paid_cents, o.refunded_cents
            ),
        ));
    }
    let status = if amount == refundable {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    };
    let refund_id = db::add_refund(s, &o.id, amount, i.reason.as_deref(), status)?;
    Ok(Refunded {
        refund_id,
        amount_cents: amount,
        remaining_refundable_cents: refundable - amount,
        order: load(ctx, &o.id)?,
    })
}
