//! femtograd's engine: a recorded graph of array operations, its reverse
//! sweep, and forward-over-reverse second derivatives. No R dependency; the
//! bindings crate (`src/rust`) converts R objects to and from these types.

pub mod backward;
pub mod batch;
pub mod error;
pub mod kernels;
pub mod linalg;
pub mod ops;
pub mod optim;
pub mod record;
pub mod replay;
pub mod rule;
pub mod scores;
pub mod second_order;
pub mod special;
pub mod tape;
pub mod tensor;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod replay_tests;

pub use error::{Error, Result};
pub use tape::{Operand, Var};
pub use tensor::{Data, Shape, Tensor};
