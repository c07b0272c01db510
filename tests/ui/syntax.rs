// Arguments are `name` or `name = value`, separated by commas.

#[sim::test(1000)]
async fn positional() {}

#[sim::test(seeds = 10 seed = 2)]
async fn missing_comma() {}

fn main() {}
