//! The shapes world: configuration, deterministic scene sampling by (seed, index), and
//! batches of rendered images with their tokens.

use super::error::DataError;
use super::render::{
    render_scene, MAX_HUE_JITTER, MAX_POS_JITTER, MAX_SCALE_JITTER, MAX_VALUE_JITTER,
};
use super::rng::SplitMix64;
use super::scene::{ColorName, Object, Scene, Shape, Size, GRID};
use super::vocab::Vocab;
use super::MAX_TOKENS;
use ddmd_core::params::DataParams;
use serde_json::{Map, Value};

/// Most objects per scene: the longest prompt must fit MAX_TOKENS (up to 7 tokens per object,
/// a separator between objects and 4 for the background: 5 objects take at most 43).
pub use ddmd_core::params::MAX_OBJECTS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapesConfig {
    /// Image side in pixels, 16..=64.
    pub resolution: usize,
    pub min_objects: usize,
    pub max_objects: usize,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        ShapesConfig {
            resolution: 16,
            min_objects: 1,
            max_objects: 3,
        }
    }
}

impl ShapesConfig {
    pub fn new(
        resolution: usize,
        min_objects: usize,
        max_objects: usize,
    ) -> Result<ShapesConfig, DataError> {
        if !(16..=64).contains(&resolution) {
            return Err(DataError::Config(format!(
                "data.resolution must be in 16..=64, got {resolution}"
            )));
        }
        if min_objects < 1 || min_objects > max_objects || max_objects > MAX_OBJECTS {
            return Err(DataError::Config(format!(
                "data.objects must be [min, max] with 1 <= min <= max <= {MAX_OBJECTS}, got [{min_objects}, {max_objects}]"
            )));
        }
        Ok(ShapesConfig {
            resolution,
            min_objects,
            max_objects,
        })
    }

    /// Reads `params["data"] = {kind: shapes, resolution: 16, objects: [1, 3]}` through the
    /// contract `ddmd_core::params::DataParams`; missing keys take its defaults (16, [1, 3]);
    /// a missing `data` is the default world.
    pub fn from_params(p: &Map<String, Value>) -> Result<ShapesConfig, DataError> {
        let Some(data) = p.get("data") else {
            return Ok(ShapesConfig::default());
        };
        let data = data
            .as_object()
            .ok_or_else(|| DataError::Config(format!("data must be a mapping, got {data}")))?;
        let d: DataParams = ddmd_core::params::parse_strict(data)
            .map_err(|e| DataError::Config(format!("data: {e}")))?;
        let (min, max) = d.objects.bounds();
        ShapesConfig::new(d.resolution, min, max)
    }
}

/// Rendered images with tokens and the scenes they came from.
#[derive(Debug)]
pub struct Batch {
    /// [n, 3, R, R] f32 in [-1, 1], CPU.
    pub images: tch::Tensor,
    /// [n, MAX_TOKENS] i64.
    pub tokens: tch::Tensor,
    pub scenes: Vec<Scene>,
}

#[derive(Clone, Debug)]
pub struct ShapesWorld {
    cfg: ShapesConfig,
    vocab: Vocab,
}

impl ShapesWorld {
    /// A world for `cfg`; out-of-range values are clamped to the valid ranges (use
    /// [`ShapesConfig::new`] or `from_params` to get errors instead).
    pub fn new(cfg: ShapesConfig) -> ShapesWorld {
        let max = cfg.max_objects.clamp(1, MAX_OBJECTS);
        let cfg = ShapesConfig {
            resolution: cfg.resolution.clamp(16, 64),
            min_objects: cfg.min_objects.clamp(1, max),
            max_objects: max,
        };
        ShapesWorld {
            cfg,
            vocab: Vocab::new(),
        }
    }

    pub fn config(&self) -> &ShapesConfig {
        &self.cfg
    }

