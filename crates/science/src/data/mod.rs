//! The embedded data of ddmd-pipe (DESIGN §10): the procedural, compositional "shapes world"
//! (scenes, prompts, tokens, prompt graphs, rendering) and image folders with captions for
//! users' own data. Pure data: no networks, no training, no SQLite.
//!
//! Conventions (DESIGN §9–10): images are NCHW / CHW f32 RGB in [-1, 1]; tokens are i64 ids
//! padded with [`PAD`] to [`MAX_TOKENS`]; the empty prompt (all PAD) is the unconditional input.

mod error;
mod folder;
mod image_io;
mod questions;
mod render;
mod rng;
mod scene;
mod vocab;
mod world;

#[cfg(test)]
mod tests;

pub use error::DataError;
pub use folder::ImageFolder;
pub use image_io::{
    decode_png_rgb, image_to_png, resize_bilinear, tensor_to_chw_images, write_grid_png,
};
pub use questions::{Ask, Question, QuestionCategory, Relation};
pub use rng::SplitMix64;
pub use scene::{cell_name, parse_prompt, ColorName, Object, Scene, Shape, Size, GRID};
pub use vocab::{Vocab, PAD, UNK};
pub use world::{Batch, ShapesConfig, ShapesWorld};

/// Length of every token sequence (padded with [`PAD`]).
pub const MAX_TOKENS: usize = 48;
