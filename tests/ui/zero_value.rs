// seeds, max_steps and max_time must be greater than zero.

#[sim::test(seeds = 0)]
async fn no_seeds() {}

#[sim::test(max_steps = 0)]
async fn no_steps() {}

#[sim::test(max_time = "0s")]
async fn no_time() {}

#[sim::test(max_time = "0h0m")]
async fn no_time_either() {}

fn main() {}
