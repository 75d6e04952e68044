//! Flow matching conventions (DESIGN §9) and samplers.
//!
//! τ ∈ [0, 1], τ = 0 is pure noise, τ = 1 is clean data: `x_τ = τ·x0 + (1−τ)·ε`, the networks
//! predict `v = x0 − ε`, and `x0_hat = x_τ + (1−τ)·v`. CFG is `v_u + α·(v_c − v_u)` (α = 1: no
//! guidance), with the empty prompt (all PAD) as the unconditional input.

use crate::nets::{NetError, VelocityNet};
use tch::{Kind, Tensor};

/// Broadcasts a per-sample [B] level over an NCHW batch.
pub fn per_sample(tau: &Tensor) -> Tensor {
    tau.view([-1, 1, 1, 1])
}

/// `x_τ = τ·x0 + (1−τ)·ε`.
pub fn renoise(x0: &Tensor, eps: &Tensor, tau: &Tensor) -> Tensor {
    let t = per_sample(tau);
    &t * x0 + (1.0 - &t) * eps
}

/// `x0_hat = x_τ + (1−τ)·v`.
pub fn x0_from_v(x_tau: &Tensor, tau: &Tensor, v: &Tensor) -> Tensor {
    x_tau + (1.0 - per_sample(tau)) * v
}

/// Flow-matching target for a pair: `v = x0 − ε`.
pub fn target_v(x0: &Tensor, eps: &Tensor) -> Tensor {
    x0 - eps
}

/// The unconditional prompt: all PAD (0), same shape as `tokens`.
pub fn empty_tokens(tokens: &Tensor) -> Tensor {
    tokens.zeros_like()
}

/// CFG velocity with the conditional and unconditional calls in one batched forward.
pub fn cfg_velocity(
    net: &dyn VelocityNet,
    x: &Tensor,
    tau: &Tensor,
    tokens: &Tensor,
    alpha: f64,
) -> Result<Tensor, NetError> {
    if (alpha - 1.0).abs() < 1e-12 {
        return net.velocity(x, tau, tokens);
    }
    let b = x.size()[0];
    let xx = Tensor::cat(&[x, x], 0);
    let tt = Tensor::cat(&[tau, tau], 0);
    let kk = Tensor::cat(&[tokens, &empty_tokens(tokens)], 0);
    let v = net.velocity(&xx, &tt, &kk)?;
    let vc = v.narrow(0, 0, b);
    let vu = v.narrow(0, b, b);
    Ok(&vu + (vc - &vu) * alpha)
}

pub use ddmd_core::params::Solver;

/// Integrates the probability-flow ODE from τ = 0 (the given noise) to τ = 1 in `steps` equal
/// steps with CFG `alpha`. Heun applies the trapezoidal correction on every step but the last
/// (whose end point τ = 1 is where the velocity field is least reliable).
pub fn sample_ode(
    net: &dyn VelocityNet,
    noise: &Tensor,
    tokens: &Tensor,
    steps: usize,
    alpha: f64,
    solver: Solver,
) -> Result<Tensor, NetError> {
    let _g = tch::no_grad_guard();
    let n = steps.max(1);
    let b = noise.size()[0];
    let dev = noise.device();
    let mut x = noise.shallow_clone();
    let dt = 1.0 / n as f64;
    for k in 0..n {
        let t0 = k as f64 * dt;
        let tau = Tensor::full([b], t0, (Kind::Float, dev));
        let v0 = cfg_velocity(net, &x, &tau, tokens, alpha)?;
        let x_euler = &x + &v0 * dt;
        x = if solver == Solver::Heun && k + 1 < n {
            let tau1 = Tensor::full([b], t0 + dt, (Kind::Float, dev));
            let v1 = cfg_velocity(net, &x_euler, &tau1, tokens, alpha)?;
            &x + (v0 + v1) * (dt / 2.0)
        } else {
            x_euler
        };
    }
    Ok(x)
}

/// The few-step student as a generator: `G(x_t, t, c) = x_t + (1−t)·net(x_t, t, c)`, an x0
/// prediction (DESIGN §9; the student starts as a copy of the velocity teacher).
pub fn student_x0(
    net: &dyn VelocityNet,
    x_t: &Tensor,
    t: &Tensor,
    tokens: &Tensor,
) -> Result<Tensor, NetError> {
    let v = net.velocity(x_t, t, tokens)?;
    Ok(x0_from_v(x_t, t, &v))
}

/// The student's own time grid `t_k = k/N`.
pub fn student_time(k: usize, steps: usize) -> f64 {
    k as f64 / steps.max(1) as f64
}

/// Rolls the student from `noise` through steps `0..k` without gradient and returns `x_{t_k}`:
/// at each step `x0 = G(x_{t_j}, t_j)` is re-noised with fresh noise to `t_{j+1}`. `fresh`
/// supplies the re-noising noise (so tests and resume can control randomness).
pub fn backward_simulate(
    net: &dyn VelocityNet,
    noise: &Tensor,
    tokens: &Tensor,
    steps: usize,
    k: usize,
    fresh: &mut dyn FnMut() -> Tensor,
) -> Result<Tensor, NetError> {
    let _g = tch::no_grad_guard();
    let b = noise.size()[0];
    let dev = noise.device();
    let mut x = noise.shallow_clone();
    for j in 0..k {
        let t = Tensor::full([b], student_time(j, steps), (Kind::Float, dev));
        let x0 = student_x0(net, &x, &t, tokens)?;
        let t1 = Tensor::full([b], student_time(j + 1, steps), (Kind::Float, dev));
        x = renoise(&x0, &fresh(), &t1);
    }
    Ok(x)
}

/// N-step student sampling: backward simulation through all N steps, then the last x0.
pub fn sample_student(
    net: &dyn VelocityNet,
    noise: &Tensor,
    tokens: &Tensor,
    steps: usize,
    fresh: &mut dyn FnMut() -> Tensor,
) -> Result<Tensor, NetError> {
    let _g = tch::no_grad_guard();
    let n = steps.max(1);
    let x = backward_simulate(net, noise, tokens, n, n - 1, fresh)?;
    let b = noise.size()[0];
    let t = Tensor::full([b], student_time(n - 1, n), (Kind::Float, noise.device()));
    student_x0(net, &x, &t, tokens)
}
