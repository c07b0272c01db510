// Duration strings are parsed at compile time; each error says what is wrong
// and what the accepted forms are.

#[sim::test(max_time = "10 minutes")]
async fn spaced() {}

#[sim::test(max_time = "10min")]
async fn unknown_unit() {}

#[sim::test(max_time = "1h30")]
async fn missing_unit() {}

#[sim::test(max_time = "1.5h")]
async fn fraction() {}

#[sim::test(max_time = "")]
async fn empty() {}

fn main() {}
