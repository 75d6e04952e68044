//! The cache keys of the shipped quickstart and ablation pipelines are those recorded in
//! `tests/fixtures/cache_keys/*.keys` (last changed by issue 13, which changed what distill and
//! evaluate compute and the quickstart's teacher; before that, commit 01ca004): a change of
//! layering must never make a researcher's finished runs run again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};

fn keys_now(env: &Env, pipeline: &str) -> Vec<String> {
    let file = repo().join("pipelines").join(format!("{pipeline}.yaml"));
    let out = env.run(&[
        "plan",
        file.to_str().unwrap_or_default(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("plan --format json");
    rows.iter()
        .map(|r| {
            format!(
                "{} {}",
                r["job"].as_str().unwrap_or_default(),
                r["cache_key"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn keys_recorded(pipeline: &str) -> Vec<String> {
    let file = repo()
        .join("tests/fixtures/cache_keys")
        .join(format!("{pipeline}.keys"));
    std::fs::read_to_string(&file)
        .expect("recorded keys")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn quickstart_and_ablation_cache_keys_are_unchanged() {
    let env = Env::new();
    for p in ["quickstart", "ablations"] {
        let want = keys_recorded(p);
        assert!(want.len() >= 10, "{p}: {} keys recorded", want.len());
        assert_eq!(keys_now(&env, p), want, "{p}: cache keys changed");
    }
}
