// Counts and seeds are u64s.

#[sim::test(seeds = -5)]
async fn negative_seeds() {}

#[sim::test(seed = -1)]
async fn negative_seed() {}

fn main() {}
