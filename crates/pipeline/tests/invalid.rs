//! Invalid pipelines, table-driven: each asserts the exact line, column, field path and
//! message of every error reported (the `Display` form `file:line:col: path: message`, one
//! error per line), that parsing does not panic, and that it takes well under a second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_pipeline::parse_str;
use std::path::Path;
use std::time::{Duration, Instant};

/// (name, pipeline text, every error expected, in order).
const CASES: &[(&str, &str, &str)] = &[
    (
        "broken_yaml",
        "name: p\nstages: [a, b\n",
        "p.yaml:3:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'",
    ),
    (
        "empty_file",
        "",
        "p.yaml: the file is empty; expected a mapping with at least 'name' and 'stages'",
    ),
    (
        "only_comments",
        "# nothing here\n\n",
        "p.yaml: the file is empty; expected a mapping with at least 'name' and 'stages'",
    ),
    (
        "binary_garbage",
        "PK\u{3}\u{4}\u{0}\u{0}garbage",
        "p.yaml:1:3: control character U+0003 is not allowed; this looks like binary data, not a YAML pipeline file",
    ),
    (
        "top_level_list",
        "- name: p\n- stages: {}\n",
        "p.yaml:1:1: expected a mapping at the top of the file (with 'name' and 'stages'), found a list",
    ),
    (
        "top_level_scalar",
        "hello\n",
        "p.yaml:1:1: expected a mapping at the top of the file (with 'name' and 'stages'), found the string \"hello\"",
    ),
    (
        "tab_indentation",
        "name: p\nstages:\n  a:\n\tkind: judge\n",
        "p.yaml:4:1: tab character in indentation; YAML indents with spaces only",
    ),
    (
        "duplicate_top_key",
        "name: p\nname: q\nstages:\n  a: {kind: judge}\n",
        "p.yaml:2:1: name: duplicate key 'name' (first defined at line 1, column 1)",
    ),
    (
        "duplicate_stage",
        "name: p\nstages:\n  a: {kind: judge}\n  a: {kind: teacher}\n",
        "p.yaml:4:3: stages.a: duplicate key 'a' (first defined at line 3, column 3)",
    ),
    (
        "unknown_top_key",
        "name: p\nstage:\n  a: {kind: judge}\n",
        "p.yaml:1:1: stages: missing required key 'stages' (a mapping of stage name to stage)\np.yaml:2:1: stage: unknown key 'stage' in the pipeline (did you mean 'stages'?); allowed keys: name, description, defaults, stages, executor",
    ),
    (
        "unknown_stage_key",
        "name: p\nstages:\n  a:\n    kind: judge\n    param: {}\n",
        "p.yaml:5:5: stages.a.param: unknown key 'param' in stage 'a' (did you mean 'params'?); allowed keys: kind, needs, resources, matrix, include, exclude, fan_in, params, retries, timeout, inputs, prompts",
    ),
    (
        "unknown_resource_key",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { gpu: 1 }\n",
        "p.yaml:5:18: stages.a.resources.gpu: unknown key 'gpu' in resources (did you mean 'gpus'?); allowed keys: gpus, nodes, cpus, share_gpu",
    ),
    (
        "missing_name",
        "stages:\n  a: {kind: judge}\n",
        "p.yaml:1:1: name: missing required key 'name' (the pipeline's name)",
    ),
    (
        "bad_pipeline_name",
        "name: my pipeline\nstages:\n  a: {kind: judge}\n",
        "p.yaml:1:7: name: invalid pipeline name \"my pipeline\"; use letters, digits, '_', '.' and '-'",
    ),
    (
        "missing_stages",
        "name: p\n",
        "p.yaml:1:1: stages: missing required key 'stages' (a mapping of stage name to stage)",
    ),
    (
        "empty_stages",
        "name: p\nstages: {}\n",
        "p.yaml:2:9: stages: expected at least one stage, found an empty mapping",
    ),
    (
        "stages_is_a_list",
        "name: p\nstages: [a, b]\n",
        "p.yaml:2:9: stages: expected a mapping, found a list",
    ),
    (
        "bad_stage_name",
        "name: p\nstages:\n  'a b': {kind: judge}\n",
        "p.yaml:3:3: stages.a b: invalid stage name \"a b\"; use letters, digits, '_' and '-'",
    ),
    (
        "stage_not_a_mapping",
        "name: p\nstages:\n  a: judge\n",
        "p.yaml:3:6: stages.a: expected a mapping, found the string \"judge\"",
    ),
    (
        "missing_kind",
        "name: p\nstages:\n  a:\n    params: {}\n",
        "p.yaml:4:5: stages.a.kind: missing required key 'kind'; expected one of: teacher, judge, distill, evaluate, report, command",
    ),
    (
        "unknown_kind",
        "name: p\nstages:\n  a:\n    kind: distil\n",
        "p.yaml:4:11: stages.a.kind: unknown stage kind \"distil\" (did you mean 'distill'?); expected one of: teacher, judge, distill, evaluate, report, command",
    ),
    (
        "kind_not_a_string",
        "name: p\nstages:\n  a:\n    kind: [judge]\n",
        "p.yaml:4:11: stages.a.kind: expected a string, found a list",
    ),
    (
        "needs_self",
        "name: p\nstages:\n  a:\n    kind: judge\n    needs: [a]\n",
        "p.yaml:5:13: stages.a.needs[0]: stage 'a' cannot need itself",
    ),
    (
        "needs_unknown",
        "name: p\nstages:\n  teacher: {kind: teacher}\n  b:\n    kind: distill\n    needs: [teachr]\n",
        "p.yaml:6:13: stages.b.needs[0]: unknown stage \"teachr\" (did you mean 'teacher'?); stages in this file: teacher, b",
    ),
    (
        "needs_twice",
        "name: p\nstages:\n  a: {kind: judge}\n  b:\n    kind: judge\n    needs: [a, a]\n",
        "p.yaml:6:16: stages.b.needs[1]: stage 'a' is listed twice in needs",
    ),
    (
        "needs_wrong_type",
        "name: p\nstages:\n  a:\n    kind: judge\n    needs: 3\n",
        "p.yaml:5:12: stages.a.needs: expected a stage name or a list of stage names, found the number 3",
    ),
    (
        "cycle_of_two",
        "name: p\nstages:\n  a:\n    kind: judge\n    needs: b\n  b:\n    kind: judge\n    needs: a\n",
        "p.yaml:5:12: stages.a.needs: needs form a cycle: a -> b -> a",
    ),
    (
        "cycle_of_three",
        "name: p\nstages:\n  c: {kind: judge, needs: [a]}\n  a: {kind: judge, needs: [b]}\n  b: {kind: judge, needs: [c]}\n",
        "p.yaml:3:28: stages.c.needs[0]: needs form a cycle: c -> a -> b -> c",
    ),
    (
        "gpus_negative",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { gpus: -1 }\n",
        "p.yaml:5:24: stages.a.resources.gpus: expected a whole number from 0 to 64, found the number -1",
    ),
    (
        "gpus_huge",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { gpus: 99999999999999999999999 }\n",
        "p.yaml:5:24: stages.a.resources.gpus: expected a whole number from 0 to 64, found the number 99999999999999999999999",
    ),
    (
        "gpus_over_limit",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { gpus: 65 }\n",
        "p.yaml:5:24: stages.a.resources.gpus: expected a whole number from 0 to 64, found the number 65",
    ),
    (
        "max_submitted_zero",
        "name: p\nstages:\n  a: {kind: judge}\nexecutor: { kind: slurm, max_submitted: 0 }\n",
        "p.yaml:4:41: executor.max_submitted: expected a whole number from 1 to 100000, found the number 0",
    ),
    (
        "nodes_zero",
        "name: p\nstages:\n  a:\n    kind: command\n    resources: { nodes: 0 }\n    params: { run: \"true\" }\n",
        "p.yaml:5:25: stages.a.resources.nodes: expected a whole number from 1 to 1024, found the number 0",
    ),
    (
        "cpus_zero",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { cpus: 0 }\n",
        "p.yaml:5:24: stages.a.resources.cpus: expected a whole number from 1 to 256, found the number 0",
    ),
    (
        "gpus_string",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { gpus: one }\n",
        "p.yaml:5:24: stages.a.resources.gpus: expected a whole number from 0 to 64, found the string \"one\"",
    ),
    (
        "share_gpu_yes",
        "name: p\nstages:\n  a:\n    kind: judge\n    resources: { share_gpu: yes }\n",
        "p.yaml:5:29: stages.a.resources.share_gpu: expected true or false, found the string \"yes\"",
    ),
    (
        "retries_too_many",
        "name: p\nstages:\n  a:\n    kind: judge\n    retries: 101\n",
        "p.yaml:5:14: stages.a.retries: expected a whole number from 0 to 100, found the number 101",
    ),
    (
        "retries_fraction",
        "name: p\nstages:\n  a:\n    kind: judge\n    retries: 1.5\n",
        "p.yaml:5:14: stages.a.retries: expected a whole number from 0 to 100, found the number 1.5",
    ),
    (
        "timeout_zero",
        "name: p\nstages:\n  a:\n    kind: judge\n    timeout: 0\n",
        "p.yaml:5:14: stages.a.timeout: expected a timeout greater than 0 seconds, found 0",
    ),
    (
        "timeout_words",
        "name: p\nstages:\n  a:\n    kind: judge\n    timeout: 10 minutes\n",
        "p.yaml:5:14: stages.a.timeout: expected a duration such as \"90s\", \"30m\", \"2h\" or \"1h30m\", or a number of seconds; found \"10 minutes\"",
    ),
    (
        "timeout_negative",
        "name: p\nstages:\n  a:\n    kind: judge\n    timeout: -5\n",
        "p.yaml:5:14: stages.a.timeout: expected a timeout greater than 0 seconds, found -5",
    ),
    (
        "timeout_too_long",
        "name: p\nstages:\n  a:\n    kind: judge\n    timeout: 99999h\n",
        "p.yaml:5:14: stages.a.timeout: timeout of 359996400 seconds is too long; at most 365 days",
    ),
    (
        "matrix_empty_axis",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      lr: []\n",
        "p.yaml:6:11: stages.a.matrix.lr: axis 'lr' has no values; expected a non-empty list",
    ),
    (
        "matrix_axis_not_a_list",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      lr: 0.1\n",
        "p.yaml:6:11: stages.a.matrix.lr: expected a list of values for axis 'lr', found the number 0.1",
    ),
    (
        "matrix_mapping_without_name",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      terms:\n        - { ca: 1.0 }\n",
        "p.yaml:7:11: stages.a.matrix.terms[0]: a matrix value that is a mapping needs a 'name' key (its label in job names)",
    ),
    (
        "matrix_duplicate_value",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      lr: [0.1, 0.2, 0.1]\n",
        "p.yaml:6:22: stages.a.matrix.lr[2]: duplicate value \"0.1\" in axis 'lr' (first at line 6, column 12)",
    ),
    (
        "matrix_label_with_comma",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      opt: [\"adam,sgd\"]\n",
        "p.yaml:6:13: stages.a.matrix.opt[0]: matrix value \"adam,sgd\" contains one of , = [ ] which delimit job names; to sweep it as a value, label it with the {name: …} form under an axis of another name: opt_label: [{name: adam-sgd, opt: \"adam,sgd\"}]",
    ),
    (
        "matrix_number_list_with_comma",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      betas: [\"0.9, 0.999\"]\n",
        "p.yaml:6:15: stages.a.matrix.betas[0]: matrix value \"0.9, 0.999\" contains one of , = [ ] which delimit job names; to sweep it as a value, label it with the {name: …} form under an axis of another name: betas_label: [{name: 0.9-0.999, betas: \"0.9, 0.999\"}]",
    ),
    (
        "matrix_named_label_with_comma",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      terms: [{name: \"CA, DM\", ca: 1}]\n",
        "p.yaml:6:22: stages.a.matrix.terms[0].name: matrix value \"CA, DM\" contains one of , = [ ] which delimit job names",
    ),
    (
        "matrix_extra_collides_with_axis",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      terms:\n        - { name: x, schedule: hybrid }\n      schedule: [coupled]\n",
        "p.yaml:7:22: stages.a.matrix.terms[0].schedule: key 'schedule' collides with the matrix axis of the same name",
    ),
    (
        "matrix_too_large",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix:\n      a: [0,1,2,3,4,5,6,7,8,9]\n      b: [0,1,2,3,4,5,6,7,8,9]\n      c: [0,1,2,3,4,5,6,7,8,9]\n      d: [0,1,2,3,4,5,6,7,8,9]\n      e: [0,1]\n",
        "p.yaml:6:7: stages.a.matrix: the matrix has 20000 points; at most 10000 are allowed",
    ),
    (
        "include_unknown_axis",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix: { lr: [1, 2] }\n    include: [ { lrr: 3 } ]\n",
        "p.yaml:6:18: stages.a.include[0].lrr: unknown axis 'lrr' (did you mean 'lr'?); axes of this stage: lr",
    ),
    (
        "exclude_unknown_axis",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix: { lr: [1, 2] }\n    exclude:\n      - { lr: 1, width: 8 }\n",
        "p.yaml:7:18: stages.a.exclude[0].width: unknown axis 'width'; axes of this stage: lr",
    ),
    (
        "exclude_unknown_value",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix: { schedule: [coupled, constrained] }\n    exclude: [ { schedule: constrainted } ]\n",
        "p.yaml:6:28: stages.a.exclude[0].schedule: \"constrainted\" is not a value of axis 'schedule' (did you mean 'constrained'?); its values: coupled, constrained",
    ),
    (
        "include_without_matrix",
        "name: p\nstages:\n  a:\n    kind: judge\n    include: [ { lr: 3 } ]\n",
        "p.yaml:5:18: stages.a.include[0].lr: unknown axis 'lr': this stage has no matrix",
    ),
    (
        "exclude_empty_entry",
        "name: p\nstages:\n  a:\n    kind: judge\n    matrix: { lr: [1, 2] }\n    exclude: [ {} ]\n",
        "p.yaml:6:16: stages.a.exclude[0]: an exclude entry needs at least one axis: value",
    ),
    (
        "command_without_run",
        "name: p\nstages:\n  a:\n    kind: command\n    params: { cmd: ls }\n",
        "p.yaml:5:13: stages.a.params.run: a command stage needs params.run, the shell command to run",
    ),
    (
        "command_run_not_string",
        "name: p\nstages:\n  a:\n    kind: command\n    params:\n      run: [ls, -l]\n",
        "p.yaml:6:12: stages.a.params.run: expected a string (the shell command to run), found a list",
    ),
    (
        "inputs_on_builtin_stage",
        "name: p\nstages:\n  a:\n    kind: judge\n    inputs: [data.csv]\n",
        "p.yaml:5:13: stages.a.inputs: inputs are only for command stages and evaluate stages (a scorer's script); other built-in stages know their inputs",
    ),
    (
        "prompts_on_builtin_stage",
        "name: p\nstages:\n  a:\n    kind: evaluate\n    prompts: { text: p.txt }\n",
        "p.yaml:5:14: stages.a.prompts: prompts are drawn by a command stage (your sampler); built-in stages draw the shapes prompts themselves",
    ),
    (
        "prompts_two_sources",
        "name: p\nstages:\n  a:\n    kind: command\n    prompts: { text: p.txt, jsonl: p.jsonl }\n    params: { run: ls }\n",
        "p.yaml:5:14: stages.a.prompts: expected one prompt source, found text and jsonl: keep one",
    ),
    (
        "prompts_no_source",
        "name: p\nstages:\n  a:\n    kind: command\n    prompts: { images_per_prompt: 4 }\n    params: { run: ls }\n",
        "p.yaml:5:14: stages.a.prompts: expected one prompt source: shapes, dpg_bench, text, jsonl",
    ),
    (
        "prompts_unknown_key",
        "name: p\nstages:\n  a:\n    kind: command\n    prompts: { text: p.txt, images: 4 }\n    params: { run: ls }\n",
        "p.yaml:5:29: stages.a.prompts.images: unknown key 'images' in prompts (did you mean 'shapes'?); allowed keys: shapes, dpg_bench, text, jsonl, images_per_prompt, seed, limit",
    ),
    (
        "prompts_too_many_images",
        "name: p\nstages:\n  a:\n    kind: command\n    prompts: { text: p.txt, images_per_prompt: 0 }\n    params: { run: ls }\n",
        "p.yaml:5:48: stages.a.prompts.images_per_prompt: expected a whole number from 1 to 64, found the number 0",
    ),
    (
        "params_not_a_mapping",
        "name: p\nstages:\n  a:\n    kind: judge\n    params: [1, 2]\n",
        "p.yaml:5:13: stages.a.params: expected a mapping, found a list",
    ),
    (
        "defaults_a_list",
        "name: p\ndefaults: [seed]\nstages:\n  a: {kind: judge}\n",
        "p.yaml:2:11: defaults: expected a mapping, found a list",
    ),
    (
        "fan_in_not_bool",
        "name: p\nstages:\n  a:\n    kind: report\n    fan_in: sometimes\n",
        "p.yaml:5:13: stages.a.fan_in: expected true or false, found the string \"sometimes\"",
    ),
    (
        "description_number",
        "name: p\ndescription: 42\nstages:\n  a: {kind: judge}\n",
        "p.yaml:2:14: description: expected a string, found the number 42",
    ),
    (
        "executor_bad_kind",
        "name: p\nexecutor: { kind: slrum }\nstages:\n  a: {kind: judge}\n",
        "p.yaml:2:19: executor.kind: unknown executor kind \"slrum\" (did you mean 'slurm'?); expected one of: local, slurm",
    ),
    (
        "executor_unknown_key",
        "name: p\nexecutor:\n  kind: slurm\n  queue: gpu\nstages:\n  a: {kind: judge}\n",
        "p.yaml:4:3: executor.queue: unknown key 'queue' in executor; allowed keys: kind, partition, account, qos, extra, max_submitted",
    ),
    (
        "alias_bomb",
        "name: p\ndefaults:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\nstages:\n  a: {kind: judge}\n",
        "p.yaml:8:10: defaults.f[0]: the document expands to more than 100000 values (aliases included); refusing to read it",
    ),
    (
        "deep_nesting",
        "DEEP",
        "p.yaml:6:70: stages.a.params.x[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting deeper than 64 levels; refusing to read further",
    ),
    (
        "two_documents",
        "name: p\nstages:\n  a: {kind: judge}\n---\nname: q\n",
        "p.yaml:4:1: expected a single YAML document, found a second one (`---`)",
    ),
    (
        "merge_key",
        "name: p\ndefaults: &d {seed: 1}\nstages:\n  a:\n    kind: judge\n    params:\n      <<: *d\n",
        "p.yaml:7:7: stages.a.params: merge keys ('<<') are not supported; write the keys out, or alias the whole mapping",
    ),
    (
        "unknown_alias",
        "name: p\nstages:\n  a:\n    kind: judge\n    params: *nothing\n",
        "p.yaml:5:13: invalid YAML: while parsing node, found unknown anchor",
    ),
    (
        "nan_param",
        "name: p\nstages:\n  a:\n    kind: judge\n    params: { lr: .nan }\n",
        "p.yaml:5:19: stages.a.params.lr: .nan is not a finite number; parameters must be finite",
    ),
    (
        "huge_int_param",
        "name: p\nstages:\n  a:\n    kind: judge\n    params: { steps: 123456789012345678901234567890 }\n",
        "p.yaml:5:22: stages.a.params.steps: the number 123456789012345678901234567890 does not fit in 64 bits; write it as a string or a float",
    ),
    (
        "custom_tag",
        "name: p\nstages:\n  a:\n    kind: !custom judge\n",
        "p.yaml:4:19: stages.a.kind: unsupported YAML tag '!custom'; only !!str, !!int, !!float, !!bool and !!null are understood",
    ),
    (
        "complex_key",
        "name: p\nstages:\n  a:\n    kind: judge\n    params:\n      ? [x, y]\n      : 1\n",
        "p.yaml:6:9: stages.a.params: expected a plain key, found a list used as a key",
    ),
    (
        "many_errors_sorted",
        "name: p\nbogus: 1\nstages:\n  b:\n    kind: jugde\n    needs: [zzz]\n  a:\n    kind: judge\n    retries: -1\n",
        "p.yaml:2:1: bogus: unknown key 'bogus' in the pipeline; allowed keys: name, description, defaults, stages, executor\np.yaml:5:11: stages.b.kind: unknown stage kind \"jugde\" (did you mean 'judge'?); expected one of: teacher, judge, distill, evaluate, report, command\np.yaml:6:13: stages.b.needs[0]: unknown stage \"zzz\"; stages in this file: b, a\np.yaml:9:14: stages.a.retries: expected a whole number from 0 to 100, found the number -1",
    ),
];

/// 200 nested flow lists: deeper than the reader allows.
fn deep() -> String {
    format!(
        "name: p\nstages:\n  a:\n    kind: judge\n    params:\n      x: {}{}\n",
        "[".repeat(200),
        "]".repeat(200)
    )
}

fn run(text: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let out = match parse_str(Path::new("p.yaml"), text) {
        Ok(_) => "<accepted>".to_string(),
        Err(e) => {
            assert!(
                !e.0.is_empty(),
                "an error result must hold at least one error"
            );
            e.to_string()
        }
    };
    (out, t0.elapsed())
}

#[test]
fn every_invalid_pipeline_gets_its_exact_errors_fast() {
    assert!(
        CASES.len() >= 40,
        "the brief asks for at least 40 invalid pipelines"
    );
    let mut failures = Vec::new();
    let mut actual = serde_json::Map::new();
    for (name, text, expected) in CASES {
        let text = if *text == "DEEP" {
            deep()
        } else {
            text.to_string()
        };
        let (got, took) = run(&text);
        actual.insert(name.to_string(), serde_json::Value::String(got.clone()));
        if got != *expected {
            failures.push(format!(
                "{name}:\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
        assert!(took < Duration::from_secs(1), "{name} took {took:?}");
    }
    if let Ok(p) = std::env::var("SPEC_CASES_DUMP") {
        let _ = std::fs::write(p, serde_json::Value::Object(actual).to_string());
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- bad --set arguments ---------------------------------------------------------------

const BASE: &str = "name: p\ndefaults: { lr: 0.1, data: { res: 16 } }\nstages:\n  train:\n    kind: command\n    matrix: { width: [8, 16], terms: [ { name: t, ca: 1 } ] }\n    params: { run: \"true\", lr: 0.2 }\n  report: { kind: report, needs: train }\n";

/// (arguments, every error expected).
const SET_CASES: &[(&[&str], &str)] = &[
    (&["lr"], "--set: expected key=value (e.g. lr=0.1 or lr=0.1,0.01), found \"lr\""),
    (&["lr="], "--set: lr: missing value after '=' in \"lr=\"; to set an empty string write lr=\"''\""),
    (&["a..b=1"], "--set: a..b: invalid key \"a..b\" (component \"\"); use letters, digits, '_' and '-' separated by dots"),
    (&["=1"], "--set: invalid key \"\" (component \"\"); use letters, digits, '_' and '-' separated by dots"),
    (&["lr=[1,2"], "--set: lr: unbalanced quotes or brackets in \"[1,2\""),
    (&["lr=0.1,,0.2"], "--set: lr: empty value in the list \"0.1,,0.2\""),
    (&["lr=1,1"], "--set: lr: value 1 is listed twice"),
    (&["lr=.nan"], "--set: lr: invalid value \".nan\": .nan is not a finite number; parameters must be finite"),
    (&["train=1"], "--set: train: 'train' is a stage; expected train.<param>=value"),
    (&["trian.lr=1"], "--set: trian.lr: unknown stage 'trian' (did you mean 'train'?); stages: train, report"),
    (&["train.width=4"], "--set: train.width: 'width' is already a matrix axis of stage 'train'; change the matrix (or its include/exclude) in the file instead"),
    (&["width=4,5"], "--set: width: 'width' is already a matrix axis of stage 'train'; change the matrix (or its include/exclude) in the file instead"),
    (&["lr=1,2", "train.lr=3,4"], "--set: train.lr: 'lr' is already a matrix axis of stage 'train'; change the matrix (or its include/exclude) in the file instead"),
    (&["data.res.x=1"], "--set: data.res.x: in defaults: 'data.res' is the number 16, not a mapping"),
    (&["train.run.x=1"], "--set: train.run.x: 'run' is the string \"true\", not a mapping"),
    (&["train.ca=2"], "--set: train.ca: 'ca' is set by the values of matrix axis 'terms' of stage 'train', which would override this --set; change the matrix in the file instead"),
    (&["ca=2"], "--set: ca: 'ca' is set by the values of matrix axis 'terms' of stage 'train', which would override this --set; change the matrix in the file instead"),
    (&["opt=adam,'a,b'"], "--set: opt: matrix value \"a,b\" contains one of , = [ ] which delimit job names"),
];

#[test]
fn bad_set_arguments_get_their_exact_errors() {
    let mut failures = Vec::new();
    for (args, expected) in SET_CASES {
        let spec = parse_str(Path::new("p.yaml"), BASE);
        let Ok(mut spec) = spec else {
            panic!("the base pipeline must be valid");
        };
        let mut ovs = Vec::new();
        let mut got = None;
        for a in *args {
            match ddmd_pipeline::parse_override(a) {
                Ok(o) => ovs.push(o),
                Err(e) => {
                    got = Some(e.to_string());
                    break;
                }
            }
        }
        let got = match got {
            Some(g) => g,
            None => match ddmd_pipeline::apply_overrides(&mut spec, &ovs) {
                Ok(()) => "<accepted>".to_string(),
                Err(e) => e.to_string(),
            },
        };
        if got != *expected {
            failures.push(format!(
                "{args:?}:\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
