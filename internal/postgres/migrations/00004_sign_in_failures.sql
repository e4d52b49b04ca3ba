-- Failed sign-ins, so that the limit holds across every instance (see
-- roster.AdminStore.AddSignInFailure). key_hash is the SHA-256 of "email:…" or "ip:…": the
-- table keeps no email and no address. Rows older than the limiter's window are deleted as
-- new ones come.

-- +goose Up
CREATE TABLE sign_in_failures (
    key_hash text NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key_hash, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);

-- +goose Down
DROP TABLE sign_in_failures;
