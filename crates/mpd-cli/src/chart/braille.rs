//! A canvas of braille cells: each terminal cell holds 2×4 dots, which makes lines four
//! times smoother vertically than one character per cell.

/// The bit of each dot in a braille cell, indexed `[row][column]` (Unicode's dot numbering:
/// dots 1-3 and 7 down the left column, 4-6 and 8 down the right).
const DOT_BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

/// Braille dots plus, per cell, the series that drew there last and an optional marker
/// symbol that replaces the dots.
#[derive(Debug)]
pub(crate) struct Canvas {
    columns: usize,
    rows: usize,
    dots: Vec<u8>,
    owner: Vec<Option<usize>>,
    marker: Vec<Option<char>>,
}

impl Canvas {
    /// An empty canvas `columns` cells wide and `rows` cells high.
    pub(crate) fn new(columns: usize, rows: usize) -> Canvas {
        let cells = columns * rows;
        Canvas {
            columns,
            rows,
            dots: vec![0; cells],
            owner: vec![None; cells],
            marker: vec![None; cells],
        }
    }

    /// Width in dots.
    pub(crate) fn dot_columns(&self) -> usize {
        self.columns * 2
    }

    /// Height in dots.
    pub(crate) fn dot_rows(&self) -> usize {
        self.rows * 4
    }

    fn cell_index(&self, x: usize, y: usize) -> Option<usize> {
        (x < self.dot_columns() && y < self.dot_rows()).then(|| (y / 4) * self.columns + x / 2)
    }

    /// Sets the dot at `(x, y)` (dots from the top left) for `series`; outside is ignored.
    pub(crate) fn dot(&mut self, (x, y): (usize, usize), series: usize) {
        if let Some(cell) = self.cell_index(x, y) {
            self.dots[cell] |= DOT_BITS[y % 4][x % 2];
            self.owner[cell] = Some(series);
        }
    }

    /// A straight line of dots from `from` to `to`, both ends included (Bresenham).
    pub(crate) fn line(&mut self, from: (usize, usize), to: (usize, usize), series: usize) {
        let (mut x, mut y) = (from.0 as i64, from.1 as i64);
        let (x1, y1) = (to.0 as i64, to.1 as i64);
        let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
        let (sx, sy) = (if x < x1 { 1 } else { -1 }, if y < y1 { 1 } else { -1 });
        let mut error = dx + dy;
        loop {
            // Coordinates stay between the two (non-negative) ends, so the casts are lossless.
            self.dot((x as usize, y as usize), series);
            if x == x1 && y == y1 {
                break;
            }
            let doubled = 2 * error;
            if doubled >= dy {
                error += dy;
                x += sx;
            }
            if doubled <= dx {
                error += dx;
                y += sy;
            }
        }
    }

    /// Puts `symbol` in the cell holding dot `(x, y)`, drawn instead of that cell's dots.
    pub(crate) fn mark(&mut self, (x, y): (usize, usize), symbol: char, series: usize) {
        if let Some(cell) = self.cell_index(x, y) {
            self.marker[cell] = Some(symbol);
            self.owner[cell] = Some(series);
        }
    }

    /// What cell `(column, row)` shows and which series it belongs to; `None` when empty.
    pub(crate) fn cell(&self, column: usize, row: usize) -> Option<(char, usize)> {
        if column >= self.columns || row >= self.rows {
            return None;
        }
        let cell = row * self.columns + column;
        let owner = self.owner[cell]?;
        let symbol = self.marker[cell]
            .or_else(|| char::from_u32(0x2800 + u32::from(self.dots[cell])))
            .unwrap_or(' ');
        Some((symbol, owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(canvas: &Canvas, row: usize) -> String {
        (0..canvas.columns).map(|c| canvas.cell(c, row).map_or(' ', |(ch, _)| ch)).collect()
    }

    #[test]
    fn dots_map_to_braille_bits() {
        let mut canvas = Canvas::new(2, 1);
        canvas.dot((0, 0), 0);
        canvas.dot((1, 3), 0);
        canvas.dot((3, 1), 1);
        assert_eq!(row(&canvas, 0), "⢁⠐");
        assert_eq!(canvas.cell(0, 0), Some(('⢁', 0)));
        assert_eq!(canvas.cell(1, 0), Some(('⠐', 1)));
    }

    #[test]
    fn lines_connect_both_ends() {
        let mut canvas = Canvas::new(4, 1);
        canvas.line((0, 3), (7, 0), 0);
        assert_eq!(row(&canvas, 0), "⣀⠤⠒⠉");
        let mut flat = Canvas::new(3, 1);
        flat.line((5, 3), (0, 3), 0);
        assert_eq!(row(&flat, 0), "⣀⣀⣀");
    }

    #[test]
    fn markers_replace_dots_and_outside_points_are_ignored() {
        let mut canvas = Canvas::new(2, 2);
        canvas.line((0, 0), (3, 7), 0);
        canvas.mark((3, 7), '◆', 1);
        canvas.dot((4, 0), 0);
        canvas.dot((0, 8), 0);
        canvas.mark((9, 9), '●', 0);
        assert_eq!(canvas.cell(1, 1), Some(('◆', 1)));
        assert_eq!(canvas.cell(5, 5), None);
        assert_eq!(row(&canvas, 0).chars().filter(|c| *c != ' ').count(), 1);
    }
}
