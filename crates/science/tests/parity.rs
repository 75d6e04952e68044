//! Parity of the Decoupled-DMD generator step with a plain PyTorch implementation
//! (python/ref_dmd.py, run in the project's .venv): same TorchScript networks, same inputs,
//! equal loss values and equal parameter updates (1e-5) for every schedule and every
//! closed-form regulariser (mean–variance against each image's own render); coupled equals
//! original DMD with the CFG score; and the fake score's flow-matching update.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_science::distill::levels::NoiseDraw;
use ddmd_science::distill::loss::{generator_loss, LossConfig, RegInputs};
use ddmd_science::distill::step::{fake_update, FakeBatch};
use ddmd_science::flow::student_x0;
use ddmd_science::nets::{NetSpec, Network};
use ddmd_science::optim::{AdamW, AdamWConfig};
use ddmd_science::regularize::{DataMoments, Regularizer};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("DDMD_VENV_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/ref_dmd.py")
}

fn load(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .expect("read safetensors")
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Runs python/ref_dmd.py into a fresh folder: (the folder, cases.json, inputs, expected).
fn reference() -> (
    tempfile::TempDir,
    Value,
    HashMap<String, Tensor>,
    HashMap<String, Tensor>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(python())
        .arg(script())
        .arg(dir.path())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "ref_dmd.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cases.json")).unwrap())
            .unwrap();
    let inp = load(&dir.path().join("inputs.safetensors"));
    let expected = load(&dir.path().join("expected.safetensors"));
    (dir, meta, inp, expected)
}

