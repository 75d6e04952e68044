//! Value types of built-in stage parameters: the enums a parameter may take and the
//! "one or a list" shapes YAML users write.

use serde::{Deserialize, Serialize};

/// When the CA and DM terms draw their re-noise levels (seed §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// One τ ~ U(0, 1) and one noise shared by both terms: original DMD with the CFG score.
    Coupled,
    /// τ_CA ~ U(t, 1], τ_DM ~ U(0, 1), independent noises.
    Hybrid,
    /// τ_CA, τ_DM ~ U(t, 1], independent.
    Constrained,
}

/// The regulariser beside the CFG-augmentation term (seed table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Regularizer {
    /// Distribution matching (teacher cond − fake cond).
    Dm,
    /// Non-parametric KL between per-image mean and variance distributions.
    Meanvar,
    /// A discriminator head on the teacher's features.
    Gan,
    None,
}

/// ODE solver of the teacher's sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    Euler,
    Heun,
}

/// The data world a built-in stage trains or evaluates on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    Shapes,
}

/// What an `evaluate` job measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Fid,
    Kid,
    Dpg,
    Pixels,
    Stability,
    Hps,
    Throughput,
    /// PSNR of a student's samples against its teacher's from the same noise (needs the
    /// teacher among the evaluate job's `needs`).
    Psnr,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Fid => "fid",
            Metric::Kid => "kid",
            Metric::Dpg => "dpg",
            Metric::Pixels => "pixels",
            Metric::Stability => "stability",
            Metric::Hps => "hps",
            Metric::Throughput => "throughput",
            Metric::Psnr => "psnr",
        }
    }
}

/// `4` or `[1, 4]`: one value or a list, always read as a list. Deserialised by hand rather
/// than `untagged`, which would hide why an element is wrong (`fdi` in a list of metrics).
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_value(v)
                        .map_err(|e| D::Error::custom(format!("item {}: {e}", i + 1)))
                })
                .collect::<Result<Vec<T>, _>>()
                .map(OneOrMany::Many),
            v => serde_json::from_value(v)
                .map(OneOrMany::One)
                .map_err(D::Error::custom),
        }
    }
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Objects per scene: `2` (exactly) or `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    untagged,
    expecting = "a number of objects or [min, max] (non-negative integers)"
)]
pub enum Objects {
    Exactly(usize),
    Range([usize; 2]),
}

impl Objects {
    pub fn bounds(self) -> (usize, usize) {
        match self {
            Objects::Exactly(n) => (n, n),
            Objects::Range([a, b]) => (a, b),
        }
    }
}
