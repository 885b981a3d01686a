-- 0005: an OAuth client's agent is its own. Until now a token's agent was
-- looked up by the client's name, so a client that registered itself as
-- `support-bot` took the agent of the `support-bot` API keys in the audit
-- trail. Agents of clients are now keyed by the client id (`client_id`);
-- agents of API keys stay keyed by name. The unique name therefore only
-- holds among key agents, which needs the table rebuilt (foreign keys are
-- off while migrations run and checked before they commit). Tokens issued
-- before keep their old agent until they are refreshed.
CREATE TABLE agents_new (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    name       TEXT NOT NULL,
    client_id  TEXT,                 -- the OAuth client this agent is; NULL for API keys' agents
    created_at INTEGER NOT NULL
);
INSERT INTO agents_new (id, store_id, name, created_at)
    SELECT id, store_id, name, created_at FROM agents;
DROP TABLE agents;
ALTER TABLE agents_new RENAME TO agents;
CREATE UNIQUE INDEX agents_key_name ON agents(store_id, name) WHERE client_id IS NULL;
CREATE UNIQUE INDEX agents_client ON agents(store_id, client_id) WHERE client_id IS NOT NULL;
