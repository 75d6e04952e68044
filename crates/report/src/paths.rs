//! Paths in a report that travels. A report is read on other machines (shared, committed,
//! attached to a paper review), so it does not show the home's folders on the machine that
//! rendered it: job and artifact folders are shown relative to the home (`$DDMD_HOME/…`), and
//! links to a run's files are relative to the page that holds them. Links inside the report
//! (run pages, images, tables) are relative already, so a copied report folder keeps working;
//! links into the home work where the report sits at the same place relative to the home (a
//! `reports/` folder beside `.ddmd/`, or the home's own copy).

use std::path::{Component, Path, PathBuf};

/// Where the report lives and the home its runs' folders are in.
#[derive(Clone, Debug)]
pub struct Paths {
    home: Option<PathBuf>,
    site: PathBuf,
}

/// How a path under the home is written: the environment variable `--home` reads.
pub const HOME_VAR: &str = "$DDMD_HOME";

impl Paths {
    /// `site` is the report's final folder (not the scratch folder it is rendered in).
    pub fn new(home: Option<&Path>, site: &Path) -> Paths {
        Paths {
            home: home.map(absolute),
            site: absolute(site),
        }
    }

    /// A recorded path as the report shows it: under the home as `$DDMD_HOME/…`, else as is.
    pub fn show(&self, p: &Path) -> String {
        let p = absolute(p);
        match self.home.as_ref().and_then(|h| p.strip_prefix(h).ok()) {
            Some(rest) if rest.as_os_str().is_empty() => HOME_VAR.to_string(),
            Some(rest) => format!("{HOME_VAR}/{}", rest.display()),
            None => p.display().to_string(),
        }
    }

    /// A link from a page in the report's folder `page_dir` (`""` for the index, `"runs"` for
    /// run pages) to a local file: a relative URL, percent-encoded.
    pub fn href(&self, page_dir: &str, target: &Path) -> String {
        let from = normalize(&self.site.join(page_dir));
        let rel = relative(&from, &absolute(target));
        encode(&rel)
    }
}

/// `p` made absolute (against the current folder) with `.` and `..` resolved lexically: the
/// recorded paths are absolute already, a relative `--out` is not.
fn absolute(p: &Path) -> PathBuf {
    normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The path from folder `from` to `to`, both absolute and normalised.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A relative path as a URL path: its components percent-encoded (`output::percent`), joined
/// with `/`.
fn encode(rel: &Path) -> String {
    rel.components()
        .map(|c| crate::output::percent(&c.as_os_str().to_string_lossy()))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_page_links_into_the_home_relatively() {
        let p = Paths::new(Some(Path::new("/w/.ddmd")), Path::new("/w/reports/quick"));
        assert_eq!(
            p.href("runs", Path::new("/w/.ddmd/artifacts/ab/samples.png")),
            "../../../.ddmd/artifacts/ab/samples.png"
        );
        assert_eq!(
            p.href("", Path::new("/w/reports/quick/samples/1.png")),
            "samples/1.png"
        );
    }

    #[test]
    fn the_home_copy_of_a_report_links_up_to_its_home() {
        let p = Paths::new(Some(Path::new("/h")), Path::new("/h/artifacts/key/report"));
        assert_eq!(
            p.href("runs", Path::new("/h/artifacts/other/x.bin")),
            "../../../other/x.bin"
        );
    }

    #[test]
    fn paths_are_shown_relative_to_the_home() {
        let p = Paths::new(Some(Path::new("/tmp/qs/home/")), Path::new("/x"));
        assert_eq!(
            p.show(Path::new("/tmp/qs/home/jobs/82")),
            "$DDMD_HOME/jobs/82"
        );
        assert_eq!(p.show(Path::new("/tmp/qs/home")), "$DDMD_HOME");
        assert_eq!(p.show(Path::new("/data/ckpt")), "/data/ckpt");
        let none = Paths::new(None, Path::new("/x"));
        assert_eq!(
            none.show(Path::new("/tmp/qs/home/jobs/82")),
            "/tmp/qs/home/jobs/82"
        );
    }

    #[test]
    fn odd_characters_are_encoded_and_dots_resolved() {
        let p = Paths::new(None, Path::new("/a/b/../r"));
        assert_eq!(p.href("", Path::new("/a/x y/#1.png")), "../x%20y/%231.png");
    }
}
