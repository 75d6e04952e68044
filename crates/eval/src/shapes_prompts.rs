//! The built-in shapes prompts as a prompt set: the scenes `evaluate` draws for a given seed,
//! with their question graphs written as DPG-Bench propositions, so a user's generator (a
//! command stage) can be scored on exactly the prompts the built-in students are, and the
//! whole DPG-Bench path runs with a real trained judge. `ddmd-pipe prompts` prints them as
//! DPG-Bench CSV and can render a reference folder of the same prompts.

use crate::evaluate::PROMPT_SALT;
use crate::reference::COMPARE_SALT;
use anyhow::{Context, Result};
use ddmd_core::prompts::{dpg_csv, Prompt, Question};
use ddmd_core::PromptSet;
use ddmd_science::data::{image_to_png, tensor_to_chw_images, Ask, QuestionCategory, Scene};
use ddmd_science::data::{ShapesConfig, ShapesWorld};
use std::path::PathBuf;

/// `ddmd-pipe prompts`: the shapes prompts in DPG-Bench's CSV format.
#[derive(clap::Args, Debug, Clone)]
pub struct PromptsArgs {
    /// Number of shapes prompts.
    #[arg(long, value_name = "N")]
    pub shapes: usize,
    /// Prompt seed: the same prompts `evaluate` draws with `seed: S`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the CSV here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also render every image of the set (fresh jitter per image) into this folder, named
    /// like a generator's output (`<id>.png`): a reference folder for FID on these prompts.
    #[arg(long, value_name = "DIR")]
    pub renders: Option<PathBuf>,
    /// Images per prompt for --renders.
    #[arg(long, default_value_t = 1)]
    pub images_per_prompt: u32,
    /// Side of the --renders images in pixels (16..=64).
    #[arg(long, default_value_t = 16)]
    pub resolution: usize,
}

/// Scene `i` of the evaluation stream of `seed` in the default world (the world's object
/// count bounds decide the scenes; the resolution does not).
pub fn shapes_scenes(count: usize, seed: u64) -> Vec<Scene> {
    let world = ShapesWorld::new(ShapesConfig::default());
    (0..count as u64)
        .map(|i| world.scene(seed ^ PROMPT_SALT, i))
        .collect()
}

/// A scene's question graph as DPG-Bench propositions (ids and parents 1-based).
pub fn scene_questions(scene: &Scene) -> Vec<Question> {
    scene
        .questions()
        .into_iter()
        .map(|q| {
            let detail = match (&q.ask, q.category) {
                (Ask::Size { .. }, _) => "attribute - size",
                (_, QuestionCategory::Attribute) => "attribute - color",
                (_, QuestionCategory::Entity) => "entity - whole",
                (_, QuestionCategory::Relation) => "relation - spatial",
                (_, QuestionCategory::Count) => "count",
                (_, QuestionCategory::Global) => "global",
            };
            Question {
                id: q.id as u32 + 1,
                parents: q.parents.iter().map(|&p| p as u32 + 1).collect(),
                category: q.category.name().to_string(),
                detail: detail.to_string(),
                tuple: format!("{detail} ({})", q.text.trim_end_matches('?')),
                text: q.text,
            }
        })
        .collect()
}

/// The shapes prompts as prompts with their questions; ids `shapes00000`, ….
pub fn shapes_prompts(count: usize, seed: u64) -> Vec<Prompt> {
    shapes_scenes(count, seed)
        .iter()
        .enumerate()
        .map(|(i, s)| Prompt {
            id: format!("shapes{i:05}"),
            text: s.prompt(),
            questions: scene_questions(s),
        })
        .collect()
}

pub fn prompts_command(a: &PromptsArgs) -> Result<()> {
    let prompts = shapes_prompts(a.shapes, a.seed);
    let csv = dpg_csv::write(&prompts);
    match &a.out {
        Some(p) => std::fs::write(p, &csv).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{csv}"),
    }
    if let Some(dir) = &a.renders {
        let cfg = ShapesConfig::new(a.resolution, 1, ShapesConfig::default().max_objects)?;
        let world = ShapesWorld::new(cfg);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let set = PromptSet {
            source: format!("shapes: {} (seed {})", a.shapes, a.seed),
            images_per_prompt: a.images_per_prompt,
            seed: a.seed,
            prompts,
        };
        let scenes = shapes_scenes(a.shapes, a.seed);
        for (i, e) in set.entries().iter().enumerate() {
            let scene = &scenes[i / a.images_per_prompt.max(1) as usize];
            let jittered = world.rejitter(scene, COMPARE_SALT ^ a.seed, i as u64);
            let batch = world.batch_of(vec![jittered]);
            let (imgs, h, _) = tensor_to_chw_images(&batch.images)?;
            let path = dir.join(format!("{}.png", e.id));
            std::fs::write(&path, image_to_png(&imgs[0], h))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
