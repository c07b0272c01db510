// `#[sim::test]` makes the function a test: a second test attribute below it
// is an error.

#[sim::test]
#[test]
async fn std_test() {}

#[sim::test(seeds = 10)]
#[ignore]
#[tokio::test]
async fn another_harness() {}

fn main() {}
