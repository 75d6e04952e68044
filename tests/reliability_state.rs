//! Damaged state (issue 9, item 5), through the binary: a deleted artifact folder (the plan
//! says why, the next run reruns that job alone), a database left by an older version (0001
//! only: migrated forward with its data), a database file that is not a database or is cut
//! short (a clear error naming it, no panic); and a job resuming from a corrupt checkpoint
//! (the loader itself: crates/science/tests/checkpoints.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::path::Path;

fn base() -> std::path::PathBuf {
    repo().join("tests/bad_pipelines/args/base.yml")
}

fn no_panic(o: &std::process::Output) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !e.contains("panicked") && !e.contains("backtrace"),
        "{}",
        text(o)
    );
}

#[test]
fn a_deleted_artifact_folder_is_explained_and_rerun() {
    let env = Env::new();
    let b = base();
    let b = b.to_str().unwrap_or_default();
    let out = env.run(&["run", b, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = env.scalar("select artifact_dir from runs where job_name = 'train[width=1]'");
    let first_run = env.scalar("select id from runs where job_name = 'train[width=1]'");
    assert!(Path::new(&dir).is_dir(), "{dir}");
    std::fs::remove_dir_all(&dir).expect("delete the artifact folder");

    let plan = env.run(&["plan", b]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let all =
        String::from_utf8_lossy(&plan.stdout).into_owned() + &String::from_utf8_lossy(&plan.stderr);
    let line = all
        .lines()
        .find(|l| l.starts_with("train[width=1]"))
        .unwrap_or_else(|| panic!("no plan line:\n{all}"));
    assert!(
        line.contains(&format!(
            "run {first_run} succeeded but its artifacts are missing"
        )),
        "{line}"
    );
    let other = all
        .lines()
        .find(|l| l.starts_with("train[width=2]"))
        .unwrap_or_default();
    assert!(other.contains("cached"), "{other}");

    let out = env.run(&["run", b, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(Path::new(&dir).is_dir(), "the rerun did not recreate {dir}");
    assert_eq!(
        env.scalar(
            "select count(*) from runs where job_name = 'train[width=1]' and status = 'succeeded'"
        ),
        "2",
        "rerun once"
    );
    assert_eq!(
        env.scalar(
            "select count(*) from runs where job_name = 'train[width=2]' and status = 'succeeded'"
        ),
        "1",
        "not rerun"
    );
}

/// A database made by migration 0001 alone (what the first release wrote), with data.
const OLD_DB_PY: &str = r#"
import hashlib, sqlite3, sys
db, sql_path = sys.argv[1], sys.argv[2]
sql = open(sql_path, "rb").read()
c = sqlite3.connect(db)
c.executescript(sql.decode())
c.executescript('''
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);''')
c.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (1, 'init', 1, ?, 1)",
          (hashlib.sha384(sql).digest(),))
c.executescript('''
INSERT INTO pipelines (id, name, spec_hash, spec_text, created_at) VALUES (1, 'legacy', 'h', '', 0);
INSERT INTO invocations (id, pipeline_id, argv, host, pid, started_at, status) VALUES (1, 1, '[]', 'h', 1, 0, 'succeeded');
INSERT INTO runs (id, invocation_id, pipeline_id, stage, job_name, kind, cache_key, status, queued_at)
  VALUES (1, 1, 1, 's', 'old-job', 'command', 'k1', 'succeeded', 0);
INSERT INTO metrics (run_id, seq, key, step, value, raw) VALUES
  (1, 0, 'loss', 5, 0.5, NULL), (1, 1, 'loss', 9, 0.2, NULL), (1, 2, 'loss', 7, 0.3, NULL);
''')
c.commit()
"#;

#[test]
fn a_database_from_an_older_version_is_migrated_with_its_data() {
    let env = Env::new();
    std::fs::create_dir_all(env.home()).expect("home");
    let py = env.path().join("old_db.py");
    std::fs::write(&py, OLD_DB_PY).expect("script");
    let st = std::process::Command::new("python3")
        .arg(&py)
        .arg(env.db())
        .arg(repo().join("migrations/0001_init.sql"))
        .status()
        .expect("python3");
    assert!(st.success());

    // A read-only command first: it must not fail on (or half-migrate) the old schema.
    // It reads the old schema as it is: the old run is listed and nothing is migrated yet
    // (RELIABILITY.md §5 quotes this).
    let q = env.run(&["query", "select job_name, status from runs"]);
    no_panic(&q);
    assert_eq!(q.status.code(), Some(0), "{}", text(&q));
    assert!(
        String::from_utf8_lossy(&q.stdout).contains("old-job"),
        "{}",
        text(&q)
    );
    assert_eq!(
        env.scalar("select group_concat(version) from _sqlx_migrations"),
        "1",
        "a read-only query migrated the database"
    );

    let b = base();
    let out = env.run(&["run", b.to_str().unwrap_or_default(), "--quiet"]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Every migration of this build applied on top of 0001.
    let migrations = std::fs::read_dir(repo().join("migrations"))
        .expect("migrations")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(
        env.scalar("select count(*) from _sqlx_migrations where success = 1"),
        migrations.to_string()
    );
    // The old run and its points are intact, and the new table knows its final value.
    assert_eq!(
        env.scalar("select job_name from runs where id = 1"),
        "old-job"
    );
    assert_eq!(
        env.scalar("select count(*) from metrics where run_id = 1"),
        "3"
    );
    assert_eq!(
        env.sql("select step, value from metrics_final where run_id = 1 and key = 'loss'"),
        vec![vec!["9".to_string(), "0.2".into()]]
    );
    assert_eq!(
        env.scalar("select count(*) from runs where status = 'succeeded'"),
        "4"
    );
    let list = env.run(&["runs", "list", "--pipeline", "legacy"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list));
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("old-job"),
        "{}",
        text(&list)
    );
    assert_eq!(env.scalar("pragma integrity_check"), "ok");
}

#[test]
fn a_database_file_that_is_not_one_gets_a_clear_error() {
    let b = base();
    let b = b.to_str().unwrap_or_default();
    // Garbage, and a real database cut to half its size.
    for case in ["garbage", "truncated"] {
        let env = Env::new();
        std::fs::create_dir_all(env.home()).expect("home");
        if case == "garbage" {
            std::fs::write(env.db(), vec![0x5au8; 8192]).expect("write");
        } else {
            let out = env.run(&["run", b, "--quiet"]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            for f in ["runs.sqlite-wal", "runs.sqlite-shm"] {
                let _ = std::fs::remove_file(env.home().join(f));
            }
            let bytes = std::fs::read(env.db()).expect("db");
            std::fs::write(env.db(), &bytes[..bytes.len() / 2]).expect("truncate");
        }
        let before = std::fs::read(env.db()).expect("db");
        for args in [
            vec!["run", b, "--quiet"],
            vec!["query", "select count(*) from runs"],
            vec!["runs", "list"],
        ] {
            let out = env.run(&args);
            no_panic(&out);
            let err = String::from_utf8_lossy(&out.stderr);
            // Exit 1 (a damaged file is not a mistake in the user's input), naming the file.
            assert_eq!(
                out.status.code(),
                Some(1),
                "{case}: {args:?}: {}",
                text(&out)
            );
            assert!(
                err.contains("runs.sqlite"),
                "{case} {args:?}: the message does not name the file: {}",
                text(&out)
            );
            eprintln!(
                "{case} database, {args:?}: exit {:?}: {}",
                out.status.code(),
                err.lines().last().unwrap_or_default()
            );
        }
        if case == "garbage" {
            assert_eq!(
                before,
                std::fs::read(env.db()).expect("db"),
                "the damaged file was overwritten"
            );
        }
    }
}

mod checkpoints {
    use super::common::{text, Env};

    /// Through the binary: a teacher job whose `.partial` folder (what a crash leaves for
    /// resuming) holds a corrupt checkpoint moves it aside with a warning naming it and trains
    /// from the last whole checkpoint (here: none, so from iteration 0) instead of failing.
    #[test]
    fn a_job_resuming_from_a_corrupt_checkpoint_sets_it_aside_and_recovers() {
        let env = Env::new();
        let p = env.pipeline(
            "t.yaml",
            "name: tt\nstages:\n  teacher:\n    kind: teacher\n    params: { iterations: 4, batch: 8, checkpoint_every: 2 }\n",
        );
        let p = p.to_str().unwrap_or_default();
        let plan = env.run(&["plan", p, "--format", "json"]);
        assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
        let jobs: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
        let key = jobs[0]["cache_key"]
            .as_str()
            .expect("cache key")
            .to_string();
        let it = env
            .home()
            .join(format!("artifacts/{key}.partial/ckpt/it-00000002"));
        std::fs::create_dir_all(&it).expect("ckpt dir");
        std::fs::write(it.join("net.safetensors"), [0xffu8; 100]).expect("write");
        std::fs::write(it.join("state.json"), "{}").expect("write");
        let out = env.run(&["run", p, "--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(
            env.scalar("select status from runs where stage = 'teacher'"),
            "succeeded"
        );
        let warning = env.scalar(
            "select json_extract(payload, '$.message') from events \
             where type = 'log' and payload like '%damaged checkpoint%'",
        );
        assert!(warning.contains("it-00000002"), "warning: {warning:?}");
        assert!(
            env.home()
                .join(format!("artifacts/{key}/ckpt/it-00000002.corrupt"))
                .is_dir(),
            "the damaged checkpoint is kept aside for inspection"
        );
    }
}

/// A run that ends normally closes the database: its WAL is checkpointed into the file, so the
/// file alone (copied, backed up, attached elsewhere) holds every row. Repeated because a
/// connection left to drop at exit closed in time only sometimes.
#[test]
fn a_finished_run_leaves_one_self_contained_file() {
    for round in 0..5 {
        let env = Env::new();
        let b = base();
        let out = env.run(&["run", b.to_str().unwrap(), "--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let wal = env.home().join("runs.sqlite-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            wal_len, 0,
            "round {round}: {} bytes left in the WAL",
            wal_len
        );
    }
}
