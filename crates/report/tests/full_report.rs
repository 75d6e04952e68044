//! The whole report folder, byte for byte: every file the renderer writes (HTML pages with
//! their inline SVG, CSV, Markdown, `report.json`, copied sample images) for two databases —
//! the plain-SQL ablation fixture of `common`, and one written through the store's own writer
//! (`ddmd_store::Store`) the way the orchestrator writes it. This pins what a report looks like
//! so that changes to how the data is read (not how it is drawn) cannot alter a single byte.
//!
//! Only one thing is normalised: the absolute path of the test's temp folder, which the pages
//! show inside job and artifact paths, raw and HTML-escaped (`/` as `&#x2f;`); it becomes
//! `[TMP]`. Rendering time is fixed through `RenderOptions`. In the writer-made database the
//! invocation's start and end are the clock's at the time of writing (the writer takes no time
//! for them); the test sets both to fixed values after the writer has closed.
//!
//! `UPDATE_SNAPSHOTS=1` rewrites the snapshot folders under `tests/snapshots/full/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use ddmd_core::{Event, EventKind};
use ddmd_report::{find_invocation, load_invocation, parse_report_params, render_report};
use ddmd_report::{RenderOptions, ReportData};
use ddmd_store::{NewRun, RunFinish, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FIXED_TIME: f64 = 1_764_000_000.0;

/// Renders `data` with `params` into `<tmp>/out/<pipeline>` and returns the folder.
fn render(tmp: &Path, data: &ReportData, params: &Value) -> PathBuf {
    let params = params.as_object().expect("params object").clone();
    let spec = parse_report_params(&params).expect("params");
    let out = tmp.join("out").join(&data.invocation.pipeline);
    let opts = RenderOptions {
        generated_at: FIXED_TIME,
        own_run: None,
        home: None,
    };
    render_report(data, &spec, &out, &opts).expect("render");
    out
}

/// Every file under `dir`, by path relative to it (`/`-separated), text normalised.
fn files_of(dir: &Path, tmp: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    collect(dir, dir, tmp, &mut out);
    out
}

fn collect(root: &Path, dir: &Path, tmp: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(root, &p, tmp, out);
            continue;
        }
        let rel = p
            .strip_prefix(root)
            .expect("under root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(&p).expect("read file");
        out.insert(rel, normalise(bytes, tmp));
    }
}

/// The temp folder's path as `[TMP]`, in files that are text; other files stay as they are.
fn normalise(bytes: Vec<u8>, tmp: &Path) -> Vec<u8> {
    match String::from_utf8(bytes) {
        Ok(text) => {
            let raw = tmp.display().to_string();
            text.replace(&raw, "[TMP]")
                .replace(&raw.replace('/', "&#x2f;"), "[TMP]")
                .into_bytes()
        }
        Err(e) => e.into_bytes(),
    }
}

fn check_folder(name: &str, actual: &BTreeMap<String, Vec<u8>>) {
    let snap = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/full")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        if snap.exists() {
            std::fs::remove_dir_all(&snap).expect("remove old snapshot");
        }
        for (rel, bytes) in actual {
            let p = snap.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, bytes).expect("write snapshot");
        }
        return;
    }
    assert!(
        snap.is_dir(),
        "missing snapshot {}; run with UPDATE_SNAPSHOTS=1 and review it",
        snap.display()
    );
    // Snapshot files are stored as written: nothing to normalise on the expected side.
    let mut expected = BTreeMap::new();
    collect(&snap, &snap, Path::new("\0never"), &mut expected);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&expected),
        names(actual),
        "snapshot {name}: the report folder holds other files (UPDATE_SNAPSHOTS=1 to accept)"
    );
    for (rel, want) in &expected {
        let got = &actual[rel];
        if want == got {
            continue;
        }
        let at = want
            .iter()
            .zip(got.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        let context = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(60)..(at + 60).min(b.len())]).to_string()
        };
        panic!(
            "snapshot {name}/{rel} differs at byte {at} (sizes {} vs {}):\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_SNAPSHOTS=1 to accept)",
            want.len(),
            got.len(),
            context(want),
            context(got)
        );
    }
}

/// The report params stored on the fixture's report run, read back with plain SQL.
fn stored_params(db: &Path, run: i64) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let text: String = rt.block_on(async {
        use sqlx::{ConnectOptions, Connection};
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect()
            .await
            .expect("open");
        let (p,): (String,) = sqlx::query_as("SELECT params FROM runs WHERE id = ?")
            .bind(run)
            .fetch_one(&mut c)
            .await
            .expect("params");
        c.close().await.expect("close");
        p
    });
    serde_json::from_str(&text).expect("json")
}

#[test]
fn full_report_of_the_sql_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fx = common::ablation(dir.path());
    fx.db.close();
    let params = stored_params(&fx.db.path, fx.report_run);
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    let out = render(dir.path(), &data, &params);
    let files = files_of(&out, dir.path());
    assert!(files.len() > 15, "{:?}", files.keys());
    check_folder("sql_fixture", &files);
}

