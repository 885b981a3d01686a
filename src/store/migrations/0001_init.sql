-- 0001: the whole first schema. Every row of store data carries (store_id, mode);
-- the store layer adds both to every query it runs.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE preferences (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE store_settings (
    store_id            TEXT NOT NULL REFERENCES stores(id),
    mode                TEXT NOT NULL CHECK (mode IN ('live','test')),
    name                TEXT NOT NULL,
    currency            TEXT NOT NULL,
    timezone            TEXT NOT NULL,
    support_email       TEXT,
    low_stock_threshold INTEGER NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
    order_number_next   INTEGER NOT NULL DEFAULT 1001,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (store_id, mode)
);

CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    mode        TEXT NOT NULL CHECK (mode IN ('live','test')),
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active','draft','archived')),
    tags        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX products_scope ON products(store_id, mode, status, category);

CREATE TABLE variants (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL,
    mode             TEXT NOT NULL,
    product_id       TEXT NOT NULL REFERENCES products(id),
    sku              TEXT NOT NULL,
    title            TEXT NOT NULL,
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    compare_at_cents INTEGER CHECK (compare_at_cents >= 0),
    position         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (store_id, mode, sku)
);
CREATE INDEX variants_product ON variants(product_id);

CREATE TABLE locations (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    mode       TEXT NOT NULL CHECK (mode IN ('live','test')),
    name       TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    UNIQUE (store_id, mode, name)
);

CREATE TABLE inventory_levels (
    store_id    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    variant_id  TEXT NOT NULL REFERENCES variants(id),
    location_id TEXT NOT NULL REFERENCES locations(id),
    available   INTEGER NOT NULL CHECK (available >= 0),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (variant_id, location_id)
);
CREATE INDEX inventory_scope ON inventory_levels(store_id, mode, available);

CREATE TABLE inventory_adjustments (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    variant_id  TEXT NOT NULL REFERENCES variants(id),
    location_id TEXT NOT NULL REFERENCES locations(id),
    delta       INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    reference   TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX inventory_adjustments_variant ON inventory_adjustments(variant_id, created_at);

CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    mode       TEXT NOT NULL CHECK (mode IN ('live','test')),
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    phone      TEXT,
    tags       TEXT NOT NULL DEFAULT '',
    accepts_marketing INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (store_id, mode, email)
);

CREATE TABLE coupons (
    id                 TEXT PRIMARY KEY,
    store_id           TEXT NOT NULL REFERENCES stores(id),
    mode               TEXT NOT NULL CHECK (mode IN ('live','test')),
    code               TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('percentage','fixed')),
    value              INTEGER NOT NULL CHECK (value > 0),
    usage_limit        INTEGER,
    per_customer_limit INTEGER,
    times_used         INTEGER NOT NULL DEFAULT 0,
    starts_at          INTEGER,
    ends_at            INTEGER,
    active             INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    UNIQUE (store_id, mode, code)
);

CREATE TABLE tax_rates (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    mode       TEXT NOT NULL CHECK (mode IN ('live','test')),
    country    TEXT NOT NULL,
    region     TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    rate_bps   INTEGER NOT NULL CHECK (rate_bps >= 0 AND rate_bps <= 10000),
    UNIQUE (store_id, mode, country, region)
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    store_id        TEXT NOT NULL REFERENCES stores(id),
    mode            TEXT NOT NULL CHECK (mode IN ('live','test')),
    number          INTEGER NOT NULL,
    customer_id     TEXT REFERENCES customers(id),
    status          TEXT NOT NULL CHECK (status IN ('pending','paid','fulfilled','cancelled','refunded','partially_refunded')),
    currency        TEXT NOT NULL,
    subtotal_cents  INTEGER NOT NULL CHECK (subtotal_cents >= 0),
    discount_cents  INTEGER NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
    tax_cents       INTEGER NOT NULL DEFAULT 0 CHECK (tax_cents >= 0),
    shipping_cents  INTEGER NOT NULL DEFAULT 0 CHECK (shipping_cents >= 0),
    total_cents     INTEGER NOT NULL CHECK (total_cents >= 0),
    paid_cents      INTEGER NOT NULL DEFAULT 0 CHECK (paid_cents >= 0),
    refunded_cents  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= paid_cents),
    coupon_code     TEXT,
    tax_country     TEXT,
    tax_region      TEXT,
    location_id     TEXT NOT NULL REFERENCES locations(id),
    note            TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (store_id, mode, number)
);
CREATE INDEX orders_scope ON orders(store_id, mode, created_at);
CREATE INDEX orders_customer ON orders(customer_id);

CREATE TABLE order_items (
    id               TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL REFERENCES orders(id),
    variant_id       TEXT NOT NULL REFERENCES variants(id),
    product_id       TEXT NOT NULL REFERENCES products(id),
    title            TEXT NOT NULL,
    sku              TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    total_cents      INTEGER NOT NULL CHECK (total_cents >= 0)
);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX order_items_variant ON order_items(variant_id);

CREATE TABLE refunds (
    id           TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders(id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    reason       TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE coupon_redemptions (
    coupon_id   TEXT NOT NULL REFERENCES coupons(id),
    order_id    TEXT NOT NULL REFERENCES orders(id),
    customer_id TEXT REFERENCES customers(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (coupon_id, order_id)
);

CREATE TABLE reviews (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    mode        TEXT NOT NULL CHECK (mode IN ('live','test')),
    product_id  TEXT NOT NULL REFERENCES products(id),
    customer_id TEXT REFERENCES customers(id),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX reviews_product ON reviews(product_id);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (store_id, name)
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    store_id     TEXT NOT NULL REFERENCES stores(id),
    mode         TEXT NOT NULL CHECK (mode IN ('live','test')),
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    hint         TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    replaced_by  TEXT
);

CREATE TABLE executions (
    id          TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    tool        TEXT NOT NULL,
    action      TEXT,
    agent_id    TEXT,
    agent_name  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('success','error','timeout','pending_approval','rejected')),
    error_code  TEXT,
    error       TEXT,
    duration_ms INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    input       TEXT NOT NULL,
    output      TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX executions_scope ON executions(store_id, mode, created_at);
CREATE INDEX executions_tool ON executions(store_id, mode, tool, created_at);
