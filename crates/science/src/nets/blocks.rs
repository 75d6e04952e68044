//! Building blocks of the built-in UNet, one struct per block (DESIGN §15): time embedding,
//! prompt encoder, FiLM residual block, cross-attention, down/up sampling. Each block owns its
//! `nn::Path` sub-tree so weight names are stable (`down.0.res.conv1.weight`).

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Group count for GroupNorm: 8 when the width allows, else the largest divisor ≤ 8.
fn groups(ch: i64) -> i64 {
    (1..=8).rev().find(|g| ch % g == 0).unwrap_or(1)
}

fn conv3(p: nn::Path, i: i64, o: i64) -> nn::Conv2D {
    nn::conv2d(
        p,
        i,
        o,
        3,
        nn::ConvConfig {
            padding: 1,
            ..Default::default()
        },
    )
}

/// A layer initialised to zero, so a freshly built residual branch starts as the identity.
fn zero_linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    nn::linear(
        p,
        i,
        o,
        nn::LinearConfig {
            ws_init: nn::Init::Const(0.0),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

/// Sinusoidal features of τ (scaled by 1000, as in DDPM-style nets) through a 2-layer MLP.
#[derive(Debug)]
pub struct TimeEmbedding {
    freq_dim: i64,
    lin1: nn::Linear,
    lin2: nn::Linear,
}

impl TimeEmbedding {
    pub fn new(p: nn::Path, freq_dim: i64, emb_dim: i64) -> Self {
        TimeEmbedding {
            freq_dim,
            lin1: nn::linear(&p / "lin1", freq_dim, emb_dim, Default::default()),
            lin2: nn::linear(&p / "lin2", emb_dim, emb_dim, Default::default()),
        }
    }

    /// `tau`: [B] in [0, 1] → [B, emb_dim].
    pub fn forward(&self, tau: &Tensor) -> Tensor {
        let half = self.freq_dim / 2;
        let dev = tau.device();
        let freqs =
            (Tensor::arange(half, (Kind::Float, dev)) * (-(10000f64.ln()) / half as f64)).exp();
        let args = (tau.to_kind(Kind::Float) * 1000.0).unsqueeze(1) * freqs.unsqueeze(0);
        let feats = Tensor::cat(&[args.sin(), args.cos()], 1);
        self.lin2.forward(&self.lin1.forward(&feats).silu())
    }
}

/// Masked multi-head attention of `q_in` [B, Lq, dq] over `kv_in` [B, Lk, dk]; `key_ok` [B, Lk]
/// (bool) marks the keys that may be attended to. At least one key per row must be allowed.
#[derive(Debug)]
pub struct Attention {
    heads: i64,
    dim: i64,
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
}

impl Attention {
    pub fn new(p: nn::Path, dq: i64, dk: i64, dim: i64, heads: i64) -> Self {
        Attention {
            heads,
            dim,
            q: nn::linear(&p / "q", dq, dim, Default::default()),
            k: nn::linear(&p / "k", dk, dim, Default::default()),
            v: nn::linear(&p / "v", dk, dim, Default::default()),
            // Zero output projection: the block starts as the identity (residual).
            out: zero_linear(&p / "out", dim, dq),
        }
    }

    pub fn forward(&self, q_in: &Tensor, kv_in: &Tensor, key_ok: &Tensor) -> Tensor {
        let (b, lq, _) = q_in.size3().unwrap_or((0, 0, 0));
        let lk = kv_in.size()[1];
        let dh = self.dim / self.heads;
        let split = |t: Tensor, l: i64| t.view([b, l, self.heads, dh]).transpose(1, 2);
        let q = split(self.q.forward(q_in), lq);
        let k = split(self.k.forward(kv_in), lk);
        let v = split(self.v.forward(kv_in), lk);
        let scores = q.matmul(&k.transpose(-2, -1)) / (dh as f64).sqrt();
        let mask = key_ok.logical_not().view([b, 1, 1, lk]);
        let attn = scores
            .masked_fill(&mask, f64::NEG_INFINITY)
            .softmax(-1, Kind::Float);
        let o = attn.matmul(&v).transpose(1, 2).reshape([b, lq, self.dim]);
        self.out.forward(&o)
    }
}

/// Prompt encoder: token + position embeddings, one pre-norm transformer layer (so that a
/// colour word can bind to its shape and cell), plus a learned always-present "null" token so
/// the empty prompt still has something to attend to. Returns per-token context, the mask of
/// usable context entries, and a pooled vector for FiLM.
#[derive(Debug)]
pub struct PromptEncoder {
    tok: nn::Embedding,
    pos: Tensor,
    null: Tensor,
    ln1: nn::LayerNorm,
    attn: Attention,
    ln2: nn::LayerNorm,
    mlp1: nn::Linear,
    mlp2: nn::Linear,
    ln_out: nn::LayerNorm,
    pool: nn::Linear,
}

pub struct PromptContext {
    /// [B, L+1, d]: the null token first, then the tokens.
    pub ctx: Tensor,
    /// [B, L+1] bool: true where attention may look (null token and non-PAD tokens).
    pub ok: Tensor,
    /// [B, emb_dim]
    pub pooled: Tensor,
}

impl PromptEncoder {
    pub fn new(
        p: nn::Path,
        vocab: i64,
        max_tokens: i64,
        dim: i64,
        heads: i64,
        emb_dim: i64,
    ) -> Self {
        PromptEncoder {
            tok: nn::embedding(&p / "tok", vocab, dim, Default::default()),
            pos: p.var(
                "pos",
                &[max_tokens + 1, dim],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            null: p.var(
                "null",
                &[1, 1, dim],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            ln1: nn::layer_norm(&p / "ln1", vec![dim], Default::default()),
            attn: Attention::new(&p / "attn", dim, dim, dim, heads),
            ln2: nn::layer_norm(&p / "ln2", vec![dim], Default::default()),
            mlp1: nn::linear(&p / "mlp1", dim, 2 * dim, Default::default()),
            mlp2: zero_linear(&p / "mlp2", 2 * dim, dim),
            ln_out: nn::layer_norm(&p / "ln_out", vec![dim], Default::default()),
            pool: nn::linear(&p / "pool", dim, emb_dim, Default::default()),
        }
    }

    /// `tokens`: [B, L] i64, PAD = 0.
    pub fn forward(&self, tokens: &Tensor) -> PromptContext {
        let b = tokens.size()[0];
        let l = tokens.size()[1];
        let emb = self.tok.forward(tokens);
        let null = self.null.expand([b, 1, -1], false);
        let h = Tensor::cat(&[null, emb], 1) + self.pos.narrow(0, 0, l + 1).unsqueeze(0);
        let ok = Tensor::cat(
            &[
                Tensor::ones([b, 1], (Kind::Bool, tokens.device())),
                tokens.ne(0),
            ],
            1,
        );
        let n = self.ln1.forward(&h);
        let h = &h + self.attn.forward(&n, &n, &ok);
        let h = &h
            + self
                .mlp2
                .forward(&self.mlp1.forward(&self.ln2.forward(&h)).gelu("none"));
        let ctx = self.ln_out.forward(&h);
        let w = ok.to_kind(Kind::Float).unsqueeze(-1);
        let pooled_tok = (&ctx * &w).sum_dim_intlist(1, false, Kind::Float)
            / w.sum_dim_intlist(1, false, Kind::Float);
        PromptContext {
            ctx,
            ok,
            pooled: self.pool.forward(&pooled_tok),
        }
    }
}

/// Residual block with FiLM conditioning: GN → SiLU → conv → (1+scale)·h + shift → GN → SiLU →
/// conv, plus a 1×1 skip when the width changes.
#[derive(Debug)]
pub struct ResBlock {
    gn1: nn::GroupNorm,
    conv1: nn::Conv2D,
    film: nn::Linear,
    gn2: nn::GroupNorm,
    conv2: nn::Conv2D,
    skip: Option<nn::Conv2D>,
}

impl ResBlock {
    pub fn new(p: nn::Path, cin: i64, cout: i64, emb_dim: i64) -> Self {
        let zero_conv = nn::ConvConfig {
            padding: 1,
            ws_init: nn::Init::Const(0.0),
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        };
        ResBlock {
            gn1: nn::group_norm(&p / "gn1", groups(cin), cin, Default::default()),
            conv1: conv3(&p / "conv1", cin, cout),
            film: zero_linear(&p / "film", emb_dim, 2 * cout),
            gn2: nn::group_norm(&p / "gn2", groups(cout), cout, Default::default()),
            conv2: nn::conv2d(&p / "conv2", cout, cout, 3, zero_conv),
            skip: (cin != cout).then(|| nn::conv2d(&p / "skip", cin, cout, 1, Default::default())),
        }
    }

    pub fn forward(&self, x: &Tensor, emb: &Tensor) -> Tensor {
        let h = self.conv1.forward(&self.gn1.forward(x).silu());
        let film = self.film.forward(emb).unsqueeze(-1).unsqueeze(-1);
        let parts = film.chunk(2, 1);
        let h = self.gn2.forward(&h) * (parts[0].shallow_clone() + 1.0) + &parts[1];
        let h = self.conv2.forward(&h.silu());
        match &self.skip {
            Some(s) => s.forward(x) + h,
            None => x + h,
        }
    }
}

/// Cross-attention from pixels to the prompt context (residual, pre-GroupNorm).
#[derive(Debug)]
pub struct CrossAttention {
    gn: nn::GroupNorm,
    attn: Attention,
}

impl CrossAttention {
    pub fn new(p: nn::Path, ch: i64, ctx_dim: i64, heads: i64) -> Self {
        CrossAttention {
            gn: nn::group_norm(&p / "gn", groups(ch), ch, Default::default()),
            attn: Attention::new(&p / "attn", ch, ctx_dim, ch, heads),
        }
    }

    pub fn forward(&self, x: &Tensor, prompt: &PromptContext) -> Tensor {
        let (b, c, h, w) = x.size4().unwrap_or((0, 0, 0, 0));
        let q = self.gn.forward(x).view([b, c, h * w]).transpose(1, 2);
        let o = self.attn.forward(&q, &prompt.ctx, &prompt.ok);
        x + o.transpose(1, 2).reshape([b, c, h, w])
    }
}

/// Stride-2 3×3 convolution.
#[derive(Debug)]
pub struct Downsample {
    conv: nn::Conv2D,
}

impl Downsample {
    pub fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        Downsample {
            conv: nn::conv2d(
                p,
                cin,
                cout,
                3,
                nn::ConvConfig {
                    padding: 1,
                    stride: 2,
                    ..Default::default()
                },
            ),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.conv.forward(x)
    }
}

/// Nearest-neighbour ×2 then a 3×3 convolution.
#[derive(Debug)]
pub struct Upsample {
    conv: nn::Conv2D,
}

impl Upsample {
    pub fn new(p: nn::Path, cin: i64, cout: i64) -> Self {
        Upsample {
            conv: conv3(p, cin, cout),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let (_, _, h, w) = x.size4().unwrap_or((0, 0, 0, 0));
        self.conv
            .forward(&x.upsample_nearest2d([2 * h, 2 * w], None, None))
    }
}
