-- The last value of each (run, metric key), kept by the writer at ingest time.
--
-- Why a table and not only the 0001 view: that view ran a correlated sub-query for every metric
-- row, so reading the final metrics of 1,000 runs scanned every point ever logged. The writer
-- recomputes the row of each key a batch touched from `metrics` itself (one indexed seek per
-- key per batch), so this table never disagrees with the view's definition: the value at the
-- largest step, latest seq.

CREATE TABLE metrics_final (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    key     TEXT NOT NULL,
    step    INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    value   REAL,
    raw     TEXT,
    t       REAL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Databases created by 0001 alone: fill the table from the points already recorded.
INSERT INTO metrics_final (run_id, key, step, seq, value, raw, t)
SELECT run_id, key, step, seq, value, raw, t FROM (
    SELECT m.run_id, m.key, m.step, m.seq, m.value, m.raw, m.t,
           row_number() OVER (PARTITION BY m.run_id, m.key ORDER BY m.step DESC, m.seq DESC) AS rn
    FROM metrics m
) WHERE rn = 1;

DROP VIEW run_summary;
DROP VIEW final_metrics;

-- Same columns as before; now a primary-key read.
CREATE VIEW final_metrics AS
SELECT run_id, key, step, value, raw FROM metrics_final;

-- One row per run with its parameters and final metrics as JSON objects. A 'cached' run shows
-- the metrics of the run whose result it reuses.
CREATE VIEW run_summary AS
SELECT r.id AS run_id, p.name AS pipeline, r.invocation_id, r.stage, r.job_name, r.kind,
       r.status, r.attempt, r.devices, r.cache_key, r.started_at, r.ended_at,
       r.ended_at - r.started_at AS duration_s, r.error,
       r.point, r.params,
       (SELECT json_group_object(f.key, COALESCE(f.value, f.raw)) FROM metrics_final f
         WHERE f.run_id = COALESCE(r.source_run_id, r.id)) AS metrics
FROM runs r JOIN pipelines p ON p.id = r.pipeline_id;
