//! Scenes of the shapes world: what is in an image (background, objects on a 3×3 grid with
//! small continuous jitter), its canonical prompt text, and parsing that text back.

use super::error::DataError;
use serde::{Deserialize, Serialize};

/// The coarse grid is GRID×GRID cells.
pub const GRID: usize = 3;

const CELL_NAMES: [[&str; GRID]; GRID] = [
    ["top left", "top", "top right"],
    ["left", "center", "right"],
    ["bottom left", "bottom", "bottom right"],
];

/// The name of a grid cell (row, col) as used in prompts ("top left", "center", ...).
pub fn cell_name(cell: (usize, usize)) -> &'static str {
    CELL_NAMES[cell.0.min(GRID - 1)][cell.1.min(GRID - 1)]
}

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($v),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn name(self) -> &'static str { match self { $($name::$v => $s),* } }
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$v),)* _ => None }
            }
            /// Position in [`Self::ALL`] (the class index the judge predicts).
            pub fn index(self) -> usize { self as usize }
            pub fn from_index(i: usize) -> Option<$name> { Self::ALL.get(i).copied() }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.name()) }
        }
    };
}

named_enum!(
    /// Object shapes. Kept to three that stay distinguishable at 16×16 (small objects are
    /// about 3 pixels across), so that the judge can be near perfect.
    Shape { Circle => "circle", Square => "square", Triangle => "triangle" }
);
named_enum!(
    /// Colour names; the first six are object colours, the last three background colours
    /// (disjoint, so no object is ever invisible on its background).
    ColorName {
        Red => "red", Green => "green", Blue => "blue", Yellow => "yellow", Purple => "purple",
        Cyan => "cyan", Black => "black", White => "white", Gray => "gray",
    }
);
named_enum!(
    Size { Small => "small", Large => "large" }
);

impl ColorName {
    pub const OBJECT: &'static [ColorName] = &[
        ColorName::Red,
        ColorName::Green,
        ColorName::Blue,
        ColorName::Yellow,
        ColorName::Purple,
        ColorName::Cyan,
    ];
    pub const BACKGROUND: &'static [ColorName] =
        &[ColorName::Black, ColorName::White, ColorName::Gray];

    /// Nominal RGB in [0, 1].
    pub fn rgb(self) -> [f32; 3] {
        match self {
            ColorName::Red => [0.92, 0.12, 0.10],
            ColorName::Green => [0.12, 0.80, 0.15],
            ColorName::Blue => [0.12, 0.22, 0.95],
            ColorName::Yellow => [0.95, 0.88, 0.10],
            ColorName::Purple => [0.68, 0.15, 0.90],
            ColorName::Cyan => [0.10, 0.85, 0.90],
            ColorName::Black => [0.04, 0.04, 0.04],
            ColorName::White => [0.96, 0.96, 0.96],
            ColorName::Gray => [0.50, 0.50, 0.50],
        }
    }
}

/// One object: its discrete attributes (what the prompt says) and its continuous jitter (what
/// makes two renderings of the same prompt differ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub shape: Shape,
    pub color: ColorName,
    pub size: Size,
    /// Coarse grid (row, col), each in 0..GRID.
    pub cell: (usize, usize),
    /// Offset of the centre from the cell centre, as a fraction of the cell size.
    #[serde(default)]
    pub jitter_x: f32,
    #[serde(default)]
    pub jitter_y: f32,
    /// Multiplicative size jitter (1.0 = nominal).
    #[serde(default = "one")]
    pub scale: f32,
    /// Hue shift in turns (1.0 = a full turn of the colour wheel).
    #[serde(default)]
    pub hue_shift: f32,
    /// Multiplicative brightness jitter (1.0 = nominal).
    #[serde(default = "one")]
    pub value_scale: f32,
}

fn one() -> f32 {
    1.0
}

impl Object {
    /// An object with no jitter.
    pub fn plain(shape: Shape, color: ColorName, size: Size, cell: (usize, usize)) -> Object {
        Object {
            shape,
            color,
            size,
            cell,
            jitter_x: 0.0,
            jitter_y: 0.0,
            scale: 1.0,
            hue_shift: 0.0,
            value_scale: 1.0,
        }
    }

    /// "a large red circle at top left"
    pub fn phrase(&self) -> String {
        format!(
            "a {} {} {} at {}",
            self.size,
            self.color,
            self.shape,
            cell_name(self.cell)
        )
    }

