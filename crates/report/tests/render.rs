//! Rendering a whole report folder from a real database: snapshot of the HTML (volatile values
//! redacted), hostile strings escaped, files beside the HTML, the CLI and the stage worker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use ddmd_core::{CacheKey, EventSink, JobFile, JobId, RunId, StageKind, StageName};
use ddmd_report::{
    load_invocation, parse_report_params, render_report, report_command, run_report_stage,
    RenderOptions, ReportArgs,
};
use serde_json::json;
use std::path::{Path, PathBuf};

const FIXED_TIME: f64 = 1_764_000_000.0;

fn opts() -> RenderOptions {
    RenderOptions {
        generated_at: FIXED_TIME,
        own_run: None,
        home: None,
    }
}

/// Replaces what differs between machines and runs: the temp folder, and inline SVG bodies
/// (checked by their own assertions; a plotters upgrade should not rewrite every snapshot).
fn redact(html: &str, tmp: &Path) -> String {
    let raw = tmp.display().to_string();
    // Paths appear raw, and HTML-escaped ('/' as &#x2f;) inside text and attributes.
    let mut out = html
        .replace(&raw, "[TMP]")
        .replace(&raw.replace('/', "&#x2f;"), "[TMP]");
    let mut result = String::with_capacity(out.len());
    while let Some(start) = out.find("<svg") {
        result.push_str(&out[..start]);
        let end = out[start..]
            .find("</svg>")
            .map(|e| start + e + 6)
            .unwrap_or(out.len());
        let body = &out[start..end];
        result.push_str(&format!(
            "<svg>[redacted: {} polylines, {} texts]</svg>",
            body.matches("<polyline").count(),
            body.matches("<text").count()
        ));
        out = out[end..].to_string();
    }
    result.push_str(&out);
    result
}

fn check_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        panic!(
            "snapshot {name} differs at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_SNAPSHOTS=1 to accept)",
            line + 1,
            e.get(line),
            a.get(line)
        );
    }
}

fn render_fixture(dir: &Path) -> (common::Ablation, PathBuf) {
    let fx = common::ablation(dir);
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    let params = ddmd_report_params(&fx);
    let spec = parse_report_params(&params).expect("params");
    let out = dir.join("out").join("ablations");
    render_report(&data, &spec, &out, &opts()).expect("render");
    (fx, out)
}

fn ddmd_report_params(fx: &common::Ablation) -> serde_json::Map<String, serde_json::Value> {
    let mut db = common::Db {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt"),
        conn: None,
        path: fx.db.path.clone(),
        dir: fx.db.dir.clone(),
    };
    let _ = &mut db;
    // The fixture stored the report params on the report run; read them back as the CLI does.
    let text = std::process::Command::new("true").status().map(|_| ()).ok();
    let _ = text;
    let rt = &db.rt;
    let params: String = rt.block_on(async {
        use sqlx::{ConnectOptions, Connection};
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&fx.db.path)
            .read_only(true)
            .connect()
            .await
            .expect("open");
        let p: (String,) = sqlx::query_as("SELECT params FROM runs WHERE id = ?")
            .bind(fx.report_run)
            .fetch_one(&mut c)
            .await
            .expect("params");
        c.close().await.expect("close");
        p.0
    });
    serde_json::from_str(&params).expect("json")
}

#[test]
fn snapshot_of_report_and_run_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_fx, out) = render_fixture(dir.path());
    let index = std::fs::read_to_string(out.join("index.html")).expect("index");
    check_snapshot("report_index.html", &redact(&index, dir.path()));
    // Run 3 is the teacher: curves, artifacts, the log tail.
    let run =
        std::fs::read_to_string(out.join("runs/1.html")).expect("run page (run 1 is the teacher)");
    check_snapshot("run_teacher.html", &redact(&run, dir.path()));

    // The inline charts: one per declared plot, each with data and escaped labels.
    assert_eq!(index.matches("<svg").count(), 3, "three plots");
    assert!(
        index.contains("terms=CA only"),
        "series label in the legend"
    );
    assert!(run.contains("<polyline"), "run page draws its curve");
    assert!(
        run.contains("log line 99") && !run.contains("log line 59\n"),
        "last 40 log lines"
    );
}

