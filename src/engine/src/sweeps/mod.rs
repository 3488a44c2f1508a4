//! The sweeps over a tape: reverse mode (`backward`), forward-over-reverse
//! second order (`second_order`, with `scalar_tape` for tapes of scalars),
//! per-observation scores (`scores`), forward mode recorded as operations
//! (`directional`), and
//! the stores they fill (`adjoints` for first-order adjoints, `batch` for
//! tangents and second-order adjoints, one column per direction). They know
//! operations only through the `Rule` trait.

pub mod adjoints;
pub mod backward;
pub mod batch;
pub mod directional;
#[cfg(test)]
mod directional_tests;
pub mod hessian_pattern;
#[cfg(test)]
mod hessian_pattern_tests;
pub mod scalar_tape;
pub mod scores;
pub mod second_order;
pub mod terms;
