// Every mistake is reported in one compilation, each at its token.

#[sim::test(seeds = 0, check_determinism = true, leaks = "none")]
fn checks_everything(round: u32) {}

fn main() {}
