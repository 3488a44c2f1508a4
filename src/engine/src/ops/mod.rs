//! The operations. Each file holds one family; each operation's value and
//! derivative rules sit together.

pub mod binary;
pub mod chol;
pub mod concat;
pub mod linear;
pub mod matmul;
pub mod observation_ids;
pub mod reduce;
pub mod solve;
pub mod unary;

pub use binary::Binary;
pub use chol::Chol;
pub use concat::Concat;
pub use linear::{CumSum, Gather, Mean, Sum, Transpose};
pub use matmul::MatMul;
pub use reduce::{LogSumExp, Prod};
pub use solve::{LogDet, Solve};
pub use unary::Unary;
