//! The Decoupled-DMD generator loss (DESIGN §9) as a pure function of the student output, the
//! noise draw and the networks. No randomness is drawn here: everything random comes in
//! through [`NoiseDraw`], which is what lets the parity test feed PyTorch the same inputs.

use super::levels::NoiseDraw;
use crate::flow::{empty_tokens, renoise, x0_from_v};
use crate::nets::{NetError, Network, VelocityNet};
use crate::regularize::{gan_generator_loss, meanvar_kl, DataMoments, GanHead, Regularizer};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct LossConfig {
    /// CFG scale of the CA term (α = 1: no CA signal).
    pub alpha: f64,
    /// λ_CA.
    pub ca: f64,
    /// λ_DM, also the weight of a `meanvar` / `gan` regulariser.
    pub dm: f64,
    pub regularizer: Regularizer,
    /// ε of the per-sample normalisation `mean|x − r_c| + ε`.
    pub norm_eps: f64,
    /// Run the teacher's calls of this step (CA cond, CA uncond, DM cond) as one forward.
    pub batched: bool,
    /// Compute every branch even when its weight is 0 (for monitoring).
    pub full: bool,
}

/// What the regularisers other than `dm` need.
pub struct RegInputs<'a> {
    pub data: Option<&'a DataMoments>,
    pub gan: Option<&'a GanHead>,
}

pub struct LossOutput {
    /// Scalar with gradient to the student output.
    pub loss: Tensor,
    /// Detached scalars (0 when the branch was skipped).
    pub loss_ca: f64,
    pub loss_dm: f64,
    /// Mean |Δ_CA|, |Δ_DM| after normalisation.
    pub delta_ca: f64,
    pub delta_dm: f64,
    /// Cosine between fake and teacher conditional velocities at x_DM (NaN when not computed).
    pub fake_teacher_cos: f64,
}

/// Per-sample DMD2 weight `mean_{c,h,w} |x − r| + ε`, shape [B, 1, 1, 1].
fn norm_weight(x: &Tensor, r: &Tensor, eps: f64) -> Tensor {
    (x - r)
        .abs()
        .mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float)
        + eps
}

/// `½·mean((x − sg(x + Δ))²)`: its gradient w.r.t. x is `−Δ / numel`.
fn pull(x: &Tensor, delta: &Tensor) -> Tensor {
    let target = (x.detach() + delta).detach();
    (x - target).square().mean(Kind::Float) * 0.5
}

/// NaN/inf in a Δ (e.g. a teacher blow-up on a wild student sample) would poison every weight;
/// a zero pull for that entry is the safe reading. Divergence is detected on the student output.
fn guard(t: Tensor) -> Tensor {
    t.nan_to_num(0.0, 0.0, 0.0)
}

struct TeacherOut {
    /// cond x0 at x_CA, uncond x0 at x_CA, cond x0 at x_DM, cond velocity at x_DM.
    rc_ca: Option<Tensor>,
    ru_ca: Option<Tensor>,
    r_dm: Option<Tensor>,
    v_dm: Option<Tensor>,
}

/// Runs the teacher calls that are needed, batched in one forward or one by one.
#[expect(
    clippy::too_many_arguments,
    reason = "the CA and DM inputs of one batched teacher call"
)]
fn teacher_calls(
    teacher: &dyn VelocityNet,
    x_ca: &Tensor,
    tau_ca: &Tensor,
    x_dm: &Tensor,
    tau_dm: &Tensor,
    tokens: &Tensor,
    need_ca: bool,
    need_dm: bool,
    batched: bool,
) -> Result<TeacherOut, NetError> {
    let uncond = empty_tokens(tokens);
    let mut xs = Vec::new();
    let mut ts = Vec::new();
    let mut ks = Vec::new();
    if need_ca {
        xs.extend([x_ca, x_ca]);
        ts.extend([tau_ca, tau_ca]);
        ks.extend([tokens, &uncond]);
    }
    if need_dm {
        xs.push(x_dm);
        ts.push(tau_dm);
        ks.push(tokens);
    }
    let vs: Vec<Tensor> = if xs.is_empty() {
        Vec::new()
    } else if batched {
        let v = teacher.velocity(
            &Tensor::cat(&xs, 0),
            &Tensor::cat(&ts, 0),
            &Tensor::cat(&ks, 0),
        )?;
        v.chunk(xs.len() as i64, 0)
    } else {
        let mut out = Vec::new();
        for i in 0..xs.len() {
            out.push(teacher.velocity(xs[i], ts[i], ks[i])?);
        }
        out
    };
    let mut it = vs.into_iter();
    let mut out = TeacherOut {
        rc_ca: None,
        ru_ca: None,
        r_dm: None,
        v_dm: None,
    };
    if need_ca {
        if let (Some(vc), Some(vu)) = (it.next(), it.next()) {
            out.rc_ca = Some(x0_from_v(x_ca, tau_ca, &vc));
            out.ru_ca = Some(x0_from_v(x_ca, tau_ca, &vu));
        }
    }
    if need_dm {
        if let Some(v) = it.next() {
            out.r_dm = Some(x0_from_v(x_dm, tau_dm, &v));
            out.v_dm = Some(v);
        }
    }
    Ok(out)
}

