//! Scheduling and execution: the resource pool, the dispatcher, the local executor, event
//! tailing, crash recovery and the progress display. Knows nothing of tensors.

pub mod dispatcher;
pub mod executor;
pub mod images;
pub mod local;
pub mod pool;
pub mod ports;
pub mod progress;
pub mod recover;
pub mod runner;
pub mod slurm;
pub mod tail;

pub use dispatcher::{Dispatcher, Invocation, RunOptions};
