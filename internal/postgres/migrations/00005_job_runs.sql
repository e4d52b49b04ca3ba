-- When each periodic job (internal/jobs) last completed, so that an instance that starts
-- or takes a job over runs it when it is due (roster.JobRuns).

-- +goose Up
CREATE TABLE job_runs (
    name        text PRIMARY KEY,
    last_run_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE job_runs;
