// Integers must fit in a u64.

#[sim::test(seed = 18446744073709551616)]
async fn seed_too_large() {}

#[sim::test(max_time = "1000000d")]
async fn max_time_too_long() {}

fn main() {}
