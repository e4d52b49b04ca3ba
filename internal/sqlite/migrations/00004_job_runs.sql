-- +goose Up
-- When each periodic job (internal/jobs) last completed, so that an instance that starts
-- or takes a job over runs it when it is due (roster.JobRuns). at: Unix nanoseconds.
CREATE TABLE job_runs (
    name        TEXT PRIMARY KEY,
    last_run_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE job_runs;
