//! The one error type of `painters-rewrite`.
use painters_graph::names::one_line;
use painters_graph::GraphError;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("block {block} does not exist: the model has {count} blocks (0-{last})", last = count.saturating_sub(1))]
    NoSuchBlock { block: usize, count: usize },
    #[error("a parallel group needs at least one branch")]
    EmptyParallel,
    #[error("a group needs at least one item")]
    EmptyGroup,
    #[error("a repeat count must be at least 1")]
    ZeroRepeat,
    #[error("the plan runs {instances} block instances; the limit is {limit} (each instance becomes graph nodes)")]
    TooLarge { instances: usize, limit: usize },
    #[error("the plan nests groups more than {limit} deep")]
    TooDeep { limit: usize },
    #[error(transparent)]
    Parse(#[from] crate::parse::ParseError),
    #[error("preset {preset}: {}", one_line(.reason))]
    Preset { preset: String, reason: String },
    #[error("plan file {}: {}", one_line(.path), one_line(.reason))]
    PlanFile { path: String, reason: String },
    #[error("a schedule lowered for another model ({lowered_for} blocks) was given a model of {blocks} blocks")]
    ScheduleMismatch { lowered_for: usize, blocks: usize },
    #[error("the rewritten graph is invalid")]
    Invalid(#[source] GraphError),
    #[error("detected {detected} blocks but {} says {declared}: refusing a model painters would misread", one_line(.by))]
    DepthMismatch { detected: usize, declared: usize, by: String },
    #[error(transparent)]
    Graph(#[from] GraphError),
}

pub type Result<T, E = RewriteError> = std::result::Result<T, E>;
