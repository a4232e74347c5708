//! Rendering results in the formats of `--format` (json, jsonl, table, csv, plain).

use std::io::Write;

use serde_json::Value;

use crate::cli::Format;

/// Writes `value` to `out` in `format`. Objects are one row; arrays of objects are rows.
pub(crate) fn render(value: &Value, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)
        }
        Format::Jsonl => match value {
            Value::Array(items) => {
                for item in items {
                    serde_json::to_writer(&mut *out, item)?;
                    writeln!(out)?;
                }
                Ok(())
            }
            _ => {
                serde_json::to_writer(&mut *out, value)?;
                writeln!(out)
            }
        },
        Format::Table => write_table(value, out),
        Format::Csv => write_csv(value, out),
        Format::Plain => write_plain(value, out),
    }
}

fn rows(value: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut columns: Vec<String> = Vec::new();
    for item in &items {
        match item {
            Value::Object(map) => {
                for key in map.keys() {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
            }
            _ if columns.is_empty() => columns.push("value".to_owned()),
            _ => {}
        }
    }
    let rows = items
        .iter()
        .map(|item| match item {
            Value::Object(map) => {
                columns.iter().map(|c| map.get(c).map(cell).unwrap_or_default()).collect()
            }
            other => vec![cell(other)],
        })
        .collect();
    (columns, rows)
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn write_table(value: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    // A single object reads better as key/value lines than as one very wide row.
    if let Value::Object(map) = value {
        let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
        for (key, v) in map {
            writeln!(out, "{key:<width$}  {}", cell(v))?;
        }
        return Ok(());
    }
    let (columns, rows) = rows(value);
    let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase().replace('_', " ")).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(&headers))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

fn write_csv(value: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    let (columns, rows) = rows(value);
    let escape = |s: &str| -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    writeln!(out, "{}", columns.iter().map(|c| escape(c)).collect::<Vec<_>>().join(","))?;
    for row in rows {
        writeln!(out, "{}", row.iter().map(|c| escape(c)).collect::<Vec<_>>().join(","))?;
    }
    Ok(())
}

fn write_plain(value: &Value, out: &mut dyn Write) -> std::io::Result<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                let picked = match item {
                    Value::Object(map) => ["name", "value", "event", "id"]
                        .iter()
                        .find_map(|k| map.get(*k))
                        .or_else(|| map.values().next())
                        .map(cell)
                        .unwrap_or_default(),
                    other => cell(other),
                };
                writeln!(out, "{picked}")?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, v) in map {
                writeln!(out, "{key}={}", cell(v))?;
            }
            Ok(())
        }
        other => writeln!(out, "{}", cell(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(value: &Value, format: Format) -> String {
        let mut out = Vec::new();
        render(value, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_of_rows_aligns_columns() {
        let value =
            serde_json::json!([{"name": "a", "project_id": 1}, {"name": "long", "project_id": 22}]);
        assert_eq!(show(&value, Format::Table), "NAME  PROJECT ID\na     1\nlong  22\n");
    }

    #[test]
    fn csv_quotes_commas_and_quotes() {
        let value = serde_json::json!([{"a": "x,y", "b": "say \"hi\""}]);
        assert_eq!(show(&value, Format::Csv), "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn plain_picks_the_name() {
        let value = serde_json::json!([{"id": 1, "name": "prod"}, {"id": 2}]);
        assert_eq!(show(&value, Format::Plain), "prod\n2\n");
    }

    #[test]
    fn jsonl_writes_one_line_per_item() {
        let value = serde_json::json!([{"a": 1}, {"a": 2}]);
        assert_eq!(show(&value, Format::Jsonl), "{\"a\":1}\n{\"a\":2}\n");
    }
}
