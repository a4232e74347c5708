//! Answers sized for a context window: rows as a compact text table or JSON lines, each cell
//! cut to a length, the whole answer cut to a character budget, and a note whenever anything
//! was left out, so an agent knows to narrow its question instead of trusting a partial list.

use std::fmt::Write as _;

use mpd_service::QueryTable;
use serde_json::Value;

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RowFormat {
    /// A `|`-separated table with a header line: the fewest characters per row.
    #[default]
    Table,
    /// One JSON object per line, keys in column order.
    Json,
}

/// The limits of one answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Characters a cell keeps before it is cut (its length is noted).
    pub(crate) cell_chars: usize,
    /// Characters the whole answer may take.
    pub(crate) answer_chars: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self { cell_chars: 200, answer_chars: 24_000 }
    }
}

/// Writes `table`'s rows in `format` within `bounds`; `truncated_at` is the row cap when the
/// query had more rows than that.
pub(crate) fn rows(
    table: &QueryTable,
    format: RowFormat,
    bounds: Bounds,
    truncated_at: Option<usize>,
) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if names == ["plan_type", "plan"] {
        return plans(table, bounds);
    }
    let mut out = String::new();
    if format == RowFormat::Table {
        // Half the budget at most, so a very wide header still leaves room for a row.
        out.push_str(&cut_to_bytes(&names.join(" | "), bounds.answer_chars / 2));
        out.push('\n');
    }
    let mut written = 0;
    for row in &table.rows {
        let line = match format {
            RowFormat::Table => table_line(row, &names, bounds.cell_chars),
            RowFormat::Json => json_line(row, bounds.cell_chars),
        };
        let room = bounds.answer_chars.saturating_sub(out.len() + 1);
        if line.len() > room {
            if written == 0 {
                // One row wider than the whole budget: its beginning, said to be cut.
                out.push_str(&cut_to_bytes(&line, room));
                out.push('\n');
                let _ = writeln!(
                    out,
                    "[cut: the first row alone is longer than {} characters; select fewer columns]",
                    bounds.answer_chars
                );
                return out;
            }
            break;
        }
        out.push_str(&line);
        out.push('\n');
        written += 1;
    }
    let total = table.rows.len();
    if written < total {
        let _ = writeln!(
            out,
            "[cut: {written} of {total}{} rows shown to stay within {} characters; select fewer \
             columns, aggregate, or add LIMIT]",
            if truncated_at.is_some() { "+" } else { "" },
            bounds.answer_chars
        );
    } else if let Some(cap) = truncated_at {
        let _ = writeln!(
            out,
            "[cut: the first {cap} rows are shown; the query has more. Aggregate, filter, or add \
             LIMIT/OFFSET to see others]"
        );
    } else {
        let _ = writeln!(out, "({total} row{})", if total == 1 { "" } else { "s" });
    }
    out
}

/// `EXPLAIN` output: each plan as its own block with its lines kept (a plan is read line by
/// line), the whole within the answer budget.
fn plans(table: &QueryTable, bounds: Bounds) -> String {
    let mut out = String::new();
    for row in &table.rows {
        let kind = row.get("plan_type").and_then(Value::as_str).unwrap_or("plan");
        let plan = row.get("plan").and_then(Value::as_str).unwrap_or_default();
        let _ = writeln!(out, "{kind}:\n{plan}\n");
    }
    if out.len() > bounds.answer_chars {
        let cut = cut_to_bytes(&out, bounds.answer_chars);
        return format!(
            "{cut}\n[cut: the plans are longer than {} characters]\n",
            bounds.answer_chars
        );
    }
    out
}

/// A JSON value cut to fit a context window: long strings shortened (length noted), long
/// arrays and objects shortened, and the whole kept under `answer_chars` characters.
pub(crate) fn json(value: &Value, bounds: Bounds) -> String {
    let shortened = shorten(value, bounds.cell_chars, 0);
    let text = shortened.to_string();
    if text.len() <= bounds.answer_chars {
        return text;
    }
    let cut = floor_char_boundary(&text, bounds.answer_chars);
    format!(
        "{}\n[cut: {} of {} characters shown; ask for a shorter range, a coarser unit or fewer \
         segments]",
        &text[..cut],
        cut,
        text.len()
    )
}

fn table_line(row: &Value, names: &[&str], cell_chars: usize) -> String {
    let cells: Vec<String> = names
        .iter()
        .map(|name| {
            let text = match row.get(name) {
                None | Some(Value::Null) => "NULL".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            // A newline or `|` inside a cell would break the table's lines.
            cut_text(&text.replace(['\n', '\r'], " ").replace('|', "\\|"), cell_chars)
        })
        .collect();
    cells.join(" | ")
}

fn json_line(row: &Value, cell_chars: usize) -> String {
    shorten(row, cell_chars, 0).to_string()
}

/// Items of an array or object kept before the rest are summarised.
const MAX_ITEMS: usize = 50;
/// Nesting kept before deeper values are summarised.
const MAX_DEPTH: usize = 8;

fn shorten(value: &Value, cell_chars: usize, depth: usize) -> Value {
    match value {
        Value::String(s) => Value::String(cut_text(s, cell_chars)),
        Value::Array(items) if depth >= MAX_DEPTH => {
            Value::String(format!("[{} items]", items.len()))
        }
        Value::Object(map) if depth >= MAX_DEPTH => {
            Value::String(format!("{{{} keys}}", map.len()))
        }
        Value::Array(items) => {
            let mut kept: Vec<Value> =
                items.iter().take(MAX_ITEMS).map(|v| shorten(v, cell_chars, depth + 1)).collect();
            if items.len() > MAX_ITEMS {
                kept.push(Value::String(format!("[cut: {} more items]", items.len() - MAX_ITEMS)));
            }
            Value::Array(kept)
        }
        Value::Object(map) => {
            let mut kept: serde_json::Map<String, Value> = map
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (k.clone(), shorten(v, cell_chars, depth + 1)))
                .collect();
            if map.len() > MAX_ITEMS {
                kept.insert(
                    "[cut]".to_owned(),
                    Value::from(format!("{} more keys", map.len() - MAX_ITEMS)),
                );
            }
            Value::Object(kept)
        }
        other => other.clone(),
    }
}

