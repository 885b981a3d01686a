//! Products and their variants.

use rusqlite::{OptionalExtension, ToSql, params};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Scoped, new_id, now_ms, rfc3339};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    Active,
    Draft,
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Draft => "draft",
            ProductStatus::Archived => "archived",
        }
    }
    fn parse(s: &str) -> ProductStatus {
        match s {
            "draft" => ProductStatus::Draft,
            "archived" => ProductStatus::Archived,
            _ => ProductStatus::Active,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Variant {
    pub id: String,
    pub sku: String,
    pub title: String,
    /// Price in minor units (cents).
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
    /// Units available across all locations.
    pub available: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Product {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub status: ProductStatus,
    pub tags: Vec<String>,
    pub variants: Vec<Variant>,
    pub price_min_cents: i64,
    pub price_max_cents: i64,
    /// Average review rating (1–5), null without reviews.
    pub rating: Option<f64>,
    pub review_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProductSummary {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: ProductStatus,
    /// The lowest price among all the product's variants (cents), whatever
    /// the price filter.
    pub price_min_cents: i64,
    /// The highest price among all the product's variants (cents).
    pub price_max_cents: i64,
    pub variant_count: i64,
    /// Units available across all variants and locations.
    pub available: i64,
}

/// The order of a product listing.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    /// By title, A to Z (the default).
    #[default]
    Title,
    /// Cheapest first, by the product's lowest variant price.
    PriceAsc,
    /// Dearest first, by the product's highest variant price.
    PriceDesc,
    /// Most recently created first.
    Newest,
}

#[derive(Debug, Default)]
pub struct ProductQuery<'a> {
    pub sort: ProductSort,
    pub text: Option<&'a str>,
    pub category: Option<&'a str>,
    pub status: Option<ProductStatus>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

const PMIN: &str = "(SELECT min(v.price_cents) FROM variants v WHERE v.product_id = p.id)";
const PMAX: &str = "(SELECT max(v.price_cents) FROM variants v WHERE v.product_id = p.id)";
const VARIANTS: &str = "(SELECT count(*) FROM variants v WHERE v.product_id = p.id)";
const AVAILABLE: &str = "(SELECT coalesce(sum(l.available), 0) FROM variants v
      JOIN inventory_levels l ON l.variant_id = v.id WHERE v.product_id = p.id)";

pub fn list(s: &Scoped<'_>, q: &ProductQuery<'_>) -> rusqlite::Result<(Vec<ProductSummary>, i64)> {
    // Aggregates are correlated subqueries over one product's variants
    // (indexed by product): only the rows a filter or the page needs are
    // aggregated, not every variant of the store.
    let mut sql = String::from(
        " FROM products p
         WHERE p.store_id = ?1 AND p.mode = ?2 AND p.deleted_at IS NULL
           AND EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id)",
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(s.store().to_string()), Box::new(s.mode())];
    let mut n = 2;
    let mut push = |sql: &mut String, clause: &str, v: Box<dyn ToSql>, args: &mut Vec<Box<dyn ToSql>>| {
        n += 1;
        sql.push_str(&clause.replace('?', &format!("?{n}")));
        args.push(v);
    };
    // Every word must appear, in any order, in one of the fields.
    for word in q.text.unwrap_or_default().split_whitespace() {
        let like = super::contains_pattern(word);
        push(
            &mut sql,
            " AND (p.title LIKE ? ESCAPE '\\' OR p.description LIKE ? ESCAPE '\\' OR p.tags LIKE ? ESCAPE '\\'
                   OR EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id AND v.sku LIKE ? ESCAPE '\\'))",
            Box::new(like),
            &mut args,
        );
        // (the placeholders share one number: `push` renumbers every `?`)
    }
    if let Some(c) = q.category {
        push(
            &mut sql,
            " AND p.category = ? COLLATE NOCASE",
            Box::new(c.to_string()),
            &mut args,
        );
    }
    if let Some(st) = q.status {
        push(&mut sql, " AND p.status = ?", Box::new(st.as_str()), &mut args);
    }
    // One variant must be within the whole range: a product priced 10 and
    // 90 has no variant in [40, 60].
    if q.min_price_cents.is_some() || q.max_price_cents.is_some() {
        sql.push_str(" AND EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id");
        if let Some(min) = q.min_price_cents {
            push(&mut sql, " AND v.price_cents >= ?", Box::new(min), &mut args);
        }
        if let Some(max) = q.max_price_cents {
            push(&mut sql, " AND v.price_cents <= ?", Box::new(max), &mut args);
        }
        sql.push(')');
    }
    let conn = s.conn();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*){sql}"))?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    // Page first, then aggregate the page's rows only: SQLite computes a
    // sorted query's result columns for every candidate row. (The outer
    // query orders by the page's result columns: 5 is the lowest price, 6
    // the highest.)
    let (inner, outer) = match q.sort {
        ProductSort::Title => ("p.title, p.id".to_string(), "p.title, p.id"),
        ProductSort::PriceAsc => (format!("{PMIN}, p.title, p.id"), "5, p.title, p.id"),
        ProductSort::PriceDesc => (format!("{PMAX} DESC, p.title, p.id"), "6 DESC, p.title, p.id"),
        ProductSort::Newest => (
            "p.created_at DESC, p.id DESC".to_string(),
            "p.created_at DESC, p.id DESC",
        ),
    };
    let select = format!(
        "SELECT p.id, p.title, p.category, p.status, {PMIN}, {PMAX}, {VARIANTS}, {AVAILABLE}
           FROM (SELECT p.id, p.title, p.category, p.status, p.created_at{sql}
                  ORDER BY {inner} LIMIT {} OFFSET {}) p
          ORDER BY {outer}",
        q.limit, q.offset
    );
    let mut stmt = conn.prepare_cached(&select)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok(ProductSummary {
                id: r.get(0)?,
                title: r.get(1)?,
                category: r.get(2)?,
                status: ProductStatus::parse(&r.get::<_, String>(3)?),
                price_min_cents: r.get(4)?,
                price_max_cents: r.get(5)?,
                variant_count: r.get(6)?,
                available: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

pub fn get(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<Product>> {
    let conn = s.conn();
    let head = conn
        .prepare_cached(
            "SELECT id, title, description, category, status, tags, created_at, updated_at
               FROM products WHERE store_id = ?1 AND mode = ?2 AND id = ?3 AND deleted_at IS NULL",
        )?
        .query_row(params![s.store(), s.mode(), id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .optional()?;
    let Some((id, title, description, category, status, tags, created, updated)) = head else {
        return Ok(None);
    };
    let variants = conn
        .prepare_cached(
            "SELECT v.id, v.sku, v.title, v.price_cents, v.compare_at_cents,
                    coalesce((SELECT sum(available) FROM inventory_levels l WHERE l.variant_id = v.id), 0)
               FROM variants v WHERE v.product_id = ?1 AND v.store_id = ?2 AND v.mode = ?3
              ORDER BY v.position, v.id",
        )?
        .query_map(params![id, s.store(), s.mode()], |r| {
            Ok(Variant {
                id: r.get(0)?,
                sku: r.get(1)?,
                title: r.get(2)?,
                price_cents: r.get(3)?,
                compare_at_cents: r.get(4)?,
                available: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (rating, review_count): (Option<f64>, i64) = conn
        .prepare_cached(
            "SELECT avg(rating), count(*) FROM reviews WHERE product_id = ?1 AND store_id = ?2 AND mode = ?3",
        )?
        .query_row(params![id, s.store(), s.mode()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Some(Product {
        price_min_cents: variants.iter().map(|v| v.price_cents).min().unwrap_or(0),
        price_max_cents: variants.iter().map(|v| v.price_cents).max().unwrap_or(0),
        id,
        title,
        description,
        category,
        status: ProductStatus::parse(&status),
        tags: split_tags(&tags),
        variants,
        rating: rating.map(|r| (r * 10.0).round() / 10.0),
        review_count,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
    }))
}

pub struct NewVariant<'a> {
    pub sku: &'a str,
    pub title: &'a str,
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
}

pub struct NewProduct<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub status: ProductStatus,
    pub tags: &'a [String],
    pub variants: &'a [NewVariant<'a>],
}

/// The spelling a category already has in this store and mode, whatever
/// the letter case it is asked for in (a second spelling would list as a
/// second category, while filters ignore case).
pub fn category_spelling(
    s: &Scoped<'_>,
    category: &str,
    except: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    s.conn()
        .prepare_cached(
            "SELECT category FROM products
              WHERE store_id = ?1 AND mode = ?2 AND deleted_at IS NULL AND category = ?3 COLLATE NOCASE
                AND id IS NOT ?4
              GROUP BY category ORDER BY count(*) DESC, category LIMIT 1",
        )?
        .query_row(params![s.store(), s.mode(), category, except], |r| r.get(0))
        .optional()
}

/// SKUs already taken in this store and mode, in their stored spelling
/// (SKUs compare case-insensitively: the column is `COLLATE NOCASE`).
pub fn taken_skus(s: &Scoped<'_>, skus: &[&str]) -> rusqlite::Result<Vec<String>> {
    let mut stmt = s
        .conn()
        .prepare_cached("SELECT sku FROM variants WHERE store_id = ?1 AND mode = ?2 AND sku = ?3")?;
    let mut out = Vec::new();
    for sku in skus {
        if let Some(found) = stmt
            .query_row(params![s.store(), s.mode(), sku], |r| r.get::<_, String>(0))
            .optional()?
        {
            out.push(found);
        }
    }
    Ok(out)
}

pub fn create(s: &Scoped<'_>, p: &NewProduct<'_>) -> rusqlite::Result<String> {
    let conn = s.conn();
    let id = new_id("prod");
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO products (id, store_id, mode, title, description, category, status, tags, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        id,
        s.store(),
        s.mode(),
        p.title,
        p.description,
        p.category,
        p.status.as_str(),
        p.tags.join(","),
        now
    ])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO variants (id, store_id, mode, product_id, sku, title, price_cents, compare_at_cents, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut stock = conn.prepare_cached(
        "INSERT INTO inventory_levels (store_id, mode, variant_id, location_id, available, updated_at)
         SELECT ?1, ?2, ?3, id, 0, ?4 FROM locations WHERE store_id = ?1 AND mode = ?2",
    )?;
    for (i, v) in p.variants.iter().enumerate() {
        let vid = new_id("var");
        ins.execute(params![
            vid,
            s.store(),
            s.mode(),
            id,
            v.sku,
            v.title,
            v.price_cents,
            v.compare_at_cents,
            i as i64
        ])?;
        stock.execute(params![s.store(), s.mode(), vid, now])?;
    }
    Ok(id)
}

pub struct ProductPatch<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub category: Option<&'a str>,
    pub status: Option<ProductStatus>,
    pub tags: Option<&'a [String]>,
}

/// Returns false when the product does not exist (or was deleted).
pub fn update(s: &Scoped<'_>, id: &str, p: &ProductPatch<'_>) -> rusqlite::Result<bool> {
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE products SET title = coalesce(?4, title), description = coalesce(?5, description),
                category = coalesce(?6, category), status = coalesce(?7, status),
                tags = coalesce(?8, tags), updated_at = ?9
          WHERE store_id = ?1 AND mode = ?2 AND id = ?3 AND deleted_at IS NULL",
        )?
        .execute(params![
            s.store(),
            s.mode(),
            id,
            p.title,
            p.description,
            p.category,
            p.status.map(|x| x.as_str()),
            p.tags.map(|t| t.join(",")),
            now_ms()
        ])?;
    Ok(n == 1)
}

/// A variant's current prices and its product.
pub struct VariantPrice {
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
    pub product_id: String,
    /// The variant's product was soft-deleted.
    pub product_deleted: bool,
}

/// The current prices of a variant of this store; None when absent.
pub fn variant_price(s: &Scoped<'_>, variant_id: &str) -> rusqlite::Result<Option<VariantPrice>> {
    s.conn()
        .prepare_cached(
            "SELECT v.compare_at_cents, p.id, p.deleted_at IS NOT NULL, v.price_cents
               FROM variants v JOIN products p ON p.id = v.product_id
              WHERE v.store_id = ?1 AND v.mode = ?2 AND v.id = ?3",
        )?
        .query_row(params![s.store(), s.mode(), variant_id], |r| {
            Ok(VariantPrice {
                price_cents: r.get(3)?,
                compare_at_cents: r.get(0)?,
                product_id: r.get(1)?,
                product_deleted: r.get(2)?,
            })
        })
        .optional()
}

/// Sets a variant's price and compare-at price (None clears it); false when
/// the variant is not in this store.
pub fn set_price(
    s: &Scoped<'_>,
    variant_id: &str,
    price_cents: i64,
    compare_at_cents: Option<i64>,
) -> rusqlite::Result<bool> {
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE variants SET price_cents = ?4, compare_at_cents = ?5
          WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .execute(params![
            s.store(),
            s.mode(),
            variant_id,
            price_cents,
            compare_at_cents
        ])?;
    Ok(n == 1)
}

/// What a soft delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftDelete {
    Deleted,
    AlreadyDeleted,
    Absent,
}

/// Soft delete: the product disappears from listings and cannot be ordered,
/// but past orders keep pointing at it.
pub fn soft_delete(s: &Scoped<'_>, id: &str) -> rusqlite::Result<SoftDelete> {
    let now = now_ms();
    let n = s
        .conn()
        .prepare_cached(
            "UPDATE products SET deleted_at = ?4, status = 'archived', updated_at = ?4
          WHERE store_id = ?1 AND mode = ?2 AND id = ?3 AND deleted_at IS NULL",
        )?
        .execute(params![s.store(), s.mode(), id, now])?;
    Ok(match (n, is_deleted(s, id)?) {
        (1, _) => SoftDelete::Deleted,
        (_, Some(true)) => SoftDelete::AlreadyDeleted,
        _ => SoftDelete::Absent,
    })
}

/// Whether a product of this store was soft-deleted; None when there is no
/// such product at all.
pub fn is_deleted(s: &Scoped<'_>, id: &str) -> rusqlite::Result<Option<bool>> {
    s.conn()
        .prepare_cached(
            "SELECT deleted_at IS NOT NULL FROM products WHERE store_id = ?1 AND mode = ?2 AND id = ?3",
        )?
        .query_row(params![s.store(), s.mode(), id], |r| r.get(0))
        .optional()
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CategoryCount {
    pub category: String,
    pub products: i64,
}

pub fn categories(s: &Scoped<'_>) -> rusqlite::Result<Vec<CategoryCount>> {
    s.conn()
        .prepare_cached(
            "SELECT category, count(*) FROM products
              WHERE store_id = ?1 AND mode = ?2 AND deleted_at IS NULL GROUP BY category ORDER BY category",
        )?
        .query_map(params![s.store(), s.mode()], |r| {
            Ok(CategoryCount {
                category: r.get(0)?,
                products: r.get(1)?,
            })
        })?
        .collect()
}
