//! Target cells as the CSV readers see them: numbers and text labels (interned), merged across the
//! parallel reader's pieces, then encoded into targets and a task (text labels make classes in sorted order;
//! few distinct integers make classes when the task is not given).

use std::collections::HashMap;

use ndarray::Array1;

use crate::csv_read::{MAX_INFERRED_CLASSES, TaskKind};
use crate::dataset::{Task, sorted_distinct};

/// One target cell: a finite number, or text (an index into the reader's table of distinct texts).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell {
    Num(f32),
    Text(u32),
}

/// Target cells as read, with text labels interned.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    cells: Vec<Cell>,
    texts: Vec<String>,
    index: HashMap<String, u32>,
    pub(crate) first_text_line: Option<u64>,
    /// The first cell that reads as a number but not a finite f32 (`inf`, `1e400`): (line, text).
    pub(crate) first_non_finite: Option<(u64, String)>,
}

impl Targets {
    pub(crate) fn push(&mut self, raw: &str, line: u64) {
        let raw = raw.trim();
        match raw.parse::<f32>() {
            Ok(v) if v.is_finite() => self.cells.push(Cell::Num(v)),
            Ok(_) => {
                self.first_non_finite.get_or_insert((line, raw.to_string()));
                self.cells.push(Cell::Num(f32::NAN));
            }
            Err(_) => {
                let id = match self.index.get(raw) {
                    Some(&id) => id,
                    None => {
                        let id = self.texts.len() as u32;
                        self.texts.push(raw.to_string());
                        self.index.insert(raw.to_string(), id);
                        id
                    }
                };
                self.first_text_line.get_or_insert(line);
                self.cells.push(Cell::Text(id));
            }
        }
    }

    /// Appends another reader's cells, re-numbering its texts into this table.
    pub(crate) fn append(&mut self, other: Targets) {
        let remap: Vec<u32> = other
            .texts
            .into_iter()
            .map(|t| match self.index.get(&t) {
                Some(&id) => id,
                None => {
                    let id = self.texts.len() as u32;
                    self.index.insert(t.clone(), id);
                    self.texts.push(t);
                    id
                }
            })
            .collect();
        self.cells.extend(other.cells.into_iter().map(|c| match c {
            Cell::Num(v) => Cell::Num(v),
            Cell::Text(id) => Cell::Text(remap[id as usize]),
        }));
        if self.first_text_line.is_none() {
            self.first_text_line = other.first_text_line;
        }
        if self.first_non_finite.is_none() {
            self.first_non_finite = other.first_non_finite;
        }
    }

    /// f32 targets and the task. Text labels make a classification task with classes in sorted order
    /// (numbers among them named by their value) and targets that index the classes. On failure returns
    /// (line, message).
    pub(crate) fn encode(self, task: Option<TaskKind>) -> Result<(Array1<f32>, Task), (u64, String)> {
        if let Some((line, text)) = self.first_non_finite {
            return Err((line, format!("target `{text}` is not a finite number (f32 holds up to 3.4e38)")));
        }
        if let Some(line) = self.first_text_line {
            if task == Some(TaskKind::Regression) {
                let text = self.cells.iter().find_map(|c| match c {
                    Cell::Text(id) => Some(self.texts[*id as usize].clone()),
                    Cell::Num(_) => None,
                });
                return Err((line, format!("cannot read target `{}` as a number", text.unwrap_or_default())));
            }
            let name = |c: &Cell| match c {
                Cell::Num(v) => v.to_string(),
                Cell::Text(id) => self.texts[*id as usize].clone(),
            };
            let mut names: Vec<String> = self.cells.iter().map(name).collect();
            names.sort_unstable();
            names.dedup();
            let targets = self
                .cells
                .iter()
                .map(|c| names.binary_search(&name(c)).map_or(f32::NAN, |i| i as f32))
                .collect();
            return Ok((targets, Task::Classification { class_names: names }));
        }
        let values: Array1<f32> =
            self.cells.iter().map(|c| if let Cell::Num(v) = c { *v } else { f32::NAN }).collect();
        let task = match task {
            Some(TaskKind::Regression) => Task::Regression,
            Some(TaskKind::Classification) => class_task(&values),
            None => infer_task(&values),
        };
        Ok((values, task))
    }
}

/// Classification when the values are integers with 2..=[`MAX_INFERRED_CLASSES`] distinct values, else
/// regression.
pub(crate) fn infer_task(values: &Array1<f32>) -> Task {
    let integral = values.iter().all(|v| v.fract() == 0.0);
    let distinct = sorted_distinct(values.iter().copied()).len();
    if integral && (2..=MAX_INFERRED_CLASSES).contains(&distinct) {
        class_task(values)
    } else {
        Task::Regression
    }
}

/// A classification task whose class names are the distinct label values, in ascending order.
pub(crate) fn class_task(values: &Array1<f32>) -> Task {
    let class_names = sorted_distinct(values.iter().copied()).into_iter().map(|v| v.to_string()).collect();
    Task::Classification { class_names }
}
