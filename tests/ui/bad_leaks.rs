// leaks is one of "allow", "warn" or "deny".

#[sim::test(leaks = "strict")]
async fn unknown_mode() {}

#[sim::test(leaks = deny)]
async fn unquoted() {}

fn main() {}
