//! A user's own model through `evaluate`, end to end through the binary: a command stage that
//! draws images with Hugging Face `diffusers` (a small randomly initialised class-conditional
//! UNet and DDIM, from PyPI) for shapes prompts exported in DPG-Bench's CSV format, scored
//! with Inception FID/KID against a reference folder, DPG-Bench with the named stand-in
//! scorer, HPS with its stand-in, and a report with the preset schedule table, checked in
//! headless Chromium. Then the shapes judge as the DPG backend, the image contract's failures
//! (missing, corrupt, extra, a link out of the folder: each fails the job by name and nothing
//! is published), and a malformed prompt file stopping `validate` at its line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::path::Path;

fn python() -> String {
    repo().join(".venv/bin/python").display().to_string()
}

/// `ddmd-pipe prompts`: `n` shapes prompts as DPG-Bench CSV, with `per_prompt` renders each.
fn export_shapes(env: &Env, n: usize, per_prompt: usize) {
    let out = env.run(&[
        "prompts",
        "--shapes",
        &n.to_string(),
        "--out",
        env.path().join("prompts.csv").to_str().unwrap(),
        "--renders",
        env.path().join("ref").to_str().unwrap(),
        "--images-per-prompt",
        &per_prompt.to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn metric(env: &Env, job: &str, key: &str) -> Option<f64> {
    let v = env.scalar(&format!(
        "select m.value from metrics m join runs r on r.id = m.run_id \
         where r.job_name = '{job}' and r.status = 'succeeded' and m.key = '{key}'"
    ));
    v.parse().ok()
}

const DIFFUSERS: &str = r#"
name: your-model
stages:
  generate:
    kind: command
    matrix: { schedule: [coupled, hybrid] }
    prompts: { dpg_bench: prompts.csv, images_per_prompt: 2 }
    params:
      run: "PYTHON REPO/python/examples/diffusers_generate.py --size 32 --steps 2 --variant {{ schedule }}"
  evaluate:
    kind: evaluate
    needs: [generate]
    params:
      setting: "4"
      metrics: [fid, kid, dpg, hps]
      fid: { features: inception, reference: ref }
      dpg: { scorer: stand-in }
      hps: { scorer: "PYTHON REPO/python/stand_in_hps.py" }
  report:
    kind: report
    needs: [evaluate]
    params:
      title: Your model
      output_dir: reports
      tables: [ { preset: renoise_schedules } ]
"#;

#[test]
fn diffusers_images_are_scored_and_reported_like_built_in_ones() {
    let env = Env::new();
    // 6 prompts × 2 drawn images = 12; the reference has 4 renders per prompt (24 ≥ 2N): the
    // floor is measured, and every drawn id has a reference image: the ceiling too.
    export_shapes(&env, 6, 4);
    let p = env.pipeline(
        "your-model.yaml",
        &DIFFUSERS
            .replace("PYTHON", &python())
            .replace("REPO", repo().to_str().unwrap()),
    );
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    for s in ["coupled", "hybrid"] {
        let job = format!("evaluate[schedule={s}]");
        for key in [
            "fid@4",
            "kid@4",
            "dpg@4",
            "dpg@4/entity",
            "dpg@4/relation",
            "hps@4",
            "fid@data",
            "dpg@data",
        ] {
            let v = metric(&env, &job, key);
            assert!(v.is_some_and(f64::is_finite), "{job} {key}: {v:?}");
        }
        // Random weights against renders: far above the floor.
        let (fid, floor) = (
            metric(&env, &job, "fid@4").unwrap(),
            metric(&env, &job, "fid@data").unwrap(),
        );
        assert!(fid > floor, "{job}: fid {fid} vs floor {floor}");
        // The stand-in HPS: every file present × mean prompt length / 100.
        assert!(metric(&env, &job, "hps@4").unwrap() > 0.05);
    }
    // The two variants' weights differ, so do their images and FIDs.
    assert_ne!(
        metric(&env, "evaluate[schedule=coupled]", "fid@4"),
        metric(&env, "evaluate[schedule=hybrid]", "fid@4")
    );
    // The status says which extractor and N, and that the DPG scorer is a stand-in.
    let status = env.sql(
        "select json_extract(e.payload, '$.message') from events e join runs r on r.id = e.run_id \
         where r.job_name = 'evaluate[schedule=coupled]' and json_extract(e.payload, '$.key') in ('fid@4', 'dpg@4')",
    );
    let status = format!("{status:?}");
    assert!(status.contains("inception(default_1.pt) N=12"), "{status}");
    assert!(status.contains("stand-in"), "{status}");

    // The images were published with the set and the index.
    let dir = env.scalar(
        "select artifact_dir from runs where job_name = 'generate[schedule=coupled]' and status = 'succeeded'",
    );
    let pngs = std::fs::read_dir(Path::new(&dir).join("images"))
        .unwrap()
        .count();
    assert_eq!(pngs, 12);
    assert!(Path::new(&dir).join("prompt_set.json").is_file());

    // The report: the preset table has one row per schedule with numbers, and a sample grid.
    let index = env.path().join("reports/your-model/index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        html.contains("coupled") && html.contains("hybrid"),
        "{html}"
    );
    assert!(
        html.contains("<img src=\"samples&#x2f;run-"),
        "no sample grid in the report"
    );
    assert!(
        html.contains("on a gray background") || html.contains(" background"),
        "no prompts under the grid"
    );
    let dom = common::chromium_dom(&index);
    let table = dom.split("<table").nth(1).unwrap_or_default();
    assert!(table.contains("DPG entity"), "{table}");
    for s in ["coupled", "hybrid"] {
        let row = table
            .split("<tr")
            .find(|r| r.contains(&format!(">{s}<")))
            .unwrap_or_else(|| panic!("no row {s} in {table}"));
        let cells = row.matches("<td").count();
        let dashes = row.matches(">—<").count();
        // Every column but the global category (shapes prompts ask it, so it is there too).
        assert!(cells >= 8 && dashes == 0, "row {s}: {row}");
    }
}

const JUDGED: &str = r#"
name: judged
defaults:
  seed: 0
stages:
  judge:
    kind: judge
    params: { iterations: 30, batch: 16, held_out: 20, min_accuracy: 0.0 }
  generate:
    kind: command
    prompts: { dpg_bench: prompts.csv, images_per_prompt: 2 }
    params: { run: "cp ref/*.png \"$DDMD_IMAGES\"/" }
  evaluate:
    kind: evaluate
    needs: [generate, judge]
    params:
      setting: "4"
      metrics: [fid, dpg]
      fid: { features: judge, reference: ref }
      dpg: { scorer: judge }
"#;

/// The shapes judge as DPG-Bench's VQA backend: "drawn" images that are the reference renders
/// themselves score exactly the ceiling, and their FID against the reference is zero.
#[test]
fn the_shapes_judge_answers_dpg_bench_questions() {
    let env = Env::new();
    export_shapes(&env, 8, 2);
    let p = env.pipeline("judged.yaml", JUDGED);
    let out = env.run(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dpg = metric(&env, "evaluate", "dpg@4").unwrap();
    let ceiling = metric(&env, "evaluate", "dpg@data").unwrap();
    assert_eq!(dpg, ceiling);
    assert!((0.0..=100.0).contains(&dpg));
    let fid = metric(&env, "evaluate", "fid@4").unwrap();
    assert!(fid.abs() < 1e-3, "identical sets: {fid}");
    // Per-category keys exist for the shapes categories.
    for c in ["entity", "attribute", "count", "global"] {
        assert!(
            metric(&env, "evaluate", &format!("dpg@4/{c}")).is_some(),
            "{c}"
        );
    }
    // N = 16 drawn, 16 in the reference: no floor, and the status says why.
    let why = env.scalar(
        "select json_extract(e.payload, '$.message') from events e join runs r on r.id = e.run_id \
         where r.job_name = 'evaluate' and json_extract(e.payload, '$.key') = 'fid@data'",
    );
    assert!(why.contains("at least 2N = 32"), "{why}");
}

/// A generating job whose images break the contract fails with the names at fault; nothing
/// is published (no artifact folder under the job's key), the run records why.
#[test]
fn images_that_break_the_contract_fail_the_job_by_name() {
    let env = Env::new();
    std::fs::write(env.path().join("p.txt"), "a cat\na dog\n").unwrap();
    // A valid 1×1 PNG to copy, written by the test.
    let png = env.path().join("one.png");
    image::RgbImage::from_pixel(3, 2, image::Rgb([10, 20, 30]))
        .save(&png)
        .unwrap();
    let png = png.display().to_string();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("missing", format!("cp {png} \"$DDMD_IMAGES/line00001_0.png\""), vec!["1 missing: line00002_0.png"]),
        (
            "corrupt",
            format!("cp {png} \"$DDMD_IMAGES/line00001_0.png\" && head -c 20 {png} > \"$DDMD_IMAGES/line00002_0.png\""),
            vec!["1 unreadable: line00002_0.png"],
        ),
        (
            "extra",
            format!("cp {png} \"$DDMD_IMAGES/line00001_0.png\" && cp {png} \"$DDMD_IMAGES/line00002_0.jpg.png\" && cp {png} \"$DDMD_IMAGES/line00002_0.png\""),
            vec!["1 extra (not in the manifest): line00002_0.jpg.png"],
        ),
        (
            "link",
            format!("cp {png} \"$DDMD_IMAGES/line00001_0.png\" && ln -s /etc/hostname \"$DDMD_IMAGES/line00002_0.png\""),
            vec!["1 missing: line00002_0.png", "line00002_0.png (a symbolic link)"],
        ),
    ];
    for (name, run, expect) in cases {
        let yaml = format!(
            "name: contract-{name}\nstages:\n  generate:\n    kind: command\n    prompts: {{ text: p.txt }}\n    params: {{ run: '{}' }}\n",
            run.replace('\'', "''")
        );
        let p = env.pipeline(&format!("{name}.yaml"), &yaml);
        let out = env.run(&["run", p.to_str().unwrap()]);
        assert_ne!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let row = env.sql(&format!(
            "select r.error, r.cache_key, coalesce(r.artifact_dir, '') from runs r \
             join pipelines p on p.id = r.pipeline_id where p.name = 'contract-{name}'"
        ));
        let err = &row[0][0];
        for e in &expect {
            assert!(err.contains(e), "{name}: {err}");
        }
        assert!(row[0][2].is_empty(), "{name}: published {:?}", row[0][2]);
        assert!(
            !env.home().join("artifacts").join(&row[0][1]).exists(),
            "{name}: an artifact folder was published"
        );
    }
}

#[test]
fn a_malformed_prompt_file_stops_validate_at_its_line() {
    let env = Env::new();
    std::fs::write(
        env.path().join("bad.csv"),
        "item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,tuple\n",
    )
    .unwrap();
    let p = env.pipeline(
        "bad.yaml",
        "name: bad\nstages:\n  generate:\n    kind: command\n    prompts: { dpg_bench: bad.csv }\n    params: { run: 'true' }\n",
    );
    let out = env.run(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5:")
            && err.contains("bad.csv:1:")
            && err.contains("question_natural_language"),
        "{err}"
    );
    assert!(
        !env.home().join("runs.sqlite").exists() || env.scalar("select count(*) from runs") == "0"
    );
}

/// What evaluate is asked must fit what it reads, checked before anything runs: metrics that
/// need the built-in generator on drawn images, FID without a reference, DPG by the judge with
/// no judge, and drawn-image settings on a built-in evaluate (which would be ignored).
#[test]
fn evaluate_params_must_fit_what_it_reads() {
    let env = Env::new();
    std::fs::write(env.path().join("p.txt"), "a cat\n").unwrap();
    let drawn = |params: &str| {
        format!(
            "name: e\nstages:\n  generate:\n    kind: command\n    prompts: {{ text: p.txt }}\n    params: {{ run: 'true' }}\n  evaluate:\n    kind: evaluate\n    needs: [generate]\n    params: {params}\n"
        )
    };
    let cases = [
        (
            drawn("{ metrics: [fid, pixels], fid: { reference: p.txt } }"),
            "stages.evaluate.params.metrics: pixels need the built-in generator; drawn images are measured with fid, kid, dpg, hps",
        ),
        (
            drawn("{ metrics: [kid] }"),
            "stages.evaluate.params.fid: fid and kid of drawn images need a reference",
        ),
        (
            drawn("{ metrics: [dpg] }"),
            "stages.evaluate.params.dpg: the shapes judge answers DPG (and gives judge features) here, and no judge stage is in needs",
        ),
        (
            "name: e\nstages:\n  teacher:\n    kind: teacher\n  judge:\n    kind: judge\n  evaluate:\n    kind: evaluate\n    needs: [teacher, judge]\n    params: { setting: \"4\" }\n".to_string(),
            "stages.evaluate.params.setting: `setting` applies to images a command stage draws (prompts:)",
        ),
    ];
    for (i, (yaml, expect)) in cases.iter().enumerate() {
        let p = env.pipeline(&format!("e{i}.yaml"), yaml);
        let out = env.run(&["validate", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "case {i}: {err}");
    }
}
