//! Reading columns mpd stores instead of computing them row by row:
//!
//! - `CAST(date_trunc('day', time) AS DATE)` and `CAST(time AS DATE)` become `date`, which
//!   every events-shaped table (one with `event_name`, `time` and `date`) stores as the UTC day
//!   of `time` (`time` is a UTC timestamp, so the two agree on every row); the time zone
//!   arithmetic of `date_trunc` is most of a daily query's cost.
//! - Typed property columns instead of parsing JSON: `properties->>'$browser'` becomes
//!   `prop_browser` and `json_get_float(properties, 'amount')` becomes `prop_amount` wherever
//!   the table has that column. The column's field metadata names the key
//!   ([`PROPERTY_METADATA_KEY`]) and the kind ([`KIND_METADATA_KEY`]: `text` for
//!   `json_as_text`, `float` for `json_get_float`); the writer (`mpd_decode::TypedProperty`)
//!   promises that the column holds exactly what the function returns on that row, so answers
//!   do not change while the query reads a small typed column instead of every row's JSON.
//!
//! An analyzer rule, run after DataFusion's own (views inlined, the JSON operators already
//! turned into `json_as_text` / `json_get_float` calls), so the optimizer's projection pushdown
//! then leaves `properties` unread when nothing else needs it.

use arrow_schema::{DataType, Field, TimeUnit};
use datafusion::common::tree_node::{Transformed, TransformedResult as _, TreeNode as _};
use datafusion::common::{Column, DFSchema, Result, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

/// The JSON column the typed columns are taken from.
const PROPERTIES: &str = "properties";
/// Field metadata of a typed column: the `properties` key it holds.
pub const PROPERTY_METADATA_KEY: &str = "mpd.property";
/// Field metadata of a typed column: `text` or `float`.
pub const KIND_METADATA_KEY: &str = "mpd.kind";

/// The JSON function a typed column stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `json_as_text` (`->>`).
    Text,
    /// `json_get_float`.
    Float,
}

/// What a typed column of a table holds.
struct TypedProperty {
    key: String,
    column: String,
    kind: Kind,
}

impl TypedProperty {
    fn from_field(field: &Field) -> Option<Self> {
        let key = field.metadata().get(PROPERTY_METADATA_KEY)?;
        let kind = match (field.metadata().get(KIND_METADATA_KEY)?.as_str(), field.data_type()) {
            ("text", DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => Kind::Text,
            ("float", DataType::Float64) => Kind::Float,
            _ => return None,
        };
        Some(Self { key: key.clone(), column: field.name().clone(), kind })
    }
}

/// Whether `field` is a typed text property column (what `properties->>'key'` gives).
pub(crate) fn is_typed_text(field: &Field) -> bool {
    TypedProperty::from_field(field).is_some_and(|typed| typed.kind == Kind::Text)
}

/// The analyzer rule; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct StoredColumnsRule;

impl AnalyzerRule for StoredColumnsRule {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_node).data()
    }

    fn name(&self) -> &'static str {
        "mpd_stored_columns"
    }
}

/// A typed column visible to a plan node: its qualifier and what it holds.
struct Visible {
    relation: Option<TableReference>,
    property: TypedProperty,
}

/// What a plan node's inputs offer: typed columns, and the relations of events-shaped tables
/// (whose `date` is the UTC day of `time`).
struct Offered {
    typed: Vec<Visible>,
    dated: Vec<Option<TableReference>>,
}

fn rewrite_node(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let mut offered = Offered { typed: Vec::new(), dated: Vec::new() };
    // The day is read from `date` in what a query selects and groups by, not in its filters:
    // deltalake's scan answers a filter comparing two partition columns (`date <> date`) as
    // if it were true for every row, so `WHERE date <> CAST(time AS DATE)`, which checks the
    // stored days, must keep computing them.
    let selects = matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_));
    for input in node.inputs() {
        offered.typed.extend(typed_fields(input.schema()));
        if selects {
            offered.dated.extend(dated_relations(input.schema()));
        }
    }
    if offered.typed.is_empty() && offered.dated.is_empty() {
        return Ok(Transformed::no(node));
    }
    let names = NamePreserver::new(&node);
    node.map_expressions(|expr| {
        let saved = names.save(&expr);
        let rewritten = expr.transform_up(|e| {
            let e = replace(e, &offered.typed);
            Ok(if e.transformed { e } else { replace_date(e.data, &offered.dated) })
        })?;
        Ok(if rewritten.transformed {
            rewritten.update_data(|e| saved.restore(e))
        } else {
            rewritten
        })
    })
}

