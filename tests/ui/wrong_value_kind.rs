// A value of the wrong kind names the kind expected, with an example.

#[sim::test(seeds = "100")]
async fn seeds_as_a_string() {}

#[sim::test(seed = 1.5)]
async fn seed_as_a_float() {}

#[sim::test(max_time = 600)]
async fn max_time_as_a_number() {}

#[sim::test(max_time = 10m)]
async fn max_time_unquoted() {}

#[sim::test(max_steps = u64::MAX)]
async fn max_steps_as_a_path() {}

#[sim::test(seeds = 10u32)]
async fn suffixed() {}

fn main() {}
