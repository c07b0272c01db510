// A misspelled argument gets a suggestion; every unknown one lists the
// accepted arguments.

#[sim::test(seedz = 10)]
async fn misspelled() {}

#[sim::test(timeout = "1s")]
async fn unknown() {}

#[sim::test(explor = "pct")]
async fn misspelled_explore() {}

fn main() {}
