-- 0006: a SKU is unique within a store and mode whatever its letter case:
-- `wdo-tnt-001-1p` and `WDO-TNT-001-1P` are one SKU. The column takes the
-- NOCASE collation (ASCII letters), so the unique constraint and every
-- `sku = ?` lookup (orders by SKU, stock by SKU) ignore case, and SKUs keep
-- the spelling they were created with. Changing a column's collation needs
-- the table rebuilt (foreign keys are off while migrations run and checked
-- before they commit). Should two SKUs of one store and mode already differ
-- only in case, the older keeps its SKU and the newer becomes `SKU-var_…`
-- (its variant id), so the migration cannot fail; past orders keep the SKU
-- they were placed with.
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
    SELECT v.id, v.store_id, v.mode, v.product_id,
           CASE WHEN EXISTS (SELECT 1 FROM variants o
                              WHERE o.store_id = v.store_id AND o.mode = v.mode
                                AND o.sku = v.sku COLLATE NOCASE AND o.rowid < v.rowid)
                THEN v.sku || '-' || v.id ELSE v.sku END,
           v.title, v.price_cents, v.compare_at_cents, v.position
      FROM variants v;
DROP TABLE variants;
ALTER TABLE variants_new RENAME TO variants;
CREATE INDEX variants_product ON variants(product_id);
