//! The operations. Each file holds one family; each operation's value and
//! derivative rules sit together.

pub mod binary;
pub mod linear;
pub mod matmul;
pub mod reduce;
pub mod solve;
pub mod unary;

pub use binary::Binary;
pub use linear::{Gather, Mean, Sum, Transpose};
pub use matmul::MatMul;
pub use reduce::{LogSumExp, Prod};
pub use solve::{LogDet, Solve};
pub use unary::Unary;
