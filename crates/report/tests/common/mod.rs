//! Test fixtures: a real SQLite run database made by applying the project's migrations to a
//! temp file, filled with plain SQL (the store's writer is not used, on purpose: the report
//! must read what the schema says, whoever wrote it).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};

pub struct Db {
    pub rt: tokio::runtime::Runtime,
    pub conn: Option<SqliteConnection>,
    pub path: PathBuf,
    pub dir: PathBuf,
}

impl Db {
    pub fn create(dir: &Path) -> Db {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let path = dir.join("runs.sqlite");
        let conn = rt.block_on(async {
            let mut c = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await
                .expect("open test db");
            sqlx::migrate!("../../migrations")
                .run(&mut c)
                .await
                .expect("migrations");
            c
        });
        Db {
            rt,
            conn: Some(conn),
            path,
            dir: dir.to_path_buf(),
        }
    }

    /// Runs one statement with text/number binds given as JSON values; returns last rowid.
    pub fn exec(&mut self, sql: &str, binds: &[serde_json::Value]) -> i64 {
        let conn = self.conn.as_mut().expect("open");
        self.rt.block_on(async {
            let mut q = sqlx::query(sql);
            for b in binds {
                q = match b {
                    serde_json::Value::Null => q.bind(None::<String>),
                    serde_json::Value::Number(n) if n.is_i64() => q.bind(n.as_i64()),
                    serde_json::Value::Number(n) => q.bind(n.as_f64()),
                    serde_json::Value::String(s) => q.bind(s.clone()),
                    other => q.bind(other.to_string()),
                };
            }
            q.execute(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .last_insert_rowid()
        })
    }

    pub fn query_f64(&mut self, sql: &str, binds: &[serde_json::Value]) -> Vec<f64> {
        let conn = self.conn.as_mut().expect("open");
        self.rt.block_on(async {
            let mut q = sqlx::query_scalar::<_, f64>(sql);
            for b in binds {
                q = match b {
                    serde_json::Value::Number(n) if n.is_i64() => q.bind(n.as_i64()),
                    serde_json::Value::String(s) => q.bind(s.clone()),
                    other => q.bind(other.to_string()),
                };
            }
            q.fetch_all(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    pub fn pipeline(&mut self, name: &str, spec: &str) -> i64 {
        self.exec(
            "INSERT INTO pipelines (name, spec_hash, spec_text, created_at) VALUES (?, ?, ?, 1732550000.0)",
            &[name.into(), format!("hash-{name}").into(), spec.into()],
        )
    }

    pub fn invocation(&mut self, pipeline: i64) -> i64 {
        self.exec(
            "INSERT INTO invocations (pipeline_id, argv, host, pid, git_rev, started_at, ended_at, status) \
             VALUES (?, '[\"ddmd-pipe\",\"run\",\"pipelines/ablations.yaml\"]', 'testhost', 4242, 'abc1234', 1732550000.0, 1732553600.0, 'succeeded')",
            &[pipeline.into()],
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one row of a fixture, column by column"
    )]
    pub fn run(
        &mut self,
        inv: i64,
        pipeline: i64,
        stage: &str,
        kind: &str,
        job: &str,
        point: serde_json::Value,
        params: serde_json::Value,
        status: &str,
    ) -> i64 {
        let job_dir = self
            .dir
            .join("jobs")
            .join(job.replace(['/', '<', '>'], "_"));
        let art_dir = self
            .dir
            .join("artifacts")
            .join(format!("{:x}", job.len() * 7919 + stage.len()));
        self.exec(
            "INSERT INTO runs (invocation_id, pipeline_id, stage, job_name, kind, point, params, cache_key, status, queued_at, started_at, ended_at, job_dir, artifact_dir) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1732550000.0, 1732550010.0, 1732550130.5, ?, ?)",
            &[
                inv.into(),
                pipeline.into(),
                stage.into(),
                job.into(),
                kind.into(),
                point.to_string().into(),
                params.to_string().into(),
                format!("key-{job}").into(),
                status.into(),
                job_dir.display().to_string().into(),
                art_dir.display().to_string().into(),
            ],
        )
    }

    pub fn metric(&mut self, run: i64, seq: i64, key: &str, step: i64, value: f64) {
        if value.is_finite() {
            self.exec(
                "INSERT INTO metrics (run_id, seq, key, step, value, t) VALUES (?, ?, ?, ?, ?, 0)",
                &[
                    run.into(),
                    seq.into(),
                    key.into(),
                    step.into(),
                    value.into(),
                ],
            );
        } else {
            let raw = if value.is_nan() {
                "NaN"
            } else if value > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            self.exec("INSERT INTO metrics (run_id, seq, key, step, value, raw, t) VALUES (?, ?, ?, ?, NULL, ?, 0)", &[run.into(), seq.into(), key.into(), step.into(), raw.into()]);
        }
    }

    /// Inserts a whole curve in one statement (recursive CTE), for the large benchmark.
    pub fn curve(&mut self, run: i64, first_seq: i64, key: &str, n: i64) {
        self.exec(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?) \
             INSERT INTO metrics (run_id, seq, key, step, value, t) SELECT ?, ? + i, ?, i * 10, 1.0 / (1 + i) + 0.01 * (i % 7), 0 FROM s",
            &[n.into(), run.into(), first_seq.into(), key.into()],
        );
    }

    pub fn status(&mut self, run: i64, seq: i64, payload: serde_json::Value) {
        self.exec(
            "INSERT INTO events (run_id, seq, type, payload, t) VALUES (?, ?, 'status', ?, 0)",
            &[run.into(), seq.into(), payload.to_string().into()],
        );
    }

    pub fn unavailable(&mut self, run: i64, key: &str, reason: &str) {
        self.exec(
            "INSERT INTO unavailable (run_id, key, reason) VALUES (?, ?, ?)",
            &[run.into(), key.into(), reason.into()],
        );
    }

    pub fn artifact(&mut self, run: i64, seq: i64, name: &str, path: &str) {
        self.exec(
            "INSERT INTO artifacts (run_id, seq, name, path) VALUES (?, ?, ?, ?)",
            &[run.into(), seq.into(), name.into(), path.into()],
        );
    }

    pub fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            self.rt.block_on(async { c.close().await.expect("close") });
        }
    }
}

/// Writes a small RGB PNG (a 2×2 grid of coloured 8×8 tiles).
pub fn write_png(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let f = std::fs::File::create(path).expect("create png");
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), 16, 16);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().expect("png header");
    let mut data = Vec::with_capacity(16 * 16 * 3);
    for y in 0..16 {
        for x in 0..16 {
            let tile = (y / 8) * 2 + x / 8;
            let c = [[220, 40, 40], [40, 180, 60], [40, 80, 220], [230, 200, 30]][tile];
            data.extend_from_slice(&c);
        }
    }
    w.write_image_data(&data).expect("png data");
}

