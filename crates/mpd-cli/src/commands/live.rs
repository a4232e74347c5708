//! `mpd query segmentation|funnel|retention|...` (live, some with `--local`) and
//! `mpd inspect events|properties|values|funnels|cohorts|top-events` (discovery).

use std::io::{IsTerminal, Write};

use chrono::Days;
use mpd_service::{
    ActivityQuery, ConversionWindow, DateSpan, EventCountsQuery, FlowsView, FrequencyQuery,
    FunnelQuery, Metric, MetricQuery, PropertyCountsQuery, RetentionQuery, SegmentationQuery,
    Workspace,
};
use serde::Serialize;
use serde_json::Value;

use crate::chart::{TerminalStyle, render_svg, render_terminal};
use crate::cli::{
    ActivityArgs, BookmarkArgs, ChartArgs, EventCountsArgs, Format, FrequencyArgs, FunnelArgs,
    GlobalArgs, InspectCommand, MetricArgs, NumericArgs, PropertyCountsArgs, QueryCommand,
    RetentionArgs, SegmentationArgs, SpanArgs,
};
use crate::commands::{print_result, status, usage, workspace_options};
use crate::view::{self, Totals};

/// Days shown when neither --from nor --to is given: the last 30.
const DEFAULT_DAYS: u64 = 29;

pub(crate) async fn query(global: &GlobalArgs, command: QueryCommand) -> anyhow::Result<()> {
    if let QueryCommand::Jql(_) = command {
        return Err(usage(
            "JQL is not supported: Mixpanel has sunset JQL. Sync the events (`mpd sync`) and use `mpd query sql`, or the live `mpd query segmentation|funnel|retention|...` commands".to_owned(),
        ));
    }
    let workspace = Workspace::open(workspace_options(global))?;
    match command {
        QueryCommand::Segmentation(args) => segmentation(global, &workspace, args).await,
        QueryCommand::SegmentationNumeric(args) => numeric(global, &workspace, args).await,
        QueryCommand::SegmentationSum(args) => metric(global, &workspace, Metric::Sum, args).await,
        QueryCommand::SegmentationAverage(args) => {
            metric(global, &workspace, Metric::Average, args).await
        }
        QueryCommand::EventCounts(args) => event_counts(global, &workspace, args).await,
        QueryCommand::PropertyCounts(args) => property_counts(global, &workspace, args).await,
        QueryCommand::Funnel(args) => funnel(global, &workspace, args).await,
        QueryCommand::Retention(args) => retention(global, &workspace, args).await,
        QueryCommand::Frequency(args) => frequency(global, &workspace, args).await,
        QueryCommand::ActivityFeed(args) => activity(global, &workspace, args).await,
        QueryCommand::SavedReport(args) => saved_report(global, &workspace, args).await,
        QueryCommand::Flows(args) => {
            let view = if args.paths { FlowsView::TopPaths } else { FlowsView::Sankey };
            let flows = workspace.flows(args.bookmark_id, view).await?;
            refuse_chart(&args.chart, "flows")?;
            show(global, &flows, view::flows_rows(&flows))
        }
        QueryCommand::Sql(_) | QueryCommand::Jql(_) => Ok(()),
    }
}

fn span(workspace: &Workspace, args: &SpanArgs) -> anyhow::Result<DateSpan> {
    let to = match args.to {
        Some(to) => to,
        None => workspace.today()?,
    };
    let from =
        args.from.unwrap_or_else(|| to.checked_sub_days(Days::new(DEFAULT_DAYS)).unwrap_or(to));
    if from > to {
        return Err(usage(format!("--from {from} is after --to {to}")));
    }
    Ok(DateSpan { from, to })
}

async fn segmentation(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: SegmentationArgs,
) -> anyhow::Result<()> {
    let query = SegmentationQuery {
        event: args.event,
        span: span(workspace, &args.span)?,
        on: args.on,
        unit: args.unit.into(),
        where_expr: args.where_expr,
        count_type: args.count_type.into(),
        limit: args.limit,
    };
    let result = if args.local {
        workspace.local_segmentation(&query).await?
    } else {
        workspace.segmentation(&query).await?
    };
    let what = format!("{} {}", result.event, describe_count(result.count_type));
    let title = title(&what, result.unit.as_str(), &result.span, result.on.as_deref());
    show_counts(global, &args.chart, &result, &result.series, result.count_type, title)
}

