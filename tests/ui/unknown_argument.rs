// A misspelled argument gets a suggestion; every unknown one lists the
// accepted arguments. Arguments planned for later are not accepted yet.

#[sim::test(seedz = 10)]
async fn misspelled() {}

#[sim::test(timeout = "1s")]
async fn unknown() {}

#[sim::test(explore = "dfs")]
async fn not_yet() {}

fn main() {}
