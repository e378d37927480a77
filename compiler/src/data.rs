//! Tables of rows: reading CSV files and UCI-suite folders, checking every cell, splitting.

use std::path::Path;

use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::{Error, Result, text};

/// Rows of features and a target.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Feature names, one per column of `x`.
    pub names: Vec<String>,
    /// The target column's name.
    pub target: String,
    /// Row-major features, `rows × names.len()`.
    pub x: Vec<f32>,
    /// Target of each row (a class index for classification).
    pub y: Vec<f32>,
}

impl Table {
    /// A table from row-major features `x` (`y.len() × names.len()`) and targets `y`, checked
    /// as a CSV file would be: `label` names it in errors.
    ///
    /// # Errors
    /// [`Error::Data`] for no columns or rows, a length that does not match, or a value that is
    /// not finite (with its row and column, 1-based).
    pub fn new(
        label: &str,
        names: Vec<String>,
        target: String,
        x: Vec<f32>,
        y: Vec<f32>,
    ) -> Result<Self> {
        if names.is_empty() || y.is_empty() {
            return Err(Error::data(
                label,
                format!(
                    "{} columns and {} rows: need at least one of each",
                    names.len(),
                    y.len()
                ),
            ));
        }
        if x.len() != y.len() * names.len() {
            return Err(Error::data(
                label,
                format!(
                    "{} feature values for {} rows of {} columns",
                    x.len(),
                    y.len(),
                    names.len()
                ),
            ));
        }
        let d = names.len();
        if let Some(k) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                label,
                format!(
                    "row {}, column {} (`{}`): `{}` is not a finite number",
                    k / d + 1,
                    k % d + 1,
                    names[k % d],
                    x[k]
                ),
            ));
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                label,
                format!("row {}, target: `{}` is not a finite number", i + 1, y[i]),
            ));
        }
        Ok(Self {
            names,
            target,
            x,
            y,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Number of feature columns.
    pub fn features(&self) -> usize {
        self.names.len()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.features();
        &self.x[i * d..(i + 1) * d]
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut x = Vec::with_capacity(idx.len() * self.features());
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Self {
            names: self.names.clone(),
            target: self.target.clone(),
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
        }
    }

    /// Splits off a random `fraction` of the rows (at least one when `fraction > 0`):
    /// `(rest, held_out)`.
    pub fn split(&self, fraction: f64, rng: &mut Pcg64) -> (Self, Self) {
        let mut idx: Vec<usize> = (0..self.rows()).collect();
        idx.shuffle(rng);
        let k = if fraction > 0.0 {
            ((self.rows() as f64 * fraction).round() as usize).max(1)
        } else {
            0
        };
        let (held, rest) = idx.split_at(k.min(self.rows()));
        (self.select(rest), self.select(held))
    }

    /// Columns whose every value is the same: they carry no information.
    pub fn constant_columns(&self) -> Vec<usize> {
        let d = self.features();
        (0..d)
            .filter(|&j| {
                let first = self.x.get(j).copied();
                (0..self.rows()).all(|i| Some(self.x[i * d + j]) == first)
            })
            .collect()
    }
}

/// Reads a CSV file with a header row; `target` names the target column, every other column
/// is a feature. Every cell must be a finite number.
///
/// # Errors
/// [`Error::Io`] for an unreadable file, [`Error::Data`] for an empty file, a blank or
/// repeated column name, a missing target column, a row with the wrong number of cells, or a
/// cell that is not a finite number (with its line and column).
pub fn read_csv(path: &Path, target: &str) -> Result<Table> {
    read_table(path, target, None)
}

/// Reads the columns named `features` (in that order) and `target` of a CSV file with a header
/// row, matching by name: other columns may be anywhere and are not read.
///
/// # Errors
/// As [`read_csv`], and a feature column that the file does not have (named).
pub fn read_csv_named(path: &Path, target: &str, features: &[String]) -> Result<Table> {
    read_table(path, target, Some(features))
}

fn read_table(path: &Path, target: &str, features: Option<&[String]>) -> Result<Table> {
    let file = crate::files::open(path, crate::files::Kind::Csv)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    check_header(path, &header)?;
    let t = header.iter().position(|h| h == target).ok_or_else(|| {
        Error::data(
            path,
            format!(
                "no target column `{}`; the columns are: {}",
                text::excerpt(target),
                text::list(&header, 12)
            ),
        )
    })?;
    let columns: Vec<usize> = match features {
        None => (0..header.len()).filter(|&j| j != t).collect(),
        Some(names) => {
            let missing: Vec<&String> = names.iter().filter(|n| !header.contains(n)).collect();
            if !missing.is_empty() {
                return Err(Error::data(
                    path,
                    format!(
                        "the model reads {} column{} that the file does not have: {}; the file's columns are: {}",
                        missing.len(),
                        if missing.len() == 1 { "" } else { "s" },
                        text::list(&missing, 12),
                        text::list(&header, 12)
                    ),
                ));
            }
            names
                .iter()
                .filter_map(|n| header.iter().position(|h| h == n))
                .collect()
        }
    };
    let names: Vec<String> = columns.iter().map(|&j| header[j].clone()).collect();
    // Where each cell goes: `Some(k)` for feature k, `None` for the target or an unread column.
    let mut slot = vec![None; header.len()];
    for (k, &j) in columns.iter().enumerate() {
        slot[j] = Some(k);
    }
    let d = columns.len();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut row = vec![0f32; d];
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(i + 2, |p| p.line() as usize);
        for (j, cell) in record.iter().enumerate() {
            if j != t && slot[j].is_none() {
                continue;
            }
            let v = parse_cell(cell).map_err(|why| {
                Error::data(
                    path,
                    format!(
                        "line {line}, column {} (`{}`): {why}",
                        j + 1,
                        text::excerpt(&header[j])
                    ),
                )
            })?;
            match slot[j] {
                Some(k) => row[k] = v,
                None => y.push(v),
            }
        }
        x.extend_from_slice(&row);
    }
    if y.is_empty() {
        return Err(Error::data(path, "no data rows after the header"));
    }
    Ok(Table {
        names,
        target: target.to_string(),
        x,
        y,
    })
}