async fn numeric(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: NumericArgs,
) -> anyhow::Result<()> {
    let query = SegmentationQuery {
        event: args.event,
        span: span(workspace, &args.span)?,
        on: Some(args.on),
        unit: args.unit.into(),
        where_expr: args.where_expr,
        count_type: args.count_type.into(),
        limit: None,
    };
    let result = workspace.segmentation_numeric(&query).await?;
    let what = format!("{} {}", result.event, describe_count(result.count_type));
    let title = title(&what, result.unit.as_str(), &result.span, result.on.as_deref());
    show_counts(global, &args.chart, &result, &result.series, result.count_type, title)
}

async fn metric(
    global: &GlobalArgs,
    workspace: &Workspace,
    metric: Metric,
    args: MetricArgs,
) -> anyhow::Result<()> {
    let query = MetricQuery {
        event: args.event,
        span: span(workspace, &args.span)?,
        on: args.on,
        unit: args.unit.into(),
        where_expr: args.where_expr,
    };
    let result = workspace.segmentation_metric(metric, &query).await?;
    let (word, totals) = match metric {
        Metric::Sum => ("sum", Totals::Additive),
        Metric::Average => ("average", Totals::NotAdditive),
    };
    let what = format!("{word} of {} on {}", result.on, result.event);
    let title = title(&what, result.unit.as_str(), &result.span, None);
    show_series(global, &args.chart, &result, &result.series, totals, title, word)
}

async fn event_counts(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: EventCountsArgs,
) -> anyhow::Result<()> {
    let query = EventCountsQuery {
        events: args.events,
        span: span(workspace, &args.span)?,
        count_type: args.count_type.into(),
        unit: args.unit.into(),
    };
    let result = if args.local {
        workspace.local_event_counts(&query).await?
    } else {
        workspace.event_counts(&query).await?
    };
    let what = describe_count(result.count_type).to_owned();
    let title = title(&what, result.unit.as_str(), &result.span, None);
    show_counts(global, &args.chart, &result, &result.series, result.count_type, title)
}

async fn property_counts(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: PropertyCountsArgs,
) -> anyhow::Result<()> {
    let query = PropertyCountsQuery {
        event: args.event,
        property: args.property,
        span: span(workspace, &args.span)?,
        count_type: args.count_type.into(),
        unit: args.unit.into(),
        limit: args.limit,
        values: args.values,
    };
    let result = workspace.property_counts(&query).await?;
    let what = format!("{} {}", result.event, describe_count(result.count_type));
    let title = title(&what, result.unit.as_str(), &result.span, Some(&result.property));
    show_counts(global, &args.chart, &result, &result.series, result.count_type, title)
}

async fn funnel(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: FunnelArgs,
) -> anyhow::Result<()> {
    if !args.local && args.funnel_id.is_none() {
        return Err(usage(
            "give the saved funnel's id (`mpd inspect funnels` lists them), or --local --steps A,B,C to compute a funnel from the store".to_owned(),
        ));
    }
    if args.local && args.steps.len() < 2 {
        return Err(usage(
            "--local needs at least two --steps, e.g. --steps \"View Item,Purchase\"".to_owned(),
        ));
    }
    let query = FunnelQuery {
        funnel_id: args.funnel_id,
        steps: args.steps,
        span: span(workspace, &args.span)?,
        unit: args.unit.map(Into::into),
        on: args.on,
        where_expr: args.where_expr,
        window: args
            .length
            .map(|length| ConversionWindow { length, unit: args.length_unit.into() }),
        limit: args.limit,
    };
    let result = if args.local {
        workspace.local_funnel(&query).await?
    } else {
        workspace.funnel(&query).await?
    };
    show(global, &result, view::funnel_rows(&result))
}

