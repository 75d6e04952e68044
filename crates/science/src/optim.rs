//! AdamW and gradient clipping, written out so that the optimiser state can be checkpointed
//! (tch's optimiser hides its moments) and so the update is exactly PyTorch's
//! `torch.optim.AdamW` (decoupled weight decay, bias correction, `eps` outside the sqrt), which
//! the parity test compares against.

use std::collections::HashMap;
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        // PyTorch's defaults.
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: i64,
}

impl AdamW {
    /// `params`: named trainable tensors (e.g. `Network::named_parameters`).
    pub fn new(params: Vec<(String, Tensor)>, cfg: AdamWConfig) -> AdamW {
        let m = params.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like()).collect();
        AdamW {
            cfg,
            params,
            m,
            v,
            step: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Total L2 norm of the gradients; scales them down to `max_norm` when above (PyTorch's
    /// `clip_grad_norm_`, including its 1e-6). Returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        let _g = tch::no_grad_guard();
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, p)| p.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return 0.0;
        }
        let norms: Vec<Tensor> = grads
            .iter()
            .map(|g| g.norm().to_kind(Kind::Float))
            .collect();
        let total = Tensor::stack(&norms, 0).norm();
        let total_f = total.double_value(&[]);
        if max_norm > 0.0 && total_f.is_finite() {
            let coef = (max_norm / (total_f + 1e-6)).min(1.0);
            if coef < 1.0 {
                for mut g in grads {
                    let _ = g.g_mul_scalar_(coef);
                }
            }
        }
        total_f
    }

    /// One AdamW step with learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        let _g = tch::no_grad_guard();
        self.step += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for (i, (_, p)) in self.params.iter_mut().enumerate() {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
            // The plain formula (tests: `step_matches_the_plain_formula_bit_for_bit`) with
            // fewer ops: no ×1.0 without weight decay, and the scalar steps done in place on
            // temporaries already allocated (same kernels, same order: same values; 4 fewer
            // allocations per parameter, ~13 % of the step's time).
            if c.weight_decay != 0.0 {
                let _ = p.g_mul_scalar_(1.0 - lr * c.weight_decay);
            }
            let _ = self.m[i]
                .g_mul_scalar_(c.beta1)
                .g_add_(&(&g * (1.0 - c.beta1)));
            let mut g2 = &g * &g;
            let _ = g2.g_mul_scalar_(1.0 - c.beta2);
            let _ = self.v[i].g_mul_scalar_(c.beta2).g_add_(&g2);
            let mut denom = self.v[i].sqrt();
            let _ = denom.g_div_scalar_(bc2.sqrt()).g_add_scalar_(c.eps);
            let mut upd = &self.m[i] / &denom;
            let _ = upd.g_mul_scalar_(lr / bc1);
            let _ = p.g_sub_(&upd);
        }
    }

    pub fn steps_taken(&self) -> i64 {
        self.step
    }

    /// Moments keyed `m.<name>` / `v.<name>` plus the step count, for a checkpoint.
    pub fn state(&self) -> (Vec<(String, Tensor)>, i64) {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("v.{name}"), self.v[i].shallow_clone()));
        }
        (out, self.step)
    }

    /// Restores moments saved by [`AdamW::state`]; every parameter must be present.
    pub fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: i64,
    ) -> Result<(), String> {
        let _g = tch::no_grad_guard();
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("{prefix}.{name}");
                let t = tensors
                    .get(&key)
                    .ok_or_else(|| format!("optimiser state lacks {key}"))?;
                if t.size() != p.size() {
                    return Err(format!(
                        "optimiser state {key} has shape {:?}, expected {:?}",
                        t.size(),
                        p.size()
                    ));
                }
                slot.copy_(&t.to_device(p.device()));
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Exponential moving average of weights: `ema ← d·ema + (1−d)·w`.
pub fn ema_update(ema: &[(String, Tensor)], live: &[(String, Tensor)], decay: f64) {
    let _g = tch::no_grad_guard();
    for ((_, e), (_, w)) in ema.iter().zip(live.iter()) {
        let mut e = e.shallow_clone();
        let _ = e.g_mul_scalar_(decay).g_add_(&(w * (1.0 - decay)));
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests: a failed unwrap is a failed check, with its message"
    )]
    use super::*;

    /// `AdamW::step` before it was trimmed, written out: the reference for bit equality.
    fn plain_step(
        cfg: AdamWConfig,
        ps: &[Tensor],
        m: &mut [Tensor],
        v: &mut [Tensor],
        step: i32,
        lr: f64,
    ) {
        let _g = tch::no_grad_guard();
        let bc1 = 1.0 - cfg.beta1.powi(step);
        let bc2 = 1.0 - cfg.beta2.powi(step);
        for (i, p) in ps.iter().enumerate() {
            let mut p = p.shallow_clone();
            let g = p.grad();
            let _ = p.g_mul_scalar_(1.0 - lr * cfg.weight_decay);
            let _ = m[i]
                .g_mul_scalar_(cfg.beta1)
                .g_add_(&(&g * (1.0 - cfg.beta1)));
            let _ = v[i]
                .g_mul_scalar_(cfg.beta2)
                .g_add_(&(&g * &g * (1.0 - cfg.beta2)));
            let denom = v[i].sqrt() / bc2.sqrt() + cfg.eps;
            let upd = &m[i] / denom * (lr / bc1);
            let _ = p.g_sub_(&upd);
        }
    }

    #[test]
    fn step_matches_the_plain_formula_bit_for_bit() {
        tch::manual_seed(3);
        for weight_decay in [0.0, 0.01] {
            let cfg = AdamWConfig {
                weight_decay,
                ..Default::default()
            };
            let shapes: [&[i64]; 3] = [&[64, 32, 3, 3], &[64], &[7, 5]];
            let fresh = || -> Vec<Tensor> {
                shapes
                    .iter()
                    .map(|s| {
                        Tensor::randn(*s, (Kind::Float, tch::Device::Cpu)).set_requires_grad(true)
                    })
                    .collect()
            };
            let ours = fresh();
            let reference: Vec<Tensor> = ours
                .iter()
                .map(|p| p.detach().copy().set_requires_grad(true))
                .collect();
            let named = ours
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("p{i}"), p.shallow_clone()))
                .collect();
            let mut opt = AdamW::new(named, cfg);
            let mut m: Vec<Tensor> = reference.iter().map(|p| p.zeros_like()).collect();
            let mut v: Vec<Tensor> = reference.iter().map(|p| p.zeros_like()).collect();
            for step in 1..=5 {
                for (a, b) in ours.iter().zip(&reference) {
                    // Gradients with a wide range of magnitudes, the same on both sides.
                    let g = Tensor::randn(a.size(), (Kind::Float, tch::Device::Cpu))
                        * 10f64.powi(step - 3);
                    let mut ga = a.grad();
                    if !ga.defined() {
                        (a * 0.0).sum(Kind::Float).backward();
                        ga = a.grad();
                    }
                    ga.copy_(&g);
                    let mut gb = b.grad();
                    if !gb.defined() {
                        (b * 0.0).sum(Kind::Float).backward();
                        gb = b.grad();
                    }
                    gb.copy_(&g);
                }
                opt.step(1e-3);
                plain_step(cfg, &reference, &mut m, &mut v, step, 1e-3);
                for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
                    assert!(
                        a.equal(b),
                        "weight decay {weight_decay}, step {step}: p{i} differs"
                    );
                }
            }
            let (state, _) = opt.state();
            for (i, (mi, vi)) in m.iter().zip(&v).enumerate() {
                assert!(
                    state[2 * i].1.equal(mi) && state[2 * i + 1].1.equal(vi),
                    "moments of p{i} differ"
                );
            }
        }
    }
}
