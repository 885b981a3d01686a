-- 0002: per-key request rate limit for HTTP mode (requests per minute;
-- NULL = the server's default).
ALTER TABLE api_keys ADD COLUMN rate_limit_per_min INTEGER CHECK (rate_limit_per_min > 0);
