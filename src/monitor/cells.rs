//! The usage cells the monitor knows `history.db` to hold: each (hour, model, agent) cell's
//! figures, the larger of what was stored and what the index holds. The usage sync compares
//! the index's cells with these to write only the ones that changed; the budget check and the
//! history snapshot sum them.
//!
//! Compact, since there is one per hour of history per model and agent (tens of thousands at
//! 100k sessions): model and agent names are positions in a table of their own (a
//! [`ModelNames`], apart from the index's: the history keeps names the index no longer has), and the cells
//! one sorted list (72 bytes a cell; as a hash map keyed by the names it was ~144 with the
//! table's empty slots: 3.2 MB at 100k sessions, 1.6 MB with the 1 GB corpus).

use crate::history::{CellKey, UsageRow};
use crate::model::ModelNames;

/// (epoch hour, model, agent), the names as positions in [`Cells`]' table.
pub type CellId = (u32, u32, u32);

#[derive(Debug, Default)]
pub struct Cells {
    names: ModelNames,
    /// Sorted by id, each id once.
    rows: Vec<(CellId, UsageRow)>,
}

impl Cells {
    /// From stored cells (each key once, in any order).
    pub fn from_rows(rows: Vec<(CellKey, UsageRow)>) -> Cells {
        let mut c = Cells::default();
        let mut ids: Vec<(CellId, UsageRow)> =
            rows.into_iter().map(|((hour, model, agent), r)| ((hour, c.intern(&model), c.intern(&agent)), r)).collect();
        ids.sort_unstable_by_key(|&(id, _)| id);
        ids.dedup_by_key(|&mut (id, _)| id);
        ids.shrink_to_fit();
        c.rows = ids;
        c
    }

    /// The position of a model or agent name (added when new).
    pub fn intern(&mut self, name: &str) -> u32 {
        self.names.id(name)
    }

    pub fn get(&self, id: CellId) -> Option<&UsageRow> {
        self.rows.binary_search_by_key(&id, |&(k, _)| k).ok().map(|i| &self.rows[i].1)
    }

    /// Sets cells (new ones added).
    pub fn set(&mut self, cells: &[(CellId, UsageRow)]) {
        let mut added = Vec::new();
        for &(id, r) in cells {
            match self.rows.binary_search_by_key(&id, |&(k, _)| k) {
                Ok(i) => self.rows[i].1 = r,
                Err(_) => added.push((id, r)),
            }
        }
        if !added.is_empty() {
            // A new id given twice: the last one holds (as a map's insert would).
            added.sort_by_key(|&(id, _)| id);
            added.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    *earlier = *later;
                }
                same
            });
            // Exactly: doubling would leave up to half the list unused (the first sync adds
            // every cell, 0.6 MB of spare room with the 1 GB corpus).
            self.rows.reserve_exact(added.len());
            self.rows.append(&mut added);
            self.rows.sort_unstable_by_key(|&(id, _)| id);
        }
    }

    /// The key of a cell as `history.db` stores it.
    pub fn key(&self, (hour, model, agent): CellId) -> CellKey {
        let name = |i: u32| self.names.get(i).expect("a position given by intern").clone();
        (hour, name(model), name(agent))
    }

    /// Every cell: (hour, agent, figures).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str, &UsageRow)> {
        self.rows.iter().map(|((hour, _, agent), r)| (*hour, self.names.name(*agent), r))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(calls: u64) -> UsageRow {
        UsageRow { calls, cost: calls as f64 / 4.0, ..Default::default() }
    }

    #[test]
    fn cells_are_found_set_and_added_by_name() {
        let mut c = Cells::from_rows(vec![
            ((9, "m2".into(), "ops".into()), row(3)),
            ((7, "m1".into(), "main".into()), row(1)),
            ((7, "m2".into(), "main".into()), row(2)),
        ]);
        let (m1, m2, main, ops) = (c.intern("m1"), c.intern("m2"), c.intern("main"), c.intern("ops"));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get((7, m2, main)).map(|r| r.calls), Some(2));
        assert_eq!(c.get((9, m2, ops)).map(|r| r.calls), Some(3));
        assert!(c.get((9, m1, ops)).is_none());
        // One replaced, two added (one of them before every other cell).
        c.set(&[((9, m2, ops), row(5)), ((1, m1, ops), row(4)), ((8, m1, main), row(6))]);
        assert_eq!(c.len(), 5);
        let all: Vec<(u32, &str, u64)> = c.iter().map(|(h, a, r)| (h, a, r.calls)).collect();
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].0 <= w[1].0), "in hour order: {all:?}");
        assert_eq!(c.get((9, m2, ops)).map(|r| r.calls), Some(5));
        assert_eq!(c.get((1, m1, ops)).map(|r| r.calls), Some(4));
        assert_eq!(c.key((8, m1, main)), (8, "m1".into(), "main".into()));
        let new = c.intern("m3");
        assert_eq!(new, 4, "a new name gets the next position");
        // A new cell given twice in one call: once, the last figures.
        c.set(&[((2, new, ops), row(7)), ((2, new, ops), row(8))]);
        assert_eq!(c.len(), 6);
        assert_eq!(c.get((2, new, ops)).map(|r| r.calls), Some(8));
    }
}
