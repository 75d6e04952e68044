//! Agreement of two judges on the same images: the fraction of the prompt graph's questions
//! (raw answers, before dependency gating) that both answer alike, per category. A judge that
//! reads renders at 99.8 % but disagrees with an independently trained one on generated
//! images is not measuring the images.

use ddmd_science::data::Scene;
use std::collections::BTreeMap;

/// Per category (and `"all"`): the fraction of questions both judges answer alike. `targets`
/// holds the prompt scene of each image; `a` and `b` the two judges' readings of it.
pub fn judge_agreement(targets: &[&Scene], a: &[Scene], b: &[Scene]) -> BTreeMap<String, f64> {
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for ((target, pa), pb) in targets.iter().zip(a).zip(b) {
        for q in target.questions() {
            let same = q.passes(pa) == q.passes(pb);
            for key in [q.category.name().to_string(), "all".to_string()] {
                let e = tally.entry(key).or_insert((0, 0));
                e.0 += same as usize;
                e.1 += 1;
            }
        }
    }
    tally
        .into_iter()
        .map(|(k, (same, n))| (k, same as f64 / n.max(1) as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddmd_science::data::{ColorName, Object, Shape, Size};

    #[test]
    fn counts_questions_answered_alike() {
        let obj = |shape| Object::plain(shape, ColorName::Red, Size::Small, (0, 0));
        let target = Scene {
            background: ColorName::Black,
            objects: vec![obj(Shape::Circle)],
        };
        let same = judge_agreement(
            &[&target],
            std::slice::from_ref(&target),
            std::slice::from_ref(&target),
        );
        assert_eq!(same["all"], 1.0);
        // The second judge sees a square: entity differs, and so does nothing else (colour and
        // size are asked by cell and still pass; background and count agree).
        let other = Scene {
            objects: vec![obj(Shape::Square)],
            ..target.clone()
        };
        let r = judge_agreement(&[&target], std::slice::from_ref(&target), &[other]);
        assert_eq!(r["entity"], 0.0);
        assert_eq!(r["global"], 1.0);
        assert_eq!(r["count"], 1.0);
        assert!(r["all"] < 1.0 && r["all"] > 0.5);
    }
}
