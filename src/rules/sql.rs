//! The SQL of `input.where`, checked when the rules are read: one expression, judging each row by
//! itself, the same way on every run. This parses with DataFusion's SQL parser and looks up
//! DataFusion's function list, the one place outside `pipeline` that names DataFusion: a check
//! of syntax, nothing is planned or run.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Checks that `sql` parses as one SQL expression that judges each row by itself, the same way
/// on every run (column names are checked against each input's schema when it is opened).
/// Volatile and stable functions (`random()`, `uuid()`, `now()`) give other rows each run, and window
/// functions (`row_number() OVER ()`) depend on how the input is split into files: both are
/// refused, as are aggregate functions (`count(*)`), which do not judge a row by itself, so that the same input, rules and seed give the same output.
pub fn check_sql_predicate(sql: &str) -> std::result::Result<(), String> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| e.to_string())?;
    let expr = parser.parse_expr().map_err(|e| e.to_string())?;
    if let datafusion::sql::sqlparser::tokenizer::Token::EOF = parser.peek_token().token {
    } else {
        return Err(format!(
            "unexpected `{}` after the expression",
            parser.peek_token().token
        ));
    }
    deterministic(&expr)
}

/// Refuses window functions and functions that are not immutable in a row predicate (see [`check_sql_predicate`]).
fn deterministic(expr: &datafusion::sql::sqlparser::ast::Expr) -> std::result::Result<(), String> {
    use datafusion::logical_expr::Volatility;
    use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, visit_expressions};
    use std::ops::ControlFlow;
    let volatile: Vec<String> =
        datafusion::execution::SessionStateDefaults::default_scalar_functions()
            .iter()
            .filter(|f| f.signature().volatility != Volatility::Immutable)
            .flat_map(|f| std::iter::once(f.name().to_owned()).chain(f.aliases().iter().cloned()))
            .collect();
    let aggregate: Vec<String> =
        datafusion::execution::SessionStateDefaults::default_aggregate_functions()
            .iter()
            .flat_map(|f| std::iter::once(f.name().to_owned()).chain(f.aliases().iter().cloned()))
            .collect();
    let found = visit_expressions(expr, |e| {
        if let SqlExpr::Function(f) = e {
            let name = f.name.to_string().to_lowercase();
            if f.over.is_some() {
                return ControlFlow::Break(format!(
                    "`{name}(...) OVER` is a window function: its result depends on how the input is split into files, so the output would too; write a condition on each row's own columns"
                ));
            }
            if aggregate.contains(&name) {
                return ControlFlow::Break(format!(
                    "`{name}(...)` is an aggregate function: it summarises many rows, but `where` judges each row by itself; write a condition on the row's own columns (e.g. `length(text) > 200`)"
                ));
            }
            if volatile.contains(&name) {
                return ControlFlow::Break(format!(
                    "`{name}()` gives another value on every run, so the selected rows would differ from run to run; to sample rows reproducibly use a `rebalance` action with a `seed`, or a condition on a column such as an id"
                ));
            }
        }
        ControlFlow::Continue(())
    });
    match found {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}