pub const SPEC_TEXT: &str = "name: ablations\nstages:\n  distill:\n    kind: distill\n    matrix:\n      terms: [\"CA + DM\", \"CA only\", \"DM only\"]\n";

/// What the ablation fixture holds, for assertions.
pub struct Ablation {
    pub db: Db,
    pub pipeline: i64,
    pub invocation: i64,
    pub report_run: i64,
}

pub const TERMS: [&str; 3] = ["CA + DM", "CA only", "DM only"];

/// A small ablation: teacher; distill × terms × seed {0,1}; one evaluate per distill; a
/// report run. "CA only" diverges; "DM only" seed 1's evaluation fails; HPS is unavailable;
/// "CA + DM" seed 1's evaluation is a cached row reusing a run of an earlier invocation.
pub fn ablation(dir: &Path) -> Ablation {
    let mut db = Db::create(dir);
    let p = db.pipeline("ablations", SPEC_TEXT);
    let old = db.invocation(p);
    let inv = db.invocation(p);

    let teacher = db.run(
        inv,
        p,
        "teacher",
        "teacher",
        "teacher",
        serde_json::json!({}),
        serde_json::json!({"iterations": 300, "lr": 2e-4}),
        "succeeded",
    );
    for i in 0..300 {
        db.metric(
            teacher,
            i,
            "train/loss",
            i * 10,
            1.0 / (1.0 + i as f64 * 0.05),
        );
    }
    let art = dir.join("artifacts").join("teacher");
    write_png(&art.join("samples.png"));
    std::fs::write(art.join("samples.txt"), "a large red circle at top left\na small blue square at bottom right on a black background\n").expect("prompts");
    db.artifact(
        teacher,
        300,
        "samples",
        &art.join("samples.png").display().to_string(),
    );
    db.artifact(
        teacher,
        301,
        "samples_prompts",
        &art.join("samples.txt").display().to_string(),
    );
    let job_dir = dir.join("jobs").join("teacher");
    std::fs::create_dir_all(&job_dir).expect("job dir");
    std::fs::write(
        job_dir.join("log"),
        (0..100)
            .map(|i| format!("log line {i}\n"))
            .collect::<String>(),
    )
    .expect("log");

    // fid@1, fid@4, dpg@4 per (terms index, seed)
    let fid1 = [[17.8, 18.0], [18.2, 18.6], [35.1, 34.9]];
    let fid4 = [[17.8, 17.6], [18.2, 18.0], [28.9, 29.3]];
    let dpg4 = [[85.8, 85.9], [84.0, 84.4], [70.0, 71.0]];
    let stability = [[2000.0, 2000.0], [610.0, 640.0], [2000.0, 2000.0]];
    for (ti, terms) in TERMS.iter().enumerate() {
        for seed in 0..2 {
            let point = serde_json::json!({"terms": terms, "schedule": "hybrid", "seed": seed});
            let job = format!("distill[terms={terms},schedule=hybrid,seed={seed}]");
            let d = db.run(
                inv,
                p,
                "distill",
                "distill",
                &job,
                point.clone(),
                serde_json::json!({"alpha": 4.0, "seed": seed, "terms": {"name": terms}}),
                "succeeded",
            );
            for i in 0..200 {
                let v = if ti == 1 {
                    0.05 + (i as f64) * 0.004
                } else {
                    0.05 + 0.01 * ((i % 11) as f64) / 11.0
                };
                db.metric(d, i, "train/pixel_var", i * 10, v);
            }
            db.metric(d, 500, "stability", 2000, stability[ti][seed]);
            if ti == 1 {
                db.status(d, 501, serde_json::json!({"seq": 501, "type": "status", "state": "diverged", "message": format!("pixel variance above bound at iteration {}", stability[ti][seed])}));
            }
            let ejob = format!("evaluate[terms={terms},schedule=hybrid,seed={seed}]");
            let status = if ti == 2 && seed == 1 {
                "failed"
            } else if ti == 0 && seed == 1 {
                "cached"
            } else {
                "succeeded"
            };
            let e = db.run(
                inv,
                p,
                "evaluate",
                "evaluate",
                &ejob,
                point.clone(),
                serde_json::json!({"sample_steps": [1, 4], "samples": 2000}),
                status,
            );
            let data_run = if status == "cached" {
                // The result lives in a run of the earlier invocation.
                let src = db.run(
                    old,
                    p,
                    "evaluate",
                    "evaluate",
                    &ejob,
                    point.clone(),
                    serde_json::json!({"sample_steps": [1, 4], "samples": 2000}),
                    "succeeded",
                );
                db.exec(
                    "UPDATE runs SET source_run_id = ? WHERE id = ?",
                    &[src.into(), e.into()],
                );
                src
            } else {
                e
            };
            if status == "failed" {
                db.exec(
                    "UPDATE runs SET error = 'CUDA out of memory', exit_code = 1 WHERE id = ?",
                    &[e.into()],
                );
                continue;
            }
            db.metric(data_run, 0, "fid@1", 0, fid1[ti][seed]);
            db.metric(data_run, 1, "fid@4", 0, fid4[ti][seed]);
            db.metric(data_run, 2, "dpg@4", 0, dpg4[ti][seed]);
            db.metric(data_run, 3, "stability", 0, stability[ti][seed]);
            db.status(data_run, 4, serde_json::json!({"seq": 4, "type": "status", "state": "info", "key": "fid@4", "message": "extractor=judge N=2000"}));
            db.status(data_run, 5, serde_json::json!({"seq": 5, "type": "status", "state": "info", "key": "fid@1", "message": "extractor=judge N=2000"}));
            db.unavailable(data_run, "hps@4", "no HPS v2.1 checkpoint configured");
        }
    }
    let report_params = serde_json::json!({
        "seed": 0,
        "tables": [
            {"preset": "loss_terms", "filter": {"schedule": "hybrid"}},
            {"title": "Prompt following", "rows": "terms", "columns": ["dpg@4", "hps@4"]}
        ],
        "plots": [
            {"kind": "line", "metric": "train/pixel_var", "x": "iteration", "series": "terms", "smooth": 0.5},
            {"kind": "bar", "metric": "fid@4", "x": "terms"},
            {"kind": "scatter", "x": "fid@4", "y": "dpg@4", "series": "terms"}
        ]
    });
    let report_run = db.run(
        inv,
        p,
        "report",
        "report",
        "report",
        serde_json::json!({}),
        report_params,
        "running",
    );
    Ablation {
        db,
        pipeline: p,
        invocation: inv,
        report_run,
    }
}
