//! Helpers for the integration tests: a temporary home, the real binary, the real database.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn db(&self) -> PathBuf {
        self.home().join("runs.sqlite")
    }

    /// Writes a pipeline file into the temp dir and returns its path.
    pub fn pipeline(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write pipeline");
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ddmd-pipe"));
        c.arg("--home").arg(self.home());
        c.current_dir(self.dir.path());
        c.env_remove("DDMD_HOME");
        c.env_remove("DDMD_FAKE_GPUS");
        c.env("PYTHONPATH", repo().join("python"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run ddmd-pipe")
    }

    /// Read-only SQL through the real `query` command; every value as a string.
    pub fn sql(&self, sql: &str) -> Vec<Vec<String>> {
        let out = self.run(&["query", sql, "--format", "json"]);
        assert!(
            out.status.success(),
            "query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json rows");
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_object()
                            .map(|o| {
                                o.values()
                                    .map(|x| match x {
                                        serde_json::Value::String(s) => s.clone(),
                                        serde_json::Value::Null => String::new(),
                                        other => other.to_string(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.sql(sql)
            .first()
            .and_then(|r| r.first().cloned())
            .unwrap_or_default()
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
