//! The category set of a categorical split: a bitset when the categories are dense enough for one to be
//! small, else a sorted list, so memory follows the number of categories a set holds, never its largest
//! category (a file with one category near 2^24 costs a few bytes, not 2 MiB).

/// Words a bitset may use per category it holds (plus [`SLACK_WORDS`]) before a sorted list is used.
const WORDS_PER_CATEGORY: usize = 2;
/// Words a bitset may always use.
const SLACK_WORDS: usize = 16;

/// The categories of one categorical split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CatSet {
    /// Bit `c % 32` of word `c / 32` for category `c`.
    Bits(Vec<u32>),
    /// The categories, ascending, without repeats.
    Sorted(Vec<u32>),
}

impl CatSet {
    /// The set of `categories` (any order, repeats allowed).
    pub(crate) fn new(categories: impl IntoIterator<Item = u32>) -> Self {
        let mut sorted: Vec<u32> = categories.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let words = sorted.last().map_or(0, |&m| m as usize / 32 + 1);
        if words > WORDS_PER_CATEGORY * sorted.len() + SLACK_WORDS {
            return CatSet::Sorted(sorted);
        }
        let mut bits = vec![0u32; words];
        for c in sorted {
            bits[(c / 32) as usize] |= 1 << (c % 32);
        }
        CatSet::Bits(bits)
    }

    /// Whether category `c` is in the set.
    #[inline]
    pub(crate) fn contains(&self, c: u32) -> bool {
        match self {
            CatSet::Bits(words) => words.get((c / 32) as usize).is_some_and(|w| (w >> (c % 32)) & 1 == 1),
            CatSet::Sorted(list) => list.binary_search(&c).is_ok(),
        }
    }

    /// The categories, ascending.
    pub(crate) fn categories(&self) -> Vec<u32> {
        match self {
            CatSet::Bits(words) => (0..words.len() as u32 * 32)
                .filter(|&c| (words[(c / 32) as usize] >> (c % 32)) & 1 == 1)
                .collect(),
            CatSet::Sorted(list) => list.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_sets_are_bitsets_sparse_ones_lists_and_both_answer_alike() {
        let dense = CatSet::new([3, 1, 40, 3]);
        assert!(matches!(dense, CatSet::Bits(_)));
        let sparse = CatSet::new([16_777_215, 2]);
        assert!(matches!(sparse, CatSet::Sorted(_)));
        for (set, members) in [(&dense, vec![1, 3, 40]), (&sparse, vec![2, 16_777_215])] {
            assert_eq!(set.categories(), members);
            for c in 0..100 {
                assert_eq!(set.contains(c), members.contains(&c), "{c}");
            }
            assert_eq!(set.contains(16_777_215), members.contains(&16_777_215));
            assert!(!set.contains(u32::MAX));
        }
        assert_eq!(CatSet::new([]).categories(), Vec::<u32>::new());
    }
}
