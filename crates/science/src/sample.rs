//! Sample grids: the artifact grids of the training stages and the `ddmd-pipe sample` command.

use crate::data::{write_grid_png, ShapesWorld};
use crate::model::{device_for_job, Generator};
use anyhow::Context;
use std::path::{Path, PathBuf};
use tch::Device;

/// Scene stream for sample-grid prompts, apart from the training stream.
const SAMPLE_STREAM: u64 = 0x5A4D_0001;
/// Prompts in an artifact grid (4×4).
pub const GRID_SAMPLES: usize = 16;

/// Writes `samples.png` (4×4, upscaled ×4) and `samples.txt` (its prompts, row-major).
pub fn write_samples(
    g: &Generator,
    world: &ShapesWorld,
    seed: u64,
    steps: Option<usize>,
    dir: &Path,
) -> anyhow::Result<()> {
    let prompts: Vec<String> = (0..GRID_SAMPLES as u64)
        .map(|i| world.scene(seed ^ SAMPLE_STREAM, i).prompt())
        .collect();
    let tokens = world.tokens_of(&prompts);
    let images = g.try_generate_with(&tokens, steps, None, seed)?;
    write_grid_png(&dir.join("samples.png"), &images, 4, 4)
        .map_err(|e| anyhow::anyhow!("writing samples.png: {e}"))?;
    let path = dir.join("samples.txt");
    std::fs::write(&path, prompts.join("\n") + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `ddmd-pipe sample`: generate a grid from a teacher or student artifact.
#[derive(Debug, Clone, clap::Args)]
pub struct SampleArgs {
    /// Artifact folder (with model.json) or a weights file inside one.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Prompt (repeatable); one image per prompt.
    #[arg(long = "prompt", required = true)]
    pub prompt: Vec<String>,
    /// Sampling steps (default: the model's own: 50 for teachers, N for students).
    #[arg(long)]
    pub steps: Option<usize>,
    /// CFG scale (teachers only; students have it baked in).
    #[arg(long)]
    pub alpha: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG grid.
    #[arg(short = 'o', long = "output", default_value = "grid.png")]
    pub output: PathBuf,
    /// `cpu`, `cuda` or `cuda:N` (default: the assigned GPU if any, else CPU).
    #[arg(long)]
    pub device: Option<String>,
}

pub fn parse_device(s: &str) -> anyhow::Result<Device> {
    match s {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        _ => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => Ok(Device::Cuda(n)),
            None => anyhow::bail!("unknown device {s:?}: expected cpu, cuda or cuda:N"),
        },
    }
}

pub fn sample_command(args: &SampleArgs) -> anyhow::Result<()> {
    let device = match &args.device {
        Some(d) => parse_device(d)?,
        None => device_for_job(),
    };
    if device.is_cuda() && !tch::Cuda::is_available() {
        anyhow::bail!("device {device:?} requested but CUDA is not available");
    }
    let g = Generator::load(&args.checkpoint, device)?;
    if args.alpha.is_some() && g.kind() == crate::model::ModelKind::Student {
        anyhow::bail!("--alpha applies to teachers; a student has its CFG scale baked in");
    }
    let world = ShapesWorld::new(g.data_config());
    let tokens = world.tokens_of(&args.prompt);
    let images = g.try_generate_with(&tokens, args.steps, args.alpha, args.seed)?;
    let cols = (args.prompt.len() as f64).sqrt().ceil().max(1.0) as usize;
    write_grid_png(&args.output, &images, cols, 4)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", args.output.display()))?;
    println!(
        "wrote {} ({} images)",
        args.output.display(),
        args.prompt.len()
    );
    Ok(())
}
