//! One distillation iteration: a generator (student) update with the Decoupled-DMD loss on a
//! backward-simulated input, then `fake_updates` flow-matching updates of the fake score (TTUR),
//! each on *fresh* samples of the just-updated student (as DMD2 does: reusing one batch for
//! every update fits the fake score to 20 images, not to the student's distribution), with τ
//! drawn over the whole range. Randomness comes from the global torch generator, which the
//! stage re-seeds per iteration.

use super::levels::{NoiseDraw, Schedule, TauRange};
use super::loss::{generator_loss, LossConfig, LossOutput, RegInputs};
use crate::flow::{backward_simulate, renoise, sample_student, student_time, student_x0, target_v};
use crate::nets::{NetError, Network, VelocityNet};
use crate::optim::{AdamW, AdamWConfig};
use crate::regularize::{gan_discriminator_loss, DataMoments, GanHead, Regularizer};
use std::collections::VecDeque;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

pub struct DistillConfig {
    pub loss: LossConfig,
    pub schedule: Schedule,
    pub student_steps: usize,
    pub tau: TauRange,
    pub fake_updates: usize,
    pub grad_clip: f64,
    pub gan_weight: f64,
    pub weight_decay: f64,
}

pub struct Distiller {
    pub teacher: Network,
    pub student: Network,
    pub fake: Network,
    pub gan_vs: VarStore,
    pub gan: Option<GanHead>,
    pub opt_g: AdamW,
    pub opt_f: AdamW,
    pub cfg: DistillConfig,
    /// Student steps k to use instead of random draws, one per student sample in order
    /// (`use_given_steps`); `None`: drawn from the global torch generator.
    given_steps: Option<VecDeque<usize>>,
}

pub struct StepReport {
    pub out: LossOutput,
    pub loss: f64,
    pub loss_fake: f64,
    pub grad_norm: f64,
    /// Student step index k of the backward simulation.
    pub k: usize,
    /// k of each fake-score update's fresh student sample, in order.
    pub fake_ks: Vec<usize>,
}

impl Distiller {
    /// Student and fake start as copies of the (frozen) teacher.
    pub fn new(mut teacher: Network, cfg: DistillConfig) -> Result<Distiller, NetError> {
        teacher.freeze();
        // Fresh networks of the same spec: their weights are trainable, only values are copied.
        let student = teacher.duplicate()?;
        let fake = teacher.duplicate()?;
        let gan_vs = VarStore::new(teacher.device());
        let gan = if cfg.loss.regularizer == Regularizer::Gan {
            let ch = match teacher.spec() {
                crate::nets::NetSpec::Unet(u) => crate::nets::Unet::feature_channels(u),
                crate::nets::NetSpec::Torchscript { .. } => {
                    return Err(NetError::Unsupported(
                        "regularizer gan needs the built-in UNet's features; a TorchScript teacher has none".into(),
                    ))
                }
            };
            Some(GanHead::new(&gan_vs.root(), ch))
        } else {
            None
        };
        let adam = AdamWConfig {
            weight_decay: cfg.weight_decay,
            ..Default::default()
        };
        let opt_g = AdamW::new(student.named_parameters(), adam);
        let mut fake_params = fake.named_parameters();
        let mut gan_params: Vec<(String, Tensor)> = gan_vs
            .variables()
            .into_iter()
            .map(|(n, t)| (format!("gan.{n}"), t))
            .collect();
        gan_params.sort_by(|a, b| a.0.cmp(&b.0));
        fake_params.extend(gan_params);
        let opt_f = AdamW::new(fake_params, adam);
        Ok(Distiller {
            teacher,
            student,
            fake,
            gan_vs,
            gan,
            opt_g,
            opt_f,
            cfg,
            given_steps: None,
        })
    }

    /// Makes every later student sample (the generator's, then each fake update's, 1 +
    /// `fake_updates` per iteration) take its step k from `ks` in order instead of a random
    /// draw, so that a benchmark and its PyTorch mirror do the same work: the backward
    /// simulation costs k no-grad forwards, so k alone moves an iteration's time. A step
    /// fails once `ks` is used up or when a k is not below `student_steps`.
    pub fn use_given_steps(&mut self, ks: Vec<usize>) {
        self.given_steps = Some(ks.into());
    }

    /// The next student step: the given sequence's next entry, or uniform over 0..n.
    fn next_k(&mut self) -> Result<usize, NetError> {
        let n = self.cfg.student_steps.max(1);
        match &mut self.given_steps {
            Some(q) => {
                let k = q.pop_front().ok_or_else(|| {
                    NetError::Config("the given sequence of student steps k is used up".into())
                })?;
                if k >= n {
                    return Err(NetError::Config(format!(
                        "given student step k = {k} is not below student_steps = {n}"
                    )));
                }
                Ok(k)
            }
            None if n > 1 => Ok(
                Tensor::randint(n as i64, [1], (Kind::Int64, tch::Device::Cpu)).int64_value(&[0])
                    as usize,
            ),
            None => Ok(0),
        }
    }