async fn retention(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: RetentionArgs,
) -> anyhow::Result<()> {
    let query = RetentionQuery {
        born_event: args.born,
        return_event: args.return_event,
        span: span(workspace, &args.span)?,
        born_where: args.born_where,
        return_where: args.return_where,
        retention_type: args.retention_type.into(),
        interval: args.interval,
        interval_count: args.interval_count,
        unit: args.unit.into(),
        unbounded: args.unbounded,
        on: None,
    };
    let result = if args.local {
        workspace.local_retention(&query).await?
    } else {
        workspace.retention(&query).await?
    };
    show(global, &result, view::retention_rows(&result))
}

async fn frequency(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: FrequencyArgs,
) -> anyhow::Result<()> {
    let query = FrequencyQuery {
        event: args.event,
        span: span(workspace, &args.span)?,
        unit: args.unit.into(),
        addiction_unit: args.addiction_unit.into(),
        where_expr: args.where_expr,
        on: args.on,
        limit: args.limit,
    };
    let result = workspace.frequency(&query).await?;
    show(global, &result, view::frequency_rows(&result))
}

async fn activity(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: ActivityArgs,
) -> anyhow::Result<()> {
    let query = ActivityQuery { distinct_ids: args.users, span: span(workspace, &args.span)? };
    let feed = workspace.activity_feed(&query).await?;
    show(global, &feed, view::activity_rows(&feed))
}

async fn saved_report(
    global: &GlobalArgs,
    workspace: &Workspace,
    args: BookmarkArgs,
) -> anyhow::Result<()> {
    let report = workspace.saved_report(args.bookmark_id).await?;
    let range = match (&report.from, &report.to) {
        (Some(from), Some(to)) => format!(", {} to {}", short_day(from), short_day(to)),
        _ => String::new(),
    };
    let title = format!("saved report {}{range}", report.bookmark_id);
    let additive: Vec<String> =
        report.series_info.iter().filter(|s| s.additive).map(|s| s.name.clone()).collect();
    let totals = Totals::Only(&additive);
    show_series(global, &args.chart, &report, &report.series, totals, title, "value")
}

fn short_day(stamp: &str) -> &str {
    stamp.get(..10).unwrap_or(stamp)
}

fn describe_count(count_type: mpd_service::CountType) -> &'static str {
    match count_type {
        mpd_service::CountType::General => "events",
        mpd_service::CountType::Unique => "unique users",
        mpd_service::CountType::Average => "events per user",
    }
}

fn count_label(count_type: mpd_service::CountType) -> &'static str {
    match count_type {
        mpd_service::CountType::General => "events",
        mpd_service::CountType::Unique => "users",
        mpd_service::CountType::Average => "events per user",
    }
}

fn totals(count_type: mpd_service::CountType) -> Totals<'static> {
    match count_type {
        mpd_service::CountType::General => Totals::Additive,
        mpd_service::CountType::Unique | mpd_service::CountType::Average => Totals::NotAdditive,
    }
}

fn title(what: &str, unit: &str, span: &DateSpan, on: Option<&str>) -> String {
    let by = on.map(|on| format!(" by {on}")).unwrap_or_default();
    format!("{what}{by} per {unit}, {} to {}", span.from, span.to)
}

/// Prints a non-series result: json/jsonl as the typed result, other formats as `rows`.
fn show<T: Serialize>(global: &GlobalArgs, result: &T, rows: Value) -> anyhow::Result<()> {
    if wants_json(global) {
        print_result(global, Format::Json, result)
    } else {
        print_result(global, Format::Table, &rows)
    }
}

fn wants_json(global: &GlobalArgs) -> bool {
    global.jq.is_some() || matches!(global.format, Some(Format::Json | Format::Jsonl))
}

fn refuse_chart(chart: &ChartArgs, what: &str) -> anyhow::Result<()> {
    if chart.chart || chart.plot.is_some() {
        return Err(usage(format!("--chart and --plot draw time series; {what} has none")));
    }
    Ok(())
}

