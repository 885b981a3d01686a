-- 0006: a SKU is unique within a store and mode whatever its letter case:
-- `wdo-tnt-001-1p` and `WDO-TNT-001-1P` are one SKU. The column takes the
-- NOCASE collation (ASCII letters), so the unique constraint and every
-- `sku = ?` lookup (orders by SKU, stock by SKU) ignore case, and SKUs keep
-- the spelling they were created with. Changing a column's collation needs
-- the table rebuilt (foreign keys are off while migrations run and checked
-- before they commit). Should two SKUs of one store and mode already differ
-- only in case, the older keeps its SKU and the newer becomes `SKU-var_…`
-- (its variant id, unique, so no new clash); past orders keep the SKU they
-- were placed with. The duplicates are found in one sort (a window), not a
-- search per variant, so a large catalogue migrates in well under a second.
CREATE TABLE variants_new (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL,
    mode             TEXT NOT NULL,
    product_id       TEXT NOT NULL REFERENCES products(id),
    sku              TEXT NOT NULL COLLATE NOCASE,
    title            TEXT NOT NULL,
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    compare_at_cents INTEGER CHECK (compare_at_cents >= 0),
    position         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (store_id, mode, sku)
);
INSERT INTO variants_new (id, store_id, mode, product_id, sku, title, price_cents, compare_at_cents, position)
    SELECT id, store_id, mode, product_id,
           CASE WHEN n > 1 THEN sku || '-' || id ELSE sku END,
           title, price_cents, compare_at_cents, position
      FROM (SELECT v.*, row_number() OVER (PARTITION BY store_id, mode, sku COLLATE NOCASE
                                           ORDER BY rowid) AS n
              FROM variants v);
DROP TABLE variants;
ALTER TABLE variants_new RENAME TO variants;
CREATE INDEX variants_product ON variants(product_id);
