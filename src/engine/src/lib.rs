//! femtograd's engine: a recorded graph of array operations, its reverse
//! sweep, and forward-over-reverse second derivatives. No R dependency; the
//! bindings crate (`src/rust`) converts R objects to and from these types.

// The tape (recording, replay), the operations with their rules, the
// sweeps over a tape, the fused log-likelihood kernels, the optimisers.
pub mod blocks;
pub mod error;
pub mod kernels;
pub mod linalg;
pub mod normal;
pub mod ops;
pub mod optim;
pub mod rule;
pub mod sparse_cholesky;
pub mod special;
pub mod sweeps;
pub mod tape;
pub mod tensor;

// Short paths for the modules every layer uses.
pub use sweeps::{adjoints, backward, batch, directional, hessian_pattern, scalar_tape, scores, second_order, terms};
pub use tape::{record, replay};

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use error::{Error, Result};
pub use tape::{Operand, Var};
pub use tensor::{Data, Shape, Tensor};
