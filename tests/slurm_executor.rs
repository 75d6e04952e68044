//! The Slurm executor against a real single-node cluster (slurmctld + slurmd + munge from
//! Debian's packages, brought up by scripts/slurm-up): a pipeline gives the same database rows
//! as the local executor; a job cancelled from outside is recorded as cancelled and retried;
//! an orchestrator killed while its jobs are queued is followed by a run that re-attaches and
//! submits nothing twice; the pre-flight checks refuse what cannot work.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// The test cluster's configuration (scripts/slurm-up keeps everything of its own under
/// /var/lib/ddmd-slurm); every Slurm client the tests start, ddmd-pipe included, reads it.
const SLURM_CONF: &str = "/var/lib/ddmd-slurm/etc/slurm.conf";

/// Tests share the cluster (read) except the one that takes its node down (write).
static SHARED: RwLock<()> = RwLock::new(());

/// Brings the cluster up once per test binary and holds it shared for the test. `None` (with
/// a loud message) only when the packages are missing and cannot be installed here (no
/// apt-get, or neither root nor sudo).
fn cluster() -> Option<RwLockReadGuard<'static, ()>> {
    cluster_up().then(|| SHARED.read().unwrap_or_else(|e| e.into_inner()))
}

/// The cluster for this test alone (it takes the node down).
fn cluster_alone() -> Option<RwLockWriteGuard<'static, ()>> {
    cluster_up().then(|| SHARED.write().unwrap_or_else(|e| e.into_inner()))
}

fn cluster_up() -> bool {
    static UP: OnceLock<bool> = OnceLock::new();
    *UP.get_or_init(|| {
        let out = Command::new(repo().join("scripts/slurm-up"))
            .output()
            .expect("run scripts/slurm-up");
        if out.status.success() {
            // Set while every other test waits on this OnceLock, before any Slurm client runs.
            std::env::set_var("SLURM_CONF", SLURM_CONF);
            return true;
        }
        let installed = which("sbatch").is_some() && which("slurmctld").is_some();
        let root = unsafe { libc::geteuid() } == 0;
        let can_install = which("apt-get").is_some() && (root || which("sudo").is_some());
        if !installed && !can_install {
            eprintln!(
                "\n\n!!!!!!!! SKIPPING the Slurm executor tests: Slurm is not installed and \
                 cannot be installed here (apt-get: {}, root: {root}).\n{}\n\n",
                which("apt-get").is_some(),
                text(&out)
            );
            return false;
        }
        panic!("scripts/slurm-up failed:\n{}", text(&out));
    })
}

fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}

fn wait_for(mut cond: impl FnMut() -> bool, secs: u64) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A directory with an `sbatch` that logs each call before running the real one, so a test
/// can count submissions.
fn sbatch_wrapper(env: &Env) -> (PathBuf, PathBuf) {
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = env.path().join("sbatch.calls");
    let real = which("sbatch").expect("sbatch on PATH");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
        calls.display(),
        real.display()
    );
    let w = bin.join("sbatch");
    std::fs::write(&w, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls)
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `run` on Slurm, with the test's temporary home asserted shared (single-node cluster).
fn slurm_args<'a>(env: &'a Env, pipeline: &'a str) -> Vec<String> {
    vec![
        "run".into(),
        pipeline.into(),
        "--quiet".into(),
        "--executor".into(),
        "slurm".into(),
        "--slurm-shared-paths".into(),
        env.path().display().to_string(),
        "--slurm-poll-max".into(),
        "1".into(),
        "--retry-delay".into(),
        "0.2".into(),
    ]
}

