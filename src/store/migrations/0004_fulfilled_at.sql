-- 0004: when an order shipped. Only an order that has not shipped can be
-- cancelled, and once an order is (partially) refunded its status no longer
-- says whether it had. Orders refunded under the old rules cannot be told
-- apart, so they count as shipped (they could not be cancelled before either).
ALTER TABLE orders ADD COLUMN fulfilled_at INTEGER;
UPDATE orders SET fulfilled_at = updated_at
 WHERE status IN ('fulfilled', 'refunded', 'partially_refunded');
