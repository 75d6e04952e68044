//! SIGKILL of the orchestrator at random moments (issue 9, item 3).
//!
//! A pipeline of 64 command jobs, each emitting 40 metric points through `import ddmd_events`
//! and writing four artifact files plus a manifest (last), then a fan-in job that checks every
//! upstream manifest. The orchestrator is started and SIGKILLed 20 times in a row, each time
//! after a random delay (seeded; the seed is printed and `DDMD_KILL_SEED` replays it), and
//! then run to the end. Afterwards: every job succeeded exactly once, each succeeded run has
//! its 40 metric rows exactly once, no (run, key, step) appears twice anywhere, the database
//! passes `PRAGMA integrity_check`, every succeeded run's artifact folder is final (not
//! `.partial`) and complete, every final folder under `artifacts/` is complete, and no job
//! process outlives the run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{text, Env};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

// About 34 s of work on two slots: more than the 20 kills (0.3–3 s each, 33 s on average)
// can finish, so every round is killed with jobs in flight however fast the start-up is.
const JOBS: usize = 64;
const POINTS: usize = 40;
const KILLS: usize = 20;

/// The job: metrics, artifact files, manifest written last (so a folder with a manifest whose
/// hashes match is complete), and a start/end log with its pid.
const JOB_PY: &str = r#"
import hashlib, json, os, sys, time
import ddmd_events as ev
i, points, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(log, "a") as f:
    f.write("start %d %d\n" % (i, os.getpid()))
out = ev.artifacts_dir()
files = {}
for s in range(points):
    ev.metric("train/loss", i * 1000 + s, s)
    ev.flush()
    if s % 10 == 9:
        name = "part%d.bin" % (s // 10)
        data = (("%d:%d;" % (i, s)) * 8000).encode()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        files[name] = hashlib.sha256(data).hexdigest()
    time.sleep(0.025)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(files, f)
with open(log, "a") as f:
    f.write("end %d %d\n" % (i, os.getpid()))
"#;

/// The fan-in check of every upstream folder, from the consumer's side.
const SUMMARY_PY: &str = r#"
import hashlib, json, os, sys
import ddmd_events as ev
dirs = sys.argv[1:]
for d in dirs:
    m = json.load(open(os.path.join(d, "manifest.json")))
    assert len(m) == 4, (d, m)
    for name, h in m.items():
        assert hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest() == h, (d, name)
ev.metric("summary/complete_folders", len(dirs), 0)
"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A folder is complete when its manifest lists four files whose hashes match.
fn folder_complete(dir: &Path) -> Result<(), String> {
    let m = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| format!("{}: no manifest: {e}", dir.display()))?;
    let m: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&m).map_err(|e| format!("{}: bad manifest: {e}", dir.display()))?;
    if m.len() != 4 {
        return Err(format!("{}: {} files in manifest", dir.display(), m.len()));
    }
    for (name, h) in &m {
        let data = std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        if hex::encode(Sha256::digest(&data)) != h.as_str().unwrap_or_default() {
            return Err(format!("{}: {name} does not match its hash", dir.display()));
        }
    }
    Ok(())
}

/// Whether `pid` is still one of our job processes (not a reused pid).
fn job_alive(pid: i32, script: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(&*script.to_string_lossy()))
        .unwrap_or(false)
}

