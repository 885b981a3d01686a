//! `products`: the catalog — search, read, create, update, price, soft delete.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ToolError;
use crate::store::products::{
    self as db, NewProduct, NewVariant, Product, ProductPatch, ProductStatus, ProductSummary,
};
use crate::tools::{Action, Category, Ctx, Effect, Page, Tool, default_limit};

pub fn tool() -> Tool {
    Tool {
        name: "products",
        title: "Products",
        description: "Search and manage the store's catalog: products with variants, prices (integer minor units) and status.",
        category: Category::Commerce,
        resource: "products",
        actions: vec![
            Action::new(
                "list_products",
                "Search products by text, category, status and price range; paged, sorted by title, price or newest first.",
                Effect::Read,
                json!({"query": "jacket", "status": "active", "limit": 5}),
                list_products,
            ),
            Action::new(
                "get_product",
                "One product with its variants, stock available per variant and review rating.",
                Effect::Read,
                json!({"product_id": "prod_example"}),
                get_product,
            ),
            Action::new(
                "list_categories",
                "Categories in use with their product counts.",
                Effect::Read,
                json!({}),
                list_categories,
            ),
            Action::new(
                "create_product",
                "Create a product with one or more variants (unique SKUs, prices in cents). New variants start with 0 stock at every location.",
                Effect::Write,
                json!({"title": "Trail Cap", "category": "accessories", "status": "draft",
                       "variants": [{"sku": "CAP-TRAIL-OS", "title": "One size", "price_cents": 2400}]}),
                create_product,
            )
            .additive(),
            Action::new(
                "update_product",
                "Change a product's title, description, category, status or tags; fields left out are kept.",
                Effect::Write,
                json!({"product_id": "prod_example", "status": "active"}),
                update_product,
            )
            .idempotent(),
            Action::new(
                "set_price",
                "Set one variant's price in cents, and optionally its compare-at (\"was\") price, which must be above the price; left out, the current compare-at price is kept; null clears it.",
                Effect::Write,
                json!({"variant_id": "var_example", "price_cents": 4500}),
                set_price,
            )
            .idempotent(),
            Action::new(
                "delete_product",
                "Soft-delete a product: it leaves listings and can no longer be ordered, priced or changed; past orders keep it. Repeating it succeeds with already_deleted true.",
                Effect::Destructive,
                json!({"product_id": "prod_example"}),
                delete_product,
            )
            .idempotent(),
        ],
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Words to find (any case, at most 10): a product matches when each
    /// word appears in its title, description, tags or a variant's SKU, in
    /// any order.
    #[schemars(length(min = 1, max = 200))]
    pub query: Option<String>,
    /// Only products of this category, whatever its letter case (names
    /// from list_categories).
    #[schemars(length(min = 1, max = 100))]
    pub category: Option<String>,
    /// Only products in this status (default: every status).
    pub status: Option<ProductStatus>,
    /// Only products with a variant priced at or above this (cents). With
    /// max_price_cents, one variant must be within both.
    #[schemars(range(min = 0))]
    pub min_price_cents: Option<i64>,
    /// Only products with a variant priced at or below this (cents). With
    /// min_price_cents, one variant must be within both.
    #[schemars(range(min = 0))]
    pub max_price_cents: Option<i64>,
    /// Order of the list (default `title`).
    #[serde(default)]
    pub sort: db::ProductSort,
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

/// The most distinct words a search takes: each costs a scan of every
/// product's text (100 words took seconds on a large catalogue).
const MAX_SEARCH_WORDS: usize = 10;

fn list_products(ctx: &Ctx<'_>, i: ListInput) -> Result<Page<ProductSummary>, ToolError> {
    let words = i.query.as_deref().map(search_words).transpose()?;
    let query = words.as_ref().map(|w| w.join(" "));
    if let (Some(min), Some(max)) = (i.min_price_cents, i.max_price_cents)
        && min > max
    {
        return Err(ToolError::invalid(
            "min_price_cents",
            format!("{min} is above max_price_cents {max}"),
        ));
    }
    let (items, total) = db::list(
        &ctx.db,
        &db::ProductQuery {
            text: query.as_deref(),
            category: i.category.as_deref(),
            status: i.status,
            min_price_cents: i.min_price_cents,
            max_price_cents: i.max_price_cents,
            sort: i.sort,
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
pub struct ProductId {
    /// A product id such as `prod_…` (from list_products).
    #[schemars(length(min = 1))]
    pub product_id: String,
}

fn get_product(ctx: &Ctx<'_>, i: ProductId) -> Result<Product, ToolError> {
    match db::get(&ctx.db, &i.product_id)? {
        Some(p) => Ok(p),
        // Reading a deleted product finds nothing, in words that say why.
        None => Err(missing(ctx, &i.product_id, ToolError::NotFound)?),
    }
}

/// The error for a product id that names no live product: not found at
/// all, or deleted — reported as `deleted` makes it (not found to a read,
/// a conflict to a change).
fn missing(
    ctx: &Ctx<'_>,
    product_id: &str,
    deleted: fn(String) -> ToolError,
) -> Result<ToolError, ToolError> {
    Ok(match db::is_deleted(&ctx.db, product_id)? {
        Some(true) => deleted(was_deleted(product_id)),
        _ => ToolError::not_found("product", product_id),
    })
}

fn was_deleted(product_id: &str) -> String {
    format!(
        "product `{product_id}` was deleted; a deleted product cannot be read or changed (past orders keep it). products.list_products shows the live products"
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Categories {
    pub categories: Vec<db::CategoryCount>,
}

fn list_categories(ctx: &Ctx<'_>, _: Empty) -> Result<Categories, ToolError> {
    Ok(Categories {
        categories: db::categories(&ctx.db)?,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// Stock keeping unit, unique in the store whatever its letter case
    /// (orders and stock find it by either spelling).
    #[schemars(length(min = 1, max = 64))]
    pub sku: String,
    /// e.g. "M", "Blue / L", "40 L".
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Price in cents.
    #[schemars(range(min = 0, max = 100_000_000))]
    pub price_cents: i64,
    /// The "was" price in cents, shown struck through; must be above
    /// price_cents.
    #[schemars(range(min = 0, max = 100_000_000))]
    pub compare_at_cents: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// The product's name, e.g. "Trail Tent 2P".
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Text for the product page (default empty).
    #[serde(default)]
    #[schemars(length(max = 5000))]
    pub description: String,
    /// Category name, e.g. "tents" (list_categories shows those in use); one
    /// already in use is kept in its spelling, whatever the letter case given.
    #[schemars(length(min = 1, max = 100))]
    pub category: String,
    /// Defaults to draft; only active products can be ordered.
    pub status: Option<ProductStatus>,
    /// Labels such as "ultralight" (no commas; a repeat in any case is dropped).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The sellable versions (sizes, colours), 1–100, each with its own
    /// SKU and price; stock starts at 0 (inventory adjust_stock adds it).
    #[schemars(length(min = 1, max = 100))]
    pub variants: Vec<VariantInput>,
}

/// `value` trimmed; refused when nothing is left.
fn not_blank<'a>(field: &str, value: &'a str) -> Result<&'a str, ToolError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(ToolError::invalid(
            field,
            "is blank; give some text (spaces alone are not a value)",
        ));
    }
    Ok(t)
}

/// A category as the store already spells it ("Accessories" joins
/// "accessories"), else as given.
/// The distinct words of a search (any case), at most [`MAX_SEARCH_WORDS`].
fn search_words(query: &str) -> Result<Vec<String>, ToolError> {
    let mut words: Vec<String> = Vec::new();
    for w in query.split_whitespace() {
        if !words.iter().any(|seen| seen.eq_ignore_ascii_case(w)) {
            words.push(w.to_string());
        }
    }
    if words.is_empty() {
        return Err(ToolError::invalid(
            "query",
            "is blank; give words to find, or leave it out to list every product",
        ));
    }
    if words.len() > MAX_SEARCH_WORDS {
        return Err(ToolError::invalid(
            "query",
            format!(
                "has {} different words; give at most {MAX_SEARCH_WORDS} (a product must contain every one)",
                words.len()
            ),
        ));
    }
    Ok(words)
}

/// A category as the store already spells it on other products than
/// `except` ("Accessories" joins "accessories"), else as given: a product
/// alone in its category can still change the category's letter case.
fn known_spelling(ctx: &Ctx<'_>, category: &str, except: Option<&str>) -> Result<String, ToolError> {
    Ok(db::category_spelling(&ctx.db, category, except)?.unwrap_or_else(|| category.to_string()))
}

fn create_product(ctx: &Ctx<'_>, i: CreateInput) -> Result<Product, ToolError> {
    let title = not_blank("title", &i.title)?;
    let category = known_spelling(ctx, not_blank("category", &i.category)?, None)?;
    let category = category.as_str();
    let mut variants: Vec<NewVariant<'_>> = Vec::with_capacity(i.variants.len());
    for (n, v) in i.variants.iter().enumerate() {
        let sku = not_blank(&format!("variants[{n}].sku"), &v.sku)?;
        // SKUs are one whatever their case (the column is COLLATE NOCASE).
        if let Some(first) = variants.iter().find(|o| o.sku.eq_ignore_ascii_case(sku)) {
            return Err(ToolError::invalid(
                format!("variants[{n}].sku"),
                format!(
                    "SKU `{sku}` repeats `{}` of an earlier variant (SKUs ignore letter case); give each variant its own SKU",
                    first.sku
                ),
            ));
        }
        let title = not_blank(&format!("variants[{n}].title"), &v.title)?;
        check_compare_at(
            &format!("variants[{n}].compare_at_cents"),
            v.price_cents,
            v.compare_at_cents,
        )?;
        variants.push(NewVariant {
            sku,
            title,
            price_cents: v.price_cents,
            compare_at_cents: v.compare_at_cents,
        });
    }
    let skus: Vec<&str> = variants.iter().map(|v| v.sku).collect();
    let taken = db::taken_skus(&ctx.db, &skus)?;
    if !taken.is_empty() {
        return Err(ToolError::Conflict(format!(
            "SKU already in use in this store (SKUs ignore letter case): {}; choose another SKU (a deleted product's SKUs stay reserved, so its past orders keep naming one variant)",
            taken.join(", ")
        )));
    }
    let tags = super::customers::normalize_tags(&i.tags)?;
    let id = db::create(
        &ctx.db,
        &NewProduct {
            title,
            description: &i.description,
            category,
            status: i.status.unwrap_or(ProductStatus::Draft),
            tags: &tags,
            variants: &variants,
        },
    )?;
    db::get(&ctx.db, &id)?.ok_or_else(|| ToolError::Internal("created product vanished".into()))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// The product to change (`prod_…`).
    #[schemars(length(min = 1))]
    pub product_id: String,
    /// New name.
    #[schemars(length(min = 1, max = 200))]
    pub title: Option<String>,
    /// New description; an empty string clears it.
    #[schemars(length(max = 5000))]
    pub description: Option<String>,
    /// New category name; one other products use is kept in their spelling,
    /// whatever the letter case given.
    #[schemars(length(min = 1, max = 100))]
    pub category: Option<String>,
    /// New status; only active products can be ordered.
    pub status: Option<ProductStatus>,
    /// Replaces all tags (no commas); [] removes them.
    pub tags: Option<Vec<String>>,
}

fn update_product(ctx: &Ctx<'_>, i: UpdateInput) -> Result<Product, ToolError> {
    ToolError::require_change(&[
        ("title", i.title.is_some()),
        ("description", i.description.is_some()),
        ("category", i.category.is_some()),
        ("status", i.status.is_some()),
        ("tags", i.tags.is_some()),
    ])?;
    let title = i.title.as_deref().map(|t| not_blank("title", t)).transpose()?;
    let category = i
        .category
        .as_deref()
        .map(|c| not_blank("category", c).and_then(|c| known_spelling(ctx, c, Some(&i.product_id))))
        .transpose()?;
    let category = category.as_deref();
    let tags = i
        .tags
        .as_deref()
        .map(super::customers::normalize_tags)
        .transpose()?;
    let found = db::update(
        &ctx.db,
        &i.product_id,
        &ProductPatch {
            title,
            description: i.description.as_deref(),
            category,
            status: i.status,
            tags: tags.as_deref(),
        },
    )?;
    if !found {
        return Err(missing(ctx, &i.product_id, ToolError::Conflict)?);
    }
    get_product(
        ctx,
        ProductId {
            product_id: i.product_id,
        },
    )
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// A variant id such as `var_…` (from get_product).
    #[schemars(length(min = 1))]
    pub variant_id: String,
    /// The new price in the currency's minor unit (cents): 4500 is 45.00
    /// USD (see the store's currency).
    #[schemars(range(min = 0, max = 100_000_000))]
    pub price_cents: i64,
    /// The "was" price in cents, shown struck through; must be above
    /// price_cents. Left out keeps the variant's current one; null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schemars(range(min = 0, max = 100_000_000), transform = no_default)]
    pub compare_at_cents: Option<Option<i64>>,
}

/// Leaving the field out is not the same as `null`: no `default` in the schema.
fn no_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

/// Reads a field that is present (a value or `null`) as `Some`, so that an
/// absent field (`None`, via `#[serde(default)]`) differs from `null`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Refuses a compare-at ("was") price that is not above the price.
fn check_compare_at(field: &str, price_cents: i64, compare_at_cents: Option<i64>) -> Result<(), ToolError> {
    match compare_at_cents {
        Some(c) if c <= price_cents => Err(ToolError::invalid(
            field,
            format!(
                "compare_at_cents {c} is not above price_cents {price_cents}; a compare-at (\"was\") price must be higher than the price: raise it, or leave it out"
            ),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PriceSet {
    pub variant_id: String,
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
    /// The price before this change, in minor units: a price meant as 45.00
    /// but given as 45 shows here as a 100-fold cut.
    pub previous_price_cents: i64,
    pub previous_compare_at_cents: Option<i64>,
}

fn set_price(ctx: &Ctx<'_>, i: PriceInput) -> Result<PriceSet, ToolError> {
    let current = db::variant_price(&ctx.db, &i.variant_id)?
        .ok_or_else(|| ToolError::not_found("variant", &i.variant_id))?;
    if current.product_deleted {
        return Err(ToolError::Conflict(was_deleted(&current.product_id)));
    }
    let compare_at_cents = match i.compare_at_cents {
        Some(given) => {
            check_compare_at("compare_at_cents", i.price_cents, given)?;
            given
        }
        None => {
            if let Some(c) = current.compare_at_cents
                && c <= i.price_cents
            {
                return Err(ToolError::invalid(
                    "compare_at_cents",
                    format!(
                        "the variant's current compare_at_cents {c} is not above the new price_cents {}; pass a higher compare_at_cents, or null to clear it",
                        i.price_cents
                    ),
                ));
            }
            current.compare_at_cents
        }
    };
    db::set_price(&ctx.db, &i.variant_id, i.price_cents, compare_at_cents)?;
    Ok(PriceSet {
        variant_id: i.variant_id,
        price_cents: i.price_cents,
        compare_at_cents,
        previous_price_cents: current.price_cents,
        previous_compare_at_cents: current.compare_at_cents,
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    pub id: String,
    /// Always true: the product is deleted now.
    pub deleted: bool,
    /// True when an earlier call had deleted it already (nothing changed).
    pub already_deleted: bool,
}

fn delete_product(ctx: &Ctx<'_>, i: ProductId) -> Result<Deleted, ToolError> {
    let already_deleted = match db::soft_delete(&ctx.db, &i.product_id)? {
        db::SoftDelete::Deleted => false,
        db::SoftDelete::AlreadyDeleted => true,
        db::SoftDelete::Absent => return Err(ToolError::not_found("product", &i.product_id)),
    };
    Ok(Deleted {
        id: i.product_id,
        deleted: true,
        already_deleted,
    })
}
