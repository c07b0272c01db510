// Arguments other than check_determinism take a value, after `=`.

#[sim::test(seeds)]
async fn bare() {}

#[sim::test(seeds(1000))]
async fn parenthesized() {}

fn main() {}
