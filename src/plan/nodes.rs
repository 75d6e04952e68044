//! Jobs that span nodes (`resources.nodes > 1`). Only a command stage can use them (it starts
//! its own processes on every node through `{{ launch }}`; a built-in stage is one process),
//! and only an executor that has nodes can place them: the local executor runs every job on
//! this machine, so such a pipeline is refused at `validate`, before anything runs, with a
//! pointer to Slurm.

use super::resolve::located;
use ddmd_core::StageKind;
use ddmd_pipeline::{Spec, SpecErrors};

/// Whether the executor a pipeline will run under can give a job more than one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodesAvailable {
    /// The local executor: this machine only.
    OneMachine,
    /// Slurm: the allocation's nodes.
    Allocation,
}

/// Stages asking for more than one node under an executor that has one machine.
pub fn check(spec: &Spec, executor: NodesAvailable) -> Result<(), SpecErrors> {
    if executor == NodesAvailable::Allocation {
        return Ok(());
    }
    let errors: Vec<_> = spec
        .stages
        .iter()
        .filter(|(_, s)| s.kind == StageKind::Command && s.resources.nodes > 1)
        .map(|(name, s)| {
            located(
                spec,
                &format!("stages.{name}.resources.nodes"),
                format!(
                    "{} nodes need an executor that has nodes; the local executor runs every job on this machine: run it on Slurm (`--executor slurm`, or `executor: {{ kind: slurm }}` in the pipeline; see docs/SLURM.md), or use nodes: 1",
                    s.resources.nodes
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SpecErrors(errors))
    }
}
