//! The CUDA path of our binaries, checked where it can be without a GPU: the worker is linked
//! against libtorch_cuda (the linker's --as-needed would drop it and hide every GPU), it counts
//! the devices without failing, `CUDA_VISIBLE_DEVICES` is read as CUDA reads it, `--require-gpu`
//! refuses to run a GPU job on CPU and the CPU fallback is said once per stage. Every test sets
//! `CUDA_VISIBLE_DEVICES` itself, so it means the same on a machine with GPUs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::process::Command;

/// The worker beside the orchestrator this test binary was built with (as `ddmd-pipe` finds
/// it), so a `CARGO_TARGET_DIR` outside the repository works too.
fn worker() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_BIN_EXE_ddmd-pipe")).with_file_name("ddmd-pipe-worker")
}

/// The torch library folder the build linked against (the venv's).
fn torch_lib() -> std::path::PathBuf {
    let out = Command::new(repo().join(".venv/bin/python"))
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .expect("the venv's python (scripts/setup-venv)");
    assert!(out.status.success(), "{}", text(&out));
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn the_worker_needs_libtorch_cuda_when_the_wheel_has_it() {
    let out = Command::new("readelf")
        .args(["-d", worker().to_str().unwrap()])
        .output()
        .expect("readelf (binutils) on PATH");
    assert!(out.status.success(), "{}", text(&out));
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(needed.contains(&"libtorch_cpu.so"), "{needed:?}");
    if torch_lib().join("libtorch_cuda.so").exists() {
        assert!(
            needed.contains(&"libtorch_cuda.so"),
            "the CUDA wheel's libtorch_cuda.so was dropped by the linker: {needed:?}"
        );
    } else {
        // The build printed its loud warning; the binary cannot use a GPU.
        eprintln!("!!!!!!!! this torch has no libtorch_cuda.so: the CUDA link is not checked");
    }
    // It finds its libraries without LD_LIBRARY_PATH.
    assert!(
        dynamic.contains("(RUNPATH)") || dynamic.contains("(RPATH)"),
        "{dynamic}"
    );
}

#[test]
fn devices_count_what_cuda_sees_and_exit_0() {
    let env = Env::new();
    let out = env
        .cmd()
        .env("CUDA_VISIBLE_DEVICES", "")
        .arg("devices")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CUDA available: false") && stdout.contains("devices: 0"),
        "no visible device, on any machine: {stdout}"
    );
    assert!(stdout.contains("a run would use GPUs: []"), "{stdout}");
}

const GPU_JOBS: &str = "name: g\nstages:\n  a:\n    kind: command\n    matrix: { i: [1, 2, 3] }\n    resources: { gpus: 1 }\n    params: { run: \"echo [$CUDA_VISIBLE_DEVICES] > $DDMD_JOB_DIR/seen\" }\n";

/// `""`, `-1` and `NoDevFiles` mean no device to CUDA: the jobs run on CPU, said once for the
/// stage (not once per job), and see no device.
#[test]
fn no_visible_device_runs_gpu_jobs_on_cpu_and_says_so_once() {
    for value in ["", "-1", "NoDevFiles"] {
        let env = Env::new();
        let p = env.pipeline("g.yaml", GPU_JOBS);
        let out = env
            .cmd()
            .env("CUDA_VISIBLE_DEVICES", value)
            .args(["run", p.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{value:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let warning =
            "warning: stage a asks for 1 GPU(s) per job; none is available, its jobs run on CPU";
        assert_eq!(err.matches(warning).count(), 1, "{value:?}: {err}");
        for dir in env.sql("select job_dir from runs") {
            let seen = std::fs::read_to_string(std::path::Path::new(&dir[0]).join("seen")).unwrap();
            assert_eq!(seen.trim(), "[]", "{value:?}");
        }
    }
}

#[test]
fn require_gpu_fails_a_gpu_job_instead_of_running_it_on_cpu() {
    let env = Env::new();
    let p = env.pipeline("g.yaml", GPU_JOBS);
    let out = env
        .cmd()
        .env("CUDA_VISIBLE_DEVICES", "")
        .args(["run", p.to_str().unwrap(), "-q", "--require-gpu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let errors = env.sql("select status, error from runs order by job_name");
    assert_eq!(errors.len(), 3, "{errors:?}");
    for r in &errors {
        assert_eq!(r[0], "failed", "{r:?}");
        assert!(
            r[1].contains("needs 1 GPU(s) and none is available (--require-gpu)"),
            "{r:?}"
        );
    }
    assert!(
        !env.path().join("home/jobs").exists()
            || env
                .sql("select job_dir from runs where started_at is not null")
                .is_empty(),
        "nothing started"
    );
}

/// GPUs named by UUID cannot be mapped to the numbers the scheduler hands out: refused with
/// the way out, before anything runs.
#[test]
fn uuids_in_cuda_visible_devices_are_refused_with_the_way_out() {
    let env = Env::new();
    let p = env.pipeline("g.yaml", GPU_JOBS);
    let out = env
        .cmd()
        .env(
            "CUDA_VISIBLE_DEVICES",
            "GPU-8f3a2b1c-0000-1111-2222-333344445555",
        )
        .args(["run", p.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("names GPUs by UUID, which ddmd-pipe cannot map to device numbers; set it to numbers (e.g. 0,1) or pass --gpus"),
        "{err}"
    );
    assert!(!env.db().exists() || env.scalar("select count(*) from runs") == "0");
}
