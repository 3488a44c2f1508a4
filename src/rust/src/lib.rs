//! extendr bindings for femtograd's engine. This crate only converts R
//! objects to engine types and back and turns engine errors into R errors;
//! all mathematics lives in `femtograd-engine`.

use extendr_api::prelude::*;

mod blocks;
mod convert;
mod derivatives;
mod graph;
mod handle;
mod likelihood;
mod native;

extendr_module! {
    mod femtograd;
    use blocks;
    use graph;
    use derivatives;
    use likelihood;
    use native;
}
