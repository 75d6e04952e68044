//! The resource pool: explicit GPU ids and CPU slots. Hands out exact device ids so a job's
//! `CUDA_VISIBLE_DEVICES` names only its own GPUs; no two jobs share a GPU unless the stage
//! opts into sharing.

use ddmd_pipeline::Resources;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub gpus: Vec<u32>,
    pub cpus: u32,
    pub shared: bool,
}

#[derive(Debug)]
pub struct Pool {
    all_gpus: Vec<u32>,
    free_gpus: BTreeSet<u32>,
    /// GPUs handed to sharing jobs: id -> number of holders.
    shared: BTreeMap<u32, u32>,
    cpu_total: u32,
    cpu_free: u32,
    /// Jobs that may hold grants at once (Slurm's submission limit); unbounded locally.
    max_jobs: u32,
    jobs: u32,
}

/// Why a job can never run on this pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    TooManyGpus { want: u32, have: u32 },
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::TooManyGpus { want, have } => {
                write!(
                    f,
                    "needs {want} GPUs but only {have} are available to this run"
                )
            }
        }
    }
}

impl Pool {
    pub fn new(gpus: Vec<u32>, cpu_slots: u32) -> Pool {
        let cpu_total = cpu_slots.max(1);
        Pool {
            free_gpus: gpus.iter().copied().collect(),
            all_gpus: gpus,
            shared: BTreeMap::new(),
            cpu_total,
            cpu_free: cpu_total,
            max_jobs: u32::MAX,
            jobs: 0,
        }
    }

    /// At most `n` grants at once, whatever their CPU slots (jobs submitted to Slurm).
    pub fn with_max_jobs(mut self, n: u32) -> Pool {
        self.max_jobs = n.max(1);
        self
    }

    pub fn gpu_count(&self) -> u32 {
        self.all_gpus.len() as u32
    }

    /// GPUs wanted on this pool: jobs asking for GPUs on a machine with none run on CPU
    /// (the caller warns, or refuses with --require-gpu).
    pub fn effective_gpus(&self, r: &Resources) -> u32 {
        if self.all_gpus.is_empty() {
            0
        } else {
            r.gpus
        }
    }

    pub fn check(&self, r: &Resources) -> Result<(), Unfit> {
        let want = self.effective_gpus(r);
        if want > self.gpu_count() {
            return Err(Unfit::TooManyGpus {
                want,
                have: self.gpu_count(),
            });
        }
        Ok(())
    }

    /// CPU slots a job takes: at most the whole pool, so a big job can still run alone.
    fn cpus_for(&self, r: &Resources) -> u32 {
        r.cpus.clamp(1, self.cpu_total)
    }

    pub fn try_acquire(&mut self, r: &Resources) -> Option<Grant> {
        let cpus = self.cpus_for(r);
        if cpus > self.cpu_free || self.jobs >= self.max_jobs {
            return None;
        }
        let want = self.effective_gpus(r) as usize;
        let gpus: Vec<u32> = if want == 0 {
            Vec::new()
        } else if r.share_gpu {
            // Sharing jobs go to the least-shared GPUs that no exclusive job holds.
            let mut cands: Vec<u32> = self
                .all_gpus
                .iter()
                .copied()
                .filter(|g| self.free_gpus.contains(g) || self.shared.contains_key(g))
                .collect();
            cands.sort_by_key(|g| self.shared.get(g).copied().unwrap_or(0));
            if cands.len() < want {
                return None;
            }
            cands.truncate(want);
            cands.sort_unstable();
            cands
        } else {
            if self.free_gpus.len() < want {
                return None;
            }
            self.free_gpus.iter().copied().take(want).collect()
        };
        for g in &gpus {
            if r.share_gpu {
                self.free_gpus.remove(g);
                *self.shared.entry(*g).or_insert(0) += 1;
            } else {
                self.free_gpus.remove(g);
            }
        }
        self.cpu_free -= cpus;
        self.jobs += 1;
        Some(Grant {
            gpus,
            cpus,
            shared: r.share_gpu,
        })
    }

    pub fn release(&mut self, g: &Grant) {
        self.cpu_free = (self.cpu_free + g.cpus).min(self.cpu_total);
        self.jobs = self.jobs.saturating_sub(1);
        for id in &g.gpus {
            if g.shared {
                if let Some(n) = self.shared.get_mut(id) {
                    *n -= 1;
                    if *n == 0 {
                        self.shared.remove(id);
                        self.free_gpus.insert(*id);
                    }
                }
            } else {
                self.free_gpus.insert(*id);
            }
        }
    }
}

/// GPUs this run may use: `--fake-gpus N` (or `DDMD_FAKE_GPUS`), else `--gpus 0,2`, else
/// `CUDA_VISIBLE_DEVICES`, else the CUDA device count.
pub fn discover_gpus(
    fake: Option<u32>,
    explicit: Option<&[u32]>,
    visible: Option<&str>,
    cuda_count: impl FnOnce() -> u32,
) -> Result<Vec<u32>, String> {
    if let Some(n) = fake {
        return Ok((0..n).collect());
    }
    if let Some(ids) = explicit {
        return Ok(ids.to_vec());
    }
    if let Some(v) = visible {
        return parse_visible(v);
    }
    Ok((0..cuda_count()).collect())
}

