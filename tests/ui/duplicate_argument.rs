// An argument may be given once.

#[sim::test(seeds = 10, max_steps = 100, seeds = 20)]
async fn seeds_twice() {}

#[sim::test(check_determinism, check_determinism)]
async fn flag_twice() {}

fn main() {}