#[test]
fn twenty_sigkills_lose_and_duplicate_nothing() {
    let env = Env::new();
    let job_py = env.path().join("job.py");
    let summary_py = env.path().join("summary.py");
    let log = env.path().join("jobs.log");
    std::fs::write(&job_py, JOB_PY).expect("write job.py");
    std::fs::write(&summary_py, SUMMARY_PY).expect("write summary.py");
    let axis: Vec<String> = (1..=JOBS).map(|i| i.to_string()).collect();
    let pipe = format!(
        r#"
name: kill-test
stages:
  work:
    kind: command
    matrix: {{ i: [{axis}] }}
    params:
      run: "python3 {job} {{{{ i }}}} {points} {log}"
  summary:
    kind: command
    needs: [work]
    fan_in: true
    params:
      run: "python3 {summary}{{% for n in needs.work %}} {{{{ n.artifacts }}}}{{% endfor %}}"
"#,
        axis = axis.join(", "),
        job = job_py.display(),
        summary = summary_py.display(),
        points = POINTS,
        log = log.display(),
    );
    let p = env.pipeline("kill.yaml", &pipe);
    let p = p.to_str().expect("utf-8 path");

    let seed: u64 = std::env::var("DDMD_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("kill test seed {seed} (DDMD_KILL_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let t0 = Instant::now();
    let mut killed = 0;
    let mut finished_before_kill = 0;
    let mut delays = Vec::new();
    for round in 0..KILLS {
        let mut child = env
            .cmd()
            .args(["run", p, "--quiet", "--jobs", "2", "--grace", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn run");
        // Early kills hit the start-up (opening the database, recovering the last run),
        // later ones the dispatcher with jobs running.
        let delay = rng.uniform(0.3, 3.0);
        delays.push(delay);
        let until = Instant::now() + Duration::from_secs_f64(delay);
        let mut exited = None;
        while Instant::now() < until {
            if let Ok(Some(st)) = child.try_wait() {
                exited = Some(st);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match exited {
            Some(st) => {
                finished_before_kill += 1;
                eprintln!("round {round}: the run ended by itself ({st}) before the kill");
            }
            None => {
                // SAFETY: our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                let _ = child.wait();
                killed += 1;
            }
        }
    }
    let kills_elapsed = t0.elapsed();

    let out = env.run(&["run", p, "--quiet", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    eprintln!(
        "{killed} kills ({finished_before_kill} runs ended before their kill) in {:.1}s, final run {:.1}s in total",
        kills_elapsed.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        killed >= KILLS - 2,
        "only {killed} of {KILLS} runs were killed mid-way"
    );

    // Every job succeeded exactly once.
    let rows = env
        .sql("select job_name, count(*) from runs where status='succeeded' group by 1 order by 1");
    assert_eq!(rows.len(), JOBS + 1, "{rows:?}");
    assert!(
        rows.iter().all(|r| r[1] == "1"),
        "a job succeeded twice: {rows:?}"
    );
    assert_eq!(
        env.scalar("select count(*) from runs where status in ('queued','running')"),
        "0"
    );

    // Each succeeded work run has its points once, with the values the job sent.
    let per_run = env.sql(
        "select r.job_name, count(*), count(distinct m.step), min(m.value), max(m.value) \
         from runs r join metrics m on m.run_id = r.id \
         where r.status='succeeded' and r.stage='work' group by r.id order by 1",
    );
    assert_eq!(per_run.len(), JOBS, "{per_run:?}");
    for r in &per_run {
        let i: usize = r[0]
            .trim_start_matches("work[i=")
            .trim_end_matches(']')
            .parse()
            .expect("job name");
        assert_eq!(r[1], POINTS.to_string(), "{r:?}");
        assert_eq!(r[2], POINTS.to_string(), "{r:?}");
        assert_eq!(r[3].parse::<f64>().ok(), Some((i * 1000) as f64), "{r:?}");
        assert_eq!(
            r[4].parse::<f64>().ok(),
            Some((i * 1000 + POINTS - 1) as f64),
            "{r:?}"
        );
    }
    // Nothing duplicated anywhere, including the cancelled runs the kills left.
    assert_eq!(
        env.scalar(
            "select count(*) from (select run_id, key, step from metrics group by 1, 2, 3 having count(*) > 1)"
        ),
        "0"
    );
    let metric_rows = env.scalar("select count(*) from metrics");
    let run_rows = env.scalar("select count(*) from runs");
    assert_eq!(
        env.scalar(
            "select cast(value as integer) from metrics m join runs r on r.id = m.run_id \
             where r.stage = 'summary' and r.status = 'succeeded'"
        ),
        JOBS.to_string(),
        "the fan-in job saw every upstream folder complete"
    );
    assert_eq!(env.scalar("pragma integrity_check"), "ok");

    // Artifact folders: every succeeded run's is final and complete; so is every final folder.
    let dirs = env.sql("select artifact_dir from runs where status='succeeded' and stage='work'");
    assert_eq!(dirs.len(), JOBS);
    for d in &dirs {
        assert!(
            !d[0].ends_with(".partial"),
            "a .partial folder counted as done: {d:?}"
        );
        folder_complete(Path::new(&d[0])).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut partial_left = 0;
    let mut final_checked = 0;
    for e in std::fs::read_dir(env.home().join("artifacts"))
        .expect("artifacts folder")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".partial") {
            partial_left += 1;
            continue;
        }
        let path = e.path();
        // The summary stage writes no manifest; every work folder must be complete.
        if path.join("manifest.json").exists() || path.join("part0.bin").exists() {
            folder_complete(&path).unwrap_or_else(|e| panic!("half-written final folder: {e}"));
            final_checked += 1;
        }
    }
    assert_eq!(final_checked, JOBS, "final work folders");

    // No job process outlives the run (recovery stops the groups a killed orchestrator left).
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let pids: Vec<i32> = log_text
        .lines()
        .filter(|l| l.starts_with("start"))
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect();
    let starts = pids.len();
    std::thread::sleep(Duration::from_millis(300));
    let alive: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|&p| job_alive(p, &job_py))
        .collect();
    assert!(alive.is_empty(), "job processes still alive: {alive:?}");
    eprintln!(
        "figures: {JOBS} work jobs + 1 fan-in, {starts} job starts, {killed} kills, \
         {run_rows} run rows, {metric_rows} metric rows checked for duplicates, \
         {partial_left} .partial folders left, delays {:.2}..{:.2}s",
        delays.iter().cloned().fold(f64::INFINITY, f64::min),
        delays.iter().cloned().fold(0.0, f64::max)
    );
}
