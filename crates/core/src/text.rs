//! Small text and file helpers every layer needs the same way: durations, byte counts and
//! UTC times for people, shell quoting, and the content hash of a file. One copy each, so the
//! console, `runs show` and the reports never disagree.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// How a duration is written: `Compact` in console lines and tables (`4m05s`), `Spaced` in
/// report prose (`4m 05s`, cut rather than rounded, as the reports have always shown them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationStyle {
    Compact,
    Spaced,
}

/// `0.4s`, `12.3s`, `4m05s`, `2h03m` (or the spaced style); `?` for a negative or non-finite
/// number of seconds.
pub fn duration(secs: f64, style: DurationStyle) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".to_string();
    }
    match style {
        DurationStyle::Compact => {
            if secs < 60.0 {
                return format!("{secs:.1}s");
            }
            let total = secs.round() as u64;
            if total < 3600 {
                format!("{}m{:02}s", total / 60, total % 60)
            } else {
                format!("{}h{:02}m", total / 3600, total % 3600 / 60)
            }
        }
        DurationStyle::Spaced => {
            if secs < 60.0 {
                format!("{secs:.1} s")
            } else if secs < 3600.0 {
                format!("{}m {:02}s", (secs / 60.0).floor(), (secs % 60.0).floor())
            } else {
                format!(
                    "{}h {:02}m",
                    (secs / 3600.0).floor(),
                    ((secs % 3600.0) / 60.0).floor()
                )
            }
        }
    }
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`, `1.25 GiB`.
pub fn bytes(v: i64) -> String {
    let v = v as f64;
    if v < 1024.0 {
        format!("{v} B")
    } else if v < 1024.0 * 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else if v < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", v / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Unix seconds as `2026-11-25 14:03:07` (UTC, no time-zone database needed); `?` when not
/// finite.
pub fn utc_time(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.floor() as i64;
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Single-quotes a string for a POSIX shell (`it's` -> `'it'\''s'`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// sha256 (hex) and size of a file's content, read in blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_both_styles() {
        assert_eq!(duration(0.42, DurationStyle::Compact), "0.4s");
        assert_eq!(duration(245.0, DurationStyle::Compact), "4m05s");
        assert_eq!(duration(239.7, DurationStyle::Compact), "4m00s");
        assert_eq!(duration(7380.0, DurationStyle::Compact), "2h03m");
        assert_eq!(duration(239.7, DurationStyle::Spaced), "3m 59s");
        assert_eq!(duration(12.34, DurationStyle::Spaced), "12.3 s");
        assert_eq!(duration(f64::NAN, DurationStyle::Spaced), "?");
        assert_eq!(duration(-1.0, DurationStyle::Compact), "?");
    }

    #[test]
    fn bytes_times_and_quotes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(utc_time(0.0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_764_115_387.9), "2025-11-26 00:03:07");
        assert_eq!(utc_time(951_782_400.0), "2000-02-29 00:00:00");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
    }

    #[test]
    fn file_hash_and_size() {
        let dir = std::env::temp_dir().join(format!("ddmd-core-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, b"abc").unwrap();
        let (h, n) = sha256_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
