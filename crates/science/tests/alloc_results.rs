//! `alloc::keep_freed_memory` (glibc malloc settings) changes where tensors live, never what
//! they hold: the same seeded distill iterations give bit-for-bit the same student, fake score
//! and losses before and after it is applied. One test in its own binary, because the setting
//! is process-wide and cannot be undone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

use ddmd_science::data::{ShapesConfig, ShapesWorld};
use ddmd_science::distill::levels::{Schedule, TauRange};
use ddmd_science::distill::loss::LossConfig;
use ddmd_science::distill::step::{DistillConfig, Distiller};
use ddmd_science::nets::Network;
use ddmd_science::params::TeacherParams;
use ddmd_science::regularize::Regularizer;
use ddmd_science::teacher::teacher_spec;
use serde_json::json;
use tch::{Device, Tensor};

/// Three seeded distill iterations at batch 16 (activations of a few MiB, so with glibc's
/// defaults they are mmap'd and unmapped): the losses and every weight afterwards.
fn run() -> (Vec<f64>, Vec<(String, Tensor)>) {
    tch::manual_seed(7);
    let p = TeacherParams::from_map(json!({"widths": [32, 64]}).as_object().unwrap()).unwrap();
    let data = ShapesConfig::default();
    let world = ShapesWorld::new(data.clone());
    let teacher =
        Network::build(&teacher_spec(&p, &data, world.vocab().len()), Device::Cpu).unwrap();
    let cfg = DistillConfig {
        loss: LossConfig {
            alpha: 4.0,
            ca: 1.0,
            dm: 1.0,
            regularizer: Regularizer::Dm,
            norm_eps: 1e-4,
            batched: true,
            full: false,
        },
        schedule: Schedule::Hybrid,
        student_steps: 4,
        tau: TauRange::default(),
        fake_updates: 2,
        grad_clip: 1.0,
        gan_weight: 0.0,
        weight_decay: 0.0,
    };
    let mut d = Distiller::new(teacher, cfg).unwrap();
    let batch = world.batch(0, 0, 16);
    let mut losses = Vec::new();
    for _ in 0..3 {
        let r = d
            .step(&batch.images, &batch.tokens, 1e-3, 1e-3, false)
            .unwrap();
        losses.extend([r.loss, r.loss_fake, r.grad_norm]);
    }
    let mut weights = d.student.named_parameters();
    weights.extend(
        d.fake
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (format!("fake.{n}"), t)),
    );
    (losses, weights)
}

#[test]
fn malloc_settings_leave_results_bit_for_bit_unchanged() {
    let (losses_default, weights_default) = run();
    assert!(
        ddmd_science::alloc::keep_freed_memory(),
        "glibc refused the malloc settings"
    );
    let (losses_tuned, weights_tuned) = run();
    assert_eq!(
        losses_default
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        losses_tuned.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "losses differ: {losses_default:?} vs {losses_tuned:?}"
    );
    assert_eq!(weights_default.len(), weights_tuned.len());
    for ((name, a), (_, b)) in weights_default.iter().zip(&weights_tuned) {
        assert!(a.equal(b), "{name} differs after keep_freed_memory");
    }
}
