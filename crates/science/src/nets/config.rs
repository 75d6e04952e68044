//! Serialisable description of a network: the built-in UNet's hyper-parameters or a
//! TorchScript file. Stored in `model.json` so an artifact can be rebuilt without the params.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnetConfig {
    /// Image side (R); attention placement depends on it.
    pub resolution: i64,
    /// Channel width per level; one downsampling between consecutive levels.
    pub widths: Vec<i64>,
    /// Residual blocks per level (down and up).
    pub blocks: usize,
    /// Time / FiLM embedding width.
    pub emb_dim: i64,
    /// Prompt-token width.
    pub token_dim: i64,
    pub heads: i64,
    /// Cross-attention at levels whose resolution is ≤ this.
    pub attn_res: i64,
    pub vocab: i64,
    pub max_tokens: i64,
}

impl UnetConfig {
    /// Checks what would otherwise panic deep inside libtorch.
    pub fn validate(&self) -> Result<(), String> {
        if self.widths.is_empty() || self.widths.iter().any(|&w| w <= 0) {
            return Err(format!(
                "widths must be a non-empty list of positive integers, got {:?}",
                self.widths
            ));
        }
        let down = 1i64 << (self.widths.len() - 1);
        if self.resolution % down != 0 {
            return Err(format!(
                "resolution {} is not divisible by 2^(levels-1) = {down} for widths {:?}",
                self.resolution, self.widths
            ));
        }
        for &w in &self.widths {
            if w % self.heads != 0 {
                return Err(format!(
                    "width {w} is not divisible by heads {}",
                    self.heads
                ));
            }
        }
        if self.token_dim % self.heads != 0 || self.token_dim <= 0 {
            return Err(format!(
                "token_dim {} is not a positive multiple of heads {}",
                self.token_dim, self.heads
            ));
        }
        if self.blocks == 0 {
            return Err("blocks must be at least 1".into());
        }
        if self.emb_dim < 2 || self.emb_dim % 2 != 0 {
            return Err(format!(
                "emb_dim must be an even number ≥ 2, got {}",
                self.emb_dim
            ));
        }
        Ok(())
    }
}

/// Which network implementation backs a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum NetSpec {
    Unet(UnetConfig),
    /// A user's TorchScript module with the call `(x, τ, tokens) → v`.
    Torchscript {
        path: PathBuf,
    },
}
