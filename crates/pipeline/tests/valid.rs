//! Valid pipelines: parsed fields, matrix expansion with include/exclude, job names,
//! overrides and sweeps, locations and the schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_core::{StageKind, StageName};
use ddmd_pipeline::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn parse(text: &str) -> Spec {
    match parse_str(Path::new("p.yaml"), text) {
        Ok(s) => s,
        Err(e) => panic!("expected a valid pipeline, got:\n{e}"),
    }
}

fn stage<'s>(spec: &'s Spec, name: &str) -> &'s Stage {
    &spec.stages[&StageName(name.into())]
}

fn names(spec: &Spec, name: &str) -> Vec<String> {
    let st = stage(spec, name);
    expand(st).iter().map(|p| p.job_name(&st.name).0).collect()
}

/// The sketch of DESIGN §4, verbatim in substance.
const DESIGN: &str = r#"
name: decoupled-dmd-ablations
description: Seed tables on the embedded shapes world
defaults:
  seed: 0
  data: { kind: shapes, resolution: 16, objects: [1, 3] }
stages:
  teacher:
    kind: teacher
    resources: { gpus: 1 }
    params: { iterations: 6000, batch: 128, lr: 2.0e-4, cfg_dropout: 0.1 }
  judge:
    kind: judge
    params: { iterations: 2000 }
  distill:
    kind: distill
    needs: [teacher]
    resources: { gpus: 1 }
    matrix:
      terms:
        - { name: "CA + DM", ca: 1.0, dm: 1.0 }
        - { name: "CA only", ca: 1.0, dm: 0.0 }
        - { name: "DM only", ca: 0.0, dm: 1.0 }
      schedule: [coupled, hybrid, constrained]
    exclude: [ { terms: "DM only", schedule: constrained } ]
    params: { student_steps: 4, alpha: 4.0, iterations: 2000, fake_updates: 5 }
  evaluate:
    kind: evaluate
    needs: [distill, judge]
    params: { sample_steps: [1, 4], samples: 2000, metrics: [fid, dpg, pixels, stability] }
  report:
    kind: report
    needs: [evaluate]
    params:
      tables:
        - title: Loss terms
          rows: terms
          filter: { schedule: hybrid }
          columns: [fid@1, fid@4, stability]
"#;

#[test]
fn design_example_parses_with_every_field() {
    let spec = parse(DESIGN);
    assert_eq!(spec.name, "decoupled-dmd-ablations");
    assert_eq!(
        spec.description.as_deref(),
        Some("Seed tables on the embedded shapes world")
    );
    assert_eq!(
        spec.defaults["data"],
        json!({"kind": "shapes", "resolution": 16, "objects": [1, 3]})
    );
    let order: Vec<&str> = spec.stages.keys().map(|s| s.as_str()).collect();
    assert_eq!(order, ["teacher", "judge", "distill", "evaluate", "report"]);
    let teacher = stage(&spec, "teacher");
    assert_eq!(teacher.kind, StageKind::Teacher);
    assert_eq!(
        teacher.resources,
        Resources {
            gpus: 1,
            nodes: 1,
            cpus: 1,
            share_gpu: false
        }
    );
    assert_eq!(teacher.params["lr"], json!(2.0e-4));
    let ev = stage(&spec, "evaluate");
    assert_eq!(
        ev.needs,
        vec![StageName("distill".into()), StageName("judge".into())]
    );
    assert!(!ev.fan_in);
    assert!(stage(&spec, "report").fan_in, "report fans in by default");
    let d = stage(&spec, "distill");
    assert_eq!(d.matrix.len(), 2);
    assert_eq!(d.matrix[0].values[1].label, "CA only");
    assert_eq!(d.matrix[0].values[1].value, json!("CA only"));
    assert_eq!(
        d.matrix[0].values[1].extra,
        json!({"ca": 1.0, "dm": 0.0})
            .as_object()
            .cloned()
            .unwrap_or_default()
    );
    assert_eq!(
        d.exclude,
        vec![json!({"terms": "DM only", "schedule": "constrained"})
            .as_object()
            .cloned()
            .unwrap_or_default()]
    );
    // sha256 of the text, hex.
    assert_eq!(spec.hash.len(), 64);
    assert_eq!(spec.text, DESIGN);
}

