use super::*;
use serde_json::json;

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not a mapping"),
    }
}

fn one(kind: StageKind, v: Value) -> Vec<(String, String)> {
    check(kind, &map(v))
        .into_iter()
        .map(|i| (i.key, i.message))
        .collect()
}

#[test]
fn the_quickstart_parameters_are_accepted() {
    let data = json!({"kind": "shapes", "resolution": 16, "objects": [1, 2]});
    assert!(one(StageKind::Teacher, json!({"iterations": 1500, "batch": 32, "lr": 2.0e-3, "alpha": 3.0, "sample_steps": 50, "checkpoint_every": 250, "seed": 0, "data": data})).is_empty());
    assert!(one(StageKind::Distill, json!({"student_steps": 4, "schedule": "hybrid", "regularizer": "dm", "alpha": 4.0, "iterations": 160, "batch": 20, "fake_updates": 5, "ca": 1.0, "dm": 0, "seed": 0, "data": data})).is_empty());
    assert!(one(StageKind::Evaluate, json!({"sample_steps": [1, 4], "samples": 400, "metrics": ["fid", "dpg", "pixels", "stability"], "seed": 0})).is_empty());
    assert!(one(
        StageKind::Evaluate,
        json!({"sample_steps": 4, "metrics": "fid"})
    )
    .is_empty());
    assert!(one(StageKind::Judge, json!({"seed": 3, "mem": "4G"})).is_empty());
}

#[test]
fn a_misspelled_key_is_unknown_with_a_suggestion() {
    let got = one(StageKind::Distill, json!({"iteratons": 160}));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "iteratons");
    assert!(
        got[0]
            .1
            .starts_with("unknown parameter (did you mean 'iterations'?)"),
        "{}",
        got[0].1
    );
}

#[test]
fn a_bad_enum_value_lists_the_values() {
    let got = one(StageKind::Distill, json!({"schedule": "hybird"}));
    assert_eq!(
        got,
        vec![(
            "schedule".to_string(),
            "unknown value `hybird`; expected one of coupled, hybrid, constrained (did you mean 'hybrid'?)".to_string()
        )]
    );
    let got = one(StageKind::Evaluate, json!({"metrics": ["fid", "fdi"]}));
    assert_eq!(
        got,
        vec![(
            "metrics".to_string(),
            "item 2: unknown value `fdi`; expected one of fid, kid, dpg, pixels, stability, hps, throughput, psnr (did you mean 'fid'?)".to_string()
        )]
    );
    let got = one(StageKind::Evaluate, json!({"metrics": "fdi"}));
    assert!(got[0].1.starts_with("unknown value `fdi`"), "{}", got[0].1);
}

#[test]
fn wrong_types_and_ranges_name_the_key() {
    let got = one(StageKind::Teacher, json!({"batch": "big", "ema": 1.5}));
    assert_eq!(got.len(), 1, "type errors first: {got:?}");
    assert_eq!(got[0].0, "batch");
    assert!(
        got[0].1.contains("expected a non-negative integer"),
        "{}",
        got[0].1
    );
    let got = one(StageKind::Teacher, json!({"ema": 1.5}));
    assert_eq!(
        got,
        vec![("ema".to_string(), "must be in [0, 1), got 1.5".to_string())]
    );
    let got = one(StageKind::Distill, json!({"student_steps": 9}));
    assert_eq!(got[0].0, "student_steps");
    let got = one(StageKind::Evaluate, json!({"samples": -3}));
    assert_eq!(got[0].0, "samples");
}

#[test]
fn nested_data_is_checked_with_its_path() {
    let got = one(StageKind::Judge, json!({"data": {"resolution": 8}}));
    assert_eq!(got[0].0, "data.resolution");
    let got = one(StageKind::Judge, json!({"data": {"resolutoin": 16}}));
    assert_eq!(got[0].0, "data.resolutoin");
    assert!(
        got[0].1.contains("did you mean 'resolution'"),
        "{}",
        got[0].1
    );
    let got = one(StageKind::Judge, json!({"data": {"kind": "imagenet"}}));
    assert_eq!(got[0].0, "data.kind");
    let got = one(StageKind::Judge, json!({"data": 3}));
    assert_eq!(got[0].0, "data");
}

#[test]
fn executor_keys_are_checked_for_every_kind() {
    assert_eq!(
        one(StageKind::Command, json!({"run": "x", "mem": [1]}))[0].0,
        "mem"
    );
    assert!(one(StageKind::Command, json!({"run": "x", "anything": 1})).is_empty());
}

#[test]
fn parse_reads_defaults_and_ignores_keys_of_other_kinds() {
    let p: DistillParams = parse(&map(json!({"iterations": 7, "cfg_dropout": 0.2}))).unwrap();
    assert_eq!(p.iterations, 7);
    assert_eq!(p.schedule, Schedule::Hybrid);
    assert_eq!(p.fake_lr(), p.lr);
    let e = parse::<DistillParams>(&map(json!({"schedule": "x"}))).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("parameter `schedule`: unknown value `x`"),
        "{e}"
    );
}

#[test]
fn known_keys_are_the_struct_fields_plus_executor_keys() {
    let keys = known_keys(StageKind::Judge).unwrap();
    assert!(keys.contains(&"min_accuracy".to_string()) && keys.contains(&"mem".to_string()));
    assert!(known_keys(StageKind::Command).is_none());
}

#[test]
fn report_keys_are_checked_by_name() {
    let got = one(StageKind::Report, json!({"tabels": [], "title": "t"}));
    assert_eq!(
        got,
        vec![(
            "tabels".to_string(),
            "unknown report parameter (did you mean 'tables'?)".to_string()
        )]
    );
}

#[test]
fn the_json_schema_of_each_kind_names_every_key_and_its_values() {
    let (s, defs) = json_schema(StageKind::Distill).unwrap();
    assert_eq!(s["additionalProperties"], json!(false));
    let props = s["properties"].as_object().unwrap();
    for key in fields_of::<DistillParams>() {
        assert!(props.contains_key(&key), "{key} missing");
    }
    assert!(props.contains_key("mem"));
    let text = serde_json::to_string(&defs).unwrap();
    for v in ["coupled", "hybrid", "constrained", "meanvar", "shapes"] {
        assert!(text.contains(v), "{v} missing from {text}");
    }
    assert!(json_schema(StageKind::Command).is_none());
}

#[test]
fn the_report_schema_names_every_report_key() {
    let (s, _) = json_schema(StageKind::Report).unwrap();
    let props = s["properties"].as_object().unwrap();
    for key in REPORT_KEYS {
        assert!(props[*key]["description"].is_string(), "{key} undescribed");
    }
    assert_eq!(
        props["plots"]["items"]["properties"]["kind"]["enum"],
        json!(["line", "bar", "sweep", "scatter"])
    );
}
