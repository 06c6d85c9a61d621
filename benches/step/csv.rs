//! The table's rows as CSV too (`ALIG_BENCH_CSV=FILE`), one line written and flushed per row,
//! so that a run cut short keeps the rows it finished.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub struct CsvFile {
    out: BufWriter<File>,
}

impl CsvFile {
    /// Creates `path` with the header line; `None` (after saying why) where it cannot.
    pub fn create(path: &Path, header: &[&str]) -> Option<Self> {
        match File::create(path) {
            Ok(file) => {
                let mut csv = Self {
                    out: BufWriter::new(file),
                };
                csv.line(header.iter().map(|h| h.to_string()));
                Some(csv)
            }
            Err(e) => {
                eprintln!("cannot write the CSV file {}: {e}", path.display());
                None
            }
        }
    }

    /// One row; a field holding a comma or a quote is quoted.
    pub fn line(&mut self, fields: impl IntoIterator<Item = String>) {
        let fields: Vec<String> = fields.into_iter().map(quoted).collect();
        let written = writeln!(self.out, "{}", fields.join(",")).and_then(|()| self.out.flush());
        if let Err(e) = written {
            eprintln!("cannot write a CSV row: {e}");
        }
    }
}

fn quoted(field: String) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// Microseconds with a fixed precision, or an empty field.
pub fn micros(d: Option<std::time::Duration>) -> String {
    d.map_or(String::new(), |d| format!("{:.3}", d.as_secs_f64() * 1e6))
}