fn hostname_s() -> String {
    let out = Command::new("hostname").arg("-s").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const PARITY: &str = r#"
name: slurm-parity
stages:
  train:
    kind: command
    matrix: { i: [1, 2, 3] }
    resources: { gpus: 1 }
    params:
      run: "echo \"[$CUDA_VISIBLE_DEVICES] $SLURM_JOB_ID\" > $DDMD_JOB_DIR/seen; python3 -c 'import ddmd_events as e\nfor s in range(12):\n    e.metric(\"loss\", 1.0/(s+1), s)\ne.flush()'"
  broken:
    kind: command
    params: { run: "echo \"[$CUDA_VISIBLE_DEVICES] $SLURM_JOB_ID\" > $DDMD_JOB_DIR/seen; echo boom >&2; exit 3" }
  after:
    kind: command
    needs: [broken]
    params: { run: "echo never" }
  report:
    kind: report
    needs: [train]
    params: { title: "parity" }
"#;

/// One row per run, with what must not depend on the executor.
const ROWS: &str = "select r.job_name, r.stage, r.kind, r.status, r.attempt, \
    coalesce(r.exit_code, ''), (select count(*) from metrics m where m.run_id = r.id), \
    (select count(distinct m.step) from metrics m where m.run_id = r.id), \
    (select count(*) from artifacts a where a.run_id = r.id) \
    from runs r order by r.job_name";

#[test]
fn a_pipeline_through_slurm_records_what_the_local_executor_records() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let local = Env::new();
    let p = local.pipeline("p.yaml", PARITY);
    let out = local.run(&["run", p.to_str().unwrap(), "--quiet", "--fake-gpus", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let local_rows = local.sql(ROWS);

    let env = Env::new();
    let p = env.pipeline("p.yaml", PARITY);
    let out = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let slurm_rows = env.sql(ROWS);
    assert_eq!(slurm_rows, local_rows);
    // The rows say what we expect, not merely the same thing twice.
    let statuses: Vec<(String, String)> = slurm_rows
        .iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("after", "skipped"),
            ("broken", "failed"),
            ("report", "succeeded"),
            ("train[i=1]", "succeeded"),
            ("train[i=2]", "succeeded"),
            ("train[i=3]", "succeeded"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(slurm_rows
        .iter()
        .filter(|r| r[1] == "train")
        .all(|r| r[6] == "12"));
    assert_eq!(env.scalar("select executor from invocations"), "slurm");

    // Every executed run names its Slurm job and node; the job saw Slurm's GPU and id.
    let node = hostname_s();
    let ran = env.sql(
        "select id, job_name, executor_id, node, job_dir, error from runs \
         where status in ('succeeded', 'failed') order by id",
    );
    assert_eq!(ran.len(), 5, "{ran:?}");
    for r in &ran {
        assert!(
            !r[2].is_empty() && r[2].chars().all(|c| c.is_ascii_digit()),
            "{r:?}"
        );
        assert_eq!(r[3], node, "{r:?}");
        if r[1] == "report" {
            continue;
        }
        let seen = std::fs::read_to_string(Path::new(&r[4]).join("seen")).unwrap();
        let gpu = if r[1] == "broken" { "[]" } else { "[0]" };
        assert!(
            seen.trim() == format!("{gpu} {}", r[2])
                || (gpu == "[0]" && seen.trim() == format!("[1] {}", r[2])),
            "{r:?}: {seen}"
        );
        // The run records the GPU Slurm granted, the one the job saw.
        let devices = env.scalar(&format!(
            "select coalesce(devices, '') from runs where id = {}",
            r[0]
        ));
        let expect = seen.trim().split(' ').next().unwrap_or_default();
        assert_eq!(format!("[{devices}]"), expect, "{r:?}");
        if r[1] == "broken" {
            assert!(r[5].contains("exited with code 3"), "{r:?}");
            assert!(r[5].contains("boom"), "the log tail is in the error: {r:?}");
        }
    }
    let report = env.scalar("select artifact_dir from runs where job_name = 'report'");
    assert!(
        Path::new(&report).join("report/index.html").exists(),
        "{report}"
    );
}

#[test]
fn a_job_cancelled_from_outside_is_recorded_cancelled_and_retried() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let env = Env::new();
    let p = env.pipeline(
        "c.yaml",
        r#"
name: slurm-scancel
stages:
  nap:
    kind: command
    retries: 1
    params: { run: "if [ \"$DDMD_ATTEMPT\" = 1 ]; then sleep 120; fi; echo rested" }
"#,
    );
    let child = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut id = String::new();
    assert!(
        wait_for(
            || {
                if !env.db().exists() {
                    return false;
                }
                let rows = env.sql("select executor_id from runs where status = 'running'");
                match rows.first() {
                    Some(r) if !r[0].is_empty() => {
                        id = r[0].clone();
                        true
                    }
                    _ => false,
                }
            },
            60
        ),
        "the job did not start running in Slurm"
    );
    let st = Command::new("scancel").arg(&id).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = env.sql("select attempt, status, executor_id, error from runs order by id");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("1", "cancelled")
    );
    assert_eq!(rows[0][2], id);
    assert!(
        rows[0][3].contains("cancelled outside ddmd-pipe"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[1][0].as_str(), rows[1][1].as_str()),
        ("2", "succeeded")
    );
    assert_ne!(rows[1][2], id, "the retry is a new Slurm job");
}

#[test]
fn an_orchestrator_killed_while_jobs_are_queued_is_followed_without_resubmitting() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let env = Env::new();
    let (bin, calls) = sbatch_wrapper(&env);
    let p = env.pipeline(
        "k.yaml",
        r#"
name: slurm-reattach
stages:
  work:
    kind: command
    matrix: { i: [1, 2, 3] }
    params:
      run: "python3 -c 'import ddmd_events as e\nfor s in range(7):\n    e.metric(\"m\", s, s)\ne.flush()'"
"#,
    );
    // First orchestrator: its jobs are held in the queue (--hold), then it is SIGKILLed.
    let mut args = slurm_args(&env, p.to_str().unwrap());
    args.push("--slurm-extra=--hold".into());
    let mut child = env
        .cmd()
        .args(&args)
        .env("PATH", path_with(&bin))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ids: Vec<String> = Vec::new();
    assert!(
        wait_for(
            || {
                if !env.db().exists() {
                    return false;
                }
                ids = env
                    .sql("select executor_id from runs where executor_id is not null order by id")
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect();
                ids.len() == 3
            },
            60
        ),
        "three jobs were not submitted: {ids:?}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    for id in &ids {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%T", "-j", id])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "PENDING",
            "job {id}"
        );
    }

    // Second orchestrator: re-attaches; the jobs are released once it follows them.
    let child = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .env("PATH", path_with(&bin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(|| env.scalar("select count(*) from invocations") == "2", 30),
        "the second run did not start"
    );
    std::thread::sleep(Duration::from_millis(500));
    let st = Command::new("scontrol")
        .arg("release")
        .arg(ids.join(","))
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("re-attached to Slurm job"),
        "{}",
        text(&out)
    );

    let submitted = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(submitted.lines().count(), 3, "sbatch calls:\n{submitted}");
    let rows = env.sql(
        "select job_name, status, executor_id, attempt, \
         (select count(*) from metrics m where m.run_id = r.id) from runs r order by job_name",
    );
    assert_eq!(rows.len(), 3, "one run per job, none twice: {rows:?}");
    for r in &rows {
        assert_eq!(r[1], "succeeded", "{r:?}");
        assert_eq!(r[3], "1", "{r:?}");
        assert_eq!(r[4], "7", "{r:?}");
    }
    let mut got: Vec<String> = rows.iter().map(|r| r[2].clone()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_stage_timeout_cancels_the_slurm_job() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let env = Env::new();
    let p = env.pipeline(
        "t.yaml",
        r#"
name: slurm-timeout
stages:
  slow:
    kind: command
    timeout: 2s
    params: { run: "sleep 120" }
"#,
    );
    let out = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = &env.sql("select status, error, executor_id from runs")[0];
    assert_eq!(r[0], "failed");
    assert!(r[1].contains("timed out after 2.0s"), "{r:?}");
    let id = r[2].clone();
    assert!(
        wait_for(
            || {
                let o = Command::new("squeue")
                    .args(["-h", "-j", &id, "-t", "PD,R"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).trim().is_empty()
            },
            30
        ),
        "Slurm job {id} still runs"
    );
}

#[test]
fn preflight_refuses_a_missing_sbatch_and_a_node_local_home() {
    let env = Env::new();
    let p = env.pipeline(
        "x.yaml",
        "name: slurm-preflight\nstages:\n  a:\n    kind: command\n    params: { run: \"true\" }\n",
    );
    let empty = env.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = env
        .cmd()
        .args(["run", p.to_str().unwrap(), "--executor", "slurm"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs `sbatch` on PATH"), "{err}");
    assert!(
        !env.db().exists(),
        "nothing is recorded before the checks pass"
    );

    let Some(_cluster) = cluster() else {
        return;
    };
    // The temporary home is under /tmp: refused unless asserted shared.
    let out = env.run(&["run", p.to_str().unwrap(), "--executor", "slurm"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("probably not visible to the Slurm nodes"),
        "{err}"
    );
    let out = env.run(&[
        "run",
        p.to_str().unwrap(),
        "--executor",
        "slurm",
        "--slurm-shared-paths",
        "/nfs/a,/nfs/b",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nfs/a, /nfs/b"));
    assert!(!env.db().exists());
    // The pipeline's `executor:` section selects Slurm too.
    let p2 = env.pipeline(
        "y.yaml",
        "name: slurm-preflight\nexecutor: { kind: slurm }\nstages:\n  a:\n    kind: command\n    params: { run: \"true\" }\n",
    );
    let out = env.run(&["run", p2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = env.run(&[
        "run",
        p2.to_str().unwrap(),
        "--executor",
        "local",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The two executors give a job the same environment by construction (one `Attempt::job_env`):
/// the same `DDMD_*` variables with the same values (up to the run's own paths and ids), and
/// `DDMD_CPUS` on Slurm too, so libtorch's threads are capped there as they are locally.
#[test]
fn local_and_slurm_jobs_get_the_same_environment() {
    let Some(_cluster) = cluster() else {
        return;
    };
    const ENVP: &str = r#"
name: env-parity
stages:
  dump:
    kind: command
    resources: { cpus: 1 }
    params:
      run: "env | grep -E '^(DDMD_|PYTHONPATH=)' | sort > $DDMD_JOB_DIR/env.txt"
"#;
    // Variable -> value, with this home's path and the run's id replaced by placeholders.
    let dump = |env: &Env| -> Vec<(String, String)> {
        let dir = env.scalar("select job_dir from runs where status = 'succeeded'");
        let run = env.scalar("select id from runs where status = 'succeeded'");
        let home = env.home().canonicalize().unwrap().display().to_string();
        let text = std::fs::read_to_string(Path::new(&dir).join("env.txt")).unwrap();
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let v = v.replace(&home, "<home>");
                let v = if k == "DDMD_RUN_ID" && v == run {
                    "<run>".into()
                } else {
                    v
                };
                (
                    k.to_string(),
                    v.replace(&format!("jobs/{run}"), "jobs/<run>"),
                )
            })
            .collect()
    };
    let local = Env::new();
    let p = local.pipeline("p.yaml", ENVP);
    let out = local.run(&["run", p.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let env = Env::new();
    let p = env.pipeline("p.yaml", ENVP);
    let out = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (l, s) = (dump(&local), dump(&env));
    let names = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&l), names(&s), "local {l:?}\nslurm {s:?}");
    assert!(
        s.contains(&("DDMD_CPUS".to_string(), "1".to_string())),
        "{s:?}"
    );
    for key in [
        "DDMD_CPUS",
        "DDMD_JOB",
        "DDMD_RUN_ID",
        "DDMD_JOB_DIR",
        "DDMD_ARTIFACTS",
        "DDMD_EVENTS",
        "DDMD_HOME",
    ] {
        let get = |v: &[(String, String)]| v.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert_eq!(get(&l), get(&s), "{key}");
    }
}

/// `{{ launch }}` under Slurm: `srun` starts torchrun on the allocation's node (the first node
/// hosts the rendezvous), its 2 processes all-reduce with real torch.distributed (gloo: the
/// cluster's GPUs are stand-in device files), and the run records what Slurm granted: its
/// node, both GPUs, and the port the job id picked.
#[test]
fn a_launch_job_runs_its_ranks_through_srun() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let env = Env::new();
    let yaml = format!(
        r#"
name: slurm-ddp
stages:
  train:
    kind: command
    resources: {{ gpus: 2 }}
    params:
      run: "echo rendezvous $MASTER_ADDR:$MASTER_PORT; PATH={bin}:$PATH {{{{ launch }}}} {script} --steps 3"
"#,
        bin = repo().join(".venv/bin").display(),
        script = repo().join("python/examples/ddp_allreduce.py").display()
    );
    let p = env.pipeline("ddp.yaml", &yaml);
    let out = env
        .cmd()
        .args(slurm_args(&env, p.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let row = &env.sql("select executor_id, node, devices, rdzv_port, job_dir from runs")[0];
    assert_eq!(row[1], hostname_s(), "{row:?}");
    assert_eq!(row[2], "0,1", "the GPUs Slurm granted: {row:?}");
    let first = 29510u64;
    let port = first + row[0].parse::<u64>().unwrap() % (29999 - first + 1);
    assert_eq!(row[3], port.to_string(), "{row:?}");
    let sums = env
        .sql("select m.step, m.value from metrics m where m.key = 'allreduce_sum' order by m.step");
    assert_eq!(sums.len(), 3, "once per step (rank 0's line): {sums:?}");
    assert!(
        sums.iter().all(|r| r[1] == "3.0" || r[1] == "3"),
        "{sums:?}"
    );
    let log = std::fs::read_to_string(Path::new(&row[4]).join("log")).unwrap();
    assert!(
        log.contains("[default0]:rank 0/2") && log.contains("[default1]:rank 1/2"),
        "both ranks' output, prefixed with the rank: {log}"
    );
    assert!(
        log.contains(&format!("rendezvous {}:{port}", hostname_s())),
        "the rendezvous is on the first node of the allocation: {log}"
    );
    let script = std::fs::read_to_string(Path::new(&row[4]).join("slurm.sh")).unwrap();
    assert!(script.contains("srun --nodes=$NNODES"), "{script}");
}

/// A directory whose `sbatch`, `squeue` and `scontrol` log each call (time in ms, program,
/// the number of job ids in a `-j` list) before running the real one.
fn counting_shims(env: &Env) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path().join("shims");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = env.path().join("slurm.calls");
    for prog in ["sbatch", "squeue", "scontrol"] {
        let real = which(prog).expect("Slurm client on PATH");
        let script = format!(
            // `scontrol show hostnames` (run by each job's script) only expands a host list
            // locally; it does not call the controller.
            "#!/bin/sh\nn=0; prev=\nfor a in \"$@\"; do [ \"$prev\" = -j ] && n=$(echo \"$a\" | tr ',' '\\n' | wc -l); prev=$a; done\n\
             [ \"$1 $2\" = 'show hostnames' ] || echo \"$(date +%s%3N) {prog} $n\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            real.display()
        );
        let w = bin.join(prog);
        std::fs::write(&w, script).unwrap();
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, calls)
}

/// (controller calls per second while jobs were in flight, the seconds they were in flight,
/// most ids in one `squeue`, sbatch calls) of a run of `n` one-second jobs.
fn poll_load(n: usize, max_submitted: u32) -> (f64, f64, usize, usize) {
    let env = Env::new();
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let yaml = format!(
        "name: slurm-scale\nstages:\n  j:\n    kind: command\n    matrix: {{ i: [{}] }}\n    params: {{ run: \"sleep 1\" }}\n",
        values.join(", ")
    );
    let p = env.pipeline("scale.yaml", &yaml);
    let (bin, calls) = counting_shims(&env);
    let mut args = slurm_args(&env, p.to_str().unwrap());
    args.extend(["--slurm-max-submitted".into(), max_submitted.to_string()]);
    let out = env
        .cmd()
        .env("PATH", path_with(&bin))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        env.scalar("select count(*) from runs where status = 'succeeded'"),
        n.to_string()
    );
    let log = std::fs::read_to_string(&calls).unwrap();
    let rows: Vec<(f64, String, usize)> = log
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse::<f64>().unwrap() / 1e3,
                f[1].to_string(),
                f[2].trim().parse().unwrap(),
            )
        })
        .collect();
    let submits = rows.iter().filter(|r| r.1 == "sbatch").count();
    let first = rows.iter().find(|r| r.1 == "sbatch").unwrap().0;
    let polls: Vec<&(f64, String, usize)> = rows.iter().filter(|r| r.1 != "sbatch").collect();
    let last = polls.last().unwrap().0;
    let secs = (last - first).max(1.0);
    let widest = polls.iter().map(|r| r.2).max().unwrap_or(0);
    (polls.len() as f64 / secs, secs, widest, submits)
}

/// One `squeue` per cycle for all of an invocation's jobs: the controller calls per second stay
/// the same from 10 to 200 jobs in flight (per-job polling would grow twentyfold), and no more
/// than `max_submitted` jobs are ever submitted at once (the ids in one `squeue`).
#[test]
fn controller_calls_per_poll_interval_do_not_grow_with_the_jobs() {
    let Some(_cluster) = cluster() else {
        return;
    };
    let (rate10, secs10, widest10, submits10) = poll_load(10, 256);
    let (rate200, secs200, widest200, submits200) = poll_load(200, 40);
    eprintln!(
        "controller calls per second: {rate10:.2} with 10 jobs over {secs10:.1}s, {rate200:.2} \
         with 200 over {secs200:.1}s (most ids in one squeue: {widest10}, {widest200})"
    );
    assert_eq!((submits10, submits200), (10, 200));
    // One cycle per second at most (--slurm-poll-max 1, CYCLE_MIN 1 s), whatever the jobs;
    // the counting window may cut a cycle at either end.
    assert!(rate10 <= 1.0 + 2.0 / secs10, "{rate10} over {secs10}s");
    assert!(rate200 <= 1.0 + 2.0 / secs200, "{rate200} over {secs200}s");
    assert!(widest10 <= 10 && widest200 <= 40, "{widest10} {widest200}");
    assert!(widest200 > 10, "jobs were in flight together: {widest200}");
}

/// A job whose node fails is submitted again by the orchestrator: the first run is recorded
/// `requeued` with Slurm's reason, the second (same attempt number: not a retry, the stage
/// has none) succeeds.
#[test]
fn a_job_lost_with_its_node_is_submitted_again() {
    let Some(_cluster) = cluster_alone() else {
        return;
    };
    let env = Env::new();
    let marker = env.path().join("first-attempt");
    let yaml = format!(
        "name: slurm-requeue\nstages:\n  train:\n    kind: command\n    params: {{ run: \"if [ -e {m} ]; then echo again; else touch {m}; sleep 120; fi\" }}\n",
        m = marker.display()
    );
    let p = env.pipeline("requeue.yaml", &yaml);
    let mut args = slurm_args(&env, p.to_str().unwrap());
    // Slurm itself requeues batch jobs on node failure unless told not to (JobRequeue=1):
    // what a cluster with requeueing off, or a preemption that cancels, leaves to us.
    args.push("--slurm-extra=--no-requeue".into());
    let child = env
        .cmd()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(|| marker.exists(), 60), "the job never started");
    let node = hostname_s();
    let down = |state: &str| {
        Command::new("scontrol")
            .args([
                "update",
                &format!("nodename={node}"),
                &format!("state={state}"),
            ])
            .args(if state == "down" {
                vec!["reason=ddmd-test"]
            } else {
                vec![]
            })
            .status()
            .unwrap()
    };
    assert!(down("down").success());
    let requeued = wait_for(
        || {
            env.db().exists()
                && env.scalar("select count(*) from runs where status = 'requeued'") == "1"
        },
        60,
    );
    // Back to service whatever happened (ReturnToService may have done it already).
    let _ = down("resume");
    assert!(
        wait_for(
            || {
                let o = Command::new("sinfo")
                    .args(["-h", "-n", &node, "-o", "%T"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).trim() == "idle"
            },
            60
        ),
        "the node did not come back"
    );
    let out = child.wait_with_output().unwrap();
    assert!(requeued, "{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows =
        env.sql("select status, attempt, executor_id, coalesce(error, '') from runs order by id");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("requeued", "1"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[1][0].as_str(), rows[1][1].as_str()),
        ("succeeded", "1"),
        "{rows:?}"
    );
    assert_ne!(rows[0][2], rows[1][2], "a new Slurm job: {rows:?}");
    assert!(
        rows[0][3].contains("NODE_FAIL") && rows[0][3].contains("submitted again"),
        "{rows:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resubmitting train"), "{}", text(&out));
}