#[test]
fn design_matrix_expands_in_axis_order_minus_exclude() {
    let spec = parse(DESIGN);
    assert_eq!(
        names(&spec, "distill"),
        [
            "distill[terms=CA + DM,schedule=coupled]",
            "distill[terms=CA + DM,schedule=hybrid]",
            "distill[terms=CA + DM,schedule=constrained]",
            "distill[terms=CA only,schedule=coupled]",
            "distill[terms=CA only,schedule=hybrid]",
            "distill[terms=CA only,schedule=constrained]",
            "distill[terms=DM only,schedule=coupled]",
            "distill[terms=DM only,schedule=hybrid]",
        ]
    );
    assert_eq!(names(&spec, "teacher"), ["teacher"]);
    // A point's params: extras of mapping values, then the axis values.
    let d = stage(&spec, "distill");
    let p = &expand(d)[4];
    let mut params = d.params.clone();
    p.apply(&mut params);
    assert_eq!(params["terms"], json!("CA only"));
    assert_eq!(params["schedule"], json!("hybrid"));
    assert_eq!(params["ca"], json!(1.0));
    assert_eq!(params["dm"], json!(0.0));
    assert_eq!(params["alpha"], json!(4.0));
}

/// The example shipped in `pipelines/` (its commands are the lead's and may change): it
/// loads, uses command stages only, and has a matrix stage, a fan-out and a fan-in stage.
#[test]
fn sweep_example_file_loads() {
    let spec = match load(&repo_file("pipelines/sweep.yaml")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert!(spec.stages.values().all(|s| s.kind == StageKind::Command));
    assert!(
        spec.stages.values().any(|s| expand(s).len() > 1),
        "a stage with a matrix"
    );
    assert!(
        spec.stages
            .values()
            .any(|s| s.fan_in && !s.needs.is_empty()),
        "a fan-in stage"
    );
    assert!(
        spec.stages
            .values()
            .any(|s| !s.fan_in && !s.needs.is_empty()),
        "a fan-out stage"
    );
}

const GRID: &str = r#"
name: grid
stages:
  prepare: { kind: command, params: { run: "true" } }
  train:
    kind: command
    needs: prepare
    matrix:
      lr: [0.1, 0.01, 0.001]
      width:
        - { name: small, channels: 32 }
        - { name: large, channels: 64 }
    exclude:
      - { lr: 0.1, width: large }
    include:
      - { lr: 0.0001, width: large }
    retries: 1
    timeout: 10m
    params: { run: "echo {{ lr }}" }
"#;

#[test]
fn grid_with_mapping_values_exclude_and_include() {
    let spec = parse(GRID);
    assert_eq!(
        names(&spec, "train"),
        [
            "train[lr=0.1,width=small]",
            "train[lr=0.01,width=small]",
            "train[lr=0.01,width=large]",
            "train[lr=0.001,width=small]",
            "train[lr=0.001,width=large]",
            "train[lr=0.0001,width=large]",
        ]
    );
    let train = stage(&spec, "train");
    assert_eq!(train.timeout, Some(Duration::from_secs(600)));
    assert_eq!(train.retries, 1);
    assert_eq!(train.needs, vec![StageName("prepare".into())]);
    // The included point reuses the existing 'large' value, extras and all.
    let last = expand(train).pop().map(|p| p.0[1].1.extra.clone());
    assert_eq!(
        last.and_then(|m| m.get("channels").cloned()),
        Some(json!(64))
    );
}

#[test]
fn include_adds_new_points_and_skips_existing_ones() {
    let spec = parse(
        r#"
name: inc
stages:
  s:
    kind: command
    params: { run: "true" }
    matrix:
      a: [1, 2]
      b: [x, y]
    include:
      - { a: 1, b: x }             # already there: not repeated
      - { a: 3, b: z }             # new values on both axes
      - { b: w }                   # a partial point
      - { a: { name: big, size: 9 } }
    exclude:
      - { b: y }
"#,
    );
    let s = stage(&spec, "s");
    assert_eq!(
        names(&spec, "s"),
        [
            "s[a=1,b=x]",
            "s[a=2,b=x]",
            "s[a=3,b=z]",
            "s[b=w]",
            "s[a=big]"
        ]
    );
    let big = &expand(s)[4].0[0].1;
    assert_eq!(big.value, json!("big"));
    assert_eq!(big.extra.get("size"), Some(&json!(9)));
}

#[test]
fn scalars_of_every_type_label_job_names() {
    let spec = parse(
        "name: t\nstages:\n  s:\n    kind: judge\n    matrix:\n      f: [0.5, 1e-3, 2.0]\n      b: [true, false]\n      i: [-3, 0x10]\n    exclude: [ { b: false } ]\n",
    );
    assert_eq!(
        names(&spec, "s"),
        [
            "s[f=0.5,b=true,i=-3]",
            "s[f=0.5,b=true,i=16]",
            "s[f=0.001,b=true,i=-3]",
            "s[f=0.001,b=true,i=16]",
            "s[f=2.0,b=true,i=-3]",
            "s[f=2.0,b=true,i=16]",
        ]
    );
}

#[test]
fn job_name_forms() {
    let st = StageName("distill".into());
    assert_eq!(job_name(&st, &[]).0, "distill");
    let p = [
        ("terms".to_string(), "CA only".to_string()),
        ("schedule".to_string(), "hybrid".to_string()),
    ];
    assert_eq!(
        job_name(&st, &p).0,
        "distill[terms=CA only,schedule=hybrid]"
    );
}

#[test]
fn fields_have_their_defaults_and_accept_shorthands() {
    let spec = parse(
        "name: n\nstages:\n  a:\n    kind: judge\n  b:\n    kind: report\n    needs: a\n    fan_in: false\n    timeout: 1h30m\n    resources: { cpus: 4, share_gpu: true }\n  c:\n    kind: command\n    needs:\n    timeout: 2.5\n    inputs: [data.csv]\n    params: { run: make }\n",
    );
    let a = stage(&spec, "a");
    assert_eq!((a.retries, a.timeout, a.fan_in), (0, None, false));
    assert_eq!(
        a.resources,
        Resources {
            gpus: 0,
            nodes: 1,
            cpus: 1,
            share_gpu: false
        }
    );
    let b = stage(&spec, "b");
    assert!(!b.fan_in);
    assert_eq!(b.needs, vec![StageName("a".into())]);
    assert_eq!(b.timeout, Some(Duration::from_secs(5400)));
    assert_eq!(
        b.resources,
        Resources {
            gpus: 0,
            nodes: 1,
            cpus: 4,
            share_gpu: true
        }
    );
    let c = stage(&spec, "c");
    assert!(c.needs.is_empty());
    assert_eq!(c.timeout, Some(Duration::from_millis(2500)));
    assert_eq!(c.inputs, vec![PathBuf::from("data.csv")]);
}

#[test]
fn executor_is_kept_as_written() {
    let spec = parse(
        "name: n\nexecutor: { kind: slurm, partition: gpu, extra: [\"--exclusive\"] }\nstages:\n  a: { kind: judge }\n",
    );
    assert_eq!(
        spec.executor,
        Some(json!({"kind": "slurm", "partition": "gpu", "extra": ["--exclusive"]}))
    );
}

#[test]
fn anchors_and_aliases_are_expanded() {
    let spec = parse(
        "name: n\ndefaults: &d { lr: 0.1 }\nstages:\n  a:\n    kind: judge\n    params: *d\n",
    );
    assert_eq!(stage(&spec, "a").params["lr"], json!(0.1));
}

// ---- overrides and sweeps -------------------------------------------------------------

fn set(spec: &mut Spec, args: &[&str]) -> Result<(), SpecErrors> {
    let mut ovs = Vec::new();
    for a in args {
        ovs.push(parse_override(a).map_err(SpecErrors::from)?);
    }
    apply_overrides(spec, &ovs)
}

#[test]
fn parse_override_values_are_yaml() {
    let o = parse_override("a.b=0.1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.path, ["a", "b"]);
    assert_eq!(o.values, [json!(0.1)]);
    let o = parse_override("lr=0.1,0.01").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.values, [json!(0.1), json!(0.01)]);
    assert!(o.is_sweep());
    let o = parse_override("xs=[1,2]").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.values, [json!([1, 2])]);
    let o = parse_override("name='a,b',c").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.values, [json!("a,b"), json!("c")]);
    let o = parse_override("flag=true").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.values, [json!(true)]);
    let o = parse_override("m={x: 1}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.values, [json!({"x": 1})]);
    assert_eq!(o.raw, "m={x: 1}");
}

