//! Multi-process command jobs through `{{ launch }}` with real `torch.distributed` on CPU
//! (gloo): two 2-process jobs started at the same time on this machine each complete their
//! all-reduces with the right sum, on rendezvous ports the scheduler gave them (different,
//! recorded with each run); the metric every rank logs is in the database once per step (rank
//! 0's), and a per-rank metric once per rank.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};

#[test]
fn two_torchrun_jobs_side_by_side_get_their_own_ports_and_log_once() {
    let env = Env::new();
    let bin = repo().join(".venv/bin");
    let yaml = format!(
        r#"
name: ddp
stages:
  train:
    kind: command
    resources: {{ gpus: 2 }}
    matrix: {{ variant: [a, b] }}
    params:
      run: "PATH={bin}:$PATH {{{{ launch }}}} {script} --steps 3"
"#,
        bin = bin.display(),
        script = repo().join("python/examples/ddp_allreduce.py").display()
    );
    let p = env.pipeline("ddp.yaml", &yaml);
    // No visible GPU: the test means the same (gloo on CPU) on a machine with GPUs.
    let out = env
        .cmd()
        .env("CUDA_VISIBLE_DEVICES", "")
        .args(["run", p.to_str().unwrap(), "-j", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Both ran at once: each started before the other ended.
    let times = env.sql("select started_at, ended_at from runs order by job_name");
    let (s0, e0): (f64, f64) = (times[0][0].parse().unwrap(), times[0][1].parse().unwrap());
    let (s1, e1): (f64, f64) = (times[1][0].parse().unwrap(), times[1][1].parse().unwrap());
    assert!(s0 < e1 && s1 < e0, "not concurrent: {times:?}");

    // Their rendezvous ports, recorded with each run, differ.
    let ports = env.sql("select rdzv_port from runs order by job_name");
    assert!(
        ports.iter().all(|r| r[0].parse::<u16>().is_ok()),
        "{ports:?}"
    );
    assert_ne!(ports[0][0], ports[1][0], "{ports:?}");

    // The all-reduce of ranks 1 + 2, once per step per job (rank 0's line only).
    let sums = env.sql(
        "select r.job_name, m.step, m.value from metrics m join runs r on r.id = m.run_id \
         where m.key = 'allreduce_sum' order by r.job_name, m.step",
    );
    assert_eq!(sums.len(), 6, "{sums:?}");
    assert!(
        sums.iter().all(|r| r[2] == "3.0" || r[2] == "3"),
        "{sums:?}"
    );
    // The per-rank metric: one key per rank, each once.
    let per_rank = env.sql(
        "select m.key, count(*) from metrics m join runs r on r.id = m.run_id \
         where r.job_name = 'train[variant=a]' and m.key like 'ranks_seen/%' group by m.key order by m.key",
    );
    assert_eq!(
        per_rank,
        vec![
            vec!["ranks_seen/rank0".to_string(), "1".into()],
            vec!["ranks_seen/rank1".to_string(), "1".into()],
        ]
    );
    // Both ranks' output is in the job's log, prefixed by torchrun with the rank.
    let job_dir = env.scalar("select job_dir from runs where job_name = 'train[variant=a]'");
    let log = std::fs::read_to_string(std::path::Path::new(&job_dir).join("log")).unwrap();
    assert!(
        log.contains("rank 0/2") && log.contains("rank 1/2"),
        "{log}"
    );
}

/// A built-in stage never silently runs on one of several GPUs it asked for.
#[test]
fn a_built_in_stage_with_several_gpus_is_refused_at_validate() {
    let env = Env::new();
    let p = env.pipeline(
        "two.yaml",
        "name: two\nstages:\n  teacher:\n    kind: teacher\n    resources: { gpus: 2 }\n",
    );
    let out = env.run(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("two.yaml:5:")
            && err.contains("stages.teacher.resources.gpus: a built-in teacher job uses one GPU; 2 would leave 1 idle"),
        "{err}"
    );
}

/// Counting CUDA devices starts the worker; a worker that cannot start is said, not a silent 0.
#[test]
fn a_worker_that_cannot_count_devices_is_a_warning() {
    let env = Env::new();
    let p = env.pipeline(
        "one.yaml",
        "name: one\nstages:\n  a:\n    kind: command\n    resources: { gpus: 1 }\n    params: { run: 'true' }\n",
    );
    let out = env
        .cmd()
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env("DDMD_WORKER", "/nonexistent/ddmd-pipe-worker")
        .args(["run", p.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: cannot count CUDA devices with /nonexistent/ddmd-pipe-worker"),
        "{}",
        text(&out)
    );
}

/// Jobs across nodes need an executor that has nodes: the local executor refuses them at
/// `validate` (and `run` before anything runs), pointing to Slurm; a built-in stage never
/// asks for more than one.
#[test]
fn several_nodes_need_slurm_and_a_command_stage() {
    let env = Env::new();
    let yaml = "name: multi\nstages:\n  train:\n    kind: command\n    resources: { gpus: 4, nodes: 2 }\n    params: { run: '{{ launch }} train.py' }\n";
    let p = env.pipeline("multi.yaml", yaml);
    let p = p.to_str().unwrap();
    let want = "multi.yaml:5:34: stages.train.resources.nodes: 2 nodes need an executor that has nodes; the local executor runs every job on this machine: run it on Slurm (`--executor slurm`, or `executor: { kind: slurm }` in the pipeline; see docs/SLURM.md), or use nodes: 1";
    for args in [vec!["validate", p], vec!["run", p, "-q"]] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(
        !env.db().exists() || env.scalar("select count(*) from runs") == "0",
        "nothing ran"
    );
    // The same file is valid for Slurm, from the command line or the pipeline's executor.
    let out = env.run(&["validate", p, "--executor", "slurm"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let on_slurm = env.pipeline(
        "multi-slurm.yaml",
        &format!("{yaml}executor: {{ kind: slurm }}\n"),
    );
    let out = env.run(&["validate", on_slurm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let builtin = env.pipeline(
        "teacher.yaml",
        "name: t\nstages:\n  teacher:\n    kind: teacher\n    resources: { nodes: 2 }\nexecutor: { kind: slurm }\n",
    );
    let out = env.run(&["validate", builtin.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("teacher.yaml:5:") && err.contains("stages.teacher.resources.nodes: a built-in teacher job is one process on one machine; 2 nodes would leave 1 idle"),
        "{err}"
    );
}
