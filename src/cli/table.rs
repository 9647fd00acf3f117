//! Boxed tables in natscli's rounded style: a centred title, a header
//! row, rows, and an optional footer of totals. Numbers are right-aligned.

/// One table, filled row by row, then rendered.
pub struct BoxTable {
    title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    footer: Option<Vec<String>>,
}

impl BoxTable {
    pub fn new(title: &str, headers: &[&str]) -> BoxTable {
        BoxTable {
            title: title.to_string(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            footer: None,
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn footer(&mut self, cells: Vec<String>) {
        self.footer = Some(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in self.rows.iter().chain(self.footer.iter()) {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        // The title spans the columns and their separators.
        let inner = |widths: &[usize]| widths.iter().map(|w| w + 2).sum::<usize>() + widths.len() - 1;
        let title_width = self.title.chars().count() + 2;
        if inner(&widths) < title_width {
            let last = widths.len() - 1;
            widths[last] += title_width - inner(&widths);
        }
        let line = |left: &str, mid: &str, right: &str| {
            let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            format!("{left}{}{right}\n", parts.join(mid))
        };
        let cells = |row: &[String]| {
            let parts: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let cell = row.get(i).map_or("", String::as_str);
                    if is_number(cell) {
                        format!(" {cell:>w$} ")
                    } else {
                        format!(" {cell:<w$} ")
                    }
                })
                .collect();
            format!("│{}│\n", parts.join("│"))
        };
        let total = inner(&widths);
        let mut out = format!("╭{}╮\n", "─".repeat(total));
        let pad = total - self.title.chars().count();
        out.push_str(&format!(
            "│{}{}{}│\n",
            " ".repeat(pad / 2),
            self.title,
            " ".repeat(pad - pad / 2)
        ));
        out.push_str(&line("├", "┬", "┤"));
        out.push_str(&cells(&self.headers));
        out.push_str(&line("├", "┼", "┤"));
        for row in &self.rows {
            out.push_str(&cells(row));
        }
        if let Some(footer) = &self.footer {
            out.push_str(&line("├", "┼", "┤"));
            out.push_str(&cells(footer));
        }
        out.push_str(&line("╰", "┴", "╯"));
        // Trailing spaces go, as natscli suppresses them.
        out.lines().map(|l| l.trim_end().to_string() + "\n").collect()
    }
}

/// Bytes in IEC units the way natscli prints them (`1.0 MiB`, `64 KiB`, `512 B`).
pub fn ibytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

fn is_number(cell: &str) -> bool {
    !cell.is_empty()
        && cell.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        && cell.matches('.').count() <= 1
}

/// An integer with thousands separators, as natscli prints counts.
pub fn comma(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_with_title_rows_and_footer() {
        let mut t = BoxTable::new("Overview", &["Name", "Conns"]);
        t.row(vec!["n1".into(), "1,200".into()]);
        t.row(vec!["node-two".into(), "3".into()]);
        t.footer(vec!["".into(), "1,203".into()]);
        assert_eq!(
            t.render(),
            "╭──────────────────╮\n\
             │     Overview     │\n\
             ├──────────┬───────┤\n\
             │ Name     │ Conns │\n\
             ├──────────┼───────┤\n\
             │ n1       │ 1,200 │\n\
             │ node-two │     3 │\n\
             ├──────────┼───────┤\n\
             │          │ 1,203 │\n\
             ╰──────────┴───────╯\n"
        );
    }

    #[test]
    fn ibytes_matches_natscli() {
        assert_eq!(ibytes(512), "512 B");
        assert_eq!(ibytes(1024 * 1024), "1.0 MiB");
        assert_eq!(ibytes(64 * 1024 * 1024), "64 MiB");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(comma(0), "0");
        assert_eq!(comma(999), "999");
        assert_eq!(comma(1000), "1,000");
        assert_eq!(comma(1234567), "1,234,567");
    }
}
