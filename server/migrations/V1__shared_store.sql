-- kms-server's shared store, schema version 1 (applied by refinery at start).
-- Every body is sealed under the wrapping key (the container of kms-server's embedded store:
-- same magics, same row-name binding); the database never holds key material in the clear.

-- The cluster's state: its store ID and seal limit (sealed), and the generation, moved on by
-- every change to keys, versions and aliases (in the clear: replicas compare it).
CREATE TABLE state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body BYTEA NOT NULL,
    generation BIGINT NOT NULL
);

-- Keys in creation order (seq); gen: the generation that last wrote the row.
CREATE TABLE keys (
    seq BIGSERIAL NOT NULL,
    key_id TEXT PRIMARY KEY,
    body BYTEA NOT NULL,
    gen BIGINT NOT NULL
);
CREATE INDEX keys_gen ON keys (gen);

-- Key versions; seals: the seals reserved from the version's budget by all replicas together.
CREATE TABLE versions (
    seq BIGSERIAL NOT NULL,
    version_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    body BYTEA NOT NULL,
    seals BIGINT NOT NULL DEFAULT 0,
    gen BIGINT NOT NULL
);
CREATE INDEX versions_gen ON versions (gen);
CREATE INDEX versions_key ON versions (key_id);

CREATE TABLE aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    body BYTEA NOT NULL,
    gen BIGINT NOT NULL
);
CREATE INDEX aliases_gen ON aliases (gen);
CREATE INDEX aliases_key ON aliases (key_id);

-- What went, and at which generation: kind 0 a key (with its versions and aliases), 2 an alias.
CREATE TABLE tombstones (
    gen BIGINT NOT NULL,
    kind SMALLINT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX tombstones_gen ON tombstones (gen);

CREATE TABLE access_keys (id TEXT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE replay_floors (access_key_id TEXT PRIMARY KEY, body BYTEA NOT NULL);

-- Signature nonces of requests that change keys, across replicas, until they expire.
CREATE TABLE nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX nonces_expires ON nonces (expires);

-- Live replicas (heartbeats), for the per-account rate limit's share.
CREATE TABLE replicas (
    id TEXT PRIMARY KEY,
    seen TIMESTAMPTZ NOT NULL
);
