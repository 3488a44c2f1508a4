//! The adjoints of a reverse sweep, one slot per tape position. A scalar
//! adjoint is stored inline: a model written as an R loop has thousands of
//! scalar nodes, and one heap allocation each would cost more than the
//! arithmetic of the sweep.

#[derive(Debug, Clone, Default)]
enum Slot {
    #[default]
    None,
    Scalar(f64),
    Array(Box<[f64]>),
}

#[derive(Debug, Clone)]
pub struct Adjoints {
    slots: Vec<Slot>,
}

impl Adjoints {
    /// `len` empty slots (no gradient flows anywhere yet).
    pub fn new(len: usize) -> Adjoints {
        Adjoints { slots: vec![Slot::None; len] }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The adjoint at position `i`; `None` where no gradient flows.
    pub fn get(&self, i: usize) -> Option<&[f64]> {
        match self.slots.get(i)? {
            Slot::None => None,
            Slot::Scalar(x) => Some(std::slice::from_ref(x)),
            Slot::Array(a) => Some(a),
        }
    }

    /// Adds `x` to the scalar adjoint at `i`.
    pub fn add_scalar(&mut self, i: usize, x: f64) {
        let slot = &mut self.slots[i];
        match slot {
            Slot::None => *slot = Slot::Scalar(x),
            Slot::Scalar(a) => *a += x,
            Slot::Array(a) => a[0] += x,
        }
    }

    /// Adds a contribution (of the node's size) to the adjoint at `i`.
    pub fn add(&mut self, i: usize, c: Vec<f64>) {
        if c.len() == 1 {
            return self.add_scalar(i, c[0]);
        }
        let slot = &mut self.slots[i];
        match slot {
            Slot::None => *slot = Slot::Array(c.into_boxed_slice()),
            Slot::Scalar(a) => {
                // A node's size is fixed: only reachable with inconsistent
                // rules, where keeping the sum is the least surprising.
                let mut c = c;
                c[0] += *a;
                *slot = Slot::Array(c.into_boxed_slice());
            }
            Slot::Array(a) => a.iter_mut().zip(&c).for_each(|(x, y)| *x += y),
        }
    }

    /// Takes the adjoint out of position `i` (as a vector), leaving none.
    pub fn take(&mut self, i: usize) -> Option<Vec<f64>> {
        match std::mem::take(&mut self.slots[i]) {
            Slot::None => None,
            Slot::Scalar(x) => Some(vec![x]),
            Slot::Array(a) => Some(a.into_vec()),
        }
    }
}
