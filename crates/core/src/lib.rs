//! Types shared by every part of ddmd-pipe: typed ids, the worker event protocol (DESIGN §7)
//! and the job description a worker receives. No I/O beyond the event sink; no tensors, no SQL.

pub mod events;
pub mod ids;
pub mod job;
pub mod params;
pub mod status;
pub mod suggest;

pub use events::{Event, EventKind, EventSink, ParseEventError};
pub use ids::{CacheKey, JobId, RunId, StageName};
pub use job::{JobFile, StageKind, UpstreamJob};
pub use status::{InvocationStatus, RunStatus};
