//! Spec -> Plan: stage order, fan-out over upstream matrix points (a natural join on shared
//! axes, so `evaluate` after `distill[terms=…]` gets one job per distill job), fan-in, own
//! matrix product, parameter layering, command rendering and cache keys.

use super::cache_key::{cache_key, hash_file, CacheInputs};
use super::render::{render_command, CommandJob};
use super::{Job, JobIx, Plan};
use ddmd_core::{JobId, StageKind, StageName};
use ddmd_pipeline::{Override, Spec, SpecError, SpecErrors};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Resolves every job, and finds every problem a pipeline can have past its structure in one
/// pass: parameters, report parameters, templates, input files, `--set` keys nothing reads.
/// `home` is where artifacts will live (command templates may name upstream artifact
/// folders); `base_dir`, the pipeline file's folder (absolute), is where relative paths are
/// read from and where command jobs run.
pub fn resolve(
    spec: &Spec,
    home: &Path,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Plan, SpecErrors> {
    let order = stage_order(spec);
    let mut jobs: Vec<Job> = Vec::new();
    let mut by_stage: HashMap<StageName, Vec<JobIx>> = HashMap::new();
    let mut by_id: HashMap<JobId, JobIx> = HashMap::new();
    let mut errors = super::params_check::check_defaults(spec);
    errors.extend(super::report_check::check(spec));
    errors.extend(super::set_reads::check(spec, overrides));
    // Template problems already reported, per stage: every job of a stage shares its
    // template, so a name missing from one is reported once, not once per matrix point.
    let mut template_reported: HashSet<(StageName, String)> = HashSet::new();

    for name in order {
        let stage = &spec.stages[&name];
        // Upstream combinations: (inherited point, needed jobs).
        let mut combos: Vec<(Map<String, Value>, Vec<JobIx>)> = vec![(Map::new(), Vec::new())];
        if stage.fan_in {
            let all: Vec<JobIx> = stage
                .needs
                .iter()
                .flat_map(|n| by_stage.get(n).cloned().unwrap_or_default())
                .collect();
            combos[0].1 = all;
        } else {
            for need in &stage.needs {
                let ups = by_stage.get(need).cloned().unwrap_or_default();
                let mut next = Vec::new();
                for (pt, needs) in &combos {
                    for &u in &ups {
                        if let Some(merged) = join(pt, &jobs[u].point) {
                            let mut n = needs.clone();
                            n.push(u);
                            next.push((merged, n));
                        }
                    }
                }
                combos = next;
            }
        }

        // One read per stage: every job of the stage draws the same set.
        let prompt_set = match &stage.prompts {
            None => None,
            Some(decl) => match super::prompts::load(decl, base_dir) {
                Ok(set) => Some(std::sync::Arc::new(set)),
                Err(e) => {
                    errors.push(located(
                        spec,
                        &format!("stages.{name}.prompts.{}", decl.source.key()),
                        e,
                    ));
                    continue;
                }
            },
        };
        // A built-in stage runs in one process on one device: more GPUs would sit idle while
        // other jobs wait for them.
        if stage.kind != StageKind::Command && stage.resources.gpus > 1 {
            errors.push(located(
                spec,
                &format!("stages.{name}.resources.gpus"),
                format!(
                    "a built-in {} job uses one GPU; {} would leave {} idle: use gpus: 1 (a matrix runs several jobs side by side, one GPU each), or a command stage with {{{{ launch }}}} for data-parallel training",
                    stage.kind,
                    stage.resources.gpus,
                    stage.resources.gpus - 1
                ),
            ));
        }
        // Only a command stage starts processes on other nodes (`{{ launch }}`).
        if stage.kind != StageKind::Command && stage.resources.nodes > 1 {
            errors.push(located(
                spec,
                &format!("stages.{name}.resources.nodes"),
                format!(
                    "a built-in {} job is one process on one machine; {} nodes would leave {} idle: use nodes: 1, or a command stage with {{{{ launch }}}} for multi-node training",
                    stage.kind,
                    stage.resources.nodes,
                    stage.resources.nodes - 1
                ),
            ));
        }
        if stage.kind == StageKind::Evaluate {
            for need in &stage.needs {
                let up = &spec.stages[need];
                if up.kind == StageKind::Command && up.prompts.is_none() {
                    errors.push(located(
                        spec,
                        &format!("stages.{name}.needs"),
                        format!("evaluate scores the images a command stage draws for a prompt set; stage '{need}' has no `prompts:` block (see docs/PIPELINES.md, \"Drawing images\")"),
                    ));
                }
            }
        }
        let own = ddmd_pipeline::expand(stage);
        if own.is_empty() {
            // A stage with no job would silently run nothing, and its dependants nothing or
            // a template error about an undefined value: name the cause instead.
            errors.push(located(
                spec,
                &format!("stages.{name}.exclude"),
                format!("exclude removes every point of the matrix of stage '{name}'; expected at least one job to remain"),
            ));
            continue;
        }
        let mut stage_jobs = Vec::new();
        for (inherited, needs) in &combos {
            for own_pt in &own {
                let mut own_map = Map::new();
                for (axis, v) in &own_pt.0 {
                    own_map.insert(axis.clone(), v.value.clone());
                }
                let Some(point) = join(inherited, &own_map) else {
                    continue;
                };
                let labels: Vec<(String, String)> = point
                    .iter()
                    .map(|(k, v)| (k.clone(), ddmd_pipeline::label_of(v)))
                    .collect();
                let id = ddmd_pipeline::job_name(&name, &labels);

                let mut params = spec.defaults.clone();
                deep_merge(&mut params, &stage.params);
                for (axis, v) in &own_pt.0 {
                    set_path(&mut params, axis, v.value.clone());
                    deep_merge(&mut params, &v.extra);
                }

                errors.extend(super::params_check::check_job(spec, stage, own_pt, &params));

                if by_id.contains_key(&id) {
                    errors.push(located(
                        spec,
                        &format!("stages.{name}"),
                        format!("two jobs resolve to the same name `{id}`: make the matrix values (or include entries) distinct"),
                    ));
                    continue;
                }

                let command = if stage.kind == StageKind::Command {
                    let job = CommandJob {
                        stage: &name,
                        params: &params,
                        point: &point,
                        needs,
                        jobs: &jobs,
                        home,
                        pipeline_dir: base_dir,
                    };
                    match render_command(spec, &job) {
                        Ok(c) => Some(c),
                        // The job is still made, so that the stages after it are resolved
                        // and checked in this same pass; the plan is refused anyway.
                        Err(problems) => {
                            for p in problems {
                                if template_reported.insert((name.clone(), p.key)) {
                                    errors.push(p.error);
                                }
                            }
                            None
                        }
                    }
                } else {
                    None
                };

                let mut inputs = Vec::new();
                for (i, p) in stage.inputs.iter().enumerate() {
                    let full = if p.is_absolute() {
                        p.clone()
                    } else {
                        base_dir.join(p)
                    };
                    match hash_file(&full) {
                        Ok(h) => inputs.push((p.display().to_string(), h)),
                        Err(e) => errors.push(located(
                            spec,
                            &format!("stages.{name}.inputs[{i}]"),
                            format!("cannot read input file {}: {e}", full.display()),
                        )),
                    }
                }

                if let Some(set) = &prompt_set {
                    inputs.push((format!("prompts ({})", set.source), set.fingerprint()));
                }
                if stage.kind == StageKind::Evaluate {
                    let up_kind =
                        |k: StageKind| stage.needs.iter().any(|n| spec.stages[n].kind == k);
                    for (path, e) in super::param_files::check_upstream(
                        &params,
                        up_kind(StageKind::Command),
                        up_kind(StageKind::Judge),
                    ) {
                        errors.push(located(spec, &format!("stages.{name}.params.{path}"), e));
                    }
                }
                match super::param_files::resolve(stage.kind, &mut params, base_dir) {
                    Ok(files) => inputs.extend(files),
                    Err((path, e)) => {
                        errors.push(located(spec, &format!("stages.{name}.params.{path}"), e))
                    }
                }
                let upstream_keys = needs.iter().map(|&u| jobs[u].cache_key.clone()).collect();
                let key = cache_key(&CacheInputs {
                    stage: name.as_str(),
                    kind: stage.kind,
                    params: &params,
                    upstream: upstream_keys,
                    command: command.as_deref(),
                    inputs: inputs.clone(),
                });

                let ix = jobs.len();
                by_id.insert(id.clone(), ix);
                stage_jobs.push(ix);
                jobs.push(Job {
                    id,
                    stage: name.clone(),
                    kind: stage.kind,
                    point,
                    params,
                    needs: needs.clone(),
                    resources: stage.resources,
                    retries: stage.retries,
                    timeout: stage.timeout,
                    command,
                    prompts: prompt_set.clone(),
                    inputs,
                    cache_key: key,
                    critical_path: 1.0,
                });
            }
        }
        by_stage.insert(name.clone(), stage_jobs);
    }

    if !errors.is_empty() {
        super::params_check::dedup(&mut errors);
        return Err(SpecErrors::sorted(errors));
    }
    let mut plan = Plan {
        pipeline: spec.name.clone(),
        jobs,
    };
    set_critical_paths(&mut plan, |_| 1.0);
    Ok(plan)
}

/// Longest weighted path from each job to a sink (this job included).
pub fn set_critical_paths(plan: &mut Plan, weight: impl Fn(&Job) -> f64) {
    let n = plan.jobs.len();
    let mut children: Vec<Vec<JobIx>> = vec![Vec::new(); n];
    for (j, job) in plan.jobs.iter().enumerate() {
        for &u in &job.needs {
            children[u].push(j);
        }
    }
    let mut cp = vec![0.0; n];
    for j in (0..n).rev() {
        let below = children[j].iter().map(|&c| cp[c]).fold(0.0, f64::max);
        cp[j] = weight(&plan.jobs[j]) + below;
    }
    for (job, c) in plan.jobs.iter_mut().zip(cp) {
        job.critical_path = c;
    }
}

/// Stages in dependency order, file order among independent stages. The spec has already
/// rejected cycles and unknown needs.
fn stage_order(spec: &Spec) -> Vec<StageName> {
    let mut done: Vec<StageName> = Vec::new();
    let mut remaining: Vec<&StageName> = spec.stages.keys().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|name| {
            let ready = spec.stages[*name].needs.iter().all(|n| done.contains(n));
            if ready {
                done.push((*name).clone());
            }
            !ready
        });
        if remaining.len() == before {
            // Unreachable after validation; never loop forever on a bad spec.
            done.extend(remaining.drain(..).cloned());
        }
    }
    done
}

/// Natural join of two points: `None` when a shared axis disagrees.
fn join(a: &Map<String, Value>, b: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut out = a.clone();
    for (k, v) in b {
        match out.get(k) {
            Some(existing) if existing != v => return None,
            Some(_) => {}
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Some(out)
}

/// Recursive merge: mappings merge key by key, anything else replaces.
pub fn deep_merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(dst)), Value::Object(src)) => deep_merge(dst, src),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Sets `a.b.c` in nested mappings, creating them as needed.
fn set_path(into: &mut Map<String, Value>, dotted: &str, value: Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let last = parts.pop().unwrap_or(dotted);
    let mut cur = into;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
    cur.insert(last.to_string(), value);
}

pub(super) fn located(spec: &Spec, path: &str, message: String) -> SpecError {
    let loc = ddmd_pipeline::location(spec, path);
    SpecError {
        file: spec.file.clone(),
        line: loc.map(|l| l.0),
        column: loc.map(|l| l.1),
        path: path.to_string(),
        message,
    }
}
