//! The sweeps over a tape: reverse mode (`backward`), forward-over-reverse
//! second order (`second_order`), per-observation scores (`scores`), and
//! the stores they fill (`adjoints` for first-order adjoints, `batch` for
//! tangents and second-order adjoints, one column per direction). They know
//! operations only through the `Rule` trait.

pub mod adjoints;
pub mod backward;
pub mod batch;
pub mod scores;
pub mod second_order;
pub mod terms;