#[test]
fn report_folder_contents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fx, out) = render_fixture(dir.path());
    for f in [
        "index.html",
        "report.json",
        "tables/01-loss-terms-ca-cfg-augmentation-dm-distribution.csv",
        "tables/02-prompt-following.md",
    ] {
        assert!(
            out.join(f).is_file(),
            "{f} missing; have {:?}",
            std::fs::read_dir(out.join("tables"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
    }
    // One page per run of the invocation (report run excluded).
    let pages = std::fs::read_dir(out.join("runs")).expect("runs").count();
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    assert_eq!(pages, data.runs.len());
    assert_eq!(pages, 1 + 6 + 6);
    // The sample grid was copied beside the HTML, with its prompts.
    let teacher = data
        .runs
        .iter()
        .find(|r| r.stage == "teacher")
        .expect("teacher");
    assert!(out
        .join(format!("samples/run-{}.png", teacher.id))
        .is_file());
    let index = std::fs::read_to_string(out.join("index.html")).expect("index");
    assert!(index.contains("a small blue square at bottom right on a black background"));
    // No network: nothing fetched from elsewhere.
    // One inline script of ours (the table sort), nothing loaded.
    for bad in [
        "http://",
        "https://",
        "//cdn",
        "@import",
        "<script src",
        "<link",
    ] {
        let hits: Vec<&str> = index
            .match_indices(bad)
            .map(|(i, _)| &index[i.saturating_sub(40)..(i + 60).min(index.len())])
            .filter(|ctx| !ctx.contains("xmlns=\"http://www.w3.org/2000/svg\""))
            .collect();
        assert!(hits.is_empty(), "{bad} in report: {hits:?}");
    }
}

#[test]
fn hostile_strings_render_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = common::Db::create(dir.path());
    let p = db.pipeline("<i>pipe</i>", "name: \"<script>alert('spec')</script>\"");
    let inv = db.invocation(p);
    let evil = "<script>alert(\"x\")</script> {{ 7*7 }} 'q' & \"dq\"";
    let r = db.run(
        inv,
        p,
        "distill",
        "distill",
        &format!("distill[terms={evil}]"),
        json!({"terms": evil, "seed": 0}),
        json!({"note": "\"><img src=x onerror=alert(1)>", "tmpl": "{% if true %}x{% endif %}"}),
        "failed",
    );
    db.exec(
        "UPDATE runs SET error = '<script>alert(\"err\")</script>' WHERE id = ?",
        &[r.into()],
    );
    db.metric(r, 0, "fid@4", 0, 12.5);
    db.metric(r, 1, "train/loss", 0, 1.0);
    db.metric(r, 2, "train/loss", 1, 0.5);
    db.unavailable(r, "hps@4", "<b>no checkpoint</b> {{ reason }}");
    db.status(r, 3, json!({"seq": 3, "type": "status", "state": "diverged", "message": "<script>diverged</script>"}));
    let art = dir.path().join("art");
    common::write_png(&art.join("s.png"));
    std::fs::write(art.join("s.txt"), "<b>bold prompt</b> {{ 1+1 }}\n").expect("prompts");
    db.artifact(r, 4, "samples", &art.join("s.png").display().to_string());
    db.artifact(
        r,
        5,
        "samples_prompts",
        &art.join("s.txt").display().to_string(),
    );
    let data = load_invocation(&db.path, inv).expect("load");
    let spec = parse_report_params(
        json!({
            "title": "<script>alert('title')</script>",
            "tables": [{"title": "<script>t</script>", "rows": "terms", "columns": ["fid@4", "hps@4"], "note": "{{ note }} <u>u</u>"}],
            "plots": [{"kind": "line", "metric": "train/loss", "series": "terms", "title": "<script>p</script>"}]
        })
        .as_object()
        .expect("obj"),
    )
    .expect("spec");
    let out = dir.path().join("out");
    render_report(&data, &spec, &out, &opts()).expect("render");
    let index = std::fs::read_to_string(out.join("index.html")).expect("index");
    let page = std::fs::read_to_string(out.join(format!("runs/{r}.html"))).expect("page");
    for (name, html) in [("index", &index), ("run page", &page)] {
        // The only script is the report's own inline table sort (index only).
        let ours = html.matches("<script data-own=\"sort\">").count();
        assert_eq!(
            html.matches("<script").count(),
            ours,
            "{name}: a <script> tag that is not ours"
        );
        assert!(
            ours <= 1 && (ours == 0) == (name == "run page"),
            "{name}: {ours} sort scripts"
        );
        assert!(!html.contains("<img src=x"), "{name}: injected img");
        assert!(!html.contains("<b>"), "{name}: raw <b>");
        assert!(!html.contains("<i>pipe"), "{name}: raw <i>");
        assert!(!html.contains("\"><img"), "{name}: attribute break-out");
    }
    assert!(index.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt; {{ 7*7 }} &#x27;q&#x27; &amp; &quot;dq&quot;"), "row label escaped verbatim");
    assert!(
        !index.contains(">49<"),
        "template syntax in data must not be evaluated"
    );
    assert!(
        index.contains("&lt;b&gt;bold prompt&lt;&#x2f;b&gt; {{ 1+1 }}"),
        "prompt escaped"
    );
    assert!(
        index.contains("{{ note }} &lt;u&gt;u&lt;&#x2f;u&gt;"),
        "note escaped"
    );
    assert!(
        index.contains("&lt;b&gt;no checkpoint&lt;&#x2f;b&gt; {{ reason }}"),
        "unavailable reason escaped"
    );
    assert!(
        page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "param escaped"
    );
    assert!(
        page.contains("{% if true %}x{% endif %}"),
        "template syntax in params shown as text"
    );
    // SVG legend text goes through plotters' own escaping.
    assert!(
        index.contains("terms=&lt;script&gt;"),
        "legend escaped in SVG"
    );
    // Markdown and CSV carry the label safely too.
    let md = std::fs::read_to_string(out.join("tables/01-script-t-script.md")).expect("md");
    assert!(md.contains("\\<script\\>"), "{md}");
    let csv = std::fs::read_to_string(out.join("tables/01-script-t-script.csv")).expect("csv");
    assert!(
        csv.contains("\"<script>alert(\"\"x\"\")</script> {{ 7*7 }} 'q' & \"\"dq\"\"\""),
        "{csv}"
    );
}

#[test]
fn cli_rerenders_from_the_database_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fx = common::ablation(dir.path());
    // The orchestrator has exited: WAL files are gone, the reader must still open read-only.
    fx.db.close();
    let root = dir.path().join("reports");
    let args = ReportArgs {
        pipeline: "ablations".into(),
        invocation: None,
        out: Some(root.join("ablations")),
    };
    let index = report_command(&fx.db.path, &args).expect("report");
    assert_eq!(index, root.join("ablations/index.html"));
    let html = std::fs::read_to_string(&index).expect("index");
    // The params came from the report run in the database: its two tables and three plots.
    assert!(html.contains("Loss terms (CA = CFG augmentation, DM = distribution matching)"));
    assert!(html.contains("Prompt following"));
    assert_eq!(html.matches("<figure class=\"plot\"").count(), 3);
    let all = std::fs::read_to_string(root.join("index.html")).expect("index of reports");
    assert!(all.contains("href=\"ablations&#x2f;index.html\""), "{all}");

    // Rendering again replaces the folder; an unknown pipeline or invocation is a clear error.
    report_command(&fx.db.path, &args).expect("second render");
    let err = report_command(
        &fx.db.path,
        &ReportArgs {
            pipeline: "nope".into(),
            invocation: None,
            out: Some(root.join("x")),
        },
    )
    .expect_err("unknown pipeline");
    assert!(
        format!("{err:#}")
            .contains("no runs of pipeline \"nope\"; pipelines in this database: ablations"),
        "{err:#}"
    );
    let err = report_command(
        &fx.db.path,
        &ReportArgs {
            pipeline: "ablations".into(),
            invocation: Some(99),
            out: Some(root.join("x")),
        },
    )
    .expect_err("bad invocation");
    assert!(
        format!("{err:#}").contains("invocation 99 is not an invocation of pipeline \"ablations\""),
        "{err:#}"
    );
    // A folder that is not a report is never replaced.
    let foreign = dir.path().join("mine");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("thesis.tex"), "precious").expect("write");
    let err = report_command(
        &fx.db.path,
        &ReportArgs {
            pipeline: "ablations".into(),
            invocation: None,
            out: Some(foreign.clone()),
        },
    )
    .expect_err("foreign folder");
    assert!(
        format!("{err:#}").contains("is not a report folder"),
        "{err:#}"
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("thesis.tex")).expect("still there"),
        "precious"
    );
}