    /// A student sample by backward simulation: student step k (`next_k`), its input reached
    /// by the student itself from fresh noise, and the student's x0 prediction from there
    /// (with gradients unless the caller holds a no-grad guard). Returns (x, k, t_k).
    fn student_sample(
        &mut self,
        tokens: &Tensor,
        shape: &[i64; 4],
    ) -> Result<(Tensor, usize, f64), NetError> {
        let n = self.cfg.student_steps.max(1);
        let dev = tokens.device();
        let k = self.next_k()?;
        let noise = Tensor::randn(*shape, (Kind::Float, dev));
        let mut fresh = || Tensor::randn(*shape, (Kind::Float, dev));
        let x_t = backward_simulate(&self.student, &noise, tokens, n, k, &mut fresh)?;
        let t = student_time(k, n);
        let t_vec = Tensor::full([shape[0]], t, (Kind::Float, dev));
        let x = student_x0(&self.student, &x_t, &t_vec, tokens)?;
        Ok((x, k, t))
    }

    /// The student's final samples (all of its steps, from fresh noise, no gradient) for
    /// `tokens`: what the monitor and the divergence detector look at. The training sample of
    /// a step is at a random student step k, and its statistics swing with k (a 1-step output
    /// is blurrier than a 4-step one), which would drown a drift in noise.
    pub fn final_samples(&self, tokens: &Tensor, resolution: i64) -> Result<Tensor, NetError> {
        let shape = [tokens.size()[0], 3, resolution, resolution];
        let dev = tokens.device();
        let noise = Tensor::randn(shape, (Kind::Float, dev));
        let mut fresh = || Tensor::randn(shape, (Kind::Float, dev));
        sample_student(
            &self.student,
            &noise,
            tokens,
            self.cfg.student_steps,
            &mut fresh,
        )
    }

    /// One iteration. `real` [B,3,R,R] and `tokens` [B,L] are a data batch on the device: the
    /// prompts drive the student; the images are the same prompts' renders, which the
    /// mean–variance regulariser matches and the GAN discriminator reads.
    pub fn step(
        &mut self,
        real: &Tensor,
        tokens: &Tensor,
        lr: f64,
        fake_lr: f64,
        full: bool,
    ) -> Result<StepReport, NetError> {
        let b = tokens.size()[0];
        let dev = tokens.device();
        let shape = [b, 3, real.size()[2], real.size()[3]];
        // Backward simulation: a random student step k, input reached by the student itself.
        let (x, k, t) = self.student_sample(tokens, &shape)?;
        let draw = NoiseDraw::sample(self.cfg.schedule, t, &shape, self.cfg.tau, dev);
        let mut cfg = self.cfg.loss;
        cfg.full = full;
        // Only the mean–variance regulariser reads the renders' moments.
        let moments = (self.cfg.loss.regularizer == Regularizer::Meanvar)
            .then(|| DataMoments::of_renders(real));
        let reg = RegInputs {
            data: moments.as_ref(),
            gan: self.gan.as_ref(),
        };
        let out = generator_loss(&x, tokens, &draw, &self.teacher, &self.fake, &reg, &cfg)?;
        self.opt_g.zero_grad();
        out.loss.backward();
        let grad_norm = self.opt_g.clip_grad_norm(self.cfg.grad_clip);
        self.opt_g.step(lr);
        let loss = out.loss.double_value(&[]);

        // Fake score: flow matching on fresh samples of the updated student, one batch per
        // update; τ over the whole range.
        let mut loss_fake = 0.0;
        let mut fake_ks = Vec::with_capacity(self.cfg.fake_updates);
        for _ in 0..self.cfg.fake_updates {
            let sample = {
                let _g = tch::no_grad_guard();
                let (x, k, _) = self.student_sample(tokens, &shape)?;
                fake_ks.push(k);
                x.detach()
            };
            let tau = Tensor::rand([b], (Kind::Float, dev)) * (self.cfg.tau.max - self.cfg.tau.min)
                + self.cfg.tau.min;
            let eps = Tensor::randn(shape, (Kind::Float, dev));
            let eps_real = self
                .gan
                .as_ref()
                .map(|_| Tensor::randn(shape, (Kind::Float, dev)));
            let l = fake_update(
                &self.fake,
                &mut self.opt_f,
                FakeBatch {
                    x: &sample,
                    tokens,
                    eps: &eps,
                    tau: &tau,
                    gan: self
                        .gan
                        .as_ref()
                        .zip(eps_real.as_ref())
                        .map(|(head, e)| GanBatch {
                            head,
                            real,
                            eps_real: e,
                            weight: self.cfg.gan_weight,
                        }),
                },
                self.cfg.grad_clip,
                fake_lr,
            )?;
            loss_fake += l / self.cfg.fake_updates as f64;
        }
        Ok(StepReport {
            out,
            loss,
            loss_fake,
            grad_norm,
            k,
            fake_ks,
        })
    }
}

