//! The built-in conditional UNet: `(x_τ, τ, tokens) → v`. Widths and depth come from
//! [`UnetConfig`]; cross-attention runs at resolutions ≤ `attn_res` and in the middle.

use super::blocks::{CrossAttention, Downsample, PromptEncoder, ResBlock, TimeEmbedding, Upsample};
use super::config::UnetConfig;
use tch::nn::{self, Module};
use tch::Tensor;

#[derive(Debug)]
struct Level {
    res: Vec<ResBlock>,
    attn: Vec<CrossAttention>,
}

impl Level {
    fn run(
        &self,
        i: usize,
        h: &Tensor,
        emb: &Tensor,
        prompt: &super::blocks::PromptContext,
    ) -> Tensor {
        let h = self.res[i].forward(h, emb);
        match self.attn.get(i) {
            Some(a) => a.forward(&h, prompt),
            None => h,
        }
    }
}

#[derive(Debug)]
pub struct Unet {
    time: TimeEmbedding,
    prompt: PromptEncoder,
    conv_in: nn::Conv2D,
    down: Vec<Level>,
    downsample: Vec<Downsample>,
    mid: CrossAttention,
    up: Vec<Level>,
    upsample: Vec<Upsample>,
    gn_out: nn::GroupNorm,
    conv_out: nn::Conv2D,
}

impl Unet {
    pub fn new(p: &nn::Path, cfg: &UnetConfig) -> Unet {
        let w = &cfg.widths;
        let levels = w.len();
        let emb = cfg.emb_dim;
        let time = TimeEmbedding::new(p / "time", cfg.emb_dim, emb);
        let prompt = PromptEncoder::new(
            p / "prompt",
            cfg.vocab,
            cfg.max_tokens,
            cfg.token_dim,
            cfg.heads,
            emb,
        );
        let conv_in = nn::conv2d(
            p / "conv_in",
            3,
            w[0],
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        );
        let attn_at = |level: usize| (cfg.resolution >> level) <= cfg.attn_res;
        let mut down = Vec::new();
        let mut downsample = Vec::new();
        let mut ch = w[0];
        let mut skips = Vec::new();
        for (i, &wi) in w.iter().enumerate() {
            let lp = p / "down" / i;
            let mut res = Vec::new();
            let mut attn = Vec::new();
            for b in 0..cfg.blocks {
                res.push(ResBlock::new(&lp / "res" / b, ch, wi, emb));
                if attn_at(i) {
                    attn.push(CrossAttention::new(
                        &lp / "attn" / b,
                        wi,
                        cfg.token_dim,
                        cfg.heads,
                    ));
                }
                ch = wi;
                skips.push(ch);
            }
            down.push(Level { res, attn });
            if i + 1 < levels {
                downsample.push(Downsample::new(p / "downsample" / i, ch, ch));
            }
        }
        let mid = CrossAttention::new(p / "mid", ch, cfg.token_dim, cfg.heads);
        let mut up = Vec::new();
        let mut upsample = Vec::new();
        for (i, &wi) in w.iter().enumerate().rev() {
            let lp = p / "up" / i;
            let mut res = Vec::new();
            let mut attn = Vec::new();
            for b in 0..cfg.blocks {
                let skip = skips.pop().unwrap_or(0);
                res.push(ResBlock::new(&lp / "res" / b, ch + skip, wi, emb));
                if attn_at(i) {
                    attn.push(CrossAttention::new(
                        &lp / "attn" / b,
                        wi,
                        cfg.token_dim,
                        cfg.heads,
                    ));
                }
                ch = wi;
            }
            up.push(Level { res, attn });
            if i > 0 {
                upsample.push(Upsample::new(p / "upsample" / i, ch, w[i - 1]));
                ch = w[i - 1];
            }
        }
        let gn_out = nn::group_norm(p / "gn_out", 8.min(ch), ch, Default::default());
        let conv_out = nn::conv2d(
            p / "conv_out",
            ch,
            3,
            3,
            nn::ConvConfig {
                padding: 1,
                ws_init: nn::Init::Const(0.0),
                bs_init: nn::Init::Const(0.0),
                ..Default::default()
            },
        );
        Unet {
            time,
            prompt,
            conv_in,
            down,
            downsample,
            mid,
            up,
            upsample,
            gn_out,
            conv_out,
        }
    }

    /// Velocity and the bottleneck features (the GAN regulariser's discriminator reads these).
    pub fn forward_with_features(
        &self,
        x: &Tensor,
        tau: &Tensor,
        tokens: &Tensor,
    ) -> (Tensor, Tensor) {
        let prompt = self.prompt.forward(tokens);
        let emb = (self.time.forward(tau) + &prompt.pooled).silu();
        let mut h = self.conv_in.forward(x);
        let mut skips = Vec::new();
        for (i, level) in self.down.iter().enumerate() {
            for b in 0..level.res.len() {
                h = level.run(b, &h, &emb, &prompt);
                skips.push(h.shallow_clone());
            }
            if let Some(d) = self.downsample.get(i) {
                h = d.forward(&h);
            }
        }
        h = self.mid.forward(&h, &prompt);
        let features = h.shallow_clone();
        for (j, level) in self.up.iter().enumerate() {
            for b in 0..level.res.len() {
                if let Some(s) = skips.pop() {
                    h = Tensor::cat(&[h, s], 1);
                }
                h = level.run(b, &h, &emb, &prompt);
            }
            if let Some(u) = self.upsample.get(j) {
                h = u.forward(&h);
            }
        }
        let v = self.conv_out.forward(&self.gn_out.forward(&h).silu());
        (v, features)
    }

    pub fn forward(&self, x: &Tensor, tau: &Tensor, tokens: &Tensor) -> Tensor {
        self.forward_with_features(x, tau, tokens).0
    }

    /// Channels of the bottleneck features.
    pub fn feature_channels(cfg: &UnetConfig) -> i64 {
        cfg.widths.last().copied().unwrap_or(0)
    }
}