#[test]
fn stage_worker_writes_report_and_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fx = common::ablation(dir.path());
    // As under `run`: the invocation is still running, and so is the report's own run.
    fx.db.exec(
        "UPDATE invocations SET status = 'running', ended_at = NULL WHERE id = ?",
        &[fx.invocation.into()],
    );
    let mut params = ddmd_report_params(&fx);
    let published = dir.path().join("published");
    params.insert("output_dir".into(), json!(published.display().to_string()));
    let work = dir.path().join("work");
    let job_dir = dir.path().join("jobs/report");
    std::fs::create_dir_all(&job_dir).expect("job dir");
    let job = JobFile {
        pipeline: "ablations".into(),
        run_id: RunId(fx.report_run),
        job: JobId("report".into()),
        stage: StageName("report".into()),
        kind: StageKind::Report,
        cache_key: CacheKey("k".into()),
        point: Default::default(),
        params,
        work_dir: work.clone(),
        job_dir: job_dir.clone(),
        events: job_dir.join("events.jsonl"),
        home: dir.path().to_path_buf(),
        devices: vec![],
        upstream: vec![],
    };
    {
        let mut sink = EventSink::open(&job.events, 0).expect("sink");
        run_report_stage(&job, &mut sink).expect("stage");
    }
    assert!(work.join("report/index.html").is_file());
    assert!(published.join("ablations/index.html").is_file());
    assert!(published.join("index.html").is_file());
    // The header states what the report covers, not the stored "running"; its own run is
    // not one of the results.
    let html = std::fs::read_to_string(work.join("report/index.html")).expect("index");
    assert!(
        html.contains(
            "<span class=\"badge bad\" title=\"written by the invocation&#x27;s own report stage: \
             every run had finished; failed, cancelled or skipped: 1\">failed</span>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<div class=\"meta counts\">13 results:"),
        "{html}"
    );
    let events = std::fs::read_to_string(&job.events).expect("events");
    let artifacts: Vec<ddmd_core::Event> = events
        .lines()
        .map(|l| ddmd_core::Event::parse_line(l).expect("event"))
        .filter(|e| matches!(e.kind, ddmd_core::EventKind::Artifact { .. }))
        .collect();
    // The gaps of a partial grid are said in the run output, not only on the page.
    assert!(
        events.contains(
            "table \\\"Loss terms (CA = CFG augmentation, DM = distribution matching)\\\" has gaps \
             (marked — on the page): Sharpness: no run reported sharpness@4"
        ),
        "{events}"
    );
    assert!(artifacts.iter().any(|e| matches!(&e.kind, ddmd_core::EventKind::Artifact { name, path } if name == "report" && path == "report/index.html")), "{events}");

    // Bad params fail the stage with the field path.
    let mut bad = job.clone();
    bad.params = json!({"tables": [{"rows": "terms"}]})
        .as_object()
        .expect("obj")
        .clone();
    let mut sink = EventSink::open(&job.events, 100).expect("sink");
    let err = run_report_stage(&bad, &mut sink).expect_err("bad params");
    assert!(
        format!("{err:#}").contains("tables[0].columns: missing"),
        "{err:#}"
    );

    // A metric or axis no run has fails the stage, naming it and what the runs have.
    for (params, message) in [
        (
            json!({"tables": [{"rows": "terms", "columns": ["fid@4", "fdi@1"]}]}),
            "tables[0].columns[1]: no run has a final value of the metric \"fdi@1\" (1 of 13 runs failed); \
             the runs have: dpg@4, fid@1, fid@4, hps@4, stability, train/loss, train/pixel_var",
        ),
        (
            json!({"tables": [{"rows": "term", "columns": ["fid@4"]}]}),
            "tables[0].rows[0]: no run has the axis \"term\"; the runs have: job, schedule, seed, stage, terms",
        ),
    ] {
        let mut bad = job.clone();
        bad.params = params.as_object().expect("obj").clone();
        let mut sink = EventSink::open(&job.events, 200).expect("sink");
        let err = run_report_stage(&bad, &mut sink).expect_err("unknown name");
        assert!(format!("{err:#}").ends_with(message), "{err:#}");
    }
}