    pub fn resolution(&self) -> usize {
        self.cfg.resolution
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Scene `index` of stream `seed`; the same pair always gives the same scene.
    pub fn scene(&self, seed: u64, index: u64) -> Scene {
        let mut rng = SplitMix64::for_item(seed, index);
        let span = self.cfg.max_objects - self.cfg.min_objects + 1;
        let n = self.cfg.min_objects + rng.below(span);
        let background = ColorName::BACKGROUND[rng.below(ColorName::BACKGROUND.len())];
        let mut cells: Vec<(usize, usize)> =
            (0..GRID * GRID).map(|i| (i / GRID, i % GRID)).collect();
        rng.shuffle(&mut cells);
        let mut cells = cells[..n].to_vec();
        cells.sort();
        let objects = cells
            .into_iter()
            .map(|cell| {
                let shape = Shape::ALL[rng.below(Shape::ALL.len())];
                let color = ColorName::OBJECT[rng.below(ColorName::OBJECT.len())];
                let size = Size::ALL[rng.below(Size::ALL.len())];
                let mut j = |m: f32| rng.uniform(-m as f64, m as f64) as f32;
                Object {
                    shape,
                    color,
                    size,
                    cell,
                    jitter_x: j(MAX_POS_JITTER),
                    jitter_y: j(MAX_POS_JITTER),
                    scale: 1.0 + j(MAX_SCALE_JITTER),
                    hue_shift: j(MAX_HUE_JITTER),
                    value_scale: 1.0 + j(MAX_VALUE_JITTER),
                }
            })
            .collect();
        Scene {
            background,
            objects,
        }
    }

    /// The same prompt as `scene` (background, shapes, colours, sizes, cells) with fresh
    /// continuous jitter drawn from stream `seed`, item `index`: another rendering of the same
    /// prompt, as an evaluation's same-prompt reference needs.
    pub fn rejitter(&self, scene: &Scene, seed: u64, index: u64) -> Scene {
        let mut rng = SplitMix64::for_item(seed, index);
        let objects = scene
            .objects
            .iter()
            .map(|o| {
                let mut j = |m: f32| rng.uniform(-m as f64, m as f64) as f32;
                Object {
                    jitter_x: j(MAX_POS_JITTER),
                    jitter_y: j(MAX_POS_JITTER),
                    scale: 1.0 + j(MAX_SCALE_JITTER),
                    hue_shift: j(MAX_HUE_JITTER),
                    value_scale: 1.0 + j(MAX_VALUE_JITTER),
                    ..o.clone()
                }
            })
            .collect();
        Scene {
            background: scene.background,
            objects,
        }
    }

    /// CHW RGB image in [-1, 1] of side `resolution`.
    pub fn render(&self, scene: &Scene) -> Vec<f32> {
        render_scene(scene, self.cfg.resolution)
    }

    /// Scenes `start..start+n` of stream `seed`, rendered and tokenised.
    pub fn batch(&self, seed: u64, start: u64, n: usize) -> Batch {
        let scenes: Vec<Scene> = (0..n as u64).map(|i| self.scene(seed, start + i)).collect();
        self.batch_of(scenes)
    }

    /// Renders and tokenises the given scenes.
    pub fn batch_of(&self, scenes: Vec<Scene>) -> Batch {
        let r = self.cfg.resolution;
        let n = scenes.len();
        let mut pixels = Vec::with_capacity(n * 3 * r * r);
        let mut tokens = Vec::with_capacity(n * MAX_TOKENS);
        for s in &scenes {
            pixels.extend(self.render(s));
            // Scenes of a valid world always fit (MAX_OBJECTS), so truncation never happens.
            tokens.extend(self.vocab.encode_truncated(&s.prompt()));
        }
        Batch {
            images: tch::Tensor::from_slice(&pixels).view([n as i64, 3, r as i64, r as i64]),
            tokens: tch::Tensor::from_slice(&tokens).view([n as i64, MAX_TOKENS as i64]),
            scenes,
        }
    }

    /// Tokens [n, MAX_TOKENS] of arbitrary prompts (unknown words become UNK, long ones are cut).
    pub fn tokens_of(&self, prompts: &[String]) -> tch::Tensor {
        let ids: Vec<i64> = prompts
            .iter()
            .flat_map(|p| self.vocab.encode_truncated(p))
            .collect();
        tch::Tensor::from_slice(&ids).view([prompts.len() as i64, MAX_TOKENS as i64])
    }
}
