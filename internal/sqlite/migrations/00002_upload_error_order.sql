-- +goose Up
-- Errors arrive in any order (streamed from the validator's spill file) and are read back
-- sorted by row, column order, code and value, a page at a time. SaveUploadResult first
-- writes them here, where this primary key keeps them sorted as they come (a B-tree on
-- disk, not a sort in memory), then copies them into upload_errors numbering seq in that
-- order, so that any page of upload_errors stays a primary-key range. The table is empty
-- outside SaveUploadResult's transaction.
CREATE TABLE upload_errors_in (
    upload_id TEXT NOT NULL,
    row       INTEGER NOT NULL,
    col_order INTEGER NOT NULL, -- roster.ColumnIndex(column)
    code      TEXT NOT NULL,
    value     TEXT NOT NULL,
    seq       INTEGER NOT NULL, -- arrival order: breaks ties so equal errors stay apart
    "column"  TEXT NOT NULL,
    message   TEXT NOT NULL,
    PRIMARY KEY (upload_id, row, col_order, code, value, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE upload_errors_in;