const OV: &str = r#"
name: ov
defaults: { lr: 0.5, data: { res: 16 } }
stages:
  prep: { kind: command, params: { run: "true" } }
  train:
    kind: command
    needs: prep
    matrix: { width: [8, 16] }
    params: { run: "true", lr: 0.3 }
  eval:
    kind: command
    needs: train
    params: { run: "true" }
  report:
    kind: report
    needs: eval
"#;

#[test]
fn unscoped_override_sets_defaults_and_stages_that_hold_the_key() {
    let mut spec = parse(OV);
    set(&mut spec, &["lr=0.01", "data.res=32", "newkey.x=1"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.defaults["lr"], json!(0.01));
    assert_eq!(stage(&spec, "train").params["lr"], json!(0.01));
    assert!(!stage(&spec, "eval").params.contains_key("lr"));
    assert_eq!(spec.defaults["data"], json!({"res": 32}));
    assert_eq!(spec.defaults["newkey"], json!({"x": 1}));
}

#[test]
fn stage_scoped_override_sets_only_that_stage() {
    let mut spec = parse(OV);
    set(&mut spec, &["eval.samples=100", "train.opt.beta=0.9"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stage(&spec, "eval").params["samples"], json!(100));
    assert_eq!(stage(&spec, "train").params["opt"], json!({"beta": 0.9}));
    assert!(!spec.defaults.contains_key("samples"));
}

#[test]
fn unscoped_sweep_adds_an_axis_to_every_stage_that_does_not_fan_in() {
    let mut spec = parse(OV);
    set(&mut spec, &["lr=0.1,0.01"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&spec, "prep"), ["prep[lr=0.1]", "prep[lr=0.01]"]);
    assert_eq!(
        names(&spec, "train"),
        [
            "train[width=8,lr=0.1]",
            "train[width=8,lr=0.01]",
            "train[width=16,lr=0.1]",
            "train[width=16,lr=0.01]"
        ]
    );
    assert_eq!(names(&spec, "eval"), ["eval[lr=0.1]", "eval[lr=0.01]"]);
    assert_eq!(names(&spec, "report"), ["report"]);
    // Point::apply sets the swept parameter.
    let t = stage(&spec, "train");
    let mut params = t.params.clone();
    expand(t)[1].apply(&mut params);
    assert_eq!(params["lr"], json!(0.01));
}

#[test]
fn scoped_sweep_with_a_dotted_key_sets_a_nested_param() {
    let mut spec = parse(OV);
    set(&mut spec, &["eval.opt.lr=1,2"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&spec, "eval"), ["eval[opt.lr=1]", "eval[opt.lr=2]"]);
    assert_eq!(names(&spec, "prep"), ["prep"]);
    let e = stage(&spec, "eval");
    let mut params = e.params.clone();
    expand(e)[1].apply(&mut params);
    assert_eq!(params["opt"], json!({"lr": 2}));
}

#[test]
fn later_override_wins() {
    let mut spec = parse(OV);
    set(&mut spec, &["train.lr=1", "train.lr=2"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stage(&spec, "train").params["lr"], json!(2));
}

// ---- locations, schema, files ---------------------------------------------------------

#[test]
fn location_points_at_values() {
    let spec = parse(DESIGN);
    assert_eq!(location(&spec, "stages.evaluate.needs[1]"), Some((29, 22)));
    assert_eq!(
        location(&spec, "stages.distill.matrix.terms[1].name"),
        Some((22, 19))
    );
    assert_eq!(location(&spec, "name"), Some((2, 7)));
    assert_eq!(location(&spec, "stages.nope"), None);
    assert_eq!(location(&spec, "stages.evaluate.needs[9]"), None);
}

#[test]
fn schema_lists_exactly_the_keys_the_parser_accepts() {
    let s = json_schema();
    assert_eq!(
        s["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(
        keys(&s["properties"]),
        ["defaults", "description", "executor", "name", "stages"]
    );
    let stage = &s["properties"]["stages"]["additionalProperties"];
    assert_eq!(
        keys(&stage["properties"]),
        [
            "exclude",
            "fan_in",
            "include",
            "inputs",
            "kind",
            "matrix",
            "needs",
            "params",
            "prompts",
            "resources",
            "retries",
            "timeout"
        ]
    );
    assert_eq!(
        stage["properties"]["kind"]["enum"],
        json!(["teacher", "judge", "distill", "evaluate", "report", "command"])
    );
    // Every stage key but `kind` takes an empty value too (`needs:`), as the parser does.
    assert_eq!(
        stage["properties"]["resources"]["anyOf"][0]["properties"]["gpus"]["maximum"],
        json!(64)
    );
    assert_eq!(
        stage["properties"]["needs"]["anyOf"][1],
        json!({ "type": "null" })
    );
    assert_eq!(s["additionalProperties"], json!(false));
    assert_eq!(stage["additionalProperties"], json!(false));
    // Every key the schema names is accepted by the parser (an unknown key would fail).
    let all = "name: n\ndescription: d\ndefaults: {}\nexecutor: { kind: local, partition: p, account: a, qos: q, extra: [] }\nstages:\n  s:\n    kind: command\n    needs: []\n    resources: { gpus: 0, cpus: 1, share_gpu: false }\n    matrix: { x: [1] }\n    include: [ { x: 2 } ]\n    exclude: [ { x: 1 } ]\n    fan_in: false\n    params: { run: \"true\" }\n    retries: 0\n    timeout: 1s\n    inputs: [f]\n";
    let spec = parse(all);
    assert_eq!(names(&spec, "s"), ["s[x=2]"]);
}

#[test]
fn missing_file_is_one_error_without_position() {
    let err = match load(Path::new("/nonexistent/dir/p.yaml")) {
        Err(e) => e,
        Ok(_) => panic!("loaded a missing file"),
    };
    assert_eq!(
        err.to_string(),
        "/nonexistent/dir/p.yaml: cannot read the pipeline file: no such file"
    );
}

#[test]
fn invalid_utf8_file_reports_the_byte_position() {
    let dir = std::env::temp_dir().join(format!("ddmd-pipeline-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let f = dir.join("bad.yaml");
    std::fs::write(&f, b"name: x\nstages:\n  \xc3a: {}\n").unwrap_or_else(|e| panic!("{e}"));
    let err = load(&f).err().map(|e| e.0);
    let _ = std::fs::remove_dir_all(&dir);
    let err = err.unwrap_or_default();
    assert_eq!(err.len(), 1);
    assert_eq!((err[0].line, err[0].column), (Some(3), Some(3)));
    assert_eq!(
        err[0].message,
        "invalid UTF-8 (byte 0xC3); a pipeline file must be UTF-8 text"
    );
}

#[test]
fn unscoped_sweep_of_a_key_only_some_stages_hold_sweeps_only_those() {
    let mut spec = parse(
        r#"
name: holders
stages:
  prep: { kind: command, params: { run: "true" } }
  train:
    kind: command
    needs: prep
    params: { run: "true", lr: 0.3 }
  eval:
    kind: command
    needs: train
    params: { run: "true" }
"#,
    );
    set(&mut spec, &["lr=0.1,0.01"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&spec, "prep"), ["prep"]);
    assert_eq!(names(&spec, "train"), ["train[lr=0.1]", "train[lr=0.01]"]);
    assert_eq!(names(&spec, "eval"), ["eval"]);
}

#[test]
fn schema_describes_every_key_of_the_file_format() {
    // Every property — the file format's keys, the built-in stages' params (from their
    // contracts' doc comments) and the report's — has a description an editor shows on hover.
    fn walk(v: &Value, path: &str, missing: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(props)) = o.get("properties") {
                    for (k, p) in props {
                        if p.get("description").is_none() {
                            missing.push(format!("{path}.{k}"));
                        }
                    }
                }
                for (k, x) in o {
                    // `if` only selects a kind; its `kind` is described where it is declared.
                    if k != "if" {
                        walk(x, &format!("{path}/{k}"), missing);
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}[{i}]"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&json_schema(), "", &mut missing);
    assert!(missing.is_empty(), "no description: {missing:#?}");
}

#[test]
fn schema_describes_the_params_of_each_built_in_kind() {
    let s = json_schema();
    let stage = &s["properties"]["stages"]["additionalProperties"];
    let by_kind = stage["allOf"].as_array().expect("allOf per kind");
    let distill = by_kind
        .iter()
        .find(|e| e["if"]["properties"]["kind"]["const"] == json!("distill"))
        .expect("distill params");
    let params = &distill["then"]["properties"]["params"];
    assert_eq!(params["additionalProperties"], json!(false));
    assert_eq!(params["properties"]["iterations"]["default"], json!(300));
    // Enum values live in the root's $defs, where the references point.
    let r = params["properties"]["schedule"]["$ref"]
        .as_str()
        .expect("schedule is a reference");
    let name = r.trim_start_matches("#/$defs/");
    let text = s["$defs"][name].to_string();
    assert!(
        text.contains("hybrid") && text.contains("constrained"),
        "{text}"
    );
    // Command stages keep open params (their template reads any key).
    assert!(!by_kind
        .iter()
        .any(|e| e["if"]["properties"]["kind"]["const"] == json!("command")));
}
