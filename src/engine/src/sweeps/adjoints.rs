//! Adjoints by tape position: those of one reverse sweep, and the
//! gradients `backward()` accumulates on a tape's nodes. A scalar's is one
//! number in a dense array: a model written as an R loop has thousands of
//! scalar nodes (a chain at the console, millions), and a heap allocation,
//! or even a wide slot, per node would cost more than the arithmetic of the
//! sweep (the first pass over a long chain would be mostly a matter of
//! having fresh memory mapped). Array adjoints are kept apart.

#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum State {
    #[default]
    None,
    Scalar,
    /// `numbers[i]` holds the index into `arrays` (as its bits).
    Array,
}

#[derive(Debug, Clone, Default)]
pub struct Adjoints {
    state: Vec<State>,
    numbers: Vec<f64>,
    arrays: Vec<Vec<f64>>,
}

impl Adjoints {
    /// `len` empty slots (no gradient flows anywhere yet).
    pub fn new(len: usize) -> Adjoints {
        Adjoints { state: vec![State::None; len], numbers: vec![0.0; len], arrays: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    fn array_index(&self, i: usize) -> usize {
        self.numbers[i].to_bits() as usize
    }

    /// The adjoint at position `i`; `None` where no gradient flows.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[f64]> {
        match self.state.get(i)? {
            State::None => None,
            State::Scalar => Some(std::slice::from_ref(&self.numbers[i])),
            State::Array => Some(&self.arrays[self.array_index(i)]),
        }
    }

    /// Adds `x` to the scalar adjoint at `i`.
    #[inline]
    pub fn add_scalar(&mut self, i: usize, x: f64) {
        match self.state[i] {
            State::None => {
                self.state[i] = State::Scalar;
                self.numbers[i] = x;
            }
            State::Scalar => self.numbers[i] += x,
            State::Array => {
                let k = self.array_index(i);
                self.arrays[k][0] += x;
            }
        }
    }

    fn store_array(&mut self, i: usize, c: Vec<f64>) {
        self.state[i] = State::Array;
        self.numbers[i] = f64::from_bits(self.arrays.len() as u64);
        self.arrays.push(c);
    }

    /// Adds `c` (of the node's size) to the adjoint at `i`, making room
    /// for it first (a tape's gradients grow with the tape).
    pub fn accumulate(&mut self, i: usize, c: &[f64]) {
        self.reserve(i + 1);
        match c {
            [x] => self.add_scalar(i, *x),
            _ => self.add(i, c.to_vec()),
        }
    }

    /// Slots for the first `n` positions (none reached yet).
    pub fn reserve(&mut self, n: usize) {
        if self.state.len() < n {
            self.state.resize(n, State::None);
            self.numbers.resize(n, 0.0);
        }
    }

    /// Forgets the adjoint at `i`.
    pub fn clear(&mut self, i: usize) {
        if let Some(state) = self.state.get_mut(i) {
            *state = State::None;
        }
    }

    /// Appends `other`'s slots after the first `offset` positions (the tape
    /// `other` belonged to is appended there).
    pub fn append(&mut self, offset: usize, other: Adjoints) {
        if other.is_empty() {
            return;
        }
        self.reserve(offset);
        self.state.truncate(offset);
        self.numbers.truncate(offset);
        let shift = self.arrays.len() as u64;
        self.state.extend_from_slice(&other.state);
        self.numbers.extend(other.state.iter().zip(&other.numbers).map(|(s, &x)| match s {
            State::Array => f64::from_bits(x.to_bits() + shift),
            _ => x,
        }));
        self.arrays.extend(other.arrays);
    }

    /// Bytes held by the slots (not counting array adjoints).
    pub fn bytes(&self) -> usize {
        self.state.capacity() + self.numbers.capacity() * std::mem::size_of::<f64>()
    }

    /// Adds a contribution (of the node's size) to the adjoint at `i`.
    pub fn add(&mut self, i: usize, c: Vec<f64>) {
        if c.len() == 1 {
            return self.add_scalar(i, c[0]);
        }
        match self.state[i] {
            State::None => self.store_array(i, c),
            State::Scalar => {
                // A node's size is fixed: only reachable with inconsistent
                // rules, where keeping the sum is the least surprising.
                let mut c = c;
                c[0] += self.numbers[i];
                self.store_array(i, c);
            }
            State::Array => {
                let k = self.array_index(i);
                self.arrays[k].iter_mut().zip(&c).for_each(|(x, y)| *x += y);
            }
        }
    }

    /// Takes the adjoint out of position `i` (as a vector), leaving none.
    pub fn take(&mut self, i: usize) -> Option<Vec<f64>> {
        let state = std::mem::replace(&mut self.state[i], State::None);
        match state {
            State::None => None,
            State::Scalar => Some(vec![self.numbers[i]]),
            State::Array => {
                let k = self.array_index(i);
                Some(std::mem::take(&mut self.arrays[k]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Adjoints;

    #[test]
    fn scalars_and_arrays_accumulate_and_survive_an_append() {
        let mut a = Adjoints::default();
        a.accumulate(1, &[2.0]);
        a.accumulate(1, &[0.5]);
        a.accumulate(2, &[1.0, 2.0]);
        let mut b = Adjoints::default();
        b.accumulate(0, &[3.0, 4.0]);
        b.accumulate(1, &[-1.0]);
        b.accumulate(0, &[1.0, 1.0]);
        a.append(4, b);
        assert_eq!(a.get(0), None);
        assert_eq!(a.get(1), Some(&[2.5][..]));
        assert_eq!(a.get(2), Some(&[1.0, 2.0][..]));
        assert_eq!(a.get(3), None);
        assert_eq!(a.get(4), Some(&[4.0, 5.0][..]));
        assert_eq!(a.get(5), Some(&[-1.0][..]));
        a.clear(4);
        assert_eq!(a.get(4), None);
        assert_eq!(a.get(9), None);
    }
}
