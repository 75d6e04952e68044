//! Exit codes (issue 2): 0 all succeeded or cached, 1 some job failed, 2 bad input,
//! 130 interrupted. Commands return `anyhow::Error`; a `BadInput` inside it means exit 2.

use std::fmt;

pub const EXIT_FAILED: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

/// A user mistake: printed as is (it already names the file, line and what was expected).
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

pub fn bad(msg: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.to_string()))
}
