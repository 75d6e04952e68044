//! `ddmd-pipe env <pipeline> <job>`: a command job's environment as `sh` lines, so that its
//! script can be run by hand (a debugger, a notebook) as the scheduler would run it: in the
//! pipeline's folder, with `import ddmd_events` working. Events and artifacts go to a scratch
//! folder of the home (`<home>/manual/<key>/`), never into the folders a run publishes.

use super::spec_load::{build_plan, load_spec, pipeline_dir};
use crate::cli::EnvArgs;
use crate::error::bad;
use crate::home::Home;
use ddmd_core::text::shell_quote;
use ddmd_core::StageKind;

pub fn env(args: &EnvArgs, home: &Home) -> anyhow::Result<i32> {
    let loaded = load_spec(&args.spec)?;
    let plan = build_plan(&loaded, home)?;
    let named: Vec<&crate::plan::Job> = plan
        .jobs
        .iter()
        .filter(|j| j.id.as_str() == args.job)
        .collect();
    let stage_jobs: Vec<&crate::plan::Job> = plan
        .jobs
        .iter()
        .filter(|j| j.stage.as_str() == args.job)
        .collect();
    let job = match (named.first(), stage_jobs.as_slice()) {
        (Some(j), _) => *j,
        (None, [only]) => *only,
        (None, []) => {
            let names: Vec<&str> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
            let hint = ddmd_core::suggest::did_you_mean(&args.job, names.iter().copied());
            return Err(bad(format!(
                "no job '{}' in {}{hint}; jobs: {}",
                args.job,
                loaded.spec.file.display(),
                names.join(", ")
            )));
        }
        (None, many) => {
            let names: Vec<&str> = many.iter().map(|j| j.id.as_str()).collect();
            return Err(bad(format!(
                "stage '{}' has {} jobs; name one: {}",
                args.job,
                many.len(),
                names.join(", ")
            )));
        }
    };
    if job.kind != StageKind::Command {
        return Err(bad(format!(
            "'{}' is a built-in {} job; only command jobs run a command of yours (run it with `ddmd-pipe run`)",
            job.id, job.kind
        )));
    }
    let scratch = home.root().join("manual").join(job.cache_key.short());
    let mut vars: Vec<(String, String)> = python_helper_env(home)?;
    vars.extend([
        ("DDMD_HOME".to_string(), home.root().display().to_string()),
        ("DDMD_JOB".to_string(), job.id.to_string()),
        ("DDMD_JOB_DIR".to_string(), scratch.display().to_string()),
        (
            "DDMD_EVENTS".to_string(),
            scratch.join("events.jsonl").display().to_string(),
        ),
        (
            "DDMD_ARTIFACTS".to_string(),
            scratch.join("artifacts").display().to_string(),
        ),
        ("DDMD_CPUS".to_string(), job.resources.cpus.to_string()),
        ("DDMD_ATTEMPT".to_string(), "1".to_string()),
        // `{{ launch }}`: a run hands out a rendezvous port; by hand, torchrun finds one.
        (
            "DDMD_LAUNCH".to_string(),
            format!(
                "torchrun --standalone --nnodes=1 --nproc_per_node={}",
                job.resources.gpus.max(1)
            ),
        ),
    ]);
    let sets: String = args
        .spec
        .set
        .iter()
        .map(|s| format!(" --set {}", shell_quote(s)))
        .collect();
    let mut out = format!(
        "# {} of pipeline {} (cache key {}), as `ddmd-pipe run` would run it, except that\n\
         # events and artifacts go to a scratch folder. Run it with\n\
         #   ddmd-pipe env {} {}{sets} | sh\n\
         # or paste all but the last line into a shell (a debugger, a notebook) and go on there.\n",
        job.id,
        plan.pipeline,
        job.cache_key.short(),
        shell_quote(&loaded.spec.file.display().to_string()),
        shell_quote(job.id.as_str()),
    );
    if job.prompts.is_some() {
        out.push_str(
            "# this job draws a prompt set: $DDMD_PROMPTS and $DDMD_IMAGES are set only by `ddmd-pipe run`\n",
        );
    }
    out.push_str(&format!(
        "cd {}\n",
        shell_quote(&pipeline_dir(&loaded.spec).display().to_string())
    ));
    for (k, v) in &vars {
        out.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    out.push_str("mkdir -p \"$DDMD_ARTIFACTS\"\n");
    if let Some(c) = &job.command {
        out.push_str(c);
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

/// The events helper ships inside the binary, so `import ddmd_events` works in every command
/// stage without installing anything: written to `<home>/python/` and put on `PYTHONPATH`.
pub fn python_helper_env(home: &Home) -> anyhow::Result<Vec<(String, String)>> {
    let dir = home.layout().python_dir();
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("ddmd_events.py");
    let src = include_str!("../../python/ddmd_events.py");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(src) {
        // Written aside and renamed: another pipeline starting on this home may be importing
        // it right now, and must never see half a file.
        let tmp = dir.join(format!("ddmd_events.py.{}.tmp", std::process::id()));
        std::fs::write(&tmp, src)?;
        std::fs::rename(&tmp, &file)?;
    }
    let mut path = dir.display().to_string();
    if let Ok(old) = std::env::var("PYTHONPATH") {
        if !old.is_empty() {
            path = format!("{path}:{old}");
        }
    }
    Ok(vec![("PYTHONPATH".into(), path)])
}
