// The harness runs a future per seed: the function must be `async`.

#[sim::test]
fn reply_arrives() {}

fn main() {}