/// The generator loss on the student output `x` (with gradient). `tokens` are the prompts.
// `loss = loss + ..` on purpose: `+=` on a Tensor is an in-place op on the autograd graph.
#[expect(
    clippy::assign_op_pattern,
    reason = "`+=` on a Tensor is an in-place op on the autograd graph"
)]
pub fn generator_loss(
    x: &Tensor,
    tokens: &Tensor,
    noise: &NoiseDraw,
    teacher: &Network,
    fake: &Network,
    reg: &RegInputs,
    cfg: &LossConfig,
) -> Result<LossOutput, NetError> {
    let x_sg = x.detach();
    let use_dm_branch = cfg.regularizer == Regularizer::Dm && (cfg.dm != 0.0 || cfg.full);
    let use_ca_branch = cfg.ca != 0.0 || cfg.full;
    let x_ca = renoise(&x_sg, &noise.eps_ca, &noise.tau_ca);
    let x_dm = renoise(&x_sg, &noise.eps_dm, &noise.tau_dm);
    let t_out = tch::no_grad(|| {
        teacher_calls(
            teacher,
            &x_ca,
            &noise.tau_ca,
            &x_dm,
            &noise.tau_dm,
            tokens,
            use_ca_branch,
            use_dm_branch,
            cfg.batched,
        )
    })?;
    let mut loss = x.sum(Kind::Float) * 0.0;
    let mut out = LossOutput {
        loss: Tensor::new(),
        loss_ca: 0.0,
        loss_dm: 0.0,
        delta_ca: 0.0,
        delta_dm: 0.0,
        fake_teacher_cos: f64::NAN,
    };
    if let (Some(rc), Some(ru)) = (&t_out.rc_ca, &t_out.ru_ca) {
        let delta = tch::no_grad(|| {
            guard((rc - ru) * (cfg.alpha - 1.0) / norm_weight(&x_sg, rc, cfg.norm_eps))
        });
        let l = pull(x, &delta);
        out.loss_ca = l.double_value(&[]);
        out.delta_ca = delta.abs().mean(Kind::Float).double_value(&[]);
        if cfg.ca != 0.0 {
            loss = loss + l * cfg.ca;
        }
    }
    match cfg.regularizer {
        Regularizer::Dm => {
            if let (Some(r), Some(v_r)) = (&t_out.r_dm, &t_out.v_dm) {
                let (delta, cos) = tch::no_grad(|| -> Result<(Tensor, f64), NetError> {
                    let v_f = fake.velocity(&x_dm, &noise.tau_dm, tokens)?;
                    let f = x0_from_v(&x_dm, &noise.tau_dm, &v_f);
                    let delta = guard((r - f) / norm_weight(&x_sg, r, cfg.norm_eps));
                    let cos = Tensor::cosine_similarity(
                        &v_r.flatten(1, -1),
                        &v_f.flatten(1, -1),
                        1,
                        1e-8,
                    )
                    .mean(Kind::Float)
                    .double_value(&[]);
                    Ok((delta, cos))
                })?;
                let l = pull(x, &delta);
                out.loss_dm = l.double_value(&[]);
                out.delta_dm = delta.abs().mean(Kind::Float).double_value(&[]);
                out.fake_teacher_cos = cos;
                if cfg.dm != 0.0 {
                    loss = loss + l * cfg.dm;
                }
            }
        }
        Regularizer::Meanvar => {
            if let Some(data) = reg.data {
                let l = meanvar_kl(x, data);
                out.loss_dm = l.double_value(&[]);
                loss = loss + l * cfg.dm;
            }
        }
        Regularizer::Gan => {
            if let Some(head) = reg.gan {
                // The gradient reaches x through the fake network, so x is not detached here.
                let x_g = renoise(x, &noise.eps_dm, &noise.tau_dm);
                let (_, feats) = fake.velocity_and_features(&x_g, &noise.tau_dm, tokens)?;
                let l = gan_generator_loss(&head.logits(&feats));
                out.loss_dm = l.double_value(&[]);
                loss = loss + l * cfg.dm;
            }
        }
        Regularizer::None => {}
    }
    out.loss = loss;
    Ok(out)
}