#[test]
fn generator_step_matches_pytorch_reference() {
    let (dir, meta, inp, expected) = reference();
    let f = |k: &str| meta[k].as_f64().unwrap();
    let spec = |n: &str| NetSpec::Torchscript {
        path: dir.path().join(format!("{n}.pt")),
    };
    let mut teacher = Network::build(&spec("teacher"), Device::Cpu).unwrap();
    teacher.freeze();
    let fake = Network::build(&spec("fake"), Device::Cpu).unwrap();
    let tokens = &inp["tokens"];
    let data = DataMoments::of_renders(&inp["data"]);
    let cases = meta["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    let mut original_update = None;
    let mut coupled_update = None;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let reg: Regularizer = serde_json::from_value(case["reg"].clone()).unwrap();
        let student = Network::build(&spec("student"), Device::Cpu).unwrap();
        let cfg = LossConfig {
            alpha: f("alpha"),
            ca: case["ca"].as_f64().unwrap(),
            dm: case["dm"].as_f64().unwrap(),
            regularizer: reg,
            norm_eps: f("norm_eps"),
            batched: true,
            // Every branch is computed so the monitored values can be compared too.
            full: true,
        };
        let t = case["t"].as_f64().unwrap();
        let b = tokens.size()[0];
        let x = student_x0(
            &student,
            &inp["x_t"],
            &Tensor::full([b], t, (Kind::Float, Device::Cpu)),
            tokens,
        )
        .unwrap();
        let draw = NoiseDraw {
            tau_ca: inp[case["tau_ca"].as_str().unwrap()].shallow_clone(),
            tau_dm: inp[case["tau_dm"].as_str().unwrap()].shallow_clone(),
            eps_ca: inp[case["eps_ca"].as_str().unwrap()].shallow_clone(),
            eps_dm: inp[case["eps_dm"].as_str().unwrap()].shallow_clone(),
        };
        let reg_in = RegInputs {
            data: Some(&data),
            gan: None,
        };
        let out = generator_loss(&x, tokens, &draw, &teacher, &fake, &reg_in, &cfg).unwrap();
        let is_original = case
            .get("original_dmd")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !is_original {
            let want = case["loss"].as_f64().unwrap();
            let got = out.loss.double_value(&[]);
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{name} {case}: loss {got} vs PyTorch {want}"
            );
            let want_ca = case["loss_ca"].as_f64().unwrap();
            assert!(
                (out.loss_ca - want_ca).abs() <= 1e-5,
                "{name}: loss_ca {} vs {want_ca}",
                out.loss_ca
            );
            if let Some(want_dm) = case.get("loss_dm").and_then(Value::as_f64) {
                assert!(
                    (out.loss_dm - want_dm).abs() <= 1e-5,
                    "{name}: loss_dm {} vs {want_dm}",
                    out.loss_dm
                );
            }
        }
        let mut opt = AdamW::new(student.named_parameters(), AdamWConfig::default());
        opt.zero_grad();
        out.loss.backward();
        // Gradients first (before clipping): the original-DMD case is compared here, since
        // Adam's first step (≈ lr·sign(g)) magnifies rounding in near-zero gradient entries.
        let mut grads = Vec::new();
        for (pname, p) in &student.named_parameters() {
            let want = &expected[&format!("{name}.grad.{pname}")];
            let scale = want.abs().max().double_value(&[]).max(1e-12);
            let d = max_abs_diff(&p.grad(), want) / scale;
            assert!(
                d <= 1e-5,
                "{name} {case}: gradient of {pname} differs from PyTorch by {d} (relative)"
            );
            grads.push(p.grad().copy());
        }
        opt.clip_grad_norm(f("clip"));
        opt.step(f("lr"));
        let params = student.named_parameters();
        let mut moved = 0.0f64;
        let initial = Network::build(&spec("student"), Device::Cpu).unwrap();
        let init: HashMap<String, Tensor> = initial.named_parameters().into_iter().collect();
        for (pname, p) in &params {
            moved = moved.max(max_abs_diff(p, &init[pname]));
            if is_original {
                continue;
            }
            let want = expected
                .get(&format!("{name}.{pname}"))
                .unwrap_or_else(|| panic!("{name}: no expected {pname}"));
            let d = max_abs_diff(p, want);
            assert!(
                d <= 1e-5,
                "{name} {case}: parameter {pname} differs from PyTorch by {d}"
            );
        }
        // The comparison is only meaningful if the step actually changed the weights.
        assert!(
            moved > 1e-4,
            "{name}: update too small to compare ({moved})"
        );
        if is_original {
            original_update = Some(grads);
        } else if case["schedule"] == "coupled"
            && reg == Regularizer::Dm
            && cfg.ca == 1.0
            && cfg.dm == 1.0
        {
            coupled_update = Some(grads);
        }
    }
    // coupled (CA + DM) == original DMD with s_cfg: the same student gradient (PyTorch's
    // original-DMD gradient was already compared with ours above; here ours with ours).
    let (a, b) = (original_update.unwrap(), coupled_update.unwrap());
    for (x, y) in a.iter().zip(b.iter()) {
        let scale = x.abs().max().double_value(&[]).max(1e-12);
        assert!(
            max_abs_diff(x, y) / scale <= 1e-5,
            "coupled and original DMD gradients differ"
        );
    }
}

#[test]
fn fake_score_update_matches_pytorch_reference() {
    let (dir, meta, inp, expected) = reference();
    let fake = Network::build(
        &NetSpec::Torchscript {
            path: dir.path().join("fake.pt"),
        },
        Device::Cpu,
    )
    .unwrap();
    let mut opt = AdamW::new(fake.named_parameters(), AdamWConfig::default());
    let loss = fake_update(
        &fake,
        &mut opt,
        FakeBatch {
            x: &inp["fake_x"],
            tokens: &inp["tokens"],
            eps: &inp["fake_eps"],
            tau: &inp["fake_tau"],
            gan: None,
        },
        meta["clip"].as_f64().unwrap(),
        meta["lr"].as_f64().unwrap(),
    )
    .unwrap();
    let want = meta["fake_loss"].as_f64().unwrap();
    assert!(
        (loss - want).abs() <= 1e-5 * want.abs().max(1.0),
        "fake loss {loss} vs PyTorch {want}"
    );
    for (pname, p) in &fake.named_parameters() {
        let d = max_abs_diff(p, &expected[&format!("fake_update.{pname}")]);
        assert!(
            d <= 1e-5,
            "fake parameter {pname} differs from PyTorch by {d}"
        );
    }
}
