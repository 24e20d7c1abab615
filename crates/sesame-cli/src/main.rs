//! The `sesame` command; everything is in the library (src/lib.rs), which the Python
//! wheel's console script runs too.

fn main() {
    sesame_cli::main()
}