/// [`show_series`] of a count: the chart's unit and whether buckets add up follow from what
/// was counted.
fn show_counts<T: Serialize>(
    global: &GlobalArgs,
    args: &ChartArgs,
    result: &T,
    series: &mpd_service::TimeSeries,
    count_type: mpd_service::CountType,
    title: String,
) -> anyhow::Result<()> {
    let label = count_label(count_type);
    show_series(global, args, result, series, totals(count_type), title, label)
}

/// Prints a time series: table (default), another format, or a terminal chart; and writes the
/// SVG when asked.
fn show_series<T: Serialize>(
    global: &GlobalArgs,
    args: &ChartArgs,
    result: &T,
    series: &mpd_service::TimeSeries,
    totals: Totals<'_>,
    title: String,
    y_label: &str,
) -> anyhow::Result<()> {
    if args.chart && (global.format.is_some() || global.jq.is_some()) {
        return Err(usage(
            "--chart draws instead of printing rows; leave out --format/--jq (or use --plot FILE.svg next to them)".to_owned(),
        ));
    }
    let chart = view::series_chart(title, y_label, series, totals);
    if let Some(path) = &args.plot {
        std::fs::write(path, render_svg(&chart)).map_err(|e| crate::Exit {
            code: 1,
            message: format!("cannot write the chart to {}: {e}", path.display()),
        })?;
        status(global, &format!("wrote the chart to {}", path.display()));
    }
    if args.chart {
        let style = terminal_style();
        let mut out = std::io::stdout().lock();
        return match out
            .write_all(render_terminal(&chart, &style).as_bytes())
            .and_then(|()| out.flush())
        {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        };
    }
    if wants_json(global) {
        return print_result(global, Format::Json, result);
    }
    // A total row helps a reader; in csv or plain output it would be a bogus data row.
    let totals = if matches!(global.format, None | Some(Format::Table)) {
        totals
    } else {
        Totals::NotAdditive
    };
    print_result(global, Format::Table, &view::series_rows(series, totals))
}

/// The terminal's width (`COLUMNS`, else 100 columns) and colour when stdout is a terminal.
fn terminal_style() -> TerminalStyle {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
        .min(200);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    TerminalStyle { width, height: 22, color }
}

pub(crate) async fn inspect(global: &GlobalArgs, command: InspectCommand) -> anyhow::Result<()> {
    let workspace = Workspace::open(workspace_options(global))?;
    let cached = |no_cache: bool| !no_cache;
    match command {
        InspectCommand::Events(args) => {
            let workspace = workspace.with_discovery_cache(cached(args.no_cache));
            let names = workspace.list_events().await?;
            show(global, &names, view::names_rows("event", &names))
        }
        InspectCommand::Properties(args) => {
            let workspace = workspace.with_discovery_cache(cached(args.no_cache));
            let properties = workspace.list_properties(&args.event).await?;
            show(global, &properties, view::property_rows(&properties))
        }
        InspectCommand::Values(args) => {
            let workspace = workspace.with_discovery_cache(cached(args.no_cache));
            let values = workspace
                .list_property_values(&args.property, args.event.as_deref(), args.limit)
                .await?;
            show(global, &values, view::names_rows("value", &values))
        }
        InspectCommand::Funnels(args) => {
            let workspace = workspace.with_discovery_cache(cached(args.no_cache));
            let funnels = workspace.list_funnels().await?;
            show(global, &funnels, serde_json::to_value(&funnels)?)
        }
        InspectCommand::Cohorts(args) => {
            let workspace = workspace.with_discovery_cache(cached(args.no_cache));
            let cohorts = workspace.list_cohorts().await?;
            show(global, &cohorts, view::cohort_rows(&cohorts))
        }
        InspectCommand::TopEvents(args) => {
            let events = workspace.top_events(args.count_type.into(), args.limit).await?;
            show(global, &events, view::top_event_rows(&events))
        }
        InspectCommand::Info
        | InspectCommand::Tables
        | InspectCommand::Schema { .. }
        | InspectCommand::Sample { .. }
        | InspectCommand::Summarize { .. }
        | InspectCommand::Breakdown { .. }
        | InspectCommand::Drop { .. } => Ok(()),
    }
}
