//! Text placement shared by both renderers: which x labels fit without overlapping, and
//! truncating text to a width.

/// Strides tried for x labels, smallest first: small steps, then ones that read well for
/// days (7, 14, 30) and hours (12, 24), then 1-2-5 multiples.
const STRIDES: [usize; 15] = [1, 2, 3, 4, 5, 6, 7, 10, 12, 14, 15, 20, 24, 25, 30];

/// One label along an axis: its anchor (the bucket's position) and its width, in the
/// renderer's unit (terminal cells or SVG pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Slot {
    pub(crate) center: f64,
    pub(crate) width: f64,
}

impl Slot {
    /// Where the label starts: centred on its anchor, shifted to stay within `bounds`.
    pub(crate) fn start(&self, bounds: (f64, f64)) -> f64 {
        let start = self.center - self.width / 2.0;
        start.min(bounds.1 - self.width).max(bounds.0)
    }
}

/// Which labels to show: the first, the last and every n-th in between for the smallest
/// stride at which no two labels come closer than `gap`. The label before the last one is
/// dropped when only it collides with the last, so the range's end is always named. When
/// even the first and the last collide, only the first is shown.
pub(crate) fn pick_labels(slots: &[Slot], gap: f64, bounds: (f64, f64)) -> Vec<usize> {
    let Some(last) = slots.len().checked_sub(1) else {
        return Vec::new();
    };
    if last == 0 {
        return vec![0];
    }
    let clear = |a: usize, b: usize| {
        slots[a].start(bounds) + slots[a].width + gap <= slots[b].start(bounds)
    };
    let larger = (0..)
        .map(|k| [50usize, 100, 200, 500].map(|s| s.saturating_mul(10usize.saturating_pow(k))));
    let strides = STRIDES.into_iter().chain(larger.flatten().take_while(|s| *s < last));
    for stride in strides.chain([last]) {
        let mut picked: Vec<usize> = (0..=last).step_by(stride).collect();
        if picked.last() != Some(&last) {
            if let Some(&before) = picked.last()
                && before != 0
                && !clear(before, last)
            {
                picked.pop();
            }
            picked.push(last);
        }
        if picked.windows(2).all(|pair| clear(pair[0], pair[1])) {
            return picked;
        }
    }
    vec![0]
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` labels `width` wide, `spacing` apart, starting at 0.
    fn slots(n: usize, spacing: f64, width: f64) -> Vec<Slot> {
        (0..n).map(|i| Slot { center: i as f64 * spacing, width }).collect()
    }

    #[test]
    fn all_labels_shown_when_they_fit() {
        let picked = pick_labels(&slots(5, 20.0, 10.0), 2.0, (-100.0, 200.0));
        assert_eq!(picked, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn thirty_days_are_thinned_to_an_even_stride_and_keep_the_last_day() {
        // 30 buckets over 70 cells with 10-character dates, as in an 80-column terminal.
        let slots = slots(30, 70.0 / 29.0, 10.0);
        let picked = pick_labels(&slots, 2.0, (-8.0, 70.0));
        // Day 25 would crowd the last day (29), so it gives way.
        assert_eq!(picked, [0, 5, 10, 15, 20, 29]);
    }

    #[test]
    fn label_before_the_last_is_dropped_when_it_would_collide() {
        // Stride 2 over 6 labels gives 0, 2, 4 and the last (5) right next to 4.
        let picked = pick_labels(&slots(6, 8.0, 10.0), 2.0, (-100.0, 100.0));
        assert_eq!(picked, [0, 2, 5]);
    }

    #[test]
    fn picked_labels_never_overlap() {
        for n in [2, 3, 7, 30, 31, 90, 365, 700] {
            for width in [5.0, 10.0, 19.0] {
                let slots = slots(n, 300.0 / n as f64, width);
                let bounds = (-6.0, 300.0);
                let picked = pick_labels(&slots, 2.0, bounds);
                assert_eq!(picked.first(), Some(&0), "n={n} width={width}");
                for pair in picked.windows(2) {
                    let end = slots[pair[0]].start(bounds) + width;
                    assert!(end + 2.0 <= slots[pair[1]].start(bounds), "n={n} {picked:?}");
                }
            }
        }
    }

    #[test]
    fn only_the_first_label_when_nothing_else_fits() {
        let picked = pick_labels(&slots(10, 1.0, 10.0), 2.0, (0.0, 10.0));
        assert_eq!(picked, [0]);
        assert_eq!(pick_labels(&[], 2.0, (0.0, 10.0)), Vec::<usize>::new());
        assert_eq!(pick_labels(&slots(1, 1.0, 50.0), 2.0, (0.0, 10.0)), [0]);
    }

    #[test]
    fn labels_are_kept_inside_the_bounds() {
        let slot = Slot { center: 1.0, width: 10.0 };
        assert_eq!(slot.start((0.0, 80.0)), 0.0);
        let slot = Slot { center: 79.0, width: 10.0 };
        assert_eq!(slot.start((0.0, 80.0)), 70.0);
        let slot = Slot { center: 40.0, width: 10.0 };
        assert_eq!(slot.start((0.0, 80.0)), 35.0);
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("Purchase", 8), "Purchase");
        assert_eq!(truncate("Purchase completed", 8), "Purchas…");
        assert_eq!(truncate("Purchase", 1), "…");
        assert_eq!(truncate("Purchase", 0), "");
    }
}
