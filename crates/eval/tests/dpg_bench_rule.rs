//! DPG-Bench's scoring rule (`ddmd_eval::dpg_bench`) on hand-made answer tables; every
//! expected number is worked out in the comments.

use ddmd_core::prompts::{dpg_csv, Prompt, Question};
use ddmd_eval::dpg_bench::{gated, score, ImageAnswers};
use std::collections::BTreeMap;

fn q(id: u32, parents: &[u32], category: &str) -> Question {
    Question {
        id,
        parents: parents.to_vec(),
        category: category.into(),
        detail: format!("{category} - x"),
        tuple: format!("{category} - x (y)"),
        text: format!("question {id}?"),
    }
}

fn prompt(id: &str, questions: Vec<Question>) -> Prompt {
    Prompt {
        id: id.into(),
        text: format!("the prompt {id}"),
        questions,
    }
}

/// Answers given as (proposition, yes).
fn ans(pairs: &[(u32, bool)]) -> ImageAnswers {
    pairs.iter().copied().collect()
}

fn scores(pairs: &[(u32, f64)]) -> BTreeMap<u32, f64> {
    pairs.iter().copied().collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_question_with_two_parents_is_gated_when_either_is_no() {
    // 1 entity, 2 entity, 3 relation ← 1,2, 4 attribute ← 2.
    let p = prompt(
        "p",
        vec![
            q(1, &[], "entity"),
            q(2, &[], "entity"),
            q(3, &[1, 2], "relation"),
            q(4, &[2], "attribute"),
        ],
    );
    // Raw: 1 yes, 2 no, 3 yes, 4 yes. Gated: 3 has parent 2 = no → 0 (parent 1 being yes does
    // not save it); 4 ← 2 → 0. Gated 1, 0, 0, 0 → image 1/4 → 25.
    let raw = ans(&[(1, true), (2, false), (3, true), (4, true)]);
    assert_eq!(
        gated(&p, &raw),
        scores(&[(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)])
    );
    let s = score(std::slice::from_ref(&p), &[vec![raw]]).unwrap();
    assert!(close(s.score, 25.0), "{}", s.score);
    // Categories from raw answers: entity (1 + 0)/2 = 50, relation 1/1, attribute 1/1.
    assert!(close(s.per_category["entity"], 50.0));
    assert!(close(s.per_category["relation"], 100.0));
    assert!(close(s.per_category["attribute"], 100.0));
    // Gated: entity 50, relation 0, attribute 0.
    assert!(close(s.per_category_gated["entity"], 50.0));
    assert!(close(s.per_category_gated["relation"], 0.0));
    assert!(close(s.per_category_gated["attribute"], 0.0));
    assert_eq!((s.prompts, s.images, s.questions), (1, 1, 4));

    // Both parents yes: nothing gated, 100.
    let all = ans(&[(1, true), (2, true), (3, true), (4, true)]);
    assert!(close(
        score(std::slice::from_ref(&p), &[vec![all]]).unwrap().score,
        100.0
    ));
    // Only 1 no: 3 ← 1,2 → 0; 4 ← 2 stays. Gated 0, 1, 0, 1 → 50.
    let one_no = ans(&[(1, false), (2, true), (3, true), (4, true)]);
    assert_eq!(
        gated(&p, &one_no),
        scores(&[(1, 0.0), (2, 1.0), (3, 0.0), (4, 1.0)])
    );
}

#[test]
fn no_propagates_down_a_chain_in_listed_order() {
    // Chain 1 ← 2 ← 3 (2's parent is 1, 3's parent is 2). Raw 1 no, 2 yes, 3 yes: 2 is
    // gated by 1; 3's parent 2 was answered yes but has already been set to 0 when 3 is
    // visited (the official loop zeroes in place) → 0, 0, 0.
    let chain = prompt(
        "chain",
        vec![
            q(1, &[], "entity"),
            q(2, &[1], "attribute"),
            q(3, &[2], "relation"),
        ],
    );
    let raw = ans(&[(1, false), (2, true), (3, true)]);
    assert_eq!(gated(&chain, &raw), scores(&[(1, 0.0), (2, 0.0), (3, 0.0)]));
    let s = score(&[chain], &[vec![raw]]).unwrap();
    assert!(close(s.score, 0.0));
    // Raw categories still count 2 and 3 as answered yes.
    assert!(close(s.per_category["attribute"], 100.0));
    assert!(close(s.per_category_gated["relation"], 0.0));
}

#[test]
fn a_parent_listed_after_its_child_is_read_as_answered() {
    // 1 ← 3 (the parent has the higher id), 3 ← 2. Raw 1 yes, 2 no, 3 yes.
    // Visiting 1: parent 3 still holds its raw yes → 1 stays 1. Visiting 2: no parents.
    // Visiting 3: parent 2 is no → 0. Result 1, 0, 0: 1 keeps its point although its parent
    // ends at 0 — exactly what the official loop gives. Image 1/3.
    let p = prompt(
        "later",
        vec![
            q(1, &[3], "attribute"),
            q(2, &[], "entity"),
            q(3, &[2], "entity"),
        ],
    );
    let raw = ans(&[(1, true), (2, false), (3, true)]);
    assert_eq!(gated(&p, &raw), scores(&[(1, 1.0), (2, 0.0), (3, 0.0)]));
    let s = score(std::slice::from_ref(&p), &[vec![raw.clone()]]).unwrap();
    assert!(close(s.score, 100.0 / 3.0), "{}", s.score);

    // The order is the listed (row) order, not the id order: the same questions listed
    // 2, 3, 1 gate 3 (← 2 no) before 1 is visited, so 1 (← 3, now 0) is gated too → 0, 0, 0.
    let reordered = Prompt {
        questions: vec![
            p.questions[1].clone(),
            p.questions[2].clone(),
            p.questions[0].clone(),
        ],
        ..p
    };
    assert_eq!(
        gated(&reordered, &raw),
        scores(&[(1, 0.0), (2, 0.0), (3, 0.0)])
    );
}

#[test]
fn a_prompt_with_four_images() {
    // 1 global, 2 entity, 3 attribute ← 2.
    let p = prompt(
        "four",
        vec![
            q(1, &[], "global"),
            q(2, &[], "entity"),
            q(3, &[2], "attribute"),
        ],
    );
    let images = vec![
        // A: yes yes yes → gated 1 1 1 → 1
        ans(&[(1, true), (2, true), (3, true)]),
        // B: yes no yes → 1 0 0 (3 ← 2) → 1/3
        ans(&[(1, true), (2, false), (3, true)]),
        // C: no yes no → 0 1 0 → 1/3
        ans(&[(1, false), (2, true), (3, false)]),
        // D: no no no → 0
        ans(&[(1, false), (2, false), (3, false)]),
    ];
    let s = score(&[p], &[images]).unwrap();
    // Prompt = (1 + 1/3 + 1/3 + 0)/4 = 5/12 → 41.67.
    assert!(close(s.score, 100.0 * 5.0 / 12.0), "{}", s.score);
    assert_eq!((s.prompts, s.images, s.questions), (1, 4, 3));
    // Raw, pooled over the 4 images: global yes in A, B → 2/4; entity yes in A, C → 2/4;
    // attribute yes in A, B → 2/4.
    assert!(close(s.per_category["global"], 50.0));
    assert!(close(s.per_category["entity"], 50.0));
    assert!(close(s.per_category["attribute"], 50.0));
    // Gated: attribute passes only in A (B's is gated by 2) → 1/4.
    assert!(close(s.per_category_gated["global"], 50.0));
    assert!(close(s.per_category_gated["entity"], 50.0));
    assert!(close(s.per_category_gated["attribute"], 25.0));
}

#[test]
fn prompts_weigh_equally_overall_while_categories_pool_questions() {
    // P1: one entity question, one image, yes → image 1 → prompt 1.
    // P2: four entity questions, two images:
    //   yes no no no → 1/4;  yes yes no no → 2/4  → prompt (1/4 + 2/4)/2 = 3/8.
    // Overall: (1 + 3/8)/2 = 11/16 → 68.75.
    // Entity, pooled over every (image, question): P1 1 of 1, P2 1 + 2 of 8 → 4/9 → 44.44.
    // The two differ because P1's single question counts as much as P2's eight answers in
    // the overall score but as one of nine in the category.
    let p1 = prompt("p1", vec![q(1, &[], "entity")]);
    let p2 = prompt(
        "p2",
        vec![
            q(1, &[], "entity"),
            q(2, &[], "entity"),
            q(3, &[], "entity"),
            q(4, &[], "entity"),
        ],
    );
    let a1 = vec![ans(&[(1, true)])];
    let a2 = vec![
        ans(&[(1, true), (2, false), (3, false), (4, false)]),
        ans(&[(1, true), (2, true), (3, false), (4, false)]),
    ];
    let s = score(&[p1, p2], &[a1, a2]).unwrap();
    assert!(close(s.score, 68.75), "{}", s.score);
    assert!(close(s.per_category["entity"], 400.0 / 9.0));
    assert!(close(s.per_category_gated["entity"], 400.0 / 9.0));
    assert!(!close(s.score, s.per_category["entity"]));
    assert_eq!((s.prompts, s.images, s.questions), (2, 3, 5));
}

#[test]
fn malformed_tables_are_errors() {
    let p = prompt("p", vec![q(1, &[], "entity"), q(2, &[1], "attribute")]);
    let good = ans(&[(1, true), (2, true)]);
    assert_eq!(
        score(&[], &[]).unwrap_err(),
        "DPG-Bench needs at least one prompt"
    );
    assert_eq!(
        score(std::slice::from_ref(&p), &[]).unwrap_err(),
        "1 prompts but answers for 0"
    );
    assert_eq!(
        score(std::slice::from_ref(&p), &[vec![]]).unwrap_err(),
        "prompt \"p\" has no images"
    );
    assert_eq!(
        score(
            std::slice::from_ref(&p),
            &[vec![good.clone(), ans(&[(1, true)])]]
        )
        .unwrap_err(),
        "prompt \"p\" image 1: no answer for proposition 2"
    );
    assert_eq!(
        score(
            std::slice::from_ref(&p),
            &[vec![ans(&[(1, true), (2, true), (5, false)])]]
        )
        .unwrap_err(),
        "prompt \"p\" image 0: an answer for proposition 5, which the prompt does not have"
    );
    assert_eq!(
        score(&[prompt("empty", vec![])], &[vec![ans(&[])]]).unwrap_err(),
        "prompt \"empty\" has no questions"
    );
    // gated() itself reads a missing answer as no (and gates its children).
    assert_eq!(gated(&p, &ans(&[(2, true)])), scores(&[(1, 0.0), (2, 0.0)]));
}

/// A small file in the official format: the official header and column order, text with
/// commas (quoted), `keywords` filled, multi-parent `dependency` quoted.
const OFFICIAL: &str = "\
item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,tuple,question_natural_language
whitecat1,\"A white cat, a red ball, and a wooden table.\",\"cat,ball,table\",1,0,entity,entity - whole,entity - whole (cat),Is there a cat?
whitecat1,\"A white cat, a red ball, and a wooden table.\",\"cat,ball,table\",2,0,entity,entity - whole,entity - whole (ball),Is there a ball?
whitecat1,\"A white cat, a red ball, and a wooden table.\",\"cat,ball,table\",3,1,attribute,attribute - color,\"attribute - color (cat, white)\",Is the cat white?
whitecat1,\"A white cat, a red ball, and a wooden table.\",\"cat,ball,table\",4,2,attribute,attribute - color,\"attribute - color (ball, red)\",Is the ball red?
whitecat1,\"A white cat, a red ball, and a wooden table.\",\"cat,ball,table\",5,\"1,2\",relation,relation - spatial,\"relation - spatial (cat, ball, next to)\",Is the cat next to the ball?
night2,\"A city at night, neon signs, rain.\",\"city,night\",1,0,global,global,global (night),Is it night?
night2,\"A city at night, neon signs, rain.\",\"city,night\",2,0,entity,entity - whole,entity - whole (city),Is there a city?
";

#[test]
fn parses_an_official_csv_and_scores_it() {
    let prompts = dpg_csv::parse(OFFICIAL).unwrap();
    assert_eq!(prompts.len(), 2);
    assert_eq!(
        prompts[0].text,
        "A white cat, a red ball, and a wooden table."
    );
    assert_eq!(prompts[0].questions[4].parents, vec![1, 2]);
    assert_eq!(
        prompts[0].questions[2].tuple,
        "attribute - color (cat, white)"
    );
    assert_eq!(prompts[1].id, "night2");

    // whitecat1, 2 images:
    //   image 0: cat yes, ball no, white yes, red yes, next-to yes
    //     → gated 1, 0, 1, 0 (← 2), 0 (← 1,2) → 2/5
    //   image 1: all yes → 1
    //   prompt (2/5 + 1)/2 = 7/10
    // night2, 1 image: night yes, city no → 1/2
    // overall (7/10 + 1/2)/2 = 3/5 → 60.
    let answers = vec![
        vec![
            ans(&[(1, true), (2, false), (3, true), (4, true), (5, true)]),
            ans(&[(1, true), (2, true), (3, true), (4, true), (5, true)]),
        ],
        vec![ans(&[(1, true), (2, false)])],
    ];
    let s = score(&prompts, &answers).unwrap();
    assert!(close(s.score, 60.0), "{}", s.score);
    // Raw categories pooled over all images:
    //   entity: whitecat1 img0 1 of 2, img1 2 of 2, night2 0 of 1 → 3/5 → 60
    //   attribute: 4 of 4 → 100; relation: 2 of 2 → 100; global: 1 of 1 → 100
    // Gated: attribute 1 of 2 on img0 + 2 of 2 → 3/4 → 75; relation 0 + 1 → 1/2 → 50.
    let expect = |m: &BTreeMap<String, f64>, pairs: &[(&str, f64)]| {
        assert_eq!(m.len(), pairs.len(), "{m:?}");
        for (c, v) in pairs {
            assert!(close(m[*c], *v), "{c}: {} vs {v}", m[*c]);
        }
    };
    expect(
        &s.per_category,
        &[
            ("entity", 60.0),
            ("attribute", 100.0),
            ("relation", 100.0),
            ("global", 100.0),
        ],
    );
    expect(
        &s.per_category_gated,
        &[
            ("entity", 60.0),
            ("attribute", 75.0),
            ("relation", 50.0),
            ("global", 100.0),
        ],
    );
    assert_eq!((s.prompts, s.images, s.questions), (2, 3, 7));
    // what we parse, we write back in the official format
    assert_eq!(dpg_csv::parse(&dpg_csv::write(&prompts)).unwrap(), prompts);
}
