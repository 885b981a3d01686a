-- 0003: the embedded OAuth 2.1 authorization server (SPEC §5).
-- Secrets (passwords, client secrets, codes, tokens) are stored only as hashes.

-- People who sign in on the authorization page.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Which stores a user may grant access to.
CREATE TABLE store_members (
    store_id   TEXT NOT NULL REFERENCES stores(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL DEFAULT 'owner',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (store_id, user_id)
);

-- Clients: registered dynamically (RFC 7591), known by a client ID metadata
-- document (client_id is its https URL), or created by an admin
-- (`whale clients create`: confidential, bound to a store for
-- client_credentials).
CREATE TABLE oauth_clients (
    id            TEXT PRIMARY KEY,       -- the client_id
    kind          TEXT NOT NULL CHECK (kind IN ('dynamic','metadata','admin')),
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL DEFAULT '[]',   -- JSON array
    grant_types   TEXT NOT NULL DEFAULT '["authorization_code","refresh_token"]',
    auth_method   TEXT NOT NULL CHECK (auth_method IN ('none','client_secret_basic','client_secret_post')),
    secret_hash   BLOB,
    store_id      TEXT REFERENCES stores(id),   -- admin clients only
    mode          TEXT CHECK (mode IN ('live','test')),
    scopes        TEXT,                         -- admin clients: the most they may get
    metadata      TEXT,                         -- the registration request / fetched document
    created_at    INTEGER NOT NULL,
    fetched_at    INTEGER,
    revoked_at    INTEGER
);

-- Authorization codes: single use, short-lived. `grant_id` names the token
-- family the code starts, so a replayed code can revoke what it issued.
CREATE TABLE oauth_codes (
    code_hash      BLOB PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id),
    store_id       TEXT NOT NULL REFERENCES stores(id),
    mode           TEXT NOT NULL CHECK (mode IN ('live','test')),
    scopes         TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

-- Access and refresh tokens. A refresh token is rotated on every use
-- (`used_at`); presenting a used one revokes its whole grant.
CREATE TABLE oauth_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('access','refresh')),
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    user_id     TEXT,
    store_id    TEXT NOT NULL REFERENCES stores(id),
    mode        TEXT NOT NULL CHECK (mode IN ('live','test')),
    scopes      TEXT NOT NULL,
    audience    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id);
