-- kms-server's shared store, schema version 2: the KMS-instance API's rows, as in the embedded
-- store (sealed bodies): the local instance's ID (one row, the first replica's) and the client
-- keys issued (public half and scope only).
CREATE TABLE instance (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body BYTEA NOT NULL
);
CREATE TABLE client_keys (
    id TEXT PRIMARY KEY,
    body BYTEA NOT NULL
);