/// The relations of `schema` with `event_name`, a UTC microsecond `time` and a `date`.
fn dated_relations(schema: &DFSchema) -> Vec<Option<TableReference>> {
    let has = |relation: Option<&TableReference>, name: &str, check: &dyn Fn(&DataType) -> bool| {
        schema.iter().any(|(r, f)| r == relation && f.name() == name && check(f.data_type()))
    };
    let utc_time = |t: &DataType| matches!(t, DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC");
    let mut found: Vec<Option<TableReference>> = Vec::new();
    for (relation, field) in schema.iter() {
        let dated = field.name() == "date"
            && field.data_type() == &DataType::Date32
            && has(relation, "time", &utc_time)
            && has(relation, "event_name", &|_| true);
        if dated && !found.contains(&relation.cloned()) {
            found.push(relation.cloned());
        }
    }
    found
}

/// `CAST(date_trunc('day', time) AS DATE)` or `CAST(time AS DATE)` over one of `dated` as its
/// `date` column.
fn replace_date(expr: Expr, dated: &[Option<TableReference>]) -> Transformed<Expr> {
    let Expr::Cast(Cast { expr: inner, field }) = &expr else {
        return Transformed::no(expr);
    };
    if field.data_type() != &DataType::Date32 {
        return Transformed::no(expr);
    }
    let time = match inner.as_ref() {
        Expr::Column(c) => Some(c),
        Expr::ScalarFunction(ScalarFunction { func, args }) if func.name() == "date_trunc" => {
            match args.as_slice() {
                [Expr::Literal(unit, _), Expr::Column(c)] if is_day(unit) => Some(c),
                _ => None,
            }
        }
        _ => None,
    };
    match time {
        Some(c) if c.name == "time" && dated.contains(&c.relation) => {
            Transformed::yes(Expr::Column(Column::new(c.relation.clone(), "date")))
        }
        _ => Transformed::no(expr),
    }
}

fn is_day(unit: &ScalarValue) -> bool {
    match unit {
        ScalarValue::Utf8(Some(u))
        | ScalarValue::Utf8View(Some(u))
        | ScalarValue::LargeUtf8(Some(u)) => u.eq_ignore_ascii_case("day"),
        _ => false,
    }
}

fn typed_fields(schema: &DFSchema) -> impl Iterator<Item = Visible> + '_ {
    schema.iter().filter_map(|(relation, field)| {
        let property = TypedProperty::from_field(field)?;
        Some(Visible { relation: relation.cloned(), property })
    })
}

/// `expr` as a typed column when it is a JSON read that one of `visible` answers.
fn replace(expr: Expr, visible: &[Visible]) -> Transformed<Expr> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = &expr else {
        return Transformed::no(expr);
    };
    let kind = match func.name() {
        "json_as_text" => Kind::Text,
        "json_get_float" => Kind::Float,
        _ => return Transformed::no(expr),
    };
    let [Expr::Column(source), Expr::Literal(key, _)] = args.as_slice() else {
        return Transformed::no(expr);
    };
    let key = match key {
        ScalarValue::Utf8(Some(k))
        | ScalarValue::Utf8View(Some(k))
        | ScalarValue::LargeUtf8(Some(k)) => k,
        _ => return Transformed::no(expr),
    };
    if source.name != PROPERTIES {
        return Transformed::no(expr);
    }
    let found = visible.iter().find(|v| {
        v.relation == source.relation && v.property.key == *key && v.property.kind == kind
    });
    match found {
        Some(v) => {
            Transformed::yes(Expr::Column(Column::new(v.relation.clone(), &v.property.column)))
        }
        None => Transformed::no(expr),
    }
}
