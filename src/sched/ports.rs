//! Rendezvous ports for multi-process jobs (`{{ launch }}`, `MASTER_PORT`): each running
//! command job holds one port from a configurable range, unique among the jobs of this home
//! (a lock file per port under `<home>/locks/ports/`, so two invocations never hand out the
//! same one) and checked free on this machine (a trial bind), released when the attempt
//! ends; a retried attempt takes a fresh one. Without it two `torchrun` jobs side by side
//! both use 29500 and the second fails to rendezvous.

use crate::home::Home;
use std::fs::File;
use std::ops::RangeInclusive;

/// A port held by one attempt; the lock is released (and the port free for others) on drop.
#[derive(Debug)]
pub struct HeldPort {
    pub port: u16,
    _lock: File,
}

/// Parses `29500-29999` (or one port).
pub fn parse_range(s: &str) -> Result<RangeInclusive<u16>, String> {
    let bad = || format!("expected a port range such as 29500-29999, got {s:?}");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

/// The port of a Slurm job: its id's place in `range`. The submit host can neither lock nor
/// probe a port on a compute node, and a queued job must not hold one of a few hundred ports
/// for hours; Slurm job ids are consecutive, so jobs running side by side get different
/// ports unless their ids differ by a multiple of the range's size and they share their
/// first node. The batch script computes the same number (`script::launch_lines`).
pub fn slurm_port(range: &RangeInclusive<u16>, slurm_job_id: u64) -> u16 {
    let count = u64::from(range.end() - range.start()) + 1;
    range.start() + (slurm_job_id % count) as u16
}

/// Takes the first port of `range` that no job of this home holds and nothing on this
/// machine listens on.
pub fn acquire(home: &Home, range: &RangeInclusive<u16>) -> Result<HeldPort, String> {
    for port in range.clone() {
        let Some(lock) = home.lock_port(port)? else {
            continue;
        };
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return Ok(HeldPort { port, _lock: lock });
        }
    }
    Err(format!(
        "no free rendezvous port in {}-{}: every one is held by a running job or in use on this machine (widen --rdzv-ports)",
        range.start(),
        range.end()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn ports_are_unique_while_held_and_skip_ones_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().to_path_buf());
        // Below the ephemeral range (32768+ on Linux), where outgoing connections of other
        // processes can take a port at any moment.
        let range = 23100..=23110;
        let a = acquire(&home, &range).unwrap();
        let b = acquire(&home, &range).unwrap();
        assert_ne!(a.port, b.port);
        // Something else listens on the next one: skipped.
        let next = b.port + 1;
        let _busy = std::net::TcpListener::bind(("0.0.0.0", next)).unwrap();
        let c = acquire(&home, &range).unwrap();
        assert!(c.port != next && c.port != a.port && c.port != b.port);
        // Released on drop: the first port is handed out again.
        let first = a.port;
        drop(a);
        assert_eq!(acquire(&home, &range).unwrap().port, first);
        let one = 23120..=23120;
        let _held = acquire(&home, &one).unwrap();
        assert!(acquire(&home, &one)
            .unwrap_err()
            .contains("no free rendezvous port"));
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("29500-29999").unwrap(), 29500..=29999);
        assert_eq!(parse_range("30000").unwrap(), 30000..=30000);
        assert!(parse_range("2-1").is_err());
        assert!(parse_range("x").is_err());
    }
}