/// Every column has a name, and no two share one.
fn check_header(path: &Path, header: &[String]) -> Result<()> {
    if header.iter().all(String::is_empty) {
        return Err(Error::data(
            path,
            "the file is empty: expected a header row naming the columns",
        ));
    }
    if let Some(j) = header.iter().position(String::is_empty) {
        let hint = if j == 0 {
            " (a pandas index column? write the file with `to_csv(..., index=False)` or delete the first column)"
        } else {
            ""
        };
        return Err(Error::data(
            path,
            format!("line 1, column {}: the column has no name{hint}", j + 1),
        ));
    }
    let mut seen = std::collections::HashMap::with_capacity(header.len());
    for (j, h) in header.iter().enumerate() {
        if let Some(&first) = seen.get(h.as_str()) {
            return Err(Error::data(
                path,
                format!(
                    "line 1, column {}: the name `{}` is also the name of column {}; column names must differ",
                    j + 1,
                    text::excerpt(h),
                    first + 1
                ),
            ));
        }
        seen.insert(h.as_str(), j);
    }
    Ok(())
}

fn parse_cell(cell: &str) -> std::result::Result<f32, String> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() < f64::from(f32::MAX) => Ok(v as f32),
        Ok(v) if v.is_nan() => Err(format!("`{}` is not a finite number", text::excerpt(cell))),
        Ok(_) => Err(format!(
            "`{}` is not a finite number in f32 (whose range is ±{:e})",
            text::excerpt(cell),
            f32::MAX
        )),
        Err(_) if cell.is_empty() => Err("the cell is empty".into()),
        Err(_) => Err(format!("`{}` is not a number", text::excerpt(cell))),
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            Error::data(
                path,
                format!("line {line} has {len} cells, the header has {expected_len}"),
            )
        }
        csv::ErrorKind::Io(io) => Error::io(path, std::io::Error::new(io.kind(), io.to_string())),
        _ => Error::data(path, e.to_string()),
    }
}

/// A UCI-suite folder (`data.txt`, `index_features.txt`, `index_target.txt`,
/// `index_train_K.txt`, `index_test_K.txt`): `(train, test)` rows of split `split`.
///
/// # Errors
/// [`Error::Io`] for a missing file, [`Error::Data`] for a malformed one (with its line).
pub fn read_uci(dir: &Path, split: usize) -> Result<(Table, Table)> {
    let numbers = |name: &str| -> Result<Vec<Vec<f64>>> {
        let path = dir.join(name);
        let text = crate::files::read_text(&path, crate::files::Kind::Csv)?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                l.split_whitespace()
                    .enumerate()
                    .map(|(j, c)| {
                        c.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .ok_or_else(|| {
                                Error::data(
                                    &path,
                                    format!(
                                        "line {}, field {}: `{}` is not a finite number",
                                        i + 1,
                                        j + 1,
                                        text::excerpt(c)
                                    ),
                                )
                            })
                    })
                    .collect()
            })
            .collect()
    };
    let index = |name: &str, limit: usize| -> Result<Vec<usize>> {
        let path = dir.join(name);
        numbers(name)?
            .into_iter()
            .flatten()
            .map(|v| {
                let i = v as usize;
                if v >= 0.0 && v.fract() == 0.0 && i < limit {
                    Ok(i)
                } else {
                    Err(Error::data(
                        &path,
                        format!("index {v} is not an integer below {limit}"),
                    ))
                }
            })
            .collect()
    };
    let data = numbers("data.txt")?;
    let width = data.first().map_or(0, Vec::len);
    if let Some(i) = data.iter().position(|r| r.len() != width) {
        return Err(Error::data(
            dir.join("data.txt"),
            format!(
                "line {} has {} fields, line 1 has {width}",
                i + 1,
                data[i].len()
            ),
        ));
    }
    let features = index("index_features.txt", width)?;
    let target = *index("index_target.txt", width)?
        .first()
        .ok_or_else(|| Error::data(dir.join("index_target.txt"), "no target column"))?;
    let table = Table {
        names: features.iter().map(|j| format!("c{j}")).collect(),
        target: format!("c{target}"),
        x: data
            .iter()
            .flat_map(|r| features.iter().map(|&j| r[j] as f32))
            .collect(),
        y: data.iter().map(|r| r[target] as f32).collect(),
    };
    let train = index(&format!("index_train_{split}.txt"), data.len())?;
    let test = index(&format!("index_test_{split}.txt"), data.len())?;
    Ok((table.select(&train), table.select(&test)))
}

