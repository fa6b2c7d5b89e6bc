//! Ceph's `TextTable` as `rbd` prints with it: every column padded to its
//! widest cell, two spaces between columns, headings left-aligned.

pub struct Table {
    heads: Vec<(&'static str, bool)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns as (heading, right-align the values).
    pub fn new(heads: &[(&'static str, bool)]) -> Table {
        Table { heads: heads.to_vec(), rows: Vec::new() }
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.heads.len())
            .map(|i| self.rows.iter().map(|r| r[i].chars().count()).chain([self.heads[i].0.len()]).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        let line = |cells: Vec<(&str, bool)>, out: &mut String| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|((c, right), w)| if *right { format!("{c:>w$}") } else { format!("{c:<w$}") })
                .collect();
            out.push_str(&parts.join("  "));
            out.push('\n');
        };
        line(self.heads.iter().map(|(h, _)| (*h, false)).collect(), &mut out);
        for r in &self.rows {
            line(r.iter().zip(&self.heads).map(|(c, (_, right))| (c.as_str(), *right)).collect(), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    /// As the real `rbd snap ls` printed it.
    #[test]
    fn like_rbd_snap_ls() {
        let mut t = Table::new(&[("SNAPID", true), ("NAME", false), ("SIZE", true), ("PROTECTED", false), ("TIMESTAMP", false)]);
        t.row(vec!["4".into(), "s1".into(), "8 MiB".into(), "".into(), "Thu Dec  3 08:22:21 2026".into()]);
        assert_eq!(t.render(), "SNAPID  NAME  SIZE   PROTECTED  TIMESTAMP               \n     4  s1    8 MiB             Thu Dec  3 08:22:21 2026\n");
    }
}
