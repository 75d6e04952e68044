//! Tests of the shapes world as a whole: determinism, prompt ↔ scene, the question graph,
//! tokens, rendering and image I/O.

use super::*;
use std::collections::HashSet;

fn world() -> ShapesWorld {
    ShapesWorld::new(ShapesConfig::new(16, 1, 4).unwrap())
}

#[test]
fn scenes_are_deterministic_by_seed_and_index() {
    let w = world();
    for i in 0..50 {
        assert_eq!(w.scene(7, i), w.scene(7, i));
        assert_eq!(w.render(&w.scene(7, i)), w.render(&w.scene(7, i)));
    }
    let a: Vec<String> = (0..50).map(|i| w.scene(7, i).prompt()).collect();
    let b: Vec<String> = (0..50).map(|i| w.scene(8, i).prompt()).collect();
    assert_ne!(a, b, "different seeds must give different scenes");
    let distinct: HashSet<&String> = a.iter().collect();
    assert!(
        distinct.len() > 45,
        "scenes repeat too often: {}",
        distinct.len()
    );
    // batch(start) is the same as scene(start + k)
    let bt = w.batch(7, 10, 3);
    for k in 0..3 {
        assert_eq!(bt.scenes[k], w.scene(7, 10 + k as u64));
    }
}

#[test]
fn scene_statistics_cover_the_configured_ranges() {
    let w = world();
    let mut counts = [0usize; 5];
    let mut shapes = HashSet::new();
    let mut colors = HashSet::new();
    let mut bgs = HashSet::new();
    for i in 0..2000 {
        let s = w.scene(1, i);
        counts[s.objects.len()] += 1;
        let cells: HashSet<_> = s.objects.iter().map(|o| o.cell).collect();
        assert_eq!(cells.len(), s.objects.len(), "two objects share a cell");
        assert!(
            s.objects.windows(2).all(|p| p[0].cell < p[1].cell),
            "objects not sorted by cell"
        );
        for o in &s.objects {
            shapes.insert(o.shape);
            colors.insert(o.color);
            assert!(ColorName::OBJECT.contains(&o.color));
            assert!(o.jitter_x.abs() <= 0.04 && o.jitter_y.abs() <= 0.04);
        }
        bgs.insert(s.background);
    }
    assert_eq!(counts[0], 0);
    assert!(counts[1..=4].iter().all(|&c| c > 400), "{counts:?}");
    assert_eq!(shapes.len(), Shape::ALL.len());
    assert_eq!(colors.len(), ColorName::OBJECT.len());
    assert_eq!(bgs.len(), ColorName::BACKGROUND.len());
}

#[test]
fn prompt_parses_back_to_the_scene() {
    let w = ShapesWorld::new(ShapesConfig::new(16, 1, 5).unwrap());
    let vocab = Vocab::new();
    for i in 0..500 {
        let s = w.scene(3, i);
        let p = s.prompt();
        assert_eq!(parse_prompt(&p).unwrap(), s.discrete(), "{p}");
        // tokens round trip, no unknown words, fits
        let ids = vocab.encode(&p).unwrap();
        assert!(!ids.contains(&UNK), "{p}");
        assert_eq!(vocab.decode(&ids), p);
    }
}

#[test]
fn question_graph_parents_and_self_consistency() {
    let w = ShapesWorld::new(ShapesConfig::new(16, 1, 5).unwrap());
    for i in 0..300 {
        let s = w.scene(5, i);
        let qs = s.questions();
        let n = s.objects.len();
        let by_cat = |c| qs.iter().filter(|q| q.category == c).count();
        assert_eq!(by_cat(QuestionCategory::Global), 1);
        assert_eq!(by_cat(QuestionCategory::Count), 1);
        assert_eq!(by_cat(QuestionCategory::Entity), n);
        assert_eq!(by_cat(QuestionCategory::Attribute), 2 * n);
        assert_eq!(by_cat(QuestionCategory::Relation), n * (n - 1) / 2);
        for (k, q) in qs.iter().enumerate() {
            assert_eq!(q.id, k);
            // every question is true of its own scene
            assert!(q.passes(&s), "{}: {}", s.prompt(), q.text);
            for &p in &q.parents {
                assert!(p < q.id, "parent after child");
                assert_eq!(qs[p].category, QuestionCategory::Entity);
            }
            match q.category {
                QuestionCategory::Attribute => assert_eq!(q.parents.len(), 1),
                QuestionCategory::Relation => assert_eq!(q.parents.len(), 2),
                _ => assert!(q.parents.is_empty()),
            }
        }
    }
}

#[test]
fn questions_fail_on_wrong_predictions() {
    let s =
        parse_prompt("a large red circle at top left and a small blue square at bottom right on a black background")
            .unwrap();
    let qs = s.questions();
    let text = |q: &Question| q.text.clone();
    assert!(qs
        .iter()
        .any(|q| text(q) == "is the red circle left of the blue square?"));
    // wrong background: only the global question fails
    let mut p = s.clone();
    p.background = ColorName::White;
    let failing: Vec<_> = qs
        .iter()
        .filter(|q| !q.passes(&p))
        .map(|q| q.category)
        .collect();
    assert_eq!(failing, vec![QuestionCategory::Global]);
    // the circle predicted as a triangle: its entity and the relation fail, its attributes do not
    let mut p = s.clone();
    p.objects[0].shape = Shape::Triangle;
    let failing: Vec<_> = qs.iter().filter(|q| !q.passes(&p)).map(text).collect();
    assert_eq!(
        failing,
        vec![
            "is there a circle at top left?",
            "is the red circle left of the blue square?"
        ]
    );
    // swapped positions: relation fails, entities fail
    let mut p = s.clone();
    p.objects[0].cell = (2, 2);
    p.objects[1].cell = (0, 0);
    assert!(qs
        .iter()
        .filter(|q| q.category == QuestionCategory::Relation)
        .all(|q| !q.passes(&p)));
    // a missing object: count fails
    let mut p = s.clone();
    p.objects.pop();
    assert!(!qs[1].passes(&p));
}