/// `CUDA_VISIBLE_DEVICES` read as CUDA reads it: device numbers, left to right, up to the
/// first entry that is not one (so `""`, `-1`, `NoDevFiles` and `0,1,-1,2` → none, none,
/// none and [0, 1]). GPU UUIDs (`GPU-…`, `MIG-…`) select devices CUDA knows by UUID; the
/// scheduler hands out numbers, so they are refused with a message rather than misread.
pub fn parse_visible(v: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for tok in v.split(',').map(str::trim) {
        if tok.starts_with("GPU-") || tok.starts_with("MIG-") {
            return Err(format!(
                "CUDA_VISIBLE_DEVICES={v:?} names GPUs by UUID, which ddmd-pipe cannot map to device numbers; set it to numbers (e.g. 0,1) or pass --gpus"
            ));
        }
        match tok.parse::<u32>() {
            Ok(i) if !out.contains(&i) => out.push(i),
            // CUDA stops at the first invalid or repeated entry.
            _ => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(gpus: u32, cpus: u32, share: bool) -> Resources {
        Resources {
            gpus,
            nodes: 1,
            cpus,
            share_gpu: share,
        }
    }

    #[test]
    fn cuda_visible_devices_is_read_as_cuda_reads_it() {
        for (v, want) in [
            ("", vec![]),
            ("-1", vec![]),
            ("NoDevFiles", vec![]),
            ("0,1", vec![0, 1]),
            (" 2 , 3 ", vec![2, 3]),
            ("0,1,-1,2", vec![0, 1]),
            ("1,1,2", vec![1]),
        ] {
            assert_eq!(parse_visible(v).unwrap(), want, "{v:?}");
        }
        let e = parse_visible("GPU-8a4f2c1e-0000-1111-2222-333344445555").unwrap_err();
        assert!(e.contains("UUID"), "{e}");
    }

    #[test]
    fn exclusive_gpus_are_never_handed_out_twice() {
        let mut p = Pool::new(vec![0, 1, 2], 8);
        let a = p.try_acquire(&res(2, 1, false)).unwrap();
        assert_eq!(a.gpus, vec![0, 1]);
        assert!(p.try_acquire(&res(2, 1, false)).is_none());
        let b = p.try_acquire(&res(1, 1, false)).unwrap();
        assert_eq!(b.gpus, vec![2]);
        p.release(&a);
        assert_eq!(p.try_acquire(&res(2, 1, false)).unwrap().gpus, vec![0, 1]);
    }

    #[test]
    fn cpu_slots_limit_concurrency_and_big_jobs_still_fit() {
        let mut p = Pool::new(vec![], 2);
        let a = p.try_acquire(&res(0, 1, false)).unwrap();
        let _b = p.try_acquire(&res(0, 1, false)).unwrap();
        assert!(p.try_acquire(&res(0, 1, false)).is_none());
        p.release(&a);
        assert!(p.try_acquire(&res(0, 64, false)).is_none());
        let mut q = Pool::new(vec![], 2);
        assert_eq!(q.try_acquire(&res(0, 64, false)).unwrap().cpus, 2);
    }

    #[test]
    fn gpu_jobs_fall_back_to_cpu_without_gpus() {
        let mut p = Pool::new(vec![], 2);
        assert_eq!(
            p.try_acquire(&res(1, 1, false)).unwrap().gpus,
            Vec::<u32>::new()
        );
        let p4 = Pool::new(vec![0, 1, 2, 3], 2);
        assert_eq!(
            p4.check(&res(5, 1, false)),
            Err(Unfit::TooManyGpus { want: 5, have: 4 })
        );
    }

    #[test]
    fn sharing_jobs_share_but_exclusive_jobs_wait() {
        let mut p = Pool::new(vec![0], 8);
        let a = p.try_acquire(&res(1, 1, true)).unwrap();
        let b = p.try_acquire(&res(1, 1, true)).unwrap();
        assert_eq!(a.gpus, vec![0]);
        assert_eq!(b.gpus, vec![0]);
        assert!(p.try_acquire(&res(1, 1, false)).is_none());
        p.release(&a);
        assert!(p.try_acquire(&res(1, 1, false)).is_none());
        p.release(&b);
        assert_eq!(p.try_acquire(&res(1, 1, false)).unwrap().gpus, vec![0]);
    }

    #[test]
    fn discovery_order() {
        assert_eq!(
            discover_gpus(Some(3), Some(&[5]), Some("1"), || 8).unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(
            discover_gpus(None, Some(&[0, 2]), Some("1"), || 8).unwrap(),
            vec![0, 2]
        );
        assert_eq!(
            discover_gpus(None, None, Some("1,3"), || 8).unwrap(),
            vec![1, 3]
        );
        assert_eq!(
            discover_gpus(None, None, Some(""), || 8).unwrap(),
            Vec::<u32>::new()
        );
        // As CUDA reads it: the list ends at the first entry that is not a device number.
        assert_eq!(
            discover_gpus(None, None, Some("a"), || 8).unwrap(),
            Vec::<u32>::new()
        );
        assert!(discover_gpus(None, None, Some("GPU-0a1b"), || 8).is_err());
        assert_eq!(discover_gpus(None, None, None, || 2).unwrap(), vec![0, 1]);
    }

    #[test]
    fn a_job_limit_bounds_grants_whatever_their_cpus() {
        let mut p = Pool::new(vec![], 1000).with_max_jobs(2);
        let a = p.try_acquire(&res(0, 1, false)).unwrap();
        let _b = p.try_acquire(&res(0, 1, false)).unwrap();
        assert_eq!(p.try_acquire(&res(0, 1, false)), None);
        p.release(&a);
        assert!(p.try_acquire(&res(0, 1, false)).is_some());
    }
}
