-- The run database (DESIGN §8). One writer: the orchestrator. Times are Unix seconds (REAL).

CREATE TABLE pipelines (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    spec_hash   TEXT NOT NULL,
    spec_text   TEXT NOT NULL,
    spec_path   TEXT,
    created_at  REAL NOT NULL,
    UNIQUE (name, spec_hash)
);

CREATE TABLE invocations (
    id           INTEGER PRIMARY KEY,
    pipeline_id  INTEGER NOT NULL REFERENCES pipelines(id),
    argv         TEXT NOT NULL,          -- JSON array
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    git_rev      TEXT,
    executor     TEXT NOT NULL DEFAULT 'local',
    started_at   REAL NOT NULL,
    ended_at     REAL,
    status       TEXT NOT NULL DEFAULT 'running'  -- running | succeeded | failed | interrupted | crashed
);

-- One row per execution attempt of a job (and one 'cached' row when a run reuses a result).
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    invocation_id  INTEGER NOT NULL REFERENCES invocations(id),
    pipeline_id    INTEGER NOT NULL REFERENCES pipelines(id),
    stage          TEXT NOT NULL,
    job_name       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    point          TEXT NOT NULL DEFAULT '{}',   -- JSON: matrix axis -> value
    params         TEXT NOT NULL DEFAULT '{}',   -- JSON: resolved parameters
    cache_key      TEXT NOT NULL,
    status         TEXT NOT NULL,   -- queued | running | succeeded | failed | cancelled | skipped | cached
    attempt        INTEGER NOT NULL DEFAULT 1,
    devices        TEXT,            -- e.g. "0,2"; NULL on CPU
    pgid           INTEGER,         -- process group of the running job
    exit_code      INTEGER,
    error          TEXT,
    source_run_id  INTEGER REFERENCES runs(id),  -- for 'cached': the run whose result is reused
    queued_at      REAL NOT NULL,
    started_at     REAL,
    ended_at       REAL,
    job_dir        TEXT,
    artifact_dir   TEXT,
    executor_id    TEXT,            -- e.g. Slurm job id
    node           TEXT
);
CREATE INDEX runs_cache_key ON runs(cache_key, status);
CREATE INDEX runs_stage_status ON runs(stage, status);
CREATE INDEX runs_invocation ON runs(invocation_id);
CREATE INDEX runs_pipeline ON runs(pipeline_id);
-- unfinished_runs() and `runs list --status` filter on status alone.
CREATE INDEX runs_status ON runs(status);

-- Parameters flattened for SQL: nested keys joined with '.', values as JSON text.
CREATE TABLE params (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- (run_id, seq) is the idempotency key of event ingestion.
-- value is NULL for non-finite values; raw keeps 'NaN' / 'Infinity' / '-Infinity' then.
CREATE TABLE metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    seq     INTEGER NOT NULL,
    key     TEXT NOT NULL,
    step    INTEGER NOT NULL,
    value   REAL,
    raw     TEXT,
    t       REAL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step);

-- Non-metric events: log, progress, status.
CREATE TABLE events (
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    seq      INTEGER NOT NULL,
    type     TEXT NOT NULL,
    payload  TEXT NOT NULL,   -- the event as JSON
    t        REAL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    seq     INTEGER NOT NULL,
    name    TEXT NOT NULL,
    path    TEXT NOT NULL,
    bytes   INTEGER,
    sha256  TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Metrics a job could not compute, with the reason (e.g. HPS without a checkpoint).
CREATE TABLE unavailable (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Last value of every metric of every run (the value at the largest step, latest seq).
CREATE VIEW final_metrics AS
SELECT m.run_id, m.key, m.step, m.value, m.raw
FROM metrics m
WHERE m.seq = (
    SELECT m2.seq FROM metrics m2
    WHERE m2.run_id = m.run_id AND m2.key = m.key
    ORDER BY m2.step DESC, m2.seq DESC LIMIT 1
);

-- One row per run with its parameters and final metrics as JSON objects.
CREATE VIEW run_summary AS
SELECT r.id AS run_id, p.name AS pipeline, r.invocation_id, r.stage, r.job_name, r.kind,
       r.status, r.attempt, r.devices, r.cache_key, r.started_at, r.ended_at,
       r.ended_at - r.started_at AS duration_s, r.error,
       r.point, r.params,
       (SELECT json_group_object(f.key, COALESCE(f.value, f.raw)) FROM final_metrics f
         WHERE f.run_id = COALESCE(r.source_run_id, r.id)) AS metrics
FROM runs r JOIN pipelines p ON p.id = r.pipeline_id;