#[test]
fn rendering_is_antialiased_in_range_and_fast() {
    let w = world();
    let s = w.scene(2, 0);
    let img = w.render(&s);
    assert_eq!(img.len(), 3 * 16 * 16);
    assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
    // anti-aliasing: more distinct values than background + object colours
    let mut distinct: Vec<i32> = img.iter().map(|v| (v * 1000.0) as i32).collect();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() > 3 * (s.objects.len() + 1),
        "{} distinct values",
        distinct.len()
    );
    // the object's pixel at its centre carries its colour, a far corner the background's
    let plane = 256;
    let o = &s.objects[0];
    let cy = ((o.cell.0 as f32 + 0.5 + o.jitter_y) * 16.0 / 3.0) as usize;
    let cx = ((o.cell.1 as f32 + 0.5 + o.jitter_x) * 16.0 / 3.0) as usize;
    let bg = s.background.rgb();
    let at = |c: usize, y: usize, x: usize| (img[c * plane + y * 16 + x] + 1.0) / 2.0;
    let diff: f32 = (0..3).map(|c| (at(c, cy, cx) - bg[c]).abs()).sum();
    assert!(diff > 0.3, "object not visible at its centre");
    let t = std::time::Instant::now();
    let b = w.batch(9, 0, 2000);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(b.images.size(), vec![2000, 3, 16, 16]);
    assert_eq!(b.tokens.size(), vec![2000, MAX_TOKENS as i64]);
    // thousands per second even in a debug-ish build on a shared core
    assert!(secs < 2.0, "2000 scenes took {secs:.2}s");
}

#[test]
fn config_from_params() {
    let p: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"data": {"kind": "shapes", "resolution": 32, "objects": [2, 5]}}"#,
    )
    .unwrap();
    assert_eq!(
        ShapesConfig::from_params(&p).unwrap(),
        ShapesConfig::new(32, 2, 5).unwrap()
    );
    assert_eq!(
        ShapesConfig::from_params(&Default::default()).unwrap(),
        ShapesConfig::default()
    );
    for bad in [
        r#"{"data": {"kind": "folder"}}"#,
        r#"{"data": {"resolution": 8}}"#,
        r#"{"data": {"objects": [3, 2]}}"#,
        r#"{"data": {"objects": [1, 6]}}"#,
        r#"{"data": {"colour": 1}}"#,
        r#"{"data": 3}"#,
    ] {
        let p: serde_json::Map<String, serde_json::Value> = serde_json::from_str(bad).unwrap();
        assert!(ShapesConfig::from_params(&p).is_err(), "{bad}");
    }
}

#[test]
fn png_grid_and_image_folder_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let b = w.batch(4, 0, 3);
    let grid = dir.path().join("grid.png");
    write_grid_png(&grid, &b.images, 2, 3).unwrap();
    let (gw, gh, _) = decode_png_rgb(&grid).unwrap();
    assert_eq!((gw, gh), (2 * 48 + 3 * 3, 2 * 48 + 3 * 3));
    for (k, s) in b.scenes.iter().enumerate() {
        let chw = w.render(s);
        std::fs::write(dir.path().join(format!("{k}.png")), image_to_png(&chw, 16)).unwrap();
        std::fs::write(dir.path().join(format!("{k}.txt")), s.prompt()).unwrap();
    }
    std::fs::remove_file(&grid).unwrap();
    let f = ImageFolder::open(dir.path(), 16).unwrap();
    assert_eq!(f.len(), 3);
    let fb = f.batch(0, 3).unwrap();
    let diff = (&fb.images - &b.images).abs().max().double_value(&[]);
    assert!(diff <= 1.0 / 127.5 + 1e-6, "8-bit round trip off by {diff}");
    assert_eq!(fb.tokens, b.tokens);
    // a folder with a jpg is an error, not a silent skip
    std::fs::write(dir.path().join("x.jpg"), b"not really").unwrap();
    assert!(ImageFolder::open(dir.path(), 16).is_err());
    assert!(ImageFolder::open(&dir.path().join("missing"), 16).is_err());
}

#[test]
fn longest_prompts_fit_max_tokens() {
    // five objects with two-word positions: the worst case of the grammar
    let cells = [(0, 0), (0, 2), (2, 0), (2, 2), (1, 1)];
    let s = Scene {
        background: ColorName::Black,
        objects: cells
            .iter()
            .map(|&c| Object::plain(Shape::Triangle, ColorName::Purple, Size::Large, c))
            .collect(),
    };
    assert!(Vocab::new().encode(&s.prompt()).is_ok());
}

#[test]
fn rejitter_keeps_the_prompt_and_changes_the_pixels() {
    let w = world();
    for i in 0..30 {
        let s = w.scene(3, i);
        let r = w.rejitter(&s, 99, i);
        assert_eq!(r.prompt(), s.prompt(), "same prompt");
        assert_eq!(r.discrete(), s.discrete());
        assert_eq!(r, w.rejitter(&s, 99, i), "deterministic by (seed, index)");
        assert_ne!(
            w.render(&r),
            w.render(&s),
            "fresh jitter renders differently"
        );
    }
}
