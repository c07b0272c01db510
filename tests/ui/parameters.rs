// The harness calls the function with no arguments.

#[sim::test]
async fn with_seed(seed: u64) {
    let _ = seed;
}

fn main() {}
