// The harness calls a safe Rust function.

#[sim::test]
async unsafe fn not_safe() {}

#[sim::test]
async extern "C" fn foreign() {}

fn main() {}
