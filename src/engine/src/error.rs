//! Engine errors: every fallible operation says which operation failed and why,
//! with the shapes involved, so the bindings can pass the text straight to R.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A number as R prints it in a message: NA (R's missing value, a NaN
/// carrying the payload 1954 in its low word), NaN, Inf, -Inf; no trailing
/// ".0"; very large or small numbers in scientific notation.
pub fn show_number(x: f64) -> String {
    if x.is_nan() {
        if x.to_bits() & 0xFFFF_FFFF == 1954 { "NA".into() } else { "NaN".into() }
    } else if x.is_infinite() {
        if x > 0.0 { "Inf".into() } else { "-Inf".into() }
    } else if x != 0.0 && (x.abs() >= 1e15 || x.abs() < 1e-4) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// R's NA for doubles: a NaN whose low word is 1954.
pub fn na_real() -> f64 {
    f64::from_bits(0x7FF0_0000_0000_07A2)
}

/// `n` and a noun, singular for one: "1 number", "3 numbers".
pub fn count_of(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// "is 1 parameter", "are 3 parameters": after "there".
pub fn there_are(n: usize, noun: &str) -> String {
    if n == 1 { format!("is 1 {noun}") } else { format!("are {n} {noun}s") }
}

/// Early-return an engine error built with `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error::new(format!($($arg)*))) };
}
