// Arguments that the chosen strategy ignores would do nothing: each is an error.

#[sim::test(depth = 3)]
async fn depth_without_pct() {}

#[sim::test(explore = "portfolio", depth = 2)]
async fn depth_with_portfolio() {}

#[sim::test(max_schedules = 1000)]
async fn budget_without_exhaustive() {}

#[sim::test(explore = "pct", preemption_bound = 1)]
async fn bound_with_pct() {}

#[sim::test(fault_bound = 1)]
async fn fault_bound_without_exhaustive() {}

#[sim::test(task_panics = "ignore")]
async fn bad_task_panics() {}

fn main() {}