/// `text` itself, or its first `max` characters and how long it was.
pub(crate) fn cut_text(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}…(+{} chars)", text.chars().count() - max)
}

/// `text` cut to at most `max` bytes (so at most `max` characters), marked when cut.
fn cut_to_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", &text[..floor_char_boundary(text, max.saturating_sub(3))])
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpd_service::ColumnView;
    use serde_json::json;

    fn table(rows: Vec<Value>) -> QueryTable {
        let columns = ["event_name", "properties"]
            .iter()
            .map(|name| ColumnView {
                name: (*name).to_owned(),
                data_type: "Utf8".into(),
                nullable: true,
            })
            .collect();
        QueryTable { columns, rows }
    }

    #[test]
    fn a_table_lists_every_row_and_counts_them() {
        let t = table(vec![
            json!({"event_name": "Purchase", "properties": "{\"amount\":3}"}),
            json!({"event_name": "Sign Up", "properties": null}),
        ]);
        let text = rows(&t, RowFormat::Table, Bounds::default(), None);
        assert_eq!(
            text,
            "event_name | properties\nPurchase | {\"amount\":3}\nSign Up | NULL\n(2 rows)\n"
        );
    }

    #[test]
    fn long_cells_are_cut_with_their_length_and_pipes_escaped() {
        let t = table(vec![json!({"event_name": "a|b", "properties": "x".repeat(250)})]);
        let text = rows(&t, RowFormat::Table, Bounds { cell_chars: 10, answer_chars: 1000 }, None);
        assert!(text.contains("a\\|b | xxxxxxxxxx…(+240 chars)"), "{text}");
    }

    #[test]
    fn rows_past_the_character_budget_are_left_out_and_said_so() {
        let many: Vec<Value> =
            (0..1000).map(|i| json!({"event_name": format!("e{i}"), "properties": "{}"})).collect();
        let text = rows(
            &table(many),
            RowFormat::Json,
            Bounds { cell_chars: 50, answer_chars: 2000 },
            Some(1000),
        );
        assert!(text.len() < 2300, "{}", text.len());
        let shown = text.lines().filter(|l| l.starts_with('{')).count();
        assert!(text.contains(&format!("[cut: {shown} of 1000+ rows shown")), "{text}");
    }

    #[test]
    fn a_row_wider_than_the_budget_is_cut_itself() {
        let t = table(vec![json!({"event_name": "é".repeat(500), "properties": "x".repeat(500)})]);
        let text = rows(&t, RowFormat::Table, Bounds { cell_chars: 1000, answer_chars: 300 }, None);
        let (body, note) = text.trim_end().rsplit_once('\n').unwrap();
        assert!(body.len() <= 300, "{}", body.len());
        assert_eq!(
            note,
            "[cut: the first row alone is longer than 300 characters; select fewer columns]"
        );
    }

    #[test]
    fn explain_output_keeps_its_lines() {
        let columns = ["plan_type", "plan"]
            .iter()
            .map(|name| ColumnView {
                name: (*name).to_owned(),
                data_type: "Utf8".into(),
                nullable: false,
            })
            .collect();
        let plan =
            format!("ProjectionExec: expr=[{}]\n  DataSourceExec: files=1", "a, ".repeat(100));
        let t =
            QueryTable { columns, rows: vec![json!({"plan_type": "physical_plan", "plan": plan})] };
        let text = rows(&t, RowFormat::Table, Bounds::default(), None);
        assert_eq!(text, format!("physical_plan:\n{plan}\n\n"));
    }

    #[test]
    fn a_capped_query_says_it_has_more_rows() {
        let t = table(vec![json!({"event_name": "a", "properties": "{}"})]);
        let text = rows(&t, RowFormat::Table, Bounds::default(), Some(1));
        assert!(text.ends_with(
            "the query has more. Aggregate, filter, or add LIMIT/OFFSET to see others]\n"
        ));
    }

    #[test]
    fn json_answers_shorten_strings_lists_and_the_whole() {
        let long: Vec<Value> = (0..80).map(Value::from).collect();
        let value = json!({"name": "y".repeat(30), "values": long});
        let text = json(&value, Bounds { cell_chars: 5, answer_chars: 10_000 });
        assert!(text.contains("yyyyy…(+25 chars)"), "{text}");
        assert!(text.contains("[cut: 30 more items]"), "{text}");
        let cut = json(&value, Bounds { cell_chars: 5, answer_chars: 40 });
        assert!(cut.contains("[cut: 40 of"), "{cut}");
    }
}
