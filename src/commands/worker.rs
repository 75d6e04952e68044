//! `ddmd-pipe worker <job.json>`: the process a built-in job runs in. It reads its job file,
//! runs the stage, and talks to the orchestrator only through its events file.

use ddmd_core::{EventSink, JobFile};
use std::path::Path;

pub fn worker(job_json: &Path) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(job_json)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", job_json.display()))?;
    let job: JobFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a job file: {e}", job_json.display()))?;
    let mut sink = EventSink::open(&job.events, 0)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", job.events.display()))?;
    let result = crate::builtin::run_stage(&job, &mut sink);
    match result {
        Ok(()) => {
            sink.flush()?;
            Ok(0)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = sink.status("failed", None, Some(&msg));
            let _ = sink.flush();
            eprintln!("error: {msg}");
            Ok(1)
        }
    }
}
