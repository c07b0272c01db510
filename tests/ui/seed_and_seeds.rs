// `seed` runs one seed, `seeds` runs many: not both.

#[sim::test(seeds = 100, seed = 0x2a)]
async fn both() {}

fn main() {}