    /// "red circle": how questions refer to the object.
    pub fn label(&self) -> String {
        format!("{} {}", self.color, self.shape)
    }
}

/// A scene: background colour and objects in distinct cells, sorted by cell (row-major), so
/// that the prompt of a scene is canonical.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub background: ColorName,
    pub objects: Vec<Object>,
}

impl Scene {
    /// The prompt: "a large red circle at top left and a small blue square at bottom right on
    /// a black background"; three or more objects are joined by ", " and a final " and ".
    pub fn prompt(&self) -> String {
        let phrases: Vec<String> = self.objects.iter().map(Object::phrase).collect();
        let body = match phrases.len() {
            0 => String::new(),
            1 => phrases[0].clone(),
            n => format!("{} and {}", phrases[..n - 1].join(", "), phrases[n - 1]),
        };
        if body.is_empty() {
            format!("a {} background", self.background)
        } else {
            format!("{body} on a {} background", self.background)
        }
    }

    /// The object in `cell`, if any.
    pub fn object_at(&self, cell: (usize, usize)) -> Option<&Object> {
        self.objects.iter().find(|o| o.cell == cell)
    }

    /// The scene without its continuous jitter (what a prompt determines).
    pub fn discrete(&self) -> Scene {
        Scene {
            background: self.background,
            objects: self
                .objects
                .iter()
                .map(|o| Object::plain(o.shape, o.color, o.size, o.cell))
                .collect(),
        }
    }
}

/// Parses a canonical prompt back into a scene without jitter. The inverse of
/// [`Scene::prompt`]; used by tests and by tools that want to render a typed prompt.
pub fn parse_prompt(prompt: &str) -> Result<Scene, DataError> {
    let err = |m: String| DataError::Parse {
        prompt: prompt.to_string(),
        message: m,
    };
    let text = prompt.trim().to_ascii_lowercase();
    let (body, bg) = match text.rsplit_once(" on a ") {
        Some((b, rest)) => (b.to_string(), rest.to_string()),
        None => match text.strip_prefix("a ") {
            Some(rest) if !rest.contains(" at ") => (String::new(), rest.to_string()),
            _ => return Err(err("missing \"on a <colour> background\"".into())),
        },
    };
    let bg_name = bg
        .strip_suffix(" background")
        .ok_or_else(|| err("missing \"background\"".into()))?;
    let background = ColorName::from_name(bg_name.trim())
        .ok_or_else(|| err(format!("unknown colour {bg_name:?}")))?;
    let mut objects = Vec::new();
    if !body.is_empty() {
        let body = body.replace(" and ", ", ");
        for phrase in body.split(", ") {
            let words: Vec<&str> = phrase.split_whitespace().collect();
            if words.len() < 6 || words[0] != "a" || words[4] != "at" {
                return Err(err(format!("cannot read object phrase {phrase:?}")));
            }
            let size = Size::from_name(words[1])
                .ok_or_else(|| err(format!("unknown size {:?}", words[1])))?;
            let color = ColorName::from_name(words[2])
                .ok_or_else(|| err(format!("unknown colour {:?}", words[2])))?;
            let shape = Shape::from_name(words[3])
                .ok_or_else(|| err(format!("unknown shape {:?}", words[3])))?;
            let pos = words[5..].join(" ");
            let cell = (0..GRID * GRID)
                .map(|i| (i / GRID, i % GRID))
                .find(|&c| cell_name(c) == pos)
                .ok_or_else(|| err(format!("unknown position {pos:?}")))?;
            objects.push(Object::plain(shape, color, size, cell));
        }
    }
    Ok(Scene {
        background,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_text_matches_design_example() {
        let s = Scene {
            background: ColorName::Black,
            objects: vec![
                Object::plain(Shape::Circle, ColorName::Red, Size::Large, (0, 0)),
                Object::plain(Shape::Square, ColorName::Blue, Size::Small, (2, 2)),
            ],
        };
        assert_eq!(
            s.prompt(),
            "a large red circle at top left and a small blue square at bottom right on a black background"
        );
        assert_eq!(parse_prompt(&s.prompt()).unwrap(), s);
    }

    #[test]
    fn bad_prompts_are_errors() {
        for p in [
            "",
            "a large red circle at top left",
            "a huge red circle at top on a black background",
            "a large red circle at middle on a black background",
            "a large red circle at top on a pink background",
        ] {
            assert!(parse_prompt(p).is_err(), "{p}");
        }
    }
}
