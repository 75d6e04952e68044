//! The prompt graph of a scene (DESIGN §10, DPG-Bench style): questions of five categories
//! with parent links. Each question can be answered on a scene that a judge predicted from an
//! image; DPG scoring counts a question only when its parents pass (done by the evaluator).
//!
//! Objects are referred to by shape and position (what the prompt names), so every question
//! has one well-defined answer on a predicted scene.

use super::scene::{cell_name, ColorName, Object, Scene, Shape, Size};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionCategory {
    Entity,
    Attribute,
    Relation,
    Count,
    Global,
}

impl QuestionCategory {
    pub const ALL: [QuestionCategory; 5] = [
        QuestionCategory::Entity,
        QuestionCategory::Attribute,
        QuestionCategory::Relation,
        QuestionCategory::Count,
        QuestionCategory::Global,
    ];
    pub fn name(self) -> &'static str {
        match self {
            QuestionCategory::Entity => "entity",
            QuestionCategory::Attribute => "attribute",
            QuestionCategory::Relation => "relation",
            QuestionCategory::Count => "count",
            QuestionCategory::Global => "global",
        }
    }
}

/// Spatial relation of object a to object b, from their grid cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    LeftOf,
    RightOf,
    Above,
    Below,
}

impl Relation {
    /// The relation stated for a pair: left/right when the columns differ, else above/below.
    pub fn between(a: (usize, usize), b: (usize, usize)) -> Option<Relation> {
        use std::cmp::Ordering::*;
        match (a.1.cmp(&b.1), a.0.cmp(&b.0)) {
            (Less, _) => Some(Relation::LeftOf),
            (Greater, _) => Some(Relation::RightOf),
            (Equal, Less) => Some(Relation::Above),
            (Equal, Greater) => Some(Relation::Below),
            (Equal, Equal) => None,
        }
    }

    pub fn holds(self, a: (usize, usize), b: (usize, usize)) -> bool {
        match self {
            Relation::LeftOf => a.1 < b.1,
            Relation::RightOf => a.1 > b.1,
            Relation::Above => a.0 < b.0,
            Relation::Below => a.0 > b.0,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Relation::LeftOf => "left of",
            Relation::RightOf => "right of",
            Relation::Above => "above",
            Relation::Below => "below",
        }
    }
}

/// What a question asks, precisely enough to answer it on a predicted scene.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Ask {
    /// An object of `shape` in `cell`.
    Entity { shape: Shape, cell: (usize, usize) },
    /// The object in `cell` has `color`.
    Color {
        cell: (usize, usize),
        color: ColorName,
    },
    /// The object in `cell` has `size`.
    Size { cell: (usize, usize), size: Size },
    /// Some (shape, colour) object `a` stands in `relation` to some (shape, colour) object `b`.
    Relation {
        a: (Shape, ColorName),
        b: (Shape, ColorName),
        relation: Relation,
    },
    /// Exactly `n` objects.
    Count { n: usize },
    /// The background colour.
    Background { color: ColorName },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Index of the question in its scene's list.
    pub id: usize,
    pub category: QuestionCategory,
    pub text: String,
    /// Ids of the questions this one depends on.
    pub parents: Vec<usize>,
    pub ask: Ask,
}

impl Question {
    /// Answers the question on a (judge-)predicted scene.
    pub fn passes(&self, predicted: &Scene) -> bool {
        match &self.ask {
            Ask::Entity { shape, cell } => predicted
                .object_at(*cell)
                .is_some_and(|o| o.shape == *shape),
            Ask::Color { cell, color } => predicted
                .object_at(*cell)
                .is_some_and(|o| o.color == *color),
            Ask::Size { cell, size } => predicted.object_at(*cell).is_some_and(|o| o.size == *size),
            Ask::Relation { a, b, relation } => {
                let is = |o: &Object, k: &(Shape, ColorName)| o.shape == k.0 && o.color == k.1;
                predicted.objects.iter().any(|oa| {
                    is(oa, a)
                        && predicted.objects.iter().any(|ob| {
                            ob.cell != oa.cell && is(ob, b) && relation.holds(oa.cell, ob.cell)
                        })
                })
            }
            Ask::Count { n } => predicted.objects.len() == *n,
            Ask::Background { color } => predicted.background == *color,
        }
    }
}

fn number_word(n: usize) -> String {
    const W: [&str; 10] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    W.get(n)
        .map(|s| s.to_string())
        .unwrap_or_else(|| n.to_string())
}

impl Scene {
    /// The prompt graph: global (background), count, then per object entity → colour and size
    /// attributes, then a relation for every pair of objects (parents: both entities).
    pub fn questions(&self) -> Vec<Question> {
        let mut qs: Vec<Question> = Vec::new();
        let push = |qs: &mut Vec<Question>, category, text: String, parents: Vec<usize>, ask| {
            let id = qs.len();
            qs.push(Question {
                id,
                category,
                text,
                parents,
                ask,
            });
            id
        };
        push(
            &mut qs,
            QuestionCategory::Global,
            format!("is the background {}?", self.background),
            vec![],
            Ask::Background {
                color: self.background,
            },
        );
        let n = self.objects.len();
        push(
            &mut qs,
            QuestionCategory::Count,
            if n == 1 {
                "is there one object?".to_string()
            } else {
                format!("are there {} objects?", number_word(n))
            },
            vec![],
            Ask::Count { n },
        );
        let mut entity_ids = Vec::with_capacity(n);
        for o in &self.objects {
            let at = cell_name(o.cell);
            let e = push(
                &mut qs,
                QuestionCategory::Entity,
                format!("is there a {} at {at}?", o.shape),
                vec![],
                Ask::Entity {
                    shape: o.shape,
                    cell: o.cell,
                },
            );
            entity_ids.push(e);
            push(
                &mut qs,
                QuestionCategory::Attribute,
                format!("is the {} at {at} {}?", o.shape, o.color),
                vec![e],
                Ask::Color {
                    cell: o.cell,
                    color: o.color,
                },
            );
            push(
                &mut qs,
                QuestionCategory::Attribute,
                format!("is the {} at {at} {}?", o.shape, o.size),
                vec![e],
                Ask::Size {
                    cell: o.cell,
                    size: o.size,
                },
            );
        }
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (&self.objects[i], &self.objects[j]);
                if let Some(rel) = Relation::between(a.cell, b.cell) {
                    push(
                        &mut qs,
                        QuestionCategory::Relation,
                        format!("is the {} {} the {}?", a.label(), rel.words(), b.label()),
                        vec![entity_ids[i], entity_ids[j]],
                        Ask::Relation {
                            a: (a.shape, a.color),
                            b: (b.shape, b.color),
                            relation: rel,
                        },
                    );
                }
            }
        }
        qs
    }
}
