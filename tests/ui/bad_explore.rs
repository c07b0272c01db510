// The exploration arguments take their own kinds of values.

#[sim::test(explore = "dfs")]
async fn unknown_strategy() {}

#[sim::test(explore = "pct", depth = 0)]
async fn zero_depth() {}

#[sim::test(explore = "exhaustive", max_schedules = -5)]
async fn negative_budget() {}

fn main() {}
