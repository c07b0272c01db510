// check_determinism is a bare flag.

#[sim::test(check_determinism = true)]
async fn assigned() {}

#[sim::test(check_determinism(true))]
async fn called() {}

fn main() {}
