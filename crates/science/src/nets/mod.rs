//! Networks: the built-in conditional UNet and the TorchScript backend, behind one
//! [`Network`] type that owns its weights (a `VarStore`) and implements [`VelocityNet`],
//! the call every part of the trainer uses: `(x_τ, τ, tokens) → v`.
//!
//! A network is always built from a [`NetSpec`]; "trainable copies" (student, fake score) are
//! new networks of the same spec with the weights copied in.

pub mod blocks;
pub mod config;
pub mod unet;

pub use config::{NetSpec, UnetConfig};
pub use unet::Unet;

use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid network configuration: {0}")]
    Config(String),
    #[error("loading TorchScript module {path}: {source}")]
    Script { path: String, source: tch::TchError },
    #[error("forward of TorchScript module failed (expected the call (x [B,3,R,R] f32, tau [B] f32, tokens [B,L] i64) -> v [B,3,R,R]): {0}")]
    Forward(tch::TchError),
    #[error("TorchScript module returned shape {got:?}, expected {want:?}")]
    Shape { got: Vec<i64>, want: Vec<i64> },
    #[error("weights {path}: {source}")]
    Weights { path: String, source: tch::TchError },
    #[error("{0}")]
    Unsupported(String),
}

/// The velocity call shared by the teacher, the fake score and the student.
pub trait VelocityNet {
    fn velocity(&self, x: &Tensor, tau: &Tensor, tokens: &Tensor) -> Result<Tensor, NetError>;
}

enum Body {
    Unet(Box<Unet>),
    Script(tch::TrainableCModule),
}

/// A network together with its weights.
pub struct Network {
    spec: NetSpec,
    vs: VarStore,
    body: Body,
}

impl Network {
    pub fn build(spec: &NetSpec, device: Device) -> Result<Network, NetError> {
        let vs = VarStore::new(device);
        let body = match spec {
            NetSpec::Unet(cfg) => {
                cfg.validate().map_err(NetError::Config)?;
                Body::Unet(Box::new(Unet::new(&vs.root(), cfg)))
            }
            NetSpec::Torchscript { path } => {
                let mut m = tch::TrainableCModule::load(path, vs.root()).map_err(|source| {
                    NetError::Script {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                // Eval mode: dropout or batch statistics would make the loss non-deterministic.
                m.set_eval();
                Body::Script(m)
            }
        };
        Ok(Network {
            spec: spec.clone(),
            vs,
            body,
        })
    }

    /// A new network of the same spec holding a copy of these weights (student / fake score).
    pub fn duplicate(&self) -> Result<Network, NetError> {
        let mut n = Network::build(&self.spec, self.vs.device())?;
        n.vs.copy(&self.vs).map_err(|source| NetError::Weights {
            path: "<copy>".into(),
            source,
        })?;
        Ok(n)
    }

    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Trainable parameters with their names, sorted by name (a stable order for the optimiser
    /// state and for comparisons with PyTorch).
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn num_params(&self) -> i64 {
        self.vs.variables().values().map(|t| t.numel() as i64).sum()
    }

    /// Stops gradient tracking for every weight (the frozen teacher).
    pub fn freeze(&mut self) {
        self.vs.freeze();
    }

    pub fn save(&self, path: &Path) -> Result<(), NetError> {
        self.vs.save(path).map_err(|source| NetError::Weights {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn load(&mut self, path: &Path) -> Result<(), NetError> {
        self.vs.load(path).map_err(|source| NetError::Weights {
            path: path.display().to_string(),
            source,
        })
    }

    /// Velocity plus bottleneck features (built-in UNet only; the GAN regulariser needs them).
    pub fn velocity_and_features(
        &self,
        x: &Tensor,
        tau: &Tensor,
        tokens: &Tensor,
    ) -> Result<(Tensor, Tensor), NetError> {
        match &self.body {
            Body::Unet(u) => Ok(u.forward_with_features(x, tau, tokens)),
            Body::Script(_) => Err(NetError::Unsupported(
                "regularizer gan needs the built-in UNet's features; a TorchScript teacher has none".into(),
            )),
        }
    }
}

impl VelocityNet for Network {
    fn velocity(&self, x: &Tensor, tau: &Tensor, tokens: &Tensor) -> Result<Tensor, NetError> {
        match &self.body {
            Body::Unet(u) => Ok(u.forward(x, tau, tokens)),
            Body::Script(m) => {
                let v = m.forward_ts(&[x, tau, tokens]).map_err(NetError::Forward)?;
                if v.size() != x.size() {
                    return Err(NetError::Shape {
                        got: v.size(),
                        want: x.size(),
                    });
                }
                Ok(v)
            }
        }
    }
}
