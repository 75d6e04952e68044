//! One module per subcommand; `main.rs` only dispatches here.

pub mod env;
pub mod executor;
pub mod plan;
pub mod run;
pub mod runs;
pub mod spec_load;
