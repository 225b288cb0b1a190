//! What the commands print: aligned tables or JSON on standard output, notes on standard
//! error, progress bars on a terminal.

use std::{
    fmt,
    io::{self, IsTerminal, Write},
    time::Duration,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::error::CliError;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned tables and sentences, for people.
    Human,
    /// JSON, for scripts: one document on standard output.
    Json,
}

/// A count with its noun agreeing: `1 record`, `3 records`, `0 records`.
pub(crate) fn counted<N>(count: N, one: &str, many: &str) -> String
where
    N: Copy + PartialEq + From<u8> + fmt::Display,
{
    let noun = if count == N::from(1) { one } else { many };
    format!("{count} {noun}")
}

/// Writes `text` to standard output.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::stdout)
}

/// Writes `text` and a newline to standard output.
pub(crate) fn println(text: &str) -> Result<(), CliError> {
    print(&format!("{text}\n"))
}

/// Writes `value` as pretty JSON and a newline to standard output.
pub(crate) fn print_json(what: &'static str, value: &impl Serialize) -> Result<(), CliError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|source| CliError::Json { what, source })?;
    println(&text)
}

/// Prints a command's result: `value` as JSON (`what` names it if it cannot be serialized),
/// or, for people, whatever `human` prints.
pub(crate) fn render(
    format: Format,
    what: &'static str,
    value: &impl Serialize,
    human: impl FnOnce() -> Result<(), CliError>,
) -> Result<(), CliError> {
    match format {
        Format::Json => print_json(what, value),
        Format::Human => human(),
    }
}

/// A note for the person at the terminal, on standard error (which a pipe of standard output
/// does not capture). A closed standard error loses the note, nothing else.
///
/// Callers print a note after the table or JSON it sums up, which standard output has flushed
/// by then. The note is formatted first and written in one call: standard error is unbuffered,
/// so `writeln!` would write each piece of the format separately, and a reader of both
/// streams (a terminal behind `tee`, `2>&1`) could see a table land inside the sentence.
pub(crate) fn note(text: impl fmt::Display) {
    let line = format!("{text}\n");
    let _written = io::stderr().lock().write_all(line.as_bytes());
}

/// A table of aligned columns: the header, then one line per row.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub(crate) fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, one cell per column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether the table has no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Prints it to standard output.
    pub(crate) fn print(&self) -> Result<(), CliError> {
        print(&self.to_string())
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .map(|name| name.chars().count())
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = self.header.iter().map(|name| (*name).to_owned()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                line.push_str(&format!("{cell:<width$}"));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A progress bar on standard error for `len` steps (a spinner if the count is unknown),
/// drawn only when standard error is a terminal and the output is not JSON.
pub(crate) fn progress(len: Option<u64>, message: &'static str, format: Format) -> ProgressBar {
    let visible = format == Format::Human && io::stderr().is_terminal();
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), target(visible)).with_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::with_draw_target(None, target(visible)).with_style(
            ProgressStyle::with_template("{spinner} {msg} {pos}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(message);
    if visible && len.is_none() {
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    bar
}

fn target(visible: bool) -> ProgressDrawTarget {
    if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_to_the_widest_cell() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["1".into(), "sam.steward".into()]);
        table.row(vec!["1234".into(), "x".into()]);
        assert_eq!(
            table.to_string(),
            "ID    NAME\n1     sam.steward\n1234  x\n"
        );
        assert!(!table.is_empty());
    }

    #[test]
    fn a_count_agrees_with_its_noun() {
        assert_eq!(counted(1_usize, "record", "records"), "1 record");
        assert_eq!(counted(0_usize, "record", "records"), "0 records");
        assert_eq!(counted(2_u64, "customer", "customers"), "2 customers");
    }
}
