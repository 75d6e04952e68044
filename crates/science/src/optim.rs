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
            let _ = p.g_mul_scalar_(1.0 - lr * c.weight_decay);
            let _ = self.m[i]
                .g_mul_scalar_(c.beta1)
                .g_add_(&(&g * (1.0 - c.beta1)));
            let _ = self.v[i]
                .g_mul_scalar_(c.beta2)
                .g_add_(&(&g * &g * (1.0 - c.beta2)));
            let denom = self.v[i].sqrt() / bc2.sqrt() + c.eps;
            let upd = &self.m[i] / denom * (lr / bc1);
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
