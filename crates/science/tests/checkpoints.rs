//! Damaged checkpoints through the loader a resuming job calls (`ckpt::load`): a truncated,
//! emptied, garbage or impossible file is an error naming the file, never a panic, and a
//! checkpoint cut while being written is never listed. (The orchestrator's side — the job sets
//! the damaged checkpoint aside and recovers — is tests/reliability_state.rs.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_science::ckpt::{self, Part};
use tch::{Kind, Tensor};

fn saved(root: &std::path::Path) -> ckpt::Checkpoint {
    let w = Tensor::arange(12, (Kind::Float, tch::Device::Cpu)).reshape([3, 4]);
    ckpt::save(
        root,
        10,
        &[Part {
            name: "net",
            tensors: vec![("w".into(), w)],
        }],
        &serde_json::json!({ "iteration": 10 }),
    )
    .expect("save")
}

#[test]
fn corrupt_or_truncated_checkpoints_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ckpt");
    let c = saved(&root);
    assert_eq!(c.tensors("net").expect("a good checkpoint loads").len(), 1);
    let file = c.dir.join("net.safetensors");
    let good = std::fs::read(&file).expect("read");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("header only", good[..8].to_vec()),
        ("empty", Vec::new()),
        ("garbage", vec![0xff; 256]),
        ("huge header length", {
            let mut g = good.clone();
            g[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            g
        }),
    ];
    for (name, bytes) in cases {
        std::fs::write(&file, &bytes).expect("write");
        let r = std::panic::catch_unwind(|| c.tensors("net"));
        let r = r.unwrap_or_else(|_| panic!("{name}: the loader panicked"));
        let e = r
            .err()
            .unwrap_or_else(|| panic!("{name}: a damaged file loaded"));
        assert!(e.to_string().contains("net.safetensors"), "{name}: {e}");
    }
    std::fs::remove_file(&file).expect("remove");
    let e = c.tensors("net").expect_err("missing part");
    assert!(
        e.to_string().contains("corrupt") && e.to_string().contains("missing file"),
        "{e}"
    );

    std::fs::write(c.dir.join("state.json"), "{\"iteration\": 1").expect("write");
    let e = c.state().expect_err("a cut state.json");
    assert!(
        e.to_string().contains("state.json") && e.to_string().contains("corrupt"),
        "{e}"
    );

    // A checkpoint cut while being written stays in its `.tmp-` folder: never listed.
    std::fs::create_dir_all(root.join(".tmp-it-00000020")).expect("tmp");
    let latest = ckpt::latest(&root).expect("list").expect("one");
    assert_eq!(latest.iteration, 10);
}