/// Mean and standard deviation (population) of each column of a row-major `rows × d` array.
/// A zero deviation becomes 1.
pub fn moments(x: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = (x.len() / d.max(1)).max(1) as f64;
    let mut mean = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for row in x.chunks(d.max(1)) {
        for (j, &v) in row.iter().enumerate() {
            mean[j] += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows);
    for row in x.chunks(d.max(1)) {
        for (j, &v) in row.iter().enumerate() {
            sq[j] += (f64::from(v) - mean[j]).powi(2);
        }
    }
    let std = sq
        .iter()
        .map(|s| (s / rows).sqrt())
        .map(|s| if s > 0.0 { s as f32 } else { 1.0 })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> (tempfile::NamedTempFile, std::path::PathBuf) {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        let p = f.path().to_path_buf();
        (f, p)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any bytes spliced into a valid file: read, or refused naming the file.
        #[test]
        fn any_csv_is_read_or_refused_with_the_file_named(
            at in 0usize..40,
            cut in 0usize..8,
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            target in "[a-z]{1,2}",
        ) {
            let good = b"a,y,b\n1,2,3\n4,5e3,-6\n7,8,9\n".to_vec();
            let at = at.min(good.len());
            let mut bytes = good[..at].to_vec();
            bytes.extend_from_slice(&junk);
            bytes.extend_from_slice(&good[(at + cut).min(good.len())..]);
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), &bytes).unwrap();
            match read_csv(f.path(), &target) {
                Ok(t) => {
                    proptest::prop_assert_eq!(t.x.len(), t.y.len() * t.names.len());
                    proptest::prop_assert!(t.x.iter().chain(&t.y).all(|v| v.is_finite()));
                }
                Err(e) => {
                    let name = f.path().display().to_string();
                    proptest::prop_assert!(e.to_string().contains(&name), "{e}");
                }
            }
        }
    }

    #[test]
    fn reads_a_well_formed_csv() {
        let (_f, p) = csv("a, y ,b\n1,2,3\n4,5,6\n");
        let t = read_csv(&p, "y").unwrap();
        assert_eq!(t.names, ["a", "b"]);
        assert_eq!(t.x, [1.0, 3.0, 4.0, 6.0]);
        assert_eq!(t.y, [2.0, 5.0]);
    }

    #[test]
    fn says_where_a_cell_is_bad() {
        let (_f, p) = csv("a,y\n1,2\n3,x\n");
        let e = read_csv(&p, "y").unwrap_err().to_string();
        assert!(
            e.contains("line 3, column 2 (`y`)") && e.contains("`x` is not a number"),
            "{e}"
        );
        let (_f, p) = csv("a,y\n1,2\nnan,2\n");
        let e = read_csv(&p, "y").unwrap_err().to_string();
        assert!(
            e.contains("line 3, column 1 (`a`)") && e.contains("not a finite number"),
            "{e}"
        );
        let (_f, p) = csv("a,y\n1,2\n1,inf\n");
        assert!(
            read_csv(&p, "y")
                .unwrap_err()
                .to_string()
                .contains("not a finite number")
        );
        // Beyond f32's range: the cell as written, and the range.
        let (_f, p) = csv("a,y\n1,2\n1e39,2\n");
        let e = read_csv(&p, "y").unwrap_err().to_string();
        assert!(
            e.contains("line 3, column 1 (`a`)")
                && e.contains(
                    "`1e39` is not a finite number in f32 (whose range is ±3.4028235e38)"
                ),
            "{e}"
        );
        let (_f, p) = csv("a,y\n1,2\n1,2,3\n");
        let e = read_csv(&p, "y").unwrap_err().to_string();
        assert!(e.contains("line 3 has 3 cells, the header has 2"), "{e}");
        let (_f, p) = csv("a,y\n1,2\n");
        let e = read_csv(&p, "z").unwrap_err().to_string();
        assert!(
            e.contains("no target column `z`") && e.contains("a, y"),
            "{e}"
        );
        let (_f, p) = csv("");
        assert!(read_csv(&p, "y").unwrap_err().to_string().contains("empty"));
        let (_f, p) = csv("a,y\n");
        assert!(
            read_csv(&p, "y")
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
    }

    #[test]
    fn finds_constant_columns_and_splits() {
        let t = Table {
            names: vec!["a".into(), "b".into()],
            target: "y".into(),
            x: vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0],
            y: vec![0.0, 1.0, 2.0],
        };
        assert_eq!(t.constant_columns(), [1]);
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let (rest, held) = t.split(0.34, &mut rng);
        assert_eq!((rest.rows(), held.rows()), (2, 1));
    }
}
