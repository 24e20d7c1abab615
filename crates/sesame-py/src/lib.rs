use pyo3::prelude::*;

#[pymodule]
fn _sesame(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
