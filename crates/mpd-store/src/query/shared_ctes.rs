//! Common table expressions a query reads more than once, computed once.
//!
//! DataFusion inlines a CTE at every reference, so a funnel whose steps build on each other
//! (`viewed`, then `carted` joining `viewed`, then `bought` joining `carted`, and a final
//! count of each) scans the events table once per reference: six times for three steps.
//! Before the query runs, each CTE read at least twice is run on its own and its rows put in
//! memory, innermost first, and every reference reads those rows. A CTE whose rows pass
//! [`MEMORY_LIMIT`] is left inlined, and so is any whose plan cannot run on its own (one that
//! refers to an outer query): the answer is the same either way, only the work differs.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, SubqueryAlias};
use futures::TryStreamExt as _;

/// Bytes of one CTE's rows kept in memory at most.
const MEMORY_LIMIT: usize = 256 << 20;

/// `plan` with each CTE it reads more than once computed once; `plan` itself when there is
/// none, or when computing one failed (the query then reports its own error as usual).
pub(crate) async fn compute_shared_ctes(
    context: &SessionContext,
    plan: LogicalPlan,
) -> LogicalPlan {
    compute_and_name_shared_ctes(context, plan).await.0
}

/// [`compute_shared_ctes`], and the names of the CTEs it computed, in order.
pub(super) async fn compute_and_name_shared_ctes(
    context: &SessionContext,
    plan: LogicalPlan,
) -> (LogicalPlan, Vec<String>) {
    let mut computed = Vec::new();
    if matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
        return (plan, computed);
    }
    let mut plan = plan;
    // Each round replaces one CTE; a query has few.
    for _ in 0..16 {
        let Some(shared) = innermost_shared(&plan) else { break };
        let Some(rows) = run(context, &shared).await else { break };
        match replace(plan.clone(), &shared, &rows) {
            Some(replaced) => plan = replaced,
            None => break,
        }
        computed.push(shared.alias.to_string());
    }
    (plan, computed)
}

/// A CTE reference read at least twice (same alias, same plan) whose plan holds no other
/// such reference.
fn innermost_shared(plan: &LogicalPlan) -> Option<SubqueryAlias> {
    let all = references(plan);
    let shared: Vec<&SubqueryAlias> =
        all.iter().filter(|a| all.iter().filter(|b| b == a).count() >= 2).collect();
    shared
        .iter()
        .find(|candidate| {
            let inner = references(&candidate.input);
            !inner.iter().any(|r| shared.contains(&r))
        })
        .map(|found| (*found).clone())
}

/// Every subquery alias over a computed plan (not a bare table, nor another name for one),
/// subqueries included. A CTE given a name where it is read (`JOIN viewed v`) is an alias of
/// an alias: once the CTE's rows are in memory, `v` only renames them, and running it again
/// would cost a plan and a run of its own for nothing.
fn references(plan: &LogicalPlan) -> Vec<SubqueryAlias> {
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::SubqueryAlias(alias) = node
            && !matches!(beneath_aliases(&alias.input), LogicalPlan::TableScan(_))
        {
            found.push(alias.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// `plan` without the subquery aliases on top of it.
fn beneath_aliases(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => beneath_aliases(&alias.input),
        other => other,
    }
}

/// The rows of `shared`'s plan, as a plan reading them from memory; `None` when it cannot run
/// on its own or its rows pass the limit.
async fn run(context: &SessionContext, shared: &SubqueryAlias) -> Option<LogicalPlan> {
    let frame = context.execute_logical_plan(shared.input.as_ref().clone()).await.ok()?;
    let mut stream = frame.execute_stream().await.ok()?;
    let schema = stream.schema();
    let mut batches = Vec::new();
    let mut bytes = 0usize;
    while let Some(batch) = stream.try_next().await.ok()? {
        bytes += batch.get_array_memory_size();
        if bytes > MEMORY_LIMIT {
            tracing::debug!(cte = %shared.alias, "a shared CTE is too big to hold; left inlined");
            return None;
        }
        batches.push(batch);
    }
    tracing::debug!(cte = %shared.alias, bytes, "a shared CTE computed once");
    let table = MemTable::try_new(schema, vec![batches]).ok()?;
    let source = provider_as_source(Arc::new(table));
    LogicalPlanBuilder::scan(shared.alias.table(), source, None).ok()?.build().ok()
}

/// `plan` with every reference equal to `shared` reading `rows` instead.
fn replace(plan: LogicalPlan, shared: &SubqueryAlias, rows: &LogicalPlan) -> Option<LogicalPlan> {
    let replaced = plan
        .transform_up_with_subqueries(|node| match node {
            LogicalPlan::SubqueryAlias(alias) if &alias == shared => {
                let new = SubqueryAlias::try_new(Arc::new(rows.clone()), alias.alias.clone())?;
                Ok(Transformed::yes(LogicalPlan::SubqueryAlias(new)))
            }
            // Types may differ from the inlined plan's (string views): schemas are rebuilt.
            other => Ok(Transformed::yes(other.recompute_schema()?)),
        })
        .ok()?;
    Some(replaced.data)
}