/// The GAN discriminator's part of a fake-score update: the head, the renders of the batch's
/// prompts and the noise that brings them to the same levels as the student's samples.
pub struct GanBatch<'a> {
    pub head: &'a GanHead,
    pub real: &'a Tensor,
    pub eps_real: &'a Tensor,
    pub weight: f64,
}

/// One fake-score update's inputs: student samples `x` (detached), their prompts, the noise
/// and levels of the flow-matching loss.
pub struct FakeBatch<'a> {
    pub x: &'a Tensor,
    pub tokens: &'a Tensor,
    pub eps: &'a Tensor,
    pub tau: &'a Tensor,
    pub gan: Option<GanBatch<'a>>,
}

/// One flow-matching update of the fake score (clipped gradient, one optimiser step); returns
/// the loss. With a GAN head, one forward over [fake; real] gives the FM loss and both
/// discriminator logits.
pub fn fake_update(
    fake: &Network,
    opt: &mut AdamW,
    batch: FakeBatch,
    grad_clip: f64,
    lr: f64,
) -> Result<f64, NetError> {
    let FakeBatch {
        x,
        tokens,
        eps,
        tau,
        gan,
    } = batch;
    let b = x.size()[0];
    let x_tau = renoise(x, eps, tau);
    let l = match gan {
        None => {
            let v = fake.velocity(&x_tau, tau, tokens)?;
            (v - target_v(x, eps)).square().mean(Kind::Float)
        }
        Some(g) => {
            let real_tau = renoise(g.real, g.eps_real, tau);
            let (v, feats) = fake.velocity_and_features(
                &Tensor::cat(&[&x_tau, &real_tau], 0),
                &Tensor::cat(&[tau, tau], 0),
                &Tensor::cat(&[tokens, tokens], 0),
            )?;
            let logits = g.head.logits(&feats);
            let fm = (v.narrow(0, 0, b) - target_v(x, eps))
                .square()
                .mean(Kind::Float);
            fm + gan_discriminator_loss(&logits.narrow(0, b, b), &logits.narrow(0, 0, b)) * g.weight
        }
    };
    opt.zero_grad();
    l.backward();
    opt.clip_grad_norm(grad_clip);
    opt.step(lr);
    Ok(l.detach().double_value(&[]))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "tests: a failed unwrap is a failed check, with its message"
    )]
    use super::*;
    use crate::distill::loss::LossConfig;
    use crate::nets::{NetSpec, UnetConfig};
    use tch::Device;

    fn distiller(fake_updates: usize) -> Distiller {
        let spec = NetSpec::Unet(UnetConfig {
            resolution: 8,
            widths: vec![8, 16],
            blocks: 1,
            emb_dim: 8,
            token_dim: 8,
            heads: 4,
            attn_res: 4,
            vocab: 27,
            max_tokens: 6,
        });
        let teacher = Network::build(&spec, Device::Cpu).unwrap();
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
            fake_updates,
            grad_clip: 1.0,
            gan_weight: 0.0,
            weight_decay: 0.0,
        };
        Distiller::new(teacher, cfg).unwrap()
    }

    /// The given ks are taken in order, generator sample first, then one per fake update; a
    /// step fails (rather than silently drawing) when they run out or one is out of range.
    #[test]
    fn given_steps_are_used_in_order_and_checked() {
        let mut d = distiller(2);
        d.use_given_steps(vec![3, 0, 2, 1, 1, 0, 3]);
        let tokens = Tensor::from_slice(&[5i64, 6, 7, 0, 0, 0, 8, 9, 0, 0, 0, 0]).view([2, 6]);
        let real = Tensor::zeros([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let r = d.step(&real, &tokens, 1e-5, 1e-5, false).unwrap();
        assert_eq!((r.k, r.fake_ks.clone()), (3, vec![0, 2]));
        let r = d.step(&real, &tokens, 1e-5, 1e-5, false).unwrap();
        assert_eq!((r.k, r.fake_ks), (1, vec![1, 0]));
        let err = d.step(&real, &tokens, 1e-5, 1e-5, false).err().unwrap();
        assert!(err.to_string().contains("used up"), "{err}");

        let mut d = distiller(0);
        d.use_given_steps(vec![4]);
        let err = d.step(&real, &tokens, 1e-5, 1e-5, false).err().unwrap();
        assert!(err.to_string().contains("not below"), "{err}");
    }
}