#[test]
fn full_report_of_a_writer_made_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("home/runs.sqlite");
    let params = write_with_store(dir.path(), &db);
    let invocation = find_invocation(&db, "gan-sweep", None).expect("latest invocation");
    let data = load_invocation(&db, invocation).expect("load");
    let out = render(dir.path(), &data, &params);
    let files = files_of(&out, dir.path());
    assert!(files.len() > 10, "{:?}", files.keys());
    check_folder("writer_made", &files);
}

fn metric(seq: u64, key: &str, step: i64, value: f64) -> Event {
    Event {
        seq,
        t: Some(1_700_000_000.0 + seq as f64),
        kind: EventKind::Metric {
            key: key.into(),
            step,
            value,
        },
    }
}

fn status(seq: u64, state: &str, key: Option<&str>, message: &str) -> Event {
    Event {
        seq,
        t: Some(1_700_000_000.0 + seq as f64),
        kind: EventKind::Status {
            state: state.into(),
            key: key.map(str::to_string),
            message: Some(message.into()),
        },
    }
}

fn artifact(seq: u64, name: &str, path: &str) -> Event {
    Event {
        seq,
        t: None,
        kind: EventKind::Artifact {
            name: name.into(),
            path: path.into(),
        },
    }
}

/// Writes a small GAN sweep through the store's writer, as the orchestrator would: a teacher
/// with a curve, sample grid and log; distill runs over two heads × two seeds (one diverged,
/// one with a non-finite metric); an evaluation per distill run (one failed, one cached from an
/// earlier invocation, unavailable and info notes, the `@data` measures); a report run.
/// Returns the report params.
fn write_with_store(tmp: &Path, db: &Path) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let params = json!({
        "title": "GAN heads",
        "tables": [
            {"title": "Quality", "rows": "heads", "columns": ["fid@4", "dpg@4", "hps@4"]},
            {"title": "Stability", "rows": "job", "columns": ["train/loss", "stability"]}
        ],
        "plots": [
            {"kind": "line", "metric": "train/loss", "x": "iteration", "series": "heads"},
            {"kind": "bar", "metric": "fid@4", "x": "heads"}
        ]
    });
    rt.block_on(async {
        let store = Store::open(db).await.expect("open store");
        let p = store
            .upsert_pipeline(
                "gan-sweep",
                "name: gan-sweep\nstages:\n  distill:\n    matrix:\n      heads: [seeded, plain]\n",
                "hash-gan",
                "pipelines/gan-sweep.yaml",
            )
            .await
            .expect("pipeline");
        let argv: Vec<String> = ["ddmd-pipe", "run", "pipelines/gan-sweep.yaml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let old = store
            .begin_invocation(p, &argv, "testhost", 7, Some("0123abc"), "local")
            .await
            .expect("old invocation");
        let inv = store
            .begin_invocation(p, &argv, "testhost", 8, Some("4567def"), "local")
            .await
            .expect("invocation");
        let new_run =
            |inv: ddmd_core::InvocationId, stage: &str, job: &str, point: Value, params: Value| {
                NewRun {
                    invocation_id: inv,
                    pipeline_id: p,
                    stage: stage.into(),
                    job_name: job.into(),
                    kind: stage.into(),
                    point,
                    params,
                    cache_key: format!("key-{job}"),
                    command: None,
                    key_inputs: None,
                    status: ddmd_core::RunStatus::Queued,
                    attempt: 1,
                    queued_at: 1_700_000_000.0,
                }
            };
        // Runs one job to its end: folders, events, status.
        let run_job = |r: NewRun, events: Vec<Event>, end: &'static str, error: Option<&str>| {
            let store = &store;
            let job_dir = tmp
                .join("home/jobs")
                .join(r.job_name.replace(['[', ']', ','], "_"));
            let art_dir = tmp.join("home/artifacts").join(&r.cache_key);
            let error = error.map(str::to_string);
            async move {
                std::fs::create_dir_all(&job_dir).expect("job dir");
                std::fs::create_dir_all(&art_dir).expect("artifact dir");
                let id = store.insert_run(&r).await.expect("insert run");
                store
                    .mark_running(
                        id,
                        &[0],
                        Some(4242),
                        &job_dir.display().to_string(),
                        1_700_000_010.0,
                    )
                    .await
                    .expect("running");
                store
                    .set_artifact_dir(id, &art_dir.display().to_string())
                    .await
                    .expect("artifact dir");
                store.ingest(id, &events).await.expect("ingest");
                store
                    .finish_run(
                        id,
                        &RunFinish {
                            status: ddmd_core::RunStatus::parse(end).expect("a run status"),
                            exit_code: Some(if end == "succeeded" { 0 } else { 1 }),
                            error,
                            ended_at: 1_700_000_250.25,
                            artifact_dir: None,
                        },
                    )
                    .await
                    .expect("finish");
                (id, job_dir, art_dir)
            }
        };

        let mut ev: Vec<Event> = (0..120)
            .map(|i| metric(i, "train/loss", i as i64 * 5, 2.0 / (1.0 + i as f64 * 0.1)))
            .collect();
        ev.push(artifact(200, "samples", "samples.png"));
        let teacher = new_run(
            inv,
            "teacher",
            "teacher",
            json!({}),
            json!({"iterations": 600}),
        );
        let teacher_art = tmp.join("home/artifacts/key-teacher");
        common::write_png(&teacher_art.join("samples.png"));
        std::fs::write(
            teacher_art.join("samples.txt"),
            "two green triangles\na yellow square above a red circle\n",
        )
        .expect("prompts");
        let (_, teacher_job, _) = run_job(teacher, ev, "succeeded", None).await;
        std::fs::write(
            teacher_job.join("log"),
            (0..60)
                .map(|i| format!("teacher step {i}\n"))
                .collect::<String>(),
        )
        .expect("log");

        for (hi, heads) in ["seeded", "plain"].iter().enumerate() {
            for seed in 0..2u64 {
                let point = json!({"heads": heads, "seed": seed});
                let job = format!("distill[heads={heads},seed={seed}]");
                let mut ev: Vec<Event> = (0..80)
                    .map(|i| {
                        let v = 1.0 / (1.0 + i as f64) + 0.1 * hi as f64 + 0.01 * seed as f64;
                        metric(i, "train/loss", i as i64 * 10, v)
                    })
                    .collect();
                // A later point at an earlier step: the final value is the largest step's.
                ev.push(metric(80, "train/loss", 5, 9.0));
                ev.push(metric(
                    81,
                    "stability",
                    800,
                    if hi == 1 { 310.0 } else { 800.0 },
                ));
                if hi == 1 && seed == 1 {
                    ev.push(metric(82, "train/grad_norm", 790, f64::INFINITY));
                    ev.push(metric(83, "train/grad_norm", 800, f64::NAN));
                    ev.push(status(
                        84,
                        "diverged",
                        None,
                        "discriminator loss is NaN at 800",
                    ));
                }
                let r = new_run(
                    inv,
                    "distill",
                    &job,
                    point.clone(),
                    json!({"heads": heads, "seed": seed}),
                );
                run_job(r, ev, "succeeded", None).await;

                let ejob = format!("evaluate[heads={heads},seed={seed}]");
                let eparams = json!({"sample_steps": [4], "samples": 500});
                let ev = vec![
                    metric(0, "fid@4", 0, 20.0 + 5.0 * hi as f64 + 0.3 * seed as f64),
                    metric(1, "dpg@4", 0, 80.0 - 3.0 * hi as f64 + 0.2 * seed as f64),
                    status(2, "info", Some("fid@4"), "extractor=judge N=500"),
                    status(
                        3,
                        "unavailable",
                        Some("hps@4"),
                        "no HPS v2.1 checkpoint configured",
                    ),
                    // The same metrics on renders of the data, which every evaluate emits:
                    // the tables' data row (the SQL fixture predates them and has none).
                    metric(4, "fid@data", 0, 2.0 + 0.1 * seed as f64),
                    metric(5, "dpg@data", 0, 93.0),
                ];
                let r = new_run(inv, "evaluate", &ejob, point.clone(), eparams.clone());
                if hi == 0 && seed == 1 {
                    // The result of an earlier invocation is reused.
                    let src = new_run(old, "evaluate", &ejob, point.clone(), eparams.clone());
                    let (src_id, _, _) = run_job(src, ev, "succeeded", None).await;
                    store.record_cached(&r, src_id).await.expect("cached");
                } else if hi == 1 && seed == 1 {
                    run_job(
                        r,
                        Vec::new(),
                        "failed",
                        Some("CUDA out of memory\nwhile sampling"),
                    )
                    .await;
                } else {
                    run_job(r, ev, "succeeded", None).await;
                }
            }
        }
        let report = new_run(inv, "report", "report", json!({}), params.clone());
        store.insert_run(&report).await.expect("report run");
        store
            .end_invocation(old, ddmd_core::InvocationStatus::Succeeded)
            .await
            .expect("end old");
        store
            .end_invocation(inv, ddmd_core::InvocationStatus::Succeeded)
            .await
            .expect("end");
        store.close().await.expect("close");

        // The writer stamps invocations with the clock; pin them so the page is reproducible.
        use sqlx::{ConnectOptions, Connection};
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .expect("open to pin times");
        sqlx::query(
            "UPDATE invocations SET started_at = 1700000000.0 + id, ended_at = 1700000300.0 + id",
        )
        .execute(&mut c)
        .await
        .expect("pin times");
        c.close().await.expect("close");
    });
    params
}
