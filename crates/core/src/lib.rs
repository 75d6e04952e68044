//! Types shared by every part of ddmd-pipe: typed ids, the worker event protocol (DESIGN §7)
//! with its contract and the text codec of non-finite values, and the job description a worker
//! receives. No I/O beyond the event sink; no tensors, no SQL.

pub mod contract;
pub mod events;
pub mod ids;
pub mod job;
pub mod layout;
pub mod metrics;
pub mod nonfinite;
pub mod params;
pub mod prompts;
pub mod status;
pub mod suggest;
pub mod text;

pub use contract::ContractViolation;
pub use events::{Event, EventKind, EventLines, EventSink, ParseEventError};
pub use ids::{CacheKey, InvocationId, JobId, PipelineId, RunId, StageName};
pub use job::{JobFile, StageKind, UpstreamJob};
pub use prompts::{PromptSet, PromptSource, PromptsDecl};
pub use status::{InvocationStatus, RunStatus};
